//! No spend is dropped: usage that cannot reach the database waits in the spill file and is
//! replayed exactly once; refusals are counted, so requests in = ledger rows + refusals.

use crate::helpers::*;
use serde_json::json;
use std::time::Duration;
use switchyard::domain::{Money, ProviderKind};
use switchyard::providers::mock::{MockProvider, MOCK_API_KEY};
use switchyard::telemetry::spill::{Record, FILE_NAME};
use switchyard::telemetry::UsageEvent;

fn one_account(app: &TestApp, mock: &MockProvider) {
    app.state.config.replace(one_account_snapshot(mock));
}

fn hello() -> serde_json::Value {
    json!({"model": "primary-llm", "messages": user_message("hi")})
}

async fn ledger(app: &TestApp) -> (i64, i64, i64) {
    let pool = &app.state.db.pool;
    let (rows, distinct, cost): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(DISTINCT id), CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) \
         FROM usage_events",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let spend: Option<(i64,)> =
        sqlx::query_as("SELECT spent_micros FROM spend_monthly WHERE account = 'main'")
            .fetch_optional(pool)
            .await
            .unwrap();
    assert_eq!(rows, distinct, "a ledger row was stored twice");
    assert_eq!(
        spend.map_or(0, |s| s.0),
        cost,
        "spend differs from the ledger"
    );
    (rows, cost, spend.map_or(0, |s| s.0))
}

