//! Usage telemetry off the request path: the proxy hands each request's outcome to a bounded
//! channel without waiting (`try_send`), and one writer task stores them in batches in
//! `usage_events` and `spend_monthly`, with the budget alerts the spend raised in `alerts`; an
//! alert stored for the first time also goes to the webhook, from its own task. A full channel
//! drops the event and counts it rather than slow a request down; the in-memory spend that routing decides on is updated by the proxy
//! itself, so a dropped ledger row never lets an account overspend.

pub mod metrics;
pub mod rollups;
pub mod webhook;

use crate::domain::Money;
use crate::routing::{month_of, LiveState, MonthlySpend};
use crate::store::alerts::BUDGET_ALERT;
use crate::store::StoreError;
use sqlx::AnyPool;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Room for bursts while the database is slow; at ~1 KB an event this is a few MB at most.
const CHANNEL_CAPACITY: usize = 10_000;
/// Rows written in one transaction.
const MAX_BATCH: usize = 500;
/// A failed batch is tried this many times in all, waiting longer each time.
const WRITE_TRIES: u32 = 3;
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("cannot write usage to the database: {0}")]
    Store(#[from] sqlx::Error),
    #[error(transparent)]
    Settings(#[from] StoreError),
}

/// One proxied request, as the ledger keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageEvent {
    pub id: String,
    pub at_ms: i64,
    pub key_id: String,
    pub logical_model: String,
    pub policy: Option<String>,
    /// The canary arm of a split policy the request went down.
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
}

/// A monthly budget threshold an account's spend just reached.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetAlert {
    pub account: String,
    pub month: String,
    pub threshold: u8,
    pub spent: Money,
    pub budget: Money,
    pub at_ms: i64,
}

impl BudgetAlert {
    pub fn message(&self) -> String {
        format!(
            "{} reached {}% of its monthly budget: {} of {} spent in {}",
            self.account, self.threshold, self.spent, self.budget, self.month
        )
    }
}

enum Message {
    Usage(Box<UsageEvent>),
    Alert(BudgetAlert),
    /// Answered once everything sent before it is written.
    Flush(oneshot::Sender<()>),
}

/// The sending side, cloned into every handler.
#[derive(Clone)]
pub struct Telemetry {
    sender: mpsc::Sender<Message>,
    dropped: Arc<AtomicU64>,
}

impl Telemetry {
    /// Starts the batch writer on `pool`.
    pub fn start(pool: AnyPool) -> Telemetry {
        let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
        tokio::spawn(write_batches(pool, reqwest::Client::new(), receiver));
        Telemetry {
            sender,
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Never waits: with the channel full the event is dropped and counted.
    pub fn record(&self, event: UsageEvent) {
        self.send(Message::Usage(Box::new(event)));
    }

    pub fn record_alert(&self, alert: BudgetAlert) {
        tracing::warn!(account = %alert.account, threshold = alert.threshold, "{}", alert.message());
        self.send(Message::Alert(alert));
    }

    fn send(&self, message: Message) {
        if self.sender.try_send(message).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(
                    dropped,
                    "usage channel full or closed: usage events dropped"
                );
            }
        }
    }

    /// Waits until every event recorded before this call is in the database (shutdown, tests).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).await.is_ok() {
            // An error means the writer is gone; there is nothing left to wait for.
            let _ = wait.await;
        }
    }
}

