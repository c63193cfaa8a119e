//! Start-up: database, migrations, first admin, shared state and the axum router that serves
//! the dashboard, its server functions and the health endpoints. `main.rs` and the
//! integration tests both start the app through `Application`.

use crate::api::ApiError;
use crate::app::{shell, App};
use crate::auth::oidc::{LoginSettings, Sso};
use crate::auth::{csrf, session, setup::SetupToken, throttle::LoginThrottle};
use crate::config_file::ConfigFile;
use crate::providers::ProviderClients;
use crate::routing::LiveState;
use crate::settings::Settings;
use crate::snapshot::SharedConfig;
use crate::state::{AppState, Shared};
use crate::store::cipher::CredentialCipher;
use crate::store::{users, Db};
use crate::telemetry::{self, rollups::PolicyRollups, Telemetry};
use anyhow::Context;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;
use tower_sessions::Session;

/// After the grace period, how long cut requests get to settle their usage.
const CUT_SETTLE_TIME: Duration = Duration::from_millis(200);

/// Names the instance that answered (`SWITCHYARD_INSTANCE_ID`).
pub const INSTANCE_HEADER: &str = "x-switchyard-instance";

/// At shutdown, how long calls' settlements in Redis get to finish.
const FLEET_DRAIN_TIME: Duration = Duration::from_secs(2);

/// Error bodies of server functions are small JSON; anything bigger is not ours to parse.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub struct Application {
    listener: TcpListener,
    cut: tokio::sync::watch::Sender<bool>,
    router: Router,
    state: AppState,
    rollups: PolicyRollups,
}

impl Application {
    /// Connects to the database, migrates, makes sure there is a way to get a first admin,
    /// and binds the listen address (port 0 picks a free port).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let config_file = settings
            .config_file
            .as_deref()
            .map(ConfigFile::load)
            .transpose()?;
        let db = Db::connect(&settings.database_url, settings.db_max_connections)
            .await
            .with_context(|| {
                format!(
                    "cannot open the database {}",
                    crate::store::redact_url(&settings.database_url)
                )
            })?;
        let session_store = session::DbSessionStore::new(db.pool.clone());
        session_store.spawn_expired_cleanup(Duration::from_secs(60 * 10));

        let listener = TcpListener::bind(settings.addr)
            .await
            .with_context(|| format!("cannot listen on {}", settings.addr))?;
        let local_addr = listener.local_addr()?;
        let public_url = if settings.addr.port() == 0 {
            format!("http://{local_addr}")
        } else {
            settings.public_url.clone()
        };

        let file_sso = config_file
            .as_ref()
            .map(|f| f.sso.clone())
            .unwrap_or_default();
        let login = LoginSettings::resolve(settings.oidc.clone().or(file_sso))
            .map_err(|m| anyhow::anyhow!("single sign-on: {m}"))?;
        let sso = login
            .oidc
            .map(|config| Sso::new(config, &public_url).map(Arc::new))
            .transpose()
            .context("single sign-on")?;

        // The cipher first: it may log that it created a key file, and the setup link should be
        // the last thing printed before "listening".
        let cipher = CredentialCipher::load(settings.master_key.as_ref(), &settings.data_dir)?;
        let setup_token = first_admin(&db, &settings, config_file.as_ref(), &public_url).await?;
        if let Some(file) = &config_file {
            let applied = file.apply(&db, &cipher).await?;
            for (name, key) in &applied.generated_keys {
                // Printed once, not logged: only the hash is stored.
                println!("\n  New gateway key {name}: {}\n", key.expose());
            }
        }
        // The version first, as `configuration::reload` reads them.
        let config_version = crate::store::config::version(&db.pool)
            .await
            .context("the stored configuration cannot be loaded")?;
        let snapshot = crate::configuration::load_snapshot(&db, &cipher)
            .await
            .context("the stored configuration cannot be loaded")?;
        let instance_id = settings
            .instance_id
            .clone()
            .unwrap_or_else(|| crate::settings::default_instance_id(local_addr.port()));

        // Started first: it replays usage an earlier run left, which the resumed spend includes.
        let telemetry = Telemetry::start(db.pool.clone(), &settings.data_dir)
            .await
            .context("cannot open the usage spill file")?;
        telemetry.metrics().instance(&instance_id);
        let live = Arc::new(LiveState::new());
        let resumed = telemetry::resume_spend(&db.pool, &live, proxy_now_ms())
            .await
            .context("cannot load this month's spend")?;
        tracing::debug!(accounts = resumed, "resumed this month's spend");
        telemetry
            .recent
            .resume(&db.pool, crate::store::now_millis())
            .await
            .context("cannot load the last hour of traffic")?;
        telemetry::retention::spawn(db.pool.clone(), settings.usage_retention_days);

