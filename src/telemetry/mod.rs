//! Usage telemetry off the request path: the proxy hands each request's outcome to a bounded
//! channel without waiting (`try_send`), and one writer task stores them in batches in
//! `usage_events` and `spend_monthly`, with the budget alerts the spend raised in `alerts`; an
//! alert stored for the first time also goes to the webhook, from its own task.
//!
//! Nothing is dropped: when the database cannot be written (or the channel is full) events go
//! to the spill file in the data folder, in order, and are replayed from it once the database
//! answers again. Each event has its own id, so a replay repeated after a crash stores nothing
//! twice. Each usage event is also appended to the journal by its request (see `journal`), so
//! `kill -9` loses none that was answered. The in-memory spend that routing decides on is updated by the proxy itself, so a
//! ledger row waiting in the spill file never lets an account overspend.

pub mod conditions;
pub mod journal;
pub mod metrics;
pub mod retention;
pub mod rollups;
pub mod spill;
pub mod traffic;
pub mod webhook;

use crate::domain::Money;
use crate::domain::KEY_SUBJECT;
use crate::routing::{month_of, LiveState, MonthlySpend};
use crate::store::alerts::BUDGET_ALERT;
use crate::store::StoreError;
use journal::{Journal, Segment};
use serde::{Deserialize, Serialize};
use spill::{Record, Spill};
use sqlx::AnyPool;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Room for bursts while the database is slow; at ~1 KB an event this is a few MB at most.
const CHANNEL_CAPACITY: usize = 10_000;
/// After writing a batch, how long the writer lets the next one gather before it looks again.
/// Waking for each event as it came cost the proxy a thread wake-up per request (12 context
/// switches per request instead of 3 at 2,000 req/s, and 40 % more CPU; bench/PROFILE.md).
const GATHER_TIME: Duration = Duration::from_millis(20);
/// Rows written in one transaction.
const MAX_BATCH: usize = 500;
/// Rows per `INSERT`: at most 23 parameters a row (the rollups) stays far below SQLite's 32,766 and
/// PostgreSQL's 65,535 bind parameters per statement.
const ROWS_PER_STATEMENT: usize = 500;
/// A batch that takes longer than this goes to the spill file instead (a database that stopped
/// answering holds a write until the pool's acquire timeout).
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// While spilling, the database is tried again after this, doubling up to `MAX_REPLAY_DELAY`.
const FIRST_REPLAY_DELAY: Duration = Duration::from_millis(250);
const MAX_REPLAY_DELAY: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("cannot write usage to the database: {0}")]
    Store(#[from] sqlx::Error),
    #[error(transparent)]
    Settings(#[from] StoreError),
    #[error(transparent)]
    Spill(#[from] spill::SpillError),
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
}

/// One proxied request, as the ledger keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageEvent {
    pub id: String,
    pub at_ms: i64,
    pub key_id: String,
    pub logical_model: String,
    pub policy: Option<String>,
    /// The canary arm of a split policy the request went down. Defaulted, so events spilled
    /// to disk by an older version still read back.
    #[serde(default)]
    pub arm: Option<String>,
    pub step_type: String,
    pub purpose: String,
    /// The account and provider model that answered, or failed last; `None` if none was tried.
    pub account: Option<String>,
    pub provider_model: Option<String>,
    pub stream: bool,
    /// The HTTP status the app received.
    pub status: u16,
    /// Provider calls made for this request.
    pub attempts: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost: Money,
    pub latency_ms: u64,
    pub error: Option<String>,
    /// What happened to each target tried or skipped, for the request log.
    pub trail: Option<String>,
    /// Whether the response cache answered; `None` when it was not asked.
    #[serde(default)]
    pub cache: Option<CacheOutcome>,
    /// What a cache hit would have cost at the provider.
    #[serde(default)]
    pub saved: Money,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheOutcome {
    Hit,
    Miss,
}

impl CacheOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheOutcome::Hit => "hit",
            CacheOutcome::Miss => "miss",
        }
    }
}

/// A monthly budget threshold an account's (or a gateway key's) spend just reached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetAlert {
    /// The account's name, or the key's.
    pub account: String,
    /// `KEY_SUBJECT` for a gateway key's budget; empty for an account's.
    #[serde(default)]
    pub subject: String,
    pub month: String,
    pub threshold: u8,
    pub spent: Money,
    pub budget: Money,
    pub at_ms: i64,
}