async fn write_batches(
    pool: AnyPool,
    webhook_client: reqwest::Client,
    mut receiver: mpsc::Receiver<Message>,
) {
    while let Some(first) = receiver.recv().await {
        let mut batch = Vec::new();
        let mut alerts = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        // Whatever queued up while the last batch was written goes into this one.
        while let Some(message) = next.take() {
            match message {
                Message::Usage(event) => batch.push(*event),
                Message::Alert(alert) => alerts.push(alert),
                Message::Flush(done) => flushes.push(done),
            }
            if batch.len() < MAX_BATCH {
                next = receiver.try_recv().ok();
            }
        }
        if !batch.is_empty() || !alerts.is_empty() {
            if let Some(NewAlerts {
                webhook_url,
                payloads,
            }) = write_with_retries(&pool, &batch, &alerts).await
            {
                webhook::spawn_delivery(&webhook_client, &webhook_url, payloads);
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

/// Alerts stored for the first time by a batch, to send to the webhook.
struct NewAlerts {
    webhook_url: String,
    payloads: Vec<webhook::AlertPayload>,
}

async fn write_with_retries(
    pool: &AnyPool,
    batch: &[UsageEvent],
    alerts: &[BudgetAlert],
) -> Option<NewAlerts> {
    let mut delay = FIRST_RETRY_DELAY;
    for attempt in 1..=WRITE_TRIES {
        match write_batch(pool, batch, alerts).await {
            Ok(new_alerts) => return new_alerts,
            Err(e) if attempt < WRITE_TRIES => {
                tracing::warn!(error = %e, attempt, "usage batch not written; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => {
                tracing::error!(error = %e, events = batch.len(), alerts = alerts.len(), "usage batch lost");
            }
        }
    }
    None
}

async fn write_batch(
    pool: &AnyPool,
    batch: &[UsageEvent],
    alerts: &[BudgetAlert],
) -> Result<Option<NewAlerts>, TelemetryError> {
    let mut tx = pool.begin().await?;
    let mut spend: HashMap<(&str, String), Money> = HashMap::new();
    let mut last_used: HashMap<&str, i64> = HashMap::new();
    for e in batch {
        sqlx::query(
            "INSERT INTO usage_events (id, at_ms, key_id, logical_model, policy, step_type, \
             purpose, account, provider_model, stream, status, attempts, prompt_tokens, \
             completion_tokens, cost_micros, latency_ms, error, arm) VALUES ($1, $2, $3, $4, \
             $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
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
        .bind(e.arm.as_deref())
        .execute(&mut *tx)
        .await?;
        let used = last_used.entry(e.key_id.as_str()).or_insert(e.at_ms);
        *used = (*used).max(e.at_ms);
        if let (Some(account), true) = (&e.account, e.cost > Money::ZERO) {
            let month = month_of(u64::try_from(e.at_ms).unwrap_or(0));
            *spend.entry((account.as_str(), month)).or_default() += e.cost;
        }
    }
    let now = crate::store::now_millis();
    for ((account, month), cost) in spend {
        sqlx::query(
            "INSERT INTO spend_monthly (account, month, spent_micros, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (account, month) DO UPDATE SET \
             spent_micros = spend_monthly.spent_micros + excluded.spent_micros, \
             updated_at = excluded.updated_at",
        )
        .bind(account)
        .bind(&month)
        .bind(cost.micros())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    for (key_id, at) in last_used {
        crate::store::config::mark_key_used(&mut *tx, key_id, at).await?;
    }
    let mut payloads = Vec::new();
    for alert in alerts {
        let inserted = sqlx::query(
            "INSERT INTO alerts (id, kind, account, month, threshold, message, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (kind, account, month, threshold) DO NOTHING",
        )
        .bind(crate::store::new_id())
        .bind(BUDGET_ALERT)
        .bind(&alert.account)
        .bind(&alert.month)
        .bind(i64::from(alert.threshold))
        .bind(alert.message())
        .bind(alert.at_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        // Zero rows: raised before (another instance, or before a restart); sent back then.
        if inserted > 0 {
            payloads.push(webhook::AlertPayload::budget(alert));
        }
    }
    let webhook_url = if payloads.is_empty() {
        None
    } else {
        crate::store::alerts::webhook_url(&mut *tx).await?
    };
    tx.commit().await?;
    Ok(webhook_url.map(|webhook_url| NewAlerts {
        webhook_url,
        payloads,
    }))
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Puts this month's stored spend and raised budget alerts back into live state at start-up,
/// so budgets hold and alerts are not raised again across restarts. Returns how many accounts
/// were resumed.
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
    let raised: Vec<(String, i64)> =
        sqlx::query_as("SELECT account, threshold FROM alerts WHERE kind = $1 AND month = $2")
            .bind(BUDGET_ALERT)
            .bind(&month)
            .fetch_all(pool)
            .await?;
    let mut accounts: HashMap<String, (Money, Vec<u8>)> = HashMap::new();
    for (account, micros) in spend {
        accounts.entry(account).or_default().0 = Money::from_micros(micros);
    }
    for (account, threshold) in raised {
        if let Ok(threshold) = u8::try_from(threshold) {
            accounts.entry(account).or_default().1.push(threshold);
        }
    }
    for (account, (spent, alerted)) in &accounts {
        live.resume_spend(
            account,
            MonthlySpend::resume(&month, *spent, alerted.iter().copied()),
        );
    }
    Ok(accounts.len())
}
