//! The candidate plan: the route's logical models expanded to targets, each either kept as a
//! candidate or skipped with a reason the response headers and the request log show.

use super::account::AccountLive;
use super::budget::{budget_exhausted, month_of};
use super::circuit::{Admission, CircuitBreaker};
use super::health::{Health, HealthLevel};
use super::policy_match::select_route;
use super::rate::{RateDenial, RateLimits, RateUsage};
use super::strategy::{self, Rank, Standing};
use super::{RouteRequest, RoutingError, RoutingSnapshot};
use crate::domain::{
    Capability, CircuitBreakerSettings, Money, ProviderAccount, ProviderKind, Strategy, Target,
};
use chrono::DateTime;
use rand::Rng;
use std::collections::HashSet;
use std::fmt;

/// Read access to live state. The planner only reads; `LiveState` implements it over its
/// sharded maps, and a shared store (Redis, for several instances) could too.
pub trait LiveView {
    /// Runs `read` on the account's live state (an empty one when nothing was recorded yet).
    fn read_account<R>(&self, account: &str, read: impl FnOnce(&AccountLive) -> R) -> R;
    fn circuit(&self, target: &Target) -> CircuitBreaker;
}

/// A target the proxy may try.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The route's logical model this target came from.
    pub logical_model: String,
    pub target: Target,
    pub kind: ProviderKind,
    pub health: Health,
    /// Why the logical model's strategy put it where it is.
    pub rank: Rank,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SkipReason {
    LacksCapability {
        logical_model: String,
        capability: Capability,
    },
    /// The snapshot changed under a running request and the account is gone.
    AccountNotConfigured,
    AccountDisabled,
    OverBudget {
        spent: Money,
        budget: Money,
    },
    RateLimited(RateDenial),
    CircuitOpen {
        until_ms: u64,
    },
    TrialInFlight,
    /// The fleet's shared state (Redis) cannot be reached and the account has a hard budget,
    /// which no instance may check on its own.
    BudgetUnchecked,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::LacksCapability {
                logical_model,
                capability,
            } => {
                write!(f, "logical model {logical_model} lacks {capability}")
            }
            SkipReason::AccountNotConfigured => {
                f.write_str("provider account no longer configured")
            }
            SkipReason::AccountDisabled => f.write_str("provider account disabled"),
            SkipReason::OverBudget { spent, budget } => {
                write!(f, "monthly budget used up ({spent} of {budget})")
            }
            SkipReason::RateLimited(denial) => write!(f, "{denial}"),
            SkipReason::CircuitOpen { until_ms } => {
                write!(f, "circuit open until {}", utc(*until_ms))
            }
            SkipReason::BudgetUnchecked => f.write_str(
                "hard monthly budget cannot be checked while the fleet's Redis is unreachable",
            ),
            SkipReason::TrialInFlight => {
                f.write_str("circuit half-open, its one trial request is in flight")
            }
        }
    }
}

fn utc(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// A target left out of the plan, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Skip {
    pub target: Target,
    pub reason: SkipReason,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.target, self.reason)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The matched policy; `None` when the requested logical model's own targets are the route.
    pub policy: Option<String>,
    /// The canary arm drawn when the policy splits its traffic (named by its first model).
    pub arm: Option<String>,
    /// Each logical model of the route, in order, with its strategy.
    pub strategies: Vec<(String, Strategy)>,
    /// The breaker settings failures are counted with (the policy's, else the defaults).
    pub circuit_breaker: CircuitBreakerSettings,
    /// In the order to try them; never empty.
    pub candidates: Vec<Candidate>,
    pub skips: Vec<Skip>,
}

