//! Traffic figures shared by the rollup writer, the live stream and the dashboard: a latency
//! histogram with fixed buckets (so sums over time and dimensions stay exact) and the status
//! classes requests are counted by.

use serde::{Deserialize, Serialize};

/// Upper bounds (ms, inclusive) of the latency buckets; one more bucket holds the rest. They
/// match the `lat_le_*` / `lat_over` columns of `usage_rollups`.
pub const LATENCY_BOUNDS_MS: [u64; 8] = [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000];
pub const LATENCY_BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;

/// Requests counted per latency bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyHistogram(pub [u64; LATENCY_BUCKETS]);

impl LatencyHistogram {
    pub fn record(&mut self, latency_ms: u64) {
        let bucket = LATENCY_BOUNDS_MS
            .iter()
            .position(|bound| latency_ms <= *bound)
            .unwrap_or(LATENCY_BOUNDS_MS.len());
        self.0[bucket] += 1;
    }

    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }

    pub fn count(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The `q`-quantile (0..=1) in ms, interpolated linearly inside its bucket; `None` without
    /// requests. The open last bucket reports its lower bound, the most the data can say.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total as f64;
        let mut below = 0u64;
        for (i, count) in self.0.iter().enumerate() {
            let count = *count;
            if count > 0 && (below + count) as f64 >= rank {
                let low = if i == 0 { 0 } else { LATENCY_BOUNDS_MS[i - 1] } as f64;
                let Some(high) = LATENCY_BOUNDS_MS.get(i) else {
                    return Some(low);
                };
                let within = ((rank - below as f64) / count as f64).clamp(0.0, 1.0);
                return Some(low + (*high as f64 - low) * within);
            }
            below += count;
        }
        LATENCY_BOUNDS_MS.last().map(|b| *b as f64)
    }
}

/// The status the app received, grouped as the dashboard counts errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum StatusClass {
    Success,
    ClientError,
    ServerError,
}

impl StatusClass {
    pub fn of(status: u16) -> StatusClass {
        match status {
            0..=399 => StatusClass::Success,
            400..=499 => StatusClass::ClientError,
            _ => StatusClass::ServerError,
        }
    }

    /// As stored in `usage_rollups.status_class`.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusClass::Success => "2xx",
            StatusClass::ClientError => "4xx",
            StatusClass::ServerError => "5xx",
        }
    }

    pub fn is_error(self) -> bool {
        self != StatusClass::Success
    }
}

/// The time buckets usage is summed into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Grain {
    Minute,
    Hour,
    Day,
}

impl Grain {
    pub const ALL: [Grain; 3] = [Grain::Minute, Grain::Hour, Grain::Day];

    pub fn millis(self) -> i64 {
        match self {
            Grain::Minute => 60_000,
            Grain::Hour => 3_600_000,
            Grain::Day => 86_400_000,
        }
    }

    /// The start of the bucket holding `at_ms` (days are UTC days).
    pub fn bucket_of(self, at_ms: i64) -> i64 {
        at_ms.div_euclid(self.millis()) * self.millis()
    }

    /// As stored in `usage_rollups.grain`.
    pub fn as_str(self) -> &'static str {
        match self {
            Grain::Minute => "minute",
            Grain::Hour => "hour",
            Grain::Day => "day",
        }
    }

    /// The rate unit of a per-bucket count (`req/min`).
    pub fn per(self) -> &'static str {
        match self {
            Grain::Minute => "min",
            Grain::Hour => "h",
            Grain::Day => "day",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_inclusive_upper_bounds() {
        let mut h = LatencyHistogram::default();
        for ms in [0, 100, 101, 30_000, 30_001] {
            h.record(ms);
        }
        assert_eq!(h.0, [2, 1, 0, 0, 0, 0, 0, 1, 1]);
    }

    #[test]
    fn quantiles_interpolate_within_a_bucket() {
        let mut h = LatencyHistogram::default();
        assert_eq!(h.quantile(0.5), None);
        for _ in 0..10 {
            h.record(300); // 250..500
        }
        assert_eq!(h.quantile(0.5), Some(375.0));
        assert_eq!(h.quantile(1.0), Some(500.0));
        h.record(60_000);
        assert_eq!(h.quantile(1.0), Some(30_000.0));
    }

    #[test]
    fn buckets_start_on_the_grain() {
        let at = 1_795_000_123_456;
        assert_eq!(Grain::Minute.bucket_of(at) % 60_000, 0);
        assert!(Grain::Day.bucket_of(at) <= at && at - Grain::Day.bucket_of(at) < 86_400_000);
    }

    #[test]
    fn status_classes() {
        assert_eq!(StatusClass::of(200), StatusClass::Success);
        assert!(StatusClass::of(429).is_error());
        assert_eq!(StatusClass::of(503).as_str(), "5xx");
    }
}
