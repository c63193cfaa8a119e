//! The Dashboard and the detail pages: traffic, latency, spend and errors over a window, read
//! from the usage rollups (one grouped query per page; never the ledger), plus the live
//! figures for the first paint. The request log reads the ledger itself, page by page.

use super::accounts::LiveAccount;
use super::live::TrafficPoint;
use super::policies::LivePolicy;
use super::ApiError;
use crate::domain::{AlertView, Grain, Money, ProviderKind};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use server_fn::codec::Json;

/// The time windows the pages offer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Window {
    Minutes15,
    #[default]
    Hour1,
    Hours24,
    Days7,
    Days30,
}

impl Window {
    pub const ALL: [Window; 5] = [
        Window::Minutes15,
        Window::Hour1,
        Window::Hours24,
        Window::Days7,
        Window::Days30,
    ];

    pub fn millis(self) -> i64 {
        match self {
            Window::Minutes15 => 15 * 60_000,
            Window::Hour1 => 3_600_000,
            Window::Hours24 => 24 * 3_600_000,
            Window::Days7 => 7 * 86_400_000,
            Window::Days30 => 30 * 86_400_000,
        }
    }

    /// The bucket size of its charts: minutes up to an hour (the live stream covers those),
    /// hours up to a week, days beyond.
    pub fn grain(self) -> Grain {
        match self {
            Window::Minutes15 | Window::Hour1 => Grain::Minute,
            Window::Hours24 | Window::Days7 => Grain::Hour,
            Window::Days30 => Grain::Day,
        }
    }

    /// As written in the page address (`?window=24h`).
    pub fn param(self) -> &'static str {
        match self {
            Window::Minutes15 => "15m",
            Window::Hour1 => "1h",
            Window::Hours24 => "24h",
            Window::Days7 => "7d",
            Window::Days30 => "30d",
        }
    }

    pub fn from_param(text: &str) -> Option<Window> {
        Window::ALL.into_iter().find(|w| w.param() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            Window::Minutes15 => "15 min",
            Window::Hour1 => "1 hour",
            Window::Hours24 => "24 hours",
            Window::Days7 => "7 days",
            Window::Days30 => "30 days",
        }
    }

    /// The bucket starts of the window ending at `now_ms`, oldest first.
    pub fn buckets(self, now_ms: i64) -> Vec<i64> {
        let grain = self.grain();
        let last = grain.bucket_of(now_ms);
        let count = (self.millis() / grain.millis()).max(1);
        (0..count)
            .map(|i| last - (count - 1 - i) * grain.millis())
            .collect()
    }
}

/// What a page is about: everything, or one account, logical model, policy or gateway key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    All,
    Account(String),
    Model(String),
    Policy(String),
    /// By the key's name.
    Key(String),
}

/// Sums for one name (an account, a logical model, a policy) over the window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    pub fallbacks: u64,
    pub tokens: u64,
    pub cost: Money,
    /// Requests per bucket, for a sparkline.
    pub requests_series: Vec<u64>,
}

/// One account's month: spend against its budget, day by day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountMonth {
    pub name: String,
    pub kind: ProviderKind,
    pub budget: Option<Money>,
    pub thresholds: Vec<u8>,
    pub spent: Money,
    /// Spend at this pace by the month's end.
    pub projected: Money,
    /// (day start, spend that day) from the first of the month to today.
    pub days: Vec<(i64, Money)>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub requests: u64,
    pub errors: u64,
    pub fallbacks: u64,
    pub tokens: u64,
    pub cost: Money,
}

impl Totals {
    pub fn of(points: &[TrafficPoint]) -> Totals {
        points.iter().fold(Totals::default(), |mut t, p| {
            t.requests += p.requests;
            t.errors += p.errors;
            t.fallbacks += p.fallbacks;
            t.tokens += p.tokens;
            t.cost += p.cost;
            t
        })
    }
}

