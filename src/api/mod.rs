//! Server functions, grouped by resource. Each one checks the caller's role on the server,
//! validates its input and only then touches the database. The browser calls them through
//! the generated client stubs; their bodies compile only into the server.

pub mod accounts;
pub mod alerts;
pub mod audit;
pub mod auth;
#[cfg(feature = "ssr")]
pub(crate) mod change;
pub mod dashboard;
mod error;
pub mod keys;
pub mod live;
pub mod models;
pub mod policies;
pub mod prices;
pub mod users;

pub use error::ApiError;

#[cfg(feature = "ssr")]
pub mod ssr {
    //! What every server function needs: the app state, the session and the caller.
    use super::ApiError;
    use crate::auth::session;
    use crate::domain::Role;
    use crate::state::AppState;
    use crate::store::users::UserRow;
    use leptos::prelude::use_context;
    use tower_sessions::Session;

    pub fn state() -> Result<AppState, ApiError> {
        use_context::<AppState>()
            .ok_or_else(|| ApiError::internal("app state missing from context"))
    }

    /// The whole stored configuration, for the list functions (after their role check).
    pub async fn stored_config() -> Result<crate::store::config::StoredConfig, ApiError> {
        let state = state()?;
        let mut conn = state.db.pool.acquire().await.map_err(ApiError::internal)?;
        crate::store::config::load(&mut conn)
            .await
            .map_err(ApiError::internal)
    }

    pub async fn session() -> Result<Session, ApiError> {
        leptos_axum::extract::<Session>()
            .await
            .map_err(|e| ApiError::internal(format!("session layer missing: {e}")))
    }

    /// The signed-in caller, who must hold at least `needed`.
    pub async fn require(needed: Role) -> Result<UserRow, ApiError> {
        let state = state()?;
        let session = session().await?;
        let user = session::signed_in_user(&session, &state.db.pool)
            .await
            .map_err(ApiError::internal)?
            .ok_or(ApiError::Unauthenticated)?;
        if !user.role.includes(needed) {
            return Err(ApiError::Forbidden(format!(
                "This needs the {needed} role; you are signed in as {}.",
                user.role
            )));
        }
        Ok(user)
    }
}
