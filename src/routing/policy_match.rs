//! Which route a request takes: the first enabled policy that matches, else the requested
//! logical model's own targets.

use super::strategy::pick_weighted;
use super::{RouteRequest, RoutingError, RoutingSnapshot};
use crate::domain::{LogicalModel, MatchCriteria, Policy, SplitArm};
use rand::Rng;

/// The logical models to try, in order, and the policy (and canary arm) that chose them.
#[derive(Clone, Debug, PartialEq)]
pub struct Route<'a> {
    pub policy: Option<&'a Policy>,
    /// The arm drawn when the policy splits its traffic.
    pub arm: Option<&'a SplitArm>,
    pub logical_models: Vec<&'a LogicalModel>,
}

/// An empty criterion matches anything.
pub fn criteria_match(criteria: &MatchCriteria, request: &RouteRequest) -> bool {
    (criteria.step_types.is_empty() || criteria.step_types.contains(&request.step_type))
        && (criteria.purposes.is_empty() || criteria.purposes.contains(&request.purpose))
        && (criteria.logical_models.is_empty()
            || criteria.logical_models.contains(&request.logical_model))
}

/// `rng` draws the arm of a split policy, in proportion to the arms' weights.
pub fn select_route<'a>(
    snapshot: &'a RoutingSnapshot,
    request: &RouteRequest,
    rng: &mut impl Rng,
) -> Result<Route<'a>, RoutingError> {
    let requested = snapshot
        .logical_model(&request.logical_model)
        .ok_or_else(|| RoutingError::ModelNotFound(request.logical_model.clone()))?;
    // Refused up front: a policy must not quietly turn a vision request into a text-only one.
    if let Some(capability) = requested.capabilities.first_missing(request.needs) {
        return Err(RoutingError::CapabilityMissing {
            logical_model: requested.name.clone(),
            capability,
        });
    }
    let policy = snapshot
        .policies()
        .iter()
        .find(|p| criteria_match(&p.criteria, request));
    let arm = policy.filter(|p| !p.split.is_empty()).and_then(|p| {
        let weights: Vec<u32> = p.split.iter().map(|arm| arm.weight).collect();
        pick_weighted(&weights, rng).and_then(|i| p.split.get(i))
    });
    let logical_models: Vec<&LogicalModel> = match (policy, arm) {
        (_, Some(arm)) => names_to_models(snapshot, &arm.route),
        (Some(policy), None) => names_to_models(snapshot, &policy.route),
        (None, None) => vec![requested],
    };
    if logical_models.is_empty() {
        return Err(RoutingError::ModelNotFound(request.logical_model.clone()));
    }
    Ok(Route {
        policy,
        arm,
        logical_models,
    })
}

