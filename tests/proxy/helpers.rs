//! Starts the real app on port 0 with a fresh SQLite database, and mock providers on their own
//! ports; the config snapshot is injected directly, as the config store will after a change.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use switchyard::domain::{
    Capabilities, CircuitBreakerSettings, Defaults, KeyLimits, LogicalModel, MatchCriteria,
    ModelTarget, Policy, ProviderAccount, ProviderKind, Strategy, DEFAULT_ALERT_THRESHOLDS,
};
use switchyard::providers::mock::{MockProvider, MOCK_API_KEY, MOCK_AZURE_API_VERSION};
use switchyard::providers::prices::seed_price;
use switchyard::providers::{Secret, Timeouts};
use switchyard::routing::RoutingSnapshot;
use switchyard::server::Application;
use switchyard::settings::Settings;
use switchyard::snapshot::{
    hash_gateway_key, AccountConnection, AzureAccount, ConfigSnapshot, GatewayKey,
};
use switchyard::state::AppState;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// May use every model.
pub const KEY: &str = "sk-sy-test-0123456789abcdef";
/// May use `primary-llm` only.
pub const LIMITED_KEY: &str = "sk-sy-limited-0123456789abcdef";
pub const EXPIRED_KEY: &str = "sk-sy-expired-0123456789abcdef";

pub struct TestApp {
    pub address: String,
    pub state: AppState,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// An app whose alerts are POSTed to `webhook`.
pub async fn spawn_app_alerting_to(webhook: &str) -> TestApp {
    let app = spawn_app().await;
    let mut conn = app.state.db.pool.acquire().await.unwrap();
    switchyard::store::alerts::set_webhook_url(&mut conn, Some(webhook))
        .await
        .unwrap();
    app
}

pub async fn spawn_app_with(vars: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    spawn_app_in(dir, vars).await
}

/// An app over an existing data folder (to restart on the same database).
pub async fn spawn_app_in(dir: tempfile::TempDir, vars: &[(&str, &str)]) -> TestApp {
    let mut env: HashMap<String, String> = HashMap::from([
        ("SWITCHYARD_ADDR".into(), "127.0.0.1:0".into()),
        (
            "DATABASE_URL".into(),
            format!("sqlite://{}/switchyard.db", dir.path().display()),
        ),
        ("SWITCHYARD_SETUP_TOKEN".into(), "test-setup-token".into()),
        // The spill file and key file stay in the test's folder on PostgreSQL too.
        (
            "SWITCHYARD_DATA_DIR".into(),
            dir.path().display().to_string(),
        ),
        // Probes would show up in the mocks' request logs; the probe test turns them on.
        ("SWITCHYARD_PROBE_INTERVAL_SECS".into(), "0".into()),
    ]);
    for (k, v) in vars {
        env.insert(k.to_string(), v.to_string());
    }
    let settings = Settings::from_lookup(|name| env.get(name).cloned()).unwrap();
    let app = Application::build(settings).await.unwrap();
    let address = format!("http://{}", app.local_addr().unwrap());
    let state = app.state().clone();
    let (shutdown, stop) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stop.await;
    }));
    TestApp {
        address,
        state,
        client: reqwest::Client::new(),
        shutdown: Some(shutdown),
        server: Some(server),
        _dir: dir,
    }
}

impl TestApp {
    pub async fn chat(&self, body: Value) -> reqwest::Response {
        self.chat_with_key(KEY, body).await
    }

    pub async fn chat_with_key(&self, key: &str, body: Value) -> reqwest::Response {
        self.chat_with_headers(key, &[], body).await
    }

