use super::validation::{enabled_by_default, Checker, DomainError};
use super::{Purpose, StepType, MAX_WEIGHT};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Upper bounds that keep a typo (seconds typed as milliseconds) from disabling a target for days.
pub const MAX_FAILURE_THRESHOLD: u32 = 1_000;
pub const MAX_RECOVERY_SECONDS: u32 = 3_600;
/// A canary compares a few routes; more arms than this only thin out each arm's sample.
pub const MAX_SPLIT_ARMS: usize = 4;

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

/// One arm of a canary split: a route and its share of the policy's traffic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitArm {
    /// Logical model names: the primary, then the fallbacks.
    pub route: Vec<String>,
    /// Share of the traffic relative to the other arms (95 and 5 give 95 % and 5 %); 0 turns
    /// the arm off.
    pub weight: u32,
}

impl SplitArm {
    /// The arm's name in stats and headers: its primary logical model.
    pub fn name(&self) -> &str {
        self.route.first().map_or("", String::as_str)
    }
}

/// A router policy: requests that match are sent along `route` (or one arm of `split`) instead
/// of the requested logical model's own targets.
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
    /// Logical model names: the primary, then the fallbacks. Empty when `split` is set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<String>,
    /// A canary: each request takes one arm's route at random, in proportion to the weights.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub split: Vec<SplitArm>,
    #[serde(default)]
    pub circuit_breaker: CircuitBreakerSettings,
}

impl Policy {
    /// Every logical model the policy may send to: its route and every arm's.
    pub fn routed_models(&self) -> impl Iterator<Item = &String> {
        self.route
            .iter()
            .chain(self.split.iter().flat_map(|arm| &arm.route))
    }

    pub fn validate(&self) -> Result<(), DomainError> {
        let mut check = Checker::default();
        check.name("name", &self.name);
        for (i, model) in self.criteria.logical_models.iter().enumerate() {
            check.name(format!("match.logical_models[{i}]"), model);
        }
        if self.split.is_empty() {
            check.require(
                !self.route.is_empty(),
                "route",
                "needs at least one logical model (or a split)",
            );
        } else {
            check.require(
                self.route.is_empty(),
                "route",
                "leave empty when the policy has a split: each arm has its own route",
            );
            check.require(
                (2..=MAX_SPLIT_ARMS).contains(&self.split.len()),
                "split",
                format!("needs 2 to {MAX_SPLIT_ARMS} arms (one route needs no split)"),
            );
            check.require(
                self.split.iter().any(|arm| arm.weight > 0),
                "split",
                "needs at least one arm with a weight above 0",
            );
        }
        check_route(&mut check, "route", &self.route);
        let mut arm_names = HashSet::new();
        for (a, arm) in self.split.iter().enumerate() {
            check.require(
                !arm.route.is_empty(),
                format!("split[{a}].route"),
                "needs at least one logical model",
            );
            check_route(&mut check, &format!("split[{a}].route"), &arm.route);
            check.require(
                arm.weight <= MAX_WEIGHT,
                format!("split[{a}].weight"),
                format!("must be from 0 to {MAX_WEIGHT}"),
            );
            check.require(
                arm.route.is_empty() || arm_names.insert(arm.name()),
                format!("split[{a}].route"),
                format!(
                    "another arm also starts with `{}`; arms are told apart by their first logical model",
                    arm.name()
                ),
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

fn check_route(check: &mut Checker, field: &str, route: &[String]) {
    let mut seen = HashSet::new();
    for (i, model) in route.iter().enumerate() {
        check.name(format!("{field}[{i}]"), model);
        check.require(
            seen.insert(model),
            format!("{field}[{i}]"),
            format!("repeats `{model}`"),
        );
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
            split: vec![],
            circuit_breaker: CircuitBreakerSettings::default(),
        }
    }

    fn arm(route: &[&str], weight: u32) -> SplitArm {
        SplitArm {
            route: route.iter().map(|m| m.to_string()).collect(),
            weight,
        }
    }

    fn canary(p: &mut Policy) {
        p.route.clear();
        p.split = vec![
            arm(&["m-current"], 95),
            arm(&["m-candidate", "m-current"], 5),
        ];
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
            ("canary split", canary, &[]),
            (
                "split and route",
                |p| {
                    canary(p);
                    p.route = vec!["fast-llm".into()];
                },
                &["route"],
            ),
            (
                "one arm",
                |p| {
                    canary(p);
                    p.split.pop();
                },
                &["split"],
            ),
            (
                "five arms",
                |p| {
                    canary(p);
                    for model in ["a", "b", "c"] {
                        p.split.push(arm(&[model], 1));
                    }
                },
                &["split"],
            ),
            (
                "all arms off",
                |p| {
                    canary(p);
                    p.split.iter_mut().for_each(|a| a.weight = 0);
                },
                &["split"],
            ),
            (
                "arm without route",
                |p| {
                    canary(p);
                    p.split[1].route.clear();
                },
                &["split[1].route"],
            ),
            (
                "arm repeats a model",
                |p| {
                    canary(p);
                    p.split[1].route.push("m-candidate".into());
                },
                &["split[1].route[2]"],
            ),
            (
                "arms with the same primary",
                |p| {
                    canary(p);
                    p.split[1].route = vec!["m-current".into()];
                },
                &["split[1].route"],
            ),
            (
                "arm weight too high",
                |p| {
                    canary(p);
                    p.split[0].weight = MAX_WEIGHT + 1;
                },
                &["split[0].weight"],
            ),
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
        let json = r#"{"name":"canary","split":[{"route":["m-current"],"weight":95},
            {"route":["m-candidate"],"weight":5}]}"#;
        let policy: Policy = serde_json::from_str(json).unwrap();
        assert!(policy.route.is_empty());
        assert_eq!(policy.split[1].name(), "m-candidate");
        assert_eq!(
            policy.routed_models().collect::<Vec<_>>(),
            vec!["m-current", "m-candidate"]
        );
        let text = serde_json::to_string(&policy).unwrap();
        assert!(!text.contains(r#""route":[]"#), "{text}");
        assert_eq!(serde_json::from_str::<Policy>(&text).unwrap(), policy);
    }
}