#[tokio::test]
async fn usage_spills_while_postgres_is_cut_and_is_replayed_exactly_once() {
    let (url, name) = postgres_database().await;
    let relay = CuttableRelay::to_postgres().await;
    let app = spawn_app_with(&[("DATABASE_URL", &relay.url_for(&url))]).await;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    one_account(&app, &mock);
    let browser = app.admin_browser().await;
    for _ in 0..3 {
        assert_eq!(app.chat(hello()).await.status(), 200);
    }
    app.state.telemetry.flush().await;
    assert_eq!(ledger(&app).await.0, 3);

    relay.cut();
    // The proxy keeps serving from memory; readiness says the database is gone.
    for _ in 0..20 {
        assert_eq!(app.chat(hello()).await.status(), 200);
    }
    app.state.telemetry.flush().await;
    let readyz = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(readyz.status(), 503);
    assert!(metric(&app, "switchyard_usage_spill_bytes").await > 0);
    // The dashboard says so rather than showing a blank page.
    let page = browser
        .get(format!("{}/accounts", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 503);
    assert!(page.text().await.unwrap().contains("Database unavailable"));
    // A page already open calls server functions: they say the same, not "something went wrong".
    let call = app.server_fn(&browser, "list_alerts").await;
    assert_eq!(call.status(), 503);
    assert!(call.text().await.unwrap().contains("DatabaseUnavailable"));
    // Long enough for the alert watcher (one tick a second) to see the spill.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    relay.restore();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while metric(&app, "switchyard_usage_spill_bytes").await > 0 {
        assert!(tokio::time::Instant::now() < deadline, "spill not replayed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = browser
        .get(format!("{}/accounts", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let (rows, cost, _) = ledger(&app).await;
    assert_eq!(rows, 23);
    assert_eq!(cost, 23 * 100);
    // The spill raised an alert while it lasted, stored once the database was back, resolved.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        app.state.telemetry.flush().await;
        let spills: Vec<(Option<i64>,)> =
            sqlx::query_as("SELECT resolved_at FROM alerts WHERE kind = 'usage_spilling'")
                .fetch_all(&app.state.db.pool)
                .await
                .unwrap();
        if spills.len() == 1 && spills[0].0.is_some() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{spills:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.stop().await;
    drop_postgres_database(&name).await;
}

fn spilled_event(id: &str, cost: i64) -> UsageEvent {
    UsageEvent {
        id: id.into(),
        at_ms: chrono::Utc::now().timestamp_millis(),
        key_id: "key-all".into(),
        logical_model: "primary-llm".into(),
        policy: None,
        arm: None,
        step_type: "inference".into(),
        purpose: "chat".into(),
        account: Some("main".into()),
        provider_model: Some("gpt-4o".into()),
        stream: false,
        status: 200,
        attempts: 1,
        prompt_tokens: 10,
        completion_tokens: 5,
        cost: Money::from_micros(cost),
        latency_ms: 12,
        error: None,
        trail: None,
        cache: None,
        saved: Money::ZERO,
    }
}

#[tokio::test]
async fn a_spill_file_left_by_a_crash_is_replayed_at_start_without_counting_twice() {
    let app = spawn_app().await;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    one_account(&app, &mock);
    app.chat(hello()).await;
    app.state.telemetry.flush().await;
    let (stored_id,): (String,) = sqlx::query_as("SELECT id FROM usage_events")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let dir = app.stop().await;

    // A crash in the middle of a replay: the first event reached the database, the second not.
    let lines: String = [
        Record::Usage(Box::new(spilled_event(&stored_id, 100))),
        Record::Usage(Box::new(spilled_event("spilled-2", 250))),
    ]
    .iter()
    .map(|r| serde_json::to_string(r).unwrap() + "\n")
    .collect();
    std::fs::write(dir.path().join(FILE_NAME), lines).unwrap();

    let restarted = spawn_app_in(dir, &[]).await;
    restarted.state.telemetry.flush().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while metric(&restarted, "switchyard_usage_spill_bytes").await > 0 {
        assert!(tokio::time::Instant::now() < deadline, "spill not replayed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ledger(&restarted).await, (2, 350, 350));
    restarted.stop().await;
}

#[tokio::test]
async fn every_request_is_a_ledger_row_or_a_counted_refusal() {
    let app = spawn_app().await;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    one_account(&app, &mock);
    let url = format!("{}/v1/chat/completions", app.address);
    let mut sent = 0;
    for _ in 0..3 {
        assert_eq!(app.chat(hello()).await.status(), 200);
        sent += 1;
    }
    // Refused before routing: no key, a wrong key, a broken body, a model the key may not use.
    let refusals = [
        app.client.post(&url).json(&hello()).send().await.unwrap(),
        app.chat_with_key("sk-sy-wrong", hello()).await,
        app.client
            .post(&url)
            .bearer_auth(KEY)
            .body("{not json")
            .send()
            .await
            .unwrap(),
        app.chat_with_key(
            LIMITED_KEY,
            json!({"model": "fast-llm", "messages": user_message("hi")}),
        )
        .await,
    ];
    for response in &refusals {
        assert!(response.status().is_client_error(), "{}", response.status());
        sent += 1;
    }
    // A model that does not exist is routed and refused there: it has a ledger row.
    assert_eq!(
        app.chat(json!({"model": "nope", "messages": user_message("hi")}))
            .await
            .status(),
        404
    );
    sent += 1;
    let rows = app.usage_rows().await.len() as u64;
    let refused = metric(&app, "switchyard_requests_refused_total").await;
    assert_eq!((rows, refused), (4, 4));
    assert_eq!(rows + refused, sent);
}

#[tokio::test]
async fn a_locked_sqlite_file_delays_usage_but_loses_none() {
    use sqlx::Connection;
    let app = spawn_app().await;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    one_account(&app, &mock);
    let url: String = sqlx::query_as::<_, (String,)>("SELECT file FROM pragma_database_list")
        .fetch_one(&app.state.db.pool)
        .await
        .map(|(file,)| format!("sqlite://{file}"))
        .unwrap();
    // Another process holds the write lock past the 5 s busy timeout.
    let mut locker = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut locker)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    for _ in 0..5 {
        assert_eq!(app.chat(hello()).await.status(), 200);
    }
    // The proxy did not wait for the database.
    assert!(started.elapsed() < Duration::from_secs(2));
    app.state.telemetry.flush().await;
    assert!(metric(&app, "switchyard_usage_spill_bytes").await > 0);
    sqlx::query("COMMIT").execute(&mut locker).await.unwrap();
    drop(locker);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while metric(&app, "switchyard_usage_spill_bytes").await > 0 {
        assert!(tokio::time::Instant::now() < deadline, "spill not replayed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ledger(&app).await, (5, 500, 500));
}

/// The real binary, killed with SIGKILL under load and started again on the same folder: every
/// request that was answered 200 has its ledger row (the journal kept what memory lost).
#[tokio::test]
async fn kill_9_under_load_loses_no_answered_request() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "accounts:\n  - {{ name: main, kind: openai, api_key: {MOCK_API_KEY}, base_url: \"{}\" }}\n\
             models:\n  - {{ name: primary-llm, targets: [ {{ account: main, model: gpt-4o }} ] }}\n\
             keys:\n  - {{ name: load, key: {KEY} }}\n",
            mock.base_url()
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let start = || {
        let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchyard"));
        server
            .env("SWITCHYARD_ADDR", format!("127.0.0.1:{port}"))
            .env(
                "DATABASE_URL",
                format!("sqlite://{}/switchyard.db", dir.path().display()),
            )
            .env("SWITCHYARD_DATA_DIR", dir.path())
            .env("SWITCHYARD_CONFIG", &config)
            .env("SWITCHYARD_SETUP_TOKEN", "test-setup-token")
            .env("SWITCHYARD_PROBE_INTERVAL_SECS", "0")
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true);
        server.spawn().unwrap()
    };
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let ready = |client: reqwest::Client, base: String| async move {
        for _ in 0..300 {
            if client.get(format!("{base}/healthz")).send().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server did not start");
    };

    let mut server = start();
    ready(client.clone(), base.clone()).await;
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let load: Vec<_> = (0..16)
        .map(|_| {
            let (client, answered) = (client.clone(), answered.clone());
            let url = format!("{base}/v1/chat/completions");
            tokio::spawn(async move {
                loop {
                    let sent = client.post(&url).bearer_auth(KEY).json(&hello()).send();
                    let Ok(response) = sent.await else { return };
                    let ok = response.status() == 200;
                    if response.bytes().await.is_ok() && ok {
                        answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.start_kill().unwrap();
    server.wait().await.unwrap();
    for task in load {
        task.await.unwrap();
    }
    let answered = answered.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        answered > 50,
        "too little load to mean anything: {answered}"
    );

    let mut restarted = start();
    ready(client.clone(), base.clone()).await;
    let db = sqlx::SqlitePool::connect(&format!("sqlite://{}/switchyard.db", dir.path().display()))
        .await
        .unwrap();
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM usage_events")
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(
        rows as u64 >= answered,
        "{answered} requests were answered but only {rows} have a ledger row"
    );
    restarted.start_kill().unwrap();
}
