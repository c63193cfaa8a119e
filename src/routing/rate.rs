//! Rolling one-minute request and token counts per provider account.
//!
//! Sixty one-second buckets rather than a crate such as `governor`: GCRA limiters charge a cost
//! up front and cannot take back part of it, while we reserve an estimate and correct it with the
//! provider's reported usage afterwards; the buckets also give the dashboard the live counts and
//! give a 429 a computed Retry-After. One window is under 1.5 KB. A request counts from the start
//! of its second, so it leaves the window up to a second early: fine for limits per minute.

use std::fmt;

pub const WINDOW_SECONDS: u64 = 60;
const BUCKETS: usize = WINDOW_SECONDS as usize;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Bucket {
    /// The Unix second this bucket counts; a bucket from an older minute is stale.
    second: u64,
    requests: u32,
    tokens: u64,
}

/// The account's limits, copied from its configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimits {
    pub rpm: Option<u32>,
    pub tpm: Option<u32>,
}

/// Requests and tokens counted in the last sixty seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateUsage {
    pub requests: u32,
    pub tokens: u64,
}

/// Why the window has no room for one more request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateDenial {
    Requests {
        limit: u32,
        retry_after_ms: u64,
    },
    Tokens {
        limit: u32,
        retry_after_ms: u64,
    },
    /// The request alone needs more tokens than the limit allows per minute: waiting won't help.
    TooLarge {
        tokens: u32,
        limit: u32,
    },
}

impl RateDenial {
    /// When waiting helps, how long to wait.
    pub fn retry_after_ms(self) -> Option<u64> {
        match self {
            RateDenial::Requests { retry_after_ms, .. }
            | RateDenial::Tokens { retry_after_ms, .. } => Some(retry_after_ms),
            RateDenial::TooLarge { .. } => None,
        }
    }
}

impl fmt::Display for RateDenial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateDenial::Requests {
                limit,
                retry_after_ms,
            } => write!(
                f,
                "requests per minute limit {limit} reached, room again in {}s",
                retry_after_ms.div_ceil(1000)
            ),
            RateDenial::Tokens {
                limit,
                retry_after_ms,
            } => write!(
                f,
                "tokens per minute limit {limit} reached, room again in {}s",
                retry_after_ms.div_ceil(1000)
            ),
            RateDenial::TooLarge { tokens, limit } => {
                write!(
                    f,
                    "request needs ~{tokens} tokens, above the tokens per minute limit {limit}"
                )
            }
        }
    }
}

/// What one call reserved, so the count can be corrected or released afterwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reservation {
    second: u64,
    tokens: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateWindow {
    buckets: [Bucket; BUCKETS],
}

impl Default for RateWindow {
    fn default() -> Self {
        RateWindow {
            buckets: [Bucket::default(); BUCKETS],
        }
    }
}

impl RateWindow {
    fn live(&self, now_s: u64) -> impl Iterator<Item = &Bucket> {
        self.buckets
            .iter()
            .filter(move |b| b.second <= now_s && now_s - b.second < WINDOW_SECONDS)
    }

    pub fn usage(&self, now_ms: u64) -> RateUsage {
        self.live(now_ms / 1000)
            .fold(RateUsage::default(), |acc, b| RateUsage {
                requests: acc.requests.saturating_add(b.requests),
                tokens: acc.tokens.saturating_add(b.tokens),
            })
    }

    /// Whether one more request of `tokens` fits; pure, so the planner can ask without reserving.
    pub fn check(&self, limits: RateLimits, tokens: u32, now_ms: u64) -> Result<(), RateDenial> {
        let usage = self.usage(now_ms);
        if let Some(limit) = limits.rpm {
            if usage.requests >= limit {
                let excess = u64::from(usage.requests) + 1 - u64::from(limit);
                let retry_after_ms =
                    self.wait_until_freed(now_ms, excess, |b| u64::from(b.requests));
                return Err(RateDenial::Requests {
                    limit,
                    retry_after_ms,
                });
            }
        }
        if let Some(limit) = limits.tpm {
            if tokens > limit {
                return Err(RateDenial::TooLarge { tokens, limit });
            }
            let needed = usage.tokens + u64::from(tokens);
            if needed > u64::from(limit) {
                let retry_after_ms =
                    self.wait_until_freed(now_ms, needed - u64::from(limit), |b| b.tokens);
                return Err(RateDenial::Tokens {
                    limit,
                    retry_after_ms,
                });
            }
        }
        Ok(())
    }