impl BudgetAlert {
    pub fn message(&self) -> String {
        let who = if self.subject == KEY_SUBJECT {
            format!("gateway key {}", self.account)
        } else {
            self.account.clone()
        };
        format!(
            "{who} reached {}% of its monthly budget: {} of {} spent in {}",
            self.threshold, self.spent, self.budget, self.month
        )
    }
}

enum Message {
    Usage(Box<UsageEvent>),
    Alert(BudgetAlert),
    Condition(conditions::ConditionChange),
    /// Answered once everything sent before it is stored (in the database or the spill file).
    Flush(oneshot::Sender<()>),
    /// A journal segment no request appends to any more: deleted once everything sent before
    /// it is stored.
    Retire(Arc<Segment>),
}

impl From<Record> for Message {
    fn from(record: Record) -> Message {
        match record {
            Record::Usage(event) => Message::Usage(event),
            Record::Alert(alert) => Message::Alert(alert),
            Record::Condition(change) => Message::Condition(change),
        }
    }
}

impl Message {
    fn into_record(self) -> Option<Record> {
        match self {
            Message::Usage(event) => Some(Record::Usage(event)),
            Message::Alert(alert) => Some(Record::Alert(alert)),
            Message::Condition(change) => Some(Record::Condition(change)),
            Message::Flush(_) | Message::Retire(_) => None,
        }
    }
}

/// Counters read by `/metrics`.
#[derive(Debug, Default)]
struct Counters {
    /// `/v1` requests refused before routing (bad key, broken body, model not allowed); they
    /// have no ledger row, so requests received = ledger rows + refusals.
    refused: AtomicU64,
    /// Events neither stored nor spilled (the spill file itself could not be written).
    lost: AtomicU64,
    /// Events the journal could not take (still stored from memory, unless killed).
    unjournaled: AtomicU64,
}

/// The sending side, cloned into every handler.
#[derive(Clone)]
pub struct Telemetry {
    sender: mpsc::Sender<Message>,
    spill: Spill,
    journal: Arc<Journal>,
    counters: Arc<Counters>,
    /// The last hour by minute, as written; the live stream reads it.
    pub recent: traffic::RecentTraffic,
    metrics: metrics::Metrics,
}

