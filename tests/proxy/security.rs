//! Security headers, the metrics token, the shutdown grace period, and every server function
//! and /v1 route refusing the wrong role or key.

use crate::helpers::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use switchyard::domain::ProviderKind;
use switchyard::providers::mock::{MockProvider, MockReply};

#[tokio::test]
async fn pages_send_a_nonce_policy_that_matches_their_scripts_and_no_framing() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/login", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    assert_eq!(header(&response, "x-frame-options"), "DENY");
    assert_eq!(header(&response, "referrer-policy"), "same-origin");
    let policy = header(&response, "content-security-policy").to_string();
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap()
        .to_string();
    let html = response.text().await.unwrap();
    // Every inline script carries this response's nonce.
    let scripts = html.matches("<script").count();
    assert!(scripts > 0);
    assert_eq!(
        html.matches(&format!("nonce=\"{nonce}\"")).count(),
        scripts,
        "{html}"
    );
    // Another page load gets another nonce.
    let again = app
        .client
        .get(format!("{}/login", app.address))
        .send()
        .await
        .unwrap();
    assert!(!header(&again, "content-security-policy").contains(&nonce));
    // API answers are not sniffed either.
    let models = app
        .client
        .get(format!("{}/v1/models", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&models, "x-content-type-options"), "nosniff");
}

/// `/v1` is outside the dashboard's session and cross-site guard: an app on another origin is
/// served (keys are bearer tokens, not cookies) and no session is ever started for it.
#[tokio::test]
async fn the_proxy_api_is_open_to_any_origin_and_starts_no_session() {
    let app = spawn_app().await;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    app.state.config.replace(one_account_snapshot(&mock));
    let response = app
        .chat_with_headers(
            KEY,
            &[
                ("origin", "https://another-app.example"),
                ("sec-fetch-site", "cross-site"),
            ],
            json!({"model": "primary-llm", "messages": user_message("hi")}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("set-cookie").is_none());
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    assert!(!header(&response, "x-switchyard-instance").is_empty());
    // The dashboard's own POSTs from another site are still refused.
    let forged = app
        .client
        .post(format!("{}/api/logout", app.address))
        .header("origin", "https://another-app.example")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
}

#[tokio::test]
async fn metrics_can_require_a_bearer_token() {
    let app = spawn_app_with(&[("SWITCHYARD_METRICS_TOKEN", "scrape-secret")]).await;
    let url = format!("{}/metrics", app.address);
    let anonymous = app.client.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = app
        .client
        .get(&url)
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = app
        .client
        .get(&url)
        .bearer_auth("scrape-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    assert!(right
        .text()
        .await
        .unwrap()
        .contains("switchyard_usage_spill_bytes"));
}

#[tokio::test]
async fn a_request_longer_than_the_grace_period_is_cut_and_still_in_the_ledger() {
    let app = spawn_app_with(&[("SWITCHYARD_SHUTDOWN_GRACE_SECS", "1")]).await;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    app.state.config.replace(snapshot(
        vec![(account("main", ProviderKind::Openai), &mock)],
        vec![model(
            "primary-llm",
            all_capabilities(),
            &[("main", "gpt-4o")],
        )],
        vec![],
    ));
    // Longer than the grace period; under the 5 s total timeout of the test connection.
    mock.push(
        MockReply::trickle("a b c d e f g h", Duration::from_millis(400))
            .after(Duration::from_millis(50)),
    );
    let client = app.client.clone();
    let url = format!("{}/v1/chat/completions", app.address);
    let in_flight = tokio::spawn(async move {
        let response = client
            .post(url)
            .bearer_auth(KEY)
            .json(&json!({"model": "primary-llm", "messages": user_message("hi"), "stream": true}))
            .send()
            .await
            .unwrap();
        response.text().await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pool = app.state.db.pool.clone();
    let stopping = Instant::now();
    let _dir = app.stop().await;
    let took = stopping.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    // The stream was cut with an error event, not [DONE].
    let body = in_flight.await.unwrap().unwrap_or_default();
    assert!(!body.contains("[DONE]"), "{body}");
    assert!(body.contains("shutting_down"), "{body}");
    let rows: Vec<(String,)> = sqlx::query_as("SELECT account FROM usage_events")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(rows, vec![("main".to_string(),)]);
}

/// Every /v1 route, with no key and with a wrong one (as a Bearer token or `x-api-key`),
/// answers 401 in its API's error shape.
#[tokio::test]
async fn every_v1_route_refuses_a_missing_or_wrong_key() {
    let app = spawn_app().await;
    let routes = [
        ("POST", "/v1/chat/completions"),
        ("GET", "/v1/models"),
        ("POST", "/v1/messages"),
        ("POST", "/v1/messages/count_tokens"),
        ("POST", "/v1/embeddings"),
    ];
    for (method, path) in routes {
        for (header, key) in [
            ("", None),
            ("authorization", Some("Bearer sk-sy-wrong")),
            ("x-api-key", Some("sk-sy-wrong")),
        ] {
            let mut request = app
                .client
                .request(method.parse().unwrap(), format!("{}{path}", app.address));
            if let Some(key) = key {
                request = request.header(header, key);
            }
            let response = request
                .json(&json!({"model": "primary-llm", "messages": user_message("hi")}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 401, "{method} {path} {key:?}");
            let body: Value = response.json().await.unwrap();
            assert!(body["error"]["message"].is_string(), "{body}");
        }
    }
    // Any other /v1 path is a 404 that reveals nothing, key or not.
    let other = app
        .client
        .get(format!("{}/v1/files", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

/// A `Write` into a buffer shared with the test, for a log subscriber.
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_credential_reaches_the_log_even_at_trace_level() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = spawn_app().await;
    let (config, first, _second) = two_targets_snapshot(vec![]).await;
    app.state.config.replace(config);
    // A rejected key, a failure, an answer, a stream, a wrong gateway key.
    first.push(MockReply::error(401, "invalid api key"));
    assert_eq!(
        app.chat(json!({"model": "primary-llm", "messages": user_message("hi")}))
            .await
            .status(),
        200
    );
    let stream = app
        .chat(json!({"model": "primary-llm", "messages": user_message("hi"), "stream": true}))
        .await;
    stream.text().await.unwrap();
    app.chat_with_key(
        "sk-sy-wrong-but-secret-0000",
        json!({"model": "primary-llm"}),
    )
    .await;
    // A credential saved through the dashboard.
    let browser = app.admin_browser().await;
    let saved = browser
        .post(format!("{}/api/save_account", app.address))
        .json(&json!({"account": {
            "name": "third", "kind": "openai", "base_url": "http://127.0.0.1:9", "enabled": true,
            "rpm_limit": null, "tpm_limit": null, "monthly_budget_usd": null,
            "soft_budget": false, "alert_thresholds": [50, 80, 100], "azure": null,
            "api_key": "sk-provider-PLAINTEXT-4242"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    app.state.telemetry.flush().await;

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("proxied request"), "the capture works");
    for secret in [
        switchyard::providers::mock::MOCK_API_KEY,
        KEY,
        "sk-sy-wrong-but-secret-0000",
        "sk-provider-PLAINTEXT-4242",
        "admin-password-1",
        "test-setup-token",
    ] {
        assert!(!text.contains(secret), "{secret} is in the log");
    }
}
