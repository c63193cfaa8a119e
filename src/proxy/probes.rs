//! Active health probes: every account in the current snapshot is checked on an interval with
//! its provider's cheapest call, all at once, and the result feeds the account's health, so an
//! account that stopped answering goes to the end of the plan before real traffic finds out.

use super::execute::{call_context, now_ms};
use crate::providers::ProviderClients;
use crate::providers::{adapter_for, ProviderError};
use crate::routing::{LiveState, ProbeResult};
use crate::snapshot::{AccountConnection, SharedConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Probes until the runtime stops; `every` must not be zero.
pub fn spawn(
    config: SharedConfig,
    live: Arc<LiveState>,
    clients: ProviderClients,
    every: Duration,
) {
    tokio::spawn(async move {
        // The first round waits one interval: at start-up the snapshot may not be loaded yet.
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticks.tick().await;
            let snapshot = config.load();
            let probes = snapshot
                .connections
                .iter()
                .filter(|(name, _)| snapshot.routing.account(name).is_some_and(|a| a.enabled))
                .map(|(name, connection)| {
                    let (clients, live) = (&clients, &live);
                    async move {
                    let result = probe(clients, connection).await;
                    if !result.ok {
                        tracing::warn!(account = %name, detail = %result.detail, "health probe failed");
                    }
                    live.record_probe(name, result);
                    }
                });
            futures_util::future::join_all(probes).await;
        }
    });
}

async fn probe(clients: &ProviderClients, connection: &AccountConnection) -> ProbeResult {
    let started = Instant::now();
    let result = match clients.for_timeouts(&connection.timeouts) {
        // Listing models needs no model; Azure's deployment is irrelevant to it.
        Ok(client) => {
            let ctx = call_context(client, connection, "");
            adapter_for(connection.kind).test_connection(&ctx).await
        }
        Err(e) => Err(ProviderError::Config {
            provider: connection.kind,
            message: format!("cannot build an HTTP client: {e}"),
        }),
    };
    ProbeResult {
        at_ms: now_ms(),
        ok: result.is_ok(),
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        detail: result.err().map(|e| e.to_string()).unwrap_or_default(),
    }
}
