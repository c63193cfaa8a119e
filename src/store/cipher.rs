//! Encryption of provider credentials at rest: AES-256-GCM with a random 96-bit nonce per value.
//! The master key comes from `SWITCHYARD_MASTER_KEY` (base64 of 32 bytes) or from a key file
//! created on first run, readable by its owner only.

use crate::providers::Secret;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Name of the key file in the data folder.
pub const KEY_FILE: &str = "master.key";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    #[error("SWITCHYARD_MASTER_KEY must be the base64 of exactly 32 bytes")]
    BadKey,
    #[error("the master key file {path} must hold the base64 of exactly 32 bytes")]
    BadKeyFile { path: PathBuf },
    #[error("cannot read or create the master key file {path}: {source}")]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A stored credential that this master key cannot open: wrong key or damaged row.
    #[error("a stored credential cannot be decrypted with this master key")]
    Decrypt,
    #[error("encryption failed")]
    Encrypt,
}

#[derive(Clone)]
pub struct CredentialCipher(Aes256Gcm);

impl fmt::Debug for CredentialCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialCipher([redacted])")
    }
}

impl CredentialCipher {
    pub fn from_key(key: &[u8; 32]) -> Self {
        CredentialCipher(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)))
    }

    /// The key from the environment value when given, else from `data_dir/master.key`,
    /// which is created (mode 0600) with a fresh random key when missing.
    pub fn load(env_key: Option<&Secret>, data_dir: &Path) -> Result<Self, CipherError> {
        if let Some(key) = env_key {
            return decode_key(key.expose()).ok_or(CipherError::BadKey);
        }
        let path = data_dir.join(KEY_FILE);
        let io = |source| CipherError::KeyFile {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => decode_key(text.trim())
                .ok_or_else(|| CipherError::BadKeyFile { path: path.clone() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(io)?;
                let key = Aes256Gcm::generate_key(OsRng);
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(&path).map_err(io)?;
                file.write_all(STANDARD.encode(key).as_bytes())
                    .map_err(io)?;
                tracing::info!(path = %path.display(), "created a new master key file; back it up with the database");
                Ok(CredentialCipher(Aes256Gcm::new(&key)))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// A new random key, with its base64 text (for the key file or the environment).
    pub fn generate() -> (Self, Secret) {
        let key = Aes256Gcm::generate_key(OsRng);
        (
            CredentialCipher(Aes256Gcm::new(&key)),
            Secret::new(STANDARD.encode(key)),
        )
    }

    /// Writes `key` (base64) as the key file in `data_dir`, mode 0600, replacing the old one
    /// only once it is complete on disk.
    pub fn write_key_file(
        key: &Secret,
        data_dir: &Path,
    ) -> Result<std::path::PathBuf, CipherError> {
        let path = data_dir.join(KEY_FILE);
        let fresh = data_dir.join(format!("{KEY_FILE}.new"));
        let io = |source| CipherError::KeyFile {
            path: fresh.clone(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&fresh).map_err(io)?;
        file.write_all(key.expose().as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&fresh, &path).map_err(io)?;
        Ok(path)
    }

    /// base64 of nonce || ciphertext (with its tag).
    pub fn encrypt(&self, plain: &Secret) -> Result<String, CipherError> {
        let nonce = Aes256Gcm::generate_nonce(OsRng);
        let sealed = self
            .0
            .encrypt(&nonce, plain.expose().as_bytes())
            .map_err(|_| CipherError::Encrypt)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(STANDARD.encode(out))
    }

    pub fn decrypt(&self, stored: &str) -> Result<Secret, CipherError> {
        let bytes = STANDARD.decode(stored).map_err(|_| CipherError::Decrypt)?;
        if bytes.len() <= NONCE_LEN {
            return Err(CipherError::Decrypt);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let plain = self
            .0
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| CipherError::Decrypt)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| CipherError::Decrypt)
    }
}

fn decode_key(text: &str) -> Option<CredentialCipher> {
    let bytes: [u8; 32] = STANDARD.decode(text.trim()).ok()?.try_into().ok()?;
    Some(CredentialCipher::from_key(&bytes))
}

/// The last four characters, which the dashboard shows so people can tell keys apart.
pub fn last4(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_hides_the_plain_text_and_uses_fresh_nonces() {
        let cipher = CredentialCipher::from_key(&[7; 32]);
        let secret = Secret::new("sk-live-abcdef123456");
        let a = cipher.encrypt(&secret).unwrap();
        let b = cipher.encrypt(&secret).unwrap();
        assert_ne!(a, b);
        assert!(!a.contains("abcdef"));
        assert_eq!(cipher.decrypt(&a).unwrap(), secret);
        let other = CredentialCipher::from_key(&[8; 32]);
        assert!(matches!(other.decrypt(&a), Err(CipherError::Decrypt)));
        assert!(matches!(
            cipher.decrypt("bm9wZQ=="),
            Err(CipherError::Decrypt)
        ));
        assert_eq!(last4("sk-abcd1234"), "1234");
        assert_eq!(last4("ab"), "ab");
    }

    #[test]
    fn key_file_is_created_once_with_owner_only_access() {
        let dir = tempfile::tempdir().unwrap();
        let first = CredentialCipher::load(None, dir.path()).unwrap();
        let sealed = first.encrypt(&Secret::new("k")).unwrap();
        let again = CredentialCipher::load(None, dir.path()).unwrap();
        assert_eq!(again.decrypt(&sealed).unwrap().expose(), "k");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let env = Secret::new(STANDARD.encode([1u8; 32]));
        assert!(CredentialCipher::load(Some(&env), dir.path()).is_ok());
        let short = Secret::new(STANDARD.encode([1u8; 16]));
        assert!(matches!(
            CredentialCipher::load(Some(&short), dir.path()),
            Err(CipherError::BadKey)
        ));
    }
}
