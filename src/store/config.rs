//! Provider accounts, logical models with their targets, router policies, gateway keys, prices
//! and the audit log. Rows carrying credentials or key hashes are never `Serialize`; the API
//! turns them into views.
//!
//! Every function takes a connection, so callers run a whole change (and its audit row) in one
//! transaction.

use super::StoreError;
use crate::domain::{
    AuditEntry, AzureSettings, CircuitBreakerSettings, KeyLimits, LogicalModel, ModelTarget, Money,
    Policy, ProviderAccount, ProviderKind, Target,
};
use crate::providers::prices::Price;
use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};
use std::collections::HashMap;

#[derive(Clone)]
pub struct AccountRecord {
    pub id: String,
    pub account: ProviderAccount,
    /// `None`: the kind's default.
    pub base_url: Option<String>,
    pub azure: Option<AzureSettings>,
    /// AES-256-GCM sealed API key (see `store::cipher`).
    pub api_key_encrypted: Option<String>,
    pub api_key_last4: Option<String>,
}

#[derive(Clone)]
pub struct ModelRecord {
    pub id: String,
    pub model: LogicalModel,
}

#[derive(Clone)]
pub struct PolicyRecord {
    pub id: String,
    pub policy: Policy,
}

#[derive(Clone)]
pub struct KeyRecord {
    pub id: String,
    pub name: String,
    /// Hex SHA-256 of the full key (`snapshot::hash_gateway_key`).
    pub key_hash: String,
    pub last4: String,
    pub allowed_models: Vec<String>,
    pub expires_at: Option<i64>,
    pub limits: KeyLimits,
    /// Owner label spend is grouped by; empty when none.
    pub team: String,
    pub revoked: bool,
    pub last_used_at: Option<i64>,
    pub created_at: i64,
    /// The secret a rotation replaced, still accepted until its end of overlap.
    pub previous: Option<PreviousSecret>,
}

/// A gateway key's former secret after a rotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreviousSecret {
    /// Hex SHA-256, as `KeyRecord::key_hash`.
    pub key_hash: String,
    /// Unix ms after which it is refused.
    pub valid_until: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceRecord {
    pub kind: ProviderKind,
    pub model: String,
    pub price: Price,
}

/// The whole stored configuration, read in one go so a change can be checked against all of it.
pub struct StoredConfig {
    pub accounts: Vec<AccountRecord>,
    pub models: Vec<ModelRecord>,
    pub policies: Vec<PolicyRecord>,
    pub keys: Vec<KeyRecord>,
    pub prices: Vec<PriceRecord>,
}

fn decode_err(message: String) -> StoreError {
    StoreError::Sqlx(sqlx::Error::Decode(message.into()))
}

fn json<T: DeserializeOwned>(row: &AnyRow, column: &str) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| decode_err(format!("{column}: {e}")))
}

fn to_json(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| decode_err(e.to_string()))
}

fn flag(row: &AnyRow, column: &str) -> Result<bool, StoreError> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}

fn opt_u32(row: &AnyRow, column: &str) -> Result<Option<u32>, StoreError> {
    row.try_get::<Option<i64>, _>(column)?
        .map(|n| u32::try_from(n).map_err(|e| decode_err(format!("{column}: {e}"))))
        .transpose()
}

fn u32_of(row: &AnyRow, column: &str) -> Result<u32, StoreError> {
    u32::try_from(row.try_get::<i64, _>(column)?).map_err(|e| decode_err(format!("{column}: {e}")))
}

fn kind_of(row: &AnyRow) -> Result<ProviderKind, StoreError> {
    let kind: String = row.try_get("kind")?;
    kind.parse().map_err(|e| decode_err(format!("kind: {e}")))
}

