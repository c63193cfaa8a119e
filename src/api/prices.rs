//! The price table spend is computed from: everyone reads it, editors change it.

use super::ApiError;
use crate::domain::ProviderKind;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use server_fn::codec::Json;

/// USD per million tokens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceView {
    pub kind: ProviderKind,
    pub model: String,
    pub input_per_mtok_usd: f64,
    pub output_per_mtok_usd: f64,
}

#[server(endpoint = "list_prices", input = Json)]
pub async fn list_prices() -> Result<Vec<PriceView>, ApiError> {
    use crate::domain::Role;
    super::ssr::require(Role::Viewer).await?;
    let state = super::ssr::state()?;
    let mut conn = state.db.pool.acquire().await.map_err(ApiError::internal)?;
    let stored = crate::store::config::load(&mut conn)
        .await
        .map_err(ApiError::internal)?;
    Ok(stored
        .prices
        .into_iter()
        .map(|p| PriceView {
            kind: p.kind,
            model: p.model,
            input_per_mtok_usd: p.price.input_per_mtok.as_dollars(),
            output_per_mtok_usd: p.price.output_per_mtok.as_dollars(),
        })
        .collect())
}

/// Adds or changes the price of one provider model.
#[server(endpoint = "save_price", input = Json)]
pub async fn save_price(price: PriceView) -> Result<(), ApiError> {
    use crate::configuration::audit;
    use crate::domain::{Money, Role, PROVIDER_MODEL_MAX_LEN};
    use crate::providers::prices::Price;
    use crate::store::config::PriceRecord;
    let user = super::ssr::require(Role::Editor).await?;
    let model = price.model.trim().to_string();
    if model.is_empty() || model.len() > PROVIDER_MODEL_MAX_LEN {
        return Err(ApiError::invalid(
            "model",
            format!("must be 1 to {PROVIDER_MODEL_MAX_LEN} characters"),
        ));
    }
    for (field, value) in [
        ("input_per_mtok_usd", price.input_per_mtok_usd),
        ("output_per_mtok_usd", price.output_per_mtok_usd),
    ] {
        if !value.is_finite() || !(0.0..=10_000.0).contains(&value) {
            return Err(ApiError::invalid(field, "must be from $0 to $10,000"));
        }
    }
    let mut change = super::change::begin().await?;
    let record = PriceRecord {
        kind: price.kind,
        model: model.clone(),
        price: Price {
            input_per_mtok: Money::from_dollars(price.input_per_mtok_usd),
            output_per_mtok: Money::from_dollars(price.output_per_mtok_usd),
        },
    };
    let before = change
        .stored
        .prices
        .iter()
        .find(|p| p.kind == record.kind && p.model == model)
        .map(audit::price);
    let action = if before.is_some() { "update" } else { "create" };
    crate::store::config::save_price(&mut change.tx, &record, change.now)
        .await
        .map_err(ApiError::internal)?;
    let entry = audit::entry(
        &user.username,
        action,
        "price",
        &format!("{}/{model}", record.kind),
        before,
        Some(audit::price(&record)),
    );
    change.commit(entry).await
}

#[server(endpoint = "delete_price", input = Json)]
pub async fn delete_price(kind: ProviderKind, model: String) -> Result<(), ApiError> {
    use crate::configuration::audit;
    use crate::domain::Role;
    let user = super::ssr::require(Role::Editor).await?;
    let mut change = super::change::begin().await?;
    let before = change
        .stored
        .prices
        .iter()
        .find(|p| p.kind == kind && p.model == model)
        .map(audit::price)
        .ok_or_else(|| ApiError::NotFound(format!("No price for {kind}/{model}.")))?;
    crate::store::config::delete_price(&mut change.tx, kind, &model)
        .await
        .map_err(ApiError::internal)?;
    let entry = audit::entry(
        &user.username,
        "delete",
        "price",
        &format!("{kind}/{model}"),
        Some(before),
        None,
    );
    change.commit(entry).await
}
