//! Several instances behave as one: with `REDIS_URL` set, the rate windows of provider accounts
//! and gateway keys, circuits with their one half-open trial, budget spend (to the micro-dollar),
//! budget alert de-duplication and login throttling live in Redis, shared by every instance.
//!
//! The rules are the routing engine's (`src/routing/{rate,circuit,budget}.rs`), written a second
//! time as Lua scripts so each step is atomic on the Redis server: `admit.lua` checks and counts
//! one provider call, with the request's gateway key on its first call, in one round trip;
//! `settle.lua` corrects the tokens, moves the circuit and adds the spend in one more, after the
//! answer is on its way; `read.lua` gives the fleet's live figures to the dashboards once a
//! second. The local `LiveState` keeps counting as before: it is what the planner reads (its
//! circuits and spend follow the fleet's replies) and what decides when Redis cannot be reached
//! and `SWITCHYARD_REDIS_FAILURE=open`.

use crate::domain::{CircuitBreakerSettings, KeyLimits, Money, ProviderAccount, Target};
use crate::routing::{CircuitBreaker, KeyRefusal, LiveState, RateDenial, RateUsage, SkipReason};
use crate::snapshot::SharedConfig;
use sha1::{Digest, Sha1};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ADMIT: &str = include_str!("admit.lua");
const SETTLE: &str = include_str!("settle.lua");
const READ: &str = include_str!("read.lua");

/// Settlements kept while Redis is unreachable, replayed when it is back; beyond this the
/// oldest are dropped (the database's ledger still has them).
const MAX_UNSETTLED: usize = 100_000;

/// Failed calls in a row after which Redis counts as unreachable.
const FAILURES_TO_DOWN: u64 = 3;

/// How often an unreachable Redis is asked again, and the fleet's live figures read.
const UPKEEP_TICK: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("cannot connect to Redis at {url}: {source}")]
    Connect {
        url: String,
        source: redis::RedisError,
    },
    #[error("Redis did not answer within {0} ms")]
    Timeout(u64),
    #[error("Redis failed: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("Redis cannot be reached")]
    Unreachable,
    #[error("Redis answered something the script does not return: {0}")]
    Reply(String),
}

/// `SWITCHYARD_REDIS_FAILURE`: what a request gets while Redis cannot be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnRedisFailure {
    /// This instance's own limits decide (a fleet of N may then let through up to N times a
    /// limit); hard budgets still refuse.
    Open,
    /// Every request is refused with 429 until Redis is back.
    Closed,
}

impl std::str::FromStr for OnRedisFailure {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "open" => Ok(OnRedisFailure::Open),
            "closed" => Ok(OnRedisFailure::Closed),
            other => Err(format!("expected open or closed, not {other:?}")),
        }
    }
}

/// How this instance reaches the fleet's shared state.
#[derive(Clone, Debug)]
pub struct FleetSettings {
    pub prefix: String,
    pub on_failure: OnRedisFailure,
    /// A Redis call slower than this counts as Redis unreachable.
    pub timeout: Duration,
}

struct Script {
    text: &'static str,
    sha: String,
}

impl Script {
    fn new(text: &'static str) -> Self {
        let sha = Sha1::digest(text.as_bytes()).iter().fold(
            String::with_capacity(40),
            |mut hex, byte| {
                let _ = write!(hex, "{byte:02x}");
                hex
            },
        );
        Script { text, sha }
    }
}

pub struct Fleet {
    conn: redis::aio::ConnectionManager,
    settings: FleetSettings,
    up: AtomicBool,
    /// Requests decided without Redis (its local limits, or refused), since start-up.
    fallbacks: AtomicU64,
    /// Failed calls in a row.
    failures: AtomicU64,
    /// Settlements sent and not answered yet, which a shutdown waits for.
    pending: AtomicU64,
    /// Settlements (the settle script's arguments) waiting for Redis to answer again; off the
    /// hot path, so a mutex is fine.
    unsettled: Mutex<Vec<Vec<String>>>,
    admit: Script,
    settle: Script,
    read: Script,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("settings", &self.settings)
            .field("up", &self.is_up())
            .finish_non_exhaustive()
    }
}

/// The subject of a rate window or a spend counter in Redis.
fn account_subject(account: &str) -> String {
    format!("a:{account}")
}

fn key_subject(key_id: &str) -> String {
    format!("k:{key_id}")
}

