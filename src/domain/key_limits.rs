use super::validation::{Checker, DomainError};
use super::Money;
use serde::{Deserialize, Serialize};

/// Longest team label: it is shown in tables and grouped on, not a description.
pub const TEAM_MAX_LEN: usize = 64;

/// What a gateway key may use, with the same meaning as the limits of a provider account: the
/// router refuses the key's requests over them before any provider is tried.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyLimits {
    /// Requests per rolling minute; `None` means no limit.
    #[serde(default)]
    pub rpm_limit: Option<u32>,
    /// Tokens (prompt + completion) per rolling minute.
    #[serde(default)]
    pub tpm_limit: Option<u32>,
    /// Spend allowed per calendar month (UTC).
    #[serde(default)]
    pub monthly_budget: Option<Money>,
    /// A soft budget alerts but never refuses.
    #[serde(default)]
    pub soft_budget: bool,
}

impl KeyLimits {
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut check = Checker::default();
        check_limits(
            &mut check,
            self.rpm_limit,
            self.tpm_limit,
            self.monthly_budget,
        );
        check.finish()
    }
}

/// Checks per-minute limits and a monthly budget, as accounts and keys both carry them.
pub(crate) fn check_limits(
    check: &mut Checker,
    rpm: Option<u32>,
    tpm: Option<u32>,
    budget: Option<Money>,
) {
    if let Some(rpm) = rpm {
        check.require(
            rpm > 0,
            "rpm_limit",
            "must be greater than 0 (leave empty for no limit)",
        );
    }
    if let Some(tpm) = tpm {
        check.require(
            tpm > 0,
            "tpm_limit",
            "must be greater than 0 (leave empty for no limit)",
        );
    }
    if let Some(budget) = budget {
        check.require(
            budget > Money::ZERO,
            "monthly_budget",
            "must be greater than $0 (leave empty for no budget)",
        );
    }
}

/// A key's owner label: free text people read, so only its length and control characters
/// are checked.
pub fn check_team(team: &str) -> Result<(), DomainError> {
    let mut check = Checker::default();
    check.require(
        team.chars().count() <= TEAM_MAX_LEN && !team.chars().any(char::is_control),
        "team",
        format!("must be at most {TEAM_MAX_LEN} characters, on one line"),
    );
    check.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked_as_on_accounts() {
        let ok = KeyLimits {
            rpm_limit: Some(10),
            tpm_limit: Some(1_000),
            monthly_budget: Some(Money::from_dollars(5.0)),
            soft_budget: true,
        };
        assert_eq!(ok.validate(), Ok(()));
        let bad = KeyLimits {
            rpm_limit: Some(0),
            tpm_limit: Some(0),
            monthly_budget: Some(Money::ZERO),
            soft_budget: false,
        };
        let Err(DomainError::Invalid(errors)) = bad.validate() else {
            panic!("expected field errors")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["rpm_limit", "tpm_limit", "monthly_budget"]);
        assert!(check_team("ml-platform").is_ok());
        assert!(check_team(&"x".repeat(65)).is_err());
        assert!(check_team("a\nb").is_err());
    }
}
