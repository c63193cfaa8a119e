//! Stored alerts (written by the telemetry batch writer) and the alert delivery settings.

use super::StoreError;
use crate::domain::{AlertView, BudgetReached, Condition, ConditionChange};
use sqlx::{AnyConnection, AnyPool};

/// Alerts of this kind come from monthly budget thresholds.
pub const BUDGET_ALERT: &str = "budget";
use crate::domain::KEY_SUBJECT;
const WEBHOOK_URL: &str = "webhook_url";

type AlertRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    i64,
    Option<i64>,
    Option<String>,
);

const ALERT_COLUMNS: &str = "id, kind, account, subject, month, threshold, message, created_at, \
     resolved_at, acknowledged_by";

fn alert_view(row: AlertRow) -> AlertView {
    let (id, kind, account, subject, month, threshold, message, at, resolved_at, acknowledged_by) =
        row;
    AlertView {
        id,
        kind,
        account,
        subject,
        month,
        threshold: u8::try_from(threshold).unwrap_or(u8::MAX),
        message,
        at,
        resolved_at,
        acknowledged_by,
    }
}

/// The newest alerts first, at most `limit`: all of them, or one account's.
pub async fn list(
    pool: &AnyPool,
    account: Option<&str>,
    limit: i64,
) -> Result<Vec<AlertView>, sqlx::Error> {
    let rows: Vec<AlertRow> = sqlx::query_as(&format!(
        "SELECT {ALERT_COLUMNS} FROM alerts WHERE $1 IS NULL OR account = $1 \
         ORDER BY created_at DESC, threshold DESC LIMIT $2"
    ))
    .bind(account)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(alert_view).collect())
}

/// Alerts that open and close, still open and not acknowledged, newest first: the banner's.
pub async fn needing_attention(pool: &AnyPool) -> Result<Vec<AlertView>, StoreError> {
    let rows: Vec<AlertRow> = sqlx::query_as(&format!(
        "SELECT {ALERT_COLUMNS} FROM alerts WHERE kind <> $1 AND resolved_at IS NULL \
         AND acknowledged = 0 ORDER BY created_at DESC LIMIT 50"
    ))
    .bind(BUDGET_ALERT)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(alert_view).collect())
}

/// Marks an alert acknowledged by `user`; false when there is no such alert.
pub async fn acknowledge(
    conn: &mut AnyConnection,
    id: &str,
    user: &str,
) -> Result<bool, StoreError> {
    let changed = sqlx::query(
        "UPDATE alerts SET acknowledged = 1, acknowledged_by = $1, acknowledged_at = $2 \
         WHERE id = $3 AND acknowledged = 0",
    )
    .bind(user)
    .bind(super::now_millis())
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if changed > 0 {
        return Ok(true);
    }
    let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM alerts WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(exists.is_some())
}

/// Alerts that open and close and are open now, with their message.
pub async fn open_conditions(pool: &AnyPool) -> Result<Vec<(Condition, String)>, StoreError> {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT kind, account, subject, message FROM alerts \
         WHERE kind <> $1 AND resolved_at IS NULL",
    )
    .bind(BUDGET_ALERT)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(kind, account, subject, message)| {
            (
                Condition {
                    kind,
                    account,
                    subject,
                },
                message,
            )
        })
        .collect())
}

/// Opens an alert for a condition that started (a no-op while one is open for it), or resolves
/// the open one when it cleared; returns whether anything changed.
pub async fn store_condition<'e, E>(
    executor: E,
    change: &ConditionChange,
) -> Result<bool, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let c = &change.condition;
    let changed = if change.raised {
        let month = crate::routing::month_of(u64::try_from(change.at_ms).unwrap_or(0));
        sqlx::query(
            "INSERT INTO alerts (id, kind, account, subject, month, threshold, message, created_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6, $7) ON CONFLICT (kind, account, subject) \
             WHERE resolved_at IS NULL AND kind <> 'budget' DO NOTHING",
        )
        .bind(super::new_id())
        .bind(&c.kind)
        .bind(&c.account)
        .bind(&c.subject)
        .bind(month)
        .bind(&change.message)
        .bind(change.at_ms)
        .execute(executor)
        .await?
        .rows_affected()
    } else {
        sqlx::query(
            "UPDATE alerts SET resolved_at = $1 WHERE kind = $2 AND account = $3 \
             AND subject = $4 AND resolved_at IS NULL",
        )
        .bind(change.at_ms)
        .bind(&c.kind)
        .bind(&c.account)
        .bind(&c.subject)
        .execute(executor)
        .await?
        .rows_affected()
    };
    Ok(changed > 0)
}

/// Per account, the highest budget threshold reached in `month`, in one query.
pub async fn budgets_reached(
    pool: &AnyPool,
    month: &str,
) -> Result<Vec<BudgetReached>, StoreError> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT account, subject, MAX(threshold) FROM alerts WHERE kind = $1 AND month = $2 \
         GROUP BY account, subject ORDER BY subject, account",
    )
    .bind(BUDGET_ALERT)
    .bind(month)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(account, subject, threshold)| BudgetReached {
            key: subject == KEY_SUBJECT,
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
