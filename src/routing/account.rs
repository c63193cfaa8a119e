//! What the router keeps per provider account. Its own module, so the planner (which reads it
//! through `LiveView`) and the live state (which owns it) both depend on it, not on each other.

use super::budget::MonthlySpend;
use super::health::HealthTracker;
use super::rate::{RateUsage, RateWindow};

/// Everything the router tracks about one provider account.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccountLive {
    pub rate: RateWindow,
    pub spend: MonthlySpend,
    pub health: HealthTracker,
    /// Provider calls since start-up, for `/metrics` (Prometheus wants ever-growing counters).
    pub calls: u64,
    /// Of those, the ones that counted against the account (connect errors, timeouts, 429, 5xx).
    pub failures: u64,
    /// Calls made and not finished yet (`least_busy` orders by it).
    pub in_flight: u32,
    /// The whole fleet's last-minute figures and when they were read (Unix ms), when
    /// instances share their state (see `crate::fleet`).
    pub fleet_usage: Option<(RateUsage, u64)>,
}
