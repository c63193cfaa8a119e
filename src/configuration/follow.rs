//! Keeps this instance's snapshot in step with configuration changes committed elsewhere: by
//! another instance sharing the database (DESIGN §7) or by `switchyard apply`. Every change
//! raises the config version ([`config::bump_version`]). On PostgreSQL each instance LISTENs on
//! [`config::CHANGES_CHANNEL`] and reloads within moments of the commit; on SQLite (one machine)
//! it reads the version twice a second. Either way the reload is [`reload`], in this task, never
//! on the proxy's path.

use super::reload;
use crate::state::AppState;
use crate::store::config;
use sqlx::postgres::PgListener;
use std::time::Duration;

/// SQLite: how often the version is read (one primary-key read).
const POLL_EVERY: Duration = Duration::from_millis(500);
/// PostgreSQL: after this long without a notification the listening connection is checked (one
/// that died silently delivers nothing) and the version compared, so whatever went wrong with
/// the notifications, a change is served after this long at the latest.
const CHECK_EVERY: Duration = Duration::from_secs(30);
/// How long connecting, or checking the connection, may take before it counts as lost.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// Between attempts to listen again while PostgreSQL cannot be reached.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Starts following changes, for as long as the process runs.
pub fn spawn(state: AppState) {
    tokio::spawn(async move {
        let mut follower = Follower {
            state,
            failing: false,
        };
        if crate::store::is_postgres(&follower.state.settings.database_url) {
            follower.listen().await;
        } else {
            follower.poll().await;
        }
    });
}

struct Follower {
    state: AppState,
    /// The last reload failed; logged once until one succeeds.
    failing: bool,
}

impl Follower {
    async fn poll(&mut self) {
        let mut ticks = tokio::time::interval(POLL_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticks.tick().await;
            self.catch_up().await;
        }
    }

    async fn listen(&mut self) {
        loop {
            match tokio::time::timeout(CONNECTION_TIMEOUT, self.connect()).await {
                Ok(Ok(listener)) => {
                    // Changes announced while nobody listened here: the version tells.
                    self.catch_up().await;
                    self.follow(listener).await;
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot listen for configuration changes; retrying");
                }
                Err(_) => {
                    tracing::warn!("cannot listen for configuration changes: timed out; retrying")
                }
            }
            tokio::time::sleep(RETRY_EVERY).await;
        }
    }

    async fn connect(&self) -> Result<PgListener, sqlx::Error> {
        let mut listener = PgListener::connect(&self.state.settings.database_url).await?;
        listener.listen(config::CHANGES_CHANNEL).await?;
        Ok(listener)
    }

    /// Reloads on each notification until the connection is lost for good.
    async fn follow(&mut self, mut listener: PgListener) {
        loop {
            match tokio::time::timeout(CHECK_EVERY, listener.try_recv()).await {
                Ok(Ok(Some(_))) => {
                    // One reload covers a burst: it reads the newest version.
                    while listener.next_buffered().is_some() {}
                    self.catch_up().await;
                }
                // Lost, and connected again (sqlx LISTENs again before answering): what was
                // announced meanwhile is gone, but the version tells.
                Ok(Ok(None)) => {
                    tracing::info!(
                        "the connection listening for configuration changes was lost and is back"
                    );
                    self.catch_up().await;
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "lost the connection listening for configuration changes");
                    return;
                }
                Err(_quiet) => {
                    let alive = tokio::time::timeout(
                        CONNECTION_TIMEOUT,
                        sqlx::query("SELECT 1").execute(&mut listener),
                    )
                    .await;
                    if !matches!(alive, Ok(Ok(_))) {
                        tracing::warn!(
                            "the connection listening for configuration changes stopped answering"
                        );
                        return;
                    }
                    self.catch_up().await;
                }
            }
        }
    }

    async fn catch_up(&mut self) {
        match reload(&self.state).await {
            Ok(reloaded) => {
                if reloaded || self.failing {
                    tracing::info!(
                        version = self.state.config_version.get(),
                        "serving the configuration as stored"
                    );
                }
                self.failing = false;
            }
            Err(e) => {
                if !self.failing {
                    tracing::error!(error = %e, "cannot reload the configuration; serving the one before until it can");
                }
                self.failing = true;
            }
        }
    }
}
