//! Health of a provider account, from real traffic (latency EWMA, error rate over the last five
//! minutes) and from active probes.

pub use crate::domain::HealthLevel;
use serde::{Deserialize, Serialize};

/// Weight of the newest latency sample: about the last ten requests dominate.
pub const LATENCY_EWMA_ALPHA: f64 = 0.2;
/// The error rate is measured over this many one-minute buckets.
pub const ERROR_WINDOW_MINUTES: u64 = 5;
/// Fewer requests than this say too little to judge an error rate.
pub const MIN_REQUESTS_FOR_ERROR_RATE: u32 = 5;
/// Below that sample, this many recent calls that all failed still mark the account
/// unhealthy (fewer, all failed, mark it failing: shown red, routed like degraded): an account
/// failing every call must never read healthy for want of traffic.
pub const ALL_FAILED_UNHEALTHY: u32 = 3;
pub const DEGRADED_ERROR_RATE: f64 = 0.10;
pub const UNHEALTHY_ERROR_RATE: f64 = 0.50;
/// Average latency at or above this marks the account degraded.
pub const DEGRADED_LATENCY_MS: f64 = 8_000.0;
/// A probe result older than this no longer speaks for the account.
pub const PROBE_FRESH_MS: u64 = 5 * 60_000;

const MINUTE_MS: u64 = 60_000;
const MINUTES: usize = ERROR_WINDOW_MINUTES as usize;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub level: HealthLevel,
    pub reason: String,
}

