//! Running a plan: try the candidates in order, fall back on retryable failures (DESIGN §3 step
//! 4), and answer with the first success, non-streamed or as SSE in the app's API (OpenAI chunks,
//! or Anthropic events for `/v1/messages`). Every attempt is settled in live state (rate window,
//! circuit, health) and every request goes to the ledger. Chat completions, Messages and
//! embeddings all take this one path; only the provider call and the encoding of the answer
//! differ, by [`Payload`].

use super::error::{ErrorShape, ProxyError};
use super::messages::{self, EventWriter, MessagesCall};
use crate::cache::{CacheUse, CachedAnswer, CachedBody, ResponseCache, CACHE_HEADER};
use crate::domain::KEY_SUBJECT;
use crate::domain::{Money, ProviderKind, Target};
use crate::fleet::{CallClaim, CallEnd, Fleet, Hold, KeyClaim, OnRedisFailure, Refused};
use crate::providers::types::Usage;
use crate::providers::{
    adapter_for, native_messages, native_messages_stream, peek_first, AzureExtras, CallContext,
    ChatRequest, ChunkStream, EmbeddingsRequest, ItemStream, NativeEvent, ProviderClients,
    ProviderError, StreamItem,
};
use crate::routing::{
    month_of, retry_backoff_ms, Attempt, AttemptOutcome, Candidate, CircuitBreaker, LiveState,
    Plan, Reservation, RouteRequest, RoutingError, Skip, SkipReason,
};
use crate::snapshot::{AccountConnection, ConfigSnapshot, GatewayKey};
use crate::telemetry::metrics::{status_class, Labels};
use crate::telemetry::{BudgetAlert, CacheOutcome, Telemetry, UsageEvent};
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use rand::Rng;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

const POLICY_HEADER: &str = "x-switchyard-policy";
const ACCOUNT_HEADER: &str = "x-switchyard-account";
const PROVIDER_MODEL_HEADER: &str = "x-switchyard-provider-model";
const ATTEMPTS_HEADER: &str = "x-switchyard-attempts";

/// nginx's status for a request the client gave up on, kept in the ledger only.
const CLIENT_CLOSED_REQUEST: u16 = 499;

/// A reason longer than this is cut in the header; the log has it whole.
const MAX_REASON_CHARS: usize = 160;

/// What the proxy shares with every request.
pub struct Runtime<'a> {
    pub config: Arc<ConfigSnapshot>,
    pub live: &'a Arc<LiveState>,
    pub telemetry: &'a Telemetry,
    pub clients: &'a ProviderClients,
    pub cache: &'a ResponseCache,
    /// The fleet's shared limits, circuits and budgets, when `REDIS_URL` is set.
    pub fleet: Option<&'a Arc<Fleet>>,
    /// True once the shutdown grace period is over.
    pub cut: tokio::sync::watch::Receiver<bool>,
}

/// What the app asked for, in the API it spoke.
pub enum Payload {
    Chat(ChatRequest),
    Messages(MessagesCall),
    Embeddings(EmbeddingsRequest),
}

impl Payload {
    pub fn error_shape(&self) -> ErrorShape {
        match self {
            Payload::Messages(_) => ErrorShape::Anthropic,
            Payload::Chat(_) | Payload::Embeddings(_) => ErrorShape::OpenAi,
        }
    }

    /// What a target of this provider could not carry, checked before any call: a Messages
    /// request using what only Anthropic has.
    fn inexpressible_on(&self, kind: ProviderKind) -> Option<&str> {
        match self {
            Payload::Messages(call) if kind != ProviderKind::Anthropic => {
                call.untranslatable.as_deref()
            }
            _ => None,
        }
    }
}

/// One authenticated, parsed and classified request.
pub struct Prepared {
    pub key: GatewayKey,
    pub payload: Payload,
    pub route: RouteRequest,
    pub started: Instant,
    /// Set when the answer may come from, and go to, the response cache.
    pub cache: Option<CacheUse>,
}

