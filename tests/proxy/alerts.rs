//! Budget alerts through the proxy reach the webhook: once per threshold, retried on failure.

use crate::helpers::*;
use serde_json::{json, Value};
use std::time::Duration;
use switchyard::domain::{Money, ProviderKind};
use switchyard::providers::mock::MockProvider;

/// The app with one OpenAI account whose soft budget is `budget_micros` (one call costs 100 µ$),
/// alerting to `webhook`.
async fn budgeted_app(budget_micros: i64, webhook: &str) -> (TestApp, MockProvider) {
    let app = spawn_app_alerting_to(webhook).await;
    let provider = MockProvider::start(ProviderKind::Openai).await.unwrap();
    let mut budgeted = account("main", ProviderKind::Openai);
    budgeted.monthly_budget = Some(Money::from_micros(budget_micros));
    // Soft: the account keeps serving, so its spend keeps growing past every threshold.
    budgeted.soft_budget = true;
    app.state.config.replace(snapshot(
        vec![(budgeted, &provider)],
        vec![model(
            "primary-llm",
            all_capabilities(),
            &[("main", "gpt-4o")],
        )],
        vec![],
    ));
    (app, provider)
}

fn hello() -> Value {
    json!({"model": "primary-llm", "messages": user_message("hi")})
}

#[tokio::test]
async fn each_threshold_is_posted_to_the_webhook_exactly_once() {
    let (receiver, url) = WebhookReceiver::start(0).await;
    let (app, _provider) = budgeted_app(150, &url).await;
    for _ in 0..6 {
        assert_eq!(app.chat(hello()).await.status(), 200);
        app.state.telemetry.flush().await;
    }
    let bodies = receiver.settle(3).await;
    assert_eq!(thresholds(&bodies), vec![50, 80, 100], "{bodies:?}");
    let fifty = bodies.iter().find(|b| b["threshold"] == 50).unwrap();
    assert_eq!(fifty["kind"], "budget");
    assert_eq!(fifty["account"], "main");
    assert_eq!(fifty["spent_usd"], 0.0001);
    assert_eq!(fifty["budget_usd"], 0.00015);
    assert!(fifty["month"].as_str().unwrap().len() == 7);
    assert!(fifty["message"]
        .as_str()
        .unwrap()
        .starts_with("main reached 50% of its monthly budget"));
    assert!(fifty["at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn a_failed_webhook_call_is_retried() {
    let (receiver, url) = WebhookReceiver::start(1).await;
    // 100 of 1000 µ$: below every threshold; 600: the 50 % threshold only.
    let (app, _provider) = budgeted_app(1000, &url).await;
    for _ in 0..6 {
        app.chat(hello()).await;
    }
    app.state.telemetry.flush().await;
    let bodies = receiver.settle(2).await;
    assert_eq!(bodies.len(), 2, "one 500, then one success: {bodies:?}");
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[0]["threshold"], 50);
}

#[tokio::test]
async fn an_open_circuit_raises_an_alert_that_can_be_acknowledged_and_resolves_by_itself() {
    let (receiver, url) = WebhookReceiver::start(0).await;
    let app = spawn_app_alerting_to(&url).await;
    // Opens after one failure, lets a trial through after a second.
    let (config, first, _second) =
        two_targets_snapshot(vec![policy("main", &["primary-llm"], 1, 1)]).await;
    app.state.config.replace(config);
    first.push(switchyard::providers::mock::MockReply::error(500, "down"));
    assert_eq!(app.chat(hello()).await.status(), 200);

    let raised = receiver.settle(1).await;
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0]["kind"], "circuit_open");
    assert_eq!(raised[0]["status"], "raised");
    assert_eq!(raised[0]["account"], "first");
    assert_eq!(raised[0]["subject"], "first/gpt-4o");

    let browser = app.admin_browser().await;
    let banner: Vec<Value> = app
        .server_fn(&browser, "alert_banner")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(banner.len(), 1, "{banner:?}");
    assert_eq!(banner[0]["kind"], "circuit_open");
    let id = banner[0]["id"].as_str().unwrap().to_string();
    let acknowledged = browser
        .post(format!("{}/api/acknowledge_alert", app.address))
        .form(&[("id", id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(acknowledged.status(), 200);
    let banner: Vec<Value> = app
        .server_fn(&browser, "alert_banner")
        .await
        .json()
        .await
        .unwrap();
    assert!(banner.is_empty(), "{banner:?}");
    let unknown = browser
        .post(format!("{}/api/acknowledge_alert", app.address))
        .form(&[("id", "no-such-alert")])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    // After the recovery window the trial succeeds, the circuit closes and the alert resolves.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let response = app.chat(hello()).await;
    assert_eq!(header(&response, "x-switchyard-account"), "first");
    let all = receiver.settle(2).await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[1]["status"], "resolved");
    assert_eq!(all[1]["kind"], "circuit_open");
    app.state.telemetry.flush().await;
    let listed: Vec<Value> = app
        .server_fn(&browser, "list_alerts")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0]["resolved_at"].as_i64().is_some(), "{listed:?}");
    assert_eq!(listed[0]["acknowledged_by"], "admin");
}

