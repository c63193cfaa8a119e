//! Plain types shared by every layer: no I/O, serde only.

mod money;
mod provider_kind;
mod user;

pub use money::Money;
pub use provider_kind::{ProviderKind, UnknownProviderKind};
pub use user::{
    normalize_username, validate_password, validate_username, Role, UserView, PASSWORD_MIN,
};
