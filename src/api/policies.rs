//! Router policies and the "which policy matches?" tester.

use super::ApiError;
use crate::domain::{CircuitState, Money, Policy, Purpose, StepType};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use server_fn::codec::Json;

/// What the router would do with a request now: the configuration and the live figures the
/// strategies read (latency, load, budgets, circuits).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyMatch {
    /// The winning policy; `None` when the requested model's own targets are the route.
    pub policy: Option<String>,
    /// For a split policy: each arm with its share, e.g. `m-candidate: weight 5 of 100 (5 %)`.
    #[serde(default)]
    pub arms: Vec<String>,
    /// The arm this draw took.
    #[serde(default)]
    pub arm: Option<String>,
    /// Each logical model of the route with its strategy, e.g. `primary-llm: weighted (random,
    /// in proportion to the targets' weights)`.
    #[serde(default)]
    pub strategies: Vec<String>,
    /// `account/provider-model (from logical-model): why`, in the order they would be tried.
    pub candidates: Vec<String>,
    /// Targets left out, each with its reason.
    pub skipped: Vec<String>,
}

/// Every policy in evaluation order: enabled ones by priority (highest first, ties by name),
/// then the disabled ones.
#[server(endpoint = "list_policies", input = Json)]
pub async fn list_policies() -> Result<Vec<Policy>, ApiError> {
    use crate::domain::Role;
    super::ssr::require(Role::Viewer).await?;
    let state = super::ssr::state()?;
    let mut conn = state.db.pool.acquire().await.map_err(ApiError::internal)?;
    let stored = crate::store::config::load(&mut conn)
        .await
        .map_err(ApiError::internal)?;
    let mut policies: Vec<Policy> = stored.policies.into_iter().map(|r| r.policy).collect();
    policies.sort_by(|a, b| {
        b.enabled
            .cmp(&a.enabled)
            .then(b.priority.cmp(&a.priority))
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(policies)
}

#[server(endpoint = "save_policy", input = Json)]
pub async fn save_policy(
    original_name: Option<String>,
    policy: Policy,
) -> Result<Policy, ApiError> {
    use crate::configuration::audit;
    use crate::domain::Role;
    use crate::store::config::PolicyRecord;
    let user = super::ssr::require(Role::Editor).await?;
    policy.validate().map_err(super::change::field_error)?;
    let mut change = super::change::begin().await?;
    let stored = &mut change.stored;
    let existing = super::change::save_slot(
        &stored.policies,
        |r| r.policy.name.as_str(),
        original_name.as_deref(),
        &policy.name,
        "policy",
    )?;
    let known = |m: &String| stored.models.iter().any(|r| &r.model.name == m);
    let routes = std::iter::once(("route".to_string(), &policy.route)).chain(
        policy
            .split
            .iter()
            .enumerate()
            .map(|(a, arm)| (format!("split[{a}].route"), &arm.route)),
    );
    for (field, route) in routes {
        for (i, model) in route.iter().enumerate() {
            if !known(model) {
                return Err(ApiError::invalid(
                    &format!("{field}[{i}]"),
                    format!("There is no logical model named `{model}`."),
                ));
            }
        }
    }
    for (i, model) in policy.criteria.logical_models.iter().enumerate() {
        if !known(model) {
            return Err(ApiError::invalid(
                &format!("match.logical_models[{i}]"),
                format!("There is no logical model named `{model}`."),
            ));
        }
    }
    let before = existing.map(|i| audit::of(&stored.policies[i].policy));
    let record = PolicyRecord {
        id: existing.map_or_else(crate::store::new_id, |i| stored.policies[i].id.clone()),
        policy: policy.clone(),
    };
    let action = if existing.is_some() {
        "update"
    } else {
        "create"
    };
    crate::store::config::save_policy(&mut change.tx, &record, change.now)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Duplicate(_) => {
                ApiError::invalid("name", "A policy with this name already exists.")
            }
            other => ApiError::internal(other),
        })?;
    super::change::put(&mut change.stored.policies, existing, record);
    change.check()?;
    let entry = audit::entry(
        &user.username,
        action,
        "policy",
        &policy.name,
        before,
        Some(audit::of(&policy)),
    );
    change.commit(entry).await?;
    Ok(policy)
}

