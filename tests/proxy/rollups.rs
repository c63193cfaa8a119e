//! Usage rollups: the minute, hour and day rows the batch writer keeps beside the ledger sum
//! to exactly the ledger, on SQLite and PostgreSQL; the live stream serves the last hour.

use crate::helpers::*;
use serde_json::json;
use switchyard::domain::{Money, ProviderKind};
use switchyard::providers::mock::{MockProvider, MockReply};
use switchyard::telemetry::UsageEvent;

const DAY_MS: i64 = 86_400_000;

/// Ledger rows spread over three days, several minutes and hours, two accounts, a failure and
/// a fallback, recorded as the proxy records them.
fn synthetic_events(now: i64) -> Vec<UsageEvent> {
    let mut events = Vec::new();
    for i in 0..40i64 {
        let failed = i % 7 == 0;
        events.push(UsageEvent {
            id: format!("synthetic-{i}"),
            // Minutes, hours and days apart, so every grain gets several buckets.
            at_ms: now - (i % 3) * DAY_MS - (i % 5) * 3_600_000 - (i % 4) * 60_000 - i,
            key_id: if i % 2 == 0 { "key-all" } else { "key-limited" }.into(),
            logical_model: "primary-llm".into(),
            policy: (i % 3 != 0).then(|| "main".to_string()),
            step_type: "inference".into(),
            purpose: "chat".into(),
            account: Some(if i % 2 == 0 { "first" } else { "second" }.into()),
            provider_model: Some("gpt-4o".into()),
            stream: i % 4 == 0,
            status: if failed { 503 } else { 200 },
            attempts: if i % 5 == 0 { 2 } else { 1 },
            prompt_tokens: 10 + i as u64,
            completion_tokens: 3 * i as u64,
            cost: Money::from_micros(100 + i),
            latency_ms: (i as u64) * 97,
            error: failed.then(|| "all failed".to_string()),
            trail: None,
            cache: None,
            saved: Money::ZERO,
            arm: None,
        });
    }
    events
}

type Sums = (i64, i64, i64, i64, i64, i64, i64);

/// Column `i` of a row of sums; SUM over no rows is NULL.
fn n(row: &sqlx::any::AnyRow, i: usize) -> i64 {
    use sqlx::Row;
    row.try_get::<Option<i64>, _>(i).unwrap().unwrap_or(0)
}

async fn ledger_sums(app: &TestApp) -> Sums {
    let row = sqlx::query(
        "SELECT COUNT(*), CAST(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN attempts > 1 THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(prompt_tokens) AS BIGINT), CAST(SUM(completion_tokens) AS BIGINT), \
         CAST(SUM(cost_micros) AS BIGINT), CAST(SUM(latency_ms) AS BIGINT) FROM usage_events",
    )
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    (
        n(&row, 0),
        n(&row, 1),
        n(&row, 2),
        n(&row, 3),
        n(&row, 4),
        n(&row, 5),
        n(&row, 6),
    )
}

async fn rollup_sums(app: &TestApp, grain: &str) -> (Sums, i64) {
    let row = sqlx::query(
        "SELECT CAST(SUM(requests) AS BIGINT), \
         CAST(SUM(CASE WHEN status_class = '2xx' THEN 0 ELSE requests END) AS BIGINT), \
         CAST(SUM(fallbacks) AS BIGINT), CAST(SUM(prompt_tokens) AS BIGINT), \
         CAST(SUM(completion_tokens) AS BIGINT), CAST(SUM(cost_micros) AS BIGINT), \
         CAST(SUM(latency_ms_sum) AS BIGINT), CAST(SUM(lat_le_100 + lat_le_250 + lat_le_500 + \
         lat_le_1000 + lat_le_2500 + lat_le_5000 + lat_le_10000 + lat_le_30000 + lat_over) \
         AS BIGINT) FROM usage_rollups WHERE grain = $1",
    )
    .bind(grain)
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    (
        (
            n(&row, 0),
            n(&row, 1),
            n(&row, 2),
            n(&row, 3),
            n(&row, 4),
            n(&row, 5),
            n(&row, 6),
        ),
        n(&row, 7),
    )
}

/// Sums per bucket of one grain, from the rollups and from the ledger, must be equal.
async fn assert_buckets_match(app: &TestApp, grain: &str, bucket_ms: i64) {
    let from_rollups: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT bucket_ms, CAST(SUM(requests) AS BIGINT), CAST(SUM(cost_micros) AS BIGINT) FROM usage_rollups WHERE grain = $1 \
         GROUP BY bucket_ms ORDER BY bucket_ms",
    )
    .bind(grain)
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap();
    let from_ledger: Vec<(i64, i64, i64)> = sqlx::query_as(&format!(
        "SELECT (at_ms / {bucket_ms}) * {bucket_ms} AS b, COUNT(*), CAST(SUM(cost_micros) AS BIGINT) \
         FROM usage_events GROUP BY b ORDER BY b"
    ))
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(from_rollups, from_ledger, "{grain} buckets");
    assert!(from_rollups.len() > 1, "{grain}: several buckets");
}

