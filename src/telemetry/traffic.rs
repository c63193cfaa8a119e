//! Usage rollups and recent traffic. The batch writer sums each batch into minute, hour and
//! day rows of `usage_rollups` (in the transaction that stores the ledger rows, so the two
//! always agree) and into an in-memory ring of the last hour's minutes, which the live stream
//! reads every tick without touching the database.

use super::UsageEvent;
use crate::domain::{Grain, LatencyHistogram, Money, StatusClass, LATENCY_BUCKETS};
use serde::{Deserialize, Serialize};
use sqlx::{Any, AnyPool, Transaction};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Minutes the in-memory ring keeps: the live stream's window.
pub const RECENT_MINUTES: usize = 60;

/// Sums of one group of requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrafficSums {
    pub requests: u64,
    pub errors: u64,
    pub fallbacks: u64,
    pub streamed: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost: Money,
    pub latency_ms_sum: u64,
    pub latency: LatencyHistogram,
}

impl TrafficSums {
    pub fn add_event(&mut self, e: &UsageEvent) {
        self.requests += 1;
        self.errors += u64::from(StatusClass::of(e.status).is_error());
        self.fallbacks += u64::from(e.attempts > 1);
        self.streamed += u64::from(e.stream);
        self.prompt_tokens += e.prompt_tokens;
        self.completion_tokens += e.completion_tokens;
        self.cost += e.cost;
        self.latency_ms_sum += e.latency_ms;
        self.latency.record(e.latency_ms);
    }

    pub fn merge(&mut self, other: &TrafficSums) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.fallbacks += other.fallbacks;
        self.streamed += other.streamed;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.cost += other.cost;
        self.latency_ms_sum += other.latency_ms_sum;
        self.latency.merge(&other.latency);
    }

    pub fn tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// The key of one rollup row.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct RowKey<'a> {
    grain: Grain,
    bucket_ms: i64,
    account: &'a str,
    logical_model: &'a str,
    key_id: &'a str,
    policy: &'a str,
    status_class: StatusClass,
}