#[server(endpoint = "delete_policy", input = Json)]
pub async fn delete_policy(name: String) -> Result<(), ApiError> {
    use crate::configuration::audit;
    use crate::domain::Role;
    let user = super::ssr::require(Role::Editor).await?;
    let mut change = super::change::begin().await?;
    let i = super::change::find_named(
        &change.stored.policies,
        |r| r.policy.name.as_str(),
        &name,
        "policy",
    )?;
    let removed = change.stored.policies.remove(i);
    crate::store::config::delete_policy(&mut change.tx, &removed.id)
        .await
        .map_err(ApiError::internal)?;
    let entry = audit::entry(
        &user.username,
        "delete",
        "policy",
        &name,
        Some(audit::of(&removed.policy)),
        None,
    );
    change.commit(entry).await
}

/// Which policy a request with this step type, purpose and model would match, and the targets
/// it would try in order, with why each strategy put them there: judged now, on the current
/// configuration and live state. Random strategies and splits show one draw.
#[server(endpoint = "which_policy", input = Json)]
pub async fn which_policy(
    step_type: StepType,
    purpose: Purpose,
    model: String,
) -> Result<PolicyMatch, ApiError> {
    use crate::domain::{Capabilities, Role};
    use crate::routing::{plan, RouteRequest, RoutingError, DEFAULT_COMPLETION_TOKENS};
    super::ssr::require(Role::Viewer).await?;
    let state = super::ssr::state()?;
    let snapshot = state.config.load();
    let routing = &snapshot.routing;
    // A typical small chat request, so `cheapest` and the rate checks have tokens to judge.
    let prompt_tokens = 100;
    let request = RouteRequest {
        logical_model: model,
        step_type,
        purpose,
        needs: Capabilities::default(),
        estimated_tokens: prompt_tokens + DEFAULT_COMPLETION_TOKENS,
        estimated_prompt_tokens: prompt_tokens,
    };
    let now = u64::try_from(crate::store::now_millis()).unwrap_or_default();
    let arms_of = |policy: Option<&str>| -> Vec<String> {
        let Some(policy) = routing
            .policies()
            .iter()
            .find(|p| Some(p.name.as_str()) == policy)
        else {
            return vec![];
        };
        let total: u32 = policy.split.iter().map(|a| a.weight).sum();
        policy
            .split
            .iter()
            .map(|arm| {
                let share = f64::from(arm.weight) * 100.0 / f64::from(total.max(1));
                format!(
                    "{}: weight {} of {total} ({share:.0} %), route {}",
                    arm.name(),
                    arm.weight,
                    arm.route.join(" → ")
                )
            })
            .collect()
    };
    let planned = plan(
        routing,
        &request,
        &*state.live,
        now,
        &mut rand::thread_rng(),
    );
    match planned {
        Ok(plan) => Ok(PolicyMatch {
            arms: arms_of(plan.policy.as_deref()),
            arm: plan.arm,
            strategies: plan
                .strategies
                .iter()
                .map(|(model, strategy)| format!("{model}: {strategy} ({})", strategy.describe()))
                .collect(),
            candidates: plan
                .candidates
                .iter()
                .map(|c| format!("{} (from {}): {}", c.target, c.logical_model, c.rank))
                .collect(),
            skipped: plan.skips.iter().map(ToString::to_string).collect(),
            policy: plan.policy,
        }),
        Err(RoutingError::ModelNotFound(name)) => Err(ApiError::invalid(
            "model",
            format!("There is no logical model named `{name}`."),
        )),
        Err(RoutingError::Exhausted(exhausted)) => Ok(PolicyMatch {
            arms: arms_of(exhausted.policy.as_deref()),
            arm: None,
            strategies: vec![],
            policy: exhausted.policy.clone(),
            candidates: vec![],
            skipped: exhausted.skips.iter().map(ToString::to_string).collect(),
        }),
        Err(other) => Err(ApiError::BadRequest(other.to_string())),
    }
}

/// One target of a policy's route and its circuit breaker right now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetCircuit {
    /// `account/provider-model`.
    pub target: String,
    pub logical_model: String,
    pub circuit: CircuitState,
    /// When an open circuit lets its trial request through (Unix ms).
    pub reopens_at_ms: Option<u64>,
}

