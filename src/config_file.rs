//! Config as code (DESIGN §8): a YAML file applied at start-up (`SWITCHYARD_CONFIG`) or with
//! `switchyard apply FILE`, and written by `switchyard export`. Entities are upserted by name in
//! one transaction; secrets may be literal or `env:NAME`. Unknown fields are refused, and every
//! error names the file, the line and the field; an invalid file changes nothing.

use crate::api::change::Resource;
use crate::api::keys::KeyGovernance;
use crate::api::ApiError;
use crate::configuration::{self, audit, ConfigError};
use crate::domain::{
    AuditEntry, AzureSettings, LogicalModel, Money, Policy, ProviderAccount, ProviderKind,
    DEFAULT_ALERT_THRESHOLDS,
};
use crate::providers::prices::Price;
use crate::providers::Secret;
use crate::store::cipher::{last4, CipherError, CredentialCipher};
use crate::store::config::{
    self as repo, AccountRecord, KeyRecord, ModelRecord, PolicyRecord, PriceRecord, StoredConfig,
};
use crate::store::{new_id, now_millis, Db, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The actor audit rows name for changes applied from a file.
pub const FILE_ACTOR: &str = "config-file";

#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}, line {line}, column {column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("config file {path}, line {line}: {message}")]
    Rejected {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("config file {path}: {field}: environment variable {name} is not set")]
    MissingEnv {
        path: PathBuf,
        field: String,
        name: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Cipher(#[from] CipherError),
    #[error("cannot write the configuration as YAML: {0}")]
    Export(#[from] serde_yaml_ng::Error),
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShape {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    admin: Option<AdminShape>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    accounts: Vec<AccountShape>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    models: Vec<LogicalModel>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    policies: Vec<Policy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    keys: Vec<KeyShape>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    prices: Vec<PriceShape>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alerts: Option<AlertsShape>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sso: Option<SsoShape>,
}

/// Single sign-on, with the same fields as the `SWITCHYARD_OIDC_*` variables (which win).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SsoShape {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    /// `env:NAME` (a literal works too, but keeps the secret in the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    groups_claim: Option<String>,
    /// `ops=admin,ml=editor,*=viewer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role_map: Option<String>,
    /// `password`, `oidc` or `both`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    login_mode: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertsShape {
    /// Literal or `env:NAME` (such URLs often carry a token); left out, the stored one stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    webhook_url: Option<String>,
}

/// The environment variable an exported webhook URL is read from on apply.
pub const WEBHOOK_URL_ENV: &str = "SWITCHYARD_ALERT_WEBHOOK_URL";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminShape {
    username: String,
    password: String,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountShape {
    name: String,
    kind: ProviderKind,
    /// Literal or `env:NAME`; left out, an existing account keeps its key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    api_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base_url: Option<String>,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rpm_limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tpm_limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    monthly_budget_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "is_false")]
    soft_budget: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alert_thresholds: Option<Vec<u8>>,
    /// Azure OpenAI only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    api_version: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    deployments: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyShape {
    name: String,
    /// Literal or `env:NAME`; left out, a new key is generated (and printed once) and an
    /// existing one is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    /// Logical models the key may use; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    models: Vec<String>,
    /// RFC 3339, e.g. `2027-01-01T00:00:00Z`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, skip_serializing_if = "is_false")]
    revoked: bool,
    /// The same names and meaning as on accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rpm_limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tpm_limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    monthly_budget_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "is_false")]
    soft_budget: bool,
    /// Owner label spend is grouped by.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    team: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceShape {
    kind: ProviderKind,
    model: String,
    input_per_mtok_usd: f64,
    output_per_mtok_usd: f64,
}

/// The first admin to create when the database has no user.
pub struct AdminEntry {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for AdminEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminEntry")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

#[derive(Debug)]
struct AccountSpec {
    account: ProviderAccount,
    base_url: Option<String>,
    azure: Option<AzureSettings>,
    api_key: Option<Secret>,
}

#[derive(Debug)]
struct KeySpec {
    name: String,
    key: Option<Secret>,
    models: Vec<String>,
    expires_at: Option<i64>,
    revoked: bool,
    governance: KeyGovernance,
}

/// A parsed, secret-resolved config file, ready to apply. Its `Debug` leaves out the file's
/// text, which may hold literal secrets.
pub struct ConfigFile {
    path: PathBuf,
    /// For finding the line an entity is written on.
    text: String,
    pub admin: Option<AdminEntry>,
    accounts: Vec<AccountSpec>,
    models: Vec<LogicalModel>,
    policies: Vec<Policy>,
    keys: Vec<KeySpec>,
    prices: Vec<PriceRecord>,
    /// Where alerts are POSTed; a secret, as it may carry a token.
    webhook_url: Option<Secret>,
    /// The `sso:` section, secret resolved; applied at start-up beneath the environment's.
    pub sso: crate::auth::oidc::OidcInput,
}

impl std::fmt::Debug for ConfigFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigFile")
            .field("path", &self.path)
            .field("admin", &self.admin)
            .field("accounts", &self.accounts)
            .field("models", &self.models)
            .field("policies", &self.policies)
            .field("keys", &self.keys)
            .field("prices", &self.prices)
            .field("sso", &self.sso)
            .finish_non_exhaustive()
    }
}

/// What applying a file did.
#[derive(Debug, Default)]
pub struct Applied {
    /// Audit rows written: one per entity that changed.
    pub changes: usize,
    /// Gateway keys generated because the file gave none: (name, key), to show once.
    pub generated_keys: Vec<(String, Secret)>,
}

impl ConfigFile {
    pub fn load(path: &Path) -> Result<Self, ConfigFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text, |name| std::env::var(name).ok())
    }

    pub fn parse(
        path: &Path,
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigFileError> {
        let shape: FileShape = serde_yaml_ng::from_str(text).map_err(|e| {
            let location = e.location();
            ConfigFileError::Invalid {
                path: path.to_path_buf(),
                line: location.as_ref().map_or(0, |l| l.line()),
                column: location.as_ref().map_or(0, |l| l.column()),
                message: e.to_string(),
            }
        })?;
        let secret = |field: String, value: String| -> Result<Secret, ConfigFileError> {
            match value.strip_prefix("env:") {
                Some(name) => {
                    env(name)
                        .map(Secret::new)
                        .ok_or_else(|| ConfigFileError::MissingEnv {
                            path: path.to_path_buf(),
                            field,
                            name: name.to_string(),
                        })
                }
                None => Ok(Secret::new(value)),
            }
        };
        let admin = shape
            .admin
            .map(|a| -> Result<AdminEntry, ConfigFileError> {
                Ok(AdminEntry {
                    username: a.username,
                    password: secret("admin.password".into(), a.password)?
                        .expose()
                        .to_string(),
                })
            })
            .transpose()?;
        let mut accounts = Vec::new();
        for a in shape.accounts {
            let api_key = a
                .api_key
                .map(|k| secret(format!("accounts[{}].api_key", a.name), k))
                .transpose()?;
            let azure = match (a.endpoint, a.api_version) {
                (None, None) if a.deployments.is_empty() => None,
                (endpoint, api_version) => Some(AzureSettings {
                    endpoint: endpoint.unwrap_or_default(),
                    api_version: api_version.unwrap_or_default(),
                    deployments: a.deployments,
                }),
            };
            accounts.push(AccountSpec {
                account: ProviderAccount {
                    name: a.name,
                    kind: a.kind,
                    enabled: a.enabled,
                    rpm_limit: a.rpm_limit,
                    tpm_limit: a.tpm_limit,
                    monthly_budget: a.monthly_budget_usd.map(Money::from_dollars),
                    soft_budget: a.soft_budget,
                    alert_thresholds: a
                        .alert_thresholds
                        .unwrap_or_else(|| DEFAULT_ALERT_THRESHOLDS.to_vec()),
                },
                base_url: a.base_url,
                azure,
                api_key,
            });
        }
        let mut keys = Vec::new();
        for k in shape.keys {
            keys.push(KeySpec {
                key: k
                    .key
                    .map(|v| secret(format!("keys[{}].key", k.name), v))
                    .transpose()?,
                name: k.name,
                models: k.models,
                expires_at: k.expires_at.map(|t| t.timestamp_millis()),
                revoked: k.revoked,
                governance: KeyGovernance {
                    rpm_limit: k.rpm_limit,
                    tpm_limit: k.tpm_limit,
                    monthly_budget_usd: k.monthly_budget_usd,
                    soft_budget: k.soft_budget,
                    team: k.team,
                },
            });
        }
        let prices = shape
            .prices
            .into_iter()
            .map(|p| PriceRecord {
                kind: p.kind,
                model: p.model,
                price: Price {
                    input_per_mtok: Money::from_dollars(p.input_per_mtok_usd),
                    output_per_mtok: Money::from_dollars(p.output_per_mtok_usd),
                },
            })
            .collect();
        let webhook_url = shape
            .alerts
            .and_then(|a| a.webhook_url)
            .map(|v| -> Result<Secret, ConfigFileError> {
                let url = secret("alerts.webhook_url".into(), v)?;
                crate::telemetry::webhook::check_url(url.expose())
                    .map(Secret::new)
                    .map_err(|m| ConfigFileError::Rejected {
                        path: path.to_path_buf(),
                        line: text
                            .lines()
                            .position(|l| l.contains("webhook_url"))
                            .map_or(0, |i| i + 1),
                        message: format!("alerts.webhook_url: {m}"),
                    })
            })
            .transpose()?;
        let sso = match shape.sso {
            None => crate::auth::oidc::OidcInput::default(),
            Some(sso) => crate::auth::oidc::OidcInput {
                client_secret: sso
                    .client_secret
                    .map(|v| secret("sso.client_secret".into(), v))
                    .transpose()?,
                issuer: sso.issuer,
                client_id: sso.client_id,
                name: sso.name,
                groups_claim: sso.groups_claim,
                role_map: sso.role_map,
                login_mode: sso.login_mode,
            },
        };
        Ok(ConfigFile {
            path: path.to_path_buf(),
            text: text.to_string(),
            admin,
            accounts,
            models: shape.models,
            policies: shape.policies,
            keys,
            prices,
            webhook_url,
            sso,
        })
    }

    /// The line an entity named `name` is written on (0 when it cannot be found).
    fn line_of(&self, name: &str) -> usize {
        let patterns = [
            format!("name: {name}"),
            format!("name: \"{name}\""),
            format!("name: '{name}'"),
        ];
        self.text
            .lines()
            .position(|line| {
                patterns.iter().any(|p| {
                    line.match_indices(p.as_str()).any(|(at, _)| {
                        !line[at + p.len()..]
                            .chars()
                            .next()
                            .is_some_and(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                    })
                })
            })
            .map_or(0, |i| i + 1)
    }

    fn rejected(&self, name: &str, message: String) -> ConfigFileError {
        ConfigFileError::Rejected {
            path: self.path.clone(),
            line: self.line_of(name),
            message,
        }
    }

    /// Upserts everything in the file by name, in one transaction: either all of it is applied
    /// or none of it.
    pub async fn apply(
        &self,
        db: &Db,
        cipher: &CredentialCipher,
    ) -> Result<Applied, ConfigFileError> {
        let now = now_millis();
        let mut applied = Applied::default();
        let mut tx = db.pool.begin().await.map_err(StoreError::from)?;
        // First, as a dashboard change does: it waits for any change in flight, and running
        // instances reload once this commits.
        repo::bump_version(&mut tx).await?;
        let mut stored = repo::load(&mut tx).await?;
        let mut audits = Vec::new();

        for spec in &self.accounts {
            let existing = find(&stored.accounts, |r| r.account.name == spec.account.name);
            let (id, mut sealed, mut key_last4) = match existing {
                Some(r) => (
                    r.id.clone(),
                    r.api_key_encrypted.clone(),
                    r.api_key_last4.clone(),
                ),
                None => (new_id(), None, None),
            };
            if let Some(key) = &spec.api_key {
                let unchanged = match &sealed {
                    Some(s) => cipher.decrypt(s).is_ok_and(|old| &old == key),
                    None => false,
                };
                if !unchanged {
                    sealed = Some(cipher.encrypt(key)?);
                    key_last4 = Some(last4(key.expose()));
                }
            }
            let record = AccountRecord {
                id,
                account: spec.account.clone(),
                base_url: spec.base_url.clone(),
                azure: spec.azure.clone(),
                api_key_encrypted: sealed,
                api_key_last4: key_last4,
            };
            self.stage(&mut stored, record, &mut audits)?;
        }
        for model in &self.models {
            let existing = find(&stored.models, |r| r.model.name == model.name);
            let record = ModelRecord {
                id: existing.map_or_else(new_id, |r| r.id.clone()),
                model: model.clone(),
            };
            self.stage(&mut stored, record, &mut audits)?;
        }
        for policy in &self.policies {
            let existing = find(&stored.policies, |r| r.policy.name == policy.name);
            let record = PolicyRecord {
                id: existing.map_or_else(new_id, |r| r.id.clone()),
                policy: policy.clone(),
            };
            self.stage(&mut stored, record, &mut audits)?;
        }
        for spec in &self.keys {
            let existing = find(&stored.keys, |r| r.name == spec.name);
            let (key_hash, key_last4) = match (&spec.key, existing) {
                (Some(key), _) => (
                    configuration::key_hash_hex(key.expose()),
                    last4(key.expose()),
                ),
                (None, Some(r)) => (r.key_hash.clone(), r.last4.clone()),
                (None, None) => {
                    let key = configuration::generate_gateway_key();
                    let pair = (
                        configuration::key_hash_hex(key.expose()),
                        last4(key.expose()),
                    );
                    applied.generated_keys.push((spec.name.clone(), key));
                    pair
                }
            };
            let mut record = KeyRecord {
                id: existing.map_or_else(new_id, |r| r.id.clone()),
                name: spec.name.clone(),
                key_hash,
                last4: key_last4,
                allowed_models: spec.models.clone(),
                expires_at: spec.expires_at,
                limits: Default::default(),
                team: String::new(),
                revoked: spec.revoked,
                last_used_at: existing.and_then(|r| r.last_used_at),
                created_at: existing.map_or(now, |r| r.created_at),
                previous: existing.and_then(|r| r.previous.clone()),
            };
            crate::api::keys::ssr::apply(&mut record, spec.governance.clone());
            self.stage(&mut stored, record, &mut audits)?;
        }
        for price in &self.prices {
            if price.price.input_per_mtok < Money::ZERO || price.price.output_per_mtok < Money::ZERO
            {
                return Err(ConfigFileError::Rejected {
                    path: self.path.clone(),
                    line: 0,
                    message: format!(
                        "prices[{}/{}]: prices must not be negative",
                        price.kind, price.model
                    ),
                });
            }
            let existing = stored
                .prices
                .iter()
                .position(|p| p.kind == price.kind && p.model == price.model);
            let before = existing.map(|i| audit::price(&stored.prices[i]));
            audits.extend(audit::entry(
                FILE_ACTOR,
                if before.is_some() { "update" } else { "create" },
                "price",
                &format!("{}/{}", price.kind, price.model),
                before,
                Some(audit::price(price)),
            ));
            match existing {
                Some(i) => stored.prices[i] = price.clone(),
                None => stored.prices.push(price.clone()),
            }
        }

        if let Err(e) = configuration::check(&stored) {
            return Err(match e {
                ConfigError::Invalid(problems) => {
                    let first_name = problems
                        .first()
                        .and_then(|p| p.split('`').nth(1))
                        .unwrap_or("");
                    self.rejected(first_name, problems.join("; "))
                }
                other => self.rejected("", other.to_string()),
            });
        }

        let accounts: Vec<&str> = self
            .accounts
            .iter()
            .map(|a| a.account.name.as_str())
            .collect();
        let models: Vec<&str> = self.models.iter().map(|m| m.name.as_str()).collect();
        let policies: Vec<&str> = self.policies.iter().map(|p| p.name.as_str()).collect();
        let keys: Vec<&str> = self.keys.iter().map(|k| k.name.as_str()).collect();
        write::<AccountRecord>(&mut tx, &stored, &accounts, now).await?;
        write::<ModelRecord>(&mut tx, &stored, &models, now).await?;
        write::<PolicyRecord>(&mut tx, &stored, &policies, now).await?;
        write::<KeyRecord>(&mut tx, &stored, &keys, now).await?;
        for price in &self.prices {
            repo::save_price(&mut tx, price, now).await?;
        }
        if let Some(url) = &self.webhook_url {
            let before = crate::store::alerts::webhook_url(&mut *tx).await?;
            if before.as_deref() != Some(url.expose()) {
                crate::store::alerts::set_webhook_url(&mut tx, Some(url.expose())).await?;
                audits.extend(audit::entry(
                    FILE_ACTOR,
                    "update",
                    "alert-webhook",
                    "webhook_url",
                    before.as_deref().map(audit::webhook),
                    Some(audit::webhook(url.expose())),
                ));
            }
        }
        for entry in &audits {
            repo::insert_audit(&mut tx, entry).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        applied.changes = audits.len();
        tracing::info!(file = %self.path.display(), changes = applied.changes, "applied the config file");
        Ok(applied)
    }
}

impl ConfigFile {
    /// Puts `record` in place of the stored one of its name, or adds it, checked as the
    /// dashboard's forms check it (the same per-resource code), and notes its audit row.
    fn stage<R: Resource>(
        &self,
        stored: &mut StoredConfig,
        record: R,
        audits: &mut Vec<AuditEntry>,
    ) -> Result<(), ConfigFileError> {
        let name = record.name();
        if let Err(e) = record.validate(stored) {
            let detail = match e {
                ApiError::Invalid { field, message } => format!("{field}: {message}"),
                other => other.to_string(),
            };
            return Err(self.rejected(&name, format!("{} `{name}`: {detail}", R::WHAT)));
        }
        let records = R::all_mut(stored);
        let existing = records.iter().position(|r| r.name() == name);
        let before = existing.map(|i| records[i].audit());
        audits.extend(audit::entry(
            FILE_ACTOR,
            if before.is_some() { "update" } else { "create" },
            R::AUDIT_KIND,
            &name,
            before,
            Some(record.audit()),
        ));
        match existing {
            Some(i) => records[i] = record,
            None => records.push(record),
        }
        Ok(())
    }
}

/// Writes the records named in the file, as staged in `stored`.
async fn write<R: Resource>(
    tx: &mut sqlx::AnyConnection,
    stored: &StoredConfig,
    names: &[&str],
    now: i64,
) -> Result<(), StoreError> {
    for record in R::all(stored)
        .iter()
        .filter(|r| names.contains(&r.name().as_str()))
    {
        record.write(tx, stored, now).await?;
    }
    Ok(())
}

fn find<T>(items: &[T], matches: impl Fn(&T) -> bool) -> Option<&T> {
    items.iter().find(|item| matches(item))
}

/// The environment variable an exported account's API key is read from on apply.
pub fn api_key_env_name(account: &str) -> String {
    let stem: String = account
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{stem}_API_KEY")
}

/// The stored configuration in the config file format. Secrets never appear: account keys are
/// written as `env:` references, as is the alert webhook URL; gateway keys are left out
/// (applying keeps existing ones).
pub async fn export(db: &Db) -> Result<String, ConfigFileError> {
    let mut conn = db.pool.acquire().await.map_err(StoreError::from)?;
    let stored = repo::load(&mut conn).await?;
    let webhook_set = crate::store::alerts::webhook_url(&mut *conn)
        .await?
        .is_some();
    Ok(serde_yaml_ng::to_string(&shape_of(&stored, webhook_set))?)
}

fn shape_of(stored: &StoredConfig, webhook_set: bool) -> FileShape {
    FileShape {
        admin: None,
        accounts: stored
            .accounts
            .iter()
            .map(|r| {
                let a = &r.account;
                AccountShape {
                    name: a.name.clone(),
                    kind: a.kind,
                    api_key: r
                        .api_key_encrypted
                        .as_ref()
                        .map(|_| format!("env:{}", api_key_env_name(&a.name))),
                    base_url: r.base_url.clone(),
                    enabled: a.enabled,
                    rpm_limit: a.rpm_limit,
                    tpm_limit: a.tpm_limit,
                    monthly_budget_usd: a.monthly_budget.map(Money::as_dollars),
                    soft_budget: a.soft_budget,
                    alert_thresholds: Some(a.alert_thresholds.clone()),
                    endpoint: r.azure.as_ref().map(|z| z.endpoint.clone()),
                    api_version: r.azure.as_ref().map(|z| z.api_version.clone()),
                    deployments: r
                        .azure
                        .as_ref()
                        .map(|z| z.deployments.clone())
                        .unwrap_or_default(),
                }
            })
            .collect(),
        models: stored.models.iter().map(|r| r.model.clone()).collect(),
        policies: stored.policies.iter().map(|r| r.policy.clone()).collect(),
        keys: stored
            .keys
            .iter()
            .map(|k| KeyShape {
                name: k.name.clone(),
                key: None,
                models: k.allowed_models.clone(),
                expires_at: k
                    .expires_at
                    .and_then(chrono::DateTime::<chrono::Utc>::from_timestamp_millis),
                revoked: k.revoked,
                rpm_limit: k.limits.rpm_limit,
                tpm_limit: k.limits.tpm_limit,
                monthly_budget_usd: k.limits.monthly_budget.map(Money::as_dollars),
                soft_budget: k.limits.soft_budget,
                team: k.team.clone(),
            })
            .collect(),
        prices: stored
            .prices
            .iter()
            .map(|p| PriceShape {
                kind: p.kind,
                model: p.model.clone(),
                input_per_mtok_usd: p.price.input_per_mtok.as_dollars(),
                output_per_mtok_usd: p.price.output_per_mtok.as_dollars(),
            })
            .collect(),
        alerts: webhook_set.then(|| AlertsShape {
            webhook_url: Some(format!("env:{WEBHOOK_URL_ENV}")),
        }),
        // Single sign-on is deployment configuration, not stored: nothing to export.
        sso: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::config::load;

    const OPENAI_KEY: &str = "sk-openai-PLAINTEXT-0001";
    const CLAUDE_KEY: &str = "sk-ant-PLAINTEXT-0002";
    const AZURE_KEY: &str = "azure-PLAINTEXT-0003";
    const LITERAL_KEY: &str = "literal-PLAINTEXT-0004";

    const SAMPLE: &str = r#"
admin: { username: admin, password: env:ADMIN_PW }
accounts:
  - { name: openai-main, kind: openai, api_key: env:OPENAI_API_KEY, base_url: https://api.openai.com,
      rpm_limit: 500, tpm_limit: 200000, monthly_budget_usd: 1000, alert_thresholds: [50, 80, 100] }
  - { name: claude, kind: anthropic, api_key: env:ANTHROPIC_API_KEY }
  - { name: literal, kind: mistral, api_key: literal-PLAINTEXT-0004 }
  - { name: azure-eu, kind: azure, endpoint: https://example.openai.azure.com, api_version: 2024-10-21,
      api_key: env:AZURE_OPENAI_KEY, deployments: { gpt-4o: gpt4o-prod } }
models:
  - name: primary-llm
    capabilities: [streaming, tools, vision, json_mode]
    defaults: { temperature: 0.2, max_tokens: 1024, top_p: 1.0, stop: [] }
    strategy: weighted
    targets: [ { account: openai-main, model: gpt-4o, weight: 3 }, { account: claude, model: claude-sonnet-4-5 } ]
    retries: 2
  - name: fast-llm
    targets: [ { account: azure-eu, model: gpt-4o } ]
    cache: { ttl_seconds: 300, scope: shared }
policies:
  - name: canary
    priority: 200
    match: { purposes: [summarization] }
    split: [ { route: [primary-llm], weight: 95 }, { route: [fast-llm, primary-llm], weight: 5 } ]
  - name: cheap-classification
    priority: 100
    match: { step_types: [inference], purposes: [classification] }
    route: [fast-llm, primary-llm]
    circuit_breaker: { failure_threshold: 5, recovery_seconds: 30 }
  - name: extraction-via-primary
    priority: 10
    match: { step_types: [extraction], logical_models: [fast-llm] }
    route: [primary-llm]
keys:
  - { name: ci-app, key: env:SWITCHYARD_APP_KEY, models: [primary-llm], rpm_limit: 60,
      tpm_limit: 90000, monthly_budget_usd: 25.5, soft_budget: true, team: ml-platform }
  - { name: generated }
prices:
  - { kind: openai, model: gpt-4o, input_per_mtok_usd: 2.75, output_per_mtok_usd: 11.00 }
alerts: { webhook_url: https://hooks.example.com/switchyard }
"#;

    fn env(name: &str) -> Option<String> {
        match name {
            "ADMIN_PW" => Some("from-the-env".into()),
            "OPENAI_API_KEY" | "OPENAI_MAIN_API_KEY" => Some(OPENAI_KEY.into()),
            "ANTHROPIC_API_KEY" | "CLAUDE_API_KEY" => Some(CLAUDE_KEY.into()),
            "AZURE_OPENAI_KEY" | "AZURE_EU_API_KEY" => Some(AZURE_KEY.into()),
            "SWITCHYARD_APP_KEY" => Some("sk-sy-app-key-from-env".into()),
            "LITERAL_API_KEY" => Some(LITERAL_KEY.into()),
            WEBHOOK_URL_ENV => Some("https://hooks.example.com/switchyard".into()),
            "SSO_SECRET" => Some("oidc-secret-from-env".into()),
            _ => None,
        }
    }

    fn parse(text: &str) -> Result<ConfigFile, ConfigFileError> {
        ConfigFile::parse(Path::new("sy.yaml"), text, env)
    }

    async fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let db = Db::connect(&url, 2).await.unwrap();
        (dir, db)
    }

    fn cipher() -> CredentialCipher {
        CredentialCipher::from_key(&[9; 32])
    }

    #[test]
    fn admin_password_may_come_from_the_environment() {
        let file = parse(SAMPLE).unwrap();
        let admin = file.admin.as_ref().unwrap();
        assert_eq!(admin.username, "admin");
        assert_eq!(admin.password, "from-the-env");
        assert_eq!(
            file.webhook_url.as_ref().map(Secret::expose),
            Some("https://hooks.example.com/switchyard")
        );
        let shown = format!("{file:?}");
        for secret in [
            "from-the-env",
            OPENAI_KEY,
            CLAUDE_KEY,
            "sk-sy-app-key-from-env",
        ] {
            assert!(!shown.contains(secret), "{secret} leaked into Debug");
        }
    }

    #[test]
    fn the_sso_section_reads_its_secret_from_the_environment() {
        let file = parse(
            "sso:\n  issuer: https://id.example.com\n  client_id: switchyard\n  \
             client_secret: env:SSO_SECRET\n  name: Okta\n  role_map: ops=admin,*=viewer\n  \
             login_mode: both\n",
        )
        .unwrap();
        assert_eq!(file.sso.issuer.as_deref(), Some("https://id.example.com"));
        assert_eq!(file.sso.name.as_deref(), Some("Okta"));
        assert_eq!(
            file.sso.client_secret.as_ref().map(Secret::expose),
            Some("oidc-secret-from-env")
        );
        assert!(!format!("{file:?}").contains("oidc-secret-from-env"));
        let err = parse("sso: { client_secret: env:NOT_SET }\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sso.client_secret") && err.contains("NOT_SET"),
            "{err}"
        );
        let err = parse("sso: { issuer: https://id.example.com, scopes: [groups] }\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("scopes"), "{err}");
    }

    #[test]
    fn a_webhook_url_must_be_http() {
        let err = parse("prices: []\nalerts: { webhook_url: ftp://hooks.example.com }\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("alerts.webhook_url"),
            "{err}"
        );
        let err = parse("alerts: { webhook_url: env:UNSET_HOOK }\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("UNSET_HOOK"), "{err}");
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let err = parse("admin:\n  username: root\n  pasword: x\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sy.yaml"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("pasword"), "{err}");
        let err = parse("models:\n  - name: m\n    targets: []\n    colour: red\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 4") && err.contains("colour"), "{err}");
        let err = parse("models:\n  - name: m\n    strategy: random\n    targets: []\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 3") && err.contains("lowest_latency"),
            "{err}"
        );
        let err = parse("admin: { username: root, password: env:NOPE }")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("admin.password") && err.contains("NOPE"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn apply_export_apply_round_trips_without_secrets() {
        let (_dir, db) = db().await;
        let first = parse(SAMPLE).unwrap().apply(&db, &cipher()).await.unwrap();
        assert_eq!(first.generated_keys.len(), 1);
        assert_eq!(first.generated_keys[0].0, "generated");
        assert!(first.changes >= 9, "{}", first.changes);

        let exported = export(&db).await.unwrap();
        for secret in [
            OPENAI_KEY,
            CLAUDE_KEY,
            AZURE_KEY,
            LITERAL_KEY,
            "sk-sy-app-key-from-env",
        ] {
            assert!(!exported.contains(secret), "export leaks {secret}");
        }
        assert!(exported.contains("env:OPENAI_MAIN_API_KEY"), "{exported}");
        assert!(
            !exported.contains("hooks.example.com"),
            "export leaks the webhook URL"
        );
        assert!(exported.contains("webhook_url: env:SWITCHYARD_ALERT_WEBHOOK_URL"));
        assert_eq!(
            crate::store::alerts::webhook_url(&db.pool).await.unwrap(),
            Some("https://hooks.example.com/switchyard".into())
        );

        let again = parse(&exported)
            .unwrap()
            .apply(&db, &cipher())
            .await
            .unwrap();
        assert_eq!(again.changes, 0, "re-applying the export changed something");
        assert!(again.generated_keys.is_empty());
        assert_eq!(export(&db).await.unwrap(), exported);

        let snapshot = crate::configuration::load_snapshot(&db, &cipher())
            .await
            .unwrap();
        assert_eq!(
            snapshot.connections["openai-main"].api_key.expose(),
            OPENAI_KEY
        );
        assert_eq!(
            snapshot.connections["azure-eu"]
                .azure
                .as_ref()
                .unwrap()
                .deployments["gpt-4o"],
            "gpt4o-prod"
        );
        assert!(snapshot
            .keys
            .contains_key(&crate::snapshot::hash_gateway_key("sk-sy-app-key-from-env")));
        let gpt4o = crate::domain::Target {
            account: "openai-main".into(),
            model: "gpt-4o".into(),
        };
        assert_eq!(
            snapshot.routing.price(&gpt4o).unwrap().input_per_mtok,
            Money::from_dollars(2.75)
        );
        let routing = &snapshot.routing;
        assert_eq!(routing.policies()[0].name, "canary");
        assert_eq!(routing.policies()[0].split[1].weight, 5);
        assert_eq!(routing.policies()[1].name, "cheap-classification");
        let primary = routing.logical_model("primary-llm").unwrap();
        assert_eq!(primary.strategy, crate::domain::Strategy::Weighted);
        assert_eq!(primary.retries, 2);
        assert_eq!(
            primary.targets.iter().map(|t| t.weight).collect::<Vec<_>>(),
            vec![3, 1]
        );
        assert!(
            exported.contains("strategy: weighted") && exported.contains("weight: 95"),
            "{exported}"
        );
        let fast = routing.logical_model("fast-llm").unwrap();
        assert_eq!(
            fast.cache,
            Some(crate::domain::CacheSettings {
                ttl_seconds: 300,
                scope: crate::domain::CacheScope::Shared,
                nonzero_temperature: false,
            })
        );
        let app_key = &snapshot.keys[&crate::snapshot::hash_gateway_key("sk-sy-app-key-from-env")];
        assert_eq!(
            app_key.limits,
            crate::domain::KeyLimits {
                rpm_limit: Some(60),
                tpm_limit: Some(90_000),
                monthly_budget: Some(Money::from_dollars(25.5)),
                soft_budget: true,
            }
        );
        assert!(
            exported.contains("team: ml-platform") && exported.contains("monthly_budget_usd: 25.5"),
            "{exported}"
        );
    }

    #[tokio::test]
    async fn the_database_holds_no_plain_credential() {
        let (_dir, db) = db().await;
        parse(SAMPLE).unwrap().apply(&db, &cipher()).await.unwrap();
        for (table, columns) in [
            ("provider_accounts", "name, kind, base_url, azure_endpoint, azure_deployments, api_key_encrypted, api_key_last4"),
            ("api_keys", "name, key_hash, last4, allowed_models"),
            ("audit_log", "actor, action, entity_name, before_json, after_json"),
        ] {
            let rows = sqlx::query(&format!("SELECT {columns} FROM {table}"))
                .fetch_all(&db.pool)
                .await
                .unwrap();
            for row in rows {
                use sqlx::Row;
                for i in 0..row.len() {
                    let value: Option<String> = row.try_get(i).unwrap();
                    let value = value.unwrap_or_default();
                    for secret in [OPENAI_KEY, CLAUDE_KEY, AZURE_KEY, LITERAL_KEY, "sk-sy-app-key-from-env"] {
                        assert!(!value.contains(secret), "{table} holds {secret}");
                    }
                }
            }
        }
    }

    #[tokio::test]
    async fn an_invalid_file_names_the_line_and_changes_nothing() {
        let (_dir, db) = db().await;
        let text = "accounts:\n  - { name: a1, kind: openai, api_key: k }\nmodels:\n  - name: m1\n    targets: [ { account: a1, model: x } ]\n  - name: m2\n    targets: [ { account: nowhere, model: x } ]\n";
        let err = parse(text)
            .unwrap()
            .apply(&db, &cipher())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("sy.yaml, line 6"), "{err}");
        assert!(err.contains("nowhere"), "{err}");
        let mut conn = db.pool.acquire().await.unwrap();
        let stored = load(&mut conn).await.unwrap();
        assert!(stored.accounts.is_empty() && stored.models.is_empty());

        let err =
            parse("models:\n  - name: m\n    defaults: { temperature: 7 }\n    targets: []\n")
                .unwrap()
                .apply(&db, &cipher())
                .await
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("line 2") && err.contains("defaults.temperature"),
            "{err}"
        );

        // (file, the line and the words the error must name)
        let cases = [
            (
                "accounts:\n  - { name: a1, kind: openai, api_key: k }\nmodels:\n  - name: m1\n    targets: [ { account: a1, model: x } ]\npolicies:\n  - name: p1\n    split: [ { route: [m1], weight: 1 }, { route: [ghost], weight: 1 } ]\n",
                ["line 7", "ghost"],
            ),
            (
                "models:\n  - name: m\n    retries: 9\n    targets: [ { account: a1, model: x, weight: 0 } ]\n",
                ["line 2", "retries"],
            ),
            (
                "keys:\n  - { name: k1 }\n  - { name: k2, rpm_limit: 0 }\n",
                ["line 3", "rpm_limit"],
            ),
            (
                "keys:\n  - { name: k1, monthly_budget_usd: -1 }\n",
                ["line 2", "monthly_budget_usd"],
            ),
        ];
        for (text, words) in cases {
            let err = parse(text)
                .unwrap()
                .apply(&db, &cipher())
                .await
                .unwrap_err()
                .to_string();
            assert!(words.iter().all(|w| err.contains(w)), "{err}");
        }
    }

    #[tokio::test]
    async fn migration_seeds_the_price_table() {
        let (_dir, db) = db().await;
        let mut conn = db.pool.acquire().await.unwrap();
        let stored = load(&mut conn).await.unwrap();
        let mut seeded: Vec<_> = crate::providers::prices::SEED_PRICES
            .iter()
            .map(|s| (s.kind, s.model.to_string(), s.price))
            .collect();
        let mut stored: Vec<_> = stored
            .prices
            .into_iter()
            .map(|p| (p.kind, p.model, p.price))
            .collect();
        seeded.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        stored.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        assert_eq!(stored, seeded);
    }
}