    /// `chat_with_key` with extra request headers.
    pub async fn chat_with_headers(
        &self,
        key: &str,
        headers: &[(&str, &str)],
        body: Value,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}/v1/chat/completions", self.address))
            .bearer_auth(key);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.json(&body).send().await.unwrap()
    }

    /// `GET /v1/models` with the gateway key `key`.
    pub async fn models(&self, key: &str) -> reqwest::Response {
        self.client
            .get(format!("{}/v1/models", self.address))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    /// Stops like SIGTERM does and waits until the server has drained and flushed.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        self._dir
    }

    /// A browser signed in to the dashboard as the first admin (made with the setup token).
    pub async fn admin_browser(&self) -> reqwest::Client {
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let response = browser
            .post(format!("{}/api/setup_admin", self.address))
            .form(&[
                ("token", "test-setup-token"),
                ("username", "admin"),
                ("password", "admin-password-1"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        browser
    }

    /// Calls a JSON-encoded dashboard server function without arguments as `browser`.
    pub async fn server_fn(&self, browser: &reqwest::Client, endpoint: &str) -> reqwest::Response {
        browser
            .post(format!("{}/api/{endpoint}", self.address))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
    }

    /// Rows of `usage_events` as (account, status, prompt, completion, cost micros, stream).
    pub async fn usage_rows(&self) -> Vec<(Option<String>, i64, i64, i64, i64, i64)> {
        self.state.telemetry.flush().await;
        sqlx::query_as(
            "SELECT account, status, prompt_tokens, completion_tokens, cost_micros, stream \
             FROM usage_events ORDER BY at_ms",
        )
        .fetch_all(&self.state.db.pool)
        .await
        .unwrap()
    }
}

pub fn all_capabilities() -> Capabilities {
    Capabilities {
        streaming: true,
        tools: true,
        vision: true,
        json_mode: true,
        embeddings: false,
    }
}

pub fn account(name: &str, kind: ProviderKind) -> ProviderAccount {
    ProviderAccount {
        name: name.into(),
        kind,
        enabled: true,
        rpm_limit: None,
        tpm_limit: None,
        monthly_budget: None,
        soft_budget: false,
        alert_thresholds: DEFAULT_ALERT_THRESHOLDS.to_vec(),
    }
}

pub fn model(name: &str, capabilities: Capabilities, targets: &[(&str, &str)]) -> LogicalModel {
    LogicalModel {
        name: name.into(),
        description: String::new(),
        capabilities,
        defaults: Defaults::default(),
        strategy: Strategy::Ordered,
        targets: targets
            .iter()
            .map(|(account, model)| ModelTarget::new(*account, *model))
            .collect(),
        retries: 0,
        cache: None,
    }
}

pub fn policy(name: &str, route: &[&str], threshold: u32, recovery_seconds: u32) -> Policy {
    Policy {
        name: name.into(),
        priority: 10,
        enabled: true,
        criteria: MatchCriteria::default(),
        route: route.iter().map(|m| m.to_string()).collect(),
        split: vec![],
        circuit_breaker: CircuitBreakerSettings {
            failure_threshold: threshold,
            recovery_seconds,
        },
    }
}

/// Fast timeouts so a slow mock shows as a timeout within a test.
pub fn quick_timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        first_byte: Duration::from_millis(400),
        total: Duration::from_secs(5),
    }
}

pub fn connection(mock: &MockProvider, timeouts: Timeouts) -> AccountConnection {
    AccountConnection {
        kind: mock.kind(),
        base_url: mock.base_url(),
        api_key: Secret::new(MOCK_API_KEY),
        azure: (mock.kind() == ProviderKind::Azure).then(|| AzureAccount {
            endpoint: mock.base_url(),
            api_version: MOCK_AZURE_API_VERSION.to_string(),
            deployments: HashMap::from([("gpt-4o".to_string(), "gpt4o-prod".to_string())]),
        }),
        timeouts,
    }
}

