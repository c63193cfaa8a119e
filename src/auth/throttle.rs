//! Login throttling: after too many failures for one user name from one address within the
//! window, further attempts are refused until the oldest failure leaves the window.
//! The dashboard login is not the proxy's hot path, so one mutex is fine here.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

type Key = (String, IpAddr);

#[derive(Debug)]
pub struct LoginThrottle {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<Key, VecDeque<Instant>>>,
}

impl LoginThrottle {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        LoginThrottle {
            max_failures: max_failures.max(1) as usize,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` when this user name and address must wait before trying again.
    pub fn check(&self, username: &str, addr: IpAddr, now: Instant) -> Result<(), Duration> {
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

    pub fn record_failure(&self, username: &str, addr: IpAddr, now: Instant) {
        let mut failures = self.lock();
        let times = failures.entry((username.to_string(), addr)).or_default();
        Self::forget_old(times, self.window, now);
        times.push_back(now);
        // Keep memory bounded even under a flood of attempts.
        while times.len() > self.max_failures {
            times.pop_front();
        }
    }

    pub fn record_success(&self, username: &str, addr: IpAddr) {
        self.lock().remove(&(username.to_string(), addr));
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
            assert!(throttle.check("alice", ip, t0).is_ok(), "attempt {i}");
            throttle.record_failure("alice", ip, t0 + Duration::from_secs(i));
        }
        let wait = throttle
            .check("alice", ip, t0 + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        // Other users and other addresses are not affected.
        assert!(throttle.check("bob", ip, t0).is_ok());
        assert!(throttle.check("alice", other, t0).is_ok());
        // Once the oldest failure leaves the window, one more try is allowed.
        assert!(throttle
            .check("alice", ip, t0 + Duration::from_secs(60))
            .is_ok());
    }

    #[test]
    fn success_clears_failures() {
        let throttle = LoginThrottle::new(2, Duration::from_secs(60));
        let ip: IpAddr = "::1".parse().unwrap();
        let t0 = Instant::now();
        throttle.record_failure("alice", ip, t0);
        throttle.record_success("alice", ip);
        throttle.record_failure("alice", ip, t0);
        assert!(throttle.check("alice", ip, t0).is_ok());
    }
}
