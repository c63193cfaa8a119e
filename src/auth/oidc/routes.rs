//! `GET /auth/oidc/login` and `GET /auth/oidc/callback`: the browser's two stops in Switchyard
//! during a single sign-on. Every failure becomes one clear page with its own status here.

use super::{accounts, OidcError, PendingSignIn, Sso, CALLBACK_PATH};
use crate::api::auth::SSO_LOGIN_PATH;
use crate::auth::session;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tower_sessions::Session;

/// The login throttle's name for single sign-on attempts from one address. Not a valid user
/// name, so it never shares a count with a password user.
const THROTTLE_NAME: &str = "(single sign-on)";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(SSO_LOGIN_PATH, get(login))
        .route(CALLBACK_PATH, get(callback))
}

/// Sends the browser to the provider, with the state, nonce and PKCE verifier kept in the
/// session for the callback.
async fn login(
    State(state): State<AppState>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    let Some(sso) = state.sso.clone() else {
        return not_configured();
    };
    let started = async {
        throttled(&state, peer.ip()).await?;
        let (url, pending) = sso.start().await?;
        session
            .insert(PendingSignIn::KEY, pending)
            .await
            .map_err(OidcError::internal)?;
        Ok::<_, OidcError>(url)
    };
    match started.await {
        Ok(url) => Redirect::to(url.as_str()).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "single sign-on could not start");
            error_page(&e, &sso)
        }
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    /// RFC 9207: which provider answered, against mix-ups between providers.
    iss: Option<String>,
}

/// Checks the state against the session (once: the pending sign-in is taken out), redeems the
/// code, checks the ID token, and signs the account in as a password sign-in would.
async fn callback(
    State(state): State<AppState>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let Some(sso) = state.sso.clone() else {
        return not_configured();
    };
    let addr = peer.ip();
    match finish(&state, &sso, &session, addr, query).await {
        Ok(username) => {
            state
                .login_throttle
                .record_success(THROTTLE_NAME, addr)
                .await;
            tracing::info!(user = %username, provider = %sso.name(), "signed in through single sign-on");
            Redirect::to("/").into_response()
        }
        Err(e) => {
            if e.is_failed_attempt() {
                state
                    .login_throttle
                    .record_failure(THROTTLE_NAME, addr)
                    .await;
            }
            tracing::warn!(error = %e, %addr, provider = %sso.name(), "single sign-on refused");
            error_page(&e, &sso)
        }
    }
}

async fn finish(
    state: &AppState,
    sso: &Arc<Sso>,
    session: &Session,
    addr: IpAddr,
    query: CallbackQuery,
) -> Result<String, OidcError> {
    throttled(state, addr).await?;
    let pending = session
        .remove::<PendingSignIn>(PendingSignIn::KEY)
        .await
        .map_err(OidcError::internal)?
        .ok_or(OidcError::NoPendingSignIn)?;
    pending.check(
        query.state.as_deref().unwrap_or_default(),
        crate::store::now_millis(),
    )?;
    if let Some(iss) = query.iss.filter(|iss| iss != sso.config.issuer.as_str()) {
        return Err(OidcError::BadProvider(format!(
            "the answer comes from the issuer {iss}, not {}",
            sso.config.issuer.as_str()
        )));
    }
    if let Some(error) = query.error {
        return Err(OidcError::Denied(match query.error_description {
            Some(description) => format!("{error} ({description})"),
            None => error,
        }));
    }
    let code = query
        .code
        .ok_or_else(|| OidcError::BadProvider("it sent no code".into()))?;
    let identity = sso.finish(pending, code).await?;
    let user = accounts::account_for(&state.db.pool, sso, &identity).await?;
    session::sign_in(session, &user.id)
        .await
        .map_err(OidcError::internal)?;
    session::mark_single_sign_on(session)
        .await
        .map_err(OidcError::internal)?;
    Ok(user.username)
}

async fn throttled(state: &AppState, addr: IpAddr) -> Result<(), OidcError> {
    state
        .login_throttle
        .check(THROTTLE_NAME, addr)
        .await
        .map_err(|wait| OidcError::Throttled(wait.as_secs().div_ceil(60).max(1)))
}

