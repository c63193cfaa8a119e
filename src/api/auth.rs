//! Signing in and out, and creating the first admin.

use super::ApiError;
use crate::domain::UserView;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the login page offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInOptions {
    /// Whether everyone signs in with a password; when single sign-on is the only way, the
    /// form stays, folded away, for local admins.
    pub password_form: bool,
    /// The identity provider's name, for "Sign in with <name>".
    pub sso_name: Option<String>,
    /// The provider's own sign-out page, offered after signing out of an SSO session.
    pub sso_sign_out_url: Option<String>,
}

/// Where "Sign in with <provider>" starts (a plain page load, not a dashboard route).
pub const SSO_LOGIN_PATH: &str = "/auth/oidc/login";

/// The login page's query after signing out of a single sign-on session.
pub const SIGNED_OUT_OF_SSO: &str = "signed_out=sso";

#[cfg(feature = "ssr")]
mod ssr {
    use super::ApiError;
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};

    /// The peer address of this request (the throttle's key with the user name).
    pub async fn client_ip() -> IpAddr {
        leptos_axum::extract::<axum::extract::ConnectInfo<SocketAddr>>()
            .await
            .map(|info| info.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    pub fn checked_credentials(username: &str, password: &str) -> Result<String, ApiError> {
        let username = crate::domain::normalize_username(username);
        crate::domain::validate_username(&username)
            .map_err(|m| ApiError::invalid("username", m))?;
        crate::domain::validate_password(password).map_err(|m| ApiError::invalid("password", m))?;
        Ok(username)
    }
}

/// Signs in and goes to the dashboard. Unknown users, wrong passwords and disabled accounts
/// get the same answer in the same time; repeated failures are throttled.
#[server(endpoint = "login")]
pub async fn login(username: String, password: String) -> Result<(), ApiError> {
    use crate::auth::{password::verify_password, session};
    use crate::domain::Role;
    use crate::store::users::{self, Source};

    let state = super::ssr::state()?;
    let http_session = super::ssr::session().await?;
    let username = crate::domain::normalize_username(&username);
    let addr = ssr::client_ip().await;

    if let Err(wait) = state.login_throttle.check(&username, addr).await {
        let minutes = wait.as_secs().div_ceil(60).max(1);
        return Err(ApiError::TooManyRequests(format!(
            "Too many failed sign-ins. Try again in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        )));
    }

    let user = users::find_by_username(&state.db.pool, &username)
        .await
        .map_err(ApiError::internal)?;
    // Accounts made by single sign-on have no password: they are checked like unknown users.
    let stored_hash = user
        .as_ref()
        .filter(|u| u.source == Source::Password)
        .map(|u| u.password_hash.clone());
    let password_ok = verify_password(password, stored_hash)
        .await
        .map_err(ApiError::internal)?;
    match user {
        Some(user) if password_ok && !user.disabled => {
            state.login_throttle.record_success(&username, addr).await;
            if !state.login_mode.everyone_uses_passwords() && user.role != Role::Admin {
                let provider = state.sso.as_ref().map_or("single sign-on", |s| s.name());
                return Err(ApiError::Forbidden(format!(
                    "Sign in with {provider}: passwords are kept for local admins."
                )));
            }
            session::sign_in(&http_session, &user.id)
                .await
                .map_err(ApiError::internal)?;
            tracing::info!(user = %user.username, "signed in");
            leptos_axum::redirect("/");
            Ok(())
        }
        _ => {
            state.login_throttle.record_failure(&username, addr).await;
            tracing::info!(user = %username, %addr, "failed sign-in");
            Err(ApiError::WrongCredentials)
        }
    }
}

/// Ends the session here. After a single sign-on, the login page then offers the provider's
/// own sign-out, as the person may still be signed in there.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), ApiError> {
    use crate::auth::session;
    let state = super::ssr::state()?;
    let http_session = super::ssr::session().await?;
    let single_sign_on = session::is_single_sign_on(&http_session)
        .await
        .map_err(ApiError::internal)?;
    session::sign_out(&http_session)
        .await
        .map_err(ApiError::internal)?;
    let offer_provider_sign_out = single_sign_on
        && state
            .sso
            .as_ref()
            .is_some_and(|sso| sso.end_session_url().is_some());
    if offer_provider_sign_out {
        leptos_axum::redirect(&format!("/login?{SIGNED_OUT_OF_SSO}"));
    } else {
        leptos_axum::redirect("/login");
    }
    Ok(())
}

/// How the login page signs people in: open to everyone, as the page is.
#[server(endpoint = "login_options")]
pub async fn login_options() -> Result<SignInOptions, ApiError> {
    let state = super::ssr::state()?;
    Ok(SignInOptions {
        password_form: state.login_mode.everyone_uses_passwords(),
        sso_name: state.sso.as_ref().map(|sso| sso.name().to_string()),
        sso_sign_out_url: state.sso.as_ref().and_then(|sso| sso.end_session_url()),
    })
}

/// The signed-in user, or `None`.
#[server(endpoint = "current_user")]
pub async fn current_user() -> Result<Option<UserView>, ApiError> {
    let state = super::ssr::state()?;
    let http_session = super::ssr::session().await?;
    let user = crate::auth::session::signed_in_user(&http_session, &state.db.pool)
        .await
        .map_err(ApiError::internal)?;
    Ok(user.map(|u| u.view()))
}

/// Whether the instance still needs its first admin (no user exists).
#[server(endpoint = "setup_needed")]
pub async fn setup_needed() -> Result<bool, ApiError> {
    let state = super::ssr::state()?;
    let count = crate::store::users::count(&state.db.pool)
        .await
        .map_err(ApiError::internal)?;
    Ok(count == 0)
}

/// Creates the first admin with the setup token printed at start-up, then signs them in.
#[server(endpoint = "setup_admin")]
pub async fn setup_admin(
    token: String,
    username: String,
    password: String,
) -> Result<(), ApiError> {
    use crate::auth::{password::hash_password, session};
    use crate::store::users;

    let state = super::ssr::state()?;
    let valid_token = state
        .setup_token
        .as_ref()
        .is_some_and(|expected| expected.matches(&token));
    if !valid_token {
        return Err(ApiError::Forbidden(
            "This setup link is not valid. Use the link the server printed at start-up.".into(),
        ));
    }
    let username = ssr::checked_credentials(&username, &password)?;
    let hash = hash_password(password).await.map_err(ApiError::internal)?;
    let created = users::insert_first_admin(&state.db.pool, &username, &hash)
        .await
        .map_err(ApiError::internal)?;
    if !created {
        return Err(ApiError::Forbidden(
            "Setup is already done: an account exists. Sign in instead.".into(),
        ));
    }
    let user = users::find_by_username(&state.db.pool, &username)
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::Internal)?;
    let http_session = super::ssr::session().await?;
    session::sign_in(&http_session, &user.id)
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(user = %username, "first admin created");
    leptos_axum::redirect("/");
    Ok(())
}
