//! Provider faults, one at a time, against the mock providers: what the app gets, the circuit and
//! health of the failing account afterwards, and the ledger row.

use crate::helpers::*;
use serde_json::{json, Value};
use std::time::Duration;
use switchyard::domain::{CircuitState, HealthLevel, Target};
use switchyard::providers::mock::{MockProvider, MockReply};
use switchyard::providers::Timeouts;

/// How the first target misbehaves.
enum Fault {
    Reply(MockReply),
    /// The account points at an address where nothing listens or that does not resolve.
    BaseUrl(String),
}

struct Setup {
    app: TestApp,
    first: MockProvider,
    second: MockProvider,
}

/// `primary-llm` on `first` (OpenAI, the fault) then `second` (Anthropic, healthy), through a
/// policy whose circuit opens after one failure. `first` has a 1.5 s total timeout.
async fn setup(fault: Fault) -> Setup {
    let app = spawn_app().await;
    let (mut config, first, second) =
        two_targets_snapshot(vec![policy("main", &["primary-llm"], 1, 30)]).await;
    let connection = config.connections.get_mut("first").unwrap();
    connection.timeouts = Timeouts {
        connect: Duration::from_secs(2),
        first_byte: Duration::from_millis(400),
        total: Duration::from_millis(1500),
    };
    match fault {
        Fault::Reply(reply) => first.push(reply),
        Fault::BaseUrl(url) => connection.base_url = url,
    }
    app.state.config.replace(config);
    Setup { app, first, second }
}

fn hello(stream: bool) -> Value {
    json!({"model": "primary-llm", "messages": user_message("hi"), "stream": stream})
}

fn now_ms() -> u64 {
    switchyard::store::now_millis().try_into().unwrap()
}

impl Setup {
    fn circuit(&self) -> CircuitState {
        let target = Target {
            account: "first".into(),
            model: "gpt-4o".into(),
        };
        self.app.state.live.circuit_view(&target, now_ms()).state
    }

    /// The one ledger row: (account, status, attempts, error).
    async fn ledger(&self) -> (Option<String>, i64, i64, Option<String>) {
        self.app.state.telemetry.flush().await;
        let rows: Vec<(Option<String>, i64, i64, Option<String>)> =
            sqlx::query_as("SELECT account, status, attempts, error FROM usage_events")
                .fetch_all(&self.app.state.db.pool)
                .await
                .unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        rows.into_iter().next().unwrap()
    }

