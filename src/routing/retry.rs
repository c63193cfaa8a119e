//! The pause before calling the same target again (a logical model's `retries`).

/// The first retry waits about this long; each further one doubles it.
pub const RETRY_BACKOFF_BASE_MS: u64 = 100;
/// No retry waits longer than this: past it, falling back is the better bet.
pub const RETRY_BACKOFF_MAX_MS: u64 = 2_000;

/// Exponential backoff with "equal jitter": the `retry`-th retry (0-based) waits between half
/// and all of `base × 2^retry` (capped), so requests that failed together do not retry
/// together. `random` is a number in [0, 1) from the caller's RNG.
pub fn retry_backoff_ms(retry: u32, random: f64) -> u64 {
    let step = RETRY_BACKOFF_BASE_MS
        .saturating_mul(1u64 << retry.min(20))
        .min(RETRY_BACKOFF_MAX_MS);
    let half = step / 2;
    half + (half as f64 * random.clamp(0.0, 1.0)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        // (retry, random, wait)
        let cases = [
            (0, 0.0, 50),
            (0, 0.999, 99),
            (1, 0.0, 100),
            (1, 0.5, 150),
            (2, 0.0, 200),
            (4, 0.0, 800),
            (5, 0.0, 1_000),
            (5, 1.0, 2_000),
            (40, 0.3, 1_300),
            (0, 7.0, 100),
            (0, -1.0, 50),
        ];
        for (retry, random, wait) in cases {
            assert_eq!(retry_backoff_ms(retry, random), wait, "{retry} {random}");
        }
    }
}
