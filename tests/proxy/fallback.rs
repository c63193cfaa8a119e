//! Fallback over the plan, circuit breakers, rate limits and budgets, through the proxy.

use crate::helpers::*;
use serde_json::{json, Value};
use std::time::Duration;
use switchyard::domain::{Money, ProviderKind};
use switchyard::providers::mock::{MockProvider, MockReply};

/// `primary-llm` served by `first` (OpenAI) then `second` (Anthropic), through policy `main`.
async fn two_targets(threshold: u32) -> (TestApp, MockProvider, MockProvider) {
    let app = spawn_app().await;
    let first = MockProvider::start(ProviderKind::Openai).await.unwrap();
    let second = MockProvider::start(ProviderKind::Anthropic).await.unwrap();
    app.state.config.replace(snapshot(
        vec![
            (account("first", ProviderKind::Openai), &first),
            (account("second", ProviderKind::Anthropic), &second),
        ],
        vec![model(
            "primary-llm",
            all_capabilities(),
            &[("first", "gpt-4o"), ("second", "claude-sonnet-4-5")],
        )],
        vec![policy("main", &["primary-llm"], threshold, 30)],
    ));
    (app, first, second)
}

fn hello() -> Value {
    json!({"model": "primary-llm", "messages": user_message("hi")})
}

fn hello_stream() -> Value {
    json!({"model": "primary-llm", "messages": user_message("hi"), "stream": true})
}

#[tokio::test]
async fn a_failing_target_falls_back_to_the_next() {
    let (app, first, second) = two_targets(100).await;
    first.push(MockReply::error(500, "boom"));
    first.push(MockReply::error(429, "slow down"));
    first.push(MockReply::text("too late").after(Duration::from_secs(2)));
    for reason in ["HTTP 500", "HTTP 429", "within"] {
        let response = app.chat(hello()).await;
        assert_eq!(response.status(), 200, "{reason}");
        assert_eq!(header(&response, "x-switchyard-policy"), "main");
        assert_eq!(header(&response, "x-switchyard-account"), "second");
        let attempts = header(&response, "x-switchyard-attempts").to_string();
        assert!(
            attempts.starts_with("2; ordered; first/gpt-4o failed ("),
            "{attempts}"
        );
        assert!(attempts.contains(reason), "{attempts}");
        assert!(
            attempts.ends_with("second/claude-sonnet-4-5 ok"),
            "{attempts}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["choices"][0]["message"]["content"], "mock reply");
    }
    assert_eq!(second.requests().len(), 3);
    let stats = app.state.live.policy_stats("main");
    assert_eq!((stats.matches, stats.fallbacks), (3, 3));

    // The minute rollup stores the counters' growth once.
    let rollups = switchyard::telemetry::rollups::PolicyRollups::new(
        app.state.db.pool.clone(),
        app.state.config.clone(),
        app.state.live.clone(),
    );
    for _ in 0..2 {
        rollups.write().await.unwrap();
    }
    let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT policy, matches, successes, errors, fallbacks FROM policy_stats_minute",
    )
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(rows, vec![("main".to_string(), 3, 3, 3, 3)]);
}

#[tokio::test]
async fn a_stream_falls_back_before_its_first_token() {
    let (app, first, second) = two_targets(100).await;
    first.push(MockReply::error(503, "overloaded"));
    first.push(MockReply::cut_stream(""));
    second.push(MockReply::text("from second"));
    second.push(MockReply::text("again second"));
    for expected in ["from second", "again second"] {
        let response = app.chat(hello_stream()).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-switchyard-account"), "second");
        let text = response.text().await.unwrap();
        let content: String = sse_data(&text)
            .iter()
            .filter(|d| d.as_str() != "[DONE]")
            .filter_map(|d| {
                serde_json::from_str::<Value>(d).unwrap()["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(String::from)
            })
            .collect();
        assert_eq!(content, expected);
    }
}

#[tokio::test]
async fn a_bad_request_answer_is_returned_not_retried() {
    let (app, first, second) = two_targets(100).await;
    first.push(MockReply::error(400, "messages: too long"));
    let response = app.chat(hello()).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("messages: too long"));
    assert!(second.requests().is_empty());
    // Rejected credentials are the account's problem, not the request's: the next target
    // answers (tests/proxy/faults.rs follows the account's health and alert).
    first.push(MockReply::error(401, "bad key"));
    let response = app.chat(hello()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(second.requests().len(), 1);
}

#[tokio::test]
async fn nothing_left_is_503_listing_every_failure() {
    let (app, first, second) = two_targets(100).await;
    first.push(MockReply::error(500, "down"));
    second.push(MockReply::error(529, "overloaded"));
    let response = app.chat(hello()).await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("first/gpt-4o failed"), "{message}");
    assert!(
        message.contains("second/claude-sonnet-4-5 failed"),
        "{message}"
    );
    assert_eq!(body["error"]["code"], "no_provider_available");
}