fn not_configured() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Single sign-on is off",
        "This Switchyard does not offer single sign-on. Sign in with your user name and password.",
    )
}

/// The status and the sentence for each failure. Texts come from the provider only as plain
/// text, escaped.
fn error_page(error: &OidcError, sso: &Sso) -> Response {
    let name = sso.name();
    let (status, title, text) = match error {
        OidcError::Unreachable(detail) => (
            StatusCode::BAD_GATEWAY,
            format!("{name} cannot be reached"),
            format!(
                "Switchyard cannot reach {name} right now ({detail}). Try again in a moment. \
                 Local admins can still sign in with their password."
            ),
        ),
        OidcError::BadProvider(detail) => (
            StatusCode::BAD_GATEWAY,
            format!("{name} answered in a way Switchyard cannot use"),
            format!(
                "{detail}. Ask an admin to check the single sign-on settings. Local admins can \
                 still sign in with their password."
            ),
        ),
        OidcError::NoPendingSignIn | OidcError::StateMismatch | OidcError::PendingExpired => (
            StatusCode::BAD_REQUEST,
            "This sign-in cannot be finished".to_string(),
            format!(
                "{}. Sign-ins must start on Switchyard's login page, in this browser, and \
                 each one can finish only once. Start again.",
                capitalized(&error.to_string())
            ),
        ),
        OidcError::Denied(_) | OidcError::CodeRefused(_) => (
            StatusCode::BAD_REQUEST,
            format!("{name} did not sign you in"),
            format!("{}. Start again.", capitalized(&error.to_string())),
        ),
        OidcError::InvalidIdToken(_) => (
            StatusCode::UNAUTHORIZED,
            "The sign-in could not be verified".to_string(),
            format!(
                "{} Nobody was signed in. Start again; if this keeps happening, ask an admin.",
                capitalized(&error.to_string())
            ),
        ),
        OidcError::NoRole(_) => (
            StatusCode::FORBIDDEN,
            "No access to Switchyard".to_string(),
            format!(
                "You signed in to {name}, but {}. Ask an admin to add you to a group that \
                 Switchyard maps to a role.",
                error
            ),
        ),
        OidcError::Disabled => (
            StatusCode::FORBIDDEN,
            "Your account is disabled".to_string(),
            "Your Switchyard account is disabled, so signing in through single sign-on is \
             refused. Ask an admin to enable it."
                .to_string(),
        ),
        OidcError::Throttled(minutes) => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed sign-ins".to_string(),
            format!(
                "Too many failed sign-ins from this address. Try again in {minutes} minute{}.",
                if *minutes == 1 { "" } else { "s" }
            ),
        ),
        OidcError::Internal(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Sign-in failed".to_string(),
            "Switchyard could not finish the sign-in because of an internal error; it is in \
             the server log. Try again."
                .to_string(),
        ),
    };
    page(status, &title, &text)
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A small standalone page (outside the dashboard's app, which is not involved in the
/// redirects) with a way back to the login page.
fn page(status: StatusCode, title: &str, text: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        page_html(title, text),
    )
        .into_response()
}

fn page_html(title: &str, text: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Switchyard</title><style>body{{font-family:system-ui,sans-serif;\
         max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1f2933;line-height:1.5}}\
         .notice{{background:#fdecec;color:#8a1c1c;padding:1rem;border-radius:8px}}</style>\
         </head><body><main><h1>{title}</h1>\
         <p class=\"notice\" role=\"alert\" data-testid=\"sso-error\">{text}</p>\
         <p><a href=\"/login\">Back to the login page</a></p></main></body></html>",
        title = html_escape::encode_text(title),
        text = html_escape::encode_text(text),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_text_is_escaped() {
        let html = page_html("T", "<script>alert(1)</script> & more");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"),
            "{html}"
        );
        assert!(!html.contains("<script>"), "{html}");
        assert_eq!(capitalized("the state"), "The state");
        assert_eq!(capitalized(""), "");
    }
}
