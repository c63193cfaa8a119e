//! The routing engine: policy match, candidate plan, circuit breakers, RPM/TPM windows, budget
//! guard and health. Pure decisions over an immutable `RoutingSnapshot` plus live state; no
//! I/O and no clock reads: the caller passes the time in, as Unix milliseconds (wall-clock, so
//! circuit and window times mean the same on every instance and can be shown on the dashboard).

mod budget;
mod circuit;
mod health;
mod rate;
mod tokens;

pub use budget::{budget_exhausted, month_of, MonthlySpend};
pub use circuit::{Admission, CircuitBreaker, CircuitState};
pub use health::{
    Health, HealthLevel, HealthTracker, ProbeResult, DEGRADED_ERROR_RATE, DEGRADED_LATENCY_MS,
    ERROR_WINDOW_MINUTES, LATENCY_EWMA_ALPHA, MIN_REQUESTS_FOR_ERROR_RATE, PROBE_FRESH_MS,
    UNHEALTHY_ERROR_RATE,
};
pub use rate::{RateDenial, RateLimits, RateUsage, RateWindow, Reservation, WINDOW_SECONDS};
pub use tokens::{
    estimate_prompt_tokens, estimate_request_tokens, estimate_text_tokens, CHARS_PER_TOKEN,
    DEFAULT_COMPLETION_TOKENS, MESSAGE_OVERHEAD_TOKENS,
};
