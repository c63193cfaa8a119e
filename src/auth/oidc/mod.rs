//! Single sign-on through an OpenID Connect provider, with the `openidconnect` crate: discovery
//! and the provider's JWKS, the authorization code flow with PKCE, and the ID token's
//! signature, issuer, audience, expiry and nonce checked before anyone is let in. The state,
//! nonce and PKCE verifier of a sign-in in progress wait in the server-side session
//! ([`PendingSignIn`]) and are taken out, once, by the callback.

pub mod accounts;
pub mod config;
pub mod role_map;
pub mod routes;

use crate::providers::{error_chain, Secret};
pub use config::{LoginMode, LoginSettings, OidcConfig, OidcInput};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreResponseType,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthenticationFlow, AuthorizationCode, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout,
    RedirectUrl, Scope, StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

pub const CALLBACK_PATH: &str = "/auth/oidc/callback";

/// How long discovery (endpoints and signing keys) is reused before it is fetched again, so a
/// provider's key rotation is picked up without a restart.
const DISCOVERY_TTL: Duration = Duration::from_secs(5 * 60);
/// Network calls to the provider give up after this, so a hung provider fails the sign-in
/// with a clear page instead of a spinning browser.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);
/// A sign-in must come back from the provider within this many milliseconds.
const PENDING_LIFETIME_MS: i64 = 10 * 60 * 1000;

/// Claims beyond the standard ones, the configurable groups claim among them.
#[derive(Debug, Deserialize, Serialize)]
#[serde(transparent)]
pub struct OtherClaims(serde_json::Map<String, serde_json::Value>);
impl AdditionalClaims for OtherClaims {}

type IdTokenResponse = StandardTokenResponse<
    IdTokenFields<
        OtherClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

/// A client as built from discovery: authorization endpoint set, token endpoint maybe.
type OidcClient = openidconnect::Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    IdTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Why a single sign-on did not happen. Each maps to one status and page at the edge
/// ([`routes`]); none carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("cannot reach the identity provider: {0}")]
    Unreachable(String),
    #[error("the identity provider's answer cannot be used: {0}")]
    BadProvider(String),
    #[error("no sign-in was started in this browser, or it was already finished")]
    NoPendingSignIn,
    #[error("the sign-in's state does not match the one this browser started")]
    StateMismatch,
    #[error("the sign-in took longer than ten minutes")]
    PendingExpired,
    #[error("the identity provider did not sign you in: {0}")]
    Denied(String),
    #[error("the identity provider refused the sign-in code: {0}")]
    CodeRefused(String),
    #[error("the ID token is not valid: {0}")]
    InvalidIdToken(String),
    #[error("none of your groups ({}) has access to Switchyard", if .0.is_empty() { "none".to_string() } else { .0.join(", ") })]
    NoRole(Vec<String>),
    #[error("this Switchyard account is disabled")]
    Disabled,
    #[error("too many failed sign-ins; try again in {0} minutes")]
    Throttled(u64),
    #[error("internal error: {0}")]
    Internal(String),
}

impl OidcError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        OidcError::Internal(e.to_string())
    }

    /// Failures a person or an attacker can cause, counted by the login throttle; a provider
    /// that is down is nobody's attempt.
    pub fn is_failed_attempt(&self) -> bool {
        !matches!(
            self,
            OidcError::Unreachable(_)
                | OidcError::BadProvider(_)
                | OidcError::Throttled(_)
                | OidcError::Internal(_)
        )
    }
}

/// What the callback needs from the start of a sign-in. Kept in the session (server side),
/// never in the browser.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingSignIn {
    state: String,
    nonce: String,
    pkce_verifier: String,
    started_at: i64,
}

impl PendingSignIn {
    /// Session key of the sign-in in progress.
    pub const KEY: &'static str = "oidc_pending";