impl Telemetry {
    /// Starts the batch writer on `pool`, spilling to the spill file in `data_dir`. What an
    /// earlier run left in the journal and the spill file is replayed first, while the database
    /// answers, so the spend resumed from the ledger after this includes it.
    pub async fn start(
        pool: AnyPool,
        data_dir: &std::path::Path,
    ) -> Result<Telemetry, TelemetryError> {
        let spill = Spill::open(data_dir)?;
        let journal = Arc::new(Journal::open(data_dir, &spill)?);
        if !spill.is_empty() {
            tracing::warn!(
                bytes = spill.size(),
                "usage left in the spill file by an earlier run; replaying it"
            );
        }
        let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
        let outbox = Arc::new(tokio::sync::Notify::new());
        webhook::spawn_outbox(pool.clone(), outbox.clone());
        let recent = traffic::RecentTraffic::default();
        let mut writer = Writer {
            pool,
            recent: recent.clone(),
            spill: spill.clone(),
            outbox: outbox.clone(),
            replayed: 0,
            replay_delay: FIRST_REPLAY_DELAY,
            next_replay: Instant::now(),
        };
        if !spill.is_empty() {
            writer.replay().await;
        }
        tokio::spawn(writer.run(receiver));
        spawn_journal_roller(journal.clone(), sender.clone());
        let metrics = metrics::Metrics::new();
        let upkeep = metrics.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(metrics::UPKEEP_INTERVAL);
            loop {
                interval.tick().await;
                upkeep.upkeep();
            }
        });
        Ok(Telemetry {
            sender,
            spill,
            journal,
            counters: Arc::default(),
            recent,
            metrics,
        })
    }

    /// Never waits on the database: with the channel full the event goes to the spill file.
    /// The `/metrics` figures are kept in memory and count it either way.
    pub fn record(&self, event: UsageEvent) {
        self.metrics.request(
            &metrics::Labels {
                logical_model: &event.logical_model,
                account: event.account.as_deref().unwrap_or_default(),
                policy: event.policy.as_deref().unwrap_or_default(),
                status_class: metrics::status_class(event.status),
            },
            &metrics::RequestFigures {
                duration: Duration::from_millis(event.latency_ms),
                prompt_tokens: event.prompt_tokens,
                completion_tokens: event.completion_tokens,
                cost_micros: event.cost.micros(),
                fell_back: event.attempts > 1,
            },
        );
        let record = Record::Usage(Box::new(event));
        // Held until the event is in the channel, so its segment is not retired before.
        let journaled = self.journal.append(&record);
        if let Err(e) = &journaled {
            let failures = self.counters.unjournaled.fetch_add(1, Ordering::Relaxed) + 1;
            if failures.is_power_of_two() {
                tracing::error!(failures, error = %e, "cannot append to the usage journal: `kill -9` could lose these events");
            }
        }
        self.send(Message::from(record));
        drop(journaled);
    }

    pub fn metrics(&self) -> &metrics::Metrics {
        &self.metrics
    }

    pub fn record_alert(&self, alert: BudgetAlert) {
        tracing::warn!(account = %alert.account, threshold = alert.threshold, "{}", alert.message());
        self.send(Message::Alert(alert));
    }

    /// An alert condition that started or cleared (see `conditions`), to store.
    pub fn record_condition(&self, change: conditions::ConditionChange) {
        self.send(Message::Condition(change));
    }

    /// A `/v1` request refused before routing, which leaves no ledger row.
    pub fn record_refusal(&self) {
        self.counters.refused.fetch_add(1, Ordering::Relaxed);
    }

    fn send(&self, message: Message) {
        let message = match self.sender.try_send(message) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(m) | mpsc::error::TrySendError::Closed(m)) => m,
        };
        let Some(record) = message.into_record() else {
            return;
        };
        if let Err(e) = self.spill.append(&[record]) {
            let lost = self.counters.lost.fetch_add(1, Ordering::Relaxed) + 1;
            if lost.is_power_of_two() {
                tracing::error!(lost, error = %e, "usage channel full and the spill file unwritable: usage events lost");
            }
        }
    }

    /// Waits until every event recorded before this call is stored, in the database or the
    /// spill file (shutdown, tests).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).await.is_ok() {
            // An error means the writer is gone; there is nothing left to wait for.
            let _ = wait.await;
        }
    }

    /// At shutdown, once no request runs: stores everything and deletes the journal, which
    /// then holds nothing the database lacks.
    pub async fn finish(&self) {
        match self.journal.roll() {
            Ok(Some(segment)) => {
                let segment = journal::released(segment).await;
                self.flush().await;
                segment.retire();
            }
            Ok(None) => self.flush().await,
            Err(e) => {
                tracing::warn!(error = %e, "cannot roll the usage journal at shutdown; the next start replays it");
                self.flush().await;
            }
        }
    }

    /// Figures for `/metrics`.
    pub fn stats(&self) -> TelemetryStats {
        TelemetryStats {
            queued: CHANNEL_CAPACITY.saturating_sub(self.sender.capacity()) as u64,
            spill_bytes: self.spill.size(),
            refused: self.counters.refused.load(Ordering::Relaxed),
            lost: self.counters.lost.load(Ordering::Relaxed),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TelemetryStats {
    /// Events waiting in the channel for the writer.
    pub queued: u64,
    /// Bytes in the spill file waiting for the database.
    pub spill_bytes: u64,
    pub refused: u64,
    pub lost: u64,
}

/// Rolls the journal every `ROLL_INTERVAL` and hands each full segment to the writer to
/// retire, once no request still appends to it.
fn spawn_journal_roller(journal: Arc<Journal>, writer: mpsc::Sender<Message>) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(journal::ROLL_INTERVAL);
        loop {
            interval.tick().await;
            match journal.roll() {
                Ok(Some(segment)) => {
                    let segment = journal::released(segment).await;
                    if writer.send(Message::Retire(segment)).await.is_err() {
                        return;
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot start a new usage journal segment"),
            }
        }
    });
}

/// The one task that writes usage: to the database while it answers, else to the spill file,
/// from which it replays in order once the database is back.
struct Writer {
    pool: AnyPool,
    /// The last hour by minute, fed with what each batch stored.
    recent: traffic::RecentTraffic,
    spill: Spill,
    /// Woken when a batch queued webhook deliveries.
    outbox: Arc<tokio::sync::Notify>,
    /// How far into the spill file is in the database.
    replayed: u64,
    replay_delay: Duration,
    next_replay: Instant,
}

impl Writer {
    async fn run(mut self, mut receiver: mpsc::Receiver<Message>) {
        loop {
            let first = if self.spill.is_empty() {
                receiver.recv().await
            } else {
                match tokio::time::timeout_at(self.next_replay, receiver.recv()).await {
                    Ok(message) => message,
                    Err(_) => {
                        self.replay().await;
                        continue;
                    }
                }
            };
            let Some(first) = first else { break };
            let mut records = Vec::new();
            let mut flushes = Vec::new();
            let mut retired = Vec::new();
            let mut next = Some(first);
            // Whatever queued up while the last batch was written goes into this one.
            while let Some(message) = next.take() {
                match message {
                    Message::Flush(done) => flushes.push(done),
                    Message::Retire(segment) => retired.push(segment),
                    other => records.extend(other.into_record()),
                }
                if records.len() < MAX_BATCH {
                    next = receiver.try_recv().ok();
                }
            }
            // A full batch means a backlog: the next one is written at once.
            let gathering = !records.is_empty() && records.len() < MAX_BATCH;
            let stored = records.is_empty() || self.store(records).await;
            // Kept for the next start to replay when these events could be stored nowhere.
            if stored {
                retired.iter().for_each(|segment| segment.retire());
            }
            if !self.spill.is_empty() && Instant::now() >= self.next_replay {
                self.replay().await;
            }
            for done in flushes {
                let _ = done.send(());
            }
            if gathering {
                tokio::time::sleep(GATHER_TIME).await;
            }
        }
        if !self.spill.is_empty() {
            self.replay().await;
        }
    }

    /// To the database, or behind what already waits in the spill file, so order is kept;
    /// false when neither could take them.
    async fn store(&mut self, records: Vec<Record>) -> bool {
        if self.spill.is_empty() {
            match self.write(&records).await {
                Ok(()) => return true,
                Err(e) => {
                    tracing::error!(error = %e, events = records.len(), "the database cannot take usage; spilling to the spill file until it can");
                    self.replayed = 0;
                    self.replay_delay = FIRST_REPLAY_DELAY;
                    self.next_replay = Instant::now() + FIRST_REPLAY_DELAY;
                }
            }
        }
        if let Err(e) = self.spill.append(&records) {
            tracing::error!(error = %e, events = records.len(), "usage lost: neither the database nor the spill file can be written");
            return false;
        }
        true
    }

    async fn write(&self, records: &[Record]) -> Result<(), TelemetryError> {
        let mut batch = Vec::new();
        let mut alerts = Vec::new();
        let mut changes = Vec::new();
        for record in records {
            match record {
                Record::Usage(event) => batch.push(event.as_ref().clone()),
                Record::Alert(alert) => alerts.push(alert.clone()),
                Record::Condition(change) => changes.push(change),
            }
        }
        let write = write_batch(&self.pool, &batch, &alerts, &changes);
        let written = tokio::time::timeout(WRITE_TIMEOUT, write)
            .await
            .map_err(|_| TelemetryError::Timeout(WRITE_TIMEOUT))??;
        self.recent.add(&written.stored);
        if written.queued_webhooks {
            self.outbox.notify_one();
        }
        Ok(())
    }

    /// Moves what waits in the spill file into the database, a batch at a time; stops at the
    /// first failure and tries again later, waiting longer each time.
    async fn replay(&mut self) {
        loop {
            let (records, next) = match self.spill.read_from(self.replayed, MAX_BATCH) {
                Ok(read) => read,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the usage spill file");
                    break;
                }
            };
            if records.is_empty() {
                match self.spill.truncate_if_replayed(next) {
                    Ok(true) => {
                        tracing::info!("the database is back: spilled usage replayed");
                        self.replayed = 0;
                        self.replay_delay = FIRST_REPLAY_DELAY;
                        return;
                    }
                    Ok(false) => {
                        self.replayed = next;
                        continue;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot empty the usage spill file");
                        break;
                    }
                }
            }
            match self.write(&records).await {
                Ok(()) => self.replayed = next,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?self.replay_delay, "the database still cannot take usage");
                    break;
                }
            }
        }
        self.next_replay = Instant::now() + self.replay_delay;
        self.replay_delay = (self.replay_delay * 2).min(MAX_REPLAY_DELAY);
    }
}

