//! The first admin. With no user in the database, the config file's `admin` entry creates one;
//! otherwise the server prints a one-time setup link whose random token `/setup` requires.

use subtle::ConstantTimeEq;

#[derive(Clone)]
pub struct SetupToken(String);

impl SetupToken {
    /// A given token (automation) or 32 random bytes, URL-safe.
    pub fn new(given: Option<String>) -> Self {
        use base64::Engine;
        use rand::RngCore;
        SetupToken(given.unwrap_or_else(|| {
            let mut bytes = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        }))
    }

    /// Constant-time comparison, so the token cannot be guessed byte by byte.
    pub fn matches(&self, candidate: &str) -> bool {
        self.0.len() == candidate.len() && bool::from(self.0.as_bytes().ct_eq(candidate.as_bytes()))
    }

    pub fn link(&self, public_url: &str) -> String {
        format!("{public_url}/setup?token={}", self.0)
    }
}

impl std::fmt::Debug for SetupToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SetupToken([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_compared_exactly() {
        let a = SetupToken::new(None);
        let b = SetupToken::new(None);
        assert!(!a.matches(&b.0));
        assert!(a.matches(&a.0.clone()));
        assert!(!a.matches(""));
        assert_eq!(a.0.len(), 43);
        let fixed = SetupToken::new(Some("abc".into()));
        assert_eq!(fixed.link("http://h:1"), "http://h:1/setup?token=abc");
        assert!(!format!("{fixed:?}").contains("abc"));
    }
}
