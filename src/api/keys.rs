//! Gateway keys for applications: admins create, change and revoke them; the key text is
//! returned once and only its hash is stored. Each key may carry its own limits, monthly budget
//! and team, with the same names and meaning as on provider accounts.

use super::ApiError;
use crate::domain::Money;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use server_fn::codec::Json;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// After a rotation: when the previous secret stops working (Unix ms).
    pub previous_valid_until: Option<i64>,
    #[serde(flatten)]
    pub governance: KeyGovernance,
    /// Spend this calendar month (UTC), as the ledger has it.
    pub spent_this_month: Money,
}

/// A key's own limits, budget and owner, as the form and the config file write them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyGovernance {
    pub rpm_limit: Option<u32>,
    pub tpm_limit: Option<u32>,
    pub monthly_budget_usd: Option<f64>,
    /// Alerts only: the key is never refused for its budget.
    pub soft_budget: bool,
    /// Owner label spend is grouped by; empty when none.
    pub team: String,
}

/// A key just created: `key` is shown this once.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedKey {
    pub key: String,
    pub view: KeyView,
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use super::{KeyGovernance, KeyView};
    use crate::api::change::{budget_field_error, check_refs, field_error, Resource};
    use crate::api::ApiError;
    use crate::domain::{KeyLimits, Money};
    use crate::store::config::{self, KeyRecord, StoredConfig};
    use crate::store::StoreError;
    use sqlx::AnyConnection;
    use std::collections::HashMap;
    use std::future::Future;

    /// `spent`: this month's spend by key id.
    pub fn view(record: &KeyRecord, spent: &HashMap<String, Money>) -> KeyView {
        KeyView {
            name: record.name.clone(),
            last4: record.last4.clone(),
            models: record.allowed_models.clone(),
            expires_at: record.expires_at,
            revoked: record.revoked,
            last_used_at: record.last_used_at,
            created_at: record.created_at,
            previous_valid_until: record.previous.as_ref().map(|p| p.valid_until),
            governance: governance(record),
            spent_this_month: spent.get(&record.id).copied().unwrap_or_default(),
        }
    }

    pub fn governance(record: &KeyRecord) -> KeyGovernance {
        let l = &record.limits;
        KeyGovernance {
            rpm_limit: l.rpm_limit,
            tpm_limit: l.tpm_limit,
            monthly_budget_usd: l.monthly_budget.map(Money::as_dollars),
            soft_budget: l.soft_budget,
            team: record.team.clone(),
        }
    }

    /// Spend this month by key id, from the ledger's monthly sums (so every instance's).
    pub async fn spent_this_month() -> Result<HashMap<String, Money>, ApiError> {
        let state = crate::api::ssr::state()?;
        let now = u64::try_from(crate::store::now_millis()).unwrap_or(0);
        crate::telemetry::key_spend_in(&state.db.pool, &crate::routing::month_of(now))
            .await
            .map_err(ApiError::internal)
    }

    /// The form's (or the file's) fields as the record keeps them.
    pub fn apply(record: &mut KeyRecord, g: KeyGovernance) {
        record.limits = KeyLimits {
            rpm_limit: g.rpm_limit,
            tpm_limit: g.tpm_limit,
            monthly_budget: g.monthly_budget_usd.map(Money::from_dollars),
            soft_budget: g.soft_budget,
        };
        record.team = g.team.trim().to_string();
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
            self.limits.validate().map_err(budget_field_error)?;
            crate::domain::check_team(&self.team).map_err(field_error)?;
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
    let spent = ssr::spent_this_month().await?;
    Ok(stored.keys.iter().map(|k| ssr::view(k, &spent)).collect())
}

/// `expires_at` is Unix milliseconds; `None` never expires. `governance` left out: no limits,
/// no budget, no team.
#[server(endpoint = "create_key", input = Json)]
pub async fn create_key(
    name: String,
    models: Vec<String>,
    expires_at: Option<i64>,
    governance: Option<KeyGovernance>,
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
        let mut record = KeyRecord {
            id: crate::store::new_id(),
            name: name.trim().to_string(),
            key_hash: key_hash_hex(key.expose()),
            last4: last4(key.expose()),
            allowed_models: models,
            expires_at,
            limits: Default::default(),
            team: String::new(),
            revoked: false,
            last_used_at: None,
            created_at: change.now,
            previous: None,
        };
        ssr::apply(&mut record, governance.unwrap_or_default());
        Ok(record)
    })
    .await?;
    Ok(CreatedKey {
        key: key.expose().to_string(),
        view: ssr::view(&saved, &Default::default()),
    })
}

/// Changes a key's allowed models, expiry, limits, budget and team; the key text stays.
#[server(endpoint = "update_key", input = Json)]
pub async fn update_key(
    name: String,
    models: Vec<String>,
    expires_at: Option<i64>,
    governance: KeyGovernance,
) -> Result<KeyView, ApiError> {
    use super::change::{save, Slot};
    use crate::domain::Role;
    use crate::store::config::KeyRecord;
    let user = super::ssr::require(Role::Admin).await?;
    let saved = save(
        &user.username,
        Slot::Existing(&name),
        "update",
        |_, existing| {
            let mut record: KeyRecord = existing.cloned().ok_or(ApiError::Internal)?;
            if record.revoked {
                return Err(ApiError::BadRequest(
                    "A revoked key cannot be changed.".into(),
                ));
            }
            record.allowed_models = models;
            record.expires_at = expires_at;
            ssr::apply(&mut record, governance);
            Ok(record)
        },
    )
    .await?;
    let spent = ssr::spent_this_month().await?;
    Ok(ssr::view(&saved, &spent))
}

/// The longest overlap a rotation may give the previous secret: a week.
pub const MAX_ROTATION_OVERLAP_HOURS: u32 = 7 * 24;

/// Gives a key a new secret, shown this once; the previous one keeps working for
/// `overlap_hours` (0: refused at once), so apps can move without an outage. Limits, budget,
/// spend and history stay with the key. Rotating again ends an earlier overlap.
#[server(endpoint = "rotate_key", input = Json)]
pub async fn rotate_key(name: String, overlap_hours: u32) -> Result<CreatedKey, ApiError> {
    use super::change::{save, Slot};
    use crate::configuration::{generate_gateway_key, key_hash_hex};
    use crate::domain::Role;
    use crate::store::cipher::last4;
    use crate::store::config::{KeyRecord, PreviousSecret};
    let user = super::ssr::require(Role::Admin).await?;
    if overlap_hours > MAX_ROTATION_OVERLAP_HOURS {
        return Err(ApiError::invalid(
            "overlap_hours",
            format!("at most {MAX_ROTATION_OVERLAP_HOURS} hours (a week)"),
        ));
    }
    let key = generate_gateway_key();
    let saved = save(
        &user.username,
        Slot::Existing(&name),
        "rotate",
        |change, existing| {
            let mut record: KeyRecord = existing.cloned().ok_or(ApiError::Internal)?;
            if record.revoked {
                return Err(ApiError::BadRequest(
                    "A revoked key cannot be rotated.".into(),
                ));
            }
            record.previous = (overlap_hours > 0).then(|| PreviousSecret {
                key_hash: record.key_hash.clone(),
                valid_until: change.now + i64::from(overlap_hours) * 3_600_000,
            });
            record.key_hash = key_hash_hex(key.expose());
            record.last4 = last4(key.expose());
            Ok(record)
        },
    )
    .await?;
    let spent = ssr::spent_this_month().await?;
    Ok(CreatedKey {
        key: key.expose().to_string(),
        view: ssr::view(&saved, &spent),
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
