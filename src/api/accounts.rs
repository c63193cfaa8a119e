//! Provider accounts. Everyone reads them (never the key: only whether one is set and its last
//! four characters); editors change the non-secret fields; only admins set credentials or
//! delete an account.

use super::ApiError;
use crate::domain::{AzureSettings, HealthLevel, Money, ProviderKind};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use server_fn::codec::Json;

/// An account as the dashboard shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountView {
    pub name: String,
    pub kind: ProviderKind,
    /// `None`: the kind's default.
    pub base_url: Option<String>,
    pub enabled: bool,
    pub rpm_limit: Option<u32>,
    pub tpm_limit: Option<u32>,
    pub monthly_budget_usd: Option<f64>,
    pub soft_budget: bool,
    pub alert_thresholds: Vec<u8>,
    pub azure: Option<AzureSettings>,
    pub api_key_set: bool,
    pub api_key_last4: Option<String>,
}

/// What the account form sends. `api_key` is write-only: empty keeps the stored key. Its
/// `Debug` leaves the key out, so it cannot end up in a log line.
#[derive(Clone, Serialize, Deserialize)]
pub struct AccountForm {
    pub name: String,
    pub kind: ProviderKind,
    #[serde(default)]
    pub base_url: Option<String>,
    pub enabled: bool,
    #[serde(default)]
    pub rpm_limit: Option<u32>,
    #[serde(default)]
    pub tpm_limit: Option<u32>,
    #[serde(default)]
    pub monthly_budget_usd: Option<f64>,
    #[serde(default)]
    pub soft_budget: bool,
    pub alert_thresholds: Vec<u8>,
    #[serde(default)]
    pub azure: Option<AzureSettings>,
    #[serde(default)]
    pub api_key: Option<String>,
}

impl std::fmt::Debug for AccountForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountForm")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// The result of "Test connection".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionTest {
    pub ok: bool,
    pub latency_ms: u64,
    pub message: String,
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::AccountView;
    use crate::api::change::{budget_field_error, field_error, Erase, Resource};
    use crate::api::ApiError;
    use crate::store::config::{self, AccountRecord, StoredConfig};
    use crate::store::StoreError;
    use sqlx::AnyConnection;
    use std::future::Future;

    pub fn view(record: &AccountRecord) -> AccountView {
        let a = &record.account;
        AccountView {
            name: a.name.clone(),
            kind: a.kind,
            base_url: record.base_url.clone(),
            enabled: a.enabled,
            rpm_limit: a.rpm_limit,
            tpm_limit: a.tpm_limit,
            monthly_budget_usd: a.monthly_budget.map(|m| m.as_dollars()),
            soft_budget: a.soft_budget,
            alert_thresholds: a.alert_thresholds.clone(),
            azure: record.azure.clone(),
            api_key_set: record.api_key_encrypted.is_some(),
            api_key_last4: record.api_key_last4.clone(),
        }
    }

    impl Resource for AccountRecord {
        const WHAT: &'static str = "provider account";
        const AUDIT_KIND: &'static str = "account";

        fn name(&self) -> String {
            self.account.name.clone()
        }
        fn all(stored: &StoredConfig) -> &Vec<Self> {
            &stored.accounts
        }
        fn all_mut(stored: &mut StoredConfig) -> &mut Vec<Self> {
            &mut stored.accounts
        }
        fn validate(&self, _: &StoredConfig) -> Result<(), ApiError> {
            self.account.validate().map_err(budget_field_error)?;
            if let Some(url) = &self.base_url {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(ApiError::invalid(
                        "base_url",
                        "must be an http(s) URL, or empty for the default",
                    ));
                }
            }
            if let Some(azure) = &self.azure {
                azure.validate().map_err(field_error)?;
            }
            Ok(())
        }
        fn audit(&self) -> serde_json::Value {
            crate::configuration::audit::account(self)
        }
        fn write<'a>(
            &'a self,
            tx: &'a mut AnyConnection,
            _: &'a StoredConfig,
            now: i64,
        ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a {
            config::save_account(tx, self, now)
        }
    }

    impl Erase for AccountRecord {
        fn erase<'a>(
            &'a self,
            tx: &'a mut AnyConnection,
        ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a {
            config::delete_account(tx, &self.id)
        }
    }
}

#[server(endpoint = "list_accounts", input = Json)]
pub async fn list_accounts() -> Result<Vec<AccountView>, ApiError> {
    use crate::domain::Role;
    super::ssr::require(Role::Viewer).await?;
    let stored = super::ssr::stored_config().await?;
    Ok(stored.accounts.iter().map(ssr::view).collect())
}

