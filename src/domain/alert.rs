use serde::{Deserialize, Serialize};

/// One stored alert, as the Alerts page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertView {
    /// `budget` for now.
    pub kind: String,
    pub account: String,
    /// Calendar month in UTC, `2026-11`.
    pub month: String,
    /// Percent of the monthly budget.
    pub threshold: u8,
    pub message: String,
    /// Unix milliseconds.
    pub at: i64,
}

/// The highest budget threshold an account reached this month, for the dashboard banner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetReached {
    pub account: String,
    pub threshold: u8,
}

impl BudgetReached {
    pub fn sentence(&self) -> String {
        format!(
            "{} reached {}% of its monthly budget",
            self.account, self.threshold
        )
    }
}