pub fn now_ms() -> u64 {
    u64::try_from(crate::store::now_millis()).unwrap_or(0)
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// What happened to each target, for `x-switchyard-attempts`, the request log and the error
/// message when nothing is left.
#[derive(Default)]
struct Trail {
    /// The route's strategy, and the canary arm when the policy split its traffic.
    strategy: String,
    entries: Vec<String>,
    calls: u32,
    /// Soonest time (ms) a rate-limited candidate has room again, while all were rate-limited.
    rate_limit_waits: Vec<u64>,
    all_rate_limited: bool,
    all_timed_out: bool,
    /// What the request uses that the skipped targets' providers cannot express, while every
    /// target was skipped for that.
    inexpressible: Option<String>,
    all_inexpressible: bool,
}

impl Trail {
    fn new(strategy: String, skips: &[Skip]) -> Self {
        let mut trail = Trail {
            strategy,
            all_rate_limited: true,
            all_timed_out: true,
            all_inexpressible: true,
            ..Trail::default()
        };
        for skip in skips {
            trail.skipped(skip);
        }
        trail
    }

    /// `weighted`, or `weighted, arm m-candidate` when a split policy drew an arm.
    fn for_plan(plan: &Plan) -> Self {
        let mut strategy = plan.strategy_summary();
        if let Some(arm) = &plan.arm {
            strategy.push_str(", arm ");
            strategy.push_str(arm);
        }
        Trail::new(strategy, &plan.skips)
    }

    fn skipped(&mut self, skip: &Skip) {
        self.all_inexpressible = false;
        match &skip.reason {
            SkipReason::RateLimited(denial) => {
                self.rate_limit_waits.extend(denial.retry_after_ms());
            }
            // Like a full window: the app may retry once the fleet's Redis is back.
            SkipReason::BudgetUnchecked => self.rate_limit_waits.push(1_000),
            _ => self.all_rate_limited = false,
        }
        self.entries
            .push(format!("{} skipped ({})", skip.target, skip.reason));
    }

    fn unconfigured(&mut self, target: &Target) {
        self.all_rate_limited = false;
        self.all_inexpressible = false;
        self.entries.push(format!(
            "{target} skipped (no connection details for the account)"
        ));
    }

    fn inexpressible(&mut self, target: &Target, kind: ProviderKind, what: &str) {
        self.all_rate_limited = false;
        self.inexpressible.get_or_insert_with(|| what.to_string());
        self.entries.push(format!(
            "{target} skipped ({} cannot express {what})",
            kind.label()
        ));
    }

    fn failed(&mut self, target: &Target, error: &ProviderError) {
        self.all_inexpressible = false;
        match error {
            ProviderError::Upstream {
                status: 429,
                retry_after,
                ..
            } => self.rate_limit_waits.push(
                retry_after.map_or(1_000, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            ),
            _ => self.all_rate_limited = false,
        }
        if !matches!(error, ProviderError::Timeout { .. }) {
            self.all_timed_out = false;
        }
        self.entries.push(format!("{target} failed ({error})"));
    }

    fn answered(&mut self, target: &Target) {
        self.entries.push(format!("{target} ok"));
    }

    fn retrying(&mut self, target: &Target, wait_ms: u64) {
        self.entries
            .push(format!("{target} retried after {wait_ms} ms"));
    }

    fn summary(&self) -> String {
        self.entries.join("; ")
    }

    /// `N; strategy; target outcome; …` with only visible ASCII, as a header value must be.
    fn header(&self) -> HeaderValue {
        let mut text = self.calls.to_string();
        for entry in std::iter::once(&self.strategy).chain(&self.entries) {
            text.push_str("; ");
            let mut chars = entry.chars();
            text.extend(chars.by_ref().take(MAX_REASON_CHARS).map(|c| {
                if c == ' ' || c.is_ascii_graphic() {
                    c
                } else {
                    '?'
                }
            }));
            if chars.next().is_some() {
                text.push_str("...");
            }
        }
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from(self.calls))
    }

    fn exhausted(&self) -> ProxyError {
        if let (Some(what), true) = (&self.inexpressible, self.all_inexpressible) {
            return ProxyError::Inexpressible {
                what: what.clone(),
                summary: self.summary(),
            };
        }
        let retry_after_secs = (self.all_rate_limited && !self.rate_limit_waits.is_empty())
            .then(|| self.rate_limit_waits.iter().min().copied())
            .flatten()
            .map(|ms| ms.div_ceil(1000).max(1));
        ProxyError::AllFailed {
            summary: self.summary(),
            retry_after_secs,
            timed_out: self.calls > 0 && self.all_timed_out,
        }
    }
}

/// Where the answer came from, for the response headers.
struct Served<'a> {
    policy: Option<&'a str>,
    target: Option<&'a Target>,
}

fn set_headers(response: &mut Response, served: &Served<'_>, trail: &Trail) {
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    if let Some(policy) = served.policy {
        set(POLICY_HEADER, policy);
    }
    if let Some(target) = served.target {
        set(ACCOUNT_HEADER, &target.account);
        set(PROVIDER_MODEL_HEADER, &target.model);
    }
    headers.insert(HeaderName::from_static(ATTEMPTS_HEADER), trail.header());
}

pub(super) fn call_context(
    client: reqwest::Client,
    connection: &AccountConnection,
    model: &str,
) -> CallContext {
    let mut ctx = CallContext::new(
        client,
        connection.base_url.clone(),
        connection.api_key.clone(),
        model,
    );
    ctx.timeouts = connection.timeouts;
    ctx.azure = connection.azure.as_ref().map(|azure| AzureExtras {
        endpoint: azure.endpoint.clone(),
        api_version: azure.api_version.clone(),
        // A model without a deployment mapping is taken to be deployed under its own name.
        deployment: azure
            .deployments
            .get(model)
            .cloned()
            .unwrap_or_else(|| model.to_string()),
    });
    ctx
}

/// The room a gateway key's request took in the key's rate window; given back corrected with
/// the tokens used when dropped (none unless an answer says otherwise), however the request
/// ends.
struct KeyTicket {
    live: Arc<LiveState>,
    key: GatewayKey,
    reservation: Reservation,
    /// `None`: an answer without reported usage, so the estimate stays.
    tokens: Option<u32>,
    /// What the fleet counted for the key with the request's first admitted call; settled
    /// with the answering call, or alone when none answered.
    fleet: Option<(Arc<Fleet>, Hold)>,
}

impl Drop for KeyTicket {
    fn drop(&mut self) {
        self.live
            .settle_key(&self.key.id, self.reservation, self.tokens);
        if let Some((fleet, hold)) = self.fleet.take() {
            let args = fleet.settlement(&CallEnd {
                account: None,
                tokens: self.tokens,
                cost: Money::ZERO,
                circuit: None,
                key: Some((&hold, &self.key.limits)),
            });
            spawn_fleet_settlement(fleet, args, FleetFollowUp::default());
        }
    }
}

impl KeyTicket {
    /// The request was admitted by this instance alone, Redis being unreachable: its spend
    /// and place in the key's window reach the fleet when Redis is back.
    fn counted_alone(&mut self, fleet: &Arc<Fleet>, tokens: u32) {
        if self.fleet.is_none() {
            let now = now_ms();
            let seed = self.live.key_spent(&self.key.id, now);
            let hold = Hold::alone_for_key(&self.key.id, tokens, seed, now);
            self.fleet = Some((fleet.clone(), hold));
        }
    }
}

/// What to do with the fleet's answer to a settlement: follow its circuit and spend locally,
/// and raise the budget alerts it reports (once per threshold and month, fleet-wide).
#[derive(Default)]
struct FleetFollowUp {
    live: Option<Arc<LiveState>>,
    telemetry: Option<Telemetry>,
    target: Option<Target>,
    /// The account's name and budget.
    account: Option<(String, Option<Money>)>,
    /// The key's id, name and budget.
    key: Option<(String, String, Option<Money>)>,
    /// Alerts this instance computed alone, raised when Redis cannot be reached.
    local_alerts: Vec<BudgetAlert>,
    at_ms: i64,
}

