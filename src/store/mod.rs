//! The database: one connection pool for SQLite (default) or PostgreSQL, chosen by the URL,
//! migrations, and one repository module per aggregate.
//!
//! Queries go through sqlx's `Any` driver with `$n` placeholders (both SQLite and PostgreSQL
//! accept them) and portable column types, so every repository is written once.

pub mod alerts;
pub mod cipher;
pub mod config;
pub mod split_stats;
pub mod users;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode};
use sqlx::{AnyPool, Connection, Executor};
use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DATABASE_URL must start with sqlite:// or postgres:// (got `{0}`)")]
    UnsupportedUrl(String),
    #[error("cannot create the database folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("a record with this {0} already exists")]
    Duplicate(&'static str),
    #[error("the credential of account {account} cannot be re-encrypted: {reason}")]
    Credential { account: String, reason: String },
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
}

impl StoreError {
    /// Maps a unique-constraint violation to `Duplicate(field)`; everything else stays as is.
    fn unique_as(field: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
        move |e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate(field),
            _ => StoreError::Sqlx(e),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
}

impl Db {
    /// Connects (creating the SQLite file and its folder when missing) and runs migrations.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, StoreError> {
        sqlx::any::install_default_drivers();
        let is_sqlite = if is_postgres(url) {
            false
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal);
            if let Some(folder) = options.get_filename().parent() {
                if !folder.as_os_str().is_empty() {
                    std::fs::create_dir_all(folder).map_err(|source| StoreError::Folder {
                        path: folder.display().to_string(),
                        source,
                    })?;
                }
            }
            // One connection creates the file and puts it in WAL mode, which then holds for
            // every connection of the pool.
            SqliteConnection::connect_with(&options)
                .await?
                .close()
                .await?;
            true
        } else {
            return Err(StoreError::UnsupportedUrl(redact_url(url)));
        };

        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            // With the database gone, pages and the usage writer learn it in seconds, not the
            // default 30 s.
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    // Per-connection SQLite settings; the file itself is already in WAL mode.
                    if is_sqlite {
                        conn.execute("PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;

        migrator().run(&pool).await?;
        Ok(Db { pool })
    }

    /// For `/readyz`: can we run a query right now?
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// Whether `url` names a PostgreSQL database (else SQLite, or refused by [`Db::connect`]).
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The migrations in migrations/, embedded by build.rs, named and checksummed the way
/// `sqlx::migrate!` does (version before the first `_`, the rest as the description), so a
/// database migrated by an earlier build sees the same versions and checksums. Migrations a
/// newer build applied are let be: during a rolling upgrade an instance of the version before
/// may restart on the migrated database (migrations are additive, so it still works there).
fn migrator() -> Migrator {
    const FILES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
    let migrations = FILES
        .iter()
        .filter_map(|&(file, sql)| {
            let (version, rest) = file.split_once('_')?;
            let description = rest.trim_end_matches(".sql").replace('_', " ");
            Some(Migration::new(
                version.parse().ok()?,
                Cow::Owned(description),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                sql.starts_with("-- no-transaction"),
            ))
        })
        .collect();
    Migrator {
        migrations: Cow::Owned(migrations),
        ignore_missing: true,
        ..Migrator::DEFAULT
    }
}

/// A database URL safe for messages and logs: the password, if any, is hidden.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// The placeholders of a multi-row `VALUES` of `rows` rows of `columns` values, for the database
/// behind `conn`: `($1, $2), ($3, $4)` on PostgreSQL, `(?, ?), (?, ?)` on SQLite. SQLite looks a
/// numbered parameter up by a linear scan, so thousands of `$n` in one statement cost it
/// quadratic time (12 % of the proxy's CPU samples at 2,000 req/s in `bench/run --profile`,
/// in `sqlite3_bind_parameter_name` and `strncmp`); `?` are bound by position. (sqlx's
/// `QueryBuilder` writes `?` for the `Any` driver, which PostgreSQL refuses.)
pub fn values_placeholders(conn: &sqlx::AnyConnection, rows: usize, columns: usize) -> String {
    placeholders(conn.backend_name() == "SQLite", rows, columns)
}

fn placeholders(positional: bool, rows: usize, columns: usize) -> String {
    use std::fmt::Write;
    let mut sql = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            sql.push_str(if column == 0 { "" } else { ", " });
            if positional {
                sql.push('?');
            } else {
                let _ = write!(sql, "${}", row * columns + column + 1);
            }
        }
        sql.push(')');
    }
    sql
}

pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A usage event's id: time-ordered (UUIDv7), so the ledger's key index grows at its end
/// rather than taking each row at a random place in a million.
pub fn new_event_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/sy"),
            "postgres://app:***@db:5432/sy"
        );
        assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[tokio::test]
    async fn a_database_migrated_by_a_newer_build_still_opens() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/switchyard.db", dir.path().display());
        let db = Db::connect(&url, 1).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (99991231000000, 'from a newer build', TRUE, x'00', 0)",
        )
        .execute(&db.pool)
        .await
        .unwrap();
        db.pool.close().await;
        Db::connect(&url, 1).await.unwrap();
    }

    #[test]
    fn values_placeholders_number_every_value() {
        assert_eq!(placeholders(false, 1, 1), "($1)");
        assert_eq!(placeholders(false, 2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(placeholders(true, 2, 2), "(?, ?), (?, ?)");
    }
}
