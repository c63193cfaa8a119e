//! Stored alerts (written by the telemetry batch writer) and the alert delivery settings.

use super::StoreError;
use crate::domain::{AlertView, BudgetReached};
use sqlx::{AnyConnection, AnyPool};

/// Alerts of this kind come from monthly budget thresholds.
pub const BUDGET_ALERT: &str = "budget";
const WEBHOOK_URL: &str = "webhook_url";

/// The newest alerts first, at most `limit`.
pub async fn list(pool: &AnyPool, limit: i64) -> Result<Vec<AlertView>, StoreError> {
    let rows: Vec<(String, String, String, i64, String, i64)> = sqlx::query_as(
        "SELECT kind, account, month, threshold, message, created_at FROM alerts \
         ORDER BY created_at DESC, threshold DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(kind, account, month, threshold, message, at)| AlertView {
            kind,
            account,
            month,
            threshold: u8::try_from(threshold).unwrap_or(u8::MAX),
            message,
            at,
        })
        .collect())
}

/// Per account, the highest budget threshold reached in `month`, in one query.
pub async fn budgets_reached(
    pool: &AnyPool,
    month: &str,
) -> Result<Vec<BudgetReached>, StoreError> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT account, MAX(threshold) FROM alerts WHERE kind = $1 AND month = $2 \
         GROUP BY account ORDER BY account",
    )
    .bind(BUDGET_ALERT)
    .bind(month)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(account, threshold)| BudgetReached {
            account,
            threshold: u8::try_from(threshold).unwrap_or(u8::MAX),
        })
        .collect())
}

pub async fn webhook_url<'e, E>(executor: E) -> Result<Option<String>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row: Option<(String,)> = sqlx::query_as("SELECT value FROM alert_settings WHERE name = $1")
        .bind(WEBHOOK_URL)
        .fetch_optional(executor)
        .await?;
    Ok(row.map(|(url,)| url))
}

/// Sets the webhook URL, or removes it with `None`.
pub async fn set_webhook_url(
    conn: &mut AnyConnection,
    url: Option<&str>,
) -> Result<(), StoreError> {
    match url {
        Some(url) => {
            sqlx::query(
                "INSERT INTO alert_settings (name, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, \
                 updated_at = excluded.updated_at",
            )
            .bind(WEBHOOK_URL)
            .bind(url)
            .bind(super::now_millis())
            .execute(&mut *conn)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM alert_settings WHERE name = $1")
                .bind(WEBHOOK_URL)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}