fn spawn_fleet_settlement(fleet: Arc<Fleet>, args: Vec<String>, follow: FleetFollowUp) {
    fleet.spawn_settle(args, move |result| {
        let settled = match result {
            Ok(settled) => settled,
            Err(e) => {
                if !matches!(e, crate::fleet::FleetError::Unreachable) {
                    tracing::warn!(error = %e, "cannot settle a call in Redis; kept until it answers");
                }
                if let Some(telemetry) = &follow.telemetry {
                    for alert in follow.local_alerts {
                        telemetry.record_alert(alert);
                    }
                }
                return;
            }
        };
        let (Some(live), Some(telemetry)) = (follow.live, follow.telemetry) else {
            return;
        };
        let now = now_ms();
        let month = month_of(now);
        if let (Some(target), Some(circuit)) = (&follow.target, settled.circuit) {
            live.adopt_circuit(target, circuit);
        }
        let alert = |name: &str, subject: &str, budget: Option<Money>, spend: &crate::fleet::SettledSpend| {
            let Some(budget) = budget else { return };
            for threshold in &spend.reached {
                telemetry.record_alert(BudgetAlert {
                    account: name.to_string(),
                    subject: subject.to_string(),
                    month: month.clone(),
                    threshold: *threshold,
                    spent: spend.spent,
                    budget,
                    at_ms: follow.at_ms,
                });
            }
        };
        if let (Some((name, budget)), Some(spend)) = (&follow.account, &settled.account) {
            live.adopt_spend(name, spend.spent, now);
            alert(name, "", *budget, spend);
        }
        if let (Some((id, name, budget)), Some(spend)) = (&follow.key, &settled.key) {
            live.adopt_key_spend(id, spend.spent, now);
            alert(name, KEY_SUBJECT, *budget, spend);
        }
    });
}

/// Where a successful answer is stored for identical requests to come.
struct CacheFill {
    cache: ResponseCache,
    cache_use: CacheUse,
}

impl CacheFill {
    fn put(self, body: CachedBody, cost: Money) {
        self.cache.put(
            self.cache_use.key,
            CachedAnswer { body, cost },
            self.cache_use.ttl,
        );
    }
}

/// Everything settled once a call ends: live state, spend and the ledger. Dropping it settles
/// too, so a client that goes away mid-stream still has its usage counted.
struct Settlement {
    live: Arc<LiveState>,
    telemetry: Telemetry,
    config: Arc<ConfigSnapshot>,
    key: GatewayKey,
    /// Handed over by the attempt that answered; corrected with its usage.
    key_ticket: Option<KeyTicket>,
    /// Handed over by the attempt that answered, when the request may be cached.
    fill: Option<CacheFill>,
    attempt: Option<Attempt>,
    /// What the fleet counted for the call, when it admitted it.
    fleet: Option<(Arc<Fleet>, Hold)>,
    /// The provider answered; until then, settling means the client left while waiting.
    answered: bool,
    target: Target,
    call_started: Instant,
    request_started: Instant,
    usage: Option<Usage>,
    error: Option<String>,
    event: UsageEvent,
}

impl Settlement {
    fn settle(&mut self) {
        if self.attempt.is_none() {
            return;
        }
        let latency_ms = elapsed_ms(self.call_started);
        let outcome = if !self.answered {
            // Dropping the call closed the upstream connection; not the target's fault.
            self.event.status = CLIENT_CLOSED_REQUEST;
            self.error = Some("the client closed the connection before the answer".into());
            AttemptOutcome::Refused { latency_ms }
        } else if self.error.is_some() {
            AttemptOutcome::Failed { latency_ms }
        } else {
            AttemptOutcome::Answered {
                latency_ms,
                total_tokens: self
                    .usage
                    .as_ref()
                    .map(|u| u32::try_from(u.total_tokens).unwrap_or(u32::MAX)),
            }
        };
        let answered = matches!(outcome, AttemptOutcome::Answered { .. });
        self.telemetry.metrics().upstream_call(
            &Labels {
                logical_model: &self.event.logical_model,
                account: &self.target.account,
                policy: self.event.policy.as_deref().unwrap_or_default(),
                status_class: if answered { "2xx" } else { "error" },
            },
            self.call_started.elapsed(),
        );
        self.end_call(outcome, self.cost());
        let mut event = self.event.clone();
        event.cost = self.cost();
        event.latency_ms = elapsed_ms(self.request_started);
        event.error = self.error.take();
        if let Some(usage) = &self.usage {
            event.prompt_tokens = usage.prompt_tokens;
            event.completion_tokens = usage.completion_tokens;
        }
        log_request(&event);
        self.telemetry.record(event);
    }

    /// Settles the call in live state (and in the fleet's, when it admitted the call): the
    /// tokens, the circuit, the spend of the account and, for the answering call, of the key,
    /// with the budget alerts that spend newly reached.
    fn end_call(&mut self, outcome: AttemptOutcome, cost: Money) {
        let Some(attempt) = self.attempt.take() else {
            return;
        };
        let now = now_ms();
        let tokens = match outcome {
            AttemptOutcome::Answered { total_tokens, .. } => total_tokens,
            _ => Some(0),
        };
        let mut key_ticket = self.key_ticket.take();
        if let Some(ticket) = &mut key_ticket {
            ticket.tokens = tokens;
        }
        let circuit_breaker = attempt.circuit_breaker();
        self.live.finish_attempt(attempt, outcome, now);
        let mut alerts = Vec::new();
        let config = self.config.clone();
        let account = config.routing.account(&self.target.account);
        if cost > Money::ZERO {
            if let Some(account) = account {
                let thresholds = self.live.add_spend(account, cost, now);
                let spent = || self.live.account_view(&account.name, now).spent_this_month;
                alerts.extend(self.alerts(
                    &account.name,
                    "",
                    thresholds,
                    account.monthly_budget,
                    spent,
                    now,
                ));
            }
            let key = &self.key;
            let thresholds = self.live.add_key_spend(&key.id, &key.limits, cost, now);
            let spent = || self.live.key_spent(&key.id, now);
            alerts.extend(self.alerts(
                &key.name,
                KEY_SUBJECT,
                thresholds,
                key.limits.monthly_budget,
                spent,
                now,
            ));
        }
        let Some((fleet, hold)) = self.fleet.take() else {
            for alert in alerts {
                self.telemetry.record_alert(alert);
            }
            return;
        };
        let key_hold = key_ticket.as_mut().and_then(|ticket| ticket.fleet.take());
        let target_ok = !matches!(outcome, AttemptOutcome::Failed { .. });
        let args = fleet.settlement(&CallEnd {
            account: account.map(|account| (&hold, account)),
            tokens,
            cost,
            circuit: Some((&self.target, target_ok, circuit_breaker)),
            key: key_hold.as_ref().map(|(_, hold)| (hold, &self.key.limits)),
        });
        let follow = FleetFollowUp {
            live: Some(self.live.clone()),
            telemetry: Some(self.telemetry.clone()),
            target: Some(self.target.clone()),
            account: account.map(|a| (a.name.clone(), a.monthly_budget)),
            key: key_hold.as_ref().map(|_| {
                (
                    self.key.id.clone(),
                    self.key.name.clone(),
                    self.key.limits.monthly_budget,
                )
            }),
            local_alerts: alerts,
            at_ms: self.event.at_ms,
        };
        spawn_fleet_settlement(fleet, args, follow);
    }