    /// The request fell back to `second`; `reason` is in the attempts header.
    async fn assert_served_by_fallback(&self, stream: bool, reason: &str) {
        let response = self.app.chat(hello(stream)).await;
        assert_eq!(response.status(), 200, "{reason}");
        assert_eq!(header(&response, "x-switchyard-account"), "second");
        let attempts = header(&response, "x-switchyard-attempts").to_string();
        assert!(
            attempts.starts_with("2; ordered; first/gpt-4o failed (") && attempts.contains(reason),
            "{reason}: {attempts}"
        );
        let body = response.text().await.unwrap();
        let text = if stream {
            sse_data(&body)
                .iter()
                .filter_map(|d| serde_json::from_str::<Value>(d).ok())
                .filter_map(|c| {
                    c["choices"][0]["delta"]["content"]
                        .as_str()
                        .map(String::from)
                })
                .collect()
        } else {
            serde_json::from_str::<Value>(&body).unwrap()["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(text, "mock reply");
        assert_eq!(self.second.requests().len(), 1);
        assert_eq!(self.circuit(), CircuitState::Open, "{reason}");
        let view = self.app.state.live.account_view("first", now_ms());
        assert_eq!((view.calls, view.failures), (1, 1), "{reason}");
        let (account, status, attempts, error) = self.ledger().await;
        assert_eq!(
            (account.as_deref(), status, attempts, error),
            (Some("second"), 200, 2, None)
        );
    }

    /// The stream had started, so it ends with an OpenAI-shaped error event instead of `[DONE]`.
    async fn assert_stream_ends_with_an_error(&self, reason: &str) {
        let response = self.app.chat(hello(true)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-switchyard-account"), "first");
        let data = sse_data(&response.text().await.unwrap());
        assert!(!data.iter().any(|d| d == "[DONE]"), "{data:?}");
        let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
        let message = last["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(reason), "{reason}: {data:?}");
        assert!(self.second.requests().is_empty());
        assert_eq!(self.circuit(), CircuitState::Open);
        let (account, status, attempts, error) = self.ledger().await;
        assert_eq!(
            (account.as_deref(), status, attempts),
            (Some("first"), 200, 1)
        );
        assert!(error.is_some_and(|e| e.contains(reason)));
    }
}

#[tokio::test]
async fn http_500_falls_back() {
    let s = setup(Fault::Reply(MockReply::error(500, "boom"))).await;
    s.assert_served_by_fallback(false, "HTTP 500").await;
}

#[tokio::test]
async fn http_429_with_retry_after_falls_back() {
    let s = setup(Fault::Reply(MockReply::error(429, "slow down"))).await;
    s.assert_served_by_fallback(false, "HTTP 429").await;
}

#[tokio::test]
async fn http_429_without_retry_after_falls_back() {
    let s = setup(Fault::Reply(MockReply::error_without_retry_after(
        429,
        "slow down",
    )))
    .await;
    s.assert_served_by_fallback(false, "HTTP 429").await;
}

#[tokio::test]
async fn connection_refused_falls_back() {
    // A port that was free a moment ago: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let s = setup(Fault::BaseUrl(url)).await;
    s.assert_served_by_fallback(false, "could not reach").await;
    assert!(s.first.requests().is_empty());
}

#[tokio::test]
async fn a_name_that_does_not_resolve_falls_back() {
    // `.invalid` never resolves (RFC 2606).
    let s = setup(Fault::BaseUrl("http://switchyard-fault.invalid".into())).await;
    s.assert_served_by_fallback(false, "could not reach").await;
}

#[tokio::test]
async fn no_first_byte_in_time_falls_back() {
    let s = setup(Fault::Reply(
        MockReply::text("late").after(Duration::from_secs(2)),
    ))
    .await;
    s.assert_served_by_fallback(false, "did not answer within")
        .await;
}

#[tokio::test]
async fn invalid_json_falls_back() {
    let s = setup(Fault::Reply(MockReply::raw(
        "application/json",
        "{\"id\": \"x\", \"choices\": [",
    )))
    .await;
    s.assert_served_by_fallback(false, "cannot read").await;
}

#[tokio::test]
async fn an_answer_over_the_size_limit_falls_back() {
    let huge = format!(
        "{{\"padding\": \"{}\"}}",
        "x".repeat(switchyard::providers::MAX_ANSWER_BYTES)
    );
    let s = setup(Fault::Reply(MockReply::raw("application/json", huge))).await;
    s.assert_served_by_fallback(false, "larger than the limit")
        .await;
}

#[tokio::test]
async fn a_stream_cut_before_its_first_token_falls_back() {
    let s = setup(Fault::Reply(MockReply::cut_stream(""))).await;
    s.assert_served_by_fallback(true, "cannot read").await;
}

#[tokio::test]
async fn a_connection_reset_mid_stream_ends_it_with_an_error_event() {
    let s = setup(Fault::Reply(MockReply::reset_stream("partial answer"))).await;
    s.assert_stream_ends_with_an_error("error reading a body")
        .await;
}

#[tokio::test]
async fn a_slow_trickle_past_the_total_timeout_ends_the_stream_with_an_error_event() {
    let s = setup(Fault::Reply(MockReply::trickle(
        "one two three four five six seven eight",
        Duration::from_millis(300),
    )))
    .await;
    s.assert_stream_ends_with_an_error("within").await;
}

#[tokio::test]
async fn rejected_credentials_fall_back_mark_the_account_unhealthy_and_raise_an_alert() {
    for status in [401, 403] {
        let s = setup(Fault::Reply(MockReply::error(status, "invalid api key"))).await;
        s.assert_served_by_fallback(false, &format!("HTTP {status}"))
            .await;
        let health = s.app.state.live.account_view("first", now_ms()).health;
        assert_eq!(health.level, HealthLevel::Unhealthy);
        assert!(
            health.reason.starts_with("credentials rejected"),
            "{}",
            health.reason
        );
        let alerts = wait_for_alerts(&s.app, "account_unhealthy", 1).await;
        assert_eq!(alerts[0].0, "first");
        assert!(alerts[0].1.contains("credentials rejected"), "{alerts:?}");
    }
}

/// Open alerts of `kind` as (account, message), once there are `n` (the watcher ticks every second).
pub async fn wait_for_alerts(app: &TestApp, kind: &str, n: usize) -> Vec<(String, String)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        app.state.telemetry.flush().await;
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT account, message FROM alerts WHERE kind = $1 AND resolved_at IS NULL",
        )
        .bind(kind)
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
        if rows.len() >= n || tokio::time::Instant::now() > deadline {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