#[tokio::test]
async fn a_delivery_pending_at_shutdown_is_made_after_the_restart() {
    let (receiver, url) = WebhookReceiver::start(0).await;
    let app = spawn_app().await;
    let pool = app.state.db.pool.clone();
    let mut conn = pool.acquire().await.unwrap();
    switchyard::store::alerts::set_webhook_url(&mut conn, Some(&url))
        .await
        .unwrap();
    drop(conn);
    let dir = app.stop().await;
    // Queued by the last run, never delivered (the receiver was down, or the process stopped).
    sqlx::query(
        "INSERT INTO webhook_outbox (id, payload, attempts, next_attempt_at, created_at) \
         VALUES ('pending', '{\"kind\":\"budget\",\"account\":\"main\",\"threshold\":80}', 1, 0, 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let restarted = spawn_app_in(dir, &[]).await;
    let bodies = receiver.settle(1).await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["threshold"], 80);
    let left: Vec<(String,)> = sqlx::query_as("SELECT id FROM webhook_outbox")
        .fetch_all(&restarted.state.db.pool)
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
}

/// Two instances on one PostgreSQL database both read the webhook outbox; each alert still
/// reaches the receiver once. The receiver answers slower than the outbox's one-second poll, so
/// both instances see the row while it is being delivered.
#[tokio::test]
async fn a_fleet_delivers_each_webhook_alert_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let (url, name) = postgres_database().await;
    let first = spawn_app_with(&[("DATABASE_URL", &url)]).await;
    let second = spawn_app_with(&[("DATABASE_URL", &url)]).await;
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                counter.fetch_add(1, Ordering::SeqCst);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let pool = &first.state.db.pool;
    let mut conn = pool.acquire().await.unwrap();
    switchyard::store::alerts::set_webhook_url(&mut conn, Some(&hook))
        .await
        .unwrap();
    let alert = switchyard::telemetry::BudgetAlert {
        account: "main".into(),
        month: "2026-11".into(),
        threshold: 80,
        spent: Money::from_micros(800),
        budget: Money::from_micros(1000),
        at_ms: 1_795_000_000_000,
        subject: String::new(),
    };
    let payload = switchyard::telemetry::webhook::AlertPayload::budget(&alert);
    switchyard::telemetry::webhook::enqueue(&mut *conn, &payload)
        .await
        .unwrap();
    drop(conn);
    tokio::time::sleep(Duration::from_millis(4500)).await;
    assert_eq!(
        received.load(Ordering::SeqCst),
        1,
        "delivered more than once"
    );
    first.stop().await;
    second.stop().await;
    drop_postgres_database(&name).await;
}