    /// One budget alert per threshold newly reached by an account's (`subject` empty) or a
    /// gateway key's spend.
    fn alerts(
        &self,
        name: &str,
        subject: &str,
        thresholds: Vec<u8>,
        budget: Option<Money>,
        spent: impl FnOnce() -> Money,
        now: u64,
    ) -> Vec<BudgetAlert> {
        let Some(budget) = budget.filter(|_| !thresholds.is_empty()) else {
            return Vec::new();
        };
        let (month, spent) = (month_of(now), spent());
        thresholds
            .into_iter()
            .map(|threshold| BudgetAlert {
                account: name.to_string(),
                subject: subject.to_string(),
                month: month.clone(),
                threshold,
                spent,
                budget,
                at_ms: self.event.at_ms,
            })
            .collect()
    }

    /// Provider-reported tokens × the price table; the seed price when the table lacks the model.
    fn cost(&self) -> Money {
        let (Some(usage), Some(price)) = (&self.usage, self.config.routing.price(&self.target))
        else {
            return Money::ZERO;
        };
        price.cost(usage.prompt_tokens, usage.completion_tokens)
    }
}

impl Drop for Settlement {
    fn drop(&mut self) {
        self.settle();
    }
}

fn log_request(event: &UsageEvent) {
    tracing::info!(
        target: super::REQUEST_LOG_TARGET,
        key = %event.key_id,
        model = %event.logical_model,
        policy = event.policy.as_deref().unwrap_or("-"),
        account = event.account.as_deref().unwrap_or("-"),
        provider_model = event.provider_model.as_deref().unwrap_or("-"),
        status = event.status,
        attempts = event.attempts,
        latency_ms = event.latency_ms,
        error = event.error.as_deref().unwrap_or(""),
        "proxied request"
    );
}

fn draft_event(prepared: &Prepared, plan: Option<&Plan>) -> UsageEvent {
    UsageEvent {
        id: crate::store::new_event_id(),
        at_ms: crate::store::now_millis(),
        key_id: prepared.key.id.clone(),
        logical_model: prepared.route.logical_model.clone(),
        policy: plan.and_then(|p| p.policy.clone()),
        arm: plan.and_then(|p| p.arm.clone()),
        step_type: prepared.route.step_type.as_str().to_string(),
        purpose: prepared.route.purpose.as_str().to_string(),
        account: None,
        provider_model: None,
        stream: prepared.route.needs.streaming,
        status: 200,
        attempts: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
        cost: Money::ZERO,
        latency_ms: 0,
        error: None,
        trail: None,
        cache: prepared.cache.map(|_| CacheOutcome::Miss),
        saved: Money::ZERO,
    }
}

/// Answers from the cache: no provider, no rate window or budget touched; the ledger row
/// records the hit and what it saved.
fn serve_cached(runtime: &Runtime<'_>, prepared: &Prepared, answer: &CachedAnswer) -> Response {
    let mut event = draft_event(prepared, None);
    event.cache = Some(CacheOutcome::Hit);
    event.saved = answer.cost;
    event.trail = Some("answered from the response cache".into());
    event.latency_ms = elapsed_ms(prepared.started);
    log_request(&event);
    runtime.telemetry.record(event);
    let mut response = match &answer.body {
        CachedBody::Complete(json) => json_response(json.clone()),
        CachedBody::Stream(events) => {
            let events: Vec<Result<Bytes, Infallible>> =
                events.iter().map(|e| Ok(Bytes::from(e.clone()))).collect();
            sse_response(Body::from_stream(futures_util::stream::iter(events)))
        }
    };
    let headers = response.headers_mut();
    headers.insert(CACHE_HEADER, HeaderValue::from_static("hit"));
    headers.insert(
        HeaderName::from_static(ATTEMPTS_HEADER),
        HeaderValue::from(0),
    );
    response
}

fn json_response(json: impl Into<Body>) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json.into(),
    )
        .into_response()
}

fn sse_response(body: Body) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Ledger entry for a request that got no answer from any provider.
fn record_failure(
    runtime: &Runtime<'_>,
    prepared: &Prepared,
    plan: Option<&Plan>,
    last: Option<&Target>,
    trail: Option<&Trail>,
    error: &ProxyError,
) {
    let mut event = draft_event(prepared, plan);
    event.account = last.map(|t| t.account.clone());
    event.provider_model = last.map(|t| t.model.clone());
    event.status = error.status().as_u16();
    event.attempts = trail.map_or(0, |t| t.calls);
    event.trail = trail.map(Trail::summary);
    event.latency_ms = elapsed_ms(prepared.started);
    event.error = Some(error.to_string());
    log_request(&event);
    runtime.telemetry.record(event);
}

