use serde::{Deserialize, Serialize};

/// The `subject` of a gateway key's budget alert (whose `account` holds the key's name).
pub const KEY_SUBJECT: &str = "key";

/// One stored alert, as the Alerts page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertView {
    pub id: String,
    /// `budget`, `circuit_open`, `account_unhealthy`, `usage_spilling` or `redis_unreachable`.
    pub kind: String,
    /// Empty for alerts about the instance itself.
    pub account: String,
    /// The target (`account/model`) of a circuit alert; empty otherwise.
    pub subject: String,
    /// Calendar month in UTC, `2026-11` (the month it was raised in).
    pub month: String,
    /// Percent of the monthly budget; 0 for alerts that are not about a budget.
    pub threshold: u8,
    pub message: String,
    /// Unix milliseconds.
    pub at: i64,
    /// When the condition cleared; budget alerts stay until the month ends.
    pub resolved_at: Option<i64>,
    /// Who acknowledged it, if anyone.
    pub acknowledged_by: Option<String>,
}

impl AlertView {
    pub fn kind_label(&self) -> &'static str {
        match self.kind.as_str() {
            "budget" => "Budget",
            "circuit_open" => "Circuit open",
            "account_unhealthy" => "Account unhealthy",
            "usage_spilling" => "Usage spilling",
            "redis_unreachable" => "Redis unreachable",
            _ => "Other",
        }
    }

    /// A gateway key's budget alert: `account` names the key.
    pub fn is_about_key(&self) -> bool {
        self.subject == KEY_SUBJECT
    }

    /// Still true and nobody has acknowledged it: shown in the banner.
    pub fn needs_attention(&self) -> bool {
        self.resolved_at.is_none() && self.acknowledged_by.is_none()
    }
}

/// What an alert is about: kind, account (empty for the instance) and subject within it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Condition {
    pub kind: String,
    pub account: String,
    pub subject: String,
}

/// A condition that started or cleared, as the writer stores it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConditionChange {
    pub condition: Condition,
    /// True when it started; false when it cleared.
    pub raised: bool,
    pub message: String,
    pub at_ms: i64,
}

/// The highest budget threshold an account reached this month, for the dashboard banner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetReached {
    /// The account's name, or the gateway key's when `key`.
    pub account: String,
    #[serde(default)]
    pub key: bool,
    pub threshold: u8,
}

impl BudgetReached {
    pub fn sentence(&self) -> String {
        let who = if self.key { "Gateway key " } else { "" };
        format!(
            "{who}{} reached {}% of its monthly budget",
            self.account, self.threshold
        )
    }
}
