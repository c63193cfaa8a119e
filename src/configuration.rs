//! The stored configuration as the proxy sees it: [`load_snapshot`] builds the
//! [`ConfigSnapshot`] from the database (at start-up), [`check`] validates a proposed whole
//! configuration before it is committed, and [`reload`] swaps in a fresh snapshot after every
//! committed change, so the proxy picks it up without a restart; [`follow`] does the same for
//! changes committed by other instances and `switchyard apply`.

use crate::domain::{DomainError, Price, ProviderKind};
use crate::providers::prices::seed_price;
use crate::providers::{Secret, Timeouts};
use crate::routing::{RoutingError, RoutingSnapshot};
use crate::snapshot::{
    hash_gateway_key, AccountConnection, AzureAccount, ConfigSnapshot, GatewayKey, KeyHash,
};
use crate::state::AppState;
use crate::store::cipher::{CipherError, CredentialCipher};
use crate::store::config::{self, StoredConfig};
use crate::store::{Db, StoreError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

pub mod follow;

/// What marks a Switchyard gateway key, so it is recognisable in code and secret scanners.
pub const GATEWAY_KEY_PREFIX: &str = "sk-sy-";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Cipher(#[from] CipherError),
    /// The proposed configuration is inconsistent; every problem is listed.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error("gateway key `{0}` has a damaged hash in the database")]
    BadKeyHash(String),
}

/// Checks every item and every reference between them (targets name existing accounts, policies
/// name existing logical models), as the router will rely on it.
pub fn check(stored: &StoredConfig) -> Result<RoutingSnapshot, ConfigError> {
    let mut problems = Vec::new();
    for record in &stored.accounts {
        let account = &record.account;
        match (&record.azure, account.kind) {
            (Some(azure), ProviderKind::Azure) => {
                if let Err(DomainError::Invalid(errors)) = azure.validate() {
                    for e in errors {
                        problems.push(format!("provider account `{}`: {e}", account.name));
                    }
                }
            }
            (None, ProviderKind::Azure) => problems.push(format!(
                "provider account `{}`: azure.endpoint: an Azure OpenAI account needs its endpoint and api-version",
                account.name
            )),
            _ => {}
        }
    }
    let routing = RoutingSnapshot::new(
        stored.accounts.iter().map(|r| r.account.clone()).collect(),
        stored.models.iter().map(|r| r.model.clone()).collect(),
        stored.policies.iter().map(|r| r.policy.clone()).collect(),
    );
    match routing {
        Ok(routing) if problems.is_empty() => Ok(routing),
        Ok(_) => Err(ConfigError::Invalid(problems)),
        Err(RoutingError::InvalidConfig(more)) => {
            problems.extend(more);
            Err(ConfigError::Invalid(problems))
        }
        Err(other) => {
            problems.push(other.to_string());
            Err(ConfigError::Invalid(problems))
        }
    }
}

/// The snapshot of a stored configuration, credentials decrypted. Accounts without an API key
/// get no connection: the proxy treats them as not configured.
pub fn build_snapshot(
    stored: &StoredConfig,
    cipher: &CredentialCipher,
) -> Result<ConfigSnapshot, ConfigError> {
    let routing = check(stored)?;
    let mut snapshot = ConfigSnapshot::empty();
    snapshot.routing = routing;
    for record in &stored.accounts {
        let Some(sealed) = &record.api_key_encrypted else {
            continue;
        };
        let kind = record.account.kind;
        let base_url = record
            .base_url
            .clone()
            .or_else(|| kind.default_base_url().map(str::to_string))
            .or_else(|| record.azure.as_ref().map(|a| a.endpoint.clone()))
            .unwrap_or_default();
        snapshot.connections.insert(
            record.account.name.clone(),
            AccountConnection {
                kind,
                base_url,
                api_key: cipher.decrypt(sealed)?,
                azure: record.azure.as_ref().map(|a| AzureAccount {
                    endpoint: a.endpoint.clone(),
                    api_version: a.api_version.clone(),
                    deployments: a.deployments.clone().into_iter().collect(),
                }),
                timeouts: Timeouts::default(),
            },
        );
    }
    for key in stored.keys.iter().filter(|k| !k.revoked) {
        let hash = parse_key_hash(&key.key_hash)
            .ok_or_else(|| ConfigError::BadKeyHash(key.name.clone()))?;
        let gateway_key = GatewayKey {
            id: key.id.clone(),
            name: key.name.clone(),
            allowed_models: key.allowed_models.clone(),
            expires_at: key.expires_at,
            limits: key.limits.clone(),
        };
        // A rotated key's former secret is the same key (same id: its limits, budget and
        // ledger rows are shared) until the overlap ends.
        if let Some(previous) = &key.previous {
            let previous_hash = parse_key_hash(&previous.key_hash)
                .ok_or_else(|| ConfigError::BadKeyHash(key.name.clone()))?;
            let until = key
                .expires_at
                .map_or(previous.valid_until, |at| at.min(previous.valid_until));
            snapshot.keys.insert(
                previous_hash,
                GatewayKey {
                    expires_at: Some(until),
                    ..gateway_key.clone()
                },
            );
        }
        snapshot.keys.insert(hash, gateway_key);
    }
    let table: HashMap<(ProviderKind, &str), Price> = stored
        .prices
        .iter()
        .map(|p| ((p.kind, p.model.as_str()), p.price))
        .collect();
    snapshot.routing = snapshot.routing.with_prices(|kind, model| {
        table
            .get(&(kind, model))
            .copied()
            .or_else(|| seed_price(kind, model))
    });
    Ok(snapshot)
}

/// Reads the whole configuration from the database and builds the proxy's snapshot.
pub async fn load_snapshot(
    db: &Db,
    cipher: &CredentialCipher,
) -> Result<ConfigSnapshot, ConfigError> {
    let mut conn = db.pool.acquire().await.map_err(StoreError::from)?;
    let stored = config::load(&mut conn).await?;
    build_snapshot(&stored, cipher)
}

/// The config version (see [`config::bump_version`]) of the snapshot this instance serves.
/// Reloads hold its lock, so they run one at a time and a slow one never puts an older snapshot
/// in place of a newer one.
#[derive(Clone)]
pub struct ServedVersion(Arc<Served>);

struct Served {
    reloading: tokio::sync::Mutex<()>,
    version: AtomicI64,
}

impl ServedVersion {
    pub fn new(version: i64) -> Self {
        ServedVersion(Arc::new(Served {
            reloading: tokio::sync::Mutex::new(()),
            version: AtomicI64::new(version),
        }))
    }

    pub fn get(&self) -> i64 {
        self.0.version.load(Ordering::Relaxed)
    }
}

/// Rebuilds the snapshot from the database and swaps it in when the database's config version
/// differs from the one served (ahead after a change; behind after a restore from a backup);
/// returns whether it did. Every committed change raises the version, so this misses none,
/// however many notifications were lost. Runs after every commit
/// here and from [`follow`] for changes made elsewhere, never on the proxy's path: requests keep
/// the snapshot they started with, and the live state (circuits, rate windows, spend) lives
/// beside the snapshot, so it is kept.
pub async fn reload(state: &AppState) -> Result<bool, ConfigError> {
    let served = &state.config_version.0;
    let _one_at_a_time = served.reloading.lock().await;
    let mut conn = state.db.pool.acquire().await.map_err(StoreError::from)?;
    // The version before the configuration: a change committed between the two reads leaves
    // the snapshot newer than its version, never older, so at worst one more reload follows.
    let version = config::version(&mut *conn).await?;
    if version == served.version.load(Ordering::Relaxed) {
        return Ok(false);
    }
    let stored = config::load(&mut conn).await?;
    state
        .config
        .replace(build_snapshot(&stored, &state.cipher)?);
    served.version.store(version, Ordering::Relaxed);
    Ok(true)
}

/// A new gateway key: the prefix and 32 random bytes. Shown once, stored only as its hash.
pub fn generate_gateway_key() -> Secret {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    Secret::new(format!(
        "{GATEWAY_KEY_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// The stored form of a gateway key: hex of its SHA-256.
pub fn key_hash_hex(key: &str) -> String {
    hash_gateway_key(key)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn parse_key_hash(hex: &str) -> Option<KeyHash> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut hash = [0u8; 32];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_keys_are_prefixed_random_and_hash_round_trips() {
        let a = generate_gateway_key();
        let b = generate_gateway_key();
        assert!(a.expose().starts_with(GATEWAY_KEY_PREFIX));
        assert!(a.expose().len() > 40);
        assert_ne!(a, b);
        let hex = key_hash_hex(a.expose());
        assert_eq!(parse_key_hash(&hex), Some(hash_gateway_key(a.expose())));
        assert_eq!(parse_key_hash("zz"), None);
    }
}

/// Audit and change records name entities in these words.
pub mod audit {
    use crate::domain::AuditEntry;
    use crate::store::config::{AccountRecord, KeyRecord, PriceRecord};
    use serde_json::{json, Value};

    /// An account as the audit log shows it: whether a key is set and its last four
    /// characters, never the key.
    pub fn account(record: &AccountRecord) -> Value {
        let mut value = serde_json::to_value(&record.account).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            // In dollars, as the forms and the config file write it.
            map.remove("monthly_budget");
            map.insert(
                "monthly_budget_usd".into(),
                json!(record.account.monthly_budget.map(|m| m.as_dollars())),
            );
            map.insert("base_url".into(), json!(record.base_url));
            map.insert(
                "azure".into(),
                serde_json::to_value(&record.azure).unwrap_or(Value::Null),
            );
            map.insert(
                "api_key".into(),
                json!(record
                    .api_key_last4
                    .as_ref()
                    .map(|last4| format!("set, ends in {last4}"))),
            );
        }
        value
    }

    pub fn key(record: &KeyRecord) -> Value {
        json!({
            "name": record.name,
            "key": format!("ends in {}", record.last4),
            "models": record.allowed_models,
            "expires_at": record.expires_at,
            "rpm_limit": record.limits.rpm_limit,
            "tpm_limit": record.limits.tpm_limit,
            "monthly_budget_usd": record.limits.monthly_budget.map(|m| m.as_dollars()),
            "soft_budget": record.limits.soft_budget,
            "team": record.team,
            "revoked": record.revoked,
            "previous_key_valid_until": record.previous.as_ref().map(|p| p.valid_until),
        })
    }

    pub fn price(record: &PriceRecord) -> Value {
        json!({
            "kind": record.kind,
            "model": record.model,
            "input_per_mtok_usd": record.price.input_per_mtok.as_dollars(),
            "output_per_mtok_usd": record.price.output_per_mtok.as_dollars(),
        })
    }

    /// A webhook URL as the audit log shows it: the host and a fingerprint, never the path,
    /// which may hold a token.
    pub fn webhook(url: &str) -> Value {
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string));
        let fingerprint: String = super::key_hash_hex(url).chars().take(12).collect();
        json!({ "host": host, "fingerprint": fingerprint })
    }

    pub fn of(value: &impl serde::Serialize) -> Value {
        serde_json::to_value(value).unwrap_or(Value::Null)
    }

    /// The audit row of one change, or `None` when nothing changed.
    pub fn entry(
        actor: &str,
        action: &str,
        entity_kind: &str,
        entity_name: &str,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Option<AuditEntry> {
        (before != after).then(|| AuditEntry {
            id: crate::store::new_id(),
            at: crate::store::now_millis(),
            actor: actor.to_string(),
            action: action.to_string(),
            entity_kind: entity_kind.to_string(),
            entity_name: entity_name.to_string(),
            before: before.map(|v| v.to_string()),
            after: after.map(|v| v.to_string()),
        })
    }
}
