//! The alert webhook: each newly stored alert is POSTed as JSON to the configured URL from a
//! background task, retried with exponential backoff. The URL may carry a token (Slack-style
//! hooks do), so logs name only its host.

use super::conditions::ConditionChange;
use super::BudgetAlert;
use serde::Serialize;
use std::time::Duration;

/// Tries in all for one alert, waiting twice as long after each failure.
const TRIES: u32 = 4;
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
pub const URL_MAX_LEN: usize = 2048;

/// The JSON body of one alert. Budget alerts carry the month, threshold and dollars; alerts
/// that open and close carry `status` (`raised` or `resolved`) and, for circuits, the target.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlertPayload {
    pub kind: String,
    pub account: String,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub month: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u8>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spent_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_usd: Option<f64>,
    /// RFC 3339, UTC.
    pub at: String,
}

fn rfc3339(at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl AlertPayload {
    pub fn budget(alert: &BudgetAlert) -> AlertPayload {
        AlertPayload {
            kind: crate::store::alerts::BUDGET_ALERT.to_string(),
            account: alert.account.clone(),
            status: "raised",
            subject: None,
            month: Some(alert.month.clone()),
            threshold: Some(alert.threshold),
            message: alert.message(),
            spent_usd: Some(alert.spent.as_dollars()),
            budget_usd: Some(alert.budget.as_dollars()),
            at: rfc3339(alert.at_ms),
        }
    }

    pub fn condition(change: &ConditionChange) -> AlertPayload {
        let condition = &change.condition;
        AlertPayload {
            kind: condition.kind.clone(),
            account: condition.account.clone(),
            status: if change.raised { "raised" } else { "resolved" },
            subject: (!condition.subject.is_empty()).then(|| condition.subject.clone()),
            month: None,
            threshold: None,
            message: change.message.clone(),
            spent_usd: None,
            budget_usd: None,
            at: rfc3339(change.at_ms),
        }
    }
}

/// A webhook URL as typed: trimmed, http or https with a host. The error is for the user.
pub fn check_url(input: &str) -> Result<String, String> {
    let url = input.trim();
    if url.len() > URL_MAX_LEN {
        return Err(format!("Use at most {URL_MAX_LEN} characters."));
    }
    match reqwest::Url::parse(url) {
        Ok(parsed)
            if matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some() =>
        {
            Ok(url.to_string())
        }
        _ => Err("Enter an http:// or https:// URL.".into()),
    }
}

/// The host of `url`, for logs.
fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default()
}

/// Sends each alert in its own task, so a slow receiver never holds up the batch writer.
pub fn spawn_delivery(client: &reqwest::Client, url: &str, payloads: Vec<AlertPayload>) {
    for payload in payloads {
        tokio::spawn(deliver(client.clone(), url.to_string(), payload));
    }
}

async fn deliver(client: reqwest::Client, url: String, payload: AlertPayload) {
    let host = host_of(&url);
    let mut delay = FIRST_RETRY_DELAY;
    for attempt in 1..=TRIES {
        let outcome = client
            .post(&url)
            .timeout(REQUEST_TIMEOUT)
            .json(&payload)
            .send()
            .await
            .and_then(|r| r.error_for_status());
        match outcome {
            Ok(_) => {
                tracing::info!(%host, kind = %payload.kind, account = %payload.account, "alert sent to the webhook");
                return;
            }
            Err(e) => {
                // `without_url`: the URL may hold a token.
                let error = e.without_url();
                if attempt < TRIES {
                    tracing::warn!(%host, attempt, error = %error, "alert webhook failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                } else {
                    tracing::error!(%host, kind = %payload.kind, account = %payload.account, error = %error, "alert webhook failed; alert not delivered");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_with_a_host() {
        assert_eq!(
            check_url(" https://hooks.example.com/x?token=1 "),
            Ok("https://hooks.example.com/x?token=1".into())
        );
        assert!(check_url("http://127.0.0.1:9/hook").is_ok());
        for bad in ["", "hooks.example.com", "ftp://example.com", "https://"] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert!(check_url(&format!("https://e.com/{}", "a".repeat(URL_MAX_LEN))).is_err());
    }

    #[test]
    fn the_payload_has_dollars_and_an_rfc3339_time() {
        let alert = BudgetAlert {
            account: "openai-main".into(),
            month: "2026-11".into(),
            threshold: 80,
            spent: crate::domain::Money::from_micros(800_000),
            budget: crate::domain::Money::from_micros(1_000_000),
            at_ms: 1_795_000_000_000,
        };
        let payload = AlertPayload::budget(&alert);
        assert_eq!(
            (payload.spent_usd, payload.budget_usd),
            (Some(0.8), Some(1.0))
        );
        assert_eq!(payload.kind, "budget");
        assert!(
            payload.at.ends_with('Z') && payload.at.starts_with("2026-"),
            "{}",
            payload.at
        );
        assert!(payload.message.starts_with("openai-main reached 80%"));
    }
}