fn limit(value: Option<u32>) -> String {
    value.map_or("-1".into(), |v| v.to_string())
}

/// The hard budget in micro-dollars, `-1` when there is none to stop at.
fn hard_budget(budget: Option<Money>, soft: bool) -> i64 {
    match budget {
        Some(budget) if !soft => budget.micros(),
        _ => -1,
    }
}

/// The request's gateway key, claimed with its first admitted call.
pub struct KeyClaim<'a> {
    pub id: &'a str,
    pub limits: &'a KeyLimits,
    /// Its spend this month as this instance knows it (from the database at start-up).
    pub seed: Money,
}

/// One provider call to admit.
pub struct CallClaim<'a> {
    pub key: Option<KeyClaim<'a>>,
    pub account: &'a ProviderAccount,
    /// The account's spend this month as this instance knows it.
    pub account_seed: Money,
    pub target: &'a Target,
    pub circuit: CircuitBreakerSettings,
    pub tokens: u32,
    /// What the call may cost at most (the estimate's tokens at the target's price), held
    /// against hard budgets until it is settled.
    pub estimated_cost: Money,
    pub month: &'a str,
}

/// What the fleet counted for one subject, to correct when the call ends.
#[derive(Clone, Debug, PartialEq)]
pub struct Hold {
    subject: String,
    second: u64,
    minute: u64,
    tokens: u32,
    held: Money,
    month: String,
    seed: Money,
    /// False for a call this instance admitted alone while Redis could not be reached:
    /// settling it counts the call in the fleet's window, not only corrects it.
    admitted: bool,
}

impl Hold {
    /// A call to `account` this instance admitted alone while Redis could not be reached.
    pub fn alone_for_account(account: &str, tokens: u32, seed: Money, now_ms: u64) -> Hold {
        Hold::alone(account_subject(account), tokens, seed, now_ms)
    }

    /// A request of the gateway key `key_id` this instance admitted alone.
    pub fn alone_for_key(key_id: &str, tokens: u32, seed: Money, now_ms: u64) -> Hold {
        Hold::alone(key_subject(key_id), tokens, seed, now_ms)
    }

    fn alone(subject: String, tokens: u32, seed: Money, now_ms: u64) -> Hold {
        Hold {
            subject,
            second: now_ms / 1000,
            minute: now_ms / 60_000,
            tokens,
            held: Money::ZERO,
            month: crate::routing::month_of(now_ms),
            seed,
            admitted: false,
        }
    }
}

/// A call the fleet admitted.
#[derive(Debug, PartialEq)]
pub struct Admitted {
    /// Whether the call is its circuit's one half-open trial, fleet-wide.
    pub trial: bool,
    pub account: Hold,
    pub key: Option<Hold>,
}

/// Why the fleet refused a call.
#[derive(Debug, PartialEq)]
pub enum Refused {
    /// The gateway key is over its limit or hard budget.
    Key(KeyRefusal),
    /// The target is skipped, as the planner would skip it.
    Target(SkipReason),
    /// The circuit opened fleet-wide; the local mirror should follow.
    CircuitOpen { until_ms: u64 },
}

/// A settled spend: the fleet's total this month and the thresholds newly reached fleet-wide.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SettledSpend {
    pub spent: Money,
    pub reached: Vec<u8>,
}

/// What one call's settlement changed fleet-wide, for the local mirror and the alerts.
#[derive(Debug, Default, PartialEq)]
pub struct Settled {
    pub circuit: Option<CircuitBreaker>,
    pub account: Option<SettledSpend>,
    pub key: Option<SettledSpend>,
}

/// How a call ended, for its settlement.
pub struct CallEnd<'a> {
    pub account: Option<(&'a Hold, &'a ProviderAccount)>,
    /// Tokens the provider reported (`None`: unknown, the estimate stays).
    pub tokens: Option<u32>,
    pub cost: Money,
    /// The target, whether it worked (it answered, or refused the request itself) and its
    /// breaker settings; `None` when only a key's request is settled.
    pub circuit: Option<(&'a Target, bool, CircuitBreakerSettings)>,
    pub key: Option<(&'a Hold, &'a KeyLimits)>,
}