/// Answers from the cache when it can; else holds the key to its limits, plans and runs the
/// request. Always answers.
pub async fn run(runtime: Runtime<'_>, prepared: Prepared) -> Response {
    if let Some(cache_use) = &prepared.cache {
        if let Some(answer) = runtime.cache.get(&cache_use.key).await {
            return serve_cached(&runtime, &prepared, &answer);
        }
    }
    let key = &prepared.key;
    // While Redis answers, the fleet holds the key to its limits with the first call and this
    // instance only counts it; otherwise this instance decides.
    let mut fleet = runtime.fleet.filter(|f| f.is_up()).cloned();
    if let (Some(shared), None) = (runtime.fleet, &fleet) {
        if let Some(error) = fleet_unavailable(shared, key) {
            record_failure(&runtime, &prepared, None, None, None, &error);
            return error.into_response_as(prepared.payload.error_shape());
        }
    }
    let admitted = match fleet {
        Some(_) => Ok(runtime
            .live
            .track_key(&key.id, prepared.route.estimated_tokens, now_ms())),
        None => runtime.live.admit_key(
            &key.id,
            &key.limits,
            prepared.route.estimated_tokens,
            now_ms(),
        ),
    };
    let mut key_ticket = match admitted {
        Ok(reservation) => {
            let mut ticket = KeyTicket {
                live: runtime.live.clone(),
                key: key.clone(),
                reservation,
                tokens: Some(0),
                fleet: None,
            };
            if let (Some(shared), None) = (runtime.fleet, &fleet) {
                ticket.counted_alone(shared, prepared.route.estimated_tokens);
            }
            Some(ticket)
        }
        Err(refusal) => {
            let error = ProxyError::Routing(RoutingError::KeyRefused {
                key: key.name.clone(),
                refusal,
            });
            record_failure(&runtime, &prepared, None, None, None, &error);
            return error.into_response();
        }
    };
    let planned = crate::routing::plan(
        &runtime.config.routing,
        &prepared.route,
        &**runtime.live,
        now_ms(),
        &mut rand::thread_rng(),
    );
    let plan = match planned {
        Ok(plan) => plan,
        Err(e) => {
            let error = ProxyError::from(e);
            record_failure(&runtime, &prepared, None, None, None, &error);
            let mut response = error.into_response_as(prepared.payload.error_shape());
            // The skips are in the message; the header still says how many calls were made.
            response.headers_mut().insert(
                HeaderName::from_static(ATTEMPTS_HEADER),
                HeaderValue::from(0),
            );
            return response;
        }
    };
    runtime.live.record_plan(&plan);
    let mut trail = Trail::for_plan(&plan);
    let mut last: Option<&Target> = None;
    for candidate in &plan.candidates {
        let target = &candidate.target;
        let Some(connection) = runtime.config.connections.get(&target.account) else {
            trail.unconfigured(target);
            continue;
        };
        if let Some(what) = prepared.payload.inexpressible_on(connection.kind) {
            trail.inexpressible(target, connection.kind, what);
            continue;
        }
        let retries = runtime
            .config
            .routing
            .logical_model(&candidate.logical_model)
            .map_or(0, |model| model.retries);
        let mut retried = 0;
        // Each pass is one call to this target: the first, then up to `retries` repeats.
        loop {
            let begun = begin_call(
                &runtime,
                &prepared,
                &plan,
                candidate,
                &mut fleet,
                &mut key_ticket,
            )
            .await;
            let (attempt, fleet_hold) = match begun {
                Begun::Call(attempt, hold) => (attempt, hold),
                Begun::Skip(skip) => {
                    trail.skipped(&skip);
                    break;
                }
                Begun::Refuse(error) => {
                    record_failure(&runtime, &prepared, Some(&plan), last, Some(&trail), &error);
                    return respond_error(error, &prepared, &plan, last, &trail);
                }
            };
            trail.calls += 1;
            last = Some(target);
            let call_started = Instant::now();
            let mut event = draft_event(&prepared, Some(&plan));
            event.account = Some(target.account.clone());
            event.provider_model = Some(target.model.clone());
            event.attempts = trail.calls;
            // Created before the call so that a client leaving mid-call still settles the attempt.
            let mut settlement = Settlement {
                live: runtime.live.clone(),
                telemetry: runtime.telemetry.clone(),
                config: runtime.config.clone(),
                key: prepared.key.clone(),
                key_ticket: None,
                fill: None,
                attempt: Some(attempt),
                fleet: fleet_hold,
                answered: false,
                target: target.clone(),
                call_started,
                request_started: prepared.started,
                usage: None,
                error: None,
                event,
            };
            let result = match runtime.clients.for_timeouts(&connection.timeouts) {
                Ok(client) => {
                    let ctx = call_context(client, connection, &target.model);
                    let mut cut = runtime.cut.clone();
                    tokio::select! {
                        result = call(connection, &ctx, &prepared) => result,
                        _ = cut.wait_for(|cut| *cut) => {
                            let error = ProxyError::ShuttingDown;
                            settlement.error = Some(error.to_string());
                            settlement.answered = true;
                            drop(settlement);
                            return error.into_response_as(prepared.payload.error_shape());
                        }
                    }
                }
                Err(e) => Err(ProviderError::Config {
                    provider: connection.kind,
                    message: format!("cannot build an HTTP client: {e}"),
                }),
            };
            let answer = match result {
                Ok(answer) => answer,
                Err(error) => {
                    let latency_ms = elapsed_ms(call_started);
                    // Revoked or wrong credentials are the account's fault, not the request's:
                    // the next target may well answer.
                    let credentials_rejected = match &error {
                        ProviderError::Upstream { status, .. } if matches!(status, 401 | 403) => {
                            Some(*status)
                        }
                        _ => None,
                    };
                    let retryable = error.is_retryable() || credentials_rejected.is_some();
                    let outcome = if retryable {
                        AttemptOutcome::Failed { latency_ms }
                    } else {
                        AttemptOutcome::Refused { latency_ms }
                    };
                    settlement.end_call(outcome, Money::ZERO);
                    runtime.telemetry.metrics().upstream_call(
                        &Labels {
                            logical_model: &prepared.route.logical_model,
                            account: &target.account,
                            policy: plan.policy.as_deref().unwrap_or_default(),
                            status_class: match &error {
                                ProviderError::Upstream { status, .. } => status_class(*status),
                                _ => "error",
                            },
                        },
                        call_started.elapsed(),
                    );
                    if let Some(status) = credentials_rejected {
                        runtime.live.reject_credentials(&target.account, status);
                    }
                    tracing::warn!(target = %target, error = %error, retryable, "provider call failed");
                    trail.failed(target, &error);
                    // Only errors before any output reach here (a stream is answered once its
                    // first chunk arrived), so a retry never repeats output the app has seen.
                    if let Some(wait_ms) = retry_wait_ms(&error, retried, retries) {
                        retried += 1;
                        runtime.live.record_retry(&plan);
                        trail.retrying(target, wait_ms);
                        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
                        continue;
                    }
                    if retryable {
                        break;
                    }
                    let error = ProxyError::Provider(error);
                    record_failure(&runtime, &prepared, Some(&plan), last, Some(&trail), &error);
                    return respond_error(error, &prepared, &plan, last, &trail);
                }
            };
            trail.answered(target);
            settlement.answered = true;
            settlement.key_ticket = key_ticket.take();
            settlement.fill = prepared.cache.map(|cache_use| CacheFill {
                cache: runtime.cache.clone(),
                cache_use,
            });
            settlement.event.trail = Some(trail.summary());
            let served = Served {
                policy: plan.policy.as_deref(),
                target: Some(target),
            };
            let cut = runtime.cut.clone();
            let mut response = match answer {
                Answer::Complete { body, usage } => complete_response(body, usage, settlement),
                Answer::Chunks(chunks, ChunkFormat::Anthropic) => {
                    stream_response(chunks, EventWriter::default(), settlement, cut)
                }
                Answer::Chunks(chunks, ChunkFormat::OpenAi(encoder)) => {
                    stream_response(chunks, encoder, settlement, cut)
                }
                Answer::Native(events) => stream_response(events, NativeEvents, settlement, cut),
            };
            set_headers(&mut response, &served, &trail);
            if prepared.cache.is_some() {
                response
                    .headers_mut()
                    .insert(CACHE_HEADER, HeaderValue::from_static("miss"));
            }
            return response;
        }
    }
    let error = trail.exhausted();
    record_failure(&runtime, &prepared, Some(&plan), last, Some(&trail), &error);
    // No account answered, so none is named; the attempts header lists every one.
    respond_error(error, &prepared, &plan, None, &trail)
}

