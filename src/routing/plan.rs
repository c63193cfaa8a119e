//! The candidate plan: the route's logical models expanded to targets, each either kept as a
//! candidate or skipped with a reason the response headers and the request log show.

use super::account::AccountLive;
use super::budget::{budget_exhausted, month_of};
use super::circuit::{Admission, CircuitBreaker};
use super::health::{Health, HealthLevel};
use super::policy_match::select_route;
use super::rate::{RateDenial, RateLimits};
use super::{RouteRequest, RoutingError, RoutingSnapshot};
use crate::domain::{
    Capability, CircuitBreakerSettings, Money, ProviderAccount, ProviderKind, Target,
};
use chrono::DateTime;
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
    /// The breaker settings failures are counted with (the policy's, else the defaults).
    pub circuit_breaker: CircuitBreakerSettings,
    /// In the order to try them; never empty.
    pub candidates: Vec<Candidate>,
    pub skips: Vec<Skip>,
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

/// Plans one request. Pure: reads the snapshot and live state, changes nothing.
pub fn plan(
    snapshot: &RoutingSnapshot,
    request: &RouteRequest,
    live: &impl LiveView,
    now_ms: u64,
) -> Result<Plan, RoutingError> {
    let route = select_route(snapshot, request)?;
    let settings = route.policy.map(|p| p.circuit_breaker).unwrap_or_default();
    let month = month_of(now_ms);
    let mut seen = HashSet::new();
    let (mut preferred, mut unhealthy, mut skips) = (Vec::new(), Vec::new(), Vec::new());
    for model in &route.logical_models {
        let lacks = model.capabilities.first_missing(request.needs);
        for target in &model.targets {
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
                ),
            };
            match verdict {
                Ok((kind, health)) => {
                    let candidate = Candidate {
                        logical_model: model.name.clone(),
                        target: target.clone(),
                        kind,
                        health,
                    };
                    if candidate.health.level == HealthLevel::Unhealthy {
                        unhealthy.push(candidate);
                    } else {
                        preferred.push(candidate);
                    }
                }
                Err(reason) => skips.push(Skip {
                    target: target.clone(),
                    reason,
                }),
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
        circuit_breaker: settings,
        candidates: preferred,
        skips,
    })
}

/// Whether one target may be tried now; checks in the order a person would ask: is it on, is
/// there money, is the circuit closed, is there rate room.
fn assess_target(
    account: Option<&ProviderAccount>,
    target: &Target,
    request: &RouteRequest,
    live: &impl LiveView,
    settings: CircuitBreakerSettings,
    now_ms: u64,
    month: &str,
) -> Result<(ProviderKind, Health), SkipReason> {
    let account = account.ok_or(SkipReason::AccountNotConfigured)?;
    if !account.enabled {
        return Err(SkipReason::AccountDisabled);
    }
    let limits = RateLimits {
        rpm: account.rpm_limit,
        tpm: account.tpm_limit,
    };
    let (spent, rate, health) = live.read_account(&account.name, |live| {
        (
            live.spend.spent_in(month),
            live.rate.check(limits, request.estimated_tokens, now_ms),
            live.health.assess(now_ms),
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
    Ok((account.kind, health))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Capabilities, LogicalModel, MatchCriteria, Policy, Purpose, StepType};
    use crate::routing::budget::MonthlySpend;
    use crate::routing::health::ProbeResult;
    use crate::routing::rate::RateLimits;
    use crate::routing::snapshot::tests::{account, logical_model, policy, target};
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
        (plan(&snapshot, request, &live, NOW), live)
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
}
