//! A gateway key's own limits and budget, checked before any provider is tried: the same rate
//! window (reserve, then correct with the reported usage) and monthly spend as an account's.

use super::budget::{budget_exhausted, MonthlySpend};
use super::rate::{RateDenial, RateLimits, RateWindow, Reservation};
use crate::domain::{KeyLimits, Money, DEFAULT_ALERT_THRESHOLDS};
use std::fmt;

/// What the router keeps per gateway key (by key id, so a renamed key keeps its spend).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyLive {
    pub rate: RateWindow,
    pub spend: MonthlySpend,
}

/// Why a key's request is refused before routing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRefusal {
    /// Over the key's requests or tokens per minute.
    RateLimited(RateDenial),
    /// The key's hard monthly budget is used up.
    BudgetUsedUp { spent: Money, budget: Money },
}

impl KeyRefusal {
    /// When waiting helps, how long to wait (Retry-After).
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            KeyRefusal::RateLimited(denial) => denial.retry_after_ms(),
            KeyRefusal::BudgetUsedUp { .. } => None,
        }
    }
}

impl fmt::Display for KeyRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRefusal::RateLimited(denial) => write!(f, "{denial}"),
            KeyRefusal::BudgetUsedUp { spent, budget } => write!(
                f,
                "monthly budget used up ({spent} of {budget}); it renews on the 1st (UTC)"
            ),
        }
    }
}

/// A key's limits as the rate window takes them.
fn rate_limits(limits: &KeyLimits) -> RateLimits {
    RateLimits {
        rpm: limits.rpm_limit,
        tpm: limits.tpm_limit,
    }
}

impl KeyLive {
    /// Refuses a key over its hard budget, else reserves room for `tokens` in its window.
    pub fn admit(
        &mut self,
        limits: &KeyLimits,
        tokens: u32,
        month: &str,
        now_ms: u64,
    ) -> Result<Reservation, KeyRefusal> {
        if let (Some(budget), false) = (limits.monthly_budget, limits.soft_budget) {
            let spent = self.spend.spent_in(month);
            if budget_exhausted(spent, budget) {
                return Err(KeyRefusal::BudgetUsedUp { spent, budget });
            }
        }
        self.rate
            .reserve(rate_limits(limits), tokens, now_ms)
            .map_err(KeyRefusal::RateLimited)
    }

    /// Adds a call's cost; returns the budget thresholds newly reached (accounts' defaults).
    pub fn add_spend(&mut self, limits: &KeyLimits, cost: Money, month: &str) -> Vec<u8> {
        self.spend.add(
            month,
            cost,
            limits.monthly_budget,
            &DEFAULT_ALERT_THRESHOLDS,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_795_000_000_000;
    const MONTH: &str = "2026-11";

    fn limits(rpm: Option<u32>, tpm: Option<u32>, budget: Option<f64>, soft: bool) -> KeyLimits {
        KeyLimits {
            rpm_limit: rpm,
            tpm_limit: tpm,
            monthly_budget: budget.map(Money::from_dollars),
            soft_budget: soft,
        }
    }

    #[test]
    fn a_key_is_held_to_its_rate_and_hard_budget() {
        // (label, limits, spent before, requests of 10 tokens admitted before, expected)
        type Case = (&'static str, KeyLimits, f64, u32, Result<(), &'static str>);
        let cases: Vec<Case> = vec![
            (
                "no limits",
                limits(None, None, None, false),
                1e6,
                50,
                Ok(()),
            ),
            (
                "rpm full",
                limits(Some(2), None, None, false),
                0.0,
                2,
                Err("requests per minute limit 2 reached, room again in 60s"),
            ),
            (
                "tpm full",
                limits(None, Some(25), None, false),
                0.0,
                2,
                Err("tokens per minute limit 25 reached, room again in 60s"),
            ),
            (
                "budget used up",
                limits(None, None, Some(1.0), false),
                1.0,
                0,
                Err("monthly budget used up ($1.00 of $1.00); it renews on the 1st (UTC)"),
            ),
            (
                "a soft budget never refuses",
                limits(None, None, Some(1.0), true),
                5.0,
                0,
                Ok(()),
            ),
            (
                "under budget",
                limits(None, None, Some(1.0), false),
                0.99,
                0,
                Ok(()),
            ),
        ];
        for (label, limits, spent, before, expected) in cases {
            let mut key = KeyLive {
                spend: MonthlySpend::resume(MONTH, Money::from_dollars(spent), []),
                ..KeyLive::default()
            };
            for _ in 0..before {
                key.admit(&limits, 10, MONTH, NOW).unwrap();
            }
            let got = key.admit(&limits, 10, MONTH, NOW).map(|_| ());
            assert_eq!(
                got.map_err(|r| r.to_string()),
                expected.map_err(str::to_string),
                "{label}"
            );
        }
        // Last month's spend does not count.
        let mut key = KeyLive {
            spend: MonthlySpend::resume("2026-10", Money::from_dollars(9.0), []),
            ..KeyLive::default()
        };
        assert!(key
            .admit(&limits(None, None, Some(1.0), false), 1, MONTH, NOW)
            .is_ok());
    }

    #[test]
    fn a_key_alerts_once_per_threshold_at_the_accounts_defaults() {
        let mut key = KeyLive::default();
        let limits = limits(None, None, Some(10.0), true);
        let crossed: Vec<Vec<u8>> = [4.0, 1.0, 3.0, 2.0, 1.0]
            .into_iter()
            .map(|d| key.add_spend(&limits, Money::from_dollars(d), MONTH))
            .collect();
        assert_eq!(crossed, vec![vec![], vec![50], vec![80], vec![100], vec![]]);
        let retry = KeyRefusal::RateLimited(RateDenial::Requests {
            limit: 1,
            retry_after_ms: 1_500,
        });
        assert_eq!(retry.retry_after_ms(), Some(1_500));
        let broke = KeyRefusal::BudgetUsedUp {
            spent: Money::ZERO,
            budget: Money::ZERO,
        };
        assert_eq!(broke.retry_after_ms(), None);
    }
}
