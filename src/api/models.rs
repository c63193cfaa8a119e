//! Logical models: everyone reads them, editors change them.

use super::ApiError;
use crate::domain::LogicalModel;
use leptos::prelude::*;
use server_fn::codec::Json;

/// Every logical model, by name.
#[server(endpoint = "list_models", input = Json)]
pub async fn list_models() -> Result<Vec<LogicalModel>, ApiError> {
    use crate::domain::Role;
    super::ssr::require(Role::Viewer).await?;
    let state = super::ssr::state()?;
    let mut conn = state.db.pool.acquire().await.map_err(ApiError::internal)?;
    let stored = crate::store::config::load(&mut conn)
        .await
        .map_err(ApiError::internal)?;
    Ok(stored.models.into_iter().map(|r| r.model).collect())
}

/// Creates (`original_name` empty) or updates the logical model `original_name`, which may be
/// renamed.
#[server(endpoint = "save_model", input = Json)]
pub async fn save_model(
    original_name: Option<String>,
    model: LogicalModel,
) -> Result<LogicalModel, ApiError> {
    use crate::configuration::audit;
    use crate::domain::Role;
    use crate::store::config::{save_model, ModelRecord};
    let user = super::ssr::require(Role::Editor).await?;
    model.validate().map_err(super::change::field_error)?;
    let mut change = super::change::begin().await?;
    let stored = &mut change.stored;
    let existing = super::change::save_slot(
        &stored.models,
        |r| r.model.name.as_str(),
        original_name.as_deref(),
        &model.name,
        "logical model",
    )?;
    for (i, target) in model.targets.iter().map(|t| &t.target).enumerate() {
        if !stored
            .accounts
            .iter()
            .any(|a| a.account.name == target.account)
        {
            return Err(ApiError::invalid(
                &format!("targets[{i}].account"),
                format!("There is no provider account named `{}`.", target.account),
            ));
        }
    }
    let before = existing.map(|i| audit::of(&stored.models[i].model));
    let record = ModelRecord {
        id: existing.map_or_else(crate::store::new_id, |i| stored.models[i].id.clone()),
        model: model.clone(),
    };
    let account_ids = stored
        .accounts
        .iter()
        .map(|a| (a.account.name.clone(), a.id.clone()))
        .collect();
    let action = if existing.is_some() {
        "update"
    } else {
        "create"
    };
    super::change::put(&mut stored.models, existing, record);
    change.check()?;
    let record = change
        .stored
        .models
        .iter()
        .find(|r| r.model.name == model.name)
        .ok_or(ApiError::Internal)?;
    save_model(&mut change.tx, record, &account_ids, change.now)
        .await
        .map_err(ApiError::internal)?;
    let entry = audit::entry(
        &user.username,
        action,
        "model",
        &model.name,
        before,
        Some(audit::of(&model)),
    );
    change.commit(entry).await?;
    Ok(model)
}

#[server(endpoint = "delete_model", input = Json)]
pub async fn delete_model(name: String) -> Result<(), ApiError> {
    use crate::configuration::audit;
    use crate::domain::Role;
    let user = super::ssr::require(Role::Editor).await?;
    let mut change = super::change::begin().await?;
    let i = super::change::find_named(
        &change.stored.models,
        |r| r.model.name.as_str(),
        &name,
        "logical model",
    )?;
    let removed = change.stored.models.remove(i);
    change.check()?;
    crate::store::config::delete_model(&mut change.tx, &removed.id)
        .await
        .map_err(ApiError::internal)?;
    let entry = audit::entry(
        &user.username,
        "delete",
        "model",
        &name,
        Some(audit::of(&removed.model)),
        None,
    );
    change.commit(entry).await
}
