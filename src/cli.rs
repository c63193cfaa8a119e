//! The `switchyard export` and `switchyard apply FILE` subcommands: config as code against the
//! database named by `DATABASE_URL`.

use crate::config_file::{self, ConfigFile};
use crate::settings::Settings;
use crate::store::cipher::CredentialCipher;
use crate::store::Db;
use anyhow::Context;
use std::path::Path;

pub const USAGE: &str = "usage: switchyard [export | apply FILE]

  (no argument)  start the dashboard and the proxy
  export         print the configuration as YAML (secrets as env: references)
  apply FILE     apply a config file to the database (upsert by name, all or nothing)

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

/// Applies `file`; a running instance picks the change up at its next start.
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
