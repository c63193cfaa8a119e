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
mod ssr {
    use super::KeyView;
    use crate::api::change::{check_refs, field_error, Resource};
    use crate::api::ApiError;
    use crate::store::config::{self, KeyRecord, StoredConfig};
    use crate::store::StoreError;
    use sqlx::AnyConnection;
    use std::future::Future;

    pub fn view(record: &KeyRecord) -> KeyView {
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

    impl Resource for KeyRecord {
        const WHAT: &'static str = "key";
        const AUDIT_KIND: &'static str = "key";

        fn name(&self) -> String {
            self.name.clone()
        }
        fn all(stored: &StoredConfig) -> &Vec<Self> {
            &stored.keys
        }
        fn all_mut(stored: &mut StoredConfig) -> &mut Vec<Self> {
            &mut stored.keys
        }
        fn validate(&self, stored: &StoredConfig) -> Result<(), ApiError> {
            crate::domain::check_name("name", &self.name).map_err(field_error)?;
            let models: Vec<&str> = stored
                .models
                .iter()
                .map(|m| m.model.name.as_str())
                .collect();
            check_refs(&self.allowed_models, &models, "logical model", |_| {
                "models".to_string()
            })
        }
        fn audit(&self) -> serde_json::Value {
            crate::configuration::audit::key(self)
        }
        fn write<'a>(
            &'a self,
            tx: &'a mut AnyConnection,
            _: &'a StoredConfig,
            _: i64,
        ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a {
            config::save_key(tx, self)
        }
    }
}

#[server(endpoint = "list_keys", input = Json)]
pub async fn list_keys() -> Result<Vec<KeyView>, ApiError> {
    use crate::domain::Role;
    super::ssr::require(Role::Viewer).await?;
    let stored = super::ssr::stored_config().await?;
    Ok(stored.keys.iter().map(ssr::view).collect())
}

/// `expires_at` is Unix milliseconds; `None` never expires.
#[server(endpoint = "create_key", input = Json)]
pub async fn create_key(
    name: String,
    models: Vec<String>,
    expires_at: Option<i64>,
) -> Result<CreatedKey, ApiError> {
    use super::change::{save, Slot};
    use crate::configuration::{generate_gateway_key, key_hash_hex};
    use crate::domain::Role;
    use crate::store::cipher::last4;
    use crate::store::config::KeyRecord;
    let user = super::ssr::require(Role::Admin).await?;
    let key = generate_gateway_key();
    let saved = save(&user.username, Slot::New, "update", |change, _| {
        if expires_at.is_some_and(|at| at <= change.now) {
            return Err(ApiError::invalid("expires_at", "must be in the future"));
        }
        Ok(KeyRecord {
            id: crate::store::new_id(),
            name: name.trim().to_string(),
            key_hash: key_hash_hex(key.expose()),
            last4: last4(key.expose()),
            allowed_models: models,
            expires_at,
            revoked: false,
            last_used_at: None,
            created_at: change.now,
        })
    })
    .await?;
    Ok(CreatedKey {
        key: key.expose().to_string(),
        view: ssr::view(&saved),
    })
}

/// Revoked keys stop working at once (the snapshot is swapped) and cannot be restored.
#[server(endpoint = "revoke_key", input = Json)]
pub async fn revoke_key(name: String) -> Result<(), ApiError> {
    use super::change::{save, Slot};
    use crate::domain::Role;
    use crate::store::config::KeyRecord;
    let user = super::ssr::require(Role::Admin).await?;
    save(
        &user.username,
        Slot::Existing(&name),
        "revoke",
        |_, existing| {
            let mut record: KeyRecord = existing.cloned().ok_or(ApiError::Internal)?;
            record.revoked = true;
            Ok(record)
        },
    )
    .await?;
    Ok(())
}
