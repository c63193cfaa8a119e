//! Per-arm figures of canary split policies, summed from the usage ledger (off the request
//! path: the ledger is written in batches by the telemetry writer).

use super::StoreError;
use sqlx::AnyPool;

/// One arm of one split policy over a time window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArmTotals {
    pub policy: String,
    pub arm: String,
    pub requests: i64,
    /// Requests the app got a 200 for.
    pub successes: i64,
    /// Sum over every request, to average.
    pub latency_ms: i64,
    pub cost_micros: i64,
}

/// Every (policy, arm) with traffic since `since_ms`. The sums are cast to BIGINT because
/// PostgreSQL sums BIGINT columns as NUMERIC, which the `Any` driver cannot read. Only split
/// policies set an arm, so `arm IS NOT NULL` alone selects their rows, through the partial
/// index `usage_events_arm_at`.
pub async fn arm_totals(pool: &AnyPool, since_ms: i64) -> Result<Vec<ArmTotals>, StoreError> {
    let rows: Vec<(String, String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT policy, arm, COUNT(*), \
         CAST(SUM(CASE WHEN status = 200 THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(latency_ms) AS BIGINT), CAST(SUM(cost_micros) AS BIGINT) \
         FROM usage_events WHERE arm IS NOT NULL AND at_ms >= $1 \
         GROUP BY policy, arm ORDER BY policy, arm",
    )
    .bind(since_ms)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(policy, arm, requests, successes, latency_ms, cost_micros)| ArmTotals {
                policy,
                arm,
                requests,
                successes,
                latency_ms,
                cost_micros,
            },
        )
        .collect())
}
