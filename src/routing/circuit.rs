//! Circuit breaker per target: closed → open after `failure_threshold` consecutive failures;
//! open for the recovery window; then half-open, where exactly one trial request goes through;
//! its success closes the circuit, its failure re-opens it.

use crate::domain::CircuitBreakerSettings;
pub use crate::domain::CircuitState;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CircuitBreaker {
    Closed {
        consecutive_failures: u32,
    },
    /// After `until_ms` the next request is the trial.
    Open {
        until_ms: u64,
    },
    /// The trial request is in flight since `trial_started_ms`. A trial that never reports back
    /// (client gone, task dropped) is given up after one recovery window, so the circuit cannot
    /// stay half-open forever.
    HalfOpen {
        trial_started_ms: u64,
    },
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        CircuitBreaker::Closed {
            consecutive_failures: 0,
        }
    }
}

/// What the breaker says about one more request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// Allowed as the single half-open trial.
    Trial,
    Open {
        until_ms: u64,
    },
    TrialInFlight,
}

impl CircuitBreaker {
    /// Pure: what `admit` would answer now, without claiming the trial.
    pub fn check(&self, settings: CircuitBreakerSettings, now_ms: u64) -> Admission {
        match *self {
            CircuitBreaker::Closed { .. } => Admission::Allowed,
            CircuitBreaker::Open { until_ms } if now_ms < until_ms => Admission::Open { until_ms },
            CircuitBreaker::Open { .. } => Admission::Trial,
            CircuitBreaker::HalfOpen { trial_started_ms }
                if now_ms < trial_started_ms.saturating_add(settings.recovery_ms()) =>
            {
                Admission::TrialInFlight
            }
            CircuitBreaker::HalfOpen { .. } => Admission::Trial,
        }
    }

    /// Like `check`, and when the answer is `Trial` the trial is claimed, so a concurrent
    /// request gets `TrialInFlight`.
    pub fn admit(&mut self, settings: CircuitBreakerSettings, now_ms: u64) -> Admission {
        let admission = self.check(settings, now_ms);
        if admission == Admission::Trial {
            *self = CircuitBreaker::HalfOpen {
                trial_started_ms: now_ms,
            };
        }
        admission
    }

    /// A success proves the target answers, whatever the state was.
    pub fn record_success(&mut self) {
        *self = CircuitBreaker::default();
    }

    pub fn record_failure(&mut self, settings: CircuitBreakerSettings, now_ms: u64) {
        let reopen = CircuitBreaker::Open {
            until_ms: now_ms.saturating_add(settings.recovery_ms()),
        };
        *self = match *self {
            CircuitBreaker::Closed {
                consecutive_failures,
            } => {
                let failures = consecutive_failures.saturating_add(1);
                if failures >= settings.failure_threshold {
                    reopen
                } else {
                    CircuitBreaker::Closed {
                        consecutive_failures: failures,
                    }
                }
            }
            // A late failure from a request sent before the circuit opened changes nothing.
            open @ CircuitBreaker::Open { .. } => open,
            CircuitBreaker::HalfOpen { .. } => reopen,
        };
    }

