//! The alert webhook: each newly stored alert is queued in the `webhook_outbox` table in the
//! same transaction, and a background task POSTs it as JSON to the configured URL, retried with
//! exponential backoff; pending deliveries survive a restart. The URL may carry a token
//! (Slack-style hooks do), so logs name only its host.

use super::conditions::ConditionChange;
use super::BudgetAlert;
use serde::Serialize;
use std::time::Duration;

/// Tries in all for one alert, waiting twice as long after each failure.
const TRIES: u32 = 4;
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claimed delivery is left to the instance that claimed it; past that (it stopped
/// mid-delivery) another instance tries it.
const CLAIM: Duration = Duration::from_secs(30);
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
            subject: (!alert.subject.is_empty()).then(|| alert.subject.clone()),
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

/// Queues `payload` for delivery inside the caller's transaction.
pub async fn enqueue<'e, E>(executor: E, payload: &AlertPayload) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let now = crate::store::now_millis();
    sqlx::query(
        "INSERT INTO webhook_outbox (id, payload, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, 0, $3, $3)",
    )
    .bind(crate::store::new_id())
    .bind(serde_json::to_string(payload).unwrap_or_default())
    .bind(now)
    .execute(executor)
    .await?;
    Ok(())
}

/// Sends one alert now, outside the outbox: for the spill alert, raised while the database
/// (and so the outbox) may be unreachable.
pub fn spawn_direct(client: &reqwest::Client, url: &str, payload: AlertPayload) {
    let (client, url) = (client.clone(), url.to_string());
    tokio::spawn(async move {
        for attempt in 0..TRIES {
            if post(
                &client,
                &url,
                &serde_json::to_string(&payload).unwrap_or_default(),
            )
            .await
            .is_ok()
            {
                return;
            }
            tokio::time::sleep(FIRST_RETRY_DELAY * 2u32.pow(attempt)).await;
        }
        tracing::error!(host = %host_of(&url), kind = %payload.kind, "alert webhook failed; alert not delivered");
    });
}

async fn post(client: &reqwest::Client, url: &str, body: &str) -> Result<(), reqwest::Error> {
    client
        .post(url)
        .timeout(REQUEST_TIMEOUT)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map(|_| ())
}

/// Delivers what waits in the outbox, oldest first, whenever `wake` is notified and once a
/// second: a delivery the receiver refused is tried again later, waiting twice as long each
/// time, up to `TRIES` in all. Each delivery is claimed first, so one instance of a fleet
/// makes it.
pub fn spawn_outbox(pool: sqlx::AnyPool, wake: std::sync::Arc<tokio::sync::Notify>) {
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        loop {
            let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
            if let Err(e) = deliver_due(&pool, &client).await {
                tracing::debug!(error = %e, "alert outbox not read (database unavailable?)");
            }
        }
    });
}

async fn deliver_due(pool: &sqlx::AnyPool, client: &reqwest::Client) -> Result<(), sqlx::Error> {
    let now = crate::store::now_millis();
    let due: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT id, payload, attempts, next_attempt_at FROM webhook_outbox \
         WHERE next_attempt_at <= $1 ORDER BY created_at LIMIT 50",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    if due.is_empty() {
        return Ok(());
    }
    let url = crate::store::alerts::webhook_url(pool)
        .await
        .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    for (id, payload, attempts, due_at) in due {
        // Every instance of a fleet reads the outbox: the one whose claim changes the row
        // delivers, so the receiver gets each alert once.
        let claimed = sqlx::query(
            "UPDATE webhook_outbox SET next_attempt_at = $1 WHERE id = $2 AND next_attempt_at = $3",
        )
        .bind(now + i64::try_from(CLAIM.as_millis()).unwrap_or(0))
        .bind(&id)
        .bind(due_at)
        .execute(pool)
        .await?;
        if claimed.rows_affected() != 1 {
            continue;
        }
        let Some(url) = &url else {
            // The webhook was turned off: nothing to deliver to.
            sqlx::query("DELETE FROM webhook_outbox WHERE id = $1")
                .bind(&id)
                .execute(pool)
                .await?;
            continue;
        };
        let host = host_of(url);
        let attempts = attempts + 1;
        match post(client, url, &payload).await {
            Ok(()) => {
                tracing::info!(%host, "alert sent to the webhook");
                sqlx::query("DELETE FROM webhook_outbox WHERE id = $1")
                    .bind(&id)
                    .execute(pool)
                    .await?;
            }
            Err(e) if attempts >= i64::from(TRIES) => {
                // `without_url`: the URL may hold a token.
                tracing::error!(%host, error = %e.without_url(), "alert webhook failed; alert not delivered");
                sqlx::query("DELETE FROM webhook_outbox WHERE id = $1")
                    .bind(&id)
                    .execute(pool)
                    .await?;
            }
            Err(e) => {
                tracing::warn!(%host, attempts, error = %e.without_url(), "alert webhook failed; retrying");
                let wait = FIRST_RETRY_DELAY * 2u32.pow(u32::try_from(attempts - 1).unwrap_or(0));
                sqlx::query(
                    "UPDATE webhook_outbox SET attempts = $1, next_attempt_at = $2 WHERE id = $3",
                )
                .bind(attempts)
                .bind(crate::store::now_millis() + i64::try_from(wait.as_millis()).unwrap_or(0))
                .bind(&id)
                .execute(pool)
                .await?;
            }
        }
    }
    Ok(())
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
            subject: String::new(),
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
