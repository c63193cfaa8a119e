//! The configuration the proxy reads on every request: one immutable snapshot, swapped whole
//! (never edited in place) after every committed config change, so the hot path reads it
//! without a lock and without the database (DESIGN §1).

use crate::domain::{KeyLimits, ProviderKind};
use crate::providers::{Secret, Timeouts};
use crate::routing::RoutingSnapshot;
use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

/// Everything the proxy needs to authenticate, route, call providers and price a request.
pub struct ConfigSnapshot {
    pub routing: RoutingSnapshot,
    /// Connection details per provider account name (credentials already decrypted).
    pub connections: HashMap<String, AccountConnection>,
    /// Gateway keys by the SHA-256 of the full key text.
    pub keys: HashMap<KeyHash, GatewayKey>,
}

impl ConfigSnapshot {
    pub fn empty() -> Self {
        ConfigSnapshot {
            routing: RoutingSnapshot::default(),
            connections: HashMap::new(),
            keys: HashMap::new(),
        }
    }
}

/// How to reach one provider account.
pub struct AccountConnection {
    pub kind: ProviderKind,
    pub base_url: String,
    pub api_key: Secret,
    /// Azure OpenAI only: the resource endpoint, API version and deployment per model name.
    pub azure: Option<AzureAccount>,
    pub timeouts: Timeouts,
}

pub struct AzureAccount {
    pub endpoint: String,
    pub api_version: String,
    pub deployments: HashMap<String, String>,
}

/// Gateway keys are long random strings, so a fast unsalted hash is safe for lookup
/// (unlike passwords) and keeps key checks off the slow path.
pub type KeyHash = [u8; 32];

pub fn hash_gateway_key(key: &str) -> KeyHash {
    Sha256::digest(key.as_bytes()).into()
}

#[derive(Clone, Debug)]
pub struct GatewayKey {
    pub id: String,
    pub name: String,
    /// Logical models this key may use; empty means all.
    pub allowed_models: Vec<String>,
    /// Unix milliseconds; `None` never expires.
    pub expires_at: Option<i64>,
    /// Enforced by the router before any provider is tried.
    pub limits: KeyLimits,
}

impl GatewayKey {
    pub fn allows(&self, logical_model: &str) -> bool {
        self.allowed_models.is_empty() || self.allowed_models.iter().any(|m| m == logical_model)
    }

    pub fn is_expired(&self, now_millis: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now_millis)
    }
}

/// The handle shared by the proxy (readers) and the config writers.
#[derive(Clone)]
pub struct SharedConfig(Arc<ArcSwap<ConfigSnapshot>>);

impl SharedConfig {
    pub fn new(snapshot: ConfigSnapshot) -> Self {
        SharedConfig(Arc::new(ArcSwap::from_pointee(snapshot)))
    }

    /// The current snapshot; hold it for the whole request so one request sees one config.
    pub fn load(&self) -> Arc<ConfigSnapshot> {
        self.0.load_full()
    }

    pub fn replace(&self, snapshot: ConfigSnapshot) {
        self.0.store(Arc::new(snapshot));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_check_models_and_expiry() {
        let key = GatewayKey {
            id: "k1".into(),
            name: "ci".into(),
            allowed_models: vec!["primary-llm".into()],
            expires_at: Some(1_000),
            limits: KeyLimits::default(),
        };
        assert!(key.allows("primary-llm"));
        assert!(!key.allows("fast-llm"));
        assert!(!key.is_expired(999));
        assert!(key.is_expired(1_000));
        assert_eq!(hash_gateway_key("sk-sy-a"), hash_gateway_key("sk-sy-a"));
        assert_ne!(hash_gateway_key("sk-sy-a"), hash_gateway_key("sk-sy-b"));
    }

    #[test]
    fn readers_keep_their_snapshot_across_a_swap() {
        let shared = SharedConfig::new(ConfigSnapshot::empty());
        let before = shared.load();
        let mut next = ConfigSnapshot::empty();
        next.keys.insert(
            hash_gateway_key("sk-sy-x"),
            GatewayKey {
                id: "k".into(),
                name: "n".into(),
                allowed_models: vec![],
                expires_at: None,
                limits: KeyLimits::default(),
            },
        );
        shared.replace(next);
        assert!(before.keys.is_empty());
        assert_eq!(shared.load().keys.len(), 1);
    }
}