/// A policy's counters since the server started, and the circuits of its route's targets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LivePolicy {
    pub name: String,
    pub matches: u64,
    pub successes: u64,
    pub errors: u64,
    pub fallbacks: u64,
    /// Calls repeated on the same target (the logical models' `retries`).
    pub retries: u64,
    /// In the order the router tries them, without repeats.
    pub targets: Vec<TargetCircuit>,
}

/// Live status of every enabled policy (disabled ones get no traffic), in match order, read
/// from memory at the current time.
#[server(endpoint = "policy_live_status", input = Json)]
pub async fn policy_live_status() -> Result<Vec<LivePolicy>, ApiError> {
    use crate::domain::Role;
    use std::collections::HashSet;
    super::ssr::require(Role::Viewer).await?;
    let state = super::ssr::state()?;
    let snapshot = state.config.load();
    let routing = &snapshot.routing;
    let now = u64::try_from(crate::store::now_millis()).unwrap_or_default();
    Ok(routing
        .policies()
        .iter()
        .map(|policy| {
            let stats = state.live.policy_stats(&policy.name);
            let mut seen = HashSet::new();
            let targets = policy
                .routed_models()
                .filter_map(|name| routing.logical_model(name))
                .flat_map(|model| model.targets.iter().map(move |t| (model, &t.target)))
                .filter(|(_, target)| seen.insert(*target))
                .map(|(model, target)| {
                    let circuit = state.live.circuit_view(target, now);
                    TargetCircuit {
                        target: target.to_string(),
                        logical_model: model.name.clone(),
                        circuit: circuit.state,
                        reopens_at_ms: circuit.reopens_at_ms,
                    }
                })
                .collect();
            LivePolicy {
                name: policy.name.clone(),
                matches: stats.matches,
                successes: stats.successes,
                errors: stats.errors,
                fallbacks: stats.fallbacks,
                retries: stats.retries,
                targets,
            }
        })
        .collect())
}

/// How far back the per-arm comparison of split policies looks.
pub const ARM_STATS_HOURS: i64 = 24;

/// One arm of a split policy over the last `ARM_STATS_HOURS`, from the usage ledger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArmStats {
    pub policy: String,
    /// The arm's name: its first logical model.
    pub arm: String,
    pub route: Vec<String>,
    pub weight: u32,
    /// The configured share of the policy's traffic, in percent.
    pub share_percent: f64,
    /// Requests sent down this arm (its matches).
    pub requests: u64,
    /// Of those, the ones the app got an answer for.
    pub successes: u64,
    /// Mean time to the app's answer, over every request.
    pub avg_latency_ms: Option<u64>,
    pub cost: Money,
}

/// Every arm of every enabled split policy, in match order and arm order, with its figures
/// (zero before any traffic), so the arms can be compared side by side.
#[server(endpoint = "policy_arm_stats", input = Json)]
pub async fn policy_arm_stats() -> Result<Vec<ArmStats>, ApiError> {
    use crate::domain::Role;
    use std::collections::HashMap;
    super::ssr::require(Role::Viewer).await?;
    let state = super::ssr::state()?;
    let since = crate::store::now_millis() - ARM_STATS_HOURS * 3_600_000;
    let totals: HashMap<(String, String), crate::store::split_stats::ArmTotals> =
        crate::store::split_stats::arm_totals(&state.db.pool, since)
            .await
            .map_err(ApiError::internal)?
            .into_iter()
            .map(|t| ((t.policy.clone(), t.arm.clone()), t))
            .collect();
    let snapshot = state.config.load();
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let mut arms = Vec::new();
    for policy in snapshot.routing.policies() {
        let total_weight: u32 = policy.split.iter().map(|a| a.weight).sum();
        for arm in &policy.split {
            let t = totals.get(&(policy.name.clone(), arm.name().to_string()));
            let requests = t.map_or(0, |t| count(t.requests));
            arms.push(ArmStats {
                policy: policy.name.clone(),
                arm: arm.name().to_string(),
                route: arm.route.clone(),
                weight: arm.weight,
                share_percent: f64::from(arm.weight) * 100.0 / f64::from(total_weight.max(1)),
                requests,
                successes: t.map_or(0, |t| count(t.successes)),
                avg_latency_ms: t
                    .filter(|_| requests > 0)
                    .map(|t| count(t.latency_ms) / requests),
                cost: t.map_or(Money::ZERO, |t| Money::from_micros(t.cost_micros)),
            });
        }
    }
    Ok(arms)
}
