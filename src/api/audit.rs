//! Who changed what and when.

use super::ApiError;
use crate::domain::AuditEntry;
use leptos::prelude::*;
use server_fn::codec::Json;

/// The newest changes first, at most `limit` (default 200, at most 1000).
#[server(endpoint = "list_audit", input = Json)]
pub async fn list_audit(limit: Option<i64>) -> Result<Vec<AuditEntry>, ApiError> {
    use crate::domain::Role;
    super::ssr::require(Role::Viewer).await?;
    let state = super::ssr::state()?;
    crate::store::config::list_audit(&state.db.pool, limit.unwrap_or(200).clamp(1, 1000))
        .await
        .map_err(ApiError::internal)
}