/// `primary-llm` on accounts `first` then `second`, through policy `main`.
async fn two_accounts(app: &TestApp) -> (MockProvider, MockProvider) {
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    let second = MockProvider::start(ProviderKind::Anthropic).await.unwrap();
    app.state.config.replace(snapshot(
        vec![
            (account("first", ProviderKind::Openai), &mock),
            (account("second", ProviderKind::Anthropic), &second),
        ],
        vec![model(
            "primary-llm",
            all_capabilities(),
            &[("first", "gpt-4o"), ("second", "claude-sonnet-4-5")],
        )],
        vec![policy("main", &["primary-llm"], 5, 30)],
    ));
    (mock, second)
}

async fn rollups_equal_the_ledger(app: TestApp) -> TestApp {
    let (mock, _second) = two_accounts(&app).await;
    // Real traffic: a success, a fallback and a stream.
    mock.push(MockReply::error(500, "down"));
    for stream in [false, false, true] {
        let response = app
            .chat(json!({"model": "primary-llm", "messages": user_message("hi"), "stream": stream}))
            .await;
        assert_eq!(response.status(), 200);
        response.text().await.unwrap();
    }
    let now = switchyard::store::now_millis();
    for event in synthetic_events(now) {
        app.state.telemetry.record(event);
    }
    app.state.telemetry.flush().await;

    let ledger = ledger_sums(&app).await;
    assert_eq!(ledger.0, 43);
    assert!(ledger.2 >= 1, "the real fallback is counted");
    for grain in ["minute", "hour", "day"] {
        let (sums, histogram_count) = rollup_sums(&app, grain).await;
        assert_eq!(sums, ledger, "{grain} rollups equal the ledger");
        assert_eq!(
            histogram_count, ledger.0,
            "{grain} latency buckets count every request"
        );
    }
    assert_buckets_match(&app, "minute", 60_000).await;
    assert_buckets_match(&app, "hour", 3_600_000).await;
    assert_buckets_match(&app, "day", DAY_MS).await;

    // The trail of the request that fell back is kept for the request log.
    let trails: Vec<(Option<String>,)> = sqlx::query_as(
        "SELECT trail FROM usage_events WHERE attempts = 2 AND id NOT LIKE 'synthetic-%'",
    )
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap();
    let trail = trails[0].0.clone().unwrap();
    assert!(
        trail.contains("first/gpt-4o failed") && trail.contains("second/claude-sonnet-4-5 ok"),
        "{trail}"
    );

    // The in-memory last hour agrees with the minute rollups of the last hour.
    let recent: u64 = app
        .state
        .telemetry
        .recent
        .last_hour(now)
        .iter()
        .map(|m| m.sums.requests)
        .sum();
    let (in_hour,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM usage_events WHERE at_ms >= $1")
        .bind((now / 60_000 - 59) * 60_000)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(recent, in_hour as u64);
    app
}

#[tokio::test]
async fn rollups_equal_the_ledger_on_sqlite() {
    let app = rollups_equal_the_ledger(spawn_app().await).await;
    // After a restart the last hour is read back from the minute rollups.
    let now = switchyard::store::now_millis();
    let before: u64 = app
        .state
        .telemetry
        .recent
        .last_hour(now)
        .iter()
        .map(|m| m.sums.requests)
        .sum();
    let dir = app.stop().await;
    let restarted = spawn_app_in(dir, &[]).await;
    let after: u64 = restarted
        .state
        .telemetry
        .recent
        .last_hour(now)
        .iter()
        .map(|m| m.sums.requests)
        .sum();
    assert_eq!(after, before);
    restarted.stop().await;
}

#[tokio::test]
async fn rollups_equal_the_ledger_on_postgres() {
    let (url, name) = postgres_database().await;
    let app = rollups_equal_the_ledger(spawn_app_with(&[("DATABASE_URL", &url)]).await).await;
    app.stop().await;
    drop_postgres_database(&name).await;
}

#[tokio::test]
async fn retention_deletes_old_ledger_rows_and_keeps_hour_and_day_rollups() {
    let app = spawn_app().await;
    let now = switchyard::store::now_millis();
    let mut old = synthetic_events(now - 40 * DAY_MS);
    old.truncate(5);
    for event in old {
        app.state.telemetry.record(event);
    }
    app.state.telemetry.flush().await;
    let (events, minutes) = switchyard::telemetry::retention::prune(&app.state.db.pool, 30, now)
        .await
        .unwrap();
    assert_eq!(events, 5);
    assert!(minutes > 0);
    let kept: Vec<(String, i64)> = sqlx::query_as(
        "SELECT grain, CAST(SUM(requests) AS BIGINT) FROM usage_rollups GROUP BY grain ORDER BY grain",
    )
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(kept, vec![("day".into(), 5), ("hour".into(), 5)]);
    // 0 keeps the ledger.
    app.state
        .telemetry
        .record(synthetic_events(now - 40 * DAY_MS).remove(0));
    app.state.telemetry.flush().await;
    let (events, _) = switchyard::telemetry::retention::prune(&app.state.db.pool, 0, now)
        .await
        .unwrap();
    assert_eq!(events, 0);
}

#[tokio::test]
async fn the_live_stream_needs_a_session_and_sends_the_figures_at_once() {
    let app = spawn_app().await;
    let anonymous = app
        .client
        .get(format!("{}/api/live", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let browser = app.admin_browser().await;
    let mut response = browser
        .get(format!("{}/api/live", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "text/event-stream");
    let mut text = String::new();
    // The first event comes at once, the next within about a second.
    while text.matches("event: live").count() < 2 {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), response.chunk())
            .await
            .expect("a tick within 5 s")
            .unwrap()
            .expect("the stream stays open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let first = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let figures: serde_json::Value = serde_json::from_str(first).unwrap();
    assert_eq!(figures["minutes"].as_array().unwrap().len(), 60);
    assert!(figures["accounts"].is_array() && figures["policies"].is_array());

    // An open stream does not hold up a graceful shutdown: it ends, and the browser reconnects.
    tokio::time::timeout(std::time::Duration::from_secs(10), app.stop())
        .await
        .expect("the server stops with a viewer connected");
    let rest = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Ok(Some(_)) = response.chunk().await {}
    })
    .await;
    assert!(rest.is_ok(), "the stream ended");
}

async fn call(
    app: &TestApp,
    browser: &reqwest::Client,
    endpoint: &str,
    body: serde_json::Value,
) -> reqwest::Response {
    browser
        .post(format!("{}/api/{endpoint}", app.address))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_overview_and_the_request_log_read_what_the_proxy_served() {
    let app = spawn_app().await;
    let (first, _second) = two_accounts(&app).await;
    first.push(MockReply::error(500, "down"));
    for _ in 0..4 {
        let response = app
            .chat(json!({"model": "primary-llm", "messages": user_message("hi")}))
            .await;
        assert_eq!(response.status(), 200);
    }
    let now = switchyard::store::now_millis();
    // 120 more, within the last minutes, for paging.
    for i in 0..120i64 {
        let mut event = synthetic_events(now).remove(1);
        event.id = format!("page-{i:03}");
        event.at_ms = now - 1_000 - i * 100;
        app.state.telemetry.record(event);
    }
    app.state.telemetry.flush().await;

    let anonymous = call(
        &app,
        &app.client,
        "window_overview",
        json!({"window": "Hour1", "scope": "All"}),
    )
    .await;
    assert_eq!(anonymous.status(), 401);
    let browser = app.admin_browser().await;
    let overview: serde_json::Value = call(
        &app,
        &browser,
        "window_overview",
        json!({"window": "Hour1", "scope": "All"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(overview["totals"]["requests"], 124);
    assert_eq!(overview["series"].as_array().unwrap().len(), 60);
    let main = overview["by_policy"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "main")
        .unwrap();
    assert_eq!(main["requests"], 124);
    assert!(main["fallbacks"].as_u64().unwrap() >= 1);
    assert!(overview["series"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["p50_ms"].is_number()));

    let second_only: serde_json::Value = call(
        &app,
        &browser,
        "window_overview",
        json!({"window": "Days30", "scope": {"Account": "second"}}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(second_only["series"].as_array().unwrap().len(), 30);
    assert_eq!(second_only["totals"]["requests"], 1 + 120);
    assert_eq!(second_only["months"].as_array().unwrap().len(), 1);

    // Keyset paging: newest first, no row twice, none left out.
    let mut seen = Vec::new();
    let mut after = serde_json::Value::Null;
    loop {
        let page: serde_json::Value = call(&app, &browser, "request_log", json!({"filter": {"window": null, "key": "", "model": "", "policy": "", "account": "", "status": "", "streamed": ""}, "after": after}))
            .await
            .json()
            .await
            .unwrap();
        let rows = page["rows"].as_array().unwrap();
        assert!(rows.len() <= 50);
        seen.extend(rows.iter().map(|r| {
            (
                r["at_ms"].as_i64().unwrap(),
                r["id"].as_str().unwrap().to_string(),
            )
        }));
        if page["next"].is_null() {
            break;
        }
        after = page["next"].clone();
    }
    assert_eq!(seen.len(), 124);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, each once"
    );

    let fell_back: serde_json::Value = call(&app, &browser, "request_log", json!({"filter": {"window": "Minutes15", "key": "key-all", "model": "primary-llm", "policy": "main", "account": "second", "status": "2xx", "streamed": "no"}, "after": null}))
        .await
        .json()
        .await
        .unwrap();
    let rows = fell_back["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["key"], "key-all");
    assert!(rows[0]["trail"]
        .as_str()
        .unwrap()
        .contains("first/gpt-4o failed"));

    let bad = call(&app, &browser, "request_log", json!({"filter": {"window": null, "key": "", "model": "", "policy": "", "account": "", "status": "teapot", "streamed": ""}, "after": null})).await;
    assert_eq!(bad.status(), 400);
    let bad = call(&app, &browser, "request_log", json!({"filter": {"window": null, "key": "", "model": "", "policy": "", "account": "", "status": "", "streamed": ""}, "after": "nonsense"})).await;
    assert_eq!(bad.status(), 400);
}
