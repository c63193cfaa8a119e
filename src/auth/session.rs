//! Dashboard sessions, kept in the database by tower-sessions' sqlx store so they survive a
//! restart. The session holds only the user's id; role and disabled flag are read fresh on
//! every request, so a change takes effect at once.

use crate::settings::AuthSettings;
use crate::store::users::{self, UserRow};
use crate::store::{NativePool, StoreError};
use async_trait::async_trait;
use sqlx::AnyPool;
use std::time::Duration;
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

pub const COOKIE_NAME: &str = "switchyard_session";
const USER_ID_KEY: &str = "user_id";
/// Set when the session was started by single sign-on.
const SINGLE_SIGN_ON_KEY: &str = "single_sign_on";

/// tower-sessions' sqlx store for whichever database Switchyard runs on.
#[derive(Clone, Debug)]
pub enum DbSessionStore {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl DbSessionStore {
    /// Creates the store's table if needed.
    pub async fn open(native: &NativePool) -> Result<Self, sqlx::Error> {
        Ok(match native {
            NativePool::Sqlite(pool) => {
                let store = SqliteStore::new(pool.clone());
                store.migrate().await?;
                DbSessionStore::Sqlite(store)
            }
            NativePool::Postgres(pool) => {
                let store = PostgresStore::new(pool.clone());
                store.migrate().await?;
                DbSessionStore::Postgres(store)
            }
        })
    }

    /// Removes expired sessions every `period`, in the background, for the life of the process.
    pub fn spawn_expired_cleanup(&self, period: Duration) {
        let store = self.clone();
        tokio::spawn(async move {
            let result = match store {
                DbSessionStore::Sqlite(s) => s.continuously_delete_expired(period).await,
                DbSessionStore::Postgres(s) => s.continuously_delete_expired(period).await,
            };
            if let Err(e) = result {
                tracing::error!(error = %e, "expired-session cleanup stopped");
            }
        });
    }
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            DbSessionStore::Sqlite(s) => s.create(record).await,
            DbSessionStore::Postgres(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            DbSessionStore::Sqlite(s) => s.save(record).await,
            DbSessionStore::Postgres(s) => s.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            DbSessionStore::Sqlite(s) => s.load(id).await,
            DbSessionStore::Postgres(s) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            DbSessionStore::Sqlite(s) => s.delete(id).await,
            DbSessionStore::Postgres(s) => s.delete(id).await,
        }
    }
}

/// HttpOnly, SameSite=Lax, Secure when configured, expiring after a stretch of inactivity.
pub fn layer(
    store: DbSessionStore,
    settings: &AuthSettings,
) -> SessionManagerLayer<DbSessionStore> {
    SessionManagerLayer::new(store)
        .with_name(COOKIE_NAME)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(settings.secure_cookies)
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::days(settings.session_idle_days),
        ))
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("session store: {0}")]
    Session(#[from] tower_sessions::session::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Starts a signed-in session under a new id, so an id planted before login is useless.
pub async fn sign_in(session: &Session, user_id: &str) -> Result<(), SessionError> {
    session.cycle_id().await?;
    session.insert(USER_ID_KEY, user_id).await?;
    Ok(())
}

/// Remembers that this session came from single sign-on, so signing out can offer to sign
/// out of the identity provider too.
pub async fn mark_single_sign_on(session: &Session) -> Result<(), SessionError> {
    session.insert(SINGLE_SIGN_ON_KEY, true).await?;
    Ok(())
}

pub async fn is_single_sign_on(session: &Session) -> Result<bool, SessionError> {
    Ok(session
        .get::<bool>(SINGLE_SIGN_ON_KEY)
        .await?
        .unwrap_or(false))
}

pub async fn sign_out(session: &Session) -> Result<(), SessionError> {
    session.flush().await?;
    Ok(())
}

/// The signed-in, enabled user of this session, if any.
pub async fn signed_in_user(
    session: &Session,
    pool: &AnyPool,
) -> Result<Option<UserRow>, SessionError> {
    let Some(user_id) = session.get::<String>(USER_ID_KEY).await? else {
        return Ok(None);
    };
    Ok(users::find_by_id(pool, &user_id)
        .await?
        .filter(|user| !user.disabled))
}
