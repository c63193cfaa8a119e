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

#[cfg(feature = "ssr")]
mod ssr {
    use super::PriceView;
    use crate::api::change::{Erase, Resource};
    use crate::api::ApiError;
    use crate::domain::PROVIDER_MODEL_MAX_LEN;
    use crate::store::config::{self, PriceRecord, StoredConfig};
    use crate::store::StoreError;
    use sqlx::AnyConnection;
    use std::future::Future;

    pub fn view(record: &PriceRecord) -> PriceView {
        PriceView {
            kind: record.kind,
            model: record.model.clone(),
            input_per_mtok_usd: record.price.input_per_mtok.as_dollars(),
            output_per_mtok_usd: record.price.output_per_mtok.as_dollars(),
        }
    }

    impl Resource for PriceRecord {
        const WHAT: &'static str = "price";
        const AUDIT_KIND: &'static str = "price";

        /// `kind/model`: a price is named by what it prices.
        fn name(&self) -> String {
            format!("{}/{}", self.kind, self.model)
        }
        fn all(stored: &StoredConfig) -> &Vec<Self> {
            &stored.prices
        }
        fn all_mut(stored: &mut StoredConfig) -> &mut Vec<Self> {
            &mut stored.prices
        }
        fn validate(&self, _: &StoredConfig) -> Result<(), ApiError> {
            if self.model.is_empty() || self.model.len() > PROVIDER_MODEL_MAX_LEN {
                return Err(ApiError::invalid(
                    "model",
                    format!("must be 1 to {PROVIDER_MODEL_MAX_LEN} characters"),
                ));
            }
            Ok(())
        }
        fn audit(&self) -> serde_json::Value {
            crate::configuration::audit::price(self)
        }
        fn write<'a>(
            &'a self,
            tx: &'a mut AnyConnection,
            _: &'a StoredConfig,
            now: i64,
        ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a {
            config::save_price(tx, self, now)
        }
    }

    impl Erase for PriceRecord {
        fn erase<'a>(
            &'a self,
            tx: &'a mut AnyConnection,
        ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a {
            config::delete_price(tx, self.kind, &self.model)
        }
    }
}

#[server(endpoint = "list_prices", input = Json)]
pub async fn list_prices() -> Result<Vec<PriceView>, ApiError> {
    use crate::domain::Role;
    super::ssr::require(Role::Viewer).await?;
    let stored = super::ssr::stored_config().await?;
    Ok(stored.prices.iter().map(ssr::view).collect())
}

/// Adds or changes the price of one provider model.
#[server(endpoint = "save_price", input = Json)]
pub async fn save_price(price: PriceView) -> Result<(), ApiError> {
    use super::change::{save, Slot};
    use crate::domain::{Money, Role};
    use crate::providers::prices::Price;
    use crate::store::config::PriceRecord;
    let user = super::ssr::require(Role::Editor).await?;
    for (field, value) in [
        ("input_per_mtok_usd", price.input_per_mtok_usd),
        ("output_per_mtok_usd", price.output_per_mtok_usd),
    ] {
        if !value.is_finite() || !(0.0..=10_000.0).contains(&value) {
            return Err(ApiError::invalid(field, "must be from $0 to $10,000"));
        }
    }
    let record = PriceRecord {
        kind: price.kind,
        model: price.model.trim().to_string(),
        price: Price {
            input_per_mtok: Money::from_dollars(price.input_per_mtok_usd),
            output_per_mtok: Money::from_dollars(price.output_per_mtok_usd),
        },
    };
    let name = super::change::Resource::name(&record);
    save(&user.username, Slot::Either(&name), "update", |_, _| {
        Ok(record)
    })
    .await?;
    Ok(())
}

#[server(endpoint = "delete_price", input = Json)]
pub async fn delete_price(kind: ProviderKind, model: String) -> Result<(), ApiError> {
    use crate::domain::Role;
    use crate::store::config::PriceRecord;
    let user = super::ssr::require(Role::Editor).await?;
    super::change::delete::<PriceRecord>(&user.username, &format!("{kind}/{model}")).await
}