    /// Milliseconds until the oldest buckets holding at least `excess` have left the window.
    fn wait_until_freed(&self, now_ms: u64, excess: u64, amount: impl Fn(&Bucket) -> u64) -> u64 {
        let now_s = now_ms / 1000;
        let mut live: Vec<&Bucket> = self.live(now_s).collect();
        live.sort_by_key(|b| b.second);
        let mut freed = 0u64;
        for bucket in live {
            freed = freed.saturating_add(amount(bucket));
            if freed >= excess {
                return ((bucket.second + WINDOW_SECONDS) * 1000).saturating_sub(now_ms);
            }
        }
        // Unreachable with consistent counts (excess never exceeds usage); a full window is the
        // honest upper bound.
        WINDOW_SECONDS * 1000
    }

    /// Checks and, when there is room, counts the request and its estimated tokens.
    pub fn reserve(
        &mut self,
        limits: RateLimits,
        tokens: u32,
        now_ms: u64,
    ) -> Result<Reservation, RateDenial> {
        self.check(limits, tokens, now_ms)?;
        Ok(self.record(tokens, now_ms))
    }

    /// Counts the request and its estimated tokens without checking: another authority (the
    /// fleet's shared window) already admitted it.
    pub fn record(&mut self, tokens: u32, now_ms: u64) -> Reservation {
        let second = now_ms / 1000;
        let bucket = self.bucket_mut(second);
        bucket.requests = bucket.requests.saturating_add(1);
        bucket.tokens = bucket.tokens.saturating_add(u64::from(tokens));
        Reservation { second, tokens }
    }

    /// Replaces the estimate with the provider's reported usage. A reservation whose second has
    /// left the window no longer counts, so there is nothing to correct.
    pub fn correct(&mut self, reservation: Reservation, actual_tokens: u32) {
        if let Some(bucket) = self.reserved_bucket(reservation) {
            bucket.tokens = bucket
                .tokens
                .saturating_sub(u64::from(reservation.tokens))
                .saturating_add(u64::from(actual_tokens));
        }
    }

    /// Takes a reservation back entirely: the call was never made.
    pub fn release(&mut self, reservation: Reservation) {
        if let Some(bucket) = self.reserved_bucket(reservation) {
            bucket.requests = bucket.requests.saturating_sub(1);
            bucket.tokens = bucket.tokens.saturating_sub(u64::from(reservation.tokens));
        }
    }

    fn reserved_bucket(&mut self, reservation: Reservation) -> Option<&mut Bucket> {
        let bucket = &mut self.buckets[(reservation.second % WINDOW_SECONDS) as usize];
        (bucket.second == reservation.second).then_some(bucket)
    }

