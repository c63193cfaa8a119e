//! Budget alerts: the list, the dashboard banner and the webhook they are sent to.

use super::ApiError;
use crate::domain::{AlertView, BudgetReached};
use leptos::prelude::*;

/// Stored alerts, newest first (at most 500).
#[server(endpoint = "list_alerts")]
pub async fn list_alerts() -> Result<Vec<AlertView>, ApiError> {
    use crate::domain::Role;
    super::ssr::require(Role::Viewer).await?;
    let state = super::ssr::state()?;
    crate::store::alerts::list(&state.db.pool, None, 500)
        .await
        .map_err(ApiError::internal)
}

/// This month's budget alerts for the banner: per account, the highest threshold reached.
#[server(endpoint = "budget_banner")]
pub async fn budget_banner() -> Result<Vec<BudgetReached>, ApiError> {
    use crate::domain::Role;
    super::ssr::require(Role::Viewer).await?;
    let state = super::ssr::state()?;
    let now = u64::try_from(crate::store::now_millis()).unwrap_or(0);
    crate::store::alerts::budgets_reached(&state.db.pool, &crate::routing::month_of(now))
        .await
        .map_err(ApiError::internal)
}

/// The URL alerts are POSTed to, if set. Admins only: such URLs often carry a token.
#[server(endpoint = "get_alert_webhook")]
pub async fn get_alert_webhook() -> Result<Option<String>, ApiError> {
    use crate::domain::Role;
    super::ssr::require(Role::Admin).await?;
    let state = super::ssr::state()?;
    crate::store::alerts::webhook_url(&state.db.pool)
        .await
        .map_err(ApiError::internal)
}

/// Sets the webhook URL; an empty one turns the webhook off.
#[server(endpoint = "set_alert_webhook")]
pub async fn set_alert_webhook(url: String) -> Result<Option<String>, ApiError> {
    use crate::configuration::audit;
    use crate::domain::Role;
    let admin = super::ssr::require(Role::Admin).await?;
    let state = super::ssr::state()?;
    let url = match url.trim() {
        "" => None,
        typed => Some(
            crate::telemetry::webhook::check_url(typed).map_err(|m| ApiError::invalid("url", m))?,
        ),
    };
    let mut tx = state.db.pool.begin().await.map_err(ApiError::internal)?;
    let before = crate::store::alerts::webhook_url(&mut *tx)
        .await
        .map_err(ApiError::internal)?;
    crate::store::alerts::set_webhook_url(&mut tx, url.as_deref())
        .await
        .map_err(ApiError::internal)?;
    if let Some(entry) = audit::entry(
        &admin.username,
        if url.is_some() { "update" } else { "delete" },
        "alert-webhook",
        "webhook_url",
        before.as_deref().map(audit::webhook),
        url.as_deref().map(audit::webhook),
    ) {
        crate::store::config::insert_audit(&mut tx, &entry)
            .await
            .map_err(ApiError::internal)?;
    }
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(url)
}

/// Alerts that open and close (circuit open, account unhealthy, usage spilling) that are still
/// open and not acknowledged, for the banner on every page.
#[server(endpoint = "alert_banner")]
pub async fn alert_banner() -> Result<Vec<AlertView>, ApiError> {
    use crate::domain::Role;
    super::ssr::require(Role::Viewer).await?;
    let state = super::ssr::state()?;
    crate::store::alerts::needing_attention(&state.db.pool)
        .await
        .map_err(ApiError::internal)
}

/// Marks an alert as seen by the signed-in user: it leaves the banner, and the Alerts page
/// says who acknowledged it.
#[server(endpoint = "acknowledge_alert")]
pub async fn acknowledge_alert(id: String) -> Result<(), ApiError> {
    use crate::domain::Role;
    let user = super::ssr::require(Role::Editor).await?;
    let state = super::ssr::state()?;
    let mut conn = state.db.pool.acquire().await.map_err(ApiError::internal)?;
    if crate::store::alerts::acknowledge(&mut conn, &id, &user.username)
        .await
        .map_err(ApiError::internal)?
    {
        Ok(())
    } else {
        Err(ApiError::NotFound("There is no such alert.".into()))
    }
}