/// The result of one active probe of an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeResult {
    pub at_ms: u64,
    pub ok: bool,
    pub latency_ms: u64,
    /// The error when it failed, e.g. `connection refused`.
    pub detail: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct MinuteCount {
    minute: u64,
    requests: u32,
    failures: u32,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct HealthTracker {
    latency_ewma_ms: Option<f64>,
    minutes: [MinuteCount; MINUTES],
    last_probe: Option<ProbeResult>,
    /// The provider refused the account's credentials (HTTP 401/403), with that status; only a
    /// call or probe that succeeds again clears it.
    credentials_rejected: Option<u16>,
}

impl HealthTracker {
    /// Records one provider call. Only provider faults (connect errors, timeouts, 429, 5xx)
    /// should be passed as failures: a bad request is the caller's fault, not the account's.
    pub fn record_outcome(&mut self, ok: bool, latency_ms: u64, now_ms: u64) {
        let sample = latency_ms as f64;
        self.latency_ewma_ms = Some(match self.latency_ewma_ms {
            None => sample,
            Some(avg) => avg + LATENCY_EWMA_ALPHA * (sample - avg),
        });
        let minute = now_ms / MINUTE_MS;
        let slot = &mut self.minutes[(minute % ERROR_WINDOW_MINUTES) as usize];
        if slot.minute != minute {
            *slot = MinuteCount {
                minute,
                requests: 0,
                failures: 0,
            };
        }
        slot.requests = slot.requests.saturating_add(1);
        if ok {
            self.credentials_rejected = None;
        } else {
            slot.failures = slot.failures.saturating_add(1);
        }
    }

    pub fn record_probe(&mut self, probe: ProbeResult) {
        if probe.ok {
            self.credentials_rejected = None;
        }
        self.last_probe = Some(probe);
    }

    /// The provider answered 401 or 403: the key was revoked or is wrong. The account stays
    /// unhealthy until it answers again.
    pub fn reject_credentials(&mut self, status: u16) {
        self.credentials_rejected = Some(status);
    }

    pub fn latency_ewma_ms(&self) -> Option<f64> {
        self.latency_ewma_ms
    }

    /// (failures, requests) over the last five minutes.
    pub fn recent_errors(&self, now_ms: u64) -> (u32, u32) {
        let minute = now_ms / MINUTE_MS;
        self.minutes
            .iter()
            .filter(|m| m.minute <= minute && minute - m.minute < ERROR_WINDOW_MINUTES)
            .fold((0, 0), |(f, r), m| (f + m.failures, r + m.requests))
    }

    pub fn assess(&self, now_ms: u64) -> Health {
        let (failures, requests) = self.recent_errors(now_ms);
        let error_rate = (requests >= MIN_REQUESTS_FOR_ERROR_RATE)
            .then(|| f64::from(failures) / f64::from(requests));
        let errors_reason = || {
            format!(
                "error rate {:.0}% over the last {ERROR_WINDOW_MINUTES} minutes ({failures} of {requests} requests)",
                error_rate.unwrap_or(0.0) * 100.0
            )
        };
        let fresh_probe = self
            .last_probe
            .as_ref()
            .filter(|p| p.at_ms <= now_ms && now_ms - p.at_ms < PROBE_FRESH_MS);

        if let Some(status) = self.credentials_rejected {
            return Health {
                level: HealthLevel::Unhealthy,
                reason: format!("credentials rejected (the provider answered HTTP {status})"),
            };
        }
        if let Some(probe) = fresh_probe.filter(|p| !p.ok) {
            let ago = (now_ms - probe.at_ms) / 1000;
            return Health {
                level: HealthLevel::Unhealthy,
                reason: format!("last probe failed {ago}s ago: {}", probe.detail),
            };
        }
        if error_rate.is_some_and(|r| r >= UNHEALTHY_ERROR_RATE) {
            return Health {
                level: HealthLevel::Unhealthy,
                reason: errors_reason(),
            };
        }
        if error_rate.is_some_and(|r| r >= DEGRADED_ERROR_RATE) {
            return Health {
                level: HealthLevel::Degraded,
                reason: errors_reason(),
            };
        }
        if error_rate.is_none() && failures > 0 && failures == requests {
            let level = if failures >= ALL_FAILED_UNHEALTHY {
                HealthLevel::Unhealthy
            } else {
                HealthLevel::Failing
            };
            return Health {
                level,
                reason: if requests == 1 {
                    format!("the one request in the last {ERROR_WINDOW_MINUTES} minutes failed")
                } else {
                    format!(
                        "all {requests} requests in the last {ERROR_WINDOW_MINUTES} minutes failed"
                    )
                },
            };
        }
        if let Some(avg) = self
            .latency_ewma_ms
            .filter(|avg| *avg >= DEGRADED_LATENCY_MS)
        {
            return Health {
                level: HealthLevel::Degraded,
                reason: format!(
                    "average latency {:.1}s (degraded from {:.0}s)",
                    avg / 1000.0,
                    DEGRADED_LATENCY_MS / 1000.0
                ),
            };
        }
        let reason = match (requests, fresh_probe) {
            (0, None) => "no recent traffic or probe".to_string(),
            (0, Some(_)) => "last probe succeeded".to_string(),
            _ if error_rate.is_none() => format!(
                "{failures} of {requests} requests failed in the last {ERROR_WINDOW_MINUTES} minutes, too few to judge"
            ),
            _ => errors_reason(),
        };
        Health {
            level: HealthLevel::Healthy,
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_795_000_000_000 - (1_795_000_000_000 % MINUTE_MS);

    fn probe(at_ms: u64, ok: bool) -> ProbeResult {
        ProbeResult {
            at_ms,
            ok,
            latency_ms: 120,
            detail: if ok {
                String::new()
            } else {
                "connection refused".into()
            },
        }
    }

    #[test]
    fn assessment_levels_and_reasons() {
        // (label, outcomes as (ok, latency), probe, assess at, level, reason fragment)
        type Case = (
            &'static str,
            Vec<(bool, u64)>,
            Option<ProbeResult>,
            u64,
            HealthLevel,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (
                "nothing known",
                vec![],
                None,
                T0,
                HealthLevel::Healthy,
                "no recent traffic or probe",
            ),
            (
                "probe ok only",
                vec![],
                Some(probe(T0, true)),
                T0 + 1_000,
                HealthLevel::Healthy,
                "last probe succeeded",
            ),
            (
                "clean traffic",
                vec![(true, 300); 10],
                None,
                T0,
                HealthLevel::Healthy,
                "error rate 0% over the last 5 minutes (0 of 10 requests)",
            ),
            (
                "one error of ten is degraded",
                [vec![(true, 300); 9], vec![(false, 300)]].concat(),
                None,
                T0,
                HealthLevel::Degraded,
                "error rate 10%",
            ),
            (
                "half failing is unhealthy",
                [vec![(true, 300); 3], vec![(false, 300); 3]].concat(),
                None,
                T0,
                HealthLevel::Unhealthy,
                "3 of 6 requests",
            ),
            (
                "too few requests to judge a rate",
                [vec![(true, 300); 3], vec![(false, 300)]].concat(),
                None,
                T0,
                HealthLevel::Healthy,
                "1 of 4",
            ),
            (
                "every call failing is unhealthy whatever the sample",
                vec![(false, 300); 3],
                None,
                T0,
                HealthLevel::Unhealthy,
                "all 3 requests in the last 5 minutes failed",
            ),
            (
                "a single failed call is failing",
                vec![(false, 300); 1],
                None,
                T0,
                HealthLevel::Failing,
                "the one request in the last 5 minutes failed",
            ),
            (
                "one or two calls, all failed, are failing",
                vec![(false, 300); 2],
                None,
                T0,
                HealthLevel::Failing,
                "all 2 requests",
            ),
            (
                "errors age out after five minutes",
                vec![(false, 300); 10],
                None,
                T0 + 5 * MINUTE_MS,
                HealthLevel::Healthy,
                "no recent traffic or probe",
            ),
            (
                "failed fresh probe",
                vec![(true, 300); 10],
                Some(probe(T0, false)),
                T0 + 40_000,
                HealthLevel::Unhealthy,
                "last probe failed 40s ago: connection refused",
            ),
            (
                "stale failed probe ignored",
                vec![],
                Some(probe(T0, false)),
                T0 + PROBE_FRESH_MS,
                HealthLevel::Healthy,
                "no recent traffic or probe",
            ),
            (
                "slow is degraded",
                vec![(true, 9_000); 3],
                None,
                T0,
                HealthLevel::Degraded,
                "average latency 9.0s",
            ),
        ];
        for (label, outcomes, last_probe, at, level, fragment) in cases {
            let mut tracker = HealthTracker::default();
            for (ok, latency) in outcomes {
                tracker.record_outcome(ok, latency, T0);
            }
            if let Some(p) = last_probe {
                tracker.record_probe(p);
            }
            let health = tracker.assess(at);
            assert_eq!(health.level, level, "{label}: {}", health.reason);
            assert!(
                health.reason.contains(fragment),
                "{label}: {}",
                health.reason
            );
        }
    }

    #[test]
    fn latency_is_an_exponentially_weighted_average() {
        let mut tracker = HealthTracker::default();
        assert_eq!(tracker.latency_ewma_ms(), None);
        tracker.record_outcome(true, 1_000, T0);
        assert_eq!(tracker.latency_ewma_ms(), Some(1_000.0));
        tracker.record_outcome(true, 2_000, T0);
        let close = |want: f64| {
            tracker
                .latency_ewma_ms()
                .is_some_and(|got| (got - want).abs() < 1e-9)
        };
        assert!(close(1_200.0), "{:?}", tracker.latency_ewma_ms());
        tracker.record_outcome(false, 200, T0 + MINUTE_MS);
        let close = |want: f64| {
            tracker
                .latency_ewma_ms()
                .is_some_and(|got| (got - want).abs() < 1e-9)
        };
        assert!(close(1_000.0), "{:?}", tracker.latency_ewma_ms());
        assert_eq!(tracker.recent_errors(T0 + MINUTE_MS), (1, 3));
    }

    #[test]
    fn rejected_credentials_keep_the_account_unhealthy_until_a_call_succeeds() {
        let mut health = HealthTracker::default();
        health.reject_credentials(401);
        let assessed = health.assess(T0);
        assert_eq!(assessed.level, HealthLevel::Unhealthy);
        assert!(
            assessed.reason.starts_with("credentials rejected"),
            "{}",
            assessed.reason
        );
        health.record_outcome(false, 10, T0);
        assert_eq!(health.assess(T0).level, HealthLevel::Unhealthy);
        health.record_outcome(true, 10, T0);
        assert_eq!(health.assess(T0).level, HealthLevel::Healthy);
    }
}
