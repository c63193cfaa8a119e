//! The live stream behind every page that moves: once a second one server task reads the
//! router's in-memory state (accounts, policies, circuits) and the last hour of traffic by
//! minute, serializes it once and broadcasts it; `GET /api/live` forwards it to each signed-in
//! viewer as Server-Sent Events. No viewer causes a database query per tick, and a viewer that
//! falls behind skips ticks instead of slowing the others.

use super::accounts::LiveAccount;
use super::policies::LivePolicy;
use crate::domain::Money;
use serde::{Deserialize, Serialize};

/// The URL of the stream.
pub const LIVE_PATH: &str = "/api/live";

/// One minute of traffic as the live stream and the dashboard show it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrafficPoint {
    /// Start of the bucket (minute, hour or day), Unix ms.
    pub at_ms: i64,
    pub requests: u64,
    pub errors: u64,
    pub fallbacks: u64,
    pub tokens: u64,
    pub cost: Money,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// Everything one tick says.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveFigures {
    pub at_ms: i64,
    pub accounts: Vec<LiveAccount>,
    pub policies: Vec<LivePolicy>,
    /// The last 60 minutes, oldest first, the current minute last.
    pub minutes: Vec<TrafficPoint>,
    /// Ledger rows written since the server started; pages over longer windows refetch their
    /// rollups when it moves.
    pub written: u64,
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::auth::session;
    use crate::state::AppState;
    use crate::telemetry::traffic::TrafficSums;
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::response::sse::{Event, KeepAlive, Sse};
    use axum::response::{IntoResponse, Response};
    use futures_util::stream::{self, Stream, StreamExt};
    use std::convert::Infallible;
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::sync::broadcast;
    use tower_sessions::Session;

    const TICK: Duration = Duration::from_secs(1);
    /// Ticks a slow viewer may fall behind before it skips to the newest.
    const BACKLOG: usize = 4;

    impl TrafficPoint {
        pub fn from_sums(at_ms: i64, sums: &TrafficSums) -> TrafficPoint {
            TrafficPoint {
                at_ms,
                requests: sums.requests,
                errors: sums.errors,
                fallbacks: sums.fallbacks,
                tokens: sums.tokens(),
                cost: sums.cost,
                p50_ms: sums.latency.quantile(0.50),
                p95_ms: sums.latency.quantile(0.95),
                p99_ms: sums.latency.quantile(0.99),
            }
        }
    }

    /// The latest tick, already serialized, fanned out to every viewer.
    #[derive(Clone)]
    pub struct LiveHub {
        sender: broadcast::Sender<Arc<str>>,
        /// Set at shutdown: streams end, so the graceful shutdown need not wait for viewers.
        stopping: Arc<tokio::sync::watch::Sender<bool>>,
    }

    impl LiveHub {
        pub fn new() -> LiveHub {
            LiveHub {
                sender: broadcast::channel(BACKLOG).0,
                stopping: Arc::new(tokio::sync::watch::channel(false).0),
            }
        }

        /// Ends every open stream; browsers reconnect to the next instance by themselves.
        pub fn stop(&self) {
            self.stopping.send_replace(true);
        }

        /// Computes and sends a tick every second while anyone listens, until the runtime stops.
        pub fn spawn(&self, state: AppState) {
            let sender = self.sender.clone();
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(TICK);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                loop {
                    ticks.tick().await;
                    if sender.receiver_count() == 0 {
                        continue;
                    }
                    let figures = figures(&state, crate::store::now_millis());
                    match serde_json::to_string(&figures) {
                        // An error means nobody listens any more; the next tick checks again.
                        Ok(json) => drop(sender.send(Arc::from(json))),
                        Err(e) => tracing::error!(error = %e, "cannot serialize live figures"),
                    }
                }
            });
        }

        fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
            self.sender.subscribe()
        }
    }

    impl Default for LiveHub {
        fn default() -> Self {
            LiveHub::new()
        }
    }

    /// The figures at `now_ms`, from memory only.
    pub fn figures(state: &AppState, now_ms: i64) -> LiveFigures {
        let now = u64::try_from(now_ms).unwrap_or_default();
        LiveFigures {
            at_ms: now_ms,
            accounts: live_accounts(state, now),
            policies: live_policies(state, now),
            minutes: state
                .telemetry
                .recent
                .last_hour(now_ms)
                .iter()
                .map(|m| TrafficPoint::from_sums(m.minute_ms, &m.sums))
                .collect(),
            written: state.telemetry.recent.written(),
        }
    }

    /// Every configured account's live figures, by name. Holds no credential.
    pub fn live_accounts(state: &AppState, now: u64) -> Vec<LiveAccount> {
        let snapshot = state.config.load();
        let mut accounts: Vec<LiveAccount> = snapshot
            .routing
            .accounts()
            .map(|account| {
                let live = state.live.account_view(&account.name, now);
                LiveAccount {
                    name: account.name.clone(),
                    health: live.health.level,
                    health_reason: live.health.reason,
                    latency_ewma_ms: live.latency_ewma_ms,
                    requests_last_minute: live.requests_last_minute,
                    rpm_limit: account.rpm_limit,
                    tokens_last_minute: live.tokens_last_minute,
                    tpm_limit: account.tpm_limit,
                    spent_this_month: live.spent_this_month,
                    monthly_budget: account.monthly_budget,
                }
            })
            .collect();
        accounts.sort_by(|a, b| a.name.cmp(&b.name));
        accounts
    }

    /// Every enabled policy's counters and its route's circuits, in match order.
    pub fn live_policies(state: &AppState, now: u64) -> Vec<LivePolicy> {
        use crate::api::policies::TargetCircuit;
        use std::collections::HashSet;
        let snapshot = state.config.load();
        let routing = &snapshot.routing;
        routing
            .policies()
            .iter()
            .map(|policy| {
                let stats = state.live.policy_stats(&policy.name);
                let mut seen = HashSet::new();
                let targets = policy
                    .routed_models()
                    .filter_map(|name| routing.logical_model(name))
                    .flat_map(|model| model.targets.iter().map(move |t| (model, &t.target)))
                    .filter(|(_, target)| seen.insert(*target))
                    .map(|(model, target)| {
                        let circuit = state.live.circuit_view(target, now);
                        TargetCircuit {
                            target: target.to_string(),
                            logical_model: model.name.clone(),
                            circuit: circuit.state,
                            reopens_at_ms: circuit.reopens_at_ms,
                        }
                    })
                    .collect();
                LivePolicy {
                    name: policy.name.clone(),
                    matches: stats.matches,
                    successes: stats.successes,
                    errors: stats.errors,
                    fallbacks: stats.fallbacks,
                    retries: stats.retries,
                    targets,
                }
            })
            .collect()
    }

    /// `GET /api/live`: the stream for a signed-in user of any role; 401 otherwise. The first
    /// event is sent at once, so a page that just opened (or reconnected) is current.
    pub async fn live_stream(State(state): State<AppState>, session: Session) -> Response {
        match session::signed_in_user(&session, &state.db.pool).await {
            Ok(Some(_)) => {}
            Ok(None) => return (StatusCode::UNAUTHORIZED, "sign in first").into_response(),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the session");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        }
        let receiver = state.live_hub.subscribe();
        let first = serde_json::to_string(&figures(&state, crate::store::now_millis()))
            .map(Arc::<str>::from)
            .ok();
        let mut stopping = state.live_hub.stopping.subscribe();
        let events = stream::iter(first)
            .chain(ticks(receiver))
            .map(|json| Ok::<_, Infallible>(Event::default().event("live").data(&*json)))
            .take_until(async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            });
        let mut response = Sse::new(events)
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
            .into_response();
        response.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
        response
    }

    /// The broadcast as a stream; a lagging viewer skips the ticks it missed.
    fn ticks(receiver: broadcast::Receiver<Arc<str>>) -> impl Stream<Item = Arc<str>> {
        stream::unfold(receiver, |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(json) => return Some((json, receiver)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
    }
}

/// The latest live figures in the browser: `None` until the stream's first event. The
/// `EventSource` is opened by an effect (so only in the browser) and closed when the page that
/// asked for it goes away. The browser reconnects it by itself after a dropped connection; if
/// it gives up (an error answer while the server restarts), it is opened again 3 s later.
pub fn use_live() -> leptos::prelude::ReadSignal<Option<LiveFigures>> {
    use leptos::prelude::*;
    let (figures, set_figures) = signal(None::<LiveFigures>);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let current = browser::open(set_figures);
        let current = send_wrapper::SendWrapper::new(current);
        on_cleanup(move || browser::close(&current));
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = set_figures;
    figures
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::{LiveFigures, LIVE_PATH};
    use leptos::prelude::{Set, WriteSignal};
    use std::cell::RefCell;
    use std::rc::Rc;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::EventSource;

    const REOPEN_AFTER_MS: i32 = 3_000;

    /// The open source, or `None` once closed for good.
    pub type Current = Rc<RefCell<Option<EventSource>>>;

    pub fn open(set: WriteSignal<Option<LiveFigures>>) -> Current {
        let current: Current = Rc::new(RefCell::new(None));
        connect(&current, set);
        current
    }

    pub fn close(current: &Current) {
        if let Some(source) = current.borrow_mut().take() {
            source.close();
        }
    }

    fn connect(current: &Current, set: WriteSignal<Option<LiveFigures>>) {
        let Ok(source) = EventSource::new(LIVE_PATH) else {
            return;
        };
        let on_live = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                if let Some(text) = event.data().as_string() {
                    if let Ok(live) = serde_json::from_str::<LiveFigures>(&text) {
                        set.set(Some(live));
                    }
                }
            },
        );
        let _ = source.add_event_listener_with_callback("live", on_live.as_ref().unchecked_ref());
        on_live.forget();
        let again = current.clone();
        let on_error = Closure::<dyn FnMut()>::new(move || {
            let closed = again
                .borrow()
                .as_ref()
                .is_some_and(|s| s.ready_state() == EventSource::CLOSED);
            if !closed {
                return; // the browser is reconnecting by itself
            }
            let again = again.clone();
            let reopen = Closure::once_into_js(move || {
                // Closed for good by the page meanwhile: stay closed.
                if again.borrow().is_some() {
                    connect(&again, set);
                }
            });
            if let Some(window) = web_sys::window() {
                let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                    reopen.unchecked_ref(),
                    REOPEN_AFTER_MS,
                );
            }
        });
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        on_error.forget();
        *current.borrow_mut() = Some(source);
    }
}
