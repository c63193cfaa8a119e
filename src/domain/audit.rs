use serde::{Deserialize, Serialize};

/// One committed configuration change: who, what, when, and the entity before and after
/// (as JSON, with secrets redacted).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: String,
    /// Unix milliseconds.
    pub at: i64,
    /// The user name, or `config-file` for changes applied from a file.
    pub actor: String,
    /// `create`, `update`, `delete`, `revoke`, `set-credential`.
    pub action: String,
    /// `account`, `model`, `policy`, `key`, `price`.
    pub entity_kind: String,
    pub entity_name: String,
    pub before: Option<String>,
    pub after: Option<String>,
}