pub async fn load(conn: &mut AnyConnection) -> Result<StoredConfig, StoreError> {
    let accounts = sqlx::query(
        "SELECT id, name, kind, base_url, enabled, rpm_limit, tpm_limit, monthly_budget, \
         soft_budget, alert_thresholds, azure_endpoint, azure_api_version, azure_deployments, \
         api_key_encrypted, api_key_last4 FROM provider_accounts ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(account_from_row)
    .collect::<Result<Vec<_>, _>>()?;
    let account_names: HashMap<String, String> = accounts
        .iter()
        .map(|a| (a.id.clone(), a.account.name.clone()))
        .collect();

    let target_rows = sqlx::query(
        "SELECT model_id, account_id, provider_model, weight FROM logical_model_targets \
         ORDER BY model_id, position",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut targets: HashMap<String, Vec<ModelTarget>> = HashMap::new();
    for row in &target_rows {
        let model_id: String = row.try_get("model_id")?;
        let account_id: String = row.try_get("account_id")?;
        let account = account_names
            .get(&account_id)
            .cloned()
            .ok_or_else(|| decode_err(format!("target of {model_id} names a missing account")))?;
        targets.entry(model_id).or_default().push(ModelTarget {
            target: Target {
                account,
                model: row.try_get("provider_model")?,
            },
            weight: u32_of(row, "weight")?,
        });
    }
    let models = sqlx::query(
        "SELECT id, name, description, capabilities, defaults, strategy, retries, cache \
         FROM logical_models ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| {
        let id: String = row.try_get("id")?;
        Ok(ModelRecord {
            model: LogicalModel {
                name: row.try_get("name")?,
                description: row.try_get("description")?,
                capabilities: json(row, "capabilities")?,
                defaults: json(row, "defaults")?,
                strategy: row
                    .try_get::<String, _>("strategy")?
                    .parse()
                    .map_err(|e| decode_err(format!("strategy: {e}")))?,
                targets: targets.remove(&id).unwrap_or_default(),
                retries: u32_of(row, "retries")?,
                cache: row
                    .try_get::<Option<String>, _>("cache")?
                    .map(|text| {
                        serde_json::from_str(&text).map_err(|e| decode_err(format!("cache: {e}")))
                    })
                    .transpose()?,
            },
            id,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;

    let policies = sqlx::query(
        "SELECT id, name, priority, enabled, match_criteria, route, split, failure_threshold, \
         recovery_seconds FROM policies ORDER BY priority DESC, name",
    )
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| {
        Ok(PolicyRecord {
            id: row.try_get("id")?,
            policy: Policy {
                name: row.try_get("name")?,
                priority: i32::try_from(row.try_get::<i64, _>("priority")?)
                    .map_err(|e| decode_err(format!("priority: {e}")))?,
                enabled: flag(row, "enabled")?,
                criteria: json(row, "match_criteria")?,
                route: json(row, "route")?,
                split: json(row, "split")?,
                circuit_breaker: CircuitBreakerSettings {
                    failure_threshold: u32_of(row, "failure_threshold")?,
                    recovery_seconds: u32_of(row, "recovery_seconds")?,
                },
            },
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;

    let keys = sqlx::query(
        "SELECT id, name, key_hash, last4, allowed_models, expires_at, revoked, last_used_at, \
         created_at, rpm_limit, tpm_limit, monthly_budget, soft_budget, team, previous_key_hash, \
         previous_valid_until FROM api_keys ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| {
        Ok(KeyRecord {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            key_hash: row.try_get("key_hash")?,
            last4: row.try_get("last4")?,
            allowed_models: json(row, "allowed_models")?,
            expires_at: row.try_get("expires_at")?,
            limits: limits_of(row)?,
            team: row.try_get("team")?,
            revoked: flag(row, "revoked")?,
            last_used_at: row.try_get("last_used_at")?,
            created_at: row.try_get("created_at")?,
            previous: match (
                row.try_get::<Option<String>, _>("previous_key_hash")?,
                row.try_get::<Option<i64>, _>("previous_valid_until")?,
            ) {
                (Some(key_hash), Some(valid_until)) => Some(PreviousSecret {
                    key_hash,
                    valid_until,
                }),
                _ => None,
            },
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;

    let prices = sqlx::query(
        "SELECT kind, model, input_per_mtok, output_per_mtok FROM prices ORDER BY kind, model",
    )
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| {
        Ok(PriceRecord {
            kind: kind_of(row)?,
            model: row.try_get("model")?,
            price: Price::from_micros(
                row.try_get("input_per_mtok")?,
                row.try_get("output_per_mtok")?,
            ),
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;

    Ok(StoredConfig {
        accounts,
        models,
        policies,
        keys,
        prices,
    })
}

/// The limit and budget columns accounts and keys share.
fn limits_of(row: &AnyRow) -> Result<KeyLimits, StoreError> {
    Ok(KeyLimits {
        rpm_limit: opt_u32(row, "rpm_limit")?,
        tpm_limit: opt_u32(row, "tpm_limit")?,
        monthly_budget: row
            .try_get::<Option<i64>, _>("monthly_budget")?
            .map(Money::from_micros),
        soft_budget: flag(row, "soft_budget")?,
    })
}

fn account_from_row(row: &AnyRow) -> Result<AccountRecord, StoreError> {
    let limits = limits_of(row)?;
    let endpoint: Option<String> = row.try_get("azure_endpoint")?;
    let azure = match endpoint {
        Some(endpoint) => Some(AzureSettings {
            endpoint,
            api_version: row
                .try_get::<Option<String>, _>("azure_api_version")?
                .unwrap_or_default(),
            deployments: json(row, "azure_deployments")?,
        }),
        None => None,
    };
    Ok(AccountRecord {
        id: row.try_get("id")?,
        account: ProviderAccount {
            name: row.try_get("name")?,
            kind: kind_of(row)?,
            enabled: flag(row, "enabled")?,
            rpm_limit: limits.rpm_limit,
            tpm_limit: limits.tpm_limit,
            monthly_budget: limits.monthly_budget,
            soft_budget: limits.soft_budget,
            alert_thresholds: json(row, "alert_thresholds")?,
        },
        base_url: row.try_get("base_url")?,
        azure,
        api_key_encrypted: row.try_get("api_key_encrypted")?,
        api_key_last4: row.try_get("api_key_last4")?,
    })
}

/// Inserts or updates (by id) an account, credentials included.
pub async fn save_account(
    conn: &mut AnyConnection,
    record: &AccountRecord,
    now: i64,
) -> Result<(), StoreError> {
    let a = &record.account;
    let azure = record.azure.as_ref();
    sqlx::query(
        "INSERT INTO provider_accounts (id, name, kind, base_url, enabled, rpm_limit, tpm_limit, \
         monthly_budget, soft_budget, alert_thresholds, azure_endpoint, azure_api_version, \
         azure_deployments, api_key_encrypted, api_key_last4, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16) \
         ON CONFLICT (id) DO UPDATE SET name = $2, kind = $3, base_url = $4, enabled = $5, \
         rpm_limit = $6, tpm_limit = $7, monthly_budget = $8, soft_budget = $9, \
         alert_thresholds = $10, azure_endpoint = $11, azure_api_version = $12, \
         azure_deployments = $13, api_key_encrypted = $14, api_key_last4 = $15, updated_at = $16",
    )
    .bind(&record.id)
    .bind(&a.name)
    .bind(a.kind.as_str())
    .bind(record.base_url.as_deref())
    .bind(i64::from(a.enabled))
    .bind(a.rpm_limit.map(i64::from))
    .bind(a.tpm_limit.map(i64::from))
    .bind(a.monthly_budget.map(Money::micros))
    .bind(i64::from(a.soft_budget))
    .bind(to_json(&a.alert_thresholds)?)
    .bind(azure.map(|z| z.endpoint.clone()))
    .bind(azure.map(|z| z.api_version.clone()))
    .bind(to_json(
        &azure.map(|z| z.deployments.clone()).unwrap_or_default(),
    )?)
    .bind(record.api_key_encrypted.as_deref())
    .bind(record.api_key_last4.as_deref())
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(StoreError::unique_as("account name"))?;
    Ok(())
}

pub async fn delete_account(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM provider_accounts WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Inserts or updates (by id) a logical model and replaces its targets; `account_ids` maps
/// account names to ids.
pub async fn save_model(
    conn: &mut AnyConnection,
    record: &ModelRecord,
    account_ids: &HashMap<String, String>,
    now: i64,
) -> Result<(), StoreError> {
    let m = &record.model;
    sqlx::query(
        "INSERT INTO logical_models (id, name, description, capabilities, defaults, strategy, \
         retries, cache, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
         ON CONFLICT (id) DO UPDATE SET name = $2, description = $3, capabilities = $4, \
         defaults = $5, strategy = $6, retries = $7, cache = $8, updated_at = $9",
    )
    .bind(&record.id)
    .bind(&m.name)
    .bind(&m.description)
    .bind(to_json(&m.capabilities)?)
    .bind(to_json(&m.defaults)?)
    .bind(m.strategy.as_str())
    .bind(i64::from(m.retries))
    .bind(m.cache.as_ref().map(to_json).transpose()?)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(StoreError::unique_as("logical model name"))?;
    sqlx::query("DELETE FROM logical_model_targets WHERE model_id = $1")
        .bind(&record.id)
        .execute(&mut *conn)
        .await?;
    for (position, entry) in m.targets.iter().enumerate() {
        let target = &entry.target;
        let account_id = account_ids
            .get(&target.account)
            .ok_or_else(|| decode_err(format!("unknown account `{}`", target.account)))?;
        sqlx::query(
            "INSERT INTO logical_model_targets (model_id, position, account_id, provider_model, \
             weight) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&record.id)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(account_id)
        .bind(&target.model)
        .bind(i64::from(entry.weight))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn delete_model(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM logical_model_targets WHERE model_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM logical_models WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn save_policy(
    conn: &mut AnyConnection,
    record: &PolicyRecord,
    now: i64,
) -> Result<(), StoreError> {
    let p = &record.policy;
    sqlx::query(
        "INSERT INTO policies (id, name, priority, enabled, match_criteria, route, split, \
         failure_threshold, recovery_seconds, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
         ON CONFLICT (id) DO UPDATE SET name = $2, priority = $3, enabled = $4, \
         match_criteria = $5, route = $6, split = $7, failure_threshold = $8, \
         recovery_seconds = $9, updated_at = $10",
    )
    .bind(&record.id)
    .bind(&p.name)
    .bind(i64::from(p.priority))
    .bind(i64::from(p.enabled))
    .bind(to_json(&p.criteria)?)
    .bind(to_json(&p.route)?)
    .bind(to_json(&p.split)?)
    .bind(i64::from(p.circuit_breaker.failure_threshold))
    .bind(i64::from(p.circuit_breaker.recovery_seconds))
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(StoreError::unique_as("policy name"))?;
    Ok(())
}

pub async fn delete_policy(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM policies WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Inserts or updates (by id) a gateway key's record; the hash never changes once set.
pub async fn save_key(conn: &mut AnyConnection, record: &KeyRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO api_keys (id, name, key_hash, last4, allowed_models, expires_at, revoked, \
         last_used_at, created_at, rpm_limit, tpm_limit, monthly_budget, soft_budget, team, \
         previous_key_hash, previous_valid_until) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         ON CONFLICT (id) DO UPDATE SET name = $2, key_hash = $3, last4 = $4, \
         allowed_models = $5, expires_at = $6, revoked = $7, rpm_limit = $10, tpm_limit = $11, \
         monthly_budget = $12, soft_budget = $13, team = $14, previous_key_hash = $15, \
         previous_valid_until = $16",
    )
    .bind(&record.id)
    .bind(&record.name)
    .bind(&record.key_hash)
    .bind(&record.last4)
    .bind(to_json(&record.allowed_models)?)
    .bind(record.expires_at)
    .bind(i64::from(record.revoked))
    .bind(record.last_used_at)
    .bind(record.created_at)
    .bind(record.limits.rpm_limit.map(i64::from))
    .bind(record.limits.tpm_limit.map(i64::from))
    .bind(record.limits.monthly_budget.map(Money::micros))
    .bind(i64::from(record.limits.soft_budget))
    .bind(&record.team)
    .bind(record.previous.as_ref().map(|p| p.key_hash.as_str()))
    .bind(record.previous.as_ref().map(|p| p.valid_until))
    .execute(&mut *conn)
    .await
    .map_err(StoreError::unique_as("key name"))?;
    Ok(())
}

pub async fn save_price(
    conn: &mut AnyConnection,
    record: &PriceRecord,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO prices (kind, model, input_per_mtok, output_per_mtok, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, model) DO UPDATE SET \
         input_per_mtok = $3, output_per_mtok = $4, updated_at = $5",
    )
    .bind(record.kind.as_str())
    .bind(&record.model)
    .bind(record.price.input_per_mtok.micros())
    .bind(record.price.output_per_mtok.micros())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn delete_price(
    conn: &mut AnyConnection,
    kind: ProviderKind,
    model: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM prices WHERE kind = $1 AND model = $2")
        .bind(kind.as_str())
        .bind(model)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The channel every instance LISTENs on (PostgreSQL); a notification's payload is the new
/// config version.
pub const CHANGES_CHANNEL: &str = "switchyard_config";

/// Marks a configuration change: raises the config version inside the change's transaction
/// and returns it. Called first in the transaction, so the row lock it takes makes concurrent
/// changes (from any instance or `switchyard apply`) run one after the other, each reading what
/// the one before committed. On PostgreSQL it also notifies every listening instance; a NOTIFY
/// made in a transaction is delivered on commit, and not at all on rollback.
pub async fn bump_version(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    let (version,): (i64,) = sqlx::query_as(
        "UPDATE config_version SET version = version + 1 WHERE id = 1 RETURNING version",
    )
    .fetch_one(&mut *conn)
    .await?;
    if conn.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME {
        // pg_notify returns void, which the Any driver cannot decode: count it instead.
        sqlx::query("SELECT COUNT(*) FROM (SELECT pg_notify($1, $2)) AS sent")
            .bind(CHANGES_CHANNEL)
            .bind(version.to_string())
            .fetch_one(&mut *conn)
            .await?;
    }
    Ok(version)
}

/// The config version: how many configuration changes were committed. One primary-key read,
/// cheap enough to poll.
pub async fn version<'e, E>(executor: E) -> Result<i64, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let (version,): (i64,) = sqlx::query_as("SELECT version FROM config_version WHERE id = 1")
        .fetch_one(executor)
        .await?;
    Ok(version)
}

pub async fn insert_audit(conn: &mut AnyConnection, entry: &AuditEntry) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor, action, entity_kind, entity_name, before_json, \
         after_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&entry.id)
    .bind(entry.at)
    .bind(&entry.actor)
    .bind(&entry.action)
    .bind(&entry.entity_kind)
    .bind(&entry.entity_name)
    .bind(entry.before.as_deref())
    .bind(entry.after.as_deref())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Which audit entries to list; every field left `None` matches all.
#[derive(Debug, Default)]
pub struct AuditFilter<'a> {
    pub actor: Option<&'a str>,
    pub entity_kind: Option<&'a str>,
    /// Unix ms: only entries at or after it.
    pub since: Option<i64>,
    /// Keyset paging: only entries older than this `(at, id)`, the last one of the page before.
    pub before: Option<(i64, &'a str)>,
}

/// The newest entries first (ties by id, so paging is stable), at most `limit`.
pub async fn list_audit(
    pool: &AnyPool,
    filter: &AuditFilter<'_>,
    limit: i64,
) -> Result<Vec<AuditEntry>, StoreError> {
    let mut sql = String::from(
        "SELECT id, at, actor, action, entity_kind, entity_name, before_json, after_json \
         FROM audit_log WHERE 1 = 1",
    );
    let mut n = 0;
    let mut param = || {
        n += 1;
        format!("${n}")
    };
    if filter.actor.is_some() {
        sql += &format!(" AND actor = {}", param());
    }
    if filter.entity_kind.is_some() {
        sql += &format!(" AND entity_kind = {}", param());
    }
    if filter.since.is_some() {
        sql += &format!(" AND at >= {}", param());
    }
    if filter.before.is_some() {
        let (at, id) = (param(), param());
        sql += &format!(" AND (at < {at} OR (at = {at} AND id < {id}))");
    }
    sql += &format!(" ORDER BY at DESC, id DESC LIMIT {}", param());
    let mut query = sqlx::query(&sql);
    if let Some(actor) = filter.actor {
        query = query.bind(actor);
    }
    if let Some(kind) = filter.entity_kind {
        query = query.bind(kind);
    }
    if let Some(since) = filter.since {
        query = query.bind(since);
    }
    if let Some((at, id)) = filter.before {
        query = query.bind(at).bind(id);
    }
    query
        .bind(limit)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| {
            Ok(AuditEntry {
                id: row.try_get("id")?,
                at: row.try_get("at")?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                entity_kind: row.try_get("entity_kind")?,
                entity_name: row.try_get("entity_name")?,
                before: row.try_get("before_json")?,
                after: row.try_get("after_json")?,
            })
        })
        .collect()
}

/// Everyone who has changed something, for the audit log's filter.
pub async fn audit_actors(pool: &AnyPool) -> Result<Vec<String>, StoreError> {
    Ok(
        sqlx::query("SELECT DISTINCT actor FROM audit_log ORDER BY actor")
            .fetch_all(pool)
            .await?
            .iter()
            .map(|row| row.try_get("actor"))
            .collect::<Result<_, _>>()?,
    )
}

/// Called by the proxy when a gateway key authenticates a request (off the hot path).
/// Records when a gateway key was last used; an older time never overwrites a newer one.
/// Called by the usage batch writer inside its transaction, never on the request path.
pub async fn mark_key_used<'e, E>(executor: E, key_id: &str, at: i64) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "UPDATE api_keys SET last_used_at = $1 \
         WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
    )
    .bind(at)
    .bind(key_id)
    .execute(executor)
    .await?;
    Ok(())
}

/// Re-encrypts every stored provider credential from `old` to `new` inside `tx`; returns how
/// many. Fails, changing nothing once the caller rolls back, if one does not open with `old`.
pub async fn reencrypt_credentials(
    tx: &mut sqlx::AnyConnection,
    old: &crate::store::cipher::CredentialCipher,
    new: &crate::store::cipher::CredentialCipher,
) -> Result<usize, StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, api_key_encrypted FROM provider_accounts \
         WHERE api_key_encrypted IS NOT NULL",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (name, sealed) in &rows {
        let plain = old.decrypt(sealed).map_err(|e| StoreError::Credential {
            account: name.clone(),
            reason: e.to_string(),
        })?;
        let resealed = new.encrypt(&plain).map_err(|e| StoreError::Credential {
            account: name.clone(),
            reason: e.to_string(),
        })?;
        sqlx::query("UPDATE provider_accounts SET api_key_encrypted = $1 WHERE name = $2")
            .bind(resealed)
            .bind(name)
            .execute(&mut *tx)
            .await?;
    }
    Ok(rows.len())
}