impl Fleet {
    pub async fn connect(url: &str, settings: FleetSettings) -> Result<Self, FleetError> {
        let fail = |source| FleetError::Connect {
            url: crate::store::redact_url(url),
            source,
        };
        let client = redis::Client::open(url).map_err(fail)?;
        // Reconnect attempts a few hundred ms apart: the defaults back off to a minute, so a
        // Redis back after a restart would stay unused that long.
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(1))
            .set_response_timeout(settings.timeout)
            .set_factor(2)
            .set_max_delay(250)
            .set_number_of_retries(2);
        let conn = redis::aio::ConnectionManager::new_with_config(client, config)
            .await
            .map_err(fail)?;
        Ok(Fleet {
            conn,
            settings,
            up: AtomicBool::new(true),
            fallbacks: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            unsettled: Mutex::new(Vec::new()),
            admit: Script::new(ADMIT),
            settle: Script::new(SETTLE),
            read: Script::new(READ),
        })
    }

    pub fn on_failure(&self) -> OnRedisFailure {
        self.settings.on_failure
    }

    /// Whether Redis counts as reachable (see `mark`).
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Counts a request decided without Redis.
    pub fn count_fallback(&self) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes a call's outcome: Redis counts as unreachable after `FAILURES_TO_DOWN` failed
    /// calls in a row (one slow answer on a busy machine fails only its own request), and as
    /// back after one success.
    fn mark(&self, ok: bool) {
        let up = if ok {
            self.failures.store(0, Ordering::Relaxed);
            true
        } else {
            self.failures.fetch_add(1, Ordering::Relaxed) + 1 < FAILURES_TO_DOWN && self.is_up()
        };
        if self.up.swap(up, Ordering::Relaxed) != up {
            if up {
                tracing::info!("Redis answers again: limits, circuits and budgets are shared by the fleet again");
            } else {
                let mode = match self.settings.on_failure {
                    OnRedisFailure::Open => {
                        "this instance's own limits decide, hard budgets refuse"
                    }
                    OnRedisFailure::Closed => "requests are refused until it is back",
                };
                tracing::error!("Redis cannot be reached: {mode}");
            }
        }
    }

    async fn eval(&self, script: &Script, args: &[String]) -> Result<redis::Value, FleetError> {
        let mut conn = self.conn.clone();
        let call = async {
            let mut evalsha = redis::cmd("EVALSHA");
            evalsha.arg(&script.sha).arg(0).arg(args);
            match evalsha.query_async::<redis::Value>(&mut conn).await {
                // A restarted Redis has forgotten the script: send it whole once.
                Err(e) if e.kind() == redis::ErrorKind::NoScriptError => {
                    let mut eval = redis::cmd("EVAL");
                    eval.arg(script.text).arg(0).arg(args);
                    eval.query_async::<redis::Value>(&mut conn).await
                }
                other => other,
            }
        };
        self.timed(call).await
    }

    /// Waits on a Redis call at most the timeout, and takes its outcome (see `mark`).
    async fn timed<T>(
        &self,
        call: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, FleetError> {
        let result = match tokio::time::timeout(self.settings.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(FleetError::Redis(e)),
            Err(_) => Err(FleetError::Timeout(
                u64::try_from(self.settings.timeout.as_millis()).unwrap_or(u64::MAX),
            )),
        };
        self.mark(result.is_ok());
        result
    }

    /// Checks and counts one call: the key's window and hard budget (with `claim.key`), the
    /// account's window and hard budget, and the target's circuit. One round trip.
    pub async fn admit(
        &self,
        claim: &CallClaim<'_>,
    ) -> Result<Result<Admitted, Refused>, FleetError> {
        let mut args = vec![self.settings.prefix.clone()];
        let account_subject = account_subject(&claim.account.name);
        let account_budget = hard_budget(claim.account.monthly_budget, claim.account.soft_budget);
        // The key's checks come first: a failed check at (1-based) index up to this one
        // refuses the key, a later one the target.
        let mut key_checks = 0;
        // A subject's window and hard budget.
        let checks = |subject: &str, rpm, tpm, budget: i64, seed: Money| {
            [
                "rate".into(),
                subject.to_string(),
                limit(rpm),
                limit(tpm),
                claim.tokens.to_string(),
                "budget".into(),
                subject.to_string(),
                claim.month.to_string(),
                budget.to_string(),
                held(budget, claim.estimated_cost).to_string(),
                seed.micros().to_string(),
            ]
        };
        if let Some(key) = &claim.key {
            let limits = key.limits;
            let budget = hard_budget(limits.monthly_budget, limits.soft_budget);
            args.extend(checks(
                &key_subject(key.id),
                limits.rpm_limit,
                limits.tpm_limit,
                budget,
                key.seed,
            ));
            key_checks = 2;
        }
        let account = claim.account;
        args.extend(checks(
            &account_subject,
            account.rpm_limit,
            account.tpm_limit,
            account_budget,
            claim.account_seed,
        ));
        args.extend([
            "circuit".into(),
            claim.target.to_string(),
            claim.circuit.failure_threshold.to_string(),
            claim.circuit.recovery_ms().to_string(),
        ]);
        let reply: Vec<i64> = redis::from_redis_value(&self.eval(&self.admit, &args).await?)?;
        let field = |i: usize| -> Result<i64, FleetError> {
            reply
                .get(i)
                .copied()
                .ok_or_else(|| FleetError::Reply(format!("{reply:?}")))
        };
        let unsigned = |i: usize| field(i).map(|v| u64::try_from(v).unwrap_or(0));
        let small = |i: usize| field(i).map(|v| u32::try_from(v).unwrap_or(u32::MAX));
        if field(0)? == 1 {
            let now_ms = unsigned(1)?;
            let hold = |subject: String, budget: i64, seed: Money| Hold {
                subject,
                second: now_ms / 1000,
                minute: now_ms / 60_000,
                tokens: claim.tokens,
                held: Money::from_micros(held(budget, claim.estimated_cost)),
                month: claim.month.to_string(),
                seed,
                admitted: true,
            };
            return Ok(Ok(Admitted {
                trial: field(2)? == 2,
                account: hold(account_subject, account_budget, claim.account_seed),
                key: claim.key.as_ref().map(|key| {
                    hold(
                        key_subject(key.id),
                        hard_budget(key.limits.monthly_budget, key.limits.soft_budget),
                        key.seed,
                    )
                }),
            }));
        }
        let index = usize::try_from(field(1)?).unwrap_or(0);
        let denial = match field(2)? {
            1 => Some(RateDenial::Requests {
                limit: small(3)?,
                retry_after_ms: unsigned(4)?,
            }),
            2 => Some(RateDenial::Tokens {
                limit: small(3)?,
                retry_after_ms: unsigned(4)?,
            }),
            3 => Some(RateDenial::TooLarge {
                tokens: small(3)?,
                limit: small(4)?,
            }),
            _ => None,
        };
        let refused = match (field(2)?, denial) {
            (_, Some(denial)) if index <= key_checks => {
                Refused::Key(KeyRefusal::RateLimited(denial))
            }
            (_, Some(denial)) => Refused::Target(SkipReason::RateLimited(denial)),
            (4, None) => {
                let (spent, budget) =
                    (Money::from_micros(field(3)?), Money::from_micros(field(4)?));
                if index <= key_checks {
                    Refused::Key(KeyRefusal::BudgetUsedUp { spent, budget })
                } else {
                    Refused::Target(SkipReason::OverBudget { spent, budget })
                }
            }
            (5, None) => Refused::CircuitOpen {
                until_ms: unsigned(3)?,
            },
            (6, None) => Refused::Target(SkipReason::TrialInFlight),
            _ => return Err(FleetError::Reply(format!("{reply:?}"))),
        };
        Ok(Err(refused))
    }

    /// The settle script's arguments for one call's end.
    pub fn settlement(&self, end: &CallEnd<'_>) -> Vec<String> {
        // The id makes a replay harmless when Redis ran a settlement whose answer was lost.
        let mut args = vec![self.settings.prefix.clone(), crate::store::new_id()];
        let spend = |args: &mut Vec<String>, hold: &Hold, budget: i64, thresholds: &[u8]| {
            let tokens = end.tokens.unwrap_or(hold.tokens).to_string();
            if hold.admitted {
                args.extend([
                    "tokens".into(),
                    hold.subject.clone(),
                    hold.second.to_string(),
                    hold.tokens.to_string(),
                    tokens,
                ]);
            } else {
                args.extend([
                    "count".into(),
                    hold.subject.clone(),
                    hold.second.to_string(),
                    tokens,
                ]);
            }
            args.extend([
                "spend".into(),
                hold.subject.clone(),
                hold.month.clone(),
                hold.minute.to_string(),
                hold.held.micros().to_string(),
                end.cost.micros().to_string(),
                budget.to_string(),
                thresholds
                    .iter()
                    .map(u8::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                hold.seed.micros().to_string(),
            ]);
        };
        if let Some((hold, account)) = end.account {
            // Alerts follow the budget whether it is hard or soft.
            let budget = account.monthly_budget.map_or(-1, Money::micros);
            spend(&mut args, hold, budget, &account.alert_thresholds);
        }
        if let Some((hold, limits)) = end.key {
            let budget = limits.monthly_budget.map_or(-1, Money::micros);
            spend(
                &mut args,
                hold,
                budget,
                &crate::domain::DEFAULT_ALERT_THRESHOLDS,
            );
        }
        if let Some((target, ok, settings)) = end.circuit {
            if ok {
                args.extend(["success".into(), target.to_string()]);
            } else {
                args.extend([
                    "failure".into(),
                    target.to_string(),
                    settings.failure_threshold.to_string(),
                    settings.recovery_ms().to_string(),
                ]);
            }
        }
        args
    }

    /// Runs a settlement made by `settlement` on a task of its own, then `then` with what it
    /// changed fleet-wide.
    pub fn spawn_settle(
        self: &Arc<Self>,
        args: Vec<String>,
        then: impl FnOnce(Result<Settled, FleetError>) + Send + 'static,
    ) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.keep_unsettled(args);
            return;
        };
        self.pending.fetch_add(1, Ordering::Relaxed);
        let fleet = self.clone();
        runtime.spawn(async move {
            let result = fleet.settle(args).await;
            fleet.pending.fetch_sub(1, Ordering::Relaxed);
            then(result);
        });
    }

    /// At shutdown: waits (at most `within`) for the settlements under way, then sends those
    /// kept while Redis was unreachable, so the fleet's counters miss none of this instance's
    /// calls.
    pub async fn drain(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while self.pending.load(Ordering::Relaxed) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if self.is_up() {
            self.replay_unsettled().await;
        }
        let kept = self.unsettled.lock().map_or(0, |unsettled| unsettled.len());
        let pending = self.pending.load(Ordering::Relaxed);
        if kept + usize::try_from(pending).unwrap_or(usize::MAX) > 0 {
            tracing::warn!(
                kept,
                pending,
                "stopping with calls not counted in Redis: the ledger has them, the fleet's counters do not"
            );
        }
    }

    /// Runs a settlement made by `settlement`; while Redis cannot be reached it is kept and
    /// replayed (without its circuit step, stale by then) once Redis answers again.
    async fn settle(&self, args: Vec<String>) -> Result<Settled, FleetError> {
        if !self.is_up() {
            // The recovery task asks Redis; settlements need not pile up behind it.
            self.keep_unsettled(args);
            return Err(FleetError::Unreachable);
        }
        let value = match self.eval(&self.settle, &args).await {
            Ok(value) => value,
            Err(e) => {
                self.keep_unsettled(args);
                return Err(e);
            }
        };
        let settled = parse_settled(&args, &value)?;
        self.replay_unsettled().await;
        Ok(settled)
    }

    fn keep_unsettled(&self, mut args: Vec<String>) {
        // After the prefix, each operation starts with its kind (subjects are `a:…` or `k:…`,
        // targets `account/model`, so no field reads as one).
        if let Some(at) = args
            .iter()
            .skip(2)
            .position(|a| a == "success" || a == "failure")
        {
            args.truncate(at + 2);
        }
        if args.len() <= 2 {
            return;
        }
        let Ok(mut unsettled) = self.unsettled.lock() else {
            return;
        };
        if unsettled.len() >= MAX_UNSETTLED {
            unsettled.remove(0);
        }
        unsettled.push(args);
    }

    /// Sends the settlements kept while Redis was unreachable.
    pub async fn replay_unsettled(&self) {
        let waiting = match self.unsettled.lock() {
            Ok(mut unsettled) if !unsettled.is_empty() => std::mem::take(&mut *unsettled),
            _ => return,
        };
        let count = waiting.len();
        for (i, args) in waiting.into_iter().enumerate() {
            if let Err(e) = self.eval(&self.settle, &args).await {
                tracing::warn!(error = %e, "Redis failed again while replaying settlements");
                self.keep_unsettled(args);
                return;
            }
            if i + 1 == count {
                tracing::info!(
                    count,
                    "settlements made while Redis was unreachable are counted now"
                );
            }
        }
    }

    /// Once a second: while Redis is marked unreachable (requests then do not wait on it),
    /// asks it (a PING), and once it answers sends the settlements kept meanwhile; while it
    /// answers, reads the fleet's live figures into this instance's mirror, so the dashboards,
    /// `/metrics` and the planner see traffic, spend and circuits of every instance.
    pub fn spawn_upkeep(self: Arc<Self>, config: SharedConfig, live: Arc<LiveState>) {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(UPKEEP_TICK);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                ticks.tick().await;
                if !self.is_up() {
                    let mut conn = self.conn.clone();
                    let ping = redis::cmd("PING");
                    // Its outcome is all that counts here.
                    let _ = self.timed(ping.query_async::<String>(&mut conn)).await;
                }
                if self.is_up() {
                    self.replay_unsettled().await;
                    if let Err(e) = self.mirror(&config, &live).await {
                        tracing::debug!(error = %e, "cannot read the fleet's live figures");
                    }
                }
            }
        });
    }

    /// How long `who` (user name and address) must wait before signing in again: `None` while
    /// it has fewer than `max` failures in the last `window`.
    pub async fn login_wait(
        &self,
        who: &str,
        max: usize,
        window: Duration,
    ) -> Result<Option<Duration>, FleetError> {
        let key = self.login_key(who);
        let now = now_ms();
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        let mut pipe = redis::pipe();
        pipe.cmd("ZREMRANGEBYSCORE")
            .arg(&key)
            .arg(0)
            .arg(now.saturating_sub(window_ms))
            .ignore()
            .cmd("ZCARD")
            .arg(&key)
            .cmd("ZRANGE")
            .arg(&key)
            .arg(0)
            .arg(0)
            .arg("WITHSCORES");
        let (count, oldest): (usize, Vec<(String, u64)>) = self.query(pipe).await?;
        if count < max {
            return Ok(None);
        }
        let oldest = oldest.first().map_or(now, |(_, at)| *at);
        Ok(Some(Duration::from_millis(
            (oldest + window_ms).saturating_sub(now),
        )))
    }

    /// Counts a failed sign-in of `who`, keeping its last `max` failures.
    pub async fn login_failed(
        &self,
        who: &str,
        max: usize,
        window: Duration,
    ) -> Result<(), FleetError> {
        let key = self.login_key(who);
        let now = now_ms();
        let mut pipe = redis::pipe();
        pipe.cmd("ZADD")
            .arg(&key)
            .arg(now)
            .arg(crate::store::new_id())
            .ignore()
            .cmd("ZREMRANGEBYRANK")
            .arg(&key)
            .arg(0)
            .arg(-1 - i64::try_from(max).unwrap_or(i64::MAX - 1))
            .ignore()
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(u64::try_from(window.as_millis()).unwrap_or(u64::MAX))
            .ignore();
        self.query::<()>(pipe).await
    }

    pub async fn login_succeeded(&self, who: &str) -> Result<(), FleetError> {
        let mut pipe = redis::pipe();
        pipe.cmd("DEL").arg(self.login_key(who)).ignore();
        self.query::<()>(pipe).await
    }

    fn login_key(&self, who: &str) -> String {
        format!("{}login:{who}", self.settings.prefix)
    }

    async fn query<T: redis::FromRedisValue>(
        &self,
        pipe: redis::Pipeline,
    ) -> Result<T, FleetError> {
        let mut conn = self.conn.clone();
        self.timed(pipe.query_async(&mut conn)).await
    }

    async fn mirror(&self, config: &SharedConfig, live: &LiveState) -> Result<(), FleetError> {
        let snapshot = config.load();
        let accounts: Vec<&str> = snapshot
            .routing
            .accounts()
            .map(|a| a.name.as_str())
            .collect();
        let keys: Vec<&str> = snapshot.keys.values().map(|k| k.id.as_str()).collect();
        let targets: BTreeSet<&Target> = snapshot
            .routing
            .logical_models()
            .flat_map(|m| m.targets.iter().map(|t| &t.target))
            .collect();
        let now = now_ms();
        let mut args = vec![
            self.settings.prefix.clone(),
            crate::routing::month_of(now),
            (accounts.len() + keys.len()).to_string(),
        ];
        args.extend(accounts.iter().map(|a| account_subject(a)));
        args.extend(keys.iter().map(|k| key_subject(k)));
        args.extend(targets.iter().map(|t| t.to_string()));
        let replies: Vec<Vec<i64>> = redis::from_redis_value(&self.eval(&self.read, &args).await?)?;
        let mut replies = replies.into_iter();
        for (account, reply) in accounts.iter().zip(replies.by_ref()) {
            let at = |i: usize| reply.get(i).copied().unwrap_or(0);
            let usage = RateUsage {
                requests: u32::try_from(at(0)).unwrap_or(u32::MAX),
                tokens: u64::try_from(at(1)).unwrap_or(0),
            };
            live.adopt_usage(account, usage, now);
            // No counter yet: the database's figure, resumed at start-up, stands.
            if at(2) >= 0 {
                live.adopt_spend(account, Money::from_micros(at(2)), now);
            }
        }
        for (key, reply) in keys.iter().zip(replies.by_ref()) {
            if let Some(spent) = reply.get(2).copied().filter(|spent| *spent >= 0) {
                live.adopt_key_spend(key, Money::from_micros(spent), now);
            }
        }
        for (target, reply) in targets.into_iter().zip(replies) {
            // A trial in flight elsewhere is not copied: the planner here leaves the call to
            // the fleet's admission, which says whether the trial is still out, so this
            // instance never waits on a trial that already closed the circuit.
            let circuit = match circuit_from(&reply) {
                CircuitBreaker::HalfOpen { trial_started_ms } => CircuitBreaker::Open {
                    until_ms: trial_started_ms,
                },
                circuit => circuit,
            };
            live.adopt_circuit(target, circuit);
        }
        Ok(())
    }
}