impl Plan {
    /// `weighted` when every logical model of the route has that strategy, else each model's:
    /// `weighted (primary-llm), ordered (fast-llm)`.
    pub fn strategy_summary(&self) -> String {
        match self.strategies.as_slice() {
            [(_, only), rest @ ..] if rest.iter().all(|(_, s)| s == only) => only.to_string(),
            all => all
                .iter()
                .map(|(model, strategy)| format!("{strategy} ({model})"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// Nothing left to try.
#[derive(Clone, Debug, PartialEq)]
pub struct Exhausted {
    pub policy: Option<String>,
    pub skips: Vec<Skip>,
}

impl Exhausted {
    /// `Some(seconds)` when every target was skipped for a rate limit that waiting lifts: the
    /// proxy then answers 429 with this Retry-After (the soonest any target has room, rounded
    /// up, at least 1). `None` means 503.
    pub fn retry_after_secs(&self) -> Option<u64> {
        let waits = self.skips.iter().map(|skip| match &skip.reason {
            SkipReason::RateLimited(denial) => denial.retry_after_ms(),
            _ => None,
        });
        let soonest = waits.collect::<Option<Vec<u64>>>()?.into_iter().min()?;
        Some(soonest.div_ceil(1000).max(1))
    }
}

impl fmt::Display for Exhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no provider account can take this request")?;
        for (i, skip) in self.skips.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{skip}")?;
        }
        Ok(())
    }
}

/// Plans one request. Pure: reads the snapshot and live state, changes nothing; `rng` draws
/// a split policy's arm and the random parts of the strategies.
pub fn plan(
    snapshot: &RoutingSnapshot,
    request: &RouteRequest,
    live: &impl LiveView,
    now_ms: u64,
    rng: &mut impl Rng,
) -> Result<Plan, RoutingError> {
    let route = select_route(snapshot, request, rng)?;
    let settings = route.policy.map(|p| p.circuit_breaker).unwrap_or_default();
    let month = month_of(now_ms);
    let mut seen = HashSet::new();
    let (mut preferred, mut unhealthy, mut skips) = (Vec::new(), Vec::new(), Vec::new());
    let mut strategies = Vec::with_capacity(route.logical_models.len());
    for model in &route.logical_models {
        strategies.push((model.name.clone(), model.strategy));
        let lacks = model.capabilities.first_missing(request.needs);
        let mut available = Vec::with_capacity(model.targets.len());
        for (position, entry) in model.targets.iter().enumerate() {
            let target = &entry.target;
            let verdict = match lacks {
                Some(capability) => Err(SkipReason::LacksCapability {
                    logical_model: model.name.clone(),
                    capability,
                }),
                None if !seen.insert(target) => continue,
                None => assess_target(
                    snapshot.account(&target.account),
                    target,
                    request,
                    live,
                    settings,
                    now_ms,
                    &month,
                    model.strategy,
                ),
            };
            match verdict {
                Ok(assessed) => {
                    let standing = Standing {
                        position,
                        weight: entry.weight,
                        estimated_cost: (model.strategy == Strategy::Cheapest)
                            .then(|| estimated_cost(snapshot, target, request))
                            .flatten(),
                        ..assessed.standing
                    };
                    available.push(((target, assessed.kind, assessed.health), standing));
                }
                Err(reason) => skips.push(Skip {
                    target: target.clone(),
                    reason,
                }),
            }
        }
        for ((target, kind, health), rank) in strategy::order(model.strategy, available, rng) {
            let candidate = Candidate {
                logical_model: model.name.clone(),
                target: target.clone(),
                kind,
                health,
                rank,
            };
            if candidate.health.level == HealthLevel::Unhealthy {
                unhealthy.push(candidate);
            } else {
                preferred.push(candidate);
            }
        }
    }
    preferred.append(&mut unhealthy);
    let policy = route.policy.map(|p| p.name.clone());
    if preferred.is_empty() {
        return Err(RoutingError::Exhausted(Exhausted { policy, skips }));
    }
    Ok(Plan {
        policy,
        arm: route.arm.map(|arm| arm.name().to_string()),
        strategies,
        circuit_breaker: settings,
        candidates: preferred,
        skips,
    })
}

/// The request's estimated tokens at the target's price: the prompt estimate as input, the
/// completion limit as output.
fn estimated_cost(
    snapshot: &RoutingSnapshot,
    target: &Target,
    request: &RouteRequest,
) -> Option<Money> {
    let prompt = request
        .estimated_prompt_tokens
        .min(request.estimated_tokens);
    let completion = request.estimated_tokens - prompt;
    snapshot
        .price(target)
        .map(|price| price.cost(u64::from(prompt), u64::from(completion)))
}

/// A target that may be tried, with what the strategies rank it by.
struct Assessed {
    kind: ProviderKind,
    health: Health,
    standing: Standing,
}

/// Whether one target may be tried now; checks in the order a person would ask: is it on, is
/// there money, is the circuit closed, is there rate room.
#[allow(clippy::too_many_arguments)]
fn assess_target(
    account: Option<&ProviderAccount>,
    target: &Target,
    request: &RouteRequest,
    live: &impl LiveView,
    settings: CircuitBreakerSettings,
    now_ms: u64,
    month: &str,
    strategy: Strategy,
) -> Result<Assessed, SkipReason> {
    let account = account.ok_or(SkipReason::AccountNotConfigured)?;
    if !account.enabled {
        return Err(SkipReason::AccountDisabled);
    }
    let limits = RateLimits {
        rpm: account.rpm_limit,
        tpm: account.tpm_limit,
    };
    let (spent, rate, health, standing) = live.read_account(&account.name, |live| {
        let standing = Standing {
            latency_ewma_ms: live.health.latency_ewma_ms(),
            in_flight: live.in_flight,
            // Only `least_busy` looks at it; the others skip summing the window.
            headroom_used: if strategy == Strategy::LeastBusy {
                headroom_used(limits, live.rate.usage(now_ms))
            } else {
                0.0
            },
            ..Standing::default()
        };
        (
            live.spend.spent_in(month),
            live.rate.check(limits, request.estimated_tokens, now_ms),
            live.health.assess(now_ms),
            standing,
        )
    });
    if let Some(budget) = account.monthly_budget {
        if !account.soft_budget && budget_exhausted(spent, budget) {
            return Err(SkipReason::OverBudget { spent, budget });
        }
    }
    match live.circuit(target).check(settings, now_ms) {
        Admission::Allowed | Admission::Trial => {}
        Admission::Open { until_ms } => return Err(SkipReason::CircuitOpen { until_ms }),
        Admission::TrialInFlight => return Err(SkipReason::TrialInFlight),
    }
    rate.map_err(SkipReason::RateLimited)?;
    Ok(Assessed {
        kind: account.kind,
        health,
        standing,
    })
}

/// The tighter of the two limits' used share; 0 for an account without limits.
fn headroom_used(limits: RateLimits, usage: RateUsage) -> f64 {
    let share = |used: f64, limit: Option<u32>| {
        limit
            .filter(|l| *l > 0)
            .map_or(0.0, |l| used / f64::from(l))
    };
    share(f64::from(usage.requests), limits.rpm).max(share(usage.tokens as f64, limits.tpm))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Capabilities, LogicalModel, MatchCriteria, Policy, Purpose, StepType};
    use crate::routing::budget::MonthlySpend;
    use crate::routing::health::ProbeResult;
    use crate::routing::rate::RateLimits;
    use crate::routing::snapshot::tests::{account, logical_model, policy, target};
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::collections::HashMap;

    /// 2026-11-18T11:06:40Z
    const NOW: u64 = 1_795_000_000_000;

    #[derive(Default)]
    struct FakeLive {
        accounts: HashMap<String, AccountLive>,
        circuits: HashMap<Target, CircuitBreaker>,
    }

    impl LiveView for FakeLive {
        fn read_account<R>(&self, account: &str, read: impl FnOnce(&AccountLive) -> R) -> R {
            read(&self.accounts.get(account).cloned().unwrap_or_default())
        }
        fn circuit(&self, target: &Target) -> CircuitBreaker {
            self.circuits.get(target).copied().unwrap_or_default()
        }
    }

    impl FakeLive {
        fn account(&mut self, name: &str) -> &mut AccountLive {
            self.accounts.entry(name.to_string()).or_default()
        }
        /// Counts one earlier request of `tokens` on `account`, `ago_ms` before NOW.
        fn used(&mut self, name: &str, ago_ms: u64, tokens: u32) {
            let unlimited = RateLimits {
                rpm: None,
                tpm: None,
            };
            self.account(name)
                .rate
                .reserve(unlimited, tokens, NOW - ago_ms)
                .unwrap();
        }
    }

    struct Config {
        accounts: Vec<ProviderAccount>,
        models: Vec<LogicalModel>,
        policies: Vec<Policy>,
    }

    impl Config {
        fn account(&mut self, name: &str) -> &mut ProviderAccount {
            self.accounts.iter_mut().find(|a| a.name == name).unwrap()
        }
    }

    fn config() -> Config {
        let text = Capabilities {
            streaming: true,
            tools: true,
            json_mode: true,
            embeddings: false,
            vision: false,
        };
        let all = Capabilities {
            vision: true,
            ..text
        };
        Config {
            accounts: vec![
                account("openai-main", ProviderKind::Openai),
                account("claude", ProviderKind::Anthropic),
                account("mistral", ProviderKind::Mistral),
                account("azure-eu", ProviderKind::Azure),
            ],
            models: vec![
                logical_model(
                    "primary-llm",
                    all,
                    vec![
                        target("openai-main", "gpt-4o"),
                        target("claude", "claude-sonnet-4-5"),
                    ],
                ),
                logical_model(
                    "fast-llm",
                    text,
                    vec![
                        target("mistral", "mistral-small"),
                        target("openai-main", "gpt-4o-mini"),
                    ],
                ),
                logical_model(
                    "backup-llm",
                    all,
                    vec![
                        target("azure-eu", "gpt-4o"),
                        target("openai-main", "gpt-4o"),
                    ],
                ),
            ],
            policies: vec![
                policy(
                    "cheap-classification",
                    100,
                    MatchCriteria {
                        step_types: vec![StepType::Inference],
                        purposes: vec![Purpose::Classification],
                        ..Default::default()
                    },
                    &["fast-llm", "primary-llm"],
                ),
                policy(
                    "resilient-summaries",
                    50,
                    MatchCriteria {
                        purposes: vec![Purpose::Summarization],
                        ..Default::default()
                    },
                    &["primary-llm", "backup-llm"],
                ),
            ],
        }
    }

    fn request(purpose: Purpose, needs: &[Capability], estimated_tokens: u32) -> RouteRequest {
        RouteRequest {
            logical_model: "primary-llm".into(),
            step_type: StepType::Inference,
            purpose,
            needs: needs.iter().copied().collect(),
            estimated_tokens,
            estimated_prompt_tokens: estimated_tokens / 2,
        }
    }

    fn run(
        request: &RouteRequest,
        setup: fn(&mut Config, &mut FakeLive),
    ) -> (Result<Plan, RoutingError>, FakeLive) {
        let mut config = config();
        let mut live = FakeLive::default();
        setup(&mut config, &mut live);
        let snapshot =
            RoutingSnapshot::new(config.accounts, config.models, config.policies).unwrap();
        let mut rng = StdRng::seed_from_u64(3);
        (plan(&snapshot, request, &live, NOW, &mut rng), live)
    }

    fn names<T: ToString>(items: impl IntoIterator<Item = T>) -> Vec<String> {
        items.into_iter().map(|i| i.to_string()).collect()
    }

    #[test]
    fn candidate_plan_table() {
        let chat = request(Purpose::Chat, &[], 100);
        let own = ["openai-main/gpt-4o", "claude/claude-sonnet-4-5"];
        type Case = (
            &'static str,
            RouteRequest,
            fn(&mut Config, &mut FakeLive),
            Option<&'static str>,
            Vec<&'static str>,
            Vec<&'static str>,
        );
        let cases: Vec<Case> = vec![
            ("own targets in order", chat.clone(), |_, _| {}, None, own.to_vec(), vec![]),
            ("policy route expands its logical models in order", request(Purpose::Classification, &[], 100), |_, _| {},
                Some("cheap-classification"),
                vec!["mistral/mistral-small", "openai-main/gpt-4o-mini", "openai-main/gpt-4o", "claude/claude-sonnet-4-5"], vec![]),
            ("a repeated target is tried once", request(Purpose::Summarization, &[], 100), |_, _| {},
                Some("resilient-summaries"), vec!["openai-main/gpt-4o", "claude/claude-sonnet-4-5", "azure-eu/gpt-4o"], vec![]),
            ("a route model lacking a needed capability is skipped", request(Purpose::Classification, &[Capability::Vision], 100), |_, _| {},
                Some("cheap-classification"), own.to_vec(),
                vec!["mistral/mistral-small: logical model fast-llm lacks vision", "openai-main/gpt-4o-mini: logical model fast-llm lacks vision"]),
            ("disabled account", chat.clone(), |c, _| c.account("claude").enabled = false, None,
                vec!["openai-main/gpt-4o"], vec!["claude/claude-sonnet-4-5: provider account disabled"]),
            ("hard budget used up", chat.clone(), |c, l| {
                    c.account("openai-main").monthly_budget = Some(Money::from_dollars(100.0));
                    l.account("openai-main").spend = MonthlySpend::resume("2026-11", Money::from_dollars(100.0), []);
                }, None, vec!["claude/claude-sonnet-4-5"],
                vec!["openai-main/gpt-4o: monthly budget used up ($100.00 of $100.00)"]),
            ("soft budget keeps routing", chat.clone(), |c, l| {
                    let a = c.account("openai-main");
                    a.monthly_budget = Some(Money::from_dollars(100.0));
                    a.soft_budget = true;
                    l.account("openai-main").spend = MonthlySpend::resume("2026-11", Money::from_dollars(150.0), []);
                }, None, own.to_vec(), vec![]),
            ("last month's spend does not count", chat.clone(), |c, l| {
                    c.account("openai-main").monthly_budget = Some(Money::from_dollars(100.0));
                    l.account("openai-main").spend = MonthlySpend::resume("2026-10", Money::from_dollars(500.0), []);
                }, None, own.to_vec(), vec![]),
            ("no requests-per-minute headroom", chat.clone(), |c, l| {
                    c.account("openai-main").rpm_limit = Some(1);
                    l.used("openai-main", 10_000, 10);
                }, None, vec!["claude/claude-sonnet-4-5"],
                vec!["openai-main/gpt-4o: requests per minute limit 1 reached, room again in 50s"]),
            ("no tokens-per-minute headroom", chat.clone(), |c, l| {
                    c.account("claude").tpm_limit = Some(1_000);
                    l.used("claude", 1_000, 950);
                }, None, vec!["openai-main/gpt-4o"],
                vec!["claude/claude-sonnet-4-5: tokens per minute limit 1000 reached, room again in 59s"]),
            ("circuit open", chat.clone(), |_, l| {
                    l.circuits.insert(target("openai-main", "gpt-4o"), CircuitBreaker::Open { until_ms: NOW + 5_000 });
                }, None, vec!["claude/claude-sonnet-4-5"],
                vec!["openai-main/gpt-4o: circuit open until 2026-11-18T11:06:45Z"]),
            ("recovery window over: planned for its trial", chat.clone(), |_, l| {
                    l.circuits.insert(target("openai-main", "gpt-4o"), CircuitBreaker::Open { until_ms: NOW - 1 });
                }, None, own.to_vec(), vec![]),
            ("trial already in flight", chat.clone(), |_, l| {
                    l.circuits.insert(target("openai-main", "gpt-4o"), CircuitBreaker::HalfOpen { trial_started_ms: NOW - 1_000 });
                }, None, vec!["claude/claude-sonnet-4-5"],
                vec!["openai-main/gpt-4o: circuit half-open, its one trial request is in flight"]),
            ("unhealthy account moves to the end", chat.clone(), |_, l| {
                    l.account("openai-main").health.record_probe(ProbeResult { at_ms: NOW - 1_000, ok: false, latency_ms: 0, detail: "timeout".into() });
                }, None, vec!["claude/claude-sonnet-4-5", "openai-main/gpt-4o"], vec![]),
            ("degraded account keeps its place", chat.clone(), |_, l| {
                    let health = &mut l.account("openai-main").health;
                    for i in 0..10 {
                        health.record_outcome(i != 0, 200, NOW);
                    }
                }, None, own.to_vec(), vec![]),
            ("failing account (its one call failed) keeps its place", chat.clone(), |_, l| {
                    l.account("openai-main").health.record_outcome(false, 500, NOW);
                }, None, own.to_vec(), vec![]),
        ];
        for (label, req, setup, policy_name, candidates, skips) in cases {
            let (result, _) = run(&req, setup);
            let plan = result.unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_eq!(plan.policy.as_deref(), policy_name, "{label}");
            assert_eq!(
                names(plan.candidates.iter().map(|c| &c.target)),
                candidates,
                "{label}"
            );
            assert_eq!(names(&plan.skips), skips, "{label}");
        }
    }

    #[test]
    fn candidates_carry_kind_health_and_breaker_settings() {
        let (result, _) = run(&request(Purpose::Classification, &[], 10), |c, _| {
            c.policies[0].circuit_breaker = CircuitBreakerSettings {
                failure_threshold: 2,
                recovery_seconds: 9,
            };
        });
        let plan = result.unwrap();
        assert_eq!(
            plan.circuit_breaker,
            CircuitBreakerSettings {
                failure_threshold: 2,
                recovery_seconds: 9
            }
        );
        let first = &plan.candidates[0];
        assert_eq!(
            (first.logical_model.as_str(), first.kind),
            ("fast-llm", ProviderKind::Mistral)
        );
        assert_eq!(first.health.level, HealthLevel::Healthy);
        let (result, _) = run(&request(Purpose::Chat, &[], 10), |_, _| {});
        assert_eq!(
            result.unwrap().circuit_breaker,
            CircuitBreakerSettings::default()
        );
    }

    #[test]
    fn exhaustion_tells_429_from_503() {
        type Case = (
            &'static str,
            u32,
            fn(&mut Config, &mut FakeLive),
            Option<u64>,
        );
        let cases: Vec<Case> = vec![
            // One-second buckets: a request made 30.5 s ago counts from the start of its second.
            (
                "every target rate-limited: the soonest room",
                10,
                |c, l| {
                    c.account("openai-main").rpm_limit = Some(1);
                    c.account("claude").rpm_limit = Some(1);
                    l.used("openai-main", 10_000, 1);
                    l.used("claude", 30_500, 1);
                },
                Some(29),
            ),
            (
                "room again within a second",
                10,
                |c, l| {
                    c.account("openai-main").rpm_limit = Some(1);
                    c.account("claude").rpm_limit = Some(1);
                    l.used("openai-main", 59_000, 1);
                    l.used("claude", 59_000, 1);
                },
                Some(1),
            ),
            (
                "rate-limited and disabled is 503",
                10,
                |c, l| {
                    c.account("openai-main").rpm_limit = Some(1);
                    c.account("claude").enabled = false;
                    l.used("openai-main", 10_000, 1);
                },
                None,
            ),
            (
                "rate-limited and circuit open is 503",
                10,
                |c, l| {
                    c.account("openai-main").rpm_limit = Some(1);
                    l.used("openai-main", 10_000, 1);
                    l.circuits.insert(
                        target("claude", "claude-sonnet-4-5"),
                        CircuitBreaker::Open { until_ms: NOW + 1 },
                    );
                },
                None,
            ),
            (
                "too large for any minute is 503",
                5_000,
                |c, _| {
                    c.account("openai-main").tpm_limit = Some(1_000);
                    c.account("claude").tpm_limit = Some(1_000);
                },
                None,
            ),
        ];
        for (label, tokens, setup, retry_after) in cases {
            let (result, _) = run(&request(Purpose::Chat, &[], tokens), setup);
            let Err(RoutingError::Exhausted(exhausted)) = result else {
                panic!("{label}: expected exhaustion, got {result:?}");
            };
            assert_eq!(exhausted.skips.len(), 2, "{label}");
            assert_eq!(exhausted.retry_after_secs(), retry_after, "{label}");
        }
    }

    #[test]
    fn retry_after_rounds_up_to_at_least_one_second() {
        let skip = |ms| Skip {
            target: target("a", "m"),
            reason: SkipReason::RateLimited(RateDenial::Requests {
                limit: 1,
                retry_after_ms: ms,
            }),
        };
        let cases = [
            (vec![skip(100)], Some(1)),
            (vec![skip(2_001), skip(5_000)], Some(3)),
            (vec![], None),
        ];
        for (skips, expected) in cases {
            assert_eq!(
                Exhausted {
                    policy: None,
                    skips
                }
                .retry_after_secs(),
                expected
            );
        }
    }

    #[test]
    fn exhaustion_message_lists_every_skip() {
        let (result, _) = run(&request(Purpose::Chat, &[], 10), |c, _| {
            c.account("openai-main").enabled = false;
            c.account("claude").enabled = false;
        });
        assert_eq!(
            result.unwrap_err().to_string(),
            "no provider account can take this request: openai-main/gpt-4o: provider account disabled; \
             claude/claude-sonnet-4-5: provider account disabled"
        );
    }

    #[test]
    fn refusals_come_before_planning() {
        let mut unknown = request(Purpose::Chat, &[], 10);
        unknown.logical_model = "gpt-5".into();
        let (result, _) = run(&unknown, |_, _| {});
        assert_eq!(result, Err(RoutingError::ModelNotFound("gpt-5".into())));
    }

    /// Claude's Sonnet priced below gpt-4o, so `cheapest` puts the second target first.
    fn test_prices(kind: ProviderKind, model: &str) -> Option<crate::domain::Price> {
        use crate::domain::Price;
        match (kind, model) {
            (ProviderKind::Openai, "gpt-4o") => Some(Price::from_micros(2_500_000, 10_000_000)),
            (ProviderKind::Anthropic, _) => Some(Price::from_micros(1_000_000, 5_000_000)),
            _ => None,
        }
    }

    fn plan_with(
        strategy: Strategy,
        setup: fn(&mut Config, &mut FakeLive),
        rng: &mut StdRng,
    ) -> Plan {
        let mut config = config();
        config.models[0].strategy = strategy;
        let mut live = FakeLive::default();
        setup(&mut config, &mut live);
        let snapshot = RoutingSnapshot::new(config.accounts, config.models, config.policies)
            .unwrap()
            .with_prices(test_prices);
        plan(
            &snapshot,
            &request(Purpose::Chat, &[], 1_000),
            &live,
            NOW,
            rng,
        )
        .unwrap()
    }

    #[test]
    fn strategies_order_the_candidates_and_every_skip_still_applies() {
        const OPENAI: &str = "openai-main/gpt-4o";
        const CLAUDE: &str = "claude/claude-sonnet-4-5";
        type Case = (
            &'static str,
            Strategy,
            fn(&mut Config, &mut FakeLive),
            Vec<&'static str>,
            &'static str,
            usize,
        );
        let cases: Vec<Case> = vec![
            (
                "ordered keeps the list",
                Strategy::Ordered,
                |_, _| {},
                vec![OPENAI, CLAUDE],
                "listed #1",
                0,
            ),
            (
                "cheapest by the estimate (500 in, 500 out)",
                Strategy::Cheapest,
                |_, _| {},
                vec![CLAUDE, OPENAI],
                "about $0.003000 for the estimated tokens",
                0,
            ),
            (
                "cheapest over its budget is skipped",
                Strategy::Cheapest,
                |c, l| {
                    c.account("claude").monthly_budget = Some(Money::from_dollars(1.0));
                    l.account("claude").spend =
                        MonthlySpend::resume("2026-11", Money::from_dollars(1.0), []);
                },
                vec![OPENAI],
                "about $0.006250 for the estimated tokens",
                1,
            ),
            (
                "cheapest but unhealthy goes last",
                Strategy::Cheapest,
                |_, l| {
                    l.account("claude").health.record_probe(ProbeResult {
                        at_ms: NOW - 1_000,
                        ok: false,
                        latency_ms: 0,
                        detail: "timeout".into(),
                    });
                },
                vec![OPENAI, CLAUDE],
                "about $0.006250 for the estimated tokens",
                0,
            ),
            (
                "least busy by calls in flight",
                Strategy::LeastBusy,
                |_, l| l.account("openai-main").in_flight = 3,
                vec![CLAUDE, OPENAI],
                "0 in flight, 0 % of its rate limit used",
                0,
            ),
            (
                "least busy, then by rate headroom used",
                Strategy::LeastBusy,
                |c, l| {
                    c.account("openai-main").rpm_limit = Some(10);
                    c.account("claude").tpm_limit = Some(100_000);
                    l.used("openai-main", 1_000, 10);
                    l.used("claude", 1_000, 60_000);
                },
                vec![OPENAI, CLAUDE],
                "0 in flight, 10 % of its rate limit used",
                0,
            ),
            (
                "lowest latency by the average",
                Strategy::LowestLatency,
                |_, l| {
                    l.account("openai-main")
                        .health
                        .record_outcome(true, 900, NOW);
                    l.account("claude").health.record_outcome(true, 150, NOW);
                },
                vec![CLAUDE, OPENAI],
                "average latency 150 ms",
                0,
            ),
            (
                "weighted never draws a target whose circuit is open",
                Strategy::Weighted,
                |c, l| {
                    c.models[0].targets[1].weight = 1_000;
                    l.circuits.insert(
                        target("claude", "claude-sonnet-4-5"),
                        CircuitBreaker::Open {
                            until_ms: NOW + 5_000,
                        },
                    );
                },
                vec![OPENAI],
                "weight 1 of 1 (100 % of first picks)",
                1,
            ),
        ];
        for (label, strategy, setup, order, first_rank, skips) in cases {
            let plan = plan_with(strategy, setup, &mut StdRng::seed_from_u64(11));
            assert_eq!(
                names(plan.candidates.iter().map(|c| &c.target)),
                order,
                "{label}"
            );
            assert_eq!(plan.candidates[0].rank.to_string(), first_rank, "{label}");
            assert_eq!(plan.skips.len(), skips, "{label}");
            assert_eq!(plan.strategy_summary(), strategy.as_str(), "{label}");
        }
    }

    #[test]
    fn weighted_plans_split_three_to_one_within_tolerance() {
        let mut rng = StdRng::seed_from_u64(5);
        let draws = 4_000;
        let mut openai_first = 0;
        for _ in 0..draws {
            let plan = plan_with(
                Strategy::Weighted,
                |c, _| c.models[0].targets[0].weight = 3,
                &mut rng,
            );
            assert_eq!(
                plan.candidates.len(),
                2,
                "the other target stays as fallback"
            );
            if plan.candidates[0].target.account == "openai-main" {
                openai_first += 1;
            }
        }
        let share = f64::from(openai_first) / f64::from(draws);
        // One standard deviation is about 0.7 % at 4,000 draws.
        assert!((share - 0.75).abs() < 0.03, "{share}");
    }

    #[test]
    fn a_split_policy_names_its_arm_and_each_models_strategy() {
        let mut config = config();
        config.models[1].strategy = Strategy::LeastBusy;
        let mut canary = policy("canary", 500, MatchCriteria::default(), &[]);
        canary.split = vec![
            crate::domain::SplitArm {
                route: vec!["fast-llm".into(), "primary-llm".into()],
                weight: 1,
            },
            crate::domain::SplitArm {
                route: vec!["backup-llm".into()],
                weight: 0,
            },
        ];
        config.policies.push(canary);
        let snapshot =
            RoutingSnapshot::new(config.accounts, config.models, config.policies).unwrap();
        let plan = plan(
            &snapshot,
            &request(Purpose::Chat, &[], 10),
            &FakeLive::default(),
            NOW,
            &mut StdRng::seed_from_u64(1),
        )
        .unwrap();
        assert_eq!(plan.policy.as_deref(), Some("canary"));
        assert_eq!(
            plan.arm.as_deref(),
            Some("fast-llm"),
            "weight 0 is never drawn"
        );
        assert_eq!(
            plan.strategy_summary(),
            "least_busy (fast-llm), ordered (primary-llm)"
        );
        assert_eq!(plan.candidates[0].logical_model, "fast-llm");
    }
}
