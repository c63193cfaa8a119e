//! Who changed what and when.

use super::ApiError;
use crate::domain::AuditEntry;
use leptos::prelude::*;
use server_fn::codec::Json;

/// The newest changes first, filtered by who (`actor`), what (`entity_kind`: account, model,
/// policy, key, price, …) and since when (`since`, Unix ms); at most `limit` (default 200, at
/// most 1000). Paging is by keyset: pass the last entry's `at` and `id` as `before_at` and
/// `before_id` for the page after it.
#[server(endpoint = "list_audit", input = Json)]
pub async fn list_audit(
    actor: Option<String>,
    entity_kind: Option<String>,
    since: Option<i64>,
    before_at: Option<i64>,
    before_id: Option<String>,
    limit: Option<i64>,
) -> Result<Vec<AuditEntry>, ApiError> {
    use crate::domain::Role;
    use crate::store::config::AuditFilter;
    super::ssr::require(Role::Viewer).await?;
    let state = super::ssr::state()?;
    let filter = AuditFilter {
        actor: actor.as_deref().filter(|a| !a.is_empty()),
        entity_kind: entity_kind.as_deref().filter(|k| !k.is_empty()),
        since,
        before: before_at.zip(before_id.as_deref()),
    };
    crate::store::config::list_audit(&state.db.pool, &filter, limit.unwrap_or(200).clamp(1, 1000))
        .await
        .map_err(ApiError::internal)
}

/// Everyone who appears in the audit log, for its filter.
#[server(endpoint = "audit_actors", input = Json)]
pub async fn audit_actors() -> Result<Vec<String>, ApiError> {
    use crate::domain::Role;
    super::ssr::require(Role::Viewer).await?;
    let state = super::ssr::state()?;
    crate::store::config::audit_actors(&state.db.pool)
        .await
        .map_err(ApiError::internal)
}
