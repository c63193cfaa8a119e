//! The one way a server function changes configuration: read the whole stored configuration
//! in a transaction, apply the change in memory, check the result as a whole, write, add the
//! audit rows, commit, and swap the proxy's snapshot.

use super::ApiError;
use crate::configuration::{self, ConfigError};
use crate::domain::{AuditEntry, DomainError};
use crate::state::AppState;
use crate::store::config::{self, StoredConfig};
use sqlx::{Any, Transaction};

pub struct Change {
    pub state: AppState,
    pub tx: Transaction<'static, Any>,
    pub stored: StoredConfig,
    pub now: i64,
}

pub async fn begin() -> Result<Change, ApiError> {
    let state = super::ssr::state()?;
    let mut tx = state.db.pool.begin().await.map_err(ApiError::internal)?;
    let stored = config::load(&mut tx).await.map_err(ApiError::internal)?;
    Ok(Change {
        state,
        tx,
        stored,
        now: crate::store::now_millis(),
    })
}

impl Change {
    /// Refuses the change when the whole configuration would be inconsistent, e.g. a policy
    /// routing to a logical model that is being deleted.
    pub fn check(&self) -> Result<(), ApiError> {
        match configuration::check(&self.stored) {
            Ok(_) => Ok(()),
            Err(ConfigError::Invalid(problems)) => Err(ApiError::BadRequest(format!(
                "This change would leave the configuration inconsistent: {}",
                problems.join("; ")
            ))),
            Err(other) => Err(ApiError::internal(other)),
        }
    }

    /// Writes the audit rows, commits, and swaps in the new snapshot.
    pub async fn commit(mut self, audit: Option<AuditEntry>) -> Result<(), ApiError> {
        if let Some(entry) = &audit {
            config::insert_audit(&mut self.tx, entry)
                .await
                .map_err(ApiError::internal)?;
        }
        self.tx.commit().await.map_err(ApiError::internal)?;
        configuration::reload(&self.state)
            .await
            .map_err(ApiError::internal)
    }
}

/// The index of the record named `name`; 404 naming `what` (e.g. "logical model") otherwise.
pub fn find_named<T>(
    records: &[T],
    name_of: impl Fn(&T) -> &str,
    name: &str,
    what: &str,
) -> Result<usize, ApiError> {
    records
        .iter()
        .position(|r| name_of(r) == name)
        .ok_or_else(|| ApiError::NotFound(format!("No {what} named `{name}`.")))
}

/// Where a save lands: the index of `original` (an update, which may rename) or `None` (a
/// create). A name another record already has is a field error on `name`.
pub fn save_slot<T>(
    records: &[T],
    name_of: impl Fn(&T) -> &str,
    original: Option<&str>,
    new_name: &str,
    what: &str,
) -> Result<Option<usize>, ApiError> {
    let existing = original
        .filter(|n| !n.is_empty())
        .map(|name| find_named(records, &name_of, name, what))
        .transpose()?;
    let taken = records
        .iter()
        .enumerate()
        .any(|(i, r)| name_of(r) == new_name && Some(i) != existing);
    if taken {
        return Err(ApiError::invalid(
            "name",
            format!("A {what} with this name already exists."),
        ));
    }
    Ok(existing)
}

/// Puts a saved record where `save_slot` said: over the one it updates, or at the end.
pub fn put<T>(records: &mut Vec<T>, slot: Option<usize>, record: T) {
    match slot {
        Some(i) => records[i] = record,
        None => records.push(record),
    }
}

/// The first field error of a domain check, for the form to show beside that field.
pub fn field_error(error: DomainError) -> ApiError {
    match error {
        DomainError::Invalid(errors) => match errors.into_iter().next() {
            Some(first) => ApiError::Invalid {
                field: first.field,
                message: first.message,
            },
            None => ApiError::BadRequest("invalid input".into()),
        },
        other => ApiError::BadRequest(other.to_string()),
    }
}