/// Everything a dashboard or detail page draws.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub window: Window,
    pub scope: Scope,
    pub now_ms: i64,
    /// One point per bucket of the window, zeros included.
    pub series: Vec<TrafficPoint>,
    pub totals: Totals,
    pub by_account: Vec<Breakdown>,
    pub by_model: Vec<Breakdown>,
    pub by_policy: Vec<Breakdown>,
    pub by_key: Vec<Breakdown>,
    /// Accounts in scope (all, or the one).
    pub months: Vec<AccountMonth>,
    pub live_accounts: Vec<LiveAccount>,
    pub live_policies: Vec<LivePolicy>,
    /// Whether any provider account is configured, and any logical model (empty states).
    pub has_accounts: bool,
    pub first_model: Option<String>,
    /// Where apps send requests, for the curl line of the empty state.
    pub public_url: String,
    /// Ledger rows written since start-up when this was read (the live stream's `written`).
    pub written: u64,
    /// An account page's circuit, health and budget alerts, newest first; empty elsewhere.
    pub events: Vec<AlertView>,
}

/// What the response cache answered over a window, and what that saved.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheSavings {
    /// Requests that asked the cache (hits and misses).
    pub lookups: u64,
    pub hits: u64,
    /// What the hits would have cost at the providers.
    pub saved: Money,
}

impl CacheSavings {
    /// Hits per lookup, 0 to 1; `None` before any lookup.
    pub fn hit_rate(&self) -> Option<f64> {
        (self.lookups > 0).then(|| self.hits as f64 / self.lookups as f64)
    }
}

/// Spend this month by gateway key or by team, against the budgets set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpendLine {
    pub name: String,
    /// The key's team; empty for team lines and keys without one.
    pub team: String,
    pub spent: Money,
    /// The key's budget, or the sum of its keys' for a team; `None` when none is set.
    pub budget: Option<Money>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheAndKeySpend {
    pub cache: CacheSavings,
    /// Keys that spent this month or carry a budget, the biggest spender first.
    pub keys: Vec<SpendLine>,
    /// By team (keys without one under an empty name), the biggest spender first.
    pub teams: Vec<SpendLine>,
}

/// The response cache over `window`, and spend by gateway key and team this month.
#[server(endpoint = "keys_and_cache", input = Json)]
pub async fn keys_and_cache(window: Window) -> Result<CacheAndKeySpend, ApiError> {
    use crate::domain::Role;
    super::ssr::require(Role::Viewer).await?;
    let state = super::ssr::state()?;
    let now = crate::store::now_millis();
    ssr::keys_and_cache(&state, window, now)
        .await
        .map_err(ApiError::internal)
}

/// The figures of `window` for `scope`, for any signed-in role.
#[server(endpoint = "window_overview", input = Json)]
pub async fn window_overview(window: Window, scope: Scope) -> Result<Overview, ApiError> {
    use crate::domain::Role;
    super::ssr::require(Role::Viewer).await?;
    let state = super::ssr::state()?;
    ssr::overview(&state, window, scope, crate::store::now_millis())
        .await
        .map_err(ApiError::internal)
}

/// Request log filters; empty fields match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LogFilter {
    /// Only the last window; `None` for all kept rows.
    pub window: Option<Window>,
    /// Gateway key name.
    pub key: String,
    pub model: String,
    pub policy: String,
    pub account: String,
    /// `2xx`, `4xx` or `5xx`.
    pub status: String,
    /// `yes` or `no`.
    pub streamed: String,
}

/// One request of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedRequest {
    pub id: String,
    pub at_ms: i64,
    pub key: String,
    pub logical_model: String,
    pub policy: Option<String>,
    pub account: Option<String>,
    pub provider_model: Option<String>,
    pub step_type: String,
    pub purpose: String,
    pub stream: bool,
    pub status: u16,
    pub attempts: u32,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost: Money,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub trail: Option<String>,
}

/// A page of the log, newest first; `next` continues after its last row.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPage {
    pub rows: Vec<LoggedRequest>,
    pub next: Option<String>,
}

/// Rows per page of the request log.
pub const LOG_PAGE: usize = 50;

/// Alerts listed on an account page.
pub const ACCOUNT_EVENTS: i64 = 20;