/// A snapshot with the three test keys; each account is paired with the mock serving it.
pub fn snapshot(
    accounts: Vec<(ProviderAccount, &MockProvider)>,
    models: Vec<LogicalModel>,
    policies: Vec<Policy>,
) -> ConfigSnapshot {
    let connections = accounts
        .iter()
        .map(|(a, mock)| (a.name.clone(), connection(mock, quick_timeouts())))
        .collect();
    let routing = RoutingSnapshot::new(
        accounts.into_iter().map(|(a, _)| a).collect(),
        models,
        policies,
    )
    .unwrap();
    let key = |id: &str, allowed: &[&str], expires_at| GatewayKey {
        id: id.into(),
        name: id.into(),
        allowed_models: allowed.iter().map(|m| m.to_string()).collect(),
        expires_at,
        limits: KeyLimits::default(),
    };
    let keys = HashMap::from([
        (hash_gateway_key(KEY), key("key-all", &[], None)),
        (
            hash_gateway_key(LIMITED_KEY),
            key("key-limited", &["primary-llm"], None),
        ),
        (
            hash_gateway_key(EXPIRED_KEY),
            key("key-expired", &[], Some(1_000)),
        ),
    ]);
    ConfigSnapshot {
        routing: routing.with_prices(seed_price),
        connections,
        keys,
    }
}

/// `primary-llm` on the one OpenAI account `main`, served by `mock`.
pub fn one_account_snapshot(mock: &MockProvider) -> ConfigSnapshot {
    one_account_snapshot_with(mock, |_| {})
}

/// `one_account_snapshot` with the account `main` changed by `edit` (its limits, budget…).
pub fn one_account_snapshot_with(
    mock: &MockProvider,
    edit: impl FnOnce(&mut ProviderAccount),
) -> ConfigSnapshot {
    let mut main = account("main", ProviderKind::Openai);
    edit(&mut main);
    snapshot(
        vec![(main, mock)],
        vec![model(
            "primary-llm",
            all_capabilities(),
            &[("main", "gpt-4o")],
        )],
        vec![],
    )
}

/// Gives every account of `config` the default timeouts: for tests about something else, so a
/// mock slowed by a busy machine is not taken for a timeout.
pub fn patient(mut config: ConfigSnapshot) -> ConfigSnapshot {
    for connection in config.connections.values_mut() {
        connection.timeouts = Timeouts::default();
    }
    config
}

/// The thresholds of budget alert bodies a webhook received, in order.
pub fn thresholds(bodies: &[Value]) -> Vec<i64> {
    let mut thresholds: Vec<i64> = bodies
        .iter()
        .map(|b| b["threshold"].as_i64().unwrap())
        .collect();
    thresholds.sort_unstable();
    thresholds
}

/// Adds the gateway key `key` (id and name `id`), allowed every model, held to `limits`.
pub fn add_key(config: &mut ConfigSnapshot, key: &str, id: &str, limits: KeyLimits) {
    config.keys.insert(
        hash_gateway_key(key),
        GatewayKey {
            id: id.into(),
            name: id.into(),
            allowed_models: vec![],
            expires_at: None,
            limits,
        },
    );
}

/// `primary-llm` served by `first` (an OpenAI mock) then `second` (an Anthropic mock), through
/// `policies`; returns the snapshot and both mocks.
pub async fn two_targets_snapshot(
    policies: Vec<switchyard::domain::Policy>,
) -> (ConfigSnapshot, MockProvider, MockProvider) {
    let first = MockProvider::start(ProviderKind::Openai).await.unwrap();
    let second = MockProvider::start(ProviderKind::Anthropic).await.unwrap();
    let config = two_targets_config(&first, &second, policies);
    (config, first, second)
}

/// The config of `two_targets_snapshot` over mocks already started.
pub fn two_targets_config(
    first: &MockProvider,
    second: &MockProvider,
    policies: Vec<switchyard::domain::Policy>,
) -> ConfigSnapshot {
    snapshot(
        vec![
            (account("first", ProviderKind::Openai), first),
            (account("second", ProviderKind::Anthropic), second),
        ],
        vec![model(
            "primary-llm",
            all_capabilities(),
            &[("first", "gpt-4o"), ("second", "claude-sonnet-4-5")],
        )],
        policies,
    )
}

