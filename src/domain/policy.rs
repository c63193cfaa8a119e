use super::validation::{enabled_by_default, Checker, DomainError};
use super::{Purpose, StepType};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Upper bounds that keep a typo (seconds typed as milliseconds) from disabling a target for days.
pub const MAX_FAILURE_THRESHOLD: u32 = 1_000;
pub const MAX_RECOVERY_SECONDS: u32 = 3_600;

/// Which requests a policy applies to. An empty list matches anything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchCriteria {
    pub step_types: Vec<StepType>,
    pub purposes: Vec<Purpose>,
    /// Requested logical model names.
    pub logical_models: Vec<String>,
}

/// When a target's circuit opens and how long it stays open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreakerSettings {
    /// Consecutive failures that open the circuit.
    pub failure_threshold: u32,
    /// Seconds the circuit stays open before one trial request is let through.
    pub recovery_seconds: u32,
}

impl Default for CircuitBreakerSettings {
    fn default() -> Self {
        CircuitBreakerSettings {
            failure_threshold: 5,
            recovery_seconds: 30,
        }
    }
}

impl CircuitBreakerSettings {
    pub fn recovery_ms(self) -> u64 {
        u64::from(self.recovery_seconds) * 1_000
    }
}

/// A router policy: requests that match are sent along `route` instead of the requested logical
/// model's own targets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub name: String,
    /// Highest first; ties are broken by name.
    #[serde(default)]
    pub priority: i32,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    #[serde(rename = "match", default)]
    pub criteria: MatchCriteria,
    /// Logical model names: the primary, then the fallbacks.
    pub route: Vec<String>,
    #[serde(default)]
    pub circuit_breaker: CircuitBreakerSettings,
}

impl Policy {
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut check = Checker::default();
        check.name("name", &self.name);
        for (i, model) in self.criteria.logical_models.iter().enumerate() {
            check.name(format!("match.logical_models[{i}]"), model);
        }
        check.require(
            !self.route.is_empty(),
            "route",
            "needs at least one logical model",
        );
        let mut seen = HashSet::new();
        for (i, model) in self.route.iter().enumerate() {
            check.name(format!("route[{i}]"), model);
            check.require(
                seen.insert(model),
                format!("route[{i}]"),
                format!("repeats `{model}`"),
            );
        }
        let breaker = self.circuit_breaker;
        check.require(
            (1..=MAX_FAILURE_THRESHOLD).contains(&breaker.failure_threshold),
            "circuit_breaker.failure_threshold",
            format!("must be from 1 to {MAX_FAILURE_THRESHOLD}"),
        );
        check.require(
            (1..=MAX_RECOVERY_SECONDS).contains(&breaker.recovery_seconds),
            "circuit_breaker.recovery_seconds",
            format!("must be from 1 to {MAX_RECOVERY_SECONDS}"),
        );
        check.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Policy {
        Policy {
            name: "cheap-classification".into(),
            priority: 100,
            enabled: true,
            criteria: MatchCriteria {
                step_types: vec![StepType::Inference],
                purposes: vec![Purpose::Classification],
                logical_models: vec![],
            },
            route: vec!["fast-llm".into(), "primary-llm".into()],
            circuit_breaker: CircuitBreakerSettings::default(),
        }
    }

    fn fields(policy: &Policy) -> Vec<String> {
        match policy.validate() {
            Ok(()) => vec![],
            Err(DomainError::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
            Err(other) => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn validation_names_the_offending_field() {
        type Edit = fn(&mut Policy);
        let cases: &[(&str, Edit, &[&str])] = &[
            ("valid", |_| {}, &[]),
            ("empty name", |p| p.name.clear(), &["name"]),
            (
                "bad match model",
                |p| p.criteria.logical_models = vec!["Fast".into()],
                &["match.logical_models[0]"],
            ),
            ("empty route", |p| p.route.clear(), &["route"]),
            (
                "repeated route",
                |p| p.route.push("fast-llm".into()),
                &["route[2]"],
            ),
            (
                "zero threshold",
                |p| p.circuit_breaker.failure_threshold = 0,
                &["circuit_breaker.failure_threshold"],
            ),
            (
                "zero recovery",
                |p| p.circuit_breaker.recovery_seconds = 0,
                &["circuit_breaker.recovery_seconds"],
            ),
            (
                "recovery too long",
                |p| p.circuit_breaker.recovery_seconds = 3_601,
                &["circuit_breaker.recovery_seconds"],
            ),
            ("negative priority ok", |p| p.priority = -5, &[]),
        ];
        for (label, edit, expected) in cases {
            let mut policy = valid();
            edit(&mut policy);
            assert_eq!(fields(&policy), *expected, "{label}");
        }
    }

    #[test]
    fn deserializes_the_config_file_shape() {
        let json = r#"{"name":"extraction-via-primary","priority":10,
            "match":{"step_types":["extraction"],"logical_models":["fast-llm"]},
            "route":["primary-llm"]}"#;
        let policy: Policy = serde_json::from_str(json).unwrap();
        assert!(policy.enabled);
        assert_eq!(policy.criteria.step_types, vec![StepType::Extraction]);
        assert!(policy.criteria.purposes.is_empty());
        assert_eq!(
            policy.circuit_breaker,
            CircuitBreakerSettings {
                failure_threshold: 5,
                recovery_seconds: 30
            }
        );
        assert_eq!(policy.circuit_breaker.recovery_ms(), 30_000);
    }
}