/// A page of the request log for any signed-in role. `after` is the `next` of the page before
/// (keyset paging: `at_ms` and `id` of its last row), so deep pages cost as little as the first.
#[server(endpoint = "request_log", input = Json)]
pub async fn request_log(filter: LogFilter, after: Option<String>) -> Result<LogPage, ApiError> {
    use crate::domain::Role;
    super::ssr::require(Role::Viewer).await?;
    let state = super::ssr::state()?;
    let after = match after.as_deref().filter(|a| !a.is_empty()) {
        None => None,
        Some(text) => Some(ssr::parse_cursor(text).ok_or_else(|| ApiError::Invalid {
            field: "after".into(),
            message: "is not a page position from this log".into(),
        })?),
    };
    if !["", "2xx", "4xx", "5xx"].contains(&filter.status.as_str()) {
        return Err(ApiError::Invalid {
            field: "status".into(),
            message: "must be 2xx, 4xx or 5xx".into(),
        });
    }
    ssr::request_log(&state, &filter, after, crate::store::now_millis())
        .await
        .map_err(ApiError::internal)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::state::AppState;
    use crate::telemetry::traffic::{sums_from_row, TrafficSums, SUMS_COLUMNS};
    use sqlx::Row;
    use std::collections::{BTreeMap, HashMap};

    const DAY_MS: i64 = 86_400_000;

    enum Bind {
        Text(String),
        Number(i64),
    }

    /// Gateway key id → name: stored keys (revoked ones included, their rows stay in the
    /// rollups) and the keys the running configuration holds.
    async fn key_names(state: &AppState) -> Result<HashMap<String, String>, sqlx::Error> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, name FROM api_keys")
            .fetch_all(&state.db.pool)
            .await?;
        let mut names: HashMap<String, String> = rows.into_iter().collect();
        for key in state.config.load().keys.values() {
            names
                .entry(key.id.clone())
                .or_insert_with(|| key.name.clone());
        }
        Ok(names)
    }

    /// The id of the key called `name`.
    fn key_id(keys: &HashMap<String, String>, name: &str) -> String {
        keys.iter()
            .find(|(_, n)| *n == name)
            .map(|(id, _)| id.clone())
            .unwrap_or_default()
    }

    /// The SQL condition and its bound value for a scope (`$n` is the next placeholder).
    fn scope_filter(
        scope: &Scope,
        n: usize,
        keys: &HashMap<String, String>,
    ) -> Option<(String, String)> {
        let (column, value) = match scope {
            Scope::All => return None,
            Scope::Account(name) => ("account", name.clone()),
            Scope::Model(name) => ("logical_model", name.clone()),
            Scope::Policy(name) => ("policy", name.clone()),
            Scope::Key(name) => ("key_id", key_id(keys, name)),
        };
        Some((format!(" AND {column} = ${n}"), value))
    }

    fn add(
        map: &mut BTreeMap<String, (TrafficSums, BTreeMap<i64, u64>)>,
        name: &str,
        bucket: i64,
        sums: &TrafficSums,
    ) {
        if name.is_empty() {
            return;
        }
        let entry = map.entry(name.to_string()).or_default();
        entry.0.merge(sums);
        *entry.1.entry(bucket).or_default() += sums.requests;
    }

    fn breakdowns(
        map: BTreeMap<String, (TrafficSums, BTreeMap<i64, u64>)>,
        buckets: &[i64],
    ) -> Vec<Breakdown> {
        let mut list: Vec<Breakdown> = map
            .into_iter()
            .map(|(name, (sums, per_bucket))| Breakdown {
                name,
                requests: sums.requests,
                errors: sums.errors,
                fallbacks: sums.fallbacks,
                tokens: sums.tokens(),
                cost: sums.cost,
                requests_series: buckets
                    .iter()
                    .map(|b| per_bucket.get(b).copied().unwrap_or(0))
                    .collect(),
            })
            .collect();
        list.sort_by(|a, b| b.requests.cmp(&a.requests).then(a.name.cmp(&b.name)));
        list
    }

    pub async fn keys_and_cache(
        state: &AppState,
        window: Window,
        now_ms: i64,
    ) -> Result<CacheAndKeySpend, crate::telemetry::TelemetryError> {
        // The partial index on `cache` keeps this to the rows that asked the cache.
        let (lookups, hits, saved): (i64, i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), \
             CAST(COALESCE(SUM(CASE WHEN cache = 'hit' THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(saved_micros), 0) AS BIGINT) \
             FROM usage_events WHERE cache IS NOT NULL AND at_ms >= $1",
        )
        .bind(now_ms - window.millis())
        .fetch_one(&state.db.pool)
        .await?;
        let month = crate::routing::month_of(u64::try_from(now_ms).unwrap_or_default());
        let spent = crate::telemetry::key_spend_in(&state.db.pool, &month).await?;
        let mut conn = state.db.pool.acquire().await?;
        let stored = crate::store::config::load(&mut conn).await?;
        let mut keys: Vec<SpendLine> = stored
            .keys
            .iter()
            .map(|k| SpendLine {
                name: k.name.clone(),
                team: k.team.clone(),
                spent: spent.get(&k.id).copied().unwrap_or_default(),
                budget: k.limits.monthly_budget,
            })
            .filter(|line| line.spent > Money::ZERO || line.budget.is_some())
            .collect();
        keys.sort_by(|a, b| b.spent.cmp(&a.spent).then(a.name.cmp(&b.name)));
        let mut teams: BTreeMap<String, SpendLine> = BTreeMap::new();
        for key in &keys {
            let team = teams.entry(key.team.clone()).or_insert_with(|| SpendLine {
                name: key.team.clone(),
                team: String::new(),
                spent: Money::ZERO,
                budget: None,
            });
            team.spent += key.spent;
            if let Some(budget) = key.budget {
                team.budget = Some(team.budget.unwrap_or_default() + budget);
            }
        }
        let mut teams: Vec<SpendLine> = teams.into_values().collect();
        teams.sort_by(|a, b| b.spent.cmp(&a.spent).then(a.name.cmp(&b.name)));
        Ok(CacheAndKeySpend {
            cache: CacheSavings {
                lookups: u64::try_from(lookups).unwrap_or_default(),
                hits: u64::try_from(hits).unwrap_or_default(),
                saved: Money::from_micros(saved),
            },
            keys,
            teams,
        })
    }

    pub async fn overview(
        state: &AppState,
        window: Window,
        scope: Scope,
        now_ms: i64,
    ) -> Result<Overview, sqlx::Error> {
        let grain = window.grain();
        let buckets = window.buckets(now_ms);
        let from = buckets.first().copied().unwrap_or(now_ms);
        let keys = key_names(state).await?;
        let filter = scope_filter(&scope, 3, &keys);
        let sql = format!(
            "SELECT bucket_ms, account, logical_model, policy, key_id, {SUMS_COLUMNS} \
             FROM usage_rollups WHERE grain = $1 AND bucket_ms >= $2{} \
             GROUP BY bucket_ms, account, logical_model, policy, key_id",
            filter.as_ref().map(|f| f.0.as_str()).unwrap_or("")
        );
        let mut query = sqlx::query(&sql).bind(grain.as_str()).bind(from);
        if let Some((_, value)) = &filter {
            query = query.bind(value.clone());
        }
        let rows = query.fetch_all(&state.db.pool).await?;
        let mut per_bucket: BTreeMap<i64, TrafficSums> = BTreeMap::new();
        let (mut accounts, mut models, mut policies, mut by_key) = (
            BTreeMap::new(),
            BTreeMap::new(),
            BTreeMap::new(),
            BTreeMap::new(),
        );
        for row in &rows {
            let bucket: i64 = row.try_get(0)?;
            let account: String = row.try_get(1)?;
            let model: String = row.try_get(2)?;
            let policy: String = row.try_get(3)?;
            let key_id: String = row.try_get(4)?;
            let sums = sums_from_row(row, 5)?;
            per_bucket.entry(bucket).or_default().merge(&sums);
            add(&mut accounts, &account, bucket, &sums);
            add(&mut models, &model, bucket, &sums);
            add(&mut policies, &policy, bucket, &sums);
            let key = keys.get(&key_id).cloned().unwrap_or(key_id);
            add(&mut by_key, &key, bucket, &sums);
        }
        let series: Vec<TrafficPoint> = buckets
            .iter()
            .map(|b| TrafficPoint::from_sums(*b, &per_bucket.get(b).copied().unwrap_or_default()))
            .collect();
        let snapshot = state.config.load();
        let has_accounts = snapshot.routing.accounts().next().is_some();
        let first_model = snapshot
            .routing
            .logical_models()
            .map(|m| m.name.clone())
            .min();
        let months = account_months(state, &scope, now_ms).await?;
        let events = match &scope {
            Scope::Account(name) => {
                crate::store::alerts::list(&state.db.pool, Some(name), ACCOUNT_EVENTS).await?
            }
            _ => Vec::new(),
        };
        let now = u64::try_from(now_ms).unwrap_or_default();
        let in_scope = |name: &str| match &scope {
            Scope::Account(a) => a == name,
            _ => true,
        };
        Ok(Overview {
            window,
            totals: Totals::of(&series),
            series,
            by_account: breakdowns(accounts, &buckets),
            by_model: breakdowns(models, &buckets),
            by_policy: breakdowns(policies, &buckets),
            by_key: breakdowns(by_key, &buckets),
            months,
            live_accounts: crate::api::live::ssr::live_accounts(state, now)
                .into_iter()
                .filter(|a| in_scope(&a.name))
                .collect(),
            live_policies: crate::api::live::ssr::live_policies(state, now),
            has_accounts,
            first_model,
            public_url: state.settings.public_url.clone(),
            written: state.telemetry.recent.written(),
            events,
            scope,
            now_ms,
        })
    }

    /// Each account's spend this month by day (day rollups), against its budget.
    async fn account_months(
        state: &AppState,
        scope: &Scope,
        now_ms: i64,
    ) -> Result<Vec<AccountMonth>, sqlx::Error> {
        let month_start = month_start(now_ms);
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT account, bucket_ms, CAST(SUM(cost_micros) AS BIGINT) FROM usage_rollups \
             WHERE grain = 'day' AND bucket_ms >= $1 AND account <> '' GROUP BY account, bucket_ms",
        )
        .bind(month_start)
        .fetch_all(&state.db.pool)
        .await?;
        let snapshot = state.config.load();
        let now = u64::try_from(now_ms).unwrap_or_default();
        let today = Grain::Day.bucket_of(now_ms);
        let days_in_month = (month_end(now_ms) - month_start) as f64;
        let elapsed = ((now_ms - month_start) as f64).max(1.0);
        let mut months: Vec<AccountMonth> = snapshot
            .routing
            .accounts()
            .filter(|a| match scope {
                Scope::Account(name) => &a.name == name,
                _ => true,
            })
            .map(|account| {
                let spent = state.live.account_view(&account.name, now).spent_this_month;
                let days = (0..)
                    .map(|i| month_start + i * DAY_MS)
                    .take_while(|d| *d <= today)
                    .map(|d| {
                        let cost = rows
                            .iter()
                            .filter(|(a, b, _)| *a == account.name && *b == d)
                            .map(|(_, _, c)| *c)
                            .sum();
                        (d, Money::from_micros(cost))
                    })
                    .collect();
                AccountMonth {
                    name: account.name.clone(),
                    kind: account.kind,
                    budget: account.monthly_budget,
                    thresholds: account.alert_thresholds.clone(),
                    spent,
                    projected: Money::from_micros(
                        (spent.micros() as f64 * days_in_month / elapsed).round() as i64,
                    ),
                    days,
                }
            })
            .collect();
        months.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(months)
    }

    fn month_start(now_ms: i64) -> i64 {
        use chrono::{Datelike, TimeZone, Utc};
        Utc.timestamp_millis_opt(now_ms)
            .single()
            .and_then(|t| {
                Utc.with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0)
                    .single()
            })
            .map(|t| t.timestamp_millis())
            .unwrap_or(now_ms)
    }

    fn month_end(now_ms: i64) -> i64 {
        // The 28th plus four days is always in the next month.
        let next = month_start(now_ms) + 32 * DAY_MS;
        month_start(next)
    }

    /// `at_ms-id` of a row, continuing the log after it.
    pub fn parse_cursor(text: &str) -> Option<(i64, String)> {
        let (at, id) = text.split_once('-')?;
        Some((at.parse().ok()?, id.to_string()))
    }

    pub async fn request_log(
        state: &AppState,
        filter: &LogFilter,
        after: Option<(i64, String)>,
        now_ms: i64,
    ) -> Result<LogPage, sqlx::Error> {
        let keys = key_names(state).await?;
        // Conditions and their values in the order they appear, numbered as they go.
        let mut conditions: Vec<String> = Vec::new();
        let mut binds: Vec<Bind> = Vec::new();
        let placeholder = |bind: Bind, binds: &mut Vec<Bind>| {
            binds.push(bind);
            format!("${}", binds.len())
        };
        // An unknown key name matches nothing rather than everything.
        let key = (!filter.key.is_empty()).then(|| key_id(&keys, &filter.key));
        if key.as_deref() == Some("") {
            return Ok(LogPage::default());
        }
        for (column, value) in [
            ("key_id", key.unwrap_or_default()),
            ("logical_model", filter.model.clone()),
            ("policy", filter.policy.clone()),
            ("account", filter.account.clone()),
        ] {
            if !value.is_empty() {
                let p = placeholder(Bind::Text(value), &mut binds);
                conditions.push(format!("{column} = {p}"));
            }
        }
        if let Some(window) = filter.window {
            let p = placeholder(Bind::Number(now_ms - window.millis()), &mut binds);
            conditions.push(format!("at_ms >= {p}"));
        }
        if let Some((at, id)) = after {
            let before = placeholder(Bind::Number(at), &mut binds);
            let same = placeholder(Bind::Number(at), &mut binds);
            let id = placeholder(Bind::Text(id), &mut binds);
            conditions.push(format!(
                "(at_ms < {before} OR (at_ms = {same} AND id < {id}))"
            ));
        }
        match filter.status.as_str() {
            "2xx" => conditions.push("status < 400".into()),
            "4xx" => conditions.push("status >= 400 AND status < 500".into()),
            "5xx" => conditions.push("status >= 500".into()),
            _ => {}
        }
        match filter.streamed.as_str() {
            "yes" => conditions.push("stream = 1".into()),
            "no" => conditions.push("stream = 0".into()),
            _ => {}
        }
        let sql = format!(
            "SELECT id, at_ms, key_id, logical_model, policy, account, provider_model, step_type, \
             purpose, stream, status, attempts, prompt_tokens, completion_tokens, cost_micros, \
             latency_ms, error, trail FROM usage_events{} ORDER BY at_ms DESC, id DESC LIMIT {}",
            if conditions.is_empty() {
                String::new()
            } else {
                format!(" WHERE {}", conditions.join(" AND "))
            },
            LOG_PAGE + 1
        );
        let mut query = sqlx::query(&sql);
        for bind in binds {
            query = match bind {
                Bind::Text(text) => query.bind(text),
                Bind::Number(number) => query.bind(number),
            };
        }
        let rows = query.fetch_all(&state.db.pool).await?;
        let mut page = Vec::new();
        for row in &rows {
            let key_id: String = row.try_get(2)?;
            page.push(LoggedRequest {
                id: row.try_get(0)?,
                at_ms: row.try_get(1)?,
                key: keys.get(&key_id).cloned().unwrap_or(key_id),
                logical_model: row.try_get(3)?,
                policy: row.try_get(4)?,
                account: row.try_get(5)?,
                provider_model: row.try_get(6)?,
                step_type: row.try_get(7)?,
                purpose: row.try_get(8)?,
                stream: row.try_get::<i64, _>(9)? == 1,
                status: u16::try_from(row.try_get::<i64, _>(10)?).unwrap_or(0),
                attempts: u32::try_from(row.try_get::<i64, _>(11)?).unwrap_or(0),
                prompt_tokens: row.try_get(12)?,
                completion_tokens: row.try_get(13)?,
                cost: Money::from_micros(row.try_get(14)?),
                latency_ms: row.try_get(15)?,
                error: row.try_get(16)?,
                trail: row.try_get(17)?,
            });
        }
        let next = (page.len() > LOG_PAGE).then(|| {
            page.truncate(LOG_PAGE);
            page.last().map(|r| format!("{}-{}", r.at_ms, r.id))
        });
        Ok(LogPage {
            rows: page,
            next: next.flatten(),
        })
    }
}
