//! Minute rollups of the per-policy counters: once a minute (and once more at shutdown) the
//! growth of each policy's live counters since the last round is added to
//! `policy_stats_minute`. Off the request path; the counters themselves are atomics the proxy
//! bumps.

use super::TelemetryError;
use crate::routing::{LiveState, PolicyStatsSnapshot};
use crate::snapshot::SharedConfig;
use sqlx::AnyPool;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

const MINUTE_MS: i64 = 60_000;

#[derive(Clone)]
pub struct PolicyRollups {
    pool: AnyPool,
    config: SharedConfig,
    live: Arc<LiveState>,
    /// Each policy's totals as last written; held only by one round at a time.
    written: Arc<Mutex<HashMap<String, PolicyStatsSnapshot>>>,
}

impl PolicyRollups {
    pub fn new(pool: AnyPool, config: SharedConfig, live: Arc<LiveState>) -> Self {
        PolicyRollups {
            pool,
            config,
            live,
            written: Arc::default(),
        }
    }

    /// Writes a round every `every`, until the runtime stops.
    pub fn spawn(&self, every: Duration) {
        let rollups = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                ticks.tick().await;
                rollups.write_logged().await;
            }
        });
    }

    /// One round; a failure is logged and its growth written by the next round.
    pub async fn write_logged(&self) {
        if let Err(e) = self.write().await {
            tracing::warn!(error = %e, "policy rollup not written; retried next round");
        }
    }

    /// Writes what grew since the last round, then remembers the new totals. A failed write
    /// keeps the old totals, so the next round writes the growth of both.
    pub async fn write(&self) -> Result<(), TelemetryError> {
        let mut written = self.written.lock().await;
        let minute_ms = crate::store::now_millis().div_euclid(MINUTE_MS) * MINUTE_MS;
        let snapshot = self.config.load();
        let mut grown = Vec::new();
        for policy in snapshot.routing.policies() {
            let now = self.live.policy_stats(&policy.name);
            let before = written.get(&policy.name).copied().unwrap_or_default();
            let delta = |now: u64, before: u64| {
                i64::try_from(now.saturating_sub(before)).unwrap_or(i64::MAX)
            };
            let row = (
                delta(now.matches, before.matches),
                delta(now.successes, before.successes),
                delta(now.errors, before.errors),
                delta(now.fallbacks, before.fallbacks),
                delta(now.retries, before.retries),
            );
            if row != (0, 0, 0, 0, 0) {
                grown.push((policy.name.clone(), now, row));
            }
        }
        if grown.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for (policy, _, (matches, successes, errors, fallbacks, retries)) in &grown {
            sqlx::query(
                "INSERT INTO policy_stats_minute (policy, minute_ms, matches, successes, errors, \
                 fallbacks, retries) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (policy, minute_ms) DO \
                 UPDATE SET matches = policy_stats_minute.matches + excluded.matches, \
                 successes = policy_stats_minute.successes + excluded.successes, \
                 errors = policy_stats_minute.errors + excluded.errors, \
                 fallbacks = policy_stats_minute.fallbacks + excluded.fallbacks, \
                 retries = policy_stats_minute.retries + excluded.retries",
            )
            .bind(policy)
            .bind(minute_ms)
            .bind(matches)
            .bind(successes)
            .bind(errors)
            .bind(fallbacks)
            .bind(retries)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        for (policy, now, _) in grown {
            written.insert(policy, now);
        }
        Ok(())
    }
}
