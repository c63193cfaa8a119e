//! `GET /metrics` in Prometheus' text format, through the `metrics` crate and its Prometheus
//! exporter. Requests feed histograms and counters as they finish (labelled by logical model,
//! account, policy and status class); the router's live state (calls, rate windows, spend,
//! policy counters) is copied in on each scrape. The recorder belongs to the app, not to the
//! process, so several apps in one test process each keep their own figures.

use crate::routing::{LiveState, RoutingSnapshot};
use metrics::{Key, Label, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use std::sync::Arc;
use std::time::Duration;

/// Prometheus' text exposition format, version 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const REQUEST_DURATION: &str = "switchyard_request_duration_seconds";
const UPSTREAM_DURATION: &str = "switchyard_upstream_duration_seconds";
const TOKENS: &str = "switchyard_tokens_total";
const COST: &str = "switchyard_cost_microdollars_total";
const FALLBACKS: &str = "switchyard_fallback_requests_total";
const INSTANCE_INFO: &str = "switchyard_instance_info";
const CONFIG_VERSION: &str = "switchyard_config_version";

/// Histogram buckets in seconds: from a fast cache hit to a long generation.
const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// How often histogram samples are folded into their buckets, so memory stays flat between
/// scrapes (the exporter keeps raw samples until then).
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Metric families kept from live state on each scrape: name, help, whether it is a counter.
const ACCOUNT_FAMILIES: [(&str, &str, bool); 5] = [
    (
        "switchyard_account_calls_total",
        "Provider calls made on the account since start-up.",
        true,
    ),
    (
        "switchyard_account_failures_total",
        "Provider calls that failed on the account (connect errors, timeouts, 429, 5xx) since start-up.",
        true,
    ),
    (
        "switchyard_account_requests_last_minute",
        "Requests in the account's rolling one-minute window.",
        false,
    ),
    (
        "switchyard_account_tokens_last_minute",
        "Tokens in the account's rolling one-minute window.",
        false,
    ),
    (
        "switchyard_account_spend_this_month_microdollars",
        "Spend on the account this calendar month (UTC), in micro-dollars.",
        false,
    ),
];
const POLICY_FAMILIES: [(&str, &str); 5] = [
    (
        "switchyard_policy_matches_total",
        "Requests the policy matched since start-up.",
    ),
    (
        "switchyard_policy_successes_total",
        "Provider calls under the policy that were answered.",
    ),
    (
        "switchyard_policy_errors_total",
        "Provider calls under the policy that were not answered.",
    ),
    (
        "switchyard_policy_fallbacks_total",
        "Provider calls under the policy on a candidate other than the plan's first.",
    ),
    (
        "switchyard_policy_retries_total",
        "Provider calls under the policy that repeated a failed call on the same target.",
    ),
];

/// The usage writer's figures: what waits in memory and in the spill file, and refusals.
const USAGE_FAMILIES: [(&str, &str, bool); 4] = [
    (
        "switchyard_usage_queue_depth",
        "Usage events waiting in memory for the batch writer.",
        false,
    ),
    (
        "switchyard_usage_spill_bytes",
        "Bytes of usage in the spill file waiting for the database (0 while it answers).",
        false,
    ),
    (
        "switchyard_requests_refused_total",
        "/v1 requests refused before routing (bad key, broken body, model not allowed); these have no ledger row.",
        true,
    ),
    (
        "switchyard_usage_events_lost_total",
        "Usage events neither stored nor spilled because the spill file could not be written.",
        true,
    ),
];

/// Who a figure is about. Empty `account` / `policy`: no account was tried / no policy matched.
pub struct Labels<'a> {
    pub logical_model: &'a str,
    pub account: &'a str,
    pub policy: &'a str,
    /// `2xx`, `4xx`, `5xx`, or `error` for a provider call that got no HTTP answer.
    pub status_class: &'static str,
}

impl Labels<'_> {
    fn to_vec(&self) -> Vec<Label> {
        vec![
            Label::new("logical_model", self.logical_model.to_string()),
            Label::new("account", self.account.to_string()),
            Label::new("policy", self.policy.to_string()),
            Label::new("status_class", self.status_class),
        ]
    }
}

/// The class of an HTTP status, as the `status_class` label holds it.
pub fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// What one finished request contributes.
pub struct RequestFigures {
    pub duration: Duration,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_micros: i64,
    /// More than one provider call was made for the request.
    pub fell_back: bool,
}

/// The app's metrics registry.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
}

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