        let cache = match &settings.redis_url {
            Some(url) => {
                let cache = crate::cache::ResponseCache::redis(url.expose()).await?;
                tracing::info!("the response cache is in Redis, shared by every instance");
                cache
            }
            None => crate::cache::ResponseCache::in_memory(settings.response_cache_max_bytes),
        };
        let fleet = match &settings.redis_url {
            Some(url) => {
                let fleet = crate::fleet::Fleet::connect(url.expose(), settings.fleet.clone())
                    .await
                    .context("the fleet's shared limits")?;
                tracing::info!(
                    "rate limits, circuits and budgets are shared in Redis by every instance"
                );
                Some(Arc::new(fleet))
            }
            None => None,
        };
        let (cut, cut_watch) = tokio::sync::watch::channel(false);
        let state = AppState::new(Shared {
            cut: cut_watch,
            leptos_options: leptos_options(local_addr)?,
            db,
            settings: Arc::new(settings.clone()),
            login_throttle: Arc::new(
                LoginThrottle::new(
                    settings.auth.login_max_failures,
                    Duration::from_secs(settings.auth.login_window_minutes * 60),
                )
                .shared_by(fleet.clone()),
            ),
            login_mode: login.mode,
            sso,
            setup_token,
            config: SharedConfig::new(snapshot),
            config_version: crate::configuration::ServedVersion::new(config_version),
            instance_id: instance_id.into(),
            cipher,
            live,
            telemetry,
            provider_clients: ProviderClients::default(),
            cache,
            fleet,
            live_hub: crate::api::live::ssr::LiveHub::new(),
        });
        state.live_hub.spawn(state.clone());
        crate::configuration::follow::spawn(state.clone());
        if let Some(fleet) = &state.fleet {
            fleet
                .clone()
                .spawn_upkeep(state.config.clone(), state.live.clone());
        }
        if settings.probe_interval_secs > 0 {
            crate::proxy::probes::spawn(
                state.config.clone(),
                state.live.clone(),
                state.provider_clients.clone(),
                Duration::from_secs(settings.probe_interval_secs),
            );
        }
        let rollups = PolicyRollups::new(
            state.db.pool.clone(),
            state.config.clone(),
            state.live.clone(),
        );
        rollups.spawn(Duration::from_secs(60));
        telemetry::conditions::spawn(
            state.db.pool.clone(),
            state.config.clone(),
            state.live.clone(),
            state.telemetry.clone(),
            state.fleet.clone(),
        );
        let router = router(state.clone(), session::layer(session_store, &settings.auth));
        Ok(Application {
            listener,
            cut,
            router,
            state,
            rollups,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then lets in-flight requests (streams included)
    /// finish within the grace period, cuts what is left (its usage is still settled) and
    /// writes the usage they produced before returning.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(addr = %self.listener.local_addr()?, instance = %self.state.instance_id, "Switchyard is listening");
        let grace = Duration::from_secs(self.state.settings.shutdown_grace_secs);
        let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
        let live_hub = self.state.live_hub.clone();
        let signal = async move {
            shutdown.await;
            // Live streams never end by themselves; in-flight proxy requests still finish.
            live_hub.stop();
            let _ = stopping.send(());
        };
        // Each response goes out when written, as nginx's `tcp_nodelay` does: a streamed chunk
        // must not wait for the app's acknowledgement of the one before.
        let listener = self.listener.tap_io(|connection| {
            if let Err(e) = connection.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY on a connection");
            }
        });
        let serving = axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(signal)
        .into_future();
        let grace_over = async move {
            if stopped.await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(grace).await;
        };
        let served = tokio::select! {
            served = serving => served,
            () = grace_over => {
                tracing::warn!(grace_secs = grace.as_secs(), "grace period over: cutting the requests still in flight");
                let _ = self.cut.send(true);
                // Cut requests settle their usage as they end, within moments.
                tokio::time::sleep(CUT_SETTLE_TIME).await;
                Ok(())
            }
        };
        if let Some(fleet) = &self.state.fleet {
            fleet.drain(FLEET_DRAIN_TIME).await;
        }
        self.state.telemetry.finish().await;
        self.rollups.write_logged().await;
        tracing::info!("usage and policy counters written; stopped");
        served
    }
}

