//! How the pages write values for people: money, counts, times, defaults and health. Every page
//! formats through these, so the same value reads the same everywhere.

use crate::domain::{Defaults, HealthLevel, Money};
use leptos::prelude::*;

/// Dollars for reading: cents from one cent up (`$12.40`, `$1,204.00`), and below a cent as
/// many decimals as it takes to stay non-zero (`$0.0036`), so small spend never reads `$0.00`.
pub fn money(amount: Money) -> String {
    let micros = amount.micros();
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    if abs == 0 {
        return "$0.00".into();
    }
    if abs >= 10_000 {
        let cents = (abs + 5_000) / 10_000;
        return format!("{sign}${}.{:02}", grouped(cents / 100), cents % 100);
    }
    let digits = format!("{abs:06}");
    format!("{sign}$0.{}", digits.trim_end_matches('0'))
}

/// A unit price (per million tokens): cents, or more decimals when the price has them
/// (`$2.50`, `$0.075`).
pub fn unit_price(amount: f64) -> String {
    let micros = Money::from_dollars(amount).micros();
    let text = format!("{:.6}", Money::from_micros(micros).as_dollars());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let fraction = fraction.trim_end_matches('0');
    format!("${whole}.{fraction:0<2}")
}

/// Dollars given as a float (form values, budgets), through [`money`].
pub fn dollars(amount: f64) -> String {
    money(Money::from_dollars(amount))
}

/// An integer with thousands separators: `12,400`.
pub fn grouped(n: u64) -> String {
    let text = n.to_string();
    let mut out = String::with_capacity(text.len() + text.len() / 3);
    for (i, c) in text.chars().enumerate() {
        if i > 0 && (text.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count in few characters: `940`, `1.2k`, `3.4M`.
pub fn compact(n: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // display only
    let f = n as f64;
    match n {
        0..=999 => n.to_string(),
        1_000..=999_999 => format!("{:.1}k", f / 1e3).replace(".0k", "k"),
        _ => format!("{:.1}M", f / 1e6).replace(".0M", "M"),
    }
}

/// `used / limit` (`12 / 500`), or just `used` when there is no limit.
pub fn used_of(used: impl Into<String>, limit: Option<String>) -> String {
    match limit {
        Some(limit) => format!("{} / {limit}", used.into()),
        None => used.into(),
    }
}

/// A model's defaults as words: `temperature 0.2 · max tokens 1,024`, or `—` when none is set.
pub fn defaults_text(d: &Defaults) -> String {
    let mut parts = Vec::new();
    if let Some(t) = d.temperature {
        parts.push(format!("temperature {t}"));
    }
    if let Some(m) = d.max_tokens {
        parts.push(format!("max tokens {}", grouped(u64::from(m))));
    }
    if let Some(p) = d.top_p {
        parts.push(format!("top-p {p}"));
    }
    if !d.stop.is_empty() {
        let stops: Vec<String> = d.stop.iter().map(|s| format!("“{s}”")).collect();
        parts.push(format!("stop {}", stops.join(" ")));
    }
    if parts.is_empty() {
        "—".into()
    } else {
        parts.join(" · ")
    }
}

/// Unix milliseconds as `2026-11-29 14:05:09 UTC`.
pub fn exact_time(millis: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(millis)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// How far `millis` is from `now` in words: `just now`, `5 min ago`, `in 3 days`.
pub fn relative_time(millis: i64, now: i64) -> String {
    let seconds = (now - millis) / 1000;
    let (past, s) = (seconds >= 0, seconds.unsigned_abs());
    let amount = match s {
        0..=44 => return "just now".into(),
        45..=5_399 => format!("{} min", (s + 30) / 60),
        5_400..=129_599 => format!("{} h", (s + 1_800) / 3_600),
        129_600..=5_183_999 => format!("{} days", (s + 43_200) / 86_400),
        _ => return exact_time(millis).chars().take(10).collect(),
    };
    if past {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A time as people read it in a table: relative, the exact time on hover and for readers.
#[component]
pub fn Time(millis: i64) -> impl IntoView {
    let exact = exact_time(millis);
    let iso = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(millis)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    view! {
        <time datetime=iso title=exact.clone() aria-label=exact>
            {relative_time(millis, now_millis())}
        </time>
    }
}

/// The badge class and word for a level; the word and the dot's shape carry it, not colour alone.
pub fn health_badge(level: HealthLevel) -> (&'static str, &'static str) {
    match level {
        HealthLevel::Healthy => ("badge ok", "● healthy"),
        HealthLevel::Degraded => ("badge warn", "▲ degraded"),
        HealthLevel::Failing => ("badge bad", "✕ failing"),
        HealthLevel::Unhealthy => ("badge bad", "✕ unhealthy"),
    }
}

/// Health as a coloured badge with the reason on hover and, in small type, below it.
#[component]
pub fn HealthBadge(level: HealthLevel, reason: String) -> impl IntoView {
    let (class, word) = health_badge(level);
    view! {
        <span class=class title=reason.clone()>{word}</span>
        <span class="cell-detail">{reason}</span>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_stays_non_zero_and_reads_in_cents_from_a_cent() {
        assert_eq!(money(Money::from_micros(0)), "$0.00");
        assert_eq!(money(Money::from_micros(3_600)), "$0.0036");
        assert_eq!(money(Money::from_micros(1)), "$0.000001");
        assert_eq!(money(Money::from_dollars(12.4)), "$12.40");
        assert_eq!(money(Money::from_dollars(1204.0)), "$1,204.00");
        assert_eq!(money(Money::from_micros(-25_000)), "-$0.03");
        assert_eq!(unit_price(0.075), "$0.075");
        assert_eq!(unit_price(2.5), "$2.50");
        assert_eq!(unit_price(10.0), "$10.00");
    }

    #[test]
    fn defaults_read_as_words() {
        let d = Defaults {
            max_tokens: Some(256),
            ..Defaults::default()
        };
        assert_eq!(defaults_text(&d), "max tokens 256");
        assert_eq!(defaults_text(&Defaults::default()), "—");
    }

    #[test]
    fn relative_times() {
        let now = 1_000_000_000_000;
        assert_eq!(relative_time(now - 10_000, now), "just now");
        assert_eq!(relative_time(now - 300_000, now), "5 min ago");
        assert_eq!(relative_time(now + 3 * 86_400_000, now), "in 3 days");
        assert_eq!(compact(1_260), "1.3k");
        assert_eq!(compact(940), "940");
    }
}