    pub fn state(&self, now_ms: u64) -> CircuitState {
        match *self {
            CircuitBreaker::Closed { .. } => CircuitState::Closed,
            CircuitBreaker::Open { until_ms } if now_ms < until_ms => CircuitState::Open,
            CircuitBreaker::Open { .. } | CircuitBreaker::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }

    /// When an open circuit lets its trial through, for the dashboard.
    pub fn reopens_at_ms(&self) -> Option<u64> {
        match *self {
            CircuitBreaker::Open { until_ms } => Some(until_ms),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: CircuitBreakerSettings = CircuitBreakerSettings {
        failure_threshold: 3,
        recovery_seconds: 30,
    };

    #[derive(Clone, Copy, Debug)]
    enum Event {
        Fail(u64),
        Succeed,
        Admit(u64, Admission),
    }
    use Event::*;

    #[test]
    fn state_machine_follows_the_rules() {
        let cases: &[(&str, &[Event], CircuitBreaker)] = &[
            (
                "stays closed below threshold",
                &[Fail(0), Fail(1), Admit(2, Admission::Allowed)],
                CircuitBreaker::Closed {
                    consecutive_failures: 2,
                },
            ),
            (
                "success resets the count",
                &[Fail(0), Fail(1), Succeed, Fail(2), Fail(3)],
                CircuitBreaker::Closed {
                    consecutive_failures: 2,
                },
            ),
            (
                "opens at threshold",
                &[
                    Fail(0),
                    Fail(1),
                    Fail(1_000),
                    Admit(30_999, Admission::Open { until_ms: 31_000 }),
                ],
                CircuitBreaker::Open { until_ms: 31_000 },
            ),
            (
                "late failure while open keeps the window",
                &[Fail(0), Fail(0), Fail(0), Fail(10_000)],
                CircuitBreaker::Open { until_ms: 30_000 },
            ),
            (
                "half-open lets exactly one trial through",
                &[
                    Fail(0),
                    Fail(0),
                    Fail(0),
                    Admit(30_000, Admission::Trial),
                    Admit(30_001, Admission::TrialInFlight),
                ],
                CircuitBreaker::HalfOpen {
                    trial_started_ms: 30_000,
                },
            ),
            (
                "trial success closes",
                &[
                    Fail(0),
                    Fail(0),
                    Fail(0),
                    Admit(30_000, Admission::Trial),
                    Succeed,
                    Admit(30_002, Admission::Allowed),
                ],
                CircuitBreaker::Closed {
                    consecutive_failures: 0,
                },
            ),
            (
                "trial failure re-opens for a new window",
                &[
                    Fail(0),
                    Fail(0),
                    Fail(0),
                    Admit(30_000, Admission::Trial),
                    Fail(31_000),
                    Admit(60_999, Admission::Open { until_ms: 61_000 }),
                ],
                CircuitBreaker::Open { until_ms: 61_000 },
            ),
            (
                "a lost trial is given up after a recovery window",
                &[
                    Fail(0),
                    Fail(0),
                    Fail(0),
                    Admit(30_000, Admission::Trial),
                    Admit(59_999, Admission::TrialInFlight),
                    Admit(60_000, Admission::Trial),
                ],
                CircuitBreaker::HalfOpen {
                    trial_started_ms: 60_000,
                },
            ),
        ];
        for (label, events, expected) in cases {
            let mut breaker = CircuitBreaker::default();
            for event in *events {
                match *event {
                    Fail(at) => breaker.record_failure(SETTINGS, at),
                    Succeed => breaker.record_success(),
                    Admit(at, want) => {
                        assert_eq!(breaker.admit(SETTINGS, at), want, "{label} at {at}")
                    }
                }
            }
            assert_eq!(breaker, *expected, "{label}");
        }
    }

    #[test]
    fn check_does_not_claim_the_trial() {
        let mut breaker = CircuitBreaker::Open { until_ms: 100 };
        assert_eq!(breaker.check(SETTINGS, 100), Admission::Trial);
        assert_eq!(breaker.check(SETTINGS, 100), Admission::Trial);
        assert_eq!(breaker.admit(SETTINGS, 150), Admission::Trial);
        assert_eq!(breaker.check(SETTINGS, 151), Admission::TrialInFlight);
        assert_eq!(
            breaker,
            CircuitBreaker::HalfOpen {
                trial_started_ms: 150
            }
        );
    }

    #[test]
    fn dashboard_view() {
        let cases = [
            (CircuitBreaker::default(), 0, CircuitState::Closed, None),
            (
                CircuitBreaker::Open { until_ms: 500 },
                499,
                CircuitState::Open,
                Some(500),
            ),
            (
                CircuitBreaker::Open { until_ms: 500 },
                500,
                CircuitState::HalfOpen,
                Some(500),
            ),
            (
                CircuitBreaker::HalfOpen {
                    trial_started_ms: 9,
                },
                10,
                CircuitState::HalfOpen,
                None,
            ),
        ];
        for (breaker, now, state, reopens) in cases {
            assert_eq!(breaker.state(now), state, "{breaker:?}");
            assert_eq!(breaker.reopens_at_ms(), reopens, "{breaker:?}");
        }
    }
}
