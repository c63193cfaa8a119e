//! Router policies and the "which policy matches?" tester.

use super::ApiError;
use crate::domain::{CircuitState, Policy, Purpose, StepType};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use server_fn::codec::Json;

/// What the router would do with a request, as configured (no live traffic considered).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyMatch {
    /// The winning policy; `None` when the requested model's own targets are the route.
    pub policy: Option<String>,
    /// `account/provider-model (from logical-model)`, in the order they would be tried.
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
    for (i, model) in policy.route.iter().enumerate() {
        if !known(model) {
            return Err(ApiError::invalid(
                &format!("route[{i}]"),
                format!("There is no logical model named `{model}`."),
            ));
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
/// it would try in order, judged on the current configuration.
#[server(endpoint = "which_policy", input = Json)]
pub async fn which_policy(
    step_type: StepType,
    purpose: Purpose,
    model: String,
) -> Result<PolicyMatch, ApiError> {
    use crate::domain::{Capabilities, Role};
    use crate::routing::{plan, LiveState, RouteRequest, RoutingError};
    super::ssr::require(Role::Viewer).await?;
    let state = super::ssr::state()?;
    let snapshot = state.config.load();
    let request = RouteRequest {
        logical_model: model,
        step_type,
        purpose,
        needs: Capabilities::default(),
        estimated_tokens: 0,
    };
    let now = u64::try_from(crate::store::now_millis()).unwrap_or_default();
    // A fresh live state: the tester shows the configured order, not today's circuit states.
    match plan(&snapshot.routing, &request, &LiveState::new(), now) {
        Ok(plan) => Ok(PolicyMatch {
            policy: plan.policy,
            candidates: plan
                .candidates
                .iter()
                .map(|c| format!("{} (from {})", c.target, c.logical_model))
                .collect(),
            skipped: plan.skips.iter().map(ToString::to_string).collect(),
        }),
        Err(RoutingError::ModelNotFound(name)) => Err(ApiError::invalid(
            "model",
            format!("There is no logical model named `{name}`."),
        )),
        Err(RoutingError::Exhausted(exhausted)) => Ok(PolicyMatch {
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
