//! Logical models: everyone reads them, editors change them.

use super::ApiError;
use crate::domain::LogicalModel;
use leptos::prelude::*;
use server_fn::codec::Json;

#[cfg(feature = "ssr")]
mod ssr {
    use crate::api::change::{check_refs, field_error, Erase, Resource};
    use crate::api::ApiError;
    use crate::store::config::{self, ModelRecord, StoredConfig};
    use crate::store::StoreError;
    use sqlx::AnyConnection;
    use std::future::Future;

    impl Resource for ModelRecord {
        const WHAT: &'static str = "logical model";
        const AUDIT_KIND: &'static str = "model";

        fn name(&self) -> String {
            self.model.name.clone()
        }
        fn all(stored: &StoredConfig) -> &Vec<Self> {
            &stored.models
        }
        fn all_mut(stored: &mut StoredConfig) -> &mut Vec<Self> {
            &mut stored.models
        }
        fn validate(&self, stored: &StoredConfig) -> Result<(), ApiError> {
            self.model.validate().map_err(field_error)?;
            let accounts: Vec<&str> = stored
                .accounts
                .iter()
                .map(|a| a.account.name.as_str())
                .collect();
            check_refs(
                self.model.targets.iter().map(|t| &t.target.account),
                &accounts,
                "provider account",
                |i| format!("targets[{i}].account"),
            )
        }
        fn audit(&self) -> serde_json::Value {
            crate::configuration::audit::of(&self.model)
        }
        async fn write(
            &self,
            tx: &mut AnyConnection,
            stored: &StoredConfig,
            now: i64,
        ) -> Result<(), StoreError> {
            let account_ids = stored
                .accounts
                .iter()
                .map(|a| (a.account.name.clone(), a.id.clone()))
                .collect();
            config::save_model(tx, self, &account_ids, now).await
        }
    }

    impl Erase for ModelRecord {
        fn erase<'a>(
            &'a self,
            tx: &'a mut AnyConnection,
        ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a {
            config::delete_model(tx, &self.id)
        }
    }
}

/// Every logical model, by name.
#[server(endpoint = "list_models", input = Json)]
pub async fn list_models() -> Result<Vec<LogicalModel>, ApiError> {
    use crate::domain::Role;
    super::ssr::require(Role::Viewer).await?;
    let stored = super::ssr::stored_config().await?;
    Ok(stored.models.into_iter().map(|r| r.model).collect())
}

/// Creates (`original_name` empty) or updates the logical model `original_name`, which may be
/// renamed.
#[server(endpoint = "save_model", input = Json)]
pub async fn save_model(
    original_name: Option<String>,
    model: LogicalModel,
) -> Result<LogicalModel, ApiError> {
    use super::change::{save, Slot};
    use crate::domain::Role;
    use crate::store::config::ModelRecord;
    let user = super::ssr::require(Role::Editor).await?;
    let slot = Slot::from_original(original_name.as_deref());
    let saved = save(&user.username, slot, "update", |_, existing| {
        Ok(ModelRecord {
            id: existing.map_or_else(crate::store::new_id, |r: &ModelRecord| r.id.clone()),
            model,
        })
    })
    .await?;
    Ok(saved.model)
}

#[server(endpoint = "delete_model", input = Json)]
pub async fn delete_model(name: String) -> Result<(), ApiError> {
    use crate::domain::Role;
    use crate::store::config::ModelRecord;
    let user = super::ssr::require(Role::Editor).await?;
    super::change::delete::<ModelRecord>(&user.username, &name).await
}
