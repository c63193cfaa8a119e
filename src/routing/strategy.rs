//! Load balancing: how a logical model's strategy orders its available targets for one request.
//! Pure: live figures are read by the planner and passed in as a `Standing` per target, and
//! randomness comes from the caller's RNG (seeded in tests).

use crate::domain::{Money, Strategy};
use rand::Rng;
use std::cmp::Ordering;
use std::fmt;

/// Share of requests under `lowest_latency` that try another target first, so a target that
/// was slow gets measured again and wins its place back once it recovers.
pub const EXPLORATION_SHARE: f64 = 0.05;

/// What the strategies rank one available target by.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Standing {
    /// Place in the logical model's list (0-based): the order under `ordered`, the tie-break
    /// under every other strategy.
    pub position: usize,
    pub weight: u32,
    /// The account's latency average; `None` until it has answered once.
    pub latency_ewma_ms: Option<f64>,
    /// The request's estimated tokens at this target's price; `None` without a price.
    pub estimated_cost: Option<Money>,
    pub in_flight: u32,
    /// Share (0 to 1) of the tighter of the account's RPM/TPM limits used in the last minute;
    /// 0 without limits.
    pub headroom_used: f64,
}

/// Why a candidate has its place, for the policy tester and the request log.
#[derive(Clone, Debug, PartialEq)]
pub enum Rank {
    Listed {
        position: usize,
    },
    /// `total` is the sum of the weights of the targets available to this request.
    Weighted {
        weight: u32,
        total: u32,
    },
    Latency {
        ewma_ms: Option<f64>,
        /// Put first by exploration rather than by its average.
        explored: bool,
    },
    Cost {
        estimated: Option<Money>,
    },
    Load {
        in_flight: u32,
        headroom_used: f64,
    },
}

impl fmt::Display for Rank {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rank::Listed { position } => write!(f, "listed #{}", position + 1),
            Rank::Weighted { weight, total } => {
                let share = f64::from(*weight) * 100.0 / f64::from((*total).max(1));
                write!(
                    f,
                    "weight {weight} of {total} ({share:.0} % of first picks)"
                )
            }
            Rank::Latency { ewma_ms, explored } => {
                match ewma_ms {
                    Some(ms) => write!(f, "average latency {ms:.0} ms")?,
                    None => f.write_str("latency not measured yet")?,
                }
                if *explored {
                    f.write_str(", tried first to measure it again (exploration)")?;
                }
                Ok(())
            }
            Rank::Cost {
                estimated: Some(cost),
            } => write!(
                f,
                "about ${:.6} for the estimated tokens",
                cost.as_dollars()
            ),
            Rank::Cost { estimated: None } => f.write_str("no price in the price table"),
            Rank::Load {
                in_flight,
                headroom_used,
            } => write!(
                f,
                "{in_flight} in flight, {:.0} % of its rate limit used",
                headroom_used * 100.0
            ),
        }
    }
}

/// Picks an index at random in proportion to `weights`; `None` when they sum to 0.
pub fn pick_weighted(weights: &[u32], rng: &mut impl Rng) -> Option<usize> {
    let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    if total == 0 {
        return None;
    }
    let mut draw = rng.gen_range(0..total);
    weights.iter().position(|w| {
        let w = u64::from(*w);
        if draw < w {
            true
        } else {
            draw -= w;
            false
        }
    })
}

/// Orders `items` (in listed order, each with its standing) by `strategy`, and gives each its
/// rank.
pub fn order<T>(
    strategy: Strategy,
    items: Vec<(T, Standing)>,
    rng: &mut impl Rng,
) -> Vec<(T, Rank)> {
    match strategy {
        Strategy::Ordered => items
            .into_iter()
            .map(|(item, s)| {
                (
                    item,
                    Rank::Listed {
                        position: s.position,
                    },
                )
            })
            .collect(),
        Strategy::Weighted => weighted(items, rng),
        Strategy::LowestLatency => lowest_latency(items, rng),
        Strategy::Cheapest => sorted(items, cost_order, |s| Rank::Cost {
            estimated: s.estimated_cost,
        }),
        Strategy::LeastBusy => sorted(items, load_order, |s| Rank::Load {
            in_flight: s.in_flight,
            headroom_used: s.headroom_used,
        }),
    }
}

