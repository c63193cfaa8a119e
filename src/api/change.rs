//! The one way a server function changes configuration: read the whole stored configuration
//! in a transaction, apply the change in memory, check the result as a whole, write, add the
//! audit rows, commit, and swap the proxy's snapshot. The transaction raises the config version,
//! so every other instance sharing the database reloads too.
//!
//! Each configuration resource (logical model, provider account, policy, gateway key, price)
//! implements [`Resource`]; [`save`] and [`delete`] are that flow, written once.

use super::ApiError;
use crate::configuration::{self, audit, ConfigError};
use crate::domain::{AuditEntry, DomainError};
use crate::state::AppState;
use crate::store::config::{self, StoredConfig};
use crate::store::StoreError;
use serde_json::Value;
use sqlx::{Any, AnyConnection, Transaction};
use std::future::Future;

/// What one kind of configuration record supplies to the shared save and delete flow.
pub trait Resource: Clone + Send + Sync + Sized + 'static {
    /// The resource in messages, in the user's words ("logical model").
    const WHAT: &'static str;
    /// The audit log's entity kind ("model").
    const AUDIT_KIND: &'static str;

    /// Unique among records of its kind; how saves, deletes and the audit log name it.
    fn name(&self) -> String;
    fn all(stored: &StoredConfig) -> &Vec<Self>;
    fn all_mut(stored: &mut StoredConfig) -> &mut Vec<Self>;
    /// Checks the record alone and against the rest of the configuration (the names it
    /// refers to), as a field error for the form.
    fn validate(&self, stored: &StoredConfig) -> Result<(), ApiError>;
    /// The record as the audit log keeps it: secrets masked.
    fn audit(&self) -> Value;
    /// Inserts or updates the record's rows; `stored` is the configuration after the change.
    fn write<'a>(
        &'a self,
        tx: &'a mut AnyConnection,
        stored: &'a StoredConfig,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a;
}

/// A resource that can be deleted (gateway keys are revoked instead, and kept for the record).
pub trait Erase: Resource {
    /// Deletes the record's rows.
    fn erase<'a>(
        &'a self,
        tx: &'a mut AnyConnection,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a;
}

/// Which stored record a save replaces.
#[derive(Clone, Copy, Debug)]
pub enum Slot<'a> {
    /// None: a new record.
    New,
    /// The record named so (404 when there is none); the save may rename it.
    Existing(&'a str),
    /// The record named so when there is one, else a new one (prices, named by what they price).
    Either(&'a str),
}

impl<'a> Slot<'a> {
    /// A form's `original_name`: empty or absent creates.
    pub fn from_original(original: Option<&'a str>) -> Self {
        match original.filter(|n| !n.is_empty()) {
            Some(name) => Slot::Existing(name),
            None => Slot::New,
        }
    }
}

/// Saves one record: begin, find the slot, build the record (`make` sees the stored one it
/// replaces), validate it, refuse a name another record has, check the whole configuration,
/// write, audit as `create` or `update_action`, commit. Returns the record as saved.
pub async fn save<R: Resource>(
    actor: &str,
    slot: Slot<'_>,
    update_action: &str,
    make: impl FnOnce(&Change, Option<&R>) -> Result<R, ApiError>,
) -> Result<R, ApiError> {
    let mut change = begin().await?;
    let records = R::all(&change.stored);
    let existing = match slot {
        Slot::New => None,
        Slot::Existing(name) => Some(find_named(records, name, R::WHAT)?),
        Slot::Either(name) => records.iter().position(|r| r.name() == name),
    };
    let record = make(&change, existing.map(|i| &records[i]))?;
    record.validate(&change.stored)?;
    let name = record.name();
    let taken = records
        .iter()
        .enumerate()
        .any(|(i, r)| r.name() == name && Some(i) != existing);
    if taken {
        return Err(ApiError::invalid(
            "name",
            format!("A {} with this name already exists.", R::WHAT),
        ));
    }
    let before = existing.map(|i| records[i].audit());
    let action = if existing.is_some() {
        update_action
    } else {
        "create"
    };
    let records = R::all_mut(&mut change.stored);
    match existing {
        Some(i) => records[i] = record.clone(),
        None => records.push(record.clone()),
    }
    change.check()?;
    record
        .write(&mut change.tx, &change.stored, change.now)
        .await
        .map_err(ApiError::internal)?;
    let entry = audit::entry(
        actor,
        action,
        R::AUDIT_KIND,
        &name,
        before,
        Some(record.audit()),
    );
    change.commit(entry).await?;
    Ok(record)
}

/// Deletes the record named `name`, refused when the rest of the configuration still needs it.
pub async fn delete<R: Erase>(actor: &str, name: &str) -> Result<(), ApiError> {
    let mut change = begin().await?;
    let i = find_named(R::all(&change.stored), name, R::WHAT)?;
    let removed = R::all_mut(&mut change.stored).remove(i);
    change.check()?;
    removed
        .erase(&mut change.tx)
        .await
        .map_err(ApiError::internal)?;
    let entry = audit::entry(
        actor,
        "delete",
        R::AUDIT_KIND,
        name,
        Some(removed.audit()),
        None,
    );
    change.commit(entry).await
}

/// The name each target or route entry refers to must exist among `known`; otherwise a field
/// error at `field(i)` saying which `what` is missing.
pub fn check_refs<'n>(
    names: impl IntoIterator<Item = &'n String>,
    known: &[&str],
    what: &str,
    field: impl Fn(usize) -> String,
) -> Result<(), ApiError> {
    for (i, name) in names.into_iter().enumerate() {
        if !known.contains(&name.as_str()) {
            return Err(ApiError::invalid(
                &field(i),
                format!("There is no {what} named `{name}`."),
            ));
        }
    }
    Ok(())
}

pub struct Change {
    pub state: AppState,
    pub tx: Transaction<'static, Any>,
    pub stored: StoredConfig,
    pub now: i64,
}

pub async fn begin() -> Result<Change, ApiError> {
    let state = super::ssr::state()?;
    let mut tx = state.db.pool.begin().await.map_err(ApiError::internal)?;
    // First, so this change waits for any other one in flight and reads what it committed.
    config::bump_version(&mut tx)
        .await
        .map_err(ApiError::internal)?;
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

    /// Writes the audit rows, commits, and swaps in the new snapshot here at once (the other
    /// instances follow through [`configuration::follow`]).
    pub async fn commit(mut self, audit: Option<AuditEntry>) -> Result<(), ApiError> {
        if let Some(entry) = &audit {
            config::insert_audit(&mut self.tx, entry)
                .await
                .map_err(ApiError::internal)?;
        }
        self.tx.commit().await.map_err(ApiError::internal)?;
        configuration::reload(&self.state)
            .await
            .map(drop)
            .map_err(ApiError::internal)
    }
}

/// The index of the record named `name`; 404 naming `what` (e.g. "logical model") otherwise.
fn find_named<R: Resource>(records: &[R], name: &str, what: &str) -> Result<usize, ApiError> {
    records
        .iter()
        .position(|r| r.name() == name)
        .ok_or_else(|| ApiError::NotFound(format!("No {what} named `{name}`.")))
}

/// `field_error`, for records whose forms edit the monthly budget in dollars: the domain checks
/// micro-dollars under another name.
pub fn budget_field_error(error: DomainError) -> ApiError {
    match field_error(error) {
        ApiError::Invalid { field, message } if field == "monthly_budget" => {
            ApiError::invalid("monthly_budget_usd", message)
        }
        other => other,
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
