//! Dashboard sessions, kept in the database (our tower-sessions store) so they survive a
//! restart. The session holds only the user's id; role and disabled flag are read fresh on
//! every request, so a change takes effect at once.

use crate::settings::AuthSettings;
use crate::store::users::{self, UserRow};
use crate::store::StoreError;
use async_trait::async_trait;
use sqlx::AnyPool;
use std::time::Duration;
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, Session, SessionManagerLayer};

pub const COOKIE_NAME: &str = "switchyard_session";
const USER_ID_KEY: &str = "user_id";
/// Set when the session was started by single sign-on.
const SINGLE_SIGN_ON_KEY: &str = "single_sign_on";

/// tower-sessions' store, over the one `AnyPool`, in the `dashboard_sessions` table.
#[derive(Clone, Debug)]
pub struct DbSessionStore {
    pool: AnyPool,
}

impl DbSessionStore {
    pub fn new(pool: AnyPool) -> Self {
        DbSessionStore { pool }
    }

    /// Removes expired sessions every `period`, in the background, for the life of the process.
    pub fn spawn_expired_cleanup(&self, period: Duration) {
        let store = self.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(period);
            loop {
                interval.tick().await;
                if let Err(e) = store.delete_expired().await {
                    tracing::warn!(error = %e, "cannot delete expired sessions; will try again");
                }
            }
        });
    }

    async fn delete_expired(&self) -> session_store::Result<()> {
        sqlx::query("DELETE FROM dashboard_sessions WHERE expires_at <= $1")
            .bind(now_unix())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// Inserts or replaces the record; with `only_new`, an id already taken is left alone and
    /// `false` returned.
    async fn write(&self, record: &Record, only_new: bool) -> session_store::Result<bool> {
        let json = serde_json::to_string(record)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let on_conflict = if only_new {
            "DO NOTHING"
        } else {
            "DO UPDATE SET record = excluded.record, expires_at = excluded.expires_at"
        };
        let done = sqlx::query(&format!(
            "INSERT INTO dashboard_sessions (id, record, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) {on_conflict}"
        ))
        .bind(record.id.to_string())
        .bind(json)
        .bind(record.expiry_date.unix_timestamp())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}

fn backend(e: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn now_unix() -> i64 {
    tower_sessions::cookie::time::OffsetDateTime::now_utc().unix_timestamp()
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Ids are random 128-bit values; a collision only costs another draw.
        while !self.write(record, true).await? {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.write(record, false).await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let json: Option<String> = sqlx::query_scalar(
            "SELECT record FROM dashboard_sessions WHERE id = $1 AND expires_at > $2",
        )
        .bind(id.to_string())
        .bind(now_unix())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        json.map(|json| {
            serde_json::from_str(&json).map_err(|e| session_store::Error::Decode(e.to_string()))
        })
        .transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM dashboard_sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
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