/// A call claimed, a candidate skipped, or the request refused.
enum Begun {
    Call(Attempt, Option<(Arc<Fleet>, Hold)>),
    Skip(Skip),
    Refuse(ProxyError),
}

/// Claims one call: in the fleet's shared state while Redis answers (the request's key with
/// its first admitted call), else in this instance's own. `fleet` turns `None` for the rest
/// of the request when Redis stops answering.
async fn begin_call(
    runtime: &Runtime<'_>,
    prepared: &Prepared,
    plan: &Plan,
    candidate: &Candidate,
    fleet: &mut Option<Arc<Fleet>>,
    key_ticket: &mut Option<KeyTicket>,
) -> Begun {
    let now = now_ms();
    let tokens = prepared.route.estimated_tokens;
    let target = &candidate.target;
    let skip = |reason| {
        Begun::Skip(Skip {
            target: target.clone(),
            reason,
        })
    };
    let Some(account) = runtime.config.routing.account(&target.account) else {
        return skip(SkipReason::AccountNotConfigured);
    };
    if let Some(shared) = fleet.clone() {
        let key = &prepared.key;
        let month = month_of(now);
        let claim = CallClaim {
            key: key_ticket
                .as_ref()
                .is_some_and(|ticket| ticket.fleet.is_none())
                .then(|| KeyClaim {
                    id: &key.id,
                    limits: &key.limits,
                    seed: runtime.live.key_spent(&key.id, now),
                }),
            account,
            account_seed: runtime.live.account_spent(&account.name, now),
            target,
            circuit: plan.circuit_breaker,
            tokens,
            estimated_cost: estimated_cost(runtime, prepared, target),
            month: &month,
        };
        match shared.admit(&claim).await {
            Ok(Ok(admitted)) => {
                if let (Some(ticket), Some(hold)) = (key_ticket.as_mut(), admitted.key) {
                    ticket.fleet = Some((shared.clone(), hold));
                }
                let attempt =
                    runtime
                        .live
                        .track_attempt(plan, candidate, tokens, admitted.trial, now);
                return Begun::Call(attempt, Some((shared, admitted.account)));
            }
            Ok(Err(Refused::Key(refusal))) => {
                return Begun::Refuse(ProxyError::Routing(RoutingError::KeyRefused {
                    key: key.name.clone(),
                    refusal,
                }));
            }
            Ok(Err(Refused::Target(reason))) => return skip(reason),
            Ok(Err(Refused::CircuitOpen { until_ms })) => {
                // Opened elsewhere in the fleet: the planner here skips it too until then.
                runtime
                    .live
                    .adopt_circuit(target, CircuitBreaker::Open { until_ms });
                return skip(SkipReason::CircuitOpen { until_ms });
            }
            Err(e) => {
                tracing::warn!(error = %e, "the fleet's shared limits cannot be reached");
                *fleet = None;
                if let Some(error) = fleet_unavailable(&shared, &prepared.key) {
                    return Begun::Refuse(error);
                }
                if let Some(ticket) = key_ticket {
                    ticket.counted_alone(&shared, tokens);
                }
            }
        }
    }
    let Some(shared) = runtime.fleet else {
        return match runtime.live.begin_attempt(
            &runtime.config.routing,
            plan,
            candidate,
            tokens,
            now,
        ) {
            Ok(attempt) => Begun::Call(attempt, None),
            Err(skip) => Begun::Skip(skip),
        };
    };
    // Redis is unreachable and the setting says fail open: this instance decides alone, except
    // on hard budgets, which fail closed (no instance may check one on its own count).
    if account.monthly_budget.is_some() && !account.soft_budget {
        return skip(SkipReason::BudgetUnchecked);
    }
    match runtime
        .live
        .begin_attempt(&runtime.config.routing, plan, candidate, tokens, now)
    {
        Ok(attempt) => {
            let seed = runtime.live.account_spent(&account.name, now);
            let hold = Hold::alone_for_account(&account.name, tokens, seed, now);
            Begun::Call(attempt, Some((shared.clone(), hold)))
        }
        Err(skip) => Begun::Skip(skip),
    }
}

/// While Redis cannot be reached: counts the request as decided without it, and refuses it
/// when `SWITCHYARD_REDIS_FAILURE=closed` or when its key has a hard budget.
fn fleet_unavailable(fleet: &Fleet, key: &GatewayKey) -> Option<ProxyError> {
    fleet.count_fallback();
    if fleet.on_failure() == OnRedisFailure::Closed {
        return Some(ProxyError::SharedStateUnavailable(
            "the fleet's shared limits (Redis) cannot be reached, and this gateway refuses requests until they are back",
        ));
    }
    (key.limits.monthly_budget.is_some() && !key.limits.soft_budget).then_some(
        ProxyError::SharedStateUnavailable(
            "the fleet's shared limits (Redis) cannot be reached, so this gateway key's hard budget cannot be checked",
        ),
    )
}

