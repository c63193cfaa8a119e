//! Login throttling: after too many failures for one user name from one address within the
//! window, further attempts are refused until the oldest failure leaves the window.
//! The dashboard login is not the proxy's hot path, so one mutex is fine here. With
//! `REDIS_URL` the failures are counted in Redis, so the limit holds across a fleet whichever
//! instance the attempts reach; the count kept here decides while Redis cannot be reached.

use crate::fleet::Fleet;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Key = (String, IpAddr);

#[derive(Debug)]
pub struct LoginThrottle {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<Key, VecDeque<Instant>>>,
    fleet: Option<Arc<Fleet>>,
}

impl LoginThrottle {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        LoginThrottle {
            max_failures: max_failures.max(1) as usize,
            window,
            failures: Mutex::new(HashMap::new()),
            fleet: None,
        }
    }

    /// Counts failures in the fleet's Redis as well (see the module comment).
    pub fn shared_by(mut self, fleet: Option<Arc<Fleet>>) -> Self {
        self.fleet = fleet;
        self
    }

    fn fleet(&self) -> Option<&Fleet> {
        self.fleet.as_deref().filter(|fleet| fleet.is_up())
    }

    /// `Err(wait)` when this user name and address must wait before trying again.
    pub async fn check(&self, username: &str, addr: IpAddr) -> Result<(), Duration> {
        if let Some(fleet) = self.fleet() {
            match fleet
                .login_wait(
                    &throttle_key(username, addr),
                    self.max_failures,
                    self.window,
                )
                .await
            {
                Ok(None) => return Ok(()),
                Ok(Some(wait)) => return Err(wait),
                Err(e) => tracing::warn!(error = %e, "login throttle: Redis failed; counting here"),
            }
        }
        self.check_at(username, addr, Instant::now())
    }

    pub async fn record_failure(&self, username: &str, addr: IpAddr) {
        self.record_failure_at(username, addr, Instant::now());
        if let Some(fleet) = self.fleet() {
            let key = throttle_key(username, addr);
            if let Err(e) = fleet
                .login_failed(&key, self.max_failures, self.window)
                .await
            {
                tracing::warn!(error = %e, "login throttle: Redis failed; counting here");
            }
        }
    }

    pub async fn record_success(&self, username: &str, addr: IpAddr) {
        self.lock().remove(&(username.to_string(), addr));
        if let Some(fleet) = self.fleet() {
            if let Err(e) = fleet.login_succeeded(&throttle_key(username, addr)).await {
                tracing::warn!(error = %e, "login throttle: Redis failed");
            }
        }
    }

    fn check_at(&self, username: &str, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut failures = self.lock();
        let key = (username.to_string(), addr);
        let Some(times) = failures.get_mut(&key) else {
            return Ok(());
        };
        Self::forget_old(times, self.window, now);
        if times.is_empty() {
            failures.remove(&key);
            return Ok(());
        }
        if times.len() >= self.max_failures {
            let oldest = times.front().copied().unwrap_or(now);
            return Err(self.window.saturating_sub(now.duration_since(oldest)));
        }
        Ok(())
    }

    fn record_failure_at(&self, username: &str, addr: IpAddr, now: Instant) {
        let mut failures = self.lock();
        let times = failures.entry((username.to_string(), addr)).or_default();
        Self::forget_old(times, self.window, now);
        times.push_back(now);
        // Keep memory bounded even under a flood of attempts.
        while times.len() > self.max_failures {
            times.pop_front();
        }
    }

    fn forget_old(times: &mut VecDeque<Instant>, window: Duration, now: Instant) {
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            times.pop_front();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, VecDeque<Instant>>> {
        // A panic while holding this lock cannot leave the map inconsistent, so keep going.
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The user name and address, as Redis keys the failures.
fn throttle_key(username: &str, addr: IpAddr) -> String {
    format!("{username}@{addr}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_failures_until_window_passes() {
        let throttle = LoginThrottle::new(3, Duration::from_secs(60));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(throttle.check_at("alice", ip, t0).is_ok(), "attempt {i}");
            throttle.record_failure_at("alice", ip, t0 + Duration::from_secs(i));
        }
        let wait = throttle
            .check_at("alice", ip, t0 + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        // Other users and other addresses are not affected.
        assert!(throttle.check_at("bob", ip, t0).is_ok());
        assert!(throttle.check_at("alice", other, t0).is_ok());
        // Once the oldest failure leaves the window, one more try is allowed.
        assert!(throttle
            .check_at("alice", ip, t0 + Duration::from_secs(60))
            .is_ok());
    }

    #[tokio::test]
    async fn success_clears_failures() {
        let throttle = LoginThrottle::new(2, Duration::from_secs(60));
        let ip: IpAddr = "::1".parse().unwrap();
        let t0 = Instant::now();
        throttle.record_failure_at("alice", ip, t0);
        throttle.record_success("alice", ip).await;
        throttle.record_failure_at("alice", ip, t0);
        assert!(throttle.check_at("alice", ip, t0).is_ok());
    }
}