fn now_ms() -> u64 {
    u64::try_from(crate::store::now_millis()).unwrap_or(0)
}

/// What a hard budget holds for an admitted call; nothing without one.
fn held(budget: i64, estimated_cost: Money) -> i64 {
    if budget < 0 {
        0
    } else {
        estimated_cost.micros().max(0)
    }
}

/// A circuit as the scripts report it: state (0 closed, 1 open, 2 half-open), failures,
/// until_ms, trial_ms.
fn circuit_from(reply: &[i64]) -> CircuitBreaker {
    let at = |i: usize| u64::try_from(reply.get(i).copied().unwrap_or(0)).unwrap_or(0);
    match reply.first().copied().unwrap_or(0) {
        1 => CircuitBreaker::Open { until_ms: at(2) },
        2 => CircuitBreaker::HalfOpen {
            trial_started_ms: at(3),
        },
        _ => CircuitBreaker::Closed {
            consecutive_failures: u32::try_from(at(1)).unwrap_or(u32::MAX),
        },
    }
}

fn parse_settled(args: &[String], value: &redis::Value) -> Result<Settled, FleetError> {
    let replies: Vec<Vec<i64>> = redis::from_redis_value(value)?;
    let kinds = args.iter().skip(2).filter(|a| {
        matches!(
            a.as_str(),
            "tokens" | "count" | "spend" | "success" | "failure"
        )
    });
    let mut settled = Settled::default();
    let mut spends = Vec::new();
    for (kind, reply) in kinds.zip(replies) {
        match kind.as_str() {
            "spend" => {
                let spent = reply.first().copied().unwrap_or_default();
                spends.push(SettledSpend {
                    spent: Money::from_micros(spent),
                    reached: reply
                        .iter()
                        .skip(1)
                        .map(|p| u8::try_from(*p).unwrap_or(u8::MAX))
                        .collect(),
                });
            }
            "success" | "failure" => settled.circuit = Some(circuit_from(&reply)),
            _ => {}
        }
    }
    // Spends come in order: the account's (when there was an account), then the key's.
    let account_first = args
        .iter()
        .skip(2)
        .position(|a| a == "spend")
        .is_some_and(|at| {
            args.get(at + 3)
                .is_some_and(|subject| subject.starts_with("a:"))
        });
    let mut spends = spends.into_iter();
    if account_first {
        settled.account = spends.next();
    }
    settled.key = spends.next();
    Ok(settled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failure_setting_reads_open_or_closed() {
        assert_eq!("open".parse(), Ok(OnRedisFailure::Open));
        assert_eq!(" closed".parse(), Ok(OnRedisFailure::Closed));
        assert!("maybe".parse::<OnRedisFailure>().is_err());
    }

    #[test]
    fn the_script_hash_is_redis_sha1() {
        // SHA-1 of the empty string, as SCRIPT LOAD "" answers.
        assert_eq!(
            Script::new("").sha,
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
    }
}