#[tokio::test]
async fn every_candidate_rate_limited_upstream_is_429_with_retry_after() {
    let (app, first, second) = two_targets(100).await;
    first.push(MockReply::error(429, "slow down"));
    second.push(MockReply::error(429, "slow down"));
    let response = app.chat(hello()).await;
    assert_eq!(response.status(), 429);
    assert_eq!(header(&response, "retry-after"), "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");
}

#[tokio::test]
async fn the_circuit_opens_after_threshold_failures() {
    let (app, first, second) = two_targets(2).await;
    for _ in 0..3 {
        first.push(MockReply::error(500, "down"));
    }
    for _ in 0..2 {
        assert_eq!(app.chat(hello()).await.status(), 200);
    }
    let response = app.chat(hello()).await;
    assert_eq!(response.status(), 200);
    let attempts = header(&response, "x-switchyard-attempts").to_string();
    assert!(
        attempts.starts_with("1; ordered; first/gpt-4o skipped (circuit open until"),
        "{attempts}"
    );
    assert_eq!(first.requests().len(), 2);
    assert_eq!(second.requests().len(), 3);
}

#[tokio::test]
async fn rpm_limit_moves_traffic_then_429_with_retry_after() {
    let app = spawn_app().await;
    let first = MockProvider::start(ProviderKind::Openai).await.unwrap();
    let second = MockProvider::start(ProviderKind::Mistral).await.unwrap();
    let mut limited = account("first", ProviderKind::Openai);
    limited.rpm_limit = Some(1);
    let mut also_limited = account("second", ProviderKind::Mistral);
    also_limited.rpm_limit = Some(1);
    app.state.config.replace(snapshot(
        vec![(limited, &first), (also_limited, &second)],
        vec![model(
            "primary-llm",
            all_capabilities(),
            &[("first", "gpt-4o"), ("second", "mistral-small-latest")],
        )],
        vec![],
    ));
    let response = app.chat(hello()).await;
    assert_eq!(header(&response, "x-switchyard-account"), "first");
    let response = app.chat(hello()).await;
    assert_eq!(header(&response, "x-switchyard-account"), "second");
    let response = app.chat(hello()).await;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = header(&response, "retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!((first.requests().len(), second.requests().len()), (1, 1));
}

#[tokio::test]
async fn an_account_over_budget_gets_no_traffic() {
    let app = spawn_app().await;
    let first = MockProvider::start(ProviderKind::Openai).await.unwrap();
    let second = MockProvider::start(ProviderKind::Anthropic).await.unwrap();
    let mut budgeted = account("first", ProviderKind::Openai);
    // One call costs 100 µ$ at the gpt-4o seed price.
    budgeted.monthly_budget = Some(Money::from_micros(150));
    app.state.config.replace(snapshot(
        vec![
            (budgeted, &first),
            (account("second", ProviderKind::Anthropic), &second),
        ],
        vec![model(
            "primary-llm",
            all_capabilities(),
            &[("first", "gpt-4o"), ("second", "claude-sonnet-4-5")],
        )],
        vec![],
    ));
    let accounts: Vec<String> = {
        let mut served = Vec::new();
        for _ in 0..3 {
            let response = app.chat(hello()).await;
            served.push(header(&response, "x-switchyard-account").to_string());
        }
        served
    };
    assert_eq!(accounts, vec!["first", "first", "second"]);
    assert_eq!(first.requests().len(), 2);
    // 100 of 150 µ$ reached 50 %, 200 reached 80 and 100 %: one alert each, never repeated.
    app.chat(hello()).await;
    app.state.telemetry.flush().await;
    let alerts: Vec<(String, i64)> =
        sqlx::query_as("SELECT account, threshold FROM alerts ORDER BY threshold")
            .fetch_all(&app.state.db.pool)
            .await
            .unwrap();
    let first_alerts = |t: i64| ("first".to_string(), t);
    assert_eq!(
        alerts,
        vec![first_alerts(50), first_alerts(80), first_alerts(100)]
    );
}

#[tokio::test]
async fn the_circuit_lets_a_trial_through_after_the_window_and_closes() {
    let app = spawn_app().await;
    let first = MockProvider::start(ProviderKind::Openai).await.unwrap();
    let second = MockProvider::start(ProviderKind::Cohere).await.unwrap();
    app.state.config.replace(snapshot(
        vec![
            (account("first", ProviderKind::Openai), &first),
            (account("second", ProviderKind::Cohere), &second),
        ],
        vec![model(
            "primary-llm",
            all_capabilities(),
            &[("first", "gpt-4o"), ("second", "command-a-03-2025")],
        )],
        vec![policy("main", &["primary-llm"], 1, 1)],
    ));
    first.push(MockReply::error(502, "bad gateway"));
    let served =
        |response: &reqwest::Response| header(response, "x-switchyard-account").to_string();
    assert_eq!(served(&app.chat(hello()).await), "second");
    assert_eq!(served(&app.chat(hello()).await), "second");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // The half-open trial succeeds and closes the circuit.
    assert_eq!(served(&app.chat(hello()).await), "first");
    assert_eq!(served(&app.chat(hello()).await), "first");
    assert_eq!(first.requests().len(), 3);
}

#[tokio::test]
async fn tpm_limit_moves_traffic_to_the_next_account() {
    let app = spawn_app().await;
    let first = MockProvider::start(ProviderKind::Openai).await.unwrap();
    let second = MockProvider::start(ProviderKind::Google).await.unwrap();
    let mut limited = account("first", ProviderKind::Openai);
    // Each estimate is 105 (max_tokens 100 + a short prompt); reported usage (19) replaces it.
    limited.tpm_limit = Some(130);
    app.state.config.replace(snapshot(
        vec![
            (limited, &first),
            (account("second", ProviderKind::Google), &second),
        ],
        vec![model(
            "primary-llm",
            all_capabilities(),
            &[("first", "gpt-4o"), ("second", "gemini-2.5-flash")],
        )],
        vec![],
    ));
    let body = json!({"model": "primary-llm", "messages": user_message("hi"), "max_tokens": 100});
    let mut served = Vec::new();
    for _ in 0..2 {
        let response = app.chat(body.clone()).await;
        served.push(header(&response, "x-switchyard-account").to_string());
    }
    // 0 + 105 and 19 + 105 fit in 130; 38 + 105 does not.
    let response = app.chat(body.clone()).await;
    served.push(header(&response, "x-switchyard-account").to_string());
    let attempts = header(&response, "x-switchyard-attempts").to_string();
    assert_eq!(served, vec!["first", "first", "second"], "{attempts}");
    assert!(attempts.contains("first/gpt-4o skipped"), "{attempts}");
}

#[tokio::test]
async fn an_account_failing_its_probes_goes_last() {
    let app = spawn_app_with(&[("SWITCHYARD_PROBE_INTERVAL_SECS", "1")]).await;
    let first = MockProvider::start(ProviderKind::Openai).await.unwrap();
    let second = MockProvider::start(ProviderKind::Anthropic).await.unwrap();
    let mut config = snapshot(
        vec![
            (account("first", ProviderKind::Openai), &first),
            (account("second", ProviderKind::Anthropic), &second),
        ],
        vec![model(
            "primary-llm",
            all_capabilities(),
            &[("first", "gpt-4o"), ("second", "claude-sonnet-4-5")],
        )],
        vec![],
    );
    // Nothing listens there any more: probes and calls to `first` fail to connect.
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", gone.local_addr().unwrap());
    drop(gone);
    config.connections.get_mut("first").unwrap().base_url = dead_url;
    app.state.config.replace(config);
    let now = || chrono::Utc::now().timestamp_millis() as u64;
    for _ in 0..40 {
        if app.state.live.account_view("first", now()).health.level
            == switchyard::routing::HealthLevel::Unhealthy
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let health = app.state.live.account_view("first", now()).health;
    assert_eq!(
        health.level,
        switchyard::routing::HealthLevel::Unhealthy,
        "{}",
        health.reason
    );
    assert_eq!(
        app.state.live.account_view("second", now()).health.level,
        switchyard::routing::HealthLevel::Healthy
    );
    let response = app.chat(hello()).await;
    assert_eq!(
        header(&response, "x-switchyard-attempts"),
        "1; ordered; second/claude-sonnet-4-5 ok"
    );
}