/// Creates (`original_name` empty) or updates an account. Setting `api_key` needs the admin
/// role; everything else the editor role.
#[server(endpoint = "save_account", input = Json)]
pub async fn save_account(
    original_name: Option<String>,
    account: AccountForm,
) -> Result<AccountView, ApiError> {
    use super::change::{save, Slot};
    use crate::domain::{Money, ProviderAccount, Role};
    use crate::providers::Secret;
    use crate::store::cipher::last4;
    use crate::store::config::AccountRecord;
    let new_key = account
        .api_key
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(Secret::new);
    let user = super::ssr::require(if new_key.is_some() {
        Role::Admin
    } else {
        Role::Editor
    })
    .await?;
    let domain = ProviderAccount {
        name: account.name.trim().to_string(),
        kind: account.kind,
        enabled: account.enabled,
        rpm_limit: account.rpm_limit,
        tpm_limit: account.tpm_limit,
        monthly_budget: account.monthly_budget_usd.map(Money::from_dollars),
        soft_budget: account.soft_budget,
        alert_thresholds: account.alert_thresholds,
    };
    let base_url = account
        .base_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| u.trim_end_matches('/').to_string());
    let azure = (domain.kind == ProviderKind::Azure).then(|| account.azure.unwrap_or_default());
    let slot = Slot::from_original(original_name.as_deref());
    let update_action = if new_key.is_some() {
        "set-credential"
    } else {
        "update"
    };
    let saved = save(&user.username, slot, update_action, |change, existing| {
        let existing: Option<&AccountRecord> = existing;
        let mut record = AccountRecord {
            id: existing.map_or_else(crate::store::new_id, |r| r.id.clone()),
            account: domain,
            base_url,
            azure,
            api_key_encrypted: existing.and_then(|r| r.api_key_encrypted.clone()),
            api_key_last4: existing.and_then(|r| r.api_key_last4.clone()),
        };
        if let Some(key) = &new_key {
            let sealed = change
                .state
                .cipher
                .encrypt(key)
                .map_err(ApiError::internal)?;
            record.api_key_encrypted = Some(sealed);
            record.api_key_last4 = Some(last4(key.expose()));
        }
        Ok(record)
    })
    .await?;
    Ok(ssr::view(&saved))
}

/// Deletes an account and its credentials; refused while a logical model targets it.
#[server(endpoint = "delete_account", input = Json)]
pub async fn delete_account(name: String) -> Result<(), ApiError> {
    use crate::domain::Role;
    use crate::store::config::AccountRecord;
    let user = super::ssr::require(Role::Admin).await?;
    super::change::delete::<AccountRecord>(&user.username, &name).await
}

/// Calls the provider's cheapest endpoint (listing models) with the stored credentials.
#[server(endpoint = "test_account", input = Json)]
pub async fn test_account(name: String) -> Result<ConnectionTest, ApiError> {
    use crate::domain::Role;
    use crate::providers::{adapter_for, http_client, AzureExtras, CallContext};
    use std::time::Instant;
    super::ssr::require(Role::Editor).await?;
    let state = super::ssr::state()?;
    let snapshot = state.config.load();
    let Some(connection) = snapshot.connections.get(&name) else {
        return Ok(ConnectionTest {
            ok: false,
            latency_ms: 0,
            message: "This account has no API key yet.".into(),
        });
    };
    let client = http_client(&connection.timeouts).map_err(ApiError::internal)?;
    let mut ctx = CallContext::new(
        client,
        connection.base_url.clone(),
        connection.api_key.clone(),
        String::new(),
    );
    ctx.timeouts = connection.timeouts;
    ctx.azure = connection.azure.as_ref().map(|a| AzureExtras {
        endpoint: a.endpoint.clone(),
        api_version: a.api_version.clone(),
        deployment: a.deployments.values().next().cloned().unwrap_or_default(),
    });
    let started = Instant::now();
    let result = adapter_for(connection.kind).test_connection(&ctx).await;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(match result {
        Ok(()) => ConnectionTest {
            ok: true,
            latency_ms,
            message: "Connected.".into(),
        },
        Err(e) => ConnectionTest {
            ok: false,
            latency_ms,
            message: e.to_string(),
        },
    })
}

/// One account's live figures from the router's in-memory state: what traffic is doing right
/// now, next to the configured limits. Holds no credential.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveAccount {
    pub name: String,
    pub health: HealthLevel,
    pub health_reason: String,
    /// `None` until the account has served a request.
    pub latency_ewma_ms: Option<f64>,
    pub requests_last_minute: u32,
    pub rpm_limit: Option<u32>,
    pub tokens_last_minute: u64,
    pub tpm_limit: Option<u32>,
    pub spent_this_month: Money,
    pub monthly_budget: Option<Money>,
}

/// Live status of every configured account, read from memory at the current time (no
/// database query, so the dashboard can poll it every few seconds).
#[server(endpoint = "account_live_status", input = Json)]
pub async fn account_live_status() -> Result<Vec<LiveAccount>, ApiError> {
    use crate::domain::Role;
    super::ssr::require(Role::Viewer).await?;
    let state = super::ssr::state()?;
    let now = u64::try_from(crate::store::now_millis()).unwrap_or_default();
    Ok(super::live::ssr::live_accounts(&state, now))
}
