use super::key_limits::check_limits;
use super::validation::{enabled_by_default, Checker, DomainError};
use super::{Money, ProviderKind};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Budget percentages that raise an alert unless the account says otherwise.
pub const DEFAULT_ALERT_THRESHOLDS: [u8; 3] = [50, 80, 100];
/// More thresholds than this is noise, not alerting.
pub const MAX_ALERT_THRESHOLDS: usize = 10;

fn default_alert_thresholds() -> Vec<u8> {
    DEFAULT_ALERT_THRESHOLDS.to_vec()
}

/// The routing-relevant part of a provider account: what the router needs to decide whether a
/// target on this account may be tried. Endpoint and credentials live with the providers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderAccount {
    pub name: String,
    pub kind: ProviderKind,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Requests per rolling minute; `None` means the router does not limit.
    #[serde(default)]
    pub rpm_limit: Option<u32>,
    /// Tokens (prompt + completion) per rolling minute.
    #[serde(default)]
    pub tpm_limit: Option<u32>,
    /// Spend allowed per calendar month (UTC).
    #[serde(default)]
    pub monthly_budget: Option<Money>,
    /// A soft budget alerts but never stops traffic.
    #[serde(default)]
    pub soft_budget: bool,
    /// Percentages of the monthly budget that raise one alert each per month.
    #[serde(default = "default_alert_thresholds")]
    pub alert_thresholds: Vec<u8>,
}

/// Azure OpenAI addresses a deployment on a per-resource endpoint, not a model on a shared
/// base URL, so its accounts carry these settings as well.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureSettings {
    /// `https://<resource>.openai.azure.com`
    pub endpoint: String,
    /// e.g. `2024-10-21`
    pub api_version: String,
    /// Provider model name (as used in targets) to deployment name.
    #[serde(default)]
    pub deployments: std::collections::BTreeMap<String, String>,
}

impl AzureSettings {
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut check = Checker::default();
        check.require(
            self.endpoint.starts_with("https://") || self.endpoint.starts_with("http://"),
            "azure.endpoint",
            "must be an http(s) URL, e.g. https://example.openai.azure.com",
        );
        check.require(
            !self.api_version.trim().is_empty(),
            "azure.api_version",
            "must not be empty, e.g. 2024-10-21",
        );
        for (model, deployment) in &self.deployments {
            check.require(
                !model.trim().is_empty() && !deployment.trim().is_empty(),
                "azure.deployments",
                "each entry needs a model name and a deployment name",
            );
        }
        check.finish()
    }
}

impl ProviderAccount {
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut check = Checker::default();
        check.name("name", &self.name);
        check_limits(
            &mut check,
            self.rpm_limit,
            self.tpm_limit,
            self.monthly_budget,
        );
        check.require(
            self.alert_thresholds.len() <= MAX_ALERT_THRESHOLDS,
            "alert_thresholds",
            format!("at most {MAX_ALERT_THRESHOLDS} thresholds"),
        );
        let mut seen = HashSet::new();
        for (i, &threshold) in self.alert_thresholds.iter().enumerate() {
            check.require(
                (1..=100).contains(&threshold),
                format!("alert_thresholds[{i}]"),
                "must be a percentage from 1 to 100",
            );
            check.require(
                seen.insert(threshold),
                format!("alert_thresholds[{i}]"),
                format!("repeats {threshold}%"),
            );
        }
        check.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> ProviderAccount {
        ProviderAccount {
            name: "openai-main".into(),
            kind: ProviderKind::Openai,
            enabled: true,
            rpm_limit: Some(500),
            tpm_limit: Some(200_000),
            monthly_budget: Some(Money::from_dollars(1000.0)),
            soft_budget: false,
            alert_thresholds: DEFAULT_ALERT_THRESHOLDS.to_vec(),
        }
    }

    fn fields(account: &ProviderAccount) -> Vec<String> {
        match account.validate() {
            Ok(()) => vec![],
            Err(DomainError::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
            Err(other) => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn validation_names_the_offending_field() {
        type Edit = fn(&mut ProviderAccount);
        let cases: &[(&str, Edit, &[&str])] = &[
            ("valid", |_| {}, &[]),
            (
                "no limits at all",
                |a| {
                    a.rpm_limit = None;
                    a.tpm_limit = None;
                    a.monthly_budget = None;
                },
                &[],
            ),
            ("bad name", |a| a.name = "OpenAI".into(), &["name"]),
            ("zero rpm", |a| a.rpm_limit = Some(0), &["rpm_limit"]),
            ("zero tpm", |a| a.tpm_limit = Some(0), &["tpm_limit"]),
            (
                "zero budget",
                |a| a.monthly_budget = Some(Money::ZERO),
                &["monthly_budget"],
            ),
            (
                "threshold 0",
                |a| a.alert_thresholds = vec![0, 50],
                &["alert_thresholds[0]"],
            ),
            (
                "threshold 101",
                |a| a.alert_thresholds = vec![50, 101],
                &["alert_thresholds[1]"],
            ),
            ("bounds ok", |a| a.alert_thresholds = vec![1, 100], &[]),
            (
                "repeated",
                |a| a.alert_thresholds = vec![80, 80],
                &["alert_thresholds[1]"],
            ),
            (
                "too many",
                |a| a.alert_thresholds = (1..=11).collect(),
                &["alert_thresholds"],
            ),
            ("none is fine", |a| a.alert_thresholds.clear(), &[]),
        ];
        for (label, edit, expected) in cases {
            let mut account = valid();
            edit(&mut account);
            assert_eq!(fields(&account), *expected, "{label}");
        }
    }

    #[test]
    fn deserializes_with_defaults() {
        let account: ProviderAccount =
            serde_json::from_str(r#"{"name":"claude","kind":"anthropic"}"#).unwrap();
        assert!(account.enabled);
        assert!(!account.soft_budget);
        assert_eq!(account.alert_thresholds, vec![50, 80, 100]);
        assert_eq!(account.monthly_budget, None);
    }
}
