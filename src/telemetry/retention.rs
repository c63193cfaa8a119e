//! Deletes ledger rows older than the retention setting, and minute rollups older than a week
//! (longer windows read the hour and day rollups, which are kept). Runs hourly, off the
//! request path, in bounded batches so a large backlog never holds one long transaction.

use crate::domain::Grain;
use sqlx::AnyPool;
use std::time::Duration;

/// Minute rollups older than this are deleted; charts over longer windows use hours or days.
pub const MINUTE_ROLLUP_DAYS: i64 = 7;
const DAY_MS: i64 = 86_400_000;
const FIRST_PRUNE: Duration = Duration::from_secs(60);
const EVERY: Duration = Duration::from_secs(3600);
/// Rows deleted per statement.
const CHUNK: i64 = 10_000;

/// Prunes a minute after start-up (which stays free of this I/O) and then every hour, until the
/// runtime stops. `retention_days` 0 keeps the ledger.
pub fn spawn(pool: AnyPool, retention_days: u32) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + FIRST_PRUNE, EVERY);
        loop {
            ticks.tick().await;
            match prune(&pool, retention_days, crate::store::now_millis()).await {
                Ok((0, 0)) => {}
                Ok((events, minutes)) => {
                    tracing::info!(events, minutes, "pruned old usage rows")
                }
                Err(e) => tracing::warn!(error = %e, "usage pruning failed; retried next hour"),
            }
        }
    });
}

/// Deletes what is past its keep time at `now_ms`; returns (ledger rows, minute rollup rows).
pub async fn prune(
    pool: &AnyPool,
    retention_days: u32,
    now_ms: i64,
) -> Result<(u64, u64), sqlx::Error> {
    let mut events = 0;
    if retention_days > 0 {
        let before = now_ms - i64::from(retention_days) * DAY_MS;
        loop {
            let deleted = sqlx::query(
                "DELETE FROM usage_events WHERE id IN \
                 (SELECT id FROM usage_events WHERE at_ms < $1 LIMIT $2)",
            )
            .bind(before)
            .bind(CHUNK)
            .execute(pool)
            .await?
            .rows_affected();
            events += deleted;
            if deleted < CHUNK as u64 {
                break;
            }
        }
    }
    let minutes = sqlx::query("DELETE FROM usage_rollups WHERE grain = $1 AND bucket_ms < $2")
        .bind(Grain::Minute.as_str())
        .bind(now_ms - MINUTE_ROLLUP_DAYS * DAY_MS)
        .execute(pool)
        .await?
        .rows_affected();
    Ok((events, minutes))
}
