//! Live state the proxy's hot path reads and updates concurrently: per-account and per-target
//! entries in sharded maps (no global lock; a shard is held only for a few arithmetic steps,
//! never across an await or a provider call), and per-policy counters as atomics.

use super::budget::{month_of, MonthlySpend};
use super::circuit::{Admission, CircuitBreaker, CircuitState};
use super::health::{Health, HealthTracker, ProbeResult};
use super::plan::{Candidate, LiveView, Plan, Skip, SkipReason};
use super::rate::{RateLimits, RateUsage, RateWindow, Reservation};
use super::RoutingSnapshot;
use crate::domain::{CircuitBreakerSettings, Money, ProviderAccount, Target};
use dashmap::DashMap;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

/// Everything the router tracks about one provider account.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccountLive {
    pub rate: RateWindow,
    pub spend: MonthlySpend,
    pub health: HealthTracker,
}

/// Counters per policy, for the dashboard. `successes` and `errors` count attempts;
/// `fallbacks` counts attempts on any candidate but the plan's first.
#[derive(Debug, Default)]
struct PolicyStats {
    matches: AtomicU64,
    successes: AtomicU64,
    errors: AtomicU64,
    fallbacks: AtomicU64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PolicyStatsSnapshot {
    pub matches: u64,
    pub successes: u64,
    pub errors: u64,
    pub fallbacks: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AccountView {
    pub requests_last_minute: u32,
    pub tokens_last_minute: u64,
    pub spent_this_month: Money,
    pub health: Health,
    pub latency_ewma_ms: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CircuitView {
    pub state: CircuitState,
    /// When an open circuit lets its trial request through (Unix ms).
    pub reopens_at_ms: Option<u64>,
}

/// A call the proxy is about to make: rate room is reserved and, for a half-open circuit, the
/// trial claimed. Hand it back to `finish_attempt` when the call ends.
#[must_use = "pass the attempt to finish_attempt so the reservation and circuit are settled"]
#[derive(Debug, PartialEq)]
pub struct Attempt {
    policy: Option<String>,
    target: Target,
    settings: CircuitBreakerSettings,
    reservation: Reservation,
}

impl Attempt {
    pub fn target(&self) -> &Target {
        &self.target
    }
}

/// How a provider call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The provider answered; `total_tokens` is its reported usage, when it reported one.
    Answered {
        latency_ms: u64,
        total_tokens: Option<u32>,
    },
    /// The provider refused the request itself (a 4xx other than 429): the target works, the
    /// request does not, so this does not count against the target.
    Refused { latency_ms: u64 },
    /// Connect error, timeout, 429 or 5xx: counts against the target.
    Failed { latency_ms: u64 },
}

#[derive(Debug, Default)]
pub struct LiveState {
    accounts: DashMap<String, AccountLive>,
    circuits: DashMap<Target, CircuitBreaker>,
    policies: DashMap<String, PolicyStats>,
}

impl LiveView for LiveState {
    fn read_account<R>(&self, account: &str, read: impl FnOnce(&AccountLive) -> R) -> R {
        match self.accounts.get(account) {
            Some(live) => read(&live),
            None => read(&AccountLive::default()),
        }
    }

    fn circuit(&self, target: &Target) -> CircuitBreaker {
        self.circuits.get(target).map(|c| *c).unwrap_or_default()
    }
}

impl LiveState {
    pub fn new() -> Self {
        LiveState::default()
    }

    fn with_account<R>(&self, account: &str, change: impl FnOnce(&mut AccountLive) -> R) -> R {
        // The common case finds the entry without allocating a key.
        if let Some(mut live) = self.accounts.get_mut(account) {
            return change(&mut live);
        }
        change(&mut self.accounts.entry(account.to_string()).or_default())
    }

    fn count(&self, policy: Option<&str>, counter: impl Fn(&PolicyStats) -> &AtomicU64) {
        let Some(policy) = policy else { return };
        if let Some(stats) = self.policies.get(policy) {
            counter(&stats).fetch_add(1, Ordering::Relaxed);
            return;
        }
        counter(&self.policies.entry(policy.to_string()).or_default())
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a planned request against its policy.
    pub fn record_plan(&self, plan: &Plan) {
        self.count(plan.policy.as_deref(), |s| &s.matches);
    }

    /// Claims what one call needs right before it is made: rate room for `estimated_tokens`
    /// and, when the circuit is half-open, its single trial. Another request may have taken
    /// either since the plan was made; then the candidate is skipped with the reason.
    pub fn begin_attempt(
        &self,
        snapshot: &RoutingSnapshot,
        plan: &Plan,
        candidate: &Candidate,
        estimated_tokens: u32,
        now_ms: u64,
    ) -> Result<Attempt, Skip> {
        let skip = |reason| Skip {
            target: candidate.target.clone(),
            reason,
        };
        let account = snapshot
            .account(&candidate.target.account)
            .ok_or_else(|| skip(SkipReason::AccountNotConfigured))?;
        let limits = RateLimits {
            rpm: account.rpm_limit,
            tpm: account.tpm_limit,
        };
        let reservation = self
            .with_account(&account.name, |live| {
                live.rate.reserve(limits, estimated_tokens, now_ms)
            })
            .map_err(|denial| skip(SkipReason::RateLimited(denial)))?;
        let admission = self
            .circuits
            .entry(candidate.target.clone())
            .or_default()
            .admit(plan.circuit_breaker, now_ms);
        let refused = match admission {
            Admission::Allowed | Admission::Trial => None,
            Admission::Open { until_ms } => Some(SkipReason::CircuitOpen { until_ms }),
            Admission::TrialInFlight => Some(SkipReason::TrialInFlight),
        };
        if let Some(reason) = refused {
            self.with_account(&account.name, |live| live.rate.release(reservation));
            return Err(skip(reason));
        }
        if plan
            .candidates
            .first()
            .is_some_and(|first| first.target != candidate.target)
        {
            self.count(plan.policy.as_deref(), |s| &s.fallbacks);
        }
        Ok(Attempt {
            policy: plan.policy.clone(),
            target: candidate.target.clone(),
            settings: plan.circuit_breaker,
            reservation,
        })
    }

    /// Settles an attempt: corrects the token reservation with the reported usage, moves the
    /// circuit, feeds the health score and the policy's counters.
    pub fn finish_attempt(&self, attempt: Attempt, outcome: AttemptOutcome, now_ms: u64) {
        let (latency_ms, target_ok) = match outcome {
            AttemptOutcome::Answered { latency_ms, .. }
            | AttemptOutcome::Refused { latency_ms } => (latency_ms, true),
            AttemptOutcome::Failed { latency_ms } => (latency_ms, false),
        };
        self.with_account(&attempt.target.account, |live| {
            match outcome {
                AttemptOutcome::Answered {
                    total_tokens: Some(tokens),
                    ..
                } => live.rate.correct(attempt.reservation, tokens),
                // No usage reported: keep the estimate, the safe side of the limit.
                AttemptOutcome::Answered {
                    total_tokens: None, ..
                } => {}
                // Nothing was generated; the request itself still counts against RPM.
                AttemptOutcome::Refused { .. } | AttemptOutcome::Failed { .. } => {
                    live.rate.correct(attempt.reservation, 0)
                }
            }
            live.health.record_outcome(target_ok, latency_ms, now_ms);
        });
        {
            let mut circuit = self.circuits.entry(attempt.target.clone()).or_default();
            if target_ok {
                circuit.record_success();
            } else {
                circuit.record_failure(attempt.settings, now_ms);
            }
        }
        if matches!(outcome, AttemptOutcome::Answered { .. }) {
            self.count(attempt.policy.as_deref(), |s| &s.successes);
        } else {
            self.count(attempt.policy.as_deref(), |s| &s.errors);
        }
    }

    /// Adds the cost of a call to the account's spend this month and returns the alert
    /// thresholds it newly crossed (each at most once per month).
    pub fn add_spend(&self, account: &ProviderAccount, cost: Money, now_ms: u64) -> Vec<u8> {
        let month = month_of(now_ms);
        self.with_account(&account.name, |live| {
            live.spend.add(
                &month,
                cost,
                account.monthly_budget,
                &account.alert_thresholds,
            )
        })
    }

    /// Restores an account's spend and already-raised alerts from the database at start-up.
    pub fn resume_spend(&self, account: &str, spend: MonthlySpend) {
        self.with_account(account, |live| live.spend = spend);
    }

    pub fn record_probe(&self, account: &str, probe: ProbeResult) {
        self.with_account(account, |live| live.health.record_probe(probe));
    }

    pub fn account_view(&self, account: &str, now_ms: u64) -> AccountView {
        let month = month_of(now_ms);
        self.read_account(account, |live| {
            let RateUsage { requests, tokens } = live.rate.usage(now_ms);
            AccountView {
                requests_last_minute: requests,
                tokens_last_minute: tokens,
                spent_this_month: live.spend.spent_in(&month),
                health: live.health.assess(now_ms),
                latency_ewma_ms: live.health.latency_ewma_ms(),
            }
        })
    }

    pub fn circuit_view(&self, target: &Target, now_ms: u64) -> CircuitView {
        let circuit = self.circuit(target);
        CircuitView {
            state: circuit.state(now_ms),
            reopens_at_ms: circuit.reopens_at_ms(),
        }
    }

    pub fn policy_stats(&self, policy: &str) -> PolicyStatsSnapshot {
        self.policies
            .get(policy)
            .map(|s| PolicyStatsSnapshot {
                matches: s.matches.load(Ordering::Relaxed),
                successes: s.successes.load(Ordering::Relaxed),
                errors: s.errors.load(Ordering::Relaxed),
                fallbacks: s.fallbacks.load(Ordering::Relaxed),
            })
            .unwrap_or_default()
    }
}