fn i(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Adds a batch's sums to the minute, hour and day rows, many rows to a statement.
pub(super) async fn write_rollups(
    tx: &mut Transaction<'_, Any>,
    batch: &[&UsageEvent],
) -> Result<(), sqlx::Error> {
    let mut rows: HashMap<RowKey<'_>, TrafficSums> = HashMap::new();
    for &e in batch {
        for grain in Grain::ALL {
            let key = RowKey {
                grain,
                bucket_ms: grain.bucket_of(e.at_ms),
                account: e.account.as_deref().unwrap_or(""),
                logical_model: &e.logical_model,
                key_id: &e.key_id,
                policy: e.policy.as_deref().unwrap_or(""),
                status_class: StatusClass::of(e.status),
            };
            rows.entry(key).or_default().add_event(e);
        }
    }
    let rows: Vec<_> = rows.into_iter().collect();
    for rows in rows.chunks(super::ROWS_PER_STATEMENT) {
        // One row per key: PostgreSQL refuses a statement that updates the same row twice.
        let sql = format!(
            "INSERT INTO usage_rollups (grain, bucket_ms, account, logical_model, key_id, policy, \
             status_class, requests, fallbacks, streamed, prompt_tokens, completion_tokens, \
             cost_micros, latency_ms_sum, lat_le_100, lat_le_250, lat_le_500, lat_le_1000, \
             lat_le_2500, lat_le_5000, lat_le_10000, lat_le_30000, lat_over) VALUES {} \
             ON CONFLICT (grain, bucket_ms, account, logical_model, key_id, policy, status_class) \
             DO UPDATE SET requests = usage_rollups.requests + excluded.requests, \
             fallbacks = usage_rollups.fallbacks + excluded.fallbacks, \
             streamed = usage_rollups.streamed + excluded.streamed, \
             prompt_tokens = usage_rollups.prompt_tokens + excluded.prompt_tokens, \
             completion_tokens = usage_rollups.completion_tokens + excluded.completion_tokens, \
             cost_micros = usage_rollups.cost_micros + excluded.cost_micros, \
             latency_ms_sum = usage_rollups.latency_ms_sum + excluded.latency_ms_sum, \
             lat_le_100 = usage_rollups.lat_le_100 + excluded.lat_le_100, \
             lat_le_250 = usage_rollups.lat_le_250 + excluded.lat_le_250, \
             lat_le_500 = usage_rollups.lat_le_500 + excluded.lat_le_500, \
             lat_le_1000 = usage_rollups.lat_le_1000 + excluded.lat_le_1000, \
             lat_le_2500 = usage_rollups.lat_le_2500 + excluded.lat_le_2500, \
             lat_le_5000 = usage_rollups.lat_le_5000 + excluded.lat_le_5000, \
             lat_le_10000 = usage_rollups.lat_le_10000 + excluded.lat_le_10000, \
             lat_le_30000 = usage_rollups.lat_le_30000 + excluded.lat_le_30000, \
             lat_over = usage_rollups.lat_over + excluded.lat_over",
            crate::store::values_placeholders(tx, rows.len(), 14 + LATENCY_BUCKETS)
        );
        // Not kept prepared, as the ledger's insert (see `telemetry::insert_usage_events`).
        let mut upsert = sqlx::query(&sql).persistent(false);
        for (key, sums) in rows {
            upsert = upsert
                .bind(key.grain.as_str())
                .bind(key.bucket_ms)
                .bind(key.account)
                .bind(key.logical_model)
                .bind(key.key_id)
                .bind(key.policy)
                .bind(key.status_class.as_str())
                .bind(i(sums.requests))
                .bind(i(sums.fallbacks))
                .bind(i(sums.streamed))
                .bind(i(sums.prompt_tokens))
                .bind(i(sums.completion_tokens))
                .bind(sums.cost.micros())
                .bind(i(sums.latency_ms_sum));
            for n in sums.latency.0 {
                upsert = upsert.bind(i(n));
            }
        }
        upsert.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The columns a sums query selects, in the order `sums_from_row` reads them; `errors` counts
/// the rows whose status class is not 2xx. PostgreSQL sums BIGINT as NUMERIC, hence the casts.
pub const SUMS_COLUMNS: &str = "CAST(SUM(requests) AS BIGINT), \
     CAST(SUM(CASE WHEN status_class = '2xx' THEN 0 ELSE requests END) AS BIGINT), \
     CAST(SUM(fallbacks) AS BIGINT), CAST(SUM(streamed) AS BIGINT), \
     CAST(SUM(prompt_tokens) AS BIGINT), CAST(SUM(completion_tokens) AS BIGINT), \
     CAST(SUM(cost_micros) AS BIGINT), CAST(SUM(latency_ms_sum) AS BIGINT), \
     CAST(SUM(lat_le_100) AS BIGINT), CAST(SUM(lat_le_250) AS BIGINT), \
     CAST(SUM(lat_le_500) AS BIGINT), CAST(SUM(lat_le_1000) AS BIGINT), \
     CAST(SUM(lat_le_2500) AS BIGINT), CAST(SUM(lat_le_5000) AS BIGINT), \
     CAST(SUM(lat_le_10000) AS BIGINT), CAST(SUM(lat_le_30000) AS BIGINT), \
     CAST(SUM(lat_over) AS BIGINT)";

/// Reads the `SUMS_COLUMNS` starting at column `from`. SUM over no rows is NULL: zero.
pub fn sums_from_row(row: &sqlx::any::AnyRow, from: usize) -> Result<TrafficSums, sqlx::Error> {
    use sqlx::Row;
    let n = |i: usize| -> Result<u64, sqlx::Error> {
        let v: Option<i64> = row.try_get(from + i)?;
        Ok(u64::try_from(v.unwrap_or(0)).unwrap_or(0))
    };
    let mut latency = [0u64; LATENCY_BUCKETS];
    for (i, bucket) in latency.iter_mut().enumerate() {
        *bucket = n(8 + i)?;
    }
    Ok(TrafficSums {
        requests: n(0)?,
        errors: n(1)?,
        fallbacks: n(2)?,
        streamed: n(3)?,
        prompt_tokens: n(4)?,
        completion_tokens: n(5)?,
        cost: Money::from_micros(i64::try_from(n(6)?).unwrap_or(i64::MAX)),
        latency_ms_sum: n(7)?,
        latency: LatencyHistogram(latency),
    })
}

/// One minute of the ring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MinuteTraffic {
    pub minute_ms: i64,
    pub sums: TrafficSums,
}

/// The last hour of traffic by minute, in memory: updated by the batch writer after each
/// committed batch, read once per tick by the live stream. The mutex is never held across an
/// await and never taken on the request path.
#[derive(Clone, Default)]
pub struct RecentTraffic {
    minutes: Arc<Mutex<VecDeque<MinuteTraffic>>>,
    /// Ledger rows written since start-up: pages with longer windows refetch when it moves.
    written: Arc<std::sync::atomic::AtomicU64>,
}

impl RecentTraffic {
    pub fn add(&self, batch: &[&UsageEvent]) {
        use std::sync::atomic::Ordering;
        self.written
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let Ok(mut minutes) = self.minutes.lock() else {
            return;
        };
        for &e in batch {
            let minute_ms = Grain::Minute.bucket_of(e.at_ms);
            match minutes.iter_mut().rev().find(|m| m.minute_ms == minute_ms) {
                Some(m) => m.sums.add_event(e),
                None => {
                    let mut m = MinuteTraffic {
                        minute_ms,
                        ..MinuteTraffic::default()
                    };
                    m.sums.add_event(e);
                    let at = minutes.partition_point(|x| x.minute_ms < minute_ms);
                    minutes.insert(at, m);
                }
            }
        }
        while minutes.len() > RECENT_MINUTES {
            minutes.pop_front();
        }
    }

    /// The minutes of the last hour up to `now_ms`, oldest first, missing minutes as zeros.
    pub fn last_hour(&self, now_ms: i64) -> Vec<MinuteTraffic> {
        let current = Grain::Minute.bucket_of(now_ms);
        let first = current - (RECENT_MINUTES as i64 - 1) * Grain::Minute.millis();
        let stored: Vec<MinuteTraffic> = self
            .minutes
            .lock()
            .map(|m| m.iter().copied().collect())
            .unwrap_or_default();
        (0..RECENT_MINUTES as i64)
            .map(|i| first + i * Grain::Minute.millis())
            .map(|minute_ms| {
                stored
                    .iter()
                    .find(|m| m.minute_ms == minute_ms)
                    .copied()
                    .unwrap_or(MinuteTraffic {
                        minute_ms,
                        ..MinuteTraffic::default()
                    })
            })
            .collect()
    }

    pub fn written(&self) -> u64 {
        self.written.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Fills the ring from the minute rollups at start-up, so the live figures survive a restart.
    pub async fn resume(&self, pool: &AnyPool, now_ms: i64) -> Result<(), sqlx::Error> {
        use sqlx::Row;
        let since = Grain::Minute.bucket_of(now_ms) - (RECENT_MINUTES as i64 - 1) * 60_000;
        let rows = sqlx::query(&format!(
            "SELECT bucket_ms, {SUMS_COLUMNS} FROM usage_rollups WHERE grain = 'minute' \
             AND bucket_ms >= $1 GROUP BY bucket_ms ORDER BY bucket_ms"
        ))
        .bind(since)
        .fetch_all(pool)
        .await?;
        let mut resumed = VecDeque::new();
        for row in &rows {
            resumed.push_back(MinuteTraffic {
                minute_ms: row.try_get(0)?,
                sums: sums_from_row(row, 1)?,
            });
        }
        if let Ok(mut minutes) = self.minutes.lock() {
            *minutes = resumed;
        }
        Ok(())
    }
}