    /// Checks the state the provider sent back, in constant time, and that it is not stale.
    pub fn check(&self, returned_state: &str, now_ms: i64) -> Result<(), OidcError> {
        if !bool::from(self.state.as_bytes().ct_eq(returned_state.as_bytes())) {
            return Err(OidcError::StateMismatch);
        }
        if now_ms - self.started_at > PENDING_LIFETIME_MS {
            return Err(OidcError::PendingExpired);
        }
        Ok(())
    }
}

impl std::fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSignIn")
            .field("started_at", &self.started_at)
            .finish_non_exhaustive()
    }
}

/// Who the provider says signed in.
#[derive(Debug, Clone)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    /// `preferred_username`, else `email`, else the subject: the name a new account gets.
    pub name_hint: String,
    pub groups: Vec<String>,
}

struct Discovered {
    at: Instant,
    metadata: Arc<ProviderMetadataWithLogout>,
}

/// The configured identity provider: its settings, an HTTP client and the last discovery.
pub struct Sso {
    pub config: OidcConfig,
    redirect_url: RedirectUrl,
    post_logout_url: PostLogoutRedirectUrl,
    http: reqwest::Client,
    /// Sign-ins are rare, so one lock around the cached discovery is plenty.
    discovered: tokio::sync::Mutex<Option<Discovered>>,
}

impl std::fmt::Debug for Sso {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sso")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Sso {
    /// `public_url`: where browsers reach Switchyard; the callback and the page after signing
    /// out at the provider are under it.
    pub fn new(config: OidcConfig, public_url: &str) -> anyhow::Result<Self> {
        let redirect_url = RedirectUrl::new(format!("{public_url}{CALLBACK_PATH}"))?;
        let post_logout_url = PostLogoutRedirectUrl::new(format!("{public_url}/login"))?;
        // No redirects: discovery and token answers must come from the URLs the provider
        // published, not wherever a redirect points.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()?;
        Ok(Sso {
            config,
            redirect_url,
            post_logout_url,
            http,
            discovered: tokio::sync::Mutex::new(None),
        })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The provider's discovery document and keys, fetched again once they are older than
    /// [`DISCOVERY_TTL`]. A failure is not remembered: the next sign-in tries again.
    async fn metadata(&self) -> Result<Arc<ProviderMetadataWithLogout>, OidcError> {
        let mut cached = self.discovered.lock().await;
        if let Some(found) = cached.as_ref().filter(|d| d.at.elapsed() < DISCOVERY_TTL) {
            return Ok(found.metadata.clone());
        }
        let metadata =
            ProviderMetadataWithLogout::discover_async(self.config.issuer.clone(), &self.http)
                .await
                .map_err(|e| match e {
                    openidconnect::DiscoveryError::Request(inner) => {
                        OidcError::Unreachable(error_chain(&inner))
                    }
                    other => OidcError::BadProvider(error_chain(&other)),
                })?;
        let endpoints = [
            Some(metadata.authorization_endpoint().url()),
            metadata.token_endpoint().map(|u| u.url()),
            Some(metadata.jwks_uri().url()),
        ];
        if let Some(insecure) = endpoints
            .into_iter()
            .flatten()
            .find(|url| !config::is_secure_or_loopback(url))
        {
            return Err(OidcError::BadProvider(format!(
                "it publishes the plain-http endpoint {insecure}"
            )));
        }
        let metadata = Arc::new(metadata);
        *cached = Some(Discovered {
            at: Instant::now(),
            metadata: metadata.clone(),
        });
        Ok(metadata)
    }

    fn client(&self, metadata: &ProviderMetadataWithLogout) -> OidcClient {
        OidcClient::from_provider_metadata(
            metadata.clone(),
            self.config.client_id.clone(),
            self.config
                .client_secret
                .as_ref()
                .map(|s: &Secret| ClientSecret::new(s.expose().to_string())),
        )
        .set_redirect_uri(self.redirect_url.clone())
    }

    /// Where to send the browser to sign in, and what the callback must find in the session.
    pub async fn start(&self) -> Result<(openidconnect::url::Url, PendingSignIn), OidcError> {
        let metadata = self.metadata().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = self.client(&metadata);
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge)
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()));
        // Providers that put groups behind their own scope list it; others refuse unknown ones.
        let groups_scope = Scope::new("groups".into());
        if metadata
            .scopes_supported()
            .is_some_and(|scopes| scopes.contains(&groups_scope))
        {
            request = request.add_scope(groups_scope);
        }
        let (url, state, nonce) = request.url();
        Ok((
            url,
            PendingSignIn {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                started_at: crate::store::now_millis(),
            },
        ))
    }

    /// Redeems the code (with the PKCE verifier) and checks the ID token: signature against
    /// the provider's keys, issuer, audience, expiry and the nonce of this sign-in.
    pub async fn finish(
        &self,
        pending: PendingSignIn,
        code: String,
    ) -> Result<Identity, OidcError> {
        let metadata = self.metadata().await?;
        let client = self.client(&metadata);
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| OidcError::BadProvider(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                openidconnect::RequestTokenError::ServerResponse(answer) => {
                    OidcError::CodeRefused(match answer.error_description() {
                        Some(description) => format!("{} ({description})", answer.error()),
                        None => answer.error().to_string(),
                    })
                }
                openidconnect::RequestTokenError::Request(inner) => {
                    OidcError::Unreachable(error_chain(&inner))
                }
                other => OidcError::BadProvider(error_chain(&other)),
            })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::BadProvider("its token answer has no ID token".into()))?;
        let claims = id_token
            .claims(&client.id_token_verifier(), &Nonce::new(pending.nonce))
            .map_err(|e| OidcError::InvalidIdToken(error_chain(&e)))?;
        let groups = groups_in(&claims.additional_claims().0, &self.config.groups_claim);
        let subject = claims.subject().to_string();
        let name_hint = claims
            .preferred_username()
            .map(|n| n.to_string())
            .or_else(|| claims.email().map(|e| e.to_string()))
            .unwrap_or_else(|| subject.clone());
        Ok(Identity {
            issuer: claims.issuer().to_string(),
            subject,
            name_hint,
            groups,
        })
    }

    /// The provider's end-session page, when its discovery (already fetched by a sign-in)
    /// has one; it brings the browser back to Switchyard's login page.
    pub fn end_session_url(&self) -> Option<String> {
        let cached = self.discovered.try_lock().ok()?;
        let endpoint = cached
            .as_ref()?
            .metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()?;
        Some(
            openidconnect::LogoutRequest::from(endpoint)
                .set_client_id(self.config.client_id.clone())
                .set_post_logout_redirect_uri(self.post_logout_url.clone())
                .http_get_url()
                .to_string(),
        )
    }
}