fn names_to_models<'a>(snapshot: &'a RoutingSnapshot, names: &[String]) -> Vec<&'a LogicalModel> {
    names
        .iter()
        .filter_map(|name| snapshot.logical_model(name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Capabilities, Capability, ProviderKind, Purpose, SplitArm, StepType};
    use crate::routing::snapshot::tests::{account, logical_model, policy, target};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn rng() -> StdRng {
        StdRng::seed_from_u64(7)
    }

    fn snapshot() -> RoutingSnapshot {
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
        RoutingSnapshot::new(
            vec![
                account("openai-main", ProviderKind::Openai),
                account("mistral", ProviderKind::Mistral),
            ],
            vec![
                logical_model("primary-llm", all, vec![target("openai-main", "gpt-4o")]),
                logical_model("fast-llm", text, vec![target("mistral", "mistral-small")]),
            ],
            vec![
                policy(
                    "cheap-classification",
                    100,
                    MatchCriteria {
                        step_types: vec![StepType::Inference],
                        purposes: vec![Purpose::Classification],
                        logical_models: vec![],
                    },
                    &["fast-llm", "primary-llm"],
                ),
                policy(
                    "extraction-via-primary",
                    10,
                    MatchCriteria {
                        step_types: vec![StepType::Extraction],
                        logical_models: vec!["fast-llm".into()],
                        ..Default::default()
                    },
                    &["primary-llm"],
                ),
                // Same priority as the one above; "aaa" sorts first so it wins the tie.
                policy(
                    "aaa-tools",
                    10,
                    MatchCriteria {
                        step_types: vec![StepType::ToolCall, StepType::Extraction],
                        ..Default::default()
                    },
                    &["primary-llm", "fast-llm"],
                ),
            ],
        )
        .unwrap()
    }

    fn request(
        model: &str,
        step_type: StepType,
        purpose: Purpose,
        needs: &[Capability],
    ) -> RouteRequest {
        RouteRequest {
            logical_model: model.into(),
            step_type,
            purpose,
            needs: needs.iter().copied().collect(),
            estimated_tokens: 100,
            estimated_prompt_tokens: 20,
        }
    }

    #[test]
    fn route_selection_table() {
        let snapshot = snapshot();
        type Case = (
            &'static str,
            RouteRequest,
            Option<&'static str>,
            &'static [&'static str],
        );
        let cases: Vec<Case> = vec![
            (
                "no match uses the model's own targets",
                request("fast-llm", StepType::Inference, Purpose::Chat, &[]),
                None,
                &["fast-llm"],
            ),
            (
                "all criteria must match",
                request(
                    "primary-llm",
                    StepType::Inference,
                    Purpose::Classification,
                    &[],
                ),
                Some("cheap-classification"),
                &["fast-llm", "primary-llm"],
            ),
            (
                "a different purpose does not match",
                request(
                    "primary-llm",
                    StepType::Inference,
                    Purpose::Summarization,
                    &[],
                ),
                None,
                &["primary-llm"],
            ),
            (
                "tie broken by name",
                request("fast-llm", StepType::Extraction, Purpose::Chat, &[]),
                Some("aaa-tools"),
                &["primary-llm", "fast-llm"],
            ),
            (
                "empty model criterion matches any model",
                request("primary-llm", StepType::ToolCall, Purpose::Chat, &[]),
                Some("aaa-tools"),
                &["primary-llm", "fast-llm"],
            ),
        ];
        for (label, req, policy_name, models) in cases {
            let route = select_route(&snapshot, &req, &mut rng()).unwrap();
            assert_eq!(
                route.policy.map(|p| p.name.as_str()),
                policy_name,
                "{label}"
            );
            let names: Vec<&str> = route
                .logical_models
                .iter()
                .map(|m| m.name.as_str())
                .collect();
            assert_eq!(names, models, "{label}");
        }
    }

    #[test]
    fn disabled_policies_never_match() {
        let base = snapshot();
        let mut policies = base.policies().to_vec();
        for p in &mut policies {
            p.enabled = false;
        }
        let accounts = vec![
            account("openai-main", ProviderKind::Openai),
            account("mistral", ProviderKind::Mistral),
        ];
        let models = vec![
            base.logical_model("primary-llm").cloned().unwrap(),
            base.logical_model("fast-llm").cloned().unwrap(),
        ];
        let snapshot = RoutingSnapshot::new(accounts, models, policies).unwrap();
        let route = select_route(
            &snapshot,
            &request(
                "primary-llm",
                StepType::Inference,
                Purpose::Classification,
                &[],
            ),
            &mut rng(),
        )
        .unwrap();
        assert_eq!(route.policy, None);
    }

    #[test]
    fn a_split_policy_draws_an_arm_in_proportion_to_the_weights() {
        let base = snapshot();
        let mut canary = policy("canary", 1_000, MatchCriteria::default(), &[]);
        canary.split = vec![
            SplitArm {
                route: vec!["primary-llm".into()],
                weight: 3,
            },
            SplitArm {
                route: vec!["fast-llm".into(), "primary-llm".into()],
                weight: 1,
            },
        ];
        let models = vec![
            base.logical_model("primary-llm").cloned().unwrap(),
            base.logical_model("fast-llm").cloned().unwrap(),
        ];
        let accounts = base.accounts().cloned().collect();
        let snapshot = RoutingSnapshot::new(accounts, models, vec![canary]).unwrap();
        let req = request("primary-llm", StepType::Inference, Purpose::Chat, &[]);
        let mut rng = rng();
        let draws = 8_000;
        let mut candidate = 0;
        for _ in 0..draws {
            let route = select_route(&snapshot, &req, &mut rng).unwrap();
            let arm = route.arm.unwrap();
            let names: Vec<&str> = route
                .logical_models
                .iter()
                .map(|m| m.name.as_str())
                .collect();
            assert_eq!(names, arm.route, "the arm's route is the route");
            if arm.name() == "fast-llm" {
                candidate += 1;
            }
        }
        let share = f64::from(candidate) / f64::from(draws);
        // One standard deviation is about 0.5 % at 8,000 draws.
        assert!((share - 0.25).abs() < 0.02, "{share}");
    }

    #[test]
    fn refusals() {
        let snapshot = snapshot();
        let cases = [
            (
                request("gpt-5", StepType::Inference, Purpose::Chat, &[]),
                RoutingError::ModelNotFound("gpt-5".into()),
                "logical model `gpt-5` not found",
            ),
            (
                request(
                    "fast-llm",
                    StepType::Inference,
                    Purpose::Chat,
                    &[Capability::Streaming, Capability::Vision],
                ),
                RoutingError::CapabilityMissing {
                    logical_model: "fast-llm".into(),
                    capability: Capability::Vision,
                },
                "logical model `fast-llm` does not support vision",
            ),
        ];
        for (req, err, message) in cases {
            let got = select_route(&snapshot, &req, &mut rng()).unwrap_err();
            assert_eq!(got, err);
            assert_eq!(got.to_string(), message);
        }
    }
}
