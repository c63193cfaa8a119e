use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, AddAssign};

/// An amount of US dollars in integer micro-dollars: spend is summed over millions of requests,
/// so it is never kept in floating point.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(pub i64);

impl Money {
    pub const ZERO: Money = Money(0);
    const MICROS_PER_DOLLAR: i64 = 1_000_000;

    pub fn from_micros(micros: i64) -> Self {
        Money(micros)
    }

    pub fn micros(self) -> i64 {
        self.0
    }

    /// Whole cents are exact; finer input is rounded to the nearest micro-dollar.
    pub fn from_dollars(dollars: f64) -> Self {
        Money((dollars * Self::MICROS_PER_DOLLAR as f64).round() as i64)
    }

    pub fn as_dollars(self) -> f64 {
        self.0 as f64 / Self::MICROS_PER_DOLLAR as f64
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, rhs: Money) {
        *self = *self + rhs;
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let dollars = abs / Self::MICROS_PER_DOLLAR as u64;
        let cents = (abs % Self::MICROS_PER_DOLLAR as u64) / 10_000;
        write!(f, "{sign}${dollars}.{cents:02}")
    }
}

/// A list price: USD per million tokens, in micro-dollars (`$2.50` = `2_500_000`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Price {
    pub input_per_mtok: Money,
    pub output_per_mtok: Money,
}

const TOKENS_PER_MTOK: i128 = 1_000_000;

impl Price {
    pub const fn from_micros(input_per_mtok: i64, output_per_mtok: i64) -> Self {
        Price {
            input_per_mtok: Money(input_per_mtok),
            output_per_mtok: Money(output_per_mtok),
        }
    }

    /// Cost of one call: both sides are summed before the single division, which rounds half up
    /// to the micro-dollar.
    pub fn cost(&self, prompt_tokens: u64, completion_tokens: u64) -> Money {
        let scaled = i128::from(prompt_tokens) * i128::from(self.input_per_mtok.micros())
            + i128::from(completion_tokens) * i128::from(self.output_per_mtok.micros());
        let micros = (scaled + TOKENS_PER_MTOK / 2).div_euclid(TOKENS_PER_MTOK);
        Money(i64::try_from(micros).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_round_trip_and_display() {
        assert_eq!(Money::from_dollars(12.34).micros(), 12_340_000);
        assert_eq!(Money::from_dollars(0.000_001).micros(), 1);
        assert_eq!(Money::from_micros(1_234_567).to_string(), "$1.23");
        assert_eq!(Money::from_micros(-50_000).to_string(), "-$0.05");
        assert_eq!(Money(i64::MAX) + Money(1), Money(i64::MAX));
    }
}