pub fn user_message(text: &str) -> Value {
    json!([{"role": "user", "content": text}])
}

/// The `data:` payloads of an SSE body, in order.
pub fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .map(str::to_string)
        .collect()
}

pub fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// A fresh PostgreSQL database on the local server (or `SWITCHYARD_TEST_POSTGRES_URL`), as the
/// api tests use; returns its URL and its name, to drop it with.
pub async fn postgres_database() -> (String, String) {
    use sqlx::Connection;
    let admin_url = postgres_admin_url();
    let name = format!("switchyard_proxy_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin_url.rsplit_once('/').unwrap().0;
    (format!("{base}/{name}"), name)
}

pub async fn drop_postgres_database(name: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&postgres_admin_url())
        .await
        .unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
}

fn postgres_admin_url() -> String {
    std::env::var("SWITCHYARD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A TCP relay to the local PostgreSQL (or Redis) that a test can cut and restore, to take the
/// server away from one app without stopping the server other tests share.
pub struct CuttableRelay {
    pub port: u16,
    /// The local server's port.
    to: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Bumped on each cut, so relayed connections opened before it end.
    generation: tokio::sync::watch::Sender<u64>,
}

impl CuttableRelay {
    pub async fn to_postgres() -> CuttableRelay {
        CuttableRelay::to(5432).await
    }

    pub async fn to_redis() -> CuttableRelay {
        CuttableRelay::to(6379).await
    }

    async fn to(to: u16) -> CuttableRelay {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = std::sync::Arc::new(AtomicBool::new(true));
        let (generation, _) = tokio::sync::watch::channel(0u64);
        let (accept_up, accept_generation) = (up.clone(), generation.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !accept_up.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let mut cut = accept_generation.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", to)).await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        CuttableRelay {
            port,
            to,
            up,
            generation,
        }
    }

    /// Drops every relayed connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// `url` (on the local server) reached through this relay.
    pub fn url_for(&self, url: &str) -> String {
        url.replace(
            &format!("127.0.0.1:{}", self.to),
            &format!("127.0.0.1:{}", self.port),
        )
    }
}

/// `/metrics` as Prometheus text.
pub async fn metrics_text(app: &TestApp) -> String {
    app.client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of an unlabelled sample in `/metrics`.
pub async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = metrics_text(app).await;
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} not in /metrics:\n{text}"))
        .parse()
        .unwrap()
}

/// A webhook receiver on 127.0.0.1 that keeps every body and fails the first `failures` calls.
#[derive(Clone)]
pub struct WebhookReceiver {
    bodies: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
    failures: std::sync::Arc<std::sync::Mutex<usize>>,
}

impl WebhookReceiver {
    pub async fn start(failures: usize) -> (WebhookReceiver, String) {
        let receiver = WebhookReceiver {
            bodies: std::sync::Arc::default(),
            failures: std::sync::Arc::new(std::sync::Mutex::new(failures)),
        };
        let router = axum::Router::new()
            .route("/hook/secret-token", axum::routing::post(receive_webhook))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/hook/secret-token",
            listener.local_addr().unwrap()
        );
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (receiver, url)
    }

    pub fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }

    /// Waits until `n` bodies arrived (or a few seconds passed), then a little longer for strays.
    pub async fn settle(&self, n: usize) -> Vec<Value> {
        for _ in 0..100 {
            if self.bodies().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.bodies()
    }
}

async fn receive_webhook(
    axum::extract::State(receiver): axum::extract::State<WebhookReceiver>,
    axum::Json(body): axum::Json<Value>,
) -> axum::http::StatusCode {
    receiver.bodies.lock().unwrap().push(body);
    let mut failures = receiver.failures.lock().unwrap();
    if *failures > 0 {
        *failures -= 1;
        axum::http::StatusCode::INTERNAL_SERVER_ERROR
    } else {
        axum::http::StatusCode::NO_CONTENT
    }
}