/// Repeated weighted draws without replacement: the first place goes to each target in
/// proportion to its weight, and so does every later place among those left. Weight 0 comes
/// last, in listed order.
fn weighted<T>(items: Vec<(T, Standing)>, rng: &mut impl Rng) -> Vec<(T, Rank)> {
    let total = items.iter().map(|(_, s)| s.weight).sum::<u32>();
    let rank = |s: &Standing| Rank::Weighted {
        weight: s.weight,
        total,
    };
    let (mut pool, zero): (Vec<_>, Vec<_>) = items.into_iter().partition(|(_, s)| s.weight > 0);
    let mut out = Vec::with_capacity(pool.len() + zero.len());
    while !pool.is_empty() {
        let weights: Vec<u32> = pool.iter().map(|(_, s)| s.weight).collect();
        let i = pick_weighted(&weights, rng).unwrap_or(0);
        let (item, s) = pool.remove(i);
        out.push((item, rank(&s)));
    }
    out.extend(zero.into_iter().map(|(item, s)| {
        let r = rank(&s);
        (item, r)
    }));
    out
}

/// Lowest average first; a target never measured counts as fastest, so it gets measured. With
/// probability `EXPLORATION_SHARE` one of the others, at random, goes first instead.
fn lowest_latency<T>(items: Vec<(T, Standing)>, rng: &mut impl Rng) -> Vec<(T, Rank)> {
    let mut ordered = sorted(items, latency_order, |s| Rank::Latency {
        ewma_ms: s.latency_ewma_ms,
        explored: false,
    });
    if ordered.len() > 1 && rng.gen_bool(EXPLORATION_SHARE) {
        let chosen = rng.gen_range(1..ordered.len());
        let mut explored = ordered.remove(chosen);
        if let Rank::Latency { explored: flag, .. } = &mut explored.1 {
            *flag = true;
        }
        ordered.insert(0, explored);
    }
    ordered
}

fn sorted<T>(
    mut items: Vec<(T, Standing)>,
    by: fn(&Standing, &Standing) -> Ordering,
    rank: fn(&Standing) -> Rank,
) -> Vec<(T, Rank)> {
    items.sort_by(|(_, a), (_, b)| by(a, b).then(a.position.cmp(&b.position)));
    items
        .into_iter()
        .map(|(item, s)| {
            let r = rank(&s);
            (item, r)
        })
        .collect()
}

fn latency_order(a: &Standing, b: &Standing) -> Ordering {
    let key = |s: &Standing| s.latency_ewma_ms.unwrap_or(-1.0);
    key(a).total_cmp(&key(b))
}

