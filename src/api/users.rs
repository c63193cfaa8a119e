//! Team members, managed by admins.

use super::ApiError;
use crate::domain::{Role, UserView};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod ssr {
    use super::ApiError;
    use crate::domain::Role;
    use crate::store::users::{self, UserRow};
    use sqlx::AnyPool;

    pub async fn existing(pool: &AnyPool, id: &str) -> Result<UserRow, ApiError> {
        users::find_by_id(pool, id)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::NotFound("No such user.".into()))
    }

    /// Refuses a change that would leave no enabled admin, which would lock everyone out
    /// of user management.
    pub async fn keep_an_admin(
        pool: &AnyPool,
        target: &UserRow,
        new_role: Role,
        new_disabled: bool,
    ) -> Result<(), ApiError> {
        let loses_admin = target.role == Role::Admin
            && !target.disabled
            && (new_role != Role::Admin || new_disabled);
        if loses_admin {
            let admins = users::count_active_admins(pool)
                .await
                .map_err(ApiError::internal)?;
            if admins <= 1 {
                return Err(ApiError::BadRequest(
                    "This is the last enabled admin; make someone else admin first.".into(),
                ));
            }
        }
        Ok(())
    }
}

#[server(endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<UserView>, ApiError> {
    super::ssr::require(Role::Admin).await?;
    let state = super::ssr::state()?;
    let rows = crate::store::users::list(&state.db.pool)
        .await
        .map_err(ApiError::internal)?;
    Ok(rows.iter().map(|u| u.view()).collect())
}

#[server(endpoint = "create_user")]
pub async fn create_user(
    username: String,
    password: String,
    role: Role,
) -> Result<UserView, ApiError> {
    use crate::store::{users, StoreError};
    let admin = super::ssr::require(Role::Admin).await?;
    let state = super::ssr::state()?;
    let username = crate::domain::normalize_username(&username);
    crate::domain::validate_username(&username).map_err(|m| ApiError::invalid("username", m))?;
    crate::domain::validate_password(&password).map_err(|m| ApiError::invalid("password", m))?;
    let hash = crate::auth::password::hash_password(password)
        .await
        .map_err(ApiError::internal)?;
    let user = users::insert(&state.db.pool, &username, &hash, role)
        .await
        .map_err(|e| match e {
            StoreError::Duplicate(_) => ApiError::invalid("username", "This user name is taken."),
            other => ApiError::internal(other),
        })?;
    tracing::info!(by = %admin.username, user = %username, %role, "user created");
    Ok(user.view())
}

#[server(endpoint = "change_role")]
pub async fn change_role(id: String, role: Role) -> Result<(), ApiError> {
    let admin = super::ssr::require(Role::Admin).await?;
    let state = super::ssr::state()?;
    let target = ssr::existing(&state.db.pool, &id).await?;
    ssr::keep_an_admin(&state.db.pool, &target, role, target.disabled).await?;
    crate::store::users::set_role(&state.db.pool, &id, role)
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(by = %admin.username, user = %target.username, %role, "role changed");
    Ok(())
}

#[server(endpoint = "set_user_disabled")]
pub async fn set_user_disabled(id: String, disabled: bool) -> Result<(), ApiError> {
    let admin = super::ssr::require(Role::Admin).await?;
    let state = super::ssr::state()?;
    let target = ssr::existing(&state.db.pool, &id).await?;
    if disabled && target.id == admin.id {
        return Err(ApiError::BadRequest(
            "You cannot disable your own account.".into(),
        ));
    }
    ssr::keep_an_admin(&state.db.pool, &target, target.role, disabled).await?;
    crate::store::users::set_disabled(&state.db.pool, &id, disabled)
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(by = %admin.username, user = %target.username, disabled, "user access changed");
    Ok(())
}

#[server(endpoint = "reset_password")]
pub async fn reset_password(id: String, password: String) -> Result<(), ApiError> {
    let admin = super::ssr::require(Role::Admin).await?;
    let state = super::ssr::state()?;
    let target = ssr::existing(&state.db.pool, &id).await?;
    if target.source == crate::store::users::Source::Oidc {
        return Err(ApiError::BadRequest(format!(
            "{} signs in through single sign-on and has no password here.",
            target.username
        )));
    }
    crate::domain::validate_password(&password).map_err(|m| ApiError::invalid("password", m))?;
    let hash = crate::auth::password::hash_password(password)
        .await
        .map_err(ApiError::internal)?;
    crate::store::users::set_password_hash(&state.db.pool, &id, &hash)
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(by = %admin.username, user = %target.username, "password reset");
    Ok(())
}
