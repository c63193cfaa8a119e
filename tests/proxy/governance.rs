//! Gateway keys held to their own limits and budget before any provider is tried, while other
//! keys on the same models are served; their budget alerts; their spend across a restart.

use crate::helpers::*;
use serde_json::{json, Value};
use switchyard::domain::{KeyLimits, Money, ProviderKind};
use switchyard::providers::mock::MockProvider;

const GOVERNED: &str = "sk-sy-governed-0123456789abcdef";

fn hello() -> Value {
    json!({"model": "primary-llm", "messages": user_message("hi"), "max_tokens": 10})
}

/// One OpenAI account serving `primary-llm` (a call costs 100 µ$), the test keys, and the
/// key `governed` held to `limits`.
fn governed_config(mock: &MockProvider, limits: KeyLimits) -> switchyard::snapshot::ConfigSnapshot {
    let mut config = patient(one_account_snapshot(mock));
    add_key(&mut config, GOVERNED, "governed", limits);
    config
}

#[tokio::test]
async fn a_key_over_its_rpm_tpm_or_budget_is_refused_while_another_key_is_served() {
    // (label, limits, calls served before the refusal, status, code, Retry-After expected)
    let cases = [
        (
            "rpm",
            KeyLimits {
                rpm_limit: Some(2),
                ..KeyLimits::default()
            },
            2,
            429,
            "key_rate_limit_exceeded",
            true,
        ),
        (
            // ~16 tokens estimated a call, 19 used: the third no longer fits in 50.
            "tpm",
            KeyLimits {
                tpm_limit: Some(50),
                ..KeyLimits::default()
            },
            2,
            429,
            "key_rate_limit_exceeded",
            true,
        ),
        (
            "budget",
            KeyLimits {
                monthly_budget: Some(Money::from_micros(150)),
                ..KeyLimits::default()
            },
            2,
            402,
            "key_budget_exceeded",
            false,
        ),
    ];
    for (label, limits, served, status, code, retry_after) in cases {
        let app = spawn_app().await;
        let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
        app.state.config.replace(governed_config(&mock, limits));
        for i in 0..served {
            let response = app.chat_with_key(GOVERNED, hello()).await;
            assert_eq!(response.status(), 200, "{label}: call {i}");
        }
        let calls_before = mock.requests().len();
        let refused = app.chat_with_key(GOVERNED, hello()).await;
        assert_eq!(refused.status(), status, "{label}");
        assert_eq!(
            refused.headers().contains_key("retry-after"),
            retry_after,
            "{label}"
        );
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{label}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("gateway key `governed`:"),
            "{label}: {message}"
        );
        if label == "budget" {
            assert!(message.contains("monthly budget used up"), "{message}");
            assert_eq!(body["error"]["type"], "insufficient_quota");
        }
        assert_eq!(
            mock.requests().len(),
            calls_before,
            "{label}: refused before any provider was tried"
        );
        // Another key on the same model is served all the while.
        assert_eq!(app.chat(hello()).await.status(), 200, "{label}");
        let rows = app.usage_rows().await;
        assert_eq!(rows.last().unwrap().1, 200);
        assert!(
            rows.iter().any(|r| r.1 == i64::from(status)),
            "{label}: the refusal is in the ledger"
        );
    }
}

#[tokio::test]
async fn a_soft_key_budget_alerts_once_per_threshold_and_keeps_serving() {
    let (receiver, url) = WebhookReceiver::start(0).await;
    let app = spawn_app_alerting_to(&url).await;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    app.state.config.replace(governed_config(
        &mock,
        KeyLimits {
            monthly_budget: Some(Money::from_micros(150)),
            soft_budget: true,
            ..KeyLimits::default()
        },
    ));
    for _ in 0..6 {
        assert_eq!(app.chat_with_key(GOVERNED, hello()).await.status(), 200);
        app.state.telemetry.flush().await;
    }
    let bodies = receiver.settle(3).await;
    assert_eq!(thresholds(&bodies), vec![50, 80, 100], "{bodies:?}");
    let fifty = bodies.iter().find(|b| b["threshold"] == 50).unwrap();
    assert_eq!(fifty["account"], "governed");
    assert_eq!(fifty["subject"], "key");
    assert!(fifty["message"]
        .as_str()
        .unwrap()
        .starts_with("gateway key governed reached 50% of its monthly budget"));
    let stored: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT account, subject, threshold FROM alerts WHERE kind = 'budget' ORDER BY threshold",
    )
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(
        stored,
        vec![
            ("governed".into(), "key".into(), 50),
            ("governed".into(), "key".into(), 80),
            ("governed".into(), "key".into(), 100)
        ]
    );
    // The banner names the key.
    let browser = app.admin_browser().await;
    let banner = app
        .server_fn(&browser, "budget_banner")
        .await
        .text()
        .await
        .unwrap();
    assert!(banner.contains("governed"), "{banner}");
}

async fn spend_survives_a_restart(vars: &[(&str, &str)]) {
    let app = spawn_app_with(vars).await;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    let limits = KeyLimits {
        monthly_budget: Some(Money::from_micros(150)),
        ..KeyLimits::default()
    };
    app.state
        .config
        .replace(governed_config(&mock, limits.clone()));
    for _ in 0..2 {
        assert_eq!(app.chat_with_key(GOVERNED, hello()).await.status(), 200);
    }
    let dir = app.stop().await;
    let restarted = spawn_app_in(dir, vars).await;
    restarted
        .state
        .config
        .replace(governed_config(&mock, limits));
    let now = chrono::Utc::now().timestamp_millis() as u64;
    assert_eq!(
        restarted.state.live.key_spent("governed", now).micros(),
        200
    );
    assert_eq!(
        restarted.chat_with_key(GOVERNED, hello()).await.status(),
        402
    );
    assert_eq!(restarted.chat(hello()).await.status(), 200);
    restarted.stop().await;
}

#[tokio::test]
async fn a_keys_spend_survives_a_restart() {
    spend_survives_a_restart(&[]).await;
}

#[tokio::test]
async fn a_keys_spend_survives_a_restart_on_postgres() {
    let (url, name) = postgres_database().await;
    spend_survives_a_restart(&[("DATABASE_URL", &url)]).await;
    drop_postgres_database(&name).await;
}
