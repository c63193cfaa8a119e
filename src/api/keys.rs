//! Gateway keys for applications: admins create and revoke them; the key text is returned once
//! and only its hash is stored.

use super::ApiError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use server_fn::codec::Json;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyView {
    pub name: String,
    /// The last four characters, to tell keys apart.
    pub last4: String,
    /// Logical models the key may use; empty means all.
    pub models: Vec<String>,
    pub expires_at: Option<i64>,
    pub revoked: bool,
    pub last_used_at: Option<i64>,
    pub created_at: i64,
}

/// A key just created: `key` is shown this once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedKey {
    pub key: String,
    pub view: KeyView,
}

#[cfg(feature = "ssr")]
fn view(record: &crate::store::config::KeyRecord) -> KeyView {
    KeyView {
        name: record.name.clone(),
        last4: record.last4.clone(),
        models: record.allowed_models.clone(),
        expires_at: record.expires_at,
        revoked: record.revoked,
        last_used_at: record.last_used_at,
        created_at: record.created_at,
    }
}

#[server(endpoint = "list_keys", input = Json)]
pub async fn list_keys() -> Result<Vec<KeyView>, ApiError> {
    use crate::domain::Role;
    super::ssr::require(Role::Viewer).await?;
    let state = super::ssr::state()?;
    let mut conn = state.db.pool.acquire().await.map_err(ApiError::internal)?;
    let stored = crate::store::config::load(&mut conn)
        .await
        .map_err(ApiError::internal)?;
    Ok(stored.keys.iter().map(view).collect())
}

/// `expires_at` is Unix milliseconds; `None` never expires.
#[server(endpoint = "create_key", input = Json)]
pub async fn create_key(
    name: String,
    models: Vec<String>,
    expires_at: Option<i64>,
) -> Result<CreatedKey, ApiError> {
    use crate::configuration::{audit, generate_gateway_key, key_hash_hex};
    use crate::domain::Role;
    use crate::store::cipher::last4;
    use crate::store::config::KeyRecord;
    let user = super::ssr::require(Role::Admin).await?;
    let name = name.trim().to_string();
    crate::domain::check_name("name", &name).map_err(super::change::field_error)?;
    let mut change = super::change::begin().await?;
    if change.stored.keys.iter().any(|k| k.name == name) {
        return Err(ApiError::invalid(
            "name",
            "A key with this name already exists.",
        ));
    }
    for model in &models {
        if !change.stored.models.iter().any(|m| &m.model.name == model) {
            return Err(ApiError::invalid(
                "models",
                format!("There is no logical model named `{model}`."),
            ));
        }
    }
    if expires_at.is_some_and(|at| at <= change.now) {
        return Err(ApiError::invalid("expires_at", "must be in the future"));
    }
    let key = generate_gateway_key();
    let record = KeyRecord {
        id: crate::store::new_id(),
        name: name.clone(),
        key_hash: key_hash_hex(key.expose()),
        last4: last4(key.expose()),
        allowed_models: models,
        expires_at,
        revoked: false,
        last_used_at: None,
        created_at: change.now,
    };
    crate::store::config::save_key(&mut change.tx, &record)
        .await
        .map_err(ApiError::internal)?;
    let entry = audit::entry(
        &user.username,
        "create",
        "key",
        &name,
        None,
        Some(audit::key(&record)),
    );
    let view = view(&record);
    change.commit(entry).await?;
    Ok(CreatedKey {
        key: key.expose().to_string(),
        view,
    })
}

/// Revoked keys stop working at once (the snapshot is swapped) and cannot be restored.
#[server(endpoint = "revoke_key", input = Json)]
pub async fn revoke_key(name: String) -> Result<(), ApiError> {
    use crate::configuration::audit;
    use crate::domain::Role;
    let user = super::ssr::require(Role::Admin).await?;
    let mut change = super::change::begin().await?;
    let record = change
        .stored
        .keys
        .iter_mut()
        .find(|k| k.name == name)
        .ok_or_else(|| ApiError::NotFound(format!("No key named `{name}`.")))?;
    let before = audit::key(record);
    record.revoked = true;
    let after = audit::key(record);
    crate::store::config::save_key(&mut change.tx, record)
        .await
        .map_err(ApiError::internal)?;
    let entry = audit::entry(
        &user.username,
        "revoke",
        "key",
        &name,
        Some(before),
        Some(after),
    );
    change.commit(entry).await
}
