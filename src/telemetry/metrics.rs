//! `GET /metrics` in the Prometheus text format. Hand-written rather than a crate: it renders a
//! handful of families straight from the router's in-memory state on each scrape, so there is
//! no registry to keep in step with the live state.

use crate::routing::{LiveState, RoutingSnapshot};
use std::fmt::Write;

/// Prometheus' text exposition format, version 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One metric family: its name, type, help and one sample per label value.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    label: &'static str,
    samples: Vec<(String, i128)>,
}

/// Every account's and enabled policy's figures at `now_ms`, sorted by name so scrapes diff well.
pub fn render(routing: &RoutingSnapshot, live: &LiveState, now_ms: u64) -> String {
    let mut accounts: Vec<&str> = routing.accounts().map(|a| a.name.as_str()).collect();
    accounts.sort_unstable();
    let views: Vec<_> = accounts
        .iter()
        .map(|name| (name.to_string(), live.account_view(name, now_ms)))
        .collect();
    let account_family =
        |name, kind, help, value: &dyn Fn(&crate::routing::AccountView) -> i128| Family {
            name,
            kind,
            help,
            label: "account",
            samples: views.iter().map(|(n, v)| (n.clone(), value(v))).collect(),
        };
    let policies: Vec<_> = routing
        .policies()
        .iter()
        .map(|p| (p.name.clone(), live.policy_stats(&p.name)))
        .collect();
    let policy_family =
        |name, help, value: &dyn Fn(&crate::routing::PolicyStatsSnapshot) -> u64| Family {
            name,
            kind: "counter",
            help,
            label: "policy",
            samples: policies
                .iter()
                .map(|(n, s)| (n.clone(), i128::from(value(s))))
                .collect(),
        };
    let families = [
        account_family(
            "switchyard_account_calls_total",
            "counter",
            "Provider calls made on the account since start-up.",
            &|v| i128::from(v.calls),
        ),
        account_family(
            "switchyard_account_failures_total",
            "counter",
            "Provider calls that failed on the account (connect errors, timeouts, 429, 5xx) since start-up.",
            &|v| i128::from(v.failures),
        ),
        account_family(
            "switchyard_account_requests_last_minute",
            "gauge",
            "Requests in the account's rolling one-minute window.",
            &|v| i128::from(v.requests_last_minute),
        ),
        account_family(
            "switchyard_account_tokens_last_minute",
            "gauge",
            "Tokens in the account's rolling one-minute window.",
            &|v| i128::from(v.tokens_last_minute),
        ),
        account_family(
            "switchyard_account_spend_this_month_microdollars",
            "gauge",
            "Spend on the account this calendar month (UTC), in micro-dollars.",
            &|v| i128::from(v.spent_this_month.micros()),
        ),
        policy_family(
            "switchyard_policy_matches_total",
            "Requests the policy matched since start-up.",
            &|s| s.matches,
        ),
        policy_family(
            "switchyard_policy_successes_total",
            "Provider calls under the policy that were answered.",
            &|s| s.successes,
        ),
        policy_family(
            "switchyard_policy_errors_total",
            "Provider calls under the policy that were not answered.",
            &|s| s.errors,
        ),
        policy_family(
            "switchyard_policy_fallbacks_total",
            "Provider calls under the policy on a candidate other than the plan's first.",
            &|s| s.fallbacks,
        ),
        policy_family(
            "switchyard_policy_retries_total",
            "Provider calls under the policy that repeated a failed call on the same target.",
            &|s| s.retries,
        ),
    ];
    let mut text = String::new();
    for family in families {
        // Writing to a String cannot fail.
        let _ = writeln!(text, "# HELP {} {}", family.name, family.help);
        let _ = writeln!(text, "# TYPE {} {}", family.name, family.kind);
        for (label, value) in family.samples {
            let _ = writeln!(
                text,
                "{}{{{}=\"{}\"}} {value}",
                family.name,
                family.label,
                escape(&label)
            );
        }
    }
    text
}

/// The usage writer's figures: what waits in memory and in the spill file, and refusals.
pub fn render_telemetry(stats: &crate::telemetry::TelemetryStats) -> String {
    let families: [(&str, &str, &str, u64); 4] = [
        (
            "switchyard_usage_queue_depth",
            "gauge",
            "Usage events waiting in memory for the batch writer.",
            stats.queued,
        ),
        (
            "switchyard_usage_spill_bytes",
            "gauge",
            "Bytes of usage in the spill file waiting for the database (0 while it answers).",
            stats.spill_bytes,
        ),
        (
            "switchyard_requests_refused_total",
            "counter",
            "/v1 requests refused before routing (bad key, broken body, model not allowed); these have no ledger row.",
            stats.refused,
        ),
        (
            "switchyard_usage_events_lost_total",
            "counter",
            "Usage events neither stored nor spilled because the spill file could not be written.",
            stats.lost,
        ),
    ];
    let mut text = String::new();
    for (name, kind, help, value) in families {
        let _ = writeln!(text, "# HELP {name} {help}");
        let _ = writeln!(text, "# TYPE {name} {kind}");
        let _ = writeln!(text, "{name} {value}");
    }
    text
}

/// A label value as the text format needs it: backslash, double quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("plain-name"), "plain-name");
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