/// The most a call may cost: the request's estimated tokens at the target's price.
fn estimated_cost(runtime: &Runtime<'_>, prepared: &Prepared, target: &Target) -> Money {
    let route = &prepared.route;
    runtime
        .config
        .routing
        .price(target)
        .map_or(Money::ZERO, |price| {
            price.cost(
                u64::from(route.estimated_prompt_tokens),
                u64::from(
                    route
                        .estimated_tokens
                        .saturating_sub(route.estimated_prompt_tokens),
                ),
            )
        })
}

/// How long to wait before calling the same target again, or `None` to fall back instead:
/// only retryable failures, at most `retries` times, and not when a rate limit asks for a
/// longer wait than the backoff would give (the next target is the better bet then).
fn retry_wait_ms(error: &ProviderError, retried: u32, retries: u32) -> Option<u64> {
    if !error.is_retryable() || retried >= retries {
        return None;
    }
    let wait_ms = retry_backoff_ms(retried, rand::thread_rng().gen());
    match error {
        ProviderError::Upstream {
            status: 429,
            retry_after: Some(after),
            ..
        } if after.as_millis() > u128::from(wait_ms) => None,
        _ => Some(wait_ms),
    }
}

/// `answered_by` is the account whose refusal is passed on, if any.
fn respond_error(
    error: ProxyError,
    prepared: &Prepared,
    plan: &Plan,
    answered_by: Option<&Target>,
    trail: &Trail,
) -> Response {
    let mut response = error.into_response_as(prepared.payload.error_shape());
    let served = Served {
        policy: plan.policy.as_deref(),
        target: answered_by,
    };
    set_headers(&mut response, &served, trail);
    response
}

enum Answer {
    /// The whole answer, encoded for the app, with the usage it reports.
    Complete {
        body: Vec<u8>,
        usage: Option<Usage>,
    },
    Chunks(ChunkStream, ChunkFormat),
    /// Anthropic's events passed through to a Messages app.
    Native(ItemStream<NativeEvent>),
}

/// How canonical chunks reach the app: as OpenAI chunks, or Anthropic events for `/v1/messages`.
enum ChunkFormat {
    OpenAi(OpenAiChunks),
    Anthropic,
}

fn encoded(provider: ProviderKind, body: &impl serde::Serialize) -> Result<Vec<u8>, ProviderError> {
    serde_json::to_vec(body).map_err(|e| ProviderError::bad_response(provider, e))
}

/// One provider call in the form the payload needs. A stream counts as answered only once its
/// first output arrived, so a provider failing before its first token can still be fallen back
/// from.
async fn call(
    connection: &AccountConnection,
    ctx: &CallContext,
    prepared: &Prepared,
) -> Result<Answer, ProviderError> {
    let kind = connection.kind;
    let adapter = adapter_for(kind);
    let (chat, format) = match &prepared.payload {
        Payload::Messages(call) if kind == ProviderKind::Anthropic => {
            let beta = call.beta.as_deref();
            return if prepared.route.needs.streaming {
                let events = native_messages_stream(ctx, &call.body, beta).await?;
                Ok(Answer::Native(peek_first(kind, events).await?))
            } else {
                let (body, usage) = native_messages(ctx, &call.body, beta).await?;
                Ok(Answer::Complete {
                    body: encoded(kind, &body)?,
                    usage: Some(usage),
                })
            };
        }
        Payload::Embeddings(request) => {
            let embeddings = adapter.embed(ctx, request).await?;
            let expected = request.texts().len();
            if embeddings.vectors.len() != expected {
                return Err(ProviderError::bad_response(
                    kind,
                    format!("{} vectors for {expected} inputs", embeddings.vectors.len()),
                ));
            }
            // Gemini does not count embedding tokens; the estimate prices the call then.
            let tokens = embeddings
                .prompt_tokens
                .unwrap_or(u64::from(prepared.route.estimated_prompt_tokens));
            let format = request.encoding_format.unwrap_or_default();
            let body = super::embeddings::response(embeddings, format, &ctx.model, tokens);
            return Ok(Answer::Complete {
                body: encoded(kind, &body)?,
                usage: Some(Usage::new(tokens, 0)),
            });
        }
        Payload::Messages(call) => (&call.chat, ChunkFormat::Anthropic),
        Payload::Chat(request) => {
            let include_usage = request
                .stream_options
                .as_ref()
                .and_then(|o| o.include_usage)
                == Some(true);
            (request, ChunkFormat::OpenAi(OpenAiChunks { include_usage }))
        }
    };
    if prepared.route.needs.streaming {
        let chunks = adapter.stream(ctx, chat).await?;
        return Ok(Answer::Chunks(peek_first(kind, chunks).await?, format));
    }
    let answer = adapter.send(ctx, chat).await?;
    let usage = answer.usage.clone();
    let body = match &prepared.payload {
        Payload::Messages(_) => encoded(kind, &messages::response(answer))?,
        _ => encoded(kind, &answer)?,
    };
    Ok(Answer::Complete { body, usage })
}

fn complete_response(body: Vec<u8>, usage: Option<Usage>, mut settlement: Settlement) -> Response {
    settlement.usage = usage;
    if let Some(fill) = settlement.fill.take() {
        fill.put(
            CachedBody::Complete(String::from_utf8_lossy(&body).into_owned()),
            settlement.cost(),
        );
    }
    settlement.settle();
    json_response(body)
}

/// How the pieces of a stream are written for the app.
trait SseEncoder<T>: Send + 'static {
    /// The SSE text for one piece; empty sends nothing.
    fn piece(&mut self, piece: T) -> String;
    /// What follows the provider's last piece.
    fn end(&mut self) -> String;
    /// The event that ends a stream failing after its first byte.
    fn error(&self, error: &ProxyError) -> String;
}

/// OpenAI SSE. Usage the app did not ask for is taken out (the adapters always request it, for
/// spend).
struct OpenAiChunks {
    include_usage: bool,
}

impl SseEncoder<crate::providers::ChatChunk> for OpenAiChunks {
    fn piece(&mut self, mut chunk: crate::providers::ChatChunk) -> String {
        if chunk.usage.is_some() && !self.include_usage {
            if chunk.choices.is_empty() {
                return String::new();
            }
            chunk.usage = None;
        }
        match serde_json::to_string(&chunk) {
            Ok(json) => format!("data: {json}\n\n"),
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a stream chunk");
                String::new()
            }
        }
    }

    fn end(&mut self) -> String {
        "data: [DONE]\n\n".to_string()
    }

    fn error(&self, error: &ProxyError) -> String {
        format!("data: {}\n\n", error.body())
    }
}

