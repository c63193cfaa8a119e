//! What every handler and server function shares.

use crate::auth::oidc::{LoginMode, Sso};
use crate::auth::{setup::SetupToken, throttle::LoginThrottle};
use crate::providers::ProviderClients;
use crate::routing::LiveState;
use crate::settings::Settings;
use crate::snapshot::SharedConfig;
use crate::store::cipher::CredentialCipher;
use crate::store::Db;
use crate::telemetry::Telemetry;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

/// Cloned by every handler (axum's `State`): one reference count, not one per field, which
/// the `/v1` path paid twice per request.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub settings: Arc<Settings>,
    pub login_throttle: Arc<LoginThrottle>,
    /// Which ways of signing in the login page offers.
    pub login_mode: LoginMode,
    /// The identity provider, unless single sign-on is off.
    pub sso: Option<Arc<Sso>>,
    /// The configuration the proxy reads; swapped whole after each config change.
    pub config: SharedConfig,
    /// The config version `config` was built from, compared with the database's to reload.
    pub config_version: crate::configuration::ServedVersion,
    /// This instance's name among the replicas of a fleet (`SWITCHYARD_INSTANCE_ID`).
    pub instance_id: Arc<str>,
    /// Seals and opens provider credentials at rest.
    pub cipher: CredentialCipher,
    /// Present while the instance was started without any user.
    pub setup_token: Option<SetupToken>,
    /// Circuits, rate windows, spend and health the router decides on; updated per request.
    pub live: Arc<LiveState>,
    /// Where the proxy sends each request's usage, for the batch writer.
    pub telemetry: Telemetry,
    pub provider_clients: ProviderClients,
    /// Answers kept for identical requests to models that cache (in Redis when configured).
    pub cache: crate::cache::ResponseCache,
    /// Limits, circuits and budgets shared with the other instances, when `REDIS_URL` is set.
    pub fleet: Option<Arc<crate::fleet::Fleet>>,
    /// Turns true when the shutdown grace period is over: requests still running end now
    /// (streams with an error event) and settle their usage before the process exits.
    pub cut: tokio::sync::watch::Receiver<bool>,
    /// The live stream's ticks, fanned out to every dashboard viewer.
    pub live_hub: crate::api::live::ssr::LiveHub,
}
