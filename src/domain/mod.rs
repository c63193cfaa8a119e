//! Plain types shared by every layer: no I/O, serde only. One file per aggregate.

mod alert;
mod audit;
mod key_limits;
mod live_status;
mod logical_model;
mod money;
mod policy;
mod provider_account;
mod provider_kind;
mod purpose;
mod step_type;
mod traffic;
mod user;
mod validation;

pub use alert::{AlertView, BudgetReached, Condition, ConditionChange, KEY_SUBJECT};
pub use audit::AuditEntry;
pub use key_limits::{check_team, KeyLimits, TEAM_MAX_LEN};
pub use live_status::{CircuitState, HealthLevel};
pub use logical_model::{
    CacheScope, CacheSettings, Capabilities, Capability, Defaults, LogicalModel, ModelTarget,
    Strategy, Target, DEFAULT_WEIGHT, DESCRIPTION_MAX_LEN, MAX_CACHE_TTL_SECONDS, MAX_RETRIES,
    MAX_STOP_SEQUENCES, MAX_WEIGHT, PROVIDER_MODEL_MAX_LEN,
};
pub use money::{Money, Price};
pub use policy::{
    CircuitBreakerSettings, MatchCriteria, Policy, SplitArm, MAX_FAILURE_THRESHOLD,
    MAX_RECOVERY_SECONDS, MAX_SPLIT_ARMS,
};
pub use provider_account::{
    AzureSettings, ProviderAccount, DEFAULT_ALERT_THRESHOLDS, MAX_ALERT_THRESHOLDS,
};
pub use provider_kind::{ProviderKind, UnknownProviderKind};
pub use purpose::Purpose;
pub use step_type::StepType;
pub use traffic::{Grain, LatencyHistogram, StatusClass, LATENCY_BOUNDS_MS, LATENCY_BUCKETS};
pub use user::{
    normalize_username, validate_password, validate_username, Role, UserView, PASSWORD_MIN,
    USERNAME_MAX,
};
pub use validation::{check_name, DomainError, FieldError, NAME_MAX_LEN};