fn proxy_now_ms() -> u64 {
    u64::try_from(crate::store::now_millis()).unwrap_or(0)
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// With no user yet: the config file's admin entry creates one; otherwise a setup token is
/// made and the setup link printed once.
async fn first_admin(
    db: &Db,
    settings: &Settings,
    config_file: Option<&ConfigFile>,
    public_url: &str,
) -> anyhow::Result<Option<SetupToken>> {
    if users::count(&db.pool).await? > 0 {
        return Ok(None);
    }
    if let Some(admin) = config_file.and_then(|f| f.admin.as_ref()) {
        let username = crate::domain::normalize_username(&admin.username);
        crate::domain::validate_username(&username)
            .map_err(|m| anyhow::anyhow!("config file admin.username: {m}"))?;
        crate::domain::validate_password(&admin.password)
            .map_err(|m| anyhow::anyhow!("config file admin.password: {m}"))?;
        let hash = crate::auth::password::hash_password(admin.password.clone()).await?;
        if users::insert_first_admin(&db.pool, &username, &hash).await? {
            tracing::info!(user = %username, "created the first admin from the config file");
        }
        return Ok(None);
    }
    let token = SetupToken::new(settings.setup_token.clone());
    // Printed to stdout as well as logged, so it is seen whatever the log filter.
    println!(
        "\n  No account exists yet. Create the first admin here:\n  {}\n",
        token.link(public_url)
    );
    tracing::info!("waiting for the first admin to be created through the setup link");
    Ok(Some(token))
}

/// Site settings (output name, site root, pkg folder) from the environment (`LEPTOS_*`, as
/// cargo-leptos sets them), with the same defaults as `[package.metadata.leptos]`;
/// `.cargo/config.toml` sets the output name for every build, so all builds agree.
fn leptos_options(addr: SocketAddr) -> anyhow::Result<LeptosOptions> {
    let mut options = leptos::config::get_configuration(None)
        .map_err(|e| anyhow::anyhow!("site settings: {e}"))?
        .leptos_options;
    options.site_addr = addr;
    // scripts/build names the bundle's files by content hash and lists the hashes in the site
    // folder (leptos looks beside the binary by default; an absolute path replaces that).
    let hash_file = std::env::current_dir()?
        .join(options.site_root.as_ref())
        .join("hash.txt");
    options.hash_files = hash_file.exists();
    options.hash_file = hash_file.to_string_lossy().into_owned().into();
    Ok(options)
}

/// Static files and the not-found page. Files under /pkg/ carry a content hash in their name
/// when scripts/build made them, so a browser may keep them for good; unhashed ones (cargo
/// leptos watch) are checked each time.
async fn site_files(uri: Uri, State(state): State<AppState>, request: Request) -> Response {
    let is_bundle_file = uri
        .path()
        .strip_prefix('/')
        .and_then(|path| path.strip_prefix(state.leptos_options.site_pkg_dir.as_ref()))
        .is_some_and(|rest| rest.starts_with('/'));
    let hashed = state.leptos_options.hash_files;
    let serve = leptos_axum::file_and_error_handler::<AppState, _>(shell);
    let mut response = serve(uri, State(state), request).await;
    if is_bundle_file && response.status() == StatusCode::OK {
        let policy = if hashed {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}

fn router(
    state: AppState,
    sessions: tower_sessions::SessionManagerLayer<session::DbSessionStore>,
) -> Router {
    let instance = HeaderValue::from_str(&state.instance_id)
        .unwrap_or_else(|_| HeaderValue::from_static("unnamed"));
    let routes = generate_route_list(App);
    let context_state = state.clone();
    // leptos_axum registers the pages and every server function (under /api) here.
    let app = Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(context_state.clone()),
            {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), page_guard));

    // The dashboard: pages, server functions, sign-in and the live stream need the session,
    // the cross-site guard and request spans.
    let dashboard = Router::new()
        .route(
            crate::api::live::LIVE_PATH,
            get(crate::api::live::ssr::live_stream),
        )
        .merge(crate::auth::oidc::routes::routes())
        .merge(app)
        .fallback(site_files)
        .layer(middleware::map_response_with_state(
            state.clone(),
            with_api_error_status,
        ))
        .layer(sessions)
        .layer(middleware::from_fn(csrf::refuse_cross_site))
        .layer(TraceLayer::new_for_http());
    // The proxy API and the probes carry no cookie (keys are bearer tokens, open to any
    // origin), so they skip those layers: each is work on every `/v1` request for nothing.
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(crate::proxy::routes())
        .merge(dashboard)
        .layer(middleware::map_response(with_security_headers))
        .layer(middleware::map_response(move |response: Response| {
            with_instance_header(instance.clone(), response)
        }))
        .with_state(state)
}

/// The page's Content-Security-Policy: scripts run only with this response's nonce (Leptos
/// puts it on its hydration and resource scripts) or when loaded by those ('strict-dynamic'),
/// WebAssembly may compile, styles and everything else come from this origin, and no other
/// site may frame the dashboard. Called while the shell renders.
pub fn set_page_security_policy() {
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = header::HeaderValue::from_str(&policy) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// Headers every response carries: no MIME sniffing, no framing, no full URLs in Referer.
/// An HTML response without its own policy (error pages) still refuses to be framed.
async fn with_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("same-origin"),
    );
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html && !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static("frame-ancestors 'none'; object-src 'none'"),
        );
    }
    response
}

