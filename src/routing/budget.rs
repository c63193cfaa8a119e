//! Budget guard: spend this calendar month (UTC) against the account's monthly budget, and the
//! alert thresholds each spend newly crosses.

use crate::domain::Money;
use chrono::{DateTime, Datelike};
use std::collections::BTreeSet;

/// The calendar month in UTC of a Unix time in milliseconds, as `2026-11`: the key spend and
/// alerts are counted under.
pub fn month_of(now_ms: u64) -> String {
    i64::try_from(now_ms)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        // Not `format("%Y-%m")`: parsing the pattern on every settled attempt showed in the profile.
        .map(|t| format!("{:04}-{:02}", t.year(), t.month()))
        .unwrap_or_default()
}

/// Whether `spent` has reached `percent` % of `budget`. Integer arithmetic: Money is exact.
fn reached(spent: Money, budget: Money, percent: u8) -> bool {
    i128::from(spent.micros()) * 100 >= i128::from(budget.micros()) * i128::from(percent)
}

/// Whether the budget is used up: the router then skips the account unless the budget is soft.
pub fn budget_exhausted(spent: Money, budget: Money) -> bool {
    spent >= budget
}

/// One account's spend in one month, and the thresholds already alerted for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MonthlySpend {
    month: String,
    spent: Money,
    alerted: BTreeSet<u8>,
}

impl MonthlySpend {
    /// Restores what the ledger and the alerts table say, e.g. at start-up.
    pub fn resume(month: &str, spent: Money, alerted: impl IntoIterator<Item = u8>) -> Self {
        MonthlySpend {
            month: month.to_string(),
            spent,
            alerted: alerted.into_iter().collect(),
        }
    }

    /// Spend in `month`; a record of an earlier month means nothing was spent yet.
    pub fn spent_in(&self, month: &str) -> Money {
        if self.month == month {
            self.spent
        } else {
            Money::ZERO
        }
    }

    /// Takes the spend a fleet's shared counter reports; the thresholds already alerted stay
    /// (a new month starts with none).
    pub fn adopt(&mut self, month: &str, spent: Money) {
        if self.month != month {
            *self = MonthlySpend {
                month: month.to_string(),
                ..MonthlySpend::default()
            };
        }
        self.spent = spent;
    }

    /// Adds the cost of one call and returns the thresholds (ascending) this spend newly
    /// reached. Each threshold is returned at most once per month, even when the budget is
    /// raised and reached again, so the caller raises exactly one alert per threshold per month.
    pub fn add(
        &mut self,
        month: &str,
        cost: Money,
        budget: Option<Money>,
        thresholds: &[u8],
    ) -> Vec<u8> {
        if self.month != month {
            *self = MonthlySpend {
                month: month.to_string(),
                ..MonthlySpend::default()
            };
        }
        self.spent += cost;
        let Some(budget) = budget else {
            return Vec::new();
        };
        let newly: BTreeSet<u8> = thresholds
            .iter()
            .copied()
            .filter(|t| reached(self.spent, budget, *t) && !self.alerted.contains(t))
            .collect();
        self.alerted.extend(newly.iter().copied());
        newly.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(dollars: f64) -> Money {
        Money::from_dollars(dollars)
    }

    #[test]
    fn an_adopted_spend_keeps_the_months_alerts() {
        let mut spend = MonthlySpend::resume("2026-11", usd(10.0), [50]);
        spend.adopt("2026-11", usd(90.0));
        assert_eq!(spend.spent_in("2026-11"), usd(90.0));
        // 50 was alerted already; 80 is reached by the adopted spend plus this one.
        assert_eq!(
            spend.add("2026-11", usd(1.0), Some(usd(100.0)), &[50, 80]),
            vec![80]
        );
        spend.adopt("2026-12", usd(1.0));
        assert_eq!(spend.spent_in("2026-11"), Money::ZERO);
        assert_eq!(
            spend.add("2026-12", usd(60.0), Some(usd(100.0)), &[50]),
            vec![50]
        );
    }

    #[test]
    fn month_is_the_utc_calendar_month() {
        let cases = [
            (1_793_491_200_000, "2026-11"), // 2026-11-01T00:00:00Z
            (1_793_491_199_999, "2026-10"), // one millisecond earlier
            (0, "1970-01"),
        ];
        for (ms, month) in cases {
            assert_eq!(month_of(ms), month, "{ms}");
        }
    }

    #[test]
    fn thresholds_are_crossed_once_per_month() {
        let thresholds = [50, 80, 100];
        let budget = Some(usd(100.0));
        // (label, spends as (month, cost), budget, expected newly crossed after each spend)
        type Case = (
            &'static str,
            &'static [(&'static str, f64)],
            Option<Money>,
            &'static [&'static [u8]],
        );
        let cases: &[Case] = &[
            ("below the first", &[("2026-11", 49.99)], budget, &[&[]]),
            ("exactly at 50%", &[("2026-11", 50.0)], budget, &[&[50]]),
            (
                "one jump crosses several",
                &[("2026-11", 10.0), ("2026-11", 85.0)],
                budget,
                &[&[], &[50, 80]],
            ),
            (
                "no repeat in the same month",
                &[("2026-11", 60.0), ("2026-11", 1.0), ("2026-11", 40.0)],
                budget,
                &[&[50], &[], &[80, 100]],
            ),
            (
                "a new month starts over",
                &[("2026-11", 90.0), ("2026-12", 55.0)],
                budget,
                &[&[50, 80], &[50]],
            ),
            (
                "no budget, no alerts",
                &[("2026-11", 1_000.0)],
                None,
                &[&[]],
            ),
        ];
        for (label, spends, budget, expected) in cases {
            let mut spend = MonthlySpend::default();
            for ((month, cost), want) in spends.iter().zip(expected.iter()) {
                assert_eq!(
                    spend.add(month, usd(*cost), *budget, &thresholds),
                    *want,
                    "{label}: {month} +{cost}"
                );
            }
        }
    }

    #[test]
    fn a_raised_budget_does_not_repeat_alerts() {
        let mut spend = MonthlySpend::resume("2026-11", usd(85.0), [50, 80]);
        assert_eq!(
            spend.add("2026-11", usd(0.0), Some(usd(200.0)), &[50, 80, 100]),
            Vec::<u8>::new()
        );
        assert_eq!(
            spend.add("2026-11", usd(80.0), Some(usd(200.0)), &[50, 80, 100]),
            Vec::<u8>::new()
        );
        assert_eq!(
            spend.add("2026-11", usd(40.0), Some(usd(200.0)), &[50, 80, 100]),
            vec![100]
        );
    }

    #[test]
    fn spend_and_exhaustion() {
        let spend = MonthlySpend::resume("2026-11", usd(100.0), []);
        assert_eq!(spend.spent_in("2026-11"), usd(100.0));
        assert_eq!(spend.spent_in("2026-12"), Money::ZERO);
        let cases = [
            (usd(99.99), usd(100.0), false),
            (usd(100.0), usd(100.0), true),
            (usd(100.01), usd(100.0), true),
        ];
        for (spent, budget, exhausted) in cases {
            assert_eq!(
                budget_exhausted(spent, budget),
                exhausted,
                "{spent} of {budget}"
            );
        }
    }
}
