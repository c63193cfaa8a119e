//! Alerts that open and close: a circuit that opens, an account that turns unhealthy and usage
//! spilling to disk each raise an alert (stored, banner, webhook) that is resolved by itself
//! when the condition clears. A task compares the live state with what it saw a tick before,
//! so the proxy's hot path does nothing more for it.

use super::{webhook, Telemetry};
use crate::domain::{CircuitState, HealthLevel, Target};
pub use crate::domain::{Condition, ConditionChange};
use crate::fleet::{Fleet, OnRedisFailure};
use crate::routing::LiveState;
use crate::snapshot::SharedConfig;
use sqlx::AnyPool;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

pub const CIRCUIT_OPEN: &str = "circuit_open";
pub const ACCOUNT_UNHEALTHY: &str = "account_unhealthy";
pub const USAGE_SPILLING: &str = "usage_spilling";
pub const REDIS_UNREACHABLE: &str = "redis_unreachable";

/// How often conditions are compared; an alert follows its condition within this.
pub const TICK: Duration = Duration::from_secs(1);
/// The webhook URL is read again this often (it lives in the database, which may be down).
const WEBHOOK_REFRESH: Duration = Duration::from_secs(30);

/// The conditions true now, each with the sentence that explains it.
pub fn current(
    config: &SharedConfig,
    live: &LiveState,
    spill_bytes: u64,
    fleet: Option<&Fleet>,
    now_ms: u64,
) -> BTreeMap<Condition, String> {
    let snapshot = config.load();
    let mut found = BTreeMap::new();
    for account in snapshot.routing.accounts() {
        let view = live.account_view(&account.name, now_ms);
        if view.health.level == HealthLevel::Unhealthy {
            found.insert(
                Condition {
                    kind: ACCOUNT_UNHEALTHY.into(),
                    account: account.name.clone(),
                    subject: String::new(),
                },
                format!("{} is unhealthy: {}", account.name, view.health.reason),
            );
        }
    }
    let targets: BTreeSet<&Target> = snapshot
        .routing
        .logical_models()
        .flat_map(|m| m.targets.iter().map(|t| &t.target))
        .collect();
    for target in targets {
        let circuit = live.circuit_view(target, now_ms);
        // Half-open has not recovered yet: only a successful trial closes the circuit.
        if circuit.state != CircuitState::Closed {
            found.insert(
                Condition {
                    kind: CIRCUIT_OPEN.into(),
                    account: target.account.clone(),
                    subject: target.to_string(),
                },
                format!(
                    "the circuit of {target} opened after repeated failures; traffic goes to the next target"
                ),
            );
        }
    }
    if let Some(fleet) = fleet.filter(|f| !f.is_up()) {
        let mode = match fleet.on_failure() {
            OnRedisFailure::Open => {
                "each instance enforces rate limits on its own traffic only, and hard budgets refuse requests"
            }
            OnRedisFailure::Closed => "requests are refused until it is back",
        };
        found.insert(
            Condition {
                kind: REDIS_UNREACHABLE.into(),
                account: String::new(),
                subject: String::new(),
            },
            format!("Redis, where the fleet shares limits, circuits and budgets, cannot be reached: {mode}"),
        );
    }
    if spill_bytes > 0 {
        found.insert(
            Condition {
                kind: USAGE_SPILLING.into(),
                account: String::new(),
                subject: String::new(),
            },
            format!("the database cannot take usage: {spill_bytes} bytes wait in the spill file and are replayed when it is back"),
        );
    }
    found
}

/// What changed between two ticks, oldest state first.
pub fn changes(
    before: &BTreeMap<Condition, String>,
    now: &BTreeMap<Condition, String>,
    at_ms: i64,
) -> Vec<ConditionChange> {
    let raised = now
        .iter()
        .filter(|(c, _)| !before.contains_key(*c))
        .map(|(c, message)| ConditionChange {
            condition: c.clone(),
            raised: true,
            message: message.clone(),
            at_ms,
        });
    let cleared = before
        .iter()
        .filter(|(c, _)| !now.contains_key(*c))
        .map(|(c, message)| ConditionChange {
            condition: c.clone(),
            raised: false,
            message: format!("recovered: {message}"),
            at_ms,
        });
    raised.chain(cleared).collect()
}

/// Starts the task. Alerts still open in the database (from before a restart) are the first
/// "before", so a restart neither raises them again nor posts them twice.
pub fn spawn(
    pool: AnyPool,
    config: SharedConfig,
    live: Arc<LiveState>,
    telemetry: Telemetry,
    fleet: Option<Arc<Fleet>>,
) {
    tokio::spawn(async move {
        let mut before: BTreeMap<Condition, String> =
            match crate::store::alerts::open_conditions(&pool).await {
                Ok(open) => open.into_iter().collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the open alerts; starting from none");
                    BTreeMap::new()
                }
            };
        // Live state starts empty after a restart; an alert from before stays open until its
        // account has been called again, so there is evidence it recovered.
        let mut restored = before.clone();
        let client = reqwest::Client::new();
        let mut webhook_url: Option<String> = None;
        let mut webhook_read_at: Option<tokio::time::Instant> = None;
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticks.tick().await;
            let now = crate::store::now_millis();
            let now_u = u64::try_from(now).unwrap_or(0);
            let mut current = current(
                &config,
                &live,
                telemetry.stats().spill_bytes,
                fleet.as_deref(),
                now_u,
            );
            restored.retain(|c, _| {
                c.kind != USAGE_SPILLING
                    && c.kind != REDIS_UNREACHABLE
                    && !current.contains_key(c)
                    && live.account_view(&c.account, now_u).calls == 0
            });
            for (condition, message) in &restored {
                current.insert(condition.clone(), message.clone());
            }
            let changes = changes(&before, &current, now);
            before = current;
            // Read ahead of need: with the database down, the last URL read is what the spill
            // alert goes to.
            if webhook_read_at.is_none_or(|at| at.elapsed() >= WEBHOOK_REFRESH) {
                webhook_read_at = Some(tokio::time::Instant::now());
                if let Ok(url) = crate::store::alerts::webhook_url(&pool).await {
                    webhook_url = url;
                }
            }
            if changes.is_empty() {
                continue;
            }
            for change in changes {
                tracing::warn!(
                    kind = %change.condition.kind,
                    account = %change.condition.account,
                    raised = change.raised,
                    "{}",
                    change.message
                );
                // Others go through the outbox once stored; this one may find the database down.
                if let (Some(url), USAGE_SPILLING) = (&webhook_url, change.condition.kind.as_str())
                {
                    webhook::spawn_direct(&client, url, webhook::AlertPayload::condition(&change));
                }
                telemetry.record_condition(change);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(kind: &str, account: &str) -> Condition {
        Condition {
            kind: kind.into(),
            account: account.into(),
            subject: String::new(),
        }
    }

    #[test]
    fn a_new_condition_is_raised_and_a_gone_one_resolved_once() {
        let before = BTreeMap::from([(condition(ACCOUNT_UNHEALTHY, "a"), "a is unhealthy".into())]);
        let now = BTreeMap::from([(condition(USAGE_SPILLING, ""), "spilling".into())]);
        let changes = changes(&before, &now, 7);
        assert_eq!(changes.len(), 2);
        assert!(changes[0].raised && changes[0].condition.kind == USAGE_SPILLING);
        assert!(!changes[1].raised && changes[1].message == "recovered: a is unhealthy");
        assert!(super::changes(&now, &now, 8).is_empty());
    }
}