/// Which instance answered, for an operator behind a load balancer (every response, so health
/// checks tell it too).
async fn with_instance_header(instance: HeaderValue, mut response: Response) -> Response {
    response.headers_mut().insert(INSTANCE_HEADER, instance);
    response
}

/// Server functions answer every error with 500; this gives each `ApiError` its own status
/// (401, 403, 400, 429 …), in this one place. An internal error while the database does not
/// answer becomes `DatabaseUnavailable` (503), so a page says why rather than "something went
/// wrong"; the check runs on that error path only.
async fn with_api_error_status(State(state): State<AppState>, response: Response) -> Response {
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response
            .headers()
            .contains_key(server_fn::error::SERVER_FN_ERROR_HEADER)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    let mut bytes = bytes.to_vec();
    if let Ok(mut error) = serde_json::from_slice::<ApiError>(&bytes) {
        if error == ApiError::Internal && !database_answers(&state).await {
            error = ApiError::DatabaseUnavailable;
            bytes = serde_json::to_vec(&error).unwrap_or(bytes);
            parts.headers.remove(header::CONTENT_LENGTH);
        }
        parts.status =
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Whether the database runs a query within a second (the pool may otherwise wait for its
/// acquire timeout).
async fn database_answers(state: &AppState) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(1), state.db.ping()).await,
        Ok(Ok(()))
    )
}

/// Full page loads: signed-out visitors go to the login page (or to setup while no user
/// exists); signed-in users skip the login page. Server functions check roles themselves.
async fn page_guard(
    State(state): State<AppState>,
    session: Session,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if path.starts_with("/api/") {
        return next.run(request).await;
    }
    let signed_in = match session::signed_in_user(&session, &state.db.pool).await {
        Ok(user) => user.is_some(),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the session: database unavailable");
            return database_unavailable();
        }
    };
    match (path, signed_in) {
        ("/login", true) => Redirect::to("/").into_response(),
        ("/login" | "/setup", false) => next.run(request).await,
        (_, true) => next.run(request).await,
        (_, false) => {
            let target = if state.setup_token.is_some()
                && users::count(&state.db.pool).await.unwrap_or(1) == 0
            {
                "/setup"
            } else {
                "/login"
            };
            Redirect::to(target).into_response()
        }
    }
}

/// What a page shows while the database cannot be reached, instead of a blank page.
fn database_unavailable() -> Response {
    const PAGE: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
        <meta http-equiv=\"refresh\" content=\"10\"><title>Database unavailable · Switchyard</title>\
        <style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;\
        color:#1f2933}p{background:#fdecec;color:#8a1c1c;padding:1rem;border-radius:8px}</style>\
        </head><body><main class=\"content\">\
        <section class=\"page\"><h1>Database unavailable</h1>\
        <p class=\"card notice error\" role=\"alert\" data-testid=\"database-unavailable\">\
        Switchyard cannot reach its database, so the dashboard cannot show or change anything \
        right now. The proxy keeps serving /v1 requests from its in-memory configuration, and \
        usage waits in the spill file until the database is back. This page retries every 10 \
        seconds.</p></section></main></body></html>";
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::RETRY_AFTER, "10"),
        ],
        PAGE,
    )
        .into_response()
}

async fn healthz() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-store")], "ok")
}

async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if let Some(token) = &state.settings.metrics_token {
        use subtle::ConstantTimeEq;
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "metrics need Authorization: Bearer <SWITCHYARD_METRICS_TOKEN>\n",
            )
                .into_response();
        }
    }
    let snapshot = state.config.load();
    let now = u64::try_from(crate::store::now_millis()).unwrap_or_default();
    let metrics = state.telemetry.metrics();
    metrics.config_version(state.config_version.get());
    let text = metrics.render(
        &snapshot.routing,
        &state.live,
        &state.telemetry.stats(),
        state.fleet.as_deref(),
        now,
    );
    (
        [
            (
                header::CONTENT_TYPE,
                crate::telemetry::metrics::CONTENT_TYPE,
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response()
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => ([(header::CACHE_CONTROL, "no-store")], "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}
