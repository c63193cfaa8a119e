//! The routing engine: policy match, candidate plan, circuit breakers, RPM/TPM windows, budget
//! guard and health. Pure decisions over an immutable `RoutingSnapshot` plus live state; no
//! I/O and no clock reads: the caller passes the time in, as Unix milliseconds (wall-clock, so
//! circuit and window times mean the same on every instance and can be shown on the dashboard).

mod account;
mod budget;
mod circuit;
mod health;
mod key;
mod live;
mod plan;
mod policy_match;
mod rate;
mod request;
mod retry;
mod snapshot;
mod strategy;
mod tokens;

pub use account::AccountLive;
pub use budget::{budget_exhausted, month_of, MonthlySpend};
pub use circuit::{Admission, CircuitBreaker, CircuitState};
pub use health::{
    Health, HealthLevel, HealthTracker, ProbeResult, ALL_FAILED_UNHEALTHY, DEGRADED_ERROR_RATE,
    DEGRADED_LATENCY_MS, ERROR_WINDOW_MINUTES, LATENCY_EWMA_ALPHA, MIN_REQUESTS_FOR_ERROR_RATE,
    PROBE_FRESH_MS, UNHEALTHY_ERROR_RATE,
};
pub use key::{KeyLive, KeyRefusal};
pub use live::{AccountView, Attempt, AttemptOutcome, CircuitView, LiveState, PolicyStatsSnapshot};
pub use plan::{plan, Candidate, Exhausted, LiveView, Plan, Skip, SkipReason};
pub use policy_match::{criteria_match, select_route, Route};
pub use rate::{RateDenial, RateLimits, RateUsage, RateWindow, Reservation, WINDOW_SECONDS};
pub use request::{classify, ClassificationHints, RouteRequest, PURPOSE_HEADER, STEP_TYPE_HEADER};
pub use retry::{retry_backoff_ms, RETRY_BACKOFF_BASE_MS, RETRY_BACKOFF_MAX_MS};
pub use snapshot::RoutingSnapshot;
pub use strategy::{pick_weighted, Rank, Standing, EXPLORATION_SHARE};
pub use tokens::{
    estimate_prompt_tokens, estimate_request_tokens, estimate_text_tokens, CHARS_PER_TOKEN,
    DEFAULT_COMPLETION_TOKENS, MESSAGE_OVERHEAD_TOKENS,
};

use crate::domain::{Capability, DomainError};

/// Errors of the routing layer; the proxy maps each to an OpenAI-shaped error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RoutingError {
    /// 404 `model_not_found`.
    #[error("logical model `{0}` not found")]
    ModelNotFound(String),
    /// 400: the request uses something the logical model does not declare.
    #[error("logical model `{logical_model}` does not support {capability}")]
    CapabilityMissing {
        logical_model: String,
        capability: Capability,
    },
    /// 400: a step type or purpose header / metadata value that is not one of the allowed ones.
    #[error("invalid {origin}: {source}")]
    InvalidHint {
        origin: &'static str,
        source: DomainError,
    },
    /// 429 when `retry_after_secs()` is `Some`, else 503.
    #[error("{0}")]
    Exhausted(Exhausted),
    /// The gateway key is over its own limit (429) or hard budget (402).
    #[error("gateway key `{key}`: {refusal}")]
    KeyRefused { key: String, refusal: KeyRefusal },
    /// The configuration cannot be routed on; every problem is listed.
    #[error("invalid routing configuration: {}", .0.join("; "))]
    InvalidConfig(Vec<String>),
}