fn anthropic_error_event(error: &ProxyError) -> String {
    format!(
        "event: error\ndata: {}\n\n",
        error.body_as(ErrorShape::Anthropic)
    )
}

/// Canonical chunks as Anthropic events, for a Messages app served by another provider.
impl SseEncoder<crate::providers::ChatChunk> for EventWriter {
    fn piece(&mut self, chunk: crate::providers::ChatChunk) -> String {
        self.chunk(chunk)
    }

    fn end(&mut self) -> String {
        EventWriter::end(self)
    }

    fn error(&self, error: &ProxyError) -> String {
        anthropic_error_event(error)
    }
}

/// Anthropic's own events, relayed as they came; `message_stop` already ended the stream.
struct NativeEvents;

impl SseEncoder<NativeEvent> for NativeEvents {
    fn piece(&mut self, event: NativeEvent) -> String {
        if event.event.is_empty() {
            format!("data: {}\n\n", event.data)
        } else {
            format!("event: {}\ndata: {}\n\n", event.event, event.data)
        }
    }

    fn end(&mut self) -> String {
        String::new()
    }

    fn error(&self, error: &ProxyError) -> String {
        anthropic_error_event(error)
    }
}

/// Relays the stream as SSE and records its usage. An error after the first byte ends the
/// stream with an error event, as there is no status left to change.
fn stream_response<T: StreamItem, E: SseEncoder<T>>(
    pieces: ItemStream<T>,
    encoder: E,
    settlement: Settlement,
    cut: tokio::sync::watch::Receiver<bool>,
) -> Response {
    struct Relay<T, E> {
        pieces: ItemStream<T>,
        encoder: E,
        done: bool,
        /// Stored once the stream ended well, for replay to identical requests.
        fill: Option<CacheFill>,
        /// The events sent so far, while the answer may be cached.
        sent: Vec<String>,
        settlement: Settlement,
        cut: tokio::sync::watch::Receiver<bool>,
    }
    let mut settlement = settlement;
    let relay = Relay {
        pieces,
        encoder,
        done: false,
        fill: settlement.fill.take(),
        sent: Vec::new(),
        settlement,
        cut,
    };
    let events = futures_util::stream::unfold(relay, |mut relay| async move {
        loop {
            if relay.done {
                return None;
            }
            let next = tokio::select! {
                next = relay.pieces.next() => Some(next),
                _ = relay.cut.wait_for(|cut| *cut) => None,
            };
            let Some(next) = next else {
                relay.done = true;
                let error = ProxyError::ShuttingDown;
                relay.settlement.error = Some(error.to_string());
                relay.settlement.settle();
                let event = relay.encoder.error(&error);
                return Some((Ok(Bytes::from(event)), relay));
            };
            let event = match next {
                Some(Ok(piece)) => {
                    if let Some(usage) = piece.usage() {
                        relay.settlement.usage = Some(usage.clone());
                    }
                    let event = relay.encoder.piece(piece);
                    if event.is_empty() {
                        continue;
                    }
                    if relay.fill.is_some() {
                        relay.sent.push(event.clone());
                    }
                    event
                }
                Some(Err(error)) => {
                    relay.done = true;
                    relay.settlement.error = Some(error.to_string());
                    relay.settlement.settle();
                    relay.encoder.error(&ProxyError::Provider(error))
                }
                None => {
                    relay.done = true;
                    let event = relay.encoder.end();
                    if let Some(fill) = relay.fill.take() {
                        let cost = relay.settlement.cost();
                        let mut sent = std::mem::take(&mut relay.sent);
                        sent.push(event.clone());
                        fill.put(CachedBody::Stream(sent), cost);
                    }
                    relay.settlement.settle();
                    if event.is_empty() {
                        return None;
                    }
                    event
                }
            };
            return Some((Ok::<_, Infallible>(Bytes::from(event)), relay));
        }
    });
    sse_response(Body::from_stream(events))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ProviderKind;

    fn target(account: &str) -> Target {
        Target {
            account: account.into(),
            model: "m".into(),
        }
    }

    #[test]
    fn the_attempts_header_is_plain_ascii_and_bounded() {
        let mut trail = Trail::new("ordered".into(), &[]);
        trail.calls = 2;
        trail.failed(
            &target("a"),
            &ProviderError::Upstream {
                provider: ProviderKind::Openai,
                status: 500,
                message: format!("déjà vu\n{}", "x".repeat(500)),
                retry_after: None,
            },
        );
        trail.answered(&target("b"));
        let header = trail.header();
        let text = header.to_str().unwrap();
        assert!(
            text.starts_with("2; ordered; a/m failed (openai returned HTTP 500: d?j? vu?xx"),
            "{text}"
        );
        assert!(text.ends_with("...; b/m ok"), "{text}");
        assert!(text.len() < 200, "{}", text.len());
    }

    #[test]
    fn exhausted_is_429_only_when_everything_was_rate_limited() {
        let limited = ProviderError::Upstream {
            provider: ProviderKind::Anthropic,
            status: 429,
            message: "slow down".into(),
            retry_after: Some(std::time::Duration::from_secs(7)),
        };
        let mut trail = Trail::new("ordered".into(), &[]);
        trail.failed(&target("a"), &limited);
        trail.failed(&target("b"), &limited);
        assert_eq!(trail.exhausted().status(), StatusCode::TOO_MANY_REQUESTS);
        trail.failed(
            &target("c"),
            &ProviderError::Connect {
                provider: ProviderKind::Openai,
                message: "refused".into(),
            },
        );
        assert_eq!(trail.exhausted().status(), StatusCode::SERVICE_UNAVAILABLE);
        let mut timeouts = Trail::new("ordered".into(), &[]);
        timeouts.calls = 1;
        timeouts.failed(
            &target("a"),
            &ProviderError::Timeout {
                provider: ProviderKind::Google,
                phase: crate::providers::TimeoutPhase::FirstByte,
                after: std::time::Duration::from_secs(1),
            },
        );
        assert_eq!(timeouts.exhausted().status(), StatusCode::GATEWAY_TIMEOUT);
    }
}
