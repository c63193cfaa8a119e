//! The `switchyard export` and `switchyard apply FILE` subcommands: config as code against the
//! database named by `DATABASE_URL`.

use crate::config_file::{self, ConfigFile};
use crate::settings::Settings;
use crate::store::cipher::CredentialCipher;
use crate::store::Db;
use anyhow::Context;
use std::path::Path;

pub const USAGE: &str = "usage: switchyard [export | apply FILE | rotate-master-key]

  (no argument)      start the dashboard and the proxy
  export             print the configuration as YAML (secrets as env: references)
  apply FILE         apply a config file to the database (upsert by name, all or nothing)
  rotate-master-key  re-encrypt every stored credential under a new master key (one
                     transaction); stop running instances first and start them after

Settings come from the environment (see README.md, Configuration).";

async fn open(settings: &Settings) -> anyhow::Result<Db> {
    Db::connect(&settings.database_url, settings.db_max_connections)
        .await
        .with_context(|| {
            format!(
                "cannot open the database {}",
                crate::store::redact_url(&settings.database_url)
            )
        })
}

/// Prints the stored configuration to stdout.
pub async fn export() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let db = open(&settings).await?;
    print!("{}", config_file::export(&db).await?);
    Ok(())
}

/// Applies `file`; running instances notice the new config version and reload within a second.
pub async fn apply(file: &Path) -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let config = ConfigFile::load(file)?;
    let db = open(&settings).await?;
    let cipher = CredentialCipher::load(settings.master_key.as_ref(), &settings.data_dir)?;
    let applied = config.apply(&db, &cipher).await?;
    println!("applied {}: {} change(s)", file.display(), applied.changes);
    for (name, key) in &applied.generated_keys {
        // Shown once: only the hash is stored.
        println!("new gateway key {name}: {}", key.expose());
    }
    Ok(())
}

/// Re-encrypts every provider credential under a new master key in one transaction. With a key
/// file the new key replaces it once the transaction committed; with `SWITCHYARD_MASTER_KEY`
/// the new key is printed once, to be set before the next start.
pub async fn rotate_master_key() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let rotated = rotate_master_key_with(&settings).await?;
    match rotated.key_file {
        Some(path) => println!(
            "re-encrypted {} credential(s); the new master key is in {}",
            rotated.credentials,
            path.display()
        ),
        // Printed, never logged: the key is a secret.
        None => println!(
            "re-encrypted {} credential(s). Set SWITCHYARD_MASTER_KEY to this new key before \
             the next start (it is shown once):\n{}",
            rotated.credentials,
            rotated.key.expose()
        ),
    }
    Ok(())
}

pub struct Rotated {
    pub credentials: usize,
    pub key: crate::providers::Secret,
    /// Where the new key was written, when the key lives in a file.
    pub key_file: Option<std::path::PathBuf>,
}

pub async fn rotate_master_key_with(settings: &Settings) -> anyhow::Result<Rotated> {
    let db = open(settings).await?;
    let old = CredentialCipher::load(settings.master_key.as_ref(), &settings.data_dir)?;
    let (new, key) = CredentialCipher::generate();
    let mut tx = db.pool.begin().await?;
    let credentials = crate::store::config::reencrypt_credentials(&mut tx, &old, &new).await?;
    tx.commit()
        .await
        .context("the new encryption was not committed; nothing changed")?;
    let key_file = if settings.master_key.is_some() {
        None
    } else {
        match CredentialCipher::write_key_file(&key, &settings.data_dir) {
            Ok(path) => Some(path),
            Err(e) => {
                // The database already uses the new key: it must not be lost. Shown once, on
                // the terminal only, never in the log or the error.
                println!(
                    "the new master key (save it as master.key): {}",
                    key.expose()
                );
                return Err(anyhow::anyhow!(
                    "credentials are re-encrypted but the new key file could not be written: {e}"
                ));
            }
        }
    };
    Ok(Rotated {
        credentials,
        key,
        key_file,
    })
}