/// The groups claim: a list of names, or one name (some providers send a bare string).
fn groups_in(claims: &serde_json::Map<String, serde_json::Value>, claim: &str) -> Vec<String> {
    match claims.get(claim) {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_string))
            .collect(),
        Some(serde_json::Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn groups_come_as_a_list_or_a_single_name() {
        let claims = json!({"groups": ["ops", 7, "ml"], "team": "ml", "n": 3});
        let claims = claims.as_object().unwrap();
        assert_eq!(groups_in(claims, "groups"), vec!["ops", "ml"]);
        assert_eq!(groups_in(claims, "team"), vec!["ml"]);
        assert!(groups_in(claims, "n").is_empty());
        assert!(groups_in(claims, "missing").is_empty());
    }

    #[test]
    fn the_state_must_match_and_be_fresh() {
        let pending = PendingSignIn {
            state: "abc".into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            started_at: 1_000,
        };
        assert!(pending.check("abc", 2_000).is_ok());
        assert!(matches!(
            pending.check("abd", 2_000),
            Err(OidcError::StateMismatch)
        ));
        assert!(matches!(
            pending.check("", 2_000),
            Err(OidcError::StateMismatch)
        ));
        assert!(matches!(
            pending.check("abc", 1_000 + PENDING_LIFETIME_MS + 1),
            Err(OidcError::PendingExpired)
        ));
        assert!(!format!("{pending:?}").contains("abc"));
    }
}
