//! The dashboard's live status server functions, fed by real traffic through the proxy.

use crate::helpers::*;
use serde_json::{json, Value};
use switchyard::domain::ProviderKind;
use switchyard::providers::mock::{MockProvider, MockReply};

/// `primary-llm` served by `first` then `second`, through policy `main` with this threshold
/// and a 30 s recovery window.
async fn two_targets(threshold: u32) -> (TestApp, MockProvider, MockProvider) {
    let app = spawn_app().await;
    let first = MockProvider::start(ProviderKind::Openai).await.unwrap();
    let second = MockProvider::start(ProviderKind::Anthropic).await.unwrap();
    let mut limited = account("first", ProviderKind::Openai);
    limited.rpm_limit = Some(100);
    limited.tpm_limit = Some(50_000);
    app.state.config.replace(snapshot(
        vec![
            (limited, &first),
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

fn hello(stream: bool) -> Value {
    json!({"model": "primary-llm", "messages": user_message("hi"), "stream": stream})
}

fn now_ms() -> u64 {
    switchyard::store::now_millis().try_into().unwrap()
}

async fn live(app: &TestApp, browser: &reqwest::Client, endpoint: &str) -> Value {
    let response = app.server_fn(browser, endpoint).await;
    assert_eq!(response.status(), 200, "{endpoint}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_policy_status_shows_the_circuit_open_with_its_reopen_time() {
    let (app, first, _second) = two_targets(2).await;
    let browser = app.admin_browser().await;
    first.push(MockReply::error(500, "down"));
    first.push(MockReply::error(503, "down"));
    let before = now_ms();
    for _ in 0..3 {
        assert_eq!(app.chat(hello(false)).await.status(), 200);
    }
    let after = now_ms();

    let policies = live(&app, &browser, "policy_live_status").await;
    let main = &policies[0];
    assert_eq!(main["name"], "main");
    // Three matches; two failed on `first` and fell back; the third was planned without the
    // open circuit, so `second` was its first candidate, not a fallback.
    assert_eq!(
        [
            &main["matches"],
            &main["successes"],
            &main["errors"],
            &main["fallbacks"]
        ],
        [&json!(3), &json!(3), &json!(2), &json!(2)]
    );
    let first_target = &main["targets"][0];
    assert_eq!(first_target["target"], "first/gpt-4o");
    assert_eq!(first_target["logical_model"], "primary-llm");
    assert_eq!(first_target["circuit"], "open");
    let reopens = first_target["reopens_at_ms"].as_u64().unwrap();
    assert!(
        (before + 30_000..=after + 30_000).contains(&reopens),
        "{reopens} not 30 s after {before}..{after}"
    );
    assert_eq!(
        main["targets"][1],
        json!({"target": "second/claude-sonnet-4-5", "logical_model": "primary-llm",
               "circuit": "closed", "reopens_at_ms": null})
    );
}

#[tokio::test]
async fn the_account_status_shows_a_failing_account_degraded_then_unhealthy_with_the_reason() {
    // A threshold the test never reaches, so every request tries `first` while it is usable.
    let (app, first, _second) = two_targets(100).await;
    let browser = app.admin_browser().await;
    let status_of = |accounts: &Value, name: &str| {
        accounts
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .cloned()
            .unwrap()
    };

    // One failure in five requests: 20 %.
    first.push(MockReply::error(500, "down"));
    for _ in 0..5 {
        assert_eq!(app.chat(hello(false)).await.status(), 200);
    }
    let accounts = live(&app, &browser, "account_live_status").await;
    let first_status = status_of(&accounts, "first");
    assert_eq!(first_status["health"], "degraded");
    assert_eq!(
        first_status["health_reason"],
        "error rate 20% over the last 5 minutes (1 of 5 requests)"
    );
    assert_eq!(first_status["requests_last_minute"], 5);
    assert_eq!(first_status["rpm_limit"], 100);
    assert_eq!(first_status["tpm_limit"], 50_000);
    assert!(first_status["tokens_last_minute"].as_u64().unwrap() > 0);
    assert!(first_status["latency_ewma_ms"].as_f64().is_some());
    // Four answered calls at the gpt-4o seed price of 100 µ$ each.
    assert_eq!(first_status["spent_this_month"], 400);
    assert_eq!(first_status["monthly_budget"], Value::Null);
    assert_eq!(status_of(&accounts, "second")["health"], "healthy");

    // Three more failures: 4 of 8.
    for _ in 0..3 {
        first.push(MockReply::error(500, "down"));
    }
    for _ in 0..3 {
        assert_eq!(app.chat(hello(false)).await.status(), 200);
    }
    let accounts = live(&app, &browser, "account_live_status").await;
    let first_status = status_of(&accounts, "first");
    assert_eq!(first_status["health"], "unhealthy");
    assert_eq!(
        first_status["health_reason"],
        "error rate 50% over the last 5 minutes (4 of 8 requests)"
    );
    // No secret leaves the server in the live status.
    assert!(!accounts.to_string().contains("mock-key"));
}

#[tokio::test]
async fn a_stream_reset_after_its_first_chunk_ends_with_an_error_event_and_counts_as_a_failure() {
    let (app, first, second) = two_targets(1).await;
    let browser = app.admin_browser().await;
    first.push(MockReply::cut_stream("partial answer"));
    let response = app.chat(hello(true)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-switchyard-account"), "first");
    let data = sse_data(&response.text().await.unwrap());
    let first_chunk: Value = serde_json::from_str(&data[0]).unwrap();
    assert_eq!(first_chunk["object"], "chat.completion.chunk");
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert!(last["error"]["message"].as_str().is_some(), "{data:?}");
    assert!(!data.iter().any(|d| d == "[DONE]"));
    // Too late to fall back: the client already had the first chunk.
    assert!(second.requests().is_empty());

    let policies = live(&app, &browser, "policy_live_status").await;
    assert_eq!(policies[0]["errors"], 1);
    assert_eq!(policies[0]["successes"], 0);
    assert_eq!(policies[0]["targets"][0]["circuit"], "open");
    app.state.telemetry.flush().await;
    let errors: Vec<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT account, error FROM usage_events")
            .fetch_all(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0.as_deref(), Some("first"));
    assert!(errors[0].1.is_some(), "{errors:?}");
}

#[tokio::test]
async fn live_status_needs_a_signed_in_user() {
    let (app, _first, _second) = two_targets(2).await;
    let anonymous = reqwest::Client::new();
    for endpoint in ["account_live_status", "policy_live_status"] {
        assert_eq!(app.server_fn(&anonymous, endpoint).await.status(), 401);
    }
    let admin = app.admin_browser().await;
    let response = admin
        .post(format!("{}/api/create_user", app.address))
        .form(&[
            ("username", "watcher"),
            ("password", "watcher-password-1"),
            ("role", "viewer"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let viewer = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let response = viewer
        .post(format!("{}/api/login", app.address))
        .form(&[("username", "watcher"), ("password", "watcher-password-1")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    for endpoint in ["account_live_status", "policy_live_status"] {
        assert_eq!(app.server_fn(&viewer, endpoint).await.status(), 200);
    }
}

#[tokio::test]
async fn metrics_show_calls_failures_spend_and_policy_counters_in_prometheus_text() {
    let (app, first, _second) = two_targets(5).await;
    first.push(MockReply::error(500, "down"));
    assert_eq!(app.chat(hello(false)).await.status(), 200);
    assert_eq!(app.chat(hello(false)).await.status(), 200);

    // Scrapers do not sign in.
    let response = reqwest::get(format!("{}/metrics", app.address))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-type"),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    for line in [
        "# TYPE switchyard_account_calls_total counter",
        "switchyard_account_calls_total{account=\"first\"} 2",
        "switchyard_account_failures_total{account=\"first\"} 1",
        "switchyard_account_calls_total{account=\"second\"} 1",
        "switchyard_account_failures_total{account=\"second\"} 0",
        "switchyard_account_requests_last_minute{account=\"first\"} 2",
        // One answered gpt-4o call at the 100 µ$ seed price.
        "switchyard_account_spend_this_month_microdollars{account=\"first\"} 100",
        "# TYPE switchyard_policy_matches_total counter",
        "switchyard_policy_matches_total{policy=\"main\"} 2",
        "switchyard_policy_successes_total{policy=\"main\"} 2",
        "switchyard_policy_errors_total{policy=\"main\"} 1",
        "switchyard_policy_fallbacks_total{policy=\"main\"} 1",
        // Request and provider-call histograms and counters, labelled by logical model,
        // account, policy and status class: the first request fell back from `first` (500)
        // to `second`; the second was answered by `first`.
        "# TYPE switchyard_request_duration_seconds histogram",
        "switchyard_request_duration_seconds_count{logical_model=\"primary-llm\",account=\"second\",policy=\"main\",status_class=\"2xx\"} 1",
        "switchyard_request_duration_seconds_count{logical_model=\"primary-llm\",account=\"first\",policy=\"main\",status_class=\"2xx\"} 1",
        "switchyard_request_duration_seconds_bucket{logical_model=\"primary-llm\",account=\"first\",policy=\"main\",status_class=\"2xx\",le=\"+Inf\"} 1",
        "switchyard_upstream_duration_seconds_count{logical_model=\"primary-llm\",account=\"first\",policy=\"main\",status_class=\"5xx\"} 1",
        "switchyard_upstream_duration_seconds_count{logical_model=\"primary-llm\",account=\"first\",policy=\"main\",status_class=\"2xx\"} 1",
        "switchyard_fallback_requests_total{logical_model=\"primary-llm\",account=\"second\",policy=\"main\",status_class=\"2xx\"} 1",
        "switchyard_cost_microdollars_total{logical_model=\"primary-llm\",account=\"first\",policy=\"main\",status_class=\"2xx\"} 100",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line} missing from:\n{text}"
        );
    }
    let tokens = "switchyard_tokens_total{logical_model=\"primary-llm\",account=\"first\",policy=\"main\",status_class=\"2xx\",kind=\"prompt\"} ";
    assert!(
        text.lines().any(|l| l.starts_with(tokens)),
        "{tokens} missing from:\n{text}"
    );
}
