//! Live state the proxy's hot path reads and updates concurrently: per-account and per-target
//! entries in sharded maps (no global lock; a shard is held only for a few arithmetic steps,
//! never across an await or a provider call), and per-policy counters as atomics.

use super::account::AccountLive;
use super::budget::{month_of, MonthlySpend};
use super::circuit::{Admission, CircuitBreaker, CircuitState};
use super::health::{Health, ProbeResult};
use super::key::{KeyLive, KeyRefusal};
use super::plan::{Candidate, LiveView, Plan, Skip, SkipReason};
use super::rate::{RateLimits, RateUsage, Reservation};
use super::RoutingSnapshot;
use crate::domain::{CircuitBreakerSettings, KeyLimits, Money, ProviderAccount, Target};
use dashmap::DashMap;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters per policy, for the dashboard. `successes` and `errors` count attempts;
/// `fallbacks` counts attempts on any candidate but the plan's first; `retries` counts
/// attempts that repeated a call on the same target.
#[derive(Debug, Default)]
struct PolicyStats {
    matches: AtomicU64,
    successes: AtomicU64,
    errors: AtomicU64,
    fallbacks: AtomicU64,
    retries: AtomicU64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PolicyStatsSnapshot {
    pub matches: u64,
    pub successes: u64,
    pub errors: u64,
    pub fallbacks: u64,
    pub retries: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AccountView {
    pub requests_last_minute: u32,
    pub tokens_last_minute: u64,
    pub spent_this_month: Money,
    pub health: Health,
    pub latency_ewma_ms: Option<f64>,
    pub calls: u64,
    pub failures: u64,
    pub in_flight: u32,
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

    /// The breaker settings the call's outcome is counted with.
    pub fn circuit_breaker(&self) -> CircuitBreakerSettings {
        self.settings
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

/// How long the fleet's figures stand in for this instance's own on the dashboards.
const FLEET_FIGURES_FRESH_MS: u64 = 5_000;

#[derive(Debug, Default)]
pub struct LiveState {
    accounts: DashMap<String, AccountLive>,
    circuits: DashMap<Target, CircuitBreaker>,
    policies: DashMap<String, PolicyStats>,
    /// By gateway key id.
    keys: DashMap<String, KeyLive>,
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

    fn with_key<R>(&self, key_id: &str, change: impl FnOnce(&mut KeyLive) -> R) -> R {
        if let Some(mut live) = self.keys.get_mut(key_id) {
            return change(&mut live);
        }
        change(&mut self.keys.entry(key_id.to_string()).or_default())
    }

    /// Holds a gateway key to its own limits before any provider is tried: refuses it over
    /// its hard monthly budget, else reserves room for `estimated_tokens` in its window. Hand
    /// the reservation to `settle_key` when the request ends.
    pub fn admit_key(
        &self,
        key_id: &str,
        limits: &KeyLimits,
        estimated_tokens: u32,
        now_ms: u64,
    ) -> Result<Reservation, KeyRefusal> {
        let month = month_of(now_ms);
        self.with_key(key_id, |live| {
            live.admit(limits, estimated_tokens, &month, now_ms)
        })
    }

    /// Counts a request in the key's window without checking: the fleet's shared state decides
    /// (see `track_attempt`).
    pub fn track_key(&self, key_id: &str, estimated_tokens: u32, now_ms: u64) -> Reservation {
        self.with_key(key_id, |live| live.rate.record(estimated_tokens, now_ms))
    }

    /// Corrects a key's reservation with the tokens the request used (`None`: unknown, the
    /// estimate stays).
    pub fn settle_key(&self, key_id: &str, reservation: Reservation, tokens: Option<u32>) {
        if let Some(tokens) = tokens {
            self.with_key(key_id, |live| live.rate.correct(reservation, tokens));
        }
    }

    /// Adds a call's cost to the key's spend this month; returns the alert thresholds newly
    /// reached (each at most once per month).
    pub fn add_key_spend(
        &self,
        key_id: &str,
        limits: &KeyLimits,
        cost: Money,
        now_ms: u64,
    ) -> Vec<u8> {
        let month = month_of(now_ms);
        self.with_key(key_id, |live| live.add_spend(limits, cost, &month))
    }

    /// Restores a key's spend and already-raised alerts from the database at start-up.
    pub fn resume_key_spend(&self, key_id: &str, spend: MonthlySpend) {
        self.with_key(key_id, |live| live.spend = spend);
    }

    /// What the account spent this month (on this instance's count).
    pub fn account_spent(&self, account: &str, now_ms: u64) -> Money {
        let month = month_of(now_ms);
        self.read_account(account, |live| live.spend.spent_in(&month))
    }

    /// What the key spent this month (on this instance's count).
    pub fn key_spent(&self, key_id: &str, now_ms: u64) -> Money {
        let month = month_of(now_ms);
        self.keys
            .get(key_id)
            .map_or(Money::ZERO, |live| live.spend.spent_in(&month))
    }

    fn with_circuit<R>(&self, target: &Target, change: impl FnOnce(&mut CircuitBreaker) -> R) -> R {
        if let Some(mut circuit) = self.circuits.get_mut(target) {
            return change(&mut circuit);
        }
        change(&mut self.circuits.entry(target.clone()).or_default())
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

    /// Counts a call repeated on the same target (the model's `retries`).
    pub fn record_retry(&self, plan: &Plan) {
        self.count(plan.policy.as_deref(), |s| &s.retries);
    }

    /// Claims what one call needs right before it is made: rate room for `estimated_tokens`
    /// and, when the circuit is half-open, its single trial; and counts the call in flight.
    /// Another request may have taken either since the plan was made; then the candidate is
    /// skipped with the reason.
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
                let reservation = live.rate.reserve(limits, estimated_tokens, now_ms)?;
                live.in_flight += 1;
                Ok(reservation)
            })
            .map_err(|denial| skip(SkipReason::RateLimited(denial)))?;
        let admission = self.with_circuit(&candidate.target, |circuit| {
            circuit.admit(plan.circuit_breaker, now_ms)
        });
        let refused = match admission {
            Admission::Allowed | Admission::Trial => None,
            Admission::Open { until_ms } => Some(SkipReason::CircuitOpen { until_ms }),
            Admission::TrialInFlight => Some(SkipReason::TrialInFlight),
        };
        if let Some(reason) = refused {
            self.with_account(&account.name, |live| {
                live.rate.release(reservation);
                live.in_flight = live.in_flight.saturating_sub(1);
            });
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

    /// Counts a call that the fleet's shared state admitted (see `crate::fleet`): this
    /// instance's rate window, in-flight count and circuit keep up as a mirror, and as what
    /// decides should the shared state become unreachable, but they do not refuse it. `trial`:
    /// the call is its circuit's half-open trial fleet-wide.
    pub fn track_attempt(
        &self,
        plan: &Plan,
        candidate: &Candidate,
        estimated_tokens: u32,
        trial: bool,
        now_ms: u64,
    ) -> Attempt {
        let reservation = self.with_account(&candidate.target.account, |live| {
            live.in_flight += 1;
            live.rate.record(estimated_tokens, now_ms)
        });
        self.with_circuit(&candidate.target, |circuit| {
            *circuit = if trial {
                CircuitBreaker::HalfOpen {
                    trial_started_ms: now_ms,
                }
            } else {
                CircuitBreaker::default()
            };
        });
        if plan
            .candidates
            .first()
            .is_some_and(|first| first.target != candidate.target)
        {
            self.count(plan.policy.as_deref(), |s| &s.fallbacks);
        }
        Attempt {
            policy: plan.policy.clone(),
            target: candidate.target.clone(),
            settings: plan.circuit_breaker,
            reservation,
        }
    }

    /// Takes the circuit state the fleet's shared state reports.
    pub fn adopt_circuit(&self, target: &Target, circuit: CircuitBreaker) {
        self.with_circuit(target, |mine| *mine = circuit);
    }

    /// Takes an account's spend this month as the fleet's shared counter reports it.
    pub fn adopt_spend(&self, account: &str, spent: Money, now_ms: u64) {
        let month = month_of(now_ms);
        self.with_account(account, |live| live.spend.adopt(&month, spent));
    }

    /// Takes an account's last-minute figures as the whole fleet counted them.
    pub fn adopt_usage(&self, account: &str, usage: RateUsage, now_ms: u64) {
        self.with_account(account, |live| live.fleet_usage = Some((usage, now_ms)));
    }

    /// Takes a gateway key's spend this month as the fleet's shared counter reports it.
    pub fn adopt_key_spend(&self, key_id: &str, spent: Money, now_ms: u64) {
        let month = month_of(now_ms);
        self.with_key(key_id, |live| live.spend.adopt(&month, spent));
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
            live.in_flight = live.in_flight.saturating_sub(1);
            live.calls += 1;
            if !target_ok {
                live.failures += 1;
            }
        });
        self.with_circuit(&attempt.target, |circuit| {
            if target_ok {
                circuit.record_success();
            } else {
                circuit.record_failure(attempt.settings, now_ms);
            }
        });
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

    /// The provider refused the account's credentials (401/403); see `HealthTracker`.
    pub fn reject_credentials(&self, account: &str, status: u16) {
        self.with_account(account, |live| live.health.reject_credentials(status));
    }

    pub fn record_probe(&self, account: &str, probe: ProbeResult) {
        self.with_account(account, |live| live.health.record_probe(probe));
    }

    pub fn account_view(&self, account: &str, now_ms: u64) -> AccountView {
        let month = month_of(now_ms);
        self.read_account(account, |live| {
            let mut usage = live.rate.usage(now_ms);
            // The fleet's figures are up to a read old; this instance's own may be newer.
            if let Some((fleet, at_ms)) = live.fleet_usage {
                if now_ms.saturating_sub(at_ms) < FLEET_FIGURES_FRESH_MS {
                    usage.requests = usage.requests.max(fleet.requests);
                    usage.tokens = usage.tokens.max(fleet.tokens);
                }
            }
            let RateUsage { requests, tokens } = usage;
            AccountView {
                requests_last_minute: requests,
                tokens_last_minute: tokens,
                spent_this_month: live.spend.spent_in(&month),
                health: live.health.assess(now_ms),
                latency_ewma_ms: live.health.latency_ewma_ms(),
                calls: live.calls,
                failures: live.failures,
                in_flight: live.in_flight,
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
                retries: s.retries.load(Ordering::Relaxed),
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Capabilities, MatchCriteria, ProviderKind, Purpose, StepType};
    use crate::routing::plan::plan;
    use crate::routing::snapshot::tests::{account, logical_model, policy, target};
    use crate::routing::{RouteRequest, RoutingError};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    const NOW: u64 = 1_795_000_000_000;

    fn rng() -> StdRng {
        StdRng::seed_from_u64(1)
    }

    fn snapshot(edit: impl FnOnce(&mut Vec<ProviderAccount>)) -> RoutingSnapshot {
        let mut accounts = vec![
            account("openai-main", ProviderKind::Openai),
            account("claude", ProviderKind::Anthropic),
        ];
        edit(&mut accounts);
        let all = Capabilities {
            streaming: true,
            tools: true,
            vision: true,
            json_mode: true,
            embeddings: false,
        };
        let models = vec![logical_model(
            "primary-llm",
            all,
            vec![
                target("openai-main", "gpt-4o"),
                target("claude", "claude-sonnet-4-5"),
            ],
        )];
        let mut p = policy(
            "primary-first",
            1,
            MatchCriteria::default(),
            &["primary-llm"],
        );
        p.circuit_breaker = CircuitBreakerSettings {
            failure_threshold: 2,
            recovery_seconds: 10,
        };
        RoutingSnapshot::new(accounts, models, vec![p]).unwrap()
    }

    fn request(tokens: u32) -> RouteRequest {
        RouteRequest {
            logical_model: "primary-llm".into(),
            step_type: StepType::Inference,
            purpose: Purpose::Chat,
            needs: Capabilities::default(),
            estimated_tokens: tokens,
            estimated_prompt_tokens: 0,
        }
    }

    fn answered(tokens: u32) -> AttemptOutcome {
        AttemptOutcome::Answered {
            latency_ms: 300,
            total_tokens: Some(tokens),
        }
    }

    #[test]
    fn an_attempt_reserves_then_corrects_with_reported_usage() {
        let snapshot = snapshot(|_| {});
        let live = LiveState::new();
        let plan = plan(&snapshot, &request(500), &live, NOW, &mut rng()).unwrap();
        live.record_plan(&plan);
        let attempt = live
            .begin_attempt(&snapshot, &plan, &plan.candidates[0], 500, NOW)
            .unwrap();
        assert_eq!(attempt.target(), &target("openai-main", "gpt-4o"));
        let view = live.account_view("openai-main", NOW);
        assert_eq!(
            (view.requests_last_minute, view.tokens_last_minute),
            (1, 500)
        );
        assert_eq!(view.in_flight, 1, "counted in flight until finished");

        live.finish_attempt(attempt, answered(42), NOW + 300);
        let view = live.account_view("openai-main", NOW + 300);
        assert_eq!(
            (view.requests_last_minute, view.tokens_last_minute),
            (1, 42)
        );
        assert_eq!(view.latency_ewma_ms, Some(300.0));
        assert_eq!(view.in_flight, 0);
        assert_eq!(
            live.policy_stats("primary-first"),
            PolicyStatsSnapshot {
                matches: 1,
                successes: 1,
                errors: 0,
                fallbacks: 0,
                retries: 0,
            }
        );
    }

    #[test]
    fn outcomes_settle_tokens_circuit_and_counters() {
        // (label, outcomes on the first target, tokens left in the window, circuit state, stats)
        type Case = (
            &'static str,
            Vec<AttemptOutcome>,
            u64,
            CircuitState,
            PolicyStatsSnapshot,
        );
        let failed = AttemptOutcome::Failed { latency_ms: 50 };
        let refused = AttemptOutcome::Refused { latency_ms: 50 };
        let stats = |successes, errors| PolicyStatsSnapshot {
            matches: 0,
            successes,
            errors,
            fallbacks: 0,
            retries: 0,
        };
        let cases: Vec<Case> = vec![
            (
                "no usage reported keeps the estimate",
                vec![AttemptOutcome::Answered {
                    latency_ms: 1,
                    total_tokens: None,
                }],
                100,
                CircuitState::Closed,
                stats(1, 0),
            ),
            (
                "a failure frees its tokens",
                vec![failed],
                0,
                CircuitState::Closed,
                stats(0, 1),
            ),
            (
                "threshold failures open the circuit",
                vec![failed, failed],
                0,
                CircuitState::Open,
                stats(0, 2),
            ),
            (
                "a refused request does not count against the target",
                vec![refused, refused, refused],
                0,
                CircuitState::Closed,
                stats(0, 3),
            ),
            (
                "a success resets the failure count",
                vec![failed, answered(7), failed],
                7,
                CircuitState::Closed,
                stats(1, 2),
            ),
        ];
        for (label, outcomes, tokens, state, expected_stats) in cases {
            let snapshot = snapshot(|_| {});
            let live = LiveState::new();
            let plan = plan(&snapshot, &request(100), &live, NOW, &mut rng()).unwrap();
            for outcome in outcomes {
                let attempt = live
                    .begin_attempt(&snapshot, &plan, &plan.candidates[0], 100, NOW)
                    .unwrap();
                live.finish_attempt(attempt, outcome, NOW);
            }
            assert_eq!(
                live.account_view("openai-main", NOW).tokens_last_minute,
                tokens,
                "{label}"
            );
            assert_eq!(
                live.circuit_view(&target("openai-main", "gpt-4o"), NOW)
                    .state,
                state,
                "{label}"
            );
            assert_eq!(
                live.policy_stats("primary-first"),
                expected_stats,
                "{label}"
            );
        }
    }

    #[test]
    fn open_circuit_is_skipped_then_lets_exactly_one_trial_through() {
        let snapshot = snapshot(|_| {});
        let live = LiveState::new();
        let gpt4o = target("openai-main", "gpt-4o");
        let first = plan(&snapshot, &request(10), &live, NOW, &mut rng()).unwrap();
        for _ in 0..2 {
            let attempt = live
                .begin_attempt(&snapshot, &first, &first.candidates[0], 10, NOW)
                .unwrap();
            live.finish_attempt(attempt, AttemptOutcome::Failed { latency_ms: 5 }, NOW);
        }
        assert_eq!(
            live.circuit_view(&gpt4o, NOW),
            CircuitView {
                state: CircuitState::Open,
                reopens_at_ms: Some(NOW + 10_000)
            }
        );
        let during = plan(&snapshot, &request(10), &live, NOW + 1_000, &mut rng()).unwrap();
        assert_eq!(during.candidates.len(), 1);
        assert_eq!(
            during.skips[0].reason,
            SkipReason::CircuitOpen {
                until_ms: NOW + 10_000
            }
        );

        // Two requests planned at the same moment after the window: both see the trial...
        let later = NOW + 10_000;
        let plan_a = plan(&snapshot, &request(10), &live, later, &mut rng()).unwrap();
        let plan_b = plan(&snapshot, &request(10), &live, later, &mut rng()).unwrap();
        assert_eq!(plan_a.candidates[0].target, gpt4o);
        assert_eq!(plan_b.candidates[0].target, gpt4o);
        // ...but only one gets it; the other's reservation is given back.
        let trial = live
            .begin_attempt(&snapshot, &plan_a, &plan_a.candidates[0], 10, later)
            .unwrap();
        let second = live.begin_attempt(&snapshot, &plan_b, &plan_b.candidates[0], 10, later);
        assert_eq!(
            second,
            Err(Skip {
                target: gpt4o.clone(),
                reason: SkipReason::TrialInFlight
            })
        );
        // The refused attempt gave its in-flight count back; the trial holds one.
        assert_eq!(live.account_view("openai-main", later).in_flight, 1);
        // The two failed requests and the trial; not the refused one.
        assert_eq!(
            live.account_view("openai-main", later).requests_last_minute,
            3
        );
        assert_eq!(
            live.circuit_view(&gpt4o, later).state,
            CircuitState::HalfOpen
        );

        live.finish_attempt(trial, answered(10), later + 100);
        assert_eq!(
            live.circuit_view(&gpt4o, later + 100),
            CircuitView {
                state: CircuitState::Closed,
                reopens_at_ms: None
            }
        );
    }

    #[test]
    fn rate_room_taken_since_planning_skips_the_candidate_and_counts_fallbacks() {
        let snapshot = snapshot(|accounts| accounts[0].rpm_limit = Some(1));
        let live = LiveState::new();
        let plan_a = plan(&snapshot, &request(10), &live, NOW, &mut rng()).unwrap();
        let plan_b = plan(&snapshot, &request(10), &live, NOW, &mut rng()).unwrap();
        live.record_plan(&plan_a);
        live.record_plan(&plan_b);
        let a = live
            .begin_attempt(&snapshot, &plan_a, &plan_a.candidates[0], 10, NOW)
            .unwrap();
        let refused = live
            .begin_attempt(&snapshot, &plan_b, &plan_b.candidates[0], 10, NOW)
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "openai-main/gpt-4o: requests per minute limit 1 reached, room again in 60s"
        );
        let b = live
            .begin_attempt(&snapshot, &plan_b, &plan_b.candidates[1], 10, NOW)
            .unwrap();
        live.finish_attempt(a, answered(10), NOW);
        live.finish_attempt(b, answered(10), NOW);
        assert_eq!(
            live.policy_stats("primary-first"),
            PolicyStatsSnapshot {
                matches: 2,
                successes: 2,
                errors: 0,
                fallbacks: 1,
                retries: 0,
            }
        );
        // A third request finds no room on the first account and plans around it.
        let third = plan(&snapshot, &request(10), &live, NOW, &mut rng()).unwrap();
        assert_eq!(third.candidates.len(), 1);
        assert_eq!(
            live.policy_stats("unknown-policy"),
            PolicyStatsSnapshot::default()
        );
    }

    #[test]
    fn spend_crosses_each_threshold_once_and_stops_a_hard_budget() {
        let snapshot =
            snapshot(|accounts| accounts[0].monthly_budget = Some(Money::from_dollars(10.0)));
        let live = LiveState::new();
        let Some(openai) = snapshot.account("openai-main") else {
            panic!("account")
        };
        let crossings: Vec<Vec<u8>> = [4.0, 1.5, 3.0, 1.0, 0.5, 5.0]
            .into_iter()
            .map(|dollars| live.add_spend(openai, Money::from_dollars(dollars), NOW))
            .collect();
        assert_eq!(
            crossings,
            vec![vec![], vec![50], vec![80], vec![], vec![100], vec![]]
        );
        assert_eq!(
            live.account_view("openai-main", NOW).spent_this_month,
            Money::from_dollars(15.0)
        );
        let planned = plan(&snapshot, &request(10), &live, NOW, &mut rng()).unwrap();
        assert_eq!(
            planned.skips[0].to_string(),
            "openai-main/gpt-4o: monthly budget used up ($15.00 of $10.00)"
        );
        // December starts from zero.
        let december = 1_796_083_200_000; // 2026-12-01T00:00:00Z
        assert_eq!(
            live.account_view("openai-main", december).spent_this_month,
            Money::ZERO
        );
        assert_eq!(
            live.add_spend(openai, Money::from_dollars(6.0), december),
            vec![50]
        );
    }

    #[test]
    fn resumed_spend_and_probes_feed_the_plan() {
        let snapshot =
            snapshot(|accounts| accounts[1].monthly_budget = Some(Money::from_dollars(10.0)));
        let live = LiveState::new();
        live.resume_spend(
            "claude",
            MonthlySpend::resume("2026-11", Money::from_dollars(10.0), [50, 80, 100]),
        );
        live.record_probe(
            "openai-main",
            ProbeResult {
                at_ms: NOW,
                ok: false,
                latency_ms: 0,
                detail: "HTTP 503".into(),
            },
        );
        let result = plan(&snapshot, &request(10), &live, NOW + 1_000, &mut rng());
        let Ok(planned) = result else {
            panic!("{result:?}")
        };
        assert_eq!(planned.candidates.len(), 1);
        assert_eq!(
            planned.candidates[0].health.reason,
            "last probe failed 1s ago: HTTP 503"
        );
        assert_eq!(planned.skips.len(), 1);
        let health = live.account_view("openai-main", NOW + 1_000).health;
        assert_eq!(health.level, crate::routing::HealthLevel::Unhealthy);
        // With the failing account disabled too, nothing is left: 503, not 429.
        let snapshot = self::snapshot(|accounts| {
            accounts[0].enabled = false;
            accounts[1].monthly_budget = Some(Money::from_dollars(10.0));
        });
        let Err(RoutingError::Exhausted(exhausted)) =
            plan(&snapshot, &request(10), &live, NOW, &mut rng())
        else {
            panic!("exhausted")
        };
        assert_eq!(exhausted.retry_after_secs(), None);
    }

    #[test]
    fn attempts_the_fleet_admitted_are_tracked_and_its_figures_followed() {
        let snapshot = snapshot(|_| {});
        let live = LiveState::new();
        let gpt4o = target("openai-main", "gpt-4o");
        let planned = plan(&snapshot, &request(10), &live, NOW, &mut rng()).unwrap();
        let plain = live.track_attempt(&planned, &planned.candidates[0], 10, false, NOW);
        let trial = live.track_attempt(&planned, &planned.candidates[0], 10, true, NOW);
        assert_eq!(live.account_view("openai-main", NOW).in_flight, 2);
        assert_eq!(live.circuit_view(&gpt4o, NOW).state, CircuitState::HalfOpen);
        live.finish_attempt(plain, answered(5), NOW);
        live.finish_attempt(trial, answered(5), NOW);
        assert_eq!(live.circuit_view(&gpt4o, NOW).state, CircuitState::Closed);

        // What the fleet reports: opened elsewhere, more traffic and spend than seen here.
        live.adopt_circuit(
            &gpt4o,
            CircuitBreaker::Open {
                until_ms: NOW + 5_000,
            },
        );
        live.adopt_usage(
            "openai-main",
            RateUsage {
                requests: 7,
                tokens: 70,
            },
            NOW,
        );
        live.adopt_spend("openai-main", Money::from_dollars(3.0), NOW);
        let view = live.account_view("openai-main", NOW + 1_000);
        assert_eq!(
            (
                view.requests_last_minute,
                view.tokens_last_minute,
                view.spent_this_month
            ),
            (7, 70, Money::from_dollars(3.0))
        );
        assert_eq!(
            live.account_spent("openai-main", NOW),
            Money::from_dollars(3.0)
        );
        let during = plan(&snapshot, &request(10), &live, NOW + 1_000, &mut rng()).unwrap();
        assert_eq!(
            during.skips[0].reason,
            SkipReason::CircuitOpen {
                until_ms: NOW + 5_000
            }
        );
        // Figures not read again for a while give way to this instance's own.
        let view = live.account_view("openai-main", NOW + 6_000);
        assert_eq!(
            (view.requests_last_minute, view.tokens_last_minute),
            (2, 10)
        );

        let key = live.track_key("key-1", 10, NOW);
        live.settle_key("key-1", key, Some(4));
        live.adopt_key_spend("key-1", Money::from_dollars(1.0), NOW);
        assert_eq!(live.key_spent("key-1", NOW), Money::from_dollars(1.0));
    }

    #[test]
    fn concurrent_attempts_lose_no_updates() {
        let snapshot = snapshot(|_| {});
        let live = LiveState::new();
        let planned = plan(&snapshot, &request(3), &live, NOW, &mut rng()).unwrap();
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..200 {
                        let attempt = live
                            .begin_attempt(&snapshot, &planned, &planned.candidates[0], 3, NOW)
                            .unwrap();
                        live.finish_attempt(attempt, answered(2), NOW);
                    }
                });
            }
        });
        let view = live.account_view("openai-main", NOW);
        assert_eq!(
            (view.requests_last_minute, view.tokens_last_minute),
            (1_600, 3_200)
        );
        assert_eq!(live.policy_stats("primary-first").successes, 1_600);
        assert_eq!(
            view.in_flight, 0,
            "every finished call left the in-flight count"
        );
        live.record_retry(&planned);
        assert_eq!(live.policy_stats("primary-first").retries, 1);
    }
}
