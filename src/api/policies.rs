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

#[cfg(feature = "ssr")]
mod ssr {
    use crate::api::change::{check_refs, field_error, Erase, Resource};
    use crate::api::ApiError;
    use crate::store::config::{self, PolicyRecord, StoredConfig};
    use crate::store::StoreError;
    use sqlx::AnyConnection;
    use std::future::Future;

    impl Resource for PolicyRecord {
        const WHAT: &'static str = "policy";
        const AUDIT_KIND: &'static str = "policy";

        fn name(&self) -> String {
            self.policy.name.clone()
        }
        fn all(stored: &StoredConfig) -> &Vec<Self> {
            &stored.policies
        }
        fn all_mut(stored: &mut StoredConfig) -> &mut Vec<Self> {
            &mut stored.policies
        }
        fn validate(&self, stored: &StoredConfig) -> Result<(), ApiError> {
            self.policy.validate().map_err(field_error)?;
            let models: Vec<&str> = stored
                .models
                .iter()
                .map(|m| m.model.name.as_str())
                .collect();
            check_refs(&self.policy.route, &models, "logical model", |i| {
                format!("route[{i}]")
            })?;
            for (a, arm) in self.policy.split.iter().enumerate() {
                check_refs(&arm.route, &models, "logical model", |i| {
                    format!("split[{a}].route[{i}]")
                })?;
            }
            check_refs(
                &self.policy.criteria.logical_models,
                &models,
                "logical model",
                |i| format!("match.logical_models[{i}]"),
            )
        }
        fn audit(&self) -> serde_json::Value {
            crate::configuration::audit::of(&self.policy)
        }
        fn write<'a>(
            &'a self,
            tx: &'a mut AnyConnection,
            _: &'a StoredConfig,
            now: i64,
        ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a {
            config::save_policy(tx, self, now)
        }
    }

    impl Erase for PolicyRecord {
        fn erase<'a>(
            &'a self,
            tx: &'a mut AnyConnection,
        ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a {
            config::delete_policy(tx, &self.id)
        }
    }
}

/// Every policy in evaluation order: enabled ones by priority (highest first, ties by name),
/// then the disabled ones.
#[server(endpoint = "list_policies", input = Json)]
pub async fn list_policies() -> Result<Vec<Policy>, ApiError> {
    use crate::domain::Role;
    super::ssr::require(Role::Viewer).await?;
    let stored = super::ssr::stored_config().await?;
    let mut policies: Vec<Policy> = stored.policies.into_iter().map(|r| r.policy).collect();
    policies.sort_by(|a, b| {
        b.enabled
            .cmp(&a.enabled)
            .then(b.priority.cmp(&a.priority))
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(policies)
}

/// Creates (`original_name` empty) or updates the policy `original_name`, which may be renamed.
#[server(endpoint = "save_policy", input = Json)]
pub async fn save_policy(
    original_name: Option<String>,
    policy: Policy,
) -> Result<Policy, ApiError> {
    use super::change::{save, Slot};
    use crate::domain::Role;
    use crate::store::config::PolicyRecord;
    let user = super::ssr::require(Role::Editor).await?;
    let slot = Slot::from_original(original_name.as_deref());
    let saved = save(&user.username, slot, "update", |_, existing| {
        Ok(PolicyRecord {
            id: existing.map_or_else(crate::store::new_id, |r: &PolicyRecord| r.id.clone()),
            policy,
        })
    })
    .await?;
    Ok(saved.policy)
}

#[server(endpoint = "delete_policy", input = Json)]
pub async fn delete_policy(name: String) -> Result<(), ApiError> {
    use crate::domain::Role;
    use crate::store::config::PolicyRecord;
    let user = super::ssr::require(Role::Editor).await?;
    super::change::delete::<PolicyRecord>(&user.username, &name).await
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
    super::ssr::require(Role::Viewer).await?;
    let state = super::ssr::state()?;
    let now = u64::try_from(crate::store::now_millis()).unwrap_or_default();
    Ok(super::live::ssr::live_policies(&state, now))
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
