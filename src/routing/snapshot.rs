//! The configuration the router decides on: built once per config change, checked as a whole,
//! and shared read-only (behind an `Arc`) by every request until the next change.

use super::RoutingError;
use crate::domain::{LogicalModel, Policy, Price, ProviderAccount, ProviderKind, Target};
use std::collections::{HashMap, HashSet};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoutingSnapshot {
    accounts: HashMap<String, ProviderAccount>,
    logical_models: HashMap<String, LogicalModel>,
    /// Enabled policies in match order: highest priority first, ties broken by name.
    policies: Vec<Policy>,
    /// The price of every target that has one, for `cheapest` and for pricing calls.
    prices: HashMap<Target, Price>,
}

impl RoutingSnapshot {
    /// Checks every item and every reference between them, so the hot path can trust the
    /// snapshot; the API builds one from a proposed change to validate it before committing.
    pub fn new(
        accounts: Vec<ProviderAccount>,
        logical_models: Vec<LogicalModel>,
        policies: Vec<Policy>,
    ) -> Result<Self, RoutingError> {
        let mut problems = Vec::new();
        let mut account_map = HashMap::new();
        for account in accounts {
            if let Err(err) = account.validate() {
                problems.push(format!("provider account `{}`: {err}", account.name));
            }
            let name = account.name.clone();
            if account_map.insert(name.clone(), account).is_some() {
                problems.push(format!("provider account `{name}` is defined twice"));
            }
        }
        let mut model_map = HashMap::new();
        for model in logical_models {
            if let Err(err) = model.validate() {
                problems.push(format!("logical model `{}`: {err}", model.name));
            }
            for target in model.targets.iter().map(|t| &t.target) {
                match account_map.get(&target.account) {
                    None => problems.push(format!(
                        "logical model `{}`: target {target} uses unknown provider account `{}`",
                        model.name, target.account
                    )),
                    Some(account)
                        if model.capabilities.embeddings && !account.kind.offers_embeddings() =>
                    {
                        problems.push(format!(
                            "logical model `{}`: declares embeddings, but target {target} is on {}, which has no embeddings API",
                            model.name,
                            account.kind.label()
                        ))
                    }
                    Some(_) => {}
                }
            }
            let name = model.name.clone();
            if model_map.insert(name.clone(), model).is_some() {
                problems.push(format!("logical model `{name}` is defined twice"));
            }
        }
        let mut policy_names = HashSet::new();
        for policy in &policies {
            if let Err(err) = policy.validate() {
                problems.push(format!("policy `{}`: {err}", policy.name));
            }
            for model in policy
                .routed_models()
                .chain(&policy.criteria.logical_models)
            {
                if !model_map.contains_key(model) {
                    problems.push(format!(
                        "policy `{}`: unknown logical model `{model}`",
                        policy.name
                    ));
                }
            }
            if !policy_names.insert(policy.name.as_str()) {
                problems.push(format!("policy `{}` is defined twice", policy.name));
            }
        }
        if !problems.is_empty() {
            return Err(RoutingError::InvalidConfig(problems));
        }
        let mut enabled: Vec<Policy> = policies.into_iter().filter(|p| p.enabled).collect();
        enabled.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(RoutingSnapshot {
            accounts: account_map,
            logical_models: model_map,
            policies: enabled,
            prices: HashMap::new(),
        })
    }

    /// Looks up the price of every target once (`price_of(kind, provider model)`: the price
    /// table, else the seed list), so the hot path only reads a map.
    pub fn with_prices(mut self, price_of: impl Fn(ProviderKind, &str) -> Option<Price>) -> Self {
        let mut prices = HashMap::new();
        for entry in self.logical_models.values().flat_map(|m| &m.targets) {
            let target = &entry.target;
            let kind = self.accounts.get(&target.account).map(|a| a.kind);
            if let Some(price) = kind.and_then(|kind| price_of(kind, &target.model)) {
                prices.insert(target.clone(), price);
            }
        }
        self.prices = prices;
        self
    }

    pub fn price(&self, target: &Target) -> Option<Price> {
        self.prices.get(target).copied()
    }

    pub fn account(&self, name: &str) -> Option<&ProviderAccount> {
        self.accounts.get(name)
    }

    /// Every provider account, in no particular order.
    pub fn accounts(&self) -> impl Iterator<Item = &ProviderAccount> {
        self.accounts.values()
    }

    pub fn logical_model(&self, name: &str) -> Option<&LogicalModel> {
        self.logical_models.get(name)
    }

    /// Every logical model, in no particular order (`GET /v1/models` sorts them).
    pub fn logical_models(&self) -> impl Iterator<Item = &LogicalModel> {
        self.logical_models.values()
    }