/// What one committed batch did.
struct BatchWritten<'a> {
    /// The usage events stored for the first time (a replay skips those stored before).
    stored: Vec<&'a UsageEvent>,
    /// Whether webhook deliveries were queued in the outbox.
    queued_webhooks: bool,
}

async fn write_batch<'a>(
    pool: &AnyPool,
    batch: &'a [UsageEvent],
    alerts: &[BudgetAlert],
    changes: &[&conditions::ConditionChange],
) -> Result<BatchWritten<'a>, TelemetryError> {
    let mut tx = pool.begin().await?;
    let inserted = insert_usage_events(&mut tx, batch).await?;
    let mut stored = Vec::with_capacity(batch.len());
    let mut spend: HashMap<(&str, String), Money> = HashMap::new();
    let mut key_spend: HashMap<(&str, String), Money> = HashMap::new();
    let mut last_used: HashMap<&str, i64> = HashMap::new();
    // Not inserted: stored before (a replay after a crash, or a write that timed out yet
    // committed), so its spend is in already.
    for e in batch.iter().filter(|e| inserted.contains(e.id.as_str())) {
        stored.push(e);
        let used = last_used.entry(e.key_id.as_str()).or_insert(e.at_ms);
        *used = (*used).max(e.at_ms);
        if e.cost > Money::ZERO {
            let month = month_of(u64::try_from(e.at_ms).unwrap_or(0));
            if let Some(account) = &e.account {
                *spend.entry((account.as_str(), month.clone())).or_default() += e.cost;
            }
            *key_spend.entry((e.key_id.as_str(), month)).or_default() += e.cost;
        }
    }
    traffic::write_rollups(&mut tx, &stored).await?;
    let now = crate::store::now_millis();
    // The same upsert for accounts and keys: only the table and its first column differ.
    for (table, column, sums) in [
        ("spend_monthly", "account", spend),
        ("key_spend_monthly", "key_id", key_spend),
    ] {
        for ((who, month), cost) in sums {
            sqlx::query(&format!(
                "INSERT INTO {table} ({column}, month, spent_micros, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT ({column}, month) DO UPDATE SET \
                 spent_micros = {table}.spent_micros + excluded.spent_micros, \
                 updated_at = excluded.updated_at"
            ))
            .bind(who)
            .bind(&month)
            .bind(cost.micros())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
    }
    for (key_id, at) in last_used {
        crate::store::config::mark_key_used(&mut *tx, key_id, at).await?;
    }
    let mut queued = false;
    for alert in alerts {
        let inserted = sqlx::query(
            "INSERT INTO alerts (id, kind, account, subject, month, threshold, message, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (kind, account, subject, month, threshold) WHERE kind = 'budget' \
             DO NOTHING",
        )
        .bind(crate::store::new_id())
        .bind(BUDGET_ALERT)
        .bind(&alert.account)
        .bind(&alert.subject)
        .bind(&alert.month)
        .bind(i64::from(alert.threshold))
        .bind(alert.message())
        .bind(alert.at_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        // Zero rows: raised before (another instance, or before a restart); sent back then.
        if inserted > 0 {
            webhook::enqueue(&mut *tx, &webhook::AlertPayload::budget(alert)).await?;
            queued = true;
        }
    }
    for change in changes {
        let stored = crate::store::alerts::store_condition(&mut *tx, change).await?;
        // The spill alert went out directly when it happened (the database may have been down).
        if stored && change.condition.kind != conditions::USAGE_SPILLING {
            webhook::enqueue(&mut *tx, &webhook::AlertPayload::condition(change)).await?;
            queued = true;
        }
    }
    tx.commit().await?;
    Ok(BatchWritten {
        stored,
        queued_webhooks: queued,
    })
}

/// Inserts the batch's rows, `ROWS_PER_STATEMENT` to a statement (one statement per row cost
/// most of the writer's time: each goes through sqlx's SQLite worker thread and back), and
/// returns the ids that were new.
async fn insert_usage_events(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    batch: &[UsageEvent],
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    use sqlx::Row;
    let mut inserted = std::collections::HashSet::with_capacity(batch.len());
    for rows in batch.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO usage_events (id, at_ms, key_id, logical_model, policy, step_type, \
             purpose, account, provider_model, stream, status, attempts, prompt_tokens, \
             completion_tokens, cost_micros, latency_ms, error, trail, arm, cache, saved_micros) \
             VALUES {} ON CONFLICT (id) DO NOTHING RETURNING id",
            crate::store::values_placeholders(tx, rows.len(), 21)
        );
        // Not kept prepared: each batch size is another statement text, and every connection's
        // statement cache held up to 100 of them (hundreds of MB of SQLite's memory).
        let mut insert = sqlx::query(&sql).persistent(false);
        for e in rows {
            insert = insert
                .bind(&e.id)
                .bind(e.at_ms)
                .bind(&e.key_id)
                .bind(&e.logical_model)
                .bind(e.policy.as_deref())
                .bind(&e.step_type)
                .bind(&e.purpose)
                .bind(e.account.as_deref())
                .bind(e.provider_model.as_deref())
                .bind(i64::from(e.stream))
                .bind(i64::from(e.status))
                .bind(i64::from(e.attempts))
                .bind(saturating_i64(e.prompt_tokens))
                .bind(saturating_i64(e.completion_tokens))
                .bind(e.cost.micros())
                .bind(saturating_i64(e.latency_ms))
                .bind(e.error.as_deref())
                .bind(e.trail.as_deref())
                .bind(e.arm.as_deref())
                .bind(e.cache.map(CacheOutcome::as_str))
                .bind(e.saved.micros());
        }
        for row in insert.fetch_all(&mut **tx).await? {
            inserted.insert(row.try_get::<String, _>(0)?);
        }
    }
    Ok(inserted)
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Puts this month's stored spend and raised budget alerts back into live state at start-up,
/// for accounts and gateway keys, so budgets hold and alerts are not raised again across
/// restarts. Returns how many accounts and keys were resumed.
pub async fn resume_spend(
    pool: &AnyPool,
    live: &LiveState,
    now_ms: u64,
) -> Result<usize, TelemetryError> {
    let month = month_of(now_ms);
    let spend: Vec<(String, i64)> =
        sqlx::query_as("SELECT account, spent_micros FROM spend_monthly WHERE month = $1")
            .bind(&month)
            .fetch_all(pool)
            .await?;
    let raised: Vec<(String, i64)> = sqlx::query_as(
        "SELECT account, threshold FROM alerts WHERE kind = $1 AND month = $2 AND subject = ''",
    )
    .bind(BUDGET_ALERT)
    .bind(&month)
    .fetch_all(pool)
    .await?;
    let spend = spend
        .into_iter()
        .map(|(account, micros)| (account, Money::from_micros(micros)));
    let accounts = by_owner(spend, raised);
    for (account, spend) in &accounts {
        live.resume_spend(account, resumed(&month, spend));
    }
    let key_spend = key_spend_in(pool, &month).await?;
    // A key's alerts name the key; its spend is kept by id, so a rename keeps the spend.
    let key_raised: Vec<(String, i64)> = sqlx::query_as(
        "SELECT k.id, a.threshold FROM alerts a JOIN api_keys k ON k.name = a.account \
         WHERE a.kind = $1 AND a.month = $2 AND a.subject = $3",
    )
    .bind(BUDGET_ALERT)
    .bind(&month)
    .bind(KEY_SUBJECT)
    .fetch_all(pool)
    .await?;
    let keys = by_owner(key_spend, key_raised);
    for (key_id, spend) in &keys {
        live.resume_key_spend(key_id, resumed(&month, spend));
    }
    Ok(accounts.len() + keys.len())
}

/// Each gateway key's spend in `month`, by key id (every instance's, once written).
pub async fn key_spend_in(
    pool: &AnyPool,
    month: &str,
) -> Result<HashMap<String, Money>, TelemetryError> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT key_id, spent_micros FROM key_spend_monthly WHERE month = $1")
            .bind(month)
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, micros)| (id, Money::from_micros(micros)))
        .collect())
}

/// Spend and raised thresholds gathered by account or key.
fn by_owner(
    spend: impl IntoIterator<Item = (String, Money)>,
    raised: Vec<(String, i64)>,
) -> HashMap<String, (Money, Vec<u8>)> {
    let mut owners: HashMap<String, (Money, Vec<u8>)> = HashMap::new();
    for (owner, spent) in spend {
        owners.entry(owner).or_default().0 = spent;
    }
    for (owner, threshold) in raised {
        if let Ok(threshold) = u8::try_from(threshold) {
            owners.entry(owner).or_default().1.push(threshold);
        }
    }
    owners
}

fn resumed(month: &str, (spent, alerted): &(Money, Vec<u8>)) -> MonthlySpend {
    MonthlySpend::resume(month, *spent, alerted.iter().copied())
}
