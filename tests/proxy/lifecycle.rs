//! Shutdown drains and flushes; spend survives a restart; a client that leaves stops the call.

use crate::helpers::*;
use serde_json::json;
use std::time::Duration;
use switchyard::domain::ProviderKind;
use switchyard::providers::mock::{MockProvider, MockReply};

fn one_account(app: &TestApp, mock: &MockProvider) {
    app.state.config.replace(snapshot(
        vec![(account("main", ProviderKind::Openai), mock)],
        vec![model(
            "primary-llm",
            all_capabilities(),
            &[("main", "gpt-4o")],
        )],
        vec![policy("all", &["primary-llm"], 5, 30)],
    ));
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_and_writes_their_usage() {
    let app = spawn_app().await;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    one_account(&app, &mock);
    // The key as the Keys page stores it, so its last-used time can be seen to move.
    sqlx::query(
        "INSERT INTO api_keys (id, name, key_hash, last4, allowed_models, created_at) \
         VALUES ('key-all', 'ci-app', $1, 'cdef', '[]', 0)",
    )
    .bind(switchyard::configuration::key_hash_hex(KEY))
    .execute(&app.state.db.pool)
    .await
    .unwrap();
    mock.push(MockReply::text("slow but sure").after(Duration::from_millis(300)));
    let client = app.client.clone();
    let url = format!("{}/v1/chat/completions", app.address);
    let in_flight = tokio::spawn(async move {
        client
            .post(url)
            .bearer_auth(KEY)
            .json(&json!({"model": "primary-llm", "messages": user_message("hi")}))
            .send()
            .await
            .unwrap()
            .status()
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let pool = app.state.db.pool.clone();
    let dir = app.stop().await;
    assert_eq!(in_flight.await.unwrap(), 200);
    // The policy counters of the last minute were written on the way out too.
    let rollups: Vec<(String, i64)> =
        sqlx::query_as("SELECT policy, successes FROM policy_stats_minute")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rollups, vec![("all".to_string(), 1)]);
    let rows: Vec<(i64,)> = sqlx::query_as("SELECT cost_micros FROM usage_events")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(rows, vec![(100,)]);
    let spend: Vec<(String, i64)> =
        sqlx::query_as("SELECT account, spent_micros FROM spend_monthly")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(spend, vec![("main".to_string(), 100)]);
    let (last_used,): (Option<i64>,) =
        sqlx::query_as("SELECT last_used_at FROM api_keys WHERE id = 'key-all'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(last_used.is_some_and(|at| at > 0), "{last_used:?}");

    // A restart on the same database routes with the spend (and raised alerts) already counted.
    sqlx::query(
        "INSERT INTO alerts (id, kind, account, month, threshold, message, created_at) \
         SELECT 'a1', 'budget', account, month, 50, 'm', 0 FROM spend_monthly",
    )
    .execute(&pool)
    .await
    .unwrap();
    let restarted = spawn_app_in(dir, &[]).await;
    let mut budgeted = account("main", ProviderKind::Openai);
    budgeted.monthly_budget = Some(switchyard::domain::Money::from_micros(150));
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    restarted.state.config.replace(snapshot(
        vec![(budgeted, &mock)],
        vec![model(
            "primary-llm",
            all_capabilities(),
            &[("main", "gpt-4o")],
        )],
        vec![],
    ));
    restarted
        .chat(json!({"model": "primary-llm", "messages": user_message("hi")}))
        .await;
    restarted.state.telemetry.flush().await;
    let thresholds: Vec<(i64,)> = sqlx::query_as("SELECT threshold FROM alerts ORDER BY threshold")
        .fetch_all(&restarted.state.db.pool)
        .await
        .unwrap();
    // 50 % was raised before the restart; only 80 and 100 % are new.
    assert_eq!(thresholds, vec![(50,), (80,), (100,)]);
    let now = chrono::Utc::now().timestamp_millis() as u64;
    assert_eq!(
        restarted
            .state
            .live
            .account_view("main", now)
            .spent_this_month
            .micros(),
        200
    );
}

#[tokio::test]
async fn a_client_leaving_a_stream_still_has_its_usage_counted() {
    let app = spawn_app().await;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    one_account(&app, &mock);
    mock.push(MockReply::text("one two three four five six"));
    let mut response = app
        .chat(json!({"model": "primary-llm", "messages": user_message("hi"), "stream": true}))
        .await;
    assert_eq!(response.status(), 200);
    let first = response.chunk().await.unwrap();
    assert!(first.is_some());
    drop(response);
    // The ledger row is written whether the relay finished or was dropped with the connection.
    let mut rows = Vec::new();
    for _ in 0..20 {
        rows = app.usage_rows().await;
        if !rows.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0.as_deref(), Some("main"));
}

#[tokio::test]
async fn a_client_leaving_before_the_answer_cancels_the_call() {
    let app = spawn_app().await;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    one_account(&app, &mock);
    mock.push(MockReply::text("never read").after(Duration::from_secs(3)));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let sent = impatient
        .post(format!("{}/v1/chat/completions", app.address))
        .bearer_auth(KEY)
        .json(&json!({"model": "primary-llm", "messages": user_message("hi")}))
        .send()
        .await;
    assert!(sent.is_err());
    let mut rows = Vec::new();
    for _ in 0..40 {
        rows = app.usage_rows().await;
        if !rows.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Settled well before the provider's three seconds: the upstream call was dropped.
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1, 499);
    let now = chrono::Utc::now().timestamp_millis() as u64;
    assert_eq!(
        app.state.live.account_view("main", now).tokens_last_minute,
        0
    );
}

#[tokio::test]
async fn ledger_spend_and_alerts_on_postgres() {
    let (url, name) = postgres_database().await;
    let app = spawn_app_with(&[("DATABASE_URL", &url)]).await;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    let mut budgeted = account("main", ProviderKind::Openai);
    budgeted.monthly_budget = Some(switchyard::domain::Money::from_micros(150));
    app.state.config.replace(snapshot(
        vec![(budgeted, &mock)],
        vec![model(
            "primary-llm",
            all_capabilities(),
            &[("main", "gpt-4o")],
        )],
        vec![],
    ));
    let response = app
        .chat(json!({"model": "primary-llm", "messages": user_message("hi"), "stream": true}))
        .await;
    assert!(response.text().await.unwrap().ends_with("data: [DONE]\n\n"));
    assert_eq!(app.usage_rows().await.len(), 1);
    let pool = app.state.db.pool.clone();
    let alerts: Vec<(i64,)> = sqlx::query_as("SELECT threshold FROM alerts")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(alerts, vec![(50,)]);
    app.stop().await;

    let restarted = spawn_app_with(&[("DATABASE_URL", &url)]).await;
    let now = chrono::Utc::now().timestamp_millis() as u64;
    let view = restarted.state.live.account_view("main", now);
    assert_eq!(view.spent_this_month.micros(), 100);
    restarted.stop().await;
    drop(pool);
    drop_postgres_database(&name).await;
}