    /// Enabled policies in the order they are matched.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::{
        Capabilities, CircuitBreakerSettings, MatchCriteria, ModelTarget, Money, ProviderKind,
        Strategy, DEFAULT_ALERT_THRESHOLDS,
    };

    pub(crate) fn account(name: &str, kind: ProviderKind) -> ProviderAccount {
        ProviderAccount {
            name: name.into(),
            kind,
            enabled: true,
            rpm_limit: None,
            tpm_limit: None,
            monthly_budget: None,
            soft_budget: false,
            alert_thresholds: DEFAULT_ALERT_THRESHOLDS.to_vec(),
        }
    }

    pub(crate) fn target(account: &str, model: &str) -> Target {
        Target {
            account: account.into(),
            model: model.into(),
        }
    }

    pub(crate) fn logical_model(
        name: &str,
        capabilities: Capabilities,
        targets: Vec<Target>,
    ) -> LogicalModel {
        LogicalModel {
            name: name.into(),
            description: String::new(),
            capabilities,
            defaults: Default::default(),
            strategy: Strategy::Ordered,
            targets: targets
                .into_iter()
                .map(|target| ModelTarget { target, weight: 1 })
                .collect(),
            retries: 0,
            cache: None,
        }
    }

    pub(crate) fn policy(
        name: &str,
        priority: i32,
        criteria: MatchCriteria,
        route: &[&str],
    ) -> Policy {
        Policy {
            name: name.into(),
            priority,
            enabled: true,
            criteria,
            route: route.iter().map(|m| m.to_string()).collect(),
            split: vec![],
            circuit_breaker: CircuitBreakerSettings::default(),
        }
    }

    fn all() -> Capabilities {
        Capabilities {
            streaming: true,
            tools: true,
            vision: true,
            json_mode: true,
            embeddings: false,
        }
    }

    #[test]
    fn policies_are_ordered_by_priority_then_name_and_disabled_ones_dropped() {
        let accounts = vec![account("openai-main", ProviderKind::Openai)];
        let models = vec![logical_model(
            "primary-llm",
            all(),
            vec![target("openai-main", "gpt-4o")],
        )];
        let mut off = policy("a-off", 1_000, MatchCriteria::default(), &["primary-llm"]);
        off.enabled = false;
        let policies = vec![
            policy("zeta", 10, MatchCriteria::default(), &["primary-llm"]),
            off,
            policy("beta", 10, MatchCriteria::default(), &["primary-llm"]),
            policy("top", 100, MatchCriteria::default(), &["primary-llm"]),
            policy("low", -1, MatchCriteria::default(), &["primary-llm"]),
        ];
        let snapshot = RoutingSnapshot::new(accounts, models, policies).unwrap();
        let order: Vec<&str> = snapshot
            .policies()
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(order, vec!["top", "beta", "zeta", "low"]);
        assert_eq!(
            snapshot.account("openai-main").map(|a| a.kind),
            Some(ProviderKind::Openai)
        );
        assert!(snapshot.logical_model("primary-llm").is_some());
        assert!(snapshot.logical_model("fast-llm").is_none());
    }

    #[test]
    fn every_broken_reference_is_reported() {
        let mut bad_account = account("openai-main", ProviderKind::Openai);
        bad_account.monthly_budget = Some(Money::ZERO);
        let accounts = vec![bad_account, account("openai-main", ProviderKind::Openai)];
        let models = vec![logical_model(
            "primary-llm",
            all(),
            vec![target("nowhere", "gpt-4o")],
        )];
        let criteria = MatchCriteria {
            logical_models: vec!["ghost-llm".into()],
            ..Default::default()
        };
        let policies = vec![policy("p", 1, criteria, &["missing-llm"])];
        let Err(RoutingError::InvalidConfig(problems)) =
            RoutingSnapshot::new(accounts, models, policies)
        else {
            panic!("expected InvalidConfig");
        };
        assert_eq!(
            problems,
            vec![
                "provider account `openai-main`: monthly_budget: must be greater than $0 (leave empty for no budget)",
                "provider account `openai-main` is defined twice",
                "logical model `primary-llm`: target nowhere/gpt-4o uses unknown provider account `nowhere`",
                "policy `p`: unknown logical model `missing-llm`",
                "policy `p`: unknown logical model `ghost-llm`",
            ]
        );
    }

    #[test]
    fn an_embeddings_model_may_not_target_a_provider_without_embeddings() {
        let accounts = vec![
            account("claude", ProviderKind::Anthropic),
            account("openai-main", ProviderKind::Openai),
        ];
        let embeddings = Capabilities {
            embeddings: true,
            ..Capabilities::default()
        };
        let ok = logical_model(
            "embed",
            embeddings,
            vec![target("openai-main", "text-embedding-3-small")],
        );
        assert!(RoutingSnapshot::new(accounts.clone(), vec![ok], vec![]).is_ok());
        let bad = logical_model(
            "embed",
            embeddings,
            vec![
                target("openai-main", "text-embedding-3-small"),
                target("claude", "claude-sonnet-4-5"),
            ],
        );
        let Err(RoutingError::InvalidConfig(problems)) =
            RoutingSnapshot::new(accounts, vec![bad], vec![])
        else {
            panic!("expected InvalidConfig");
        };
        assert_eq!(
            problems,
            vec!["logical model `embed`: declares embeddings, but target claude/claude-sonnet-4-5 is on Anthropic, which has no embeddings API"]
        );
    }
}
