//! Plain types shared by every layer: no I/O, serde only.

mod money;
mod provider_kind;

pub use money::Money;
pub use provider_kind::{ProviderKind, UnknownProviderKind};