/// Priced targets by cost; unpriced ones after them.
fn cost_order(a: &Standing, b: &Standing) -> Ordering {
    match (a.estimated_cost, b.estimated_cost) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn load_order(a: &Standing, b: &Standing) -> Ordering {
    a.in_flight
        .cmp(&b.in_flight)
        .then(a.headroom_used.total_cmp(&b.headroom_used))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn standing(position: usize) -> Standing {
        Standing {
            position,
            weight: 1,
            ..Standing::default()
        }
    }

    fn items(edit: impl Fn(usize, &mut Standing), n: usize) -> Vec<(&'static str, Standing)> {
        ["a", "b", "c", "d"][..n]
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let mut s = standing(i);
                edit(i, &mut s);
                (*name, s)
            })
            .collect()
    }

    fn names<R>(ordered: &[(&'static str, R)]) -> Vec<&'static str> {
        ordered.iter().map(|(n, _)| *n).collect()
    }

    /// How often each target comes first over `draws` orderings.
    fn first_counts(
        strategy: Strategy,
        list: &[(&'static str, Standing)],
        draws: usize,
        seed: u64,
    ) -> Vec<usize> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut counts = vec![0; list.len()];
        for _ in 0..draws {
            let ordered = order(strategy, list.to_vec(), &mut rng);
            let first = list.iter().position(|(n, _)| *n == ordered[0].0).unwrap();
            counts[first] += 1;
            assert_eq!(ordered.len(), list.len(), "nothing lost or repeated");
        }
        counts
    }

    #[test]
    fn weighted_first_picks_follow_the_weights_within_tolerance() {
        // (weights, expected share of first picks)
        let cases: [(&[u32], &[f64]); 4] = [
            (&[3, 1], &[0.75, 0.25]),
            (&[1, 1, 1, 1], &[0.25, 0.25, 0.25, 0.25]),
            (&[95, 5], &[0.95, 0.05]),
            (&[2, 0, 1], &[2.0 / 3.0, 0.0, 1.0 / 3.0]),
        ];
        let draws = 20_000;
        for (weights, shares) in cases {
            let list = items(|i, s| s.weight = weights[i], weights.len());
            for seed in [1, 2, 3] {
                let counts = first_counts(Strategy::Weighted, &list, draws, seed);
                for (i, share) in shares.iter().enumerate() {
                    let got = counts[i] as f64 / draws as f64;
                    // 20,000 draws: one standard deviation is at most 0.35 %; 1.5 % is > 4σ.
                    assert!(
                        (got - share).abs() < 0.015,
                        "weights {weights:?} seed {seed}: target {i} first in {got:.3}, expected {share:.3}"
                    );
                }
            }
        }
    }

    #[test]
    fn weighted_puts_weight_zero_last_and_ranks_by_share() {
        let list = items(|i, s| s.weight = [0, 3, 1][i], 3);
        let mut rng = StdRng::seed_from_u64(9);
        for _ in 0..100 {
            let ordered = order(Strategy::Weighted, list.clone(), &mut rng);
            assert_eq!(ordered[2].0, "a");
        }
        let ordered = order(Strategy::Weighted, list, &mut rng);
        let b = ordered.iter().find(|(n, _)| *n == "b").unwrap();
        assert_eq!(b.1.to_string(), "weight 3 of 4 (75 % of first picks)");
        assert_eq!(pick_weighted(&[0, 0], &mut rng), None);
        assert_eq!(pick_weighted(&[0, 7], &mut rng), Some(1));
    }

    #[test]
    fn deterministic_orderings() {
        type Case = (
            &'static str,
            Strategy,
            fn(usize, &mut Standing),
            Vec<&'static str>,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (
                "ordered keeps the list",
                Strategy::Ordered,
                |_, s| s.in_flight = 9,
                vec!["a", "b", "c"],
                "listed #1",
            ),
            (
                "cheapest first",
                Strategy::Cheapest,
                |i, s| s.estimated_cost = Some(Money::from_micros([300, 100, 200][i])),
                vec!["b", "c", "a"],
                "about $0.000100 for the estimated tokens",
            ),
            (
                "unpriced after priced, ties in listed order",
                Strategy::Cheapest,
                |i, s| {
                    s.estimated_cost = [
                        None,
                        Some(Money::from_micros(5)),
                        Some(Money::from_micros(5)),
                    ][i]
                },
                vec!["b", "c", "a"],
                "about $0.000005 for the estimated tokens",
            ),
            (
                "least busy by in-flight",
                Strategy::LeastBusy,
                |i, s| s.in_flight = [2, 0, 1][i],
                vec!["b", "c", "a"],
                "0 in flight, 0 % of its rate limit used",
            ),
            (
                "then by headroom used",
                Strategy::LeastBusy,
                |i, s| {
                    s.in_flight = 1;
                    s.headroom_used = [0.5, 0.9, 0.1][i];
                },
                vec!["c", "a", "b"],
                "1 in flight, 10 % of its rate limit used",
            ),
        ];
        let mut rng = StdRng::seed_from_u64(1);
        for (label, strategy, edit, expected, first_rank) in cases {
            let ordered = order(strategy, items(edit, 3), &mut rng);
            assert_eq!(names(&ordered), expected, "{label}");
            assert_eq!(ordered[0].1.to_string(), first_rank, "{label}");
        }
    }

    #[test]
    fn lowest_latency_orders_by_average_and_explores_a_small_share() {
        let list = items(
            |i, s| s.latency_ewma_ms = [Some(900.0), Some(120.0), None][i],
            3,
        );
        let mut rng = StdRng::seed_from_u64(4);
        let draws = 20_000;
        let mut plain = 0;
        let mut explored = [0usize; 3];
        for _ in 0..draws {
            let ordered = order(Strategy::LowestLatency, list.clone(), &mut rng);
            match &ordered[0].1 {
                Rank::Latency {
                    explored: false, ..
                } => {
                    // Unmeasured first (to measure it), then by average.
                    assert_eq!(names(&ordered), vec!["c", "b", "a"]);
                    plain += 1;
                }
                Rank::Latency { explored: true, .. } => {
                    let i = list.iter().position(|(n, _)| *n == ordered[0].0).unwrap();
                    explored[i] += 1;
                }
                other => panic!("{other:?}"),
            }
        }
        let share = 1.0 - plain as f64 / draws as f64;
        assert!((share - EXPLORATION_SHARE).abs() < 0.01, "{share}");
        assert_eq!(explored[2], 0, "the one already first is not explored");
        assert!(explored[0] > 300 && explored[1] > 300, "{explored:?}");
        let one = items(|_, s| s.latency_ewma_ms = Some(5.0), 1);
        for _ in 0..100 {
            let ordered = order(Strategy::LowestLatency, one.clone(), &mut rng);
            assert_eq!(ordered[0].1.to_string(), "average latency 5 ms");
        }
    }
}