impl Metrics {
    pub fn new() -> Metrics {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), DURATION_BUCKETS)
            .map(PrometheusBuilder::build_recorder)
            // The bucket list is a non-empty constant, the builder's only reason to refuse.
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        let describe = |name: &'static str, unit, help: &'static str, counter: bool| {
            if counter {
                recorder.describe_counter(name.into(), unit, SharedString::const_str(help));
            } else {
                recorder.describe_gauge(name.into(), unit, SharedString::const_str(help));
            }
        };
        describe(
            TOKENS,
            Some(Unit::Count),
            "Tokens the providers reported, by `kind` (prompt, completion).",
            true,
        );
        describe(
            COST,
            None,
            "Spend in micro-dollars (provider-reported tokens × the price table).",
            true,
        );
        describe(
            FALLBACKS,
            Some(Unit::Count),
            "Requests that needed more than one provider call.",
            true,
        );
        describe(
            INSTANCE_INFO,
            None,
            "Always 1; its labels name the instance that answered (`instance_id`, from \
             SWITCHYARD_INSTANCE_ID) and the Switchyard version it runs.",
            false,
        );
        describe(
            CONFIG_VERSION,
            None,
            "The config version this instance serves; replicas that agree serve the same \
             configuration.",
            false,
        );
        for (name, help, counter) in ACCOUNT_FAMILIES {
            describe(name, None, help, counter);
        }
        for (name, help) in POLICY_FAMILIES {
            describe(name, None, help, true);
        }
        for (name, help, counter) in USAGE_FAMILIES {
            describe(name, None, help, counter);
        }
        describe(
            "switchyard_fleet_redis_up",
            None,
            "1 while Redis, where the fleet shares limits, circuits and budgets, answers; 0 while it cannot be reached (only with REDIS_URL).",
            false,
        );
        describe(
            "switchyard_fleet_redis_fallbacks_total",
            None,
            "Requests decided without Redis while it could not be reached: by this instance's own limits, or refused.",
            true,
        );
        recorder.describe_histogram(
            REQUEST_DURATION.into(),
            Some(Unit::Seconds),
            SharedString::const_str(
                "Whole requests as the app saw them, streams until their last byte.",
            ),
        );
        recorder.describe_histogram(
            UPSTREAM_DURATION.into(),
            Some(Unit::Seconds),
            SharedString::const_str("Provider calls, from sending to the last byte of the answer."),
        );
        Metrics {
            recorder: Arc::new(recorder),
            handle,
        }
    }

    /// A finished request (answered or refused).
    pub fn request(&self, labels: &Labels<'_>, figures: &RequestFigures) {
        let labels = labels.to_vec();
        let key = |name: &'static str| Key::from_parts(name, labels.clone());
        self.recorder
            .register_histogram(&key(REQUEST_DURATION), &METADATA)
            .record(figures.duration.as_secs_f64());
        for (kind, tokens) in [
            ("prompt", figures.prompt_tokens),
            ("completion", figures.completion_tokens),
        ] {
            if tokens > 0 {
                let mut with_kind = labels.clone();
                with_kind.push(Label::new("kind", kind));
                self.recorder
                    .register_counter(&Key::from_parts(TOKENS, with_kind), &METADATA)
                    .increment(tokens);
            }
        }
        if let Ok(cost @ 1..) = u64::try_from(figures.cost_micros) {
            self.recorder
                .register_counter(&key(COST), &METADATA)
                .increment(cost);
        }
        if figures.fell_back {
            self.recorder
                .register_counter(&key(FALLBACKS), &METADATA)
                .increment(1);
        }
    }

    /// One provider call, answered or failed.
    pub fn upstream_call(&self, labels: &Labels<'_>, duration: Duration) {
        self.recorder
            .register_histogram(
                &Key::from_parts(UPSTREAM_DURATION, labels.to_vec()),
                &METADATA,
            )
            .record(duration.as_secs_f64());
    }

    /// Names the instance in every scrape, so an operator behind a load balancer can tell
    /// which replica answered.
    pub fn instance(&self, instance_id: &str) {
        let labels = vec![
            Label::new("instance_id", instance_id.to_string()),
            Label::new("version", env!("CARGO_PKG_VERSION")),
        ];
        self.recorder
            .register_gauge(&Key::from_parts(INSTANCE_INFO, labels), &METADATA)
            .set(1.0);
    }

    /// The config version served, set before each scrape.
    pub fn config_version(&self, version: i64) {
        self.recorder
            .register_gauge(&Key::from_name(CONFIG_VERSION), &METADATA)
            .set(version as f64);
    }

    /// Folds histogram samples into buckets; called every [`UPKEEP_INTERVAL`].
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// Every family, with the live-state ones brought up to `now_ms` first.
    pub fn render(
        &self,
        routing: &RoutingSnapshot,
        live: &LiveState,
        usage: &crate::telemetry::TelemetryStats,
        fleet: Option<&crate::fleet::Fleet>,
        now_ms: u64,
    ) -> String {
        if let Some(fleet) = fleet {
            self.recorder
                .register_gauge(&Key::from_name("switchyard_fleet_redis_up"), &METADATA)
                .set(if fleet.is_up() { 1.0 } else { 0.0 });
            self.recorder
                .register_counter(
                    &Key::from_name("switchyard_fleet_redis_fallbacks_total"),
                    &METADATA,
                )
                .absolute(fleet.fallbacks());
        }
        for (name, value, counter) in [
            ("switchyard_usage_queue_depth", usage.queued, false),
            ("switchyard_usage_spill_bytes", usage.spill_bytes, false),
            ("switchyard_requests_refused_total", usage.refused, true),
            ("switchyard_usage_events_lost_total", usage.lost, true),
        ] {
            let key = Key::from_name(name);
            if counter {
                self.recorder
                    .register_counter(&key, &METADATA)
                    .absolute(value);
            } else {
                self.recorder
                    .register_gauge(&key, &METADATA)
                    .set(value as f64);
            }
        }
        for account in routing.accounts() {
            let view = live.account_view(&account.name, now_ms);
            let values = [
                view.calls as f64,
                view.failures as f64,
                view.requests_last_minute as f64,
                view.tokens_last_minute as f64,
                view.spent_this_month.micros() as f64,
            ];
            for ((name, _, counter), value) in ACCOUNT_FAMILIES.into_iter().zip(values) {
                let key = Key::from_parts(name, vec![Label::new("account", account.name.clone())]);
                if counter {
                    self.recorder
                        .register_counter(&key, &METADATA)
                        .absolute(value as u64);
                } else {
                    self.recorder.register_gauge(&key, &METADATA).set(value);
                }
            }
        }
        for policy in routing.policies() {
            let stats = live.policy_stats(&policy.name);
            let values = [
                stats.matches,
                stats.successes,
                stats.errors,
                stats.fallbacks,
                stats.retries,
            ];
            for ((name, _), value) in POLICY_FAMILIES.into_iter().zip(values) {
                let key = Key::from_parts(name, vec![Label::new("policy", policy.name.clone())]);
                self.recorder
                    .register_counter(&key, &METADATA)
                    .absolute(value);
            }
        }
        self.handle.render()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(status_class: &'static str) -> Labels<'static> {
        Labels {
            logical_model: "primary-llm",
            account: "openai-main",
            policy: "",
            status_class,
        }
    }

    #[test]
    fn requests_feed_histograms_and_labelled_counters() {
        let metrics = Metrics::new();
        let figures = RequestFigures {
            duration: Duration::from_millis(30),
            prompt_tokens: 12,
            completion_tokens: 7,
            cost_micros: 100,
            fell_back: true,
        };
        metrics.request(&labels("2xx"), &figures);
        metrics.request(&labels("2xx"), &figures);
        metrics.upstream_call(&labels("5xx"), Duration::from_millis(20));
        metrics.upkeep();
        let text = rendered_without_config(&metrics);
        let series =
            r#"logical_model="primary-llm",account="openai-main",policy="",status_class="2xx""#;
        for line in [
            format!("switchyard_request_duration_seconds_bucket{{{series},le=\"0.05\"}} 2"),
            format!("switchyard_request_duration_seconds_bucket{{{series},le=\"0.025\"}} 0"),
            format!("switchyard_request_duration_seconds_count{{{series}}} 2"),
            format!("switchyard_tokens_total{{{series},kind=\"prompt\"}} 24"),
            format!("switchyard_tokens_total{{{series},kind=\"completion\"}} 14"),
            format!("switchyard_cost_microdollars_total{{{series}}} 200"),
            format!("switchyard_fallback_requests_total{{{series}}} 2"),
            "# TYPE switchyard_upstream_duration_seconds histogram".to_string(),
        ] {
            assert!(text.contains(&line), "{line} in\n{text}");
        }
        assert!(text.contains(r#"status_class="5xx""#), "{text}");
    }

    /// `/metrics` of `metrics` with no account or policy configured and nothing live.
    fn rendered_without_config(metrics: &Metrics) -> String {
        let routing = RoutingSnapshot::new(vec![], vec![], vec![]).unwrap();
        metrics.render(
            &routing,
            &LiveState::new(),
            &crate::telemetry::TelemetryStats::default(),
            None,
            0,
        )
    }

    #[test]
    fn the_instance_and_its_config_version_are_named() {
        let metrics = Metrics::new();
        metrics.instance("gw-eu-1:3000");
        metrics.config_version(42);
        let text = rendered_without_config(&metrics);
        let info = format!(
            "switchyard_instance_info{{instance_id=\"gw-eu-1:3000\",version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        assert!(text.contains(&info), "{info} in\n{text}");
        assert!(text.contains("switchyard_config_version 42"), "{text}");
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(200), "2xx");
        assert_eq!(status_class(499), "4xx");
        assert_eq!(status_class(503), "5xx");
    }
}