    fn bucket_mut(&mut self, second: u64) -> &mut Bucket {
        let bucket = &mut self.buckets[(second % WINDOW_SECONDS) as usize];
        if bucket.second != second {
            *bucket = Bucket {
                second,
                requests: 0,
                tokens: 0,
            };
        }
        bucket
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_795_000_000_000; // a Unix time in ms, on a whole second

    fn limits(rpm: Option<u32>, tpm: Option<u32>) -> RateLimits {
        RateLimits { rpm, tpm }
    }

    #[test]
    fn rpm_and_tpm_decisions() {
        // (label, rpm, tpm, reservations as (offset ms, tokens), request tokens, offset ms, expected)
        type Case = (
            &'static str,
            Option<u32>,
            Option<u32>,
            &'static [(u64, u32)],
            u32,
            u64,
            Result<(), RateDenial>,
        );
        let cases: &[Case] = &[
            (
                "no limits",
                None,
                None,
                &[(0, 1_000_000)],
                10,
                1_000,
                Ok(()),
            ),
            (
                "under rpm",
                Some(3),
                None,
                &[(0, 1), (1_000, 1)],
                1,
                2_000,
                Ok(()),
            ),
            (
                "rpm full: oldest leaves at 60 s",
                Some(2),
                None,
                &[(0, 1), (10_000, 1)],
                1,
                20_500,
                Err(RateDenial::Requests {
                    limit: 2,
                    retry_after_ms: 39_500,
                }),
            ),
            (
                "rpm frees after the window",
                Some(2),
                None,
                &[(0, 1), (10_000, 1)],
                1,
                60_000,
                Ok(()),
            ),
            (
                "tpm exact fit",
                None,
                Some(100),
                &[(0, 60)],
                40,
                1_000,
                Ok(()),
            ),
            (
                "tpm over: needs two buckets to leave",
                None,
                Some(100),
                &[(0, 30), (5_000, 30), (9_000, 30)],
                61,
                9_000,
                Err(RateDenial::Tokens {
                    limit: 100,
                    retry_after_ms: 56_000,
                }),
            ),
            (
                "too large ever",
                None,
                Some(100),
                &[],
                101,
                0,
                Err(RateDenial::TooLarge {
                    tokens: 101,
                    limit: 100,
                }),
            ),
            (
                "rpm checked first",
                Some(1),
                Some(10),
                &[(0, 10)],
                5,
                0,
                Err(RateDenial::Requests {
                    limit: 1,
                    retry_after_ms: 60_000,
                }),
            ),
        ];
        for (label, rpm, tpm, reservations, tokens, at, expected) in cases {
            let mut window = RateWindow::default();
            for (offset, t) in *reservations {
                window.reserve(limits(None, None), *t, T0 + offset).unwrap();
            }
            assert_eq!(
                window.check(limits(*rpm, *tpm), *tokens, T0 + at),
                *expected,
                "{label}"
            );
        }
    }

    #[test]
    fn usage_counts_only_the_last_sixty_seconds() {
        let mut window = RateWindow::default();
        let none = limits(None, None);
        window.reserve(none, 10, T0).unwrap();
        window.reserve(none, 20, T0 + 30_000).unwrap();
        window.reserve(none, 40, T0 + 30_900).unwrap();
        assert_eq!(
            window.usage(T0 + 59_999),
            RateUsage {
                requests: 3,
                tokens: 70
            }
        );
        assert_eq!(
            window.usage(T0 + 60_000),
            RateUsage {
                requests: 2,
                tokens: 60
            }
        );
        assert_eq!(window.usage(T0 + 91_000), RateUsage::default());
        // A bucket slot reused a minute later starts from zero.
        window.reserve(none, 5, T0 + 120_000).unwrap();
        assert_eq!(
            window.usage(T0 + 120_000),
            RateUsage {
                requests: 1,
                tokens: 5
            }
        );
    }

    #[test]
    fn reservations_are_corrected_and_released() {
        let none = limits(None, None);
        let mut window = RateWindow::default();
        let r = window.reserve(none, 1_000, T0).unwrap();
        window.correct(r, 250);
        assert_eq!(
            window.usage(T0 + 1_000),
            RateUsage {
                requests: 1,
                tokens: 250
            }
        );

        let r2 = window.reserve(none, 100, T0 + 2_000).unwrap();
        window.release(r2);
        assert_eq!(
            window.usage(T0 + 3_000),
            RateUsage {
                requests: 1,
                tokens: 250
            }
        );

        // Too late: the reservation's second has left the window and its slot was reused.
        window.reserve(none, 7, T0 + 60_000).unwrap();
        window.correct(r, 9_999);
        assert_eq!(
            window.usage(T0 + 60_000),
            RateUsage {
                requests: 1,
                tokens: 7
            }
        );
    }

    #[test]
    fn reserve_refuses_without_counting() {
        let mut window = RateWindow::default();
        let tight = limits(Some(1), None);
        assert!(window.reserve(tight, 1, T0).is_ok());
        assert!(window.reserve(tight, 1, T0).is_err());
        assert_eq!(window.usage(T0).requests, 1);
    }

    #[test]
    fn denials_explain_themselves() {
        let cases = [
            (
                RateDenial::Requests {
                    limit: 500,
                    retry_after_ms: 1_200,
                },
                "requests per minute limit 500 reached, room again in 2s",
                Some(1_200),
            ),
            (
                RateDenial::Tokens {
                    limit: 9,
                    retry_after_ms: 1_000,
                },
                "tokens per minute limit 9 reached, room again in 1s",
                Some(1_000),
            ),
            (
                RateDenial::TooLarge {
                    tokens: 12,
                    limit: 9,
                },
                "request needs ~12 tokens, above the tokens per minute limit 9",
                None,
            ),
        ];
        for (denial, text, retry) in cases {
            assert_eq!(denial.to_string(), text);
            assert_eq!(denial.retry_after_ms(), retry);
        }
    }
}
