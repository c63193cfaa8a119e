use super::validation::{allowed_list, Checker, DomainError};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

/// Longest accepted description; it is shown in tables, not documents.
pub const DESCRIPTION_MAX_LEN: usize = 500;
/// Longest provider model name; real ones are well under this (Azure deployments, Gemini paths).
pub const PROVIDER_MODEL_MAX_LEN: usize = 200;
/// OpenAI accepts at most four stop sequences, and so does every provider we translate to.
pub const MAX_STOP_SEQUENCES: usize = 4;
/// Largest weight of a target or a split arm: enough for a 0.01 % canary, small enough that
/// sums never overflow.
pub const MAX_WEIGHT: u32 = 10_000;
/// Most retries on one target before falling back: more only delays the fallback.
pub const MAX_RETRIES: u32 = 5;

/// How a logical model orders its targets for each request; fallback then walks the rest in
/// that order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// As listed: the first available target takes all the traffic.
    #[default]
    Ordered,
    /// At random, in proportion to the targets' weights.
    Weighted,
    /// Lowest average latency first, with a small share of exploration.
    LowestLatency,
    /// Lowest price for the request's estimated tokens first.
    Cheapest,
    /// Fewest requests in flight first, then the least rate-limit headroom used.
    LeastBusy,
}

impl Strategy {
    pub const ALL: [Strategy; 5] = [
        Strategy::Ordered,
        Strategy::Weighted,
        Strategy::LowestLatency,
        Strategy::Cheapest,
        Strategy::LeastBusy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Ordered => "ordered",
            Strategy::Weighted => "weighted",
            Strategy::LowestLatency => "lowest_latency",
            Strategy::Cheapest => "cheapest",
            Strategy::LeastBusy => "least_busy",
        }
    }

    /// One line for forms and the policy tester.
    pub fn describe(self) -> &'static str {
        match self {
            Strategy::Ordered => "first available target in the listed order",
            Strategy::Weighted => "random, in proportion to the targets' weights",
            Strategy::LowestLatency => {
                "lowest average latency first; a small share explores the others"
            }
            Strategy::Cheapest => "lowest price for the request's estimated tokens first",
            Strategy::LeastBusy => "fewest requests in flight, then most rate-limit headroom",
        }
    }

    fn is_ordered(&self) -> bool {
        *self == Strategy::Ordered
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Strategy {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Strategy::ALL
            .into_iter()
            .find(|strategy| strategy.as_str() == s)
            .ok_or_else(|| DomainError::UnknownValue {
                what: "strategy",
                value: s.to_string(),
                allowed: allowed_list(&Strategy::ALL),
            })
    }
}

/// A feature a request may use and a logical model may declare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    Streaming,
    Tools,
    Vision,
    JsonMode,
    /// Serves `/v1/embeddings`: its targets are embedding models.
    Embeddings,
}

impl Capability {
    pub const ALL: [Capability; 5] = [
        Capability::Streaming,
        Capability::Tools,
        Capability::Vision,
        Capability::JsonMode,
        Capability::Embeddings,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Streaming => "streaming",
            Capability::Tools => "tools",
            Capability::Vision => "vision",
            Capability::JsonMode => "json_mode",
            Capability::Embeddings => "embeddings",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Capability {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Capability::ALL
            .into_iter()
            .find(|capability| capability.as_str() == s)
            .ok_or_else(|| DomainError::UnknownValue {
                what: "capability",
                value: s.to_string(),
                allowed: allowed_list(&Capability::ALL),
            })
    }
}

/// The set of capabilities a logical model declares, or a request needs. Written as a list,
/// `[streaming, tools]`, as in the config file; flags `{streaming: true}` are read too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "CapabilitiesWire", into = "Vec<Capability>")]
pub struct Capabilities {
    pub streaming: bool,
    pub tools: bool,
    pub vision: bool,
    pub json_mode: bool,
    pub embeddings: bool,
}

impl Capabilities {
    pub fn has(self, capability: Capability) -> bool {
        match capability {
            Capability::Streaming => self.streaming,
            Capability::Tools => self.tools,
            Capability::Vision => self.vision,
            Capability::JsonMode => self.json_mode,
            Capability::Embeddings => self.embeddings,
        }
    }

    /// Members in the canonical order, for messages and forms.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL.into_iter().filter(move |c| self.has(*c))
    }

    /// The first capability in `needs` that this set lacks: the one a refusal names.
    pub fn first_missing(self, needs: Capabilities) -> Option<Capability> {
        needs.iter().find(|c| !self.has(*c))
    }
}

impl FromIterator<Capability> for Capabilities {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        let mut set = Capabilities::default();
        for capability in iter {
            match capability {
                Capability::Streaming => set.streaming = true,
                Capability::Tools => set.tools = true,
                Capability::Vision => set.vision = true,
                Capability::JsonMode => set.json_mode = true,
                Capability::Embeddings => set.embeddings = true,
            }
        }
        set
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CapabilitiesWire {
    List(Vec<Capability>),
    Flags(CapabilityFlags),
}

#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct CapabilityFlags {
    streaming: bool,
    tools: bool,
    vision: bool,
    json_mode: bool,
    embeddings: bool,
}

impl From<CapabilitiesWire> for Capabilities {
    fn from(wire: CapabilitiesWire) -> Self {
        match wire {
            CapabilitiesWire::List(list) => list.into_iter().collect(),
            CapabilitiesWire::Flags(f) => Capabilities {
                streaming: f.streaming,
                tools: f.tools,
                vision: f.vision,
                json_mode: f.json_mode,
                embeddings: f.embeddings,
            },
        }
    }
}

impl From<Capabilities> for Vec<Capability> {
    fn from(set: Capabilities) -> Self {
        set.iter().collect()
    }
}

/// Sampling settings a request inherits when it does not set them itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Defaults {
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    pub top_p: Option<f64>,
    pub stop: Vec<String>,
}

/// Longest time a cached answer is kept: a week; answers older than that are rarely wanted.
pub const MAX_CACHE_TTL_SECONDS: u32 = 7 * 24 * 3600;

/// Who may be answered from an answer cached for one gateway key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheScope {
    /// Only the key that asked first: no key sees another key's prompts answered.
    #[default]
    Key,
    /// Every key allowed to use the model.
    Shared,
}

impl CacheScope {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheScope::Key => "key",
            CacheScope::Shared => "shared",
        }
    }
}

/// The exact response cache of a logical model: an identical request (after the model's
/// defaults) is answered from the cache for `ttl_seconds`, at no cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    pub ttl_seconds: u32,
    #[serde(default)]
    pub scope: CacheScope,
    /// Also cache requests sampled at a temperature above 0 (or left to the provider's default
    /// of 1), whose answers would vary if asked again.
    #[serde(default)]
    pub nonzero_temperature: bool,
}

/// One place a logical model can be served: a provider account and that provider's model name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Name of the provider account.
    pub account: String,
    /// The model name as the provider spells it, e.g. `claude-sonnet-4-5`.
    pub model: String,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.account, self.model)
    }
}

/// One entry of a logical model's target list: the target and its share of the traffic under
/// the `weighted` strategy. Written flat in files and forms: `{account, model, weight}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ModelTargetWire", into = "ModelTargetWire")]
pub struct ModelTarget {
    pub target: Target,
    /// 0 keeps the target as a fallback only.
    pub weight: u32,
}

pub const DEFAULT_WEIGHT: u32 = 1;

impl ModelTarget {
    pub fn new(account: impl Into<String>, model: impl Into<String>) -> Self {
        ModelTarget {
            target: Target {
                account: account.into(),
                model: model.into(),
            },
            weight: DEFAULT_WEIGHT,
        }
    }
}

impl fmt::Display for ModelTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.target.fmt(f)
    }
}

fn default_weight() -> u32 {
    DEFAULT_WEIGHT
}

fn is_default_weight(weight: &u32) -> bool {
    *weight == DEFAULT_WEIGHT
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelTargetWire {
    account: String,
    model: String,
    #[serde(default = "default_weight", skip_serializing_if = "is_default_weight")]
    weight: u32,
}

impl From<ModelTargetWire> for ModelTarget {
    fn from(wire: ModelTargetWire) -> Self {
        ModelTarget {
            target: Target {
                account: wire.account,
                model: wire.model,
            },
            weight: wire.weight,
        }
    }
}

impl From<ModelTarget> for ModelTargetWire {
    fn from(entry: ModelTarget) -> Self {
        ModelTargetWire {
            account: entry.target.account,
            model: entry.target.model,
            weight: entry.weight,
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The model name applications ask for (`primary-llm`), decoupled from any provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogicalModel {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default)]
    pub defaults: Defaults,
    /// How the targets are ordered for each request.
    #[serde(default, skip_serializing_if = "Strategy::is_ordered")]
    pub strategy: Strategy,
    /// Listed order: the preference under `ordered`, the tie-break under the other strategies.
    pub targets: Vec<ModelTarget>,
    /// Calls to the same target again, after a short random pause, before falling back, for
    /// failures worth retrying (connect errors, timeouts, 429, 5xx) that came before any output.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u32,
    /// Off (`None`) unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheSettings>,
}

impl LogicalModel {
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut check = Checker::default();
        check.name("name", &self.name);
        check.require(
            self.description.chars().count() <= DESCRIPTION_MAX_LEN,
            "description",
            format!("must be at most {DESCRIPTION_MAX_LEN} characters"),
        );
        check_defaults(&mut check, &self.defaults);
        if let Some(cache) = &self.cache {
            check.require(
                (1..=MAX_CACHE_TTL_SECONDS).contains(&cache.ttl_seconds),
                "cache.ttl_seconds",
                format!("must be from 1 to {MAX_CACHE_TTL_SECONDS} (a week)"),
            );
        }
        check.require(
            !self.targets.is_empty(),
            "targets",
            "needs at least one target",
        );
        check.require(
            self.retries <= MAX_RETRIES,
            "retries",
            format!("must be from 0 to {MAX_RETRIES}"),
        );
        let mut seen = HashSet::new();
        for (i, entry) in self.targets.iter().enumerate() {
            let target = &entry.target;
            check.name(format!("targets[{i}].account"), &target.account);
            let model = target.model.as_str();
            check.require(
                !model.is_empty()
                    && model.len() <= PROVIDER_MODEL_MAX_LEN
                    && !model.chars().any(|c| c.is_whitespace() || c.is_control()),
                format!("targets[{i}].model"),
                format!("must be 1 to {PROVIDER_MODEL_MAX_LEN} characters without spaces"),
            );
            check.require(
                seen.insert(target),
                format!("targets[{i}]"),
                format!("repeats target {target}"),
            );
            check.require(
                entry.weight <= MAX_WEIGHT,
                format!("targets[{i}].weight"),
                format!("must be from 0 to {MAX_WEIGHT}"),
            );
        }
        if self.strategy == Strategy::Weighted {
            check.require(
                self.targets.iter().any(|t| t.weight > 0),
                "targets",
                "the weighted strategy needs at least one target with a weight above 0",
            );
        }
        check.finish()
    }
}

fn check_defaults(check: &mut Checker, defaults: &Defaults) {
    if let Some(t) = defaults.temperature {
        check.require(
            (0.0..=2.0).contains(&t),
            "defaults.temperature",
            "must be between 0 and 2",
        );
    }
    if let Some(p) = defaults.top_p {
        check.require(
            (0.0..=1.0).contains(&p),
            "defaults.top_p",
            "must be between 0 and 1",
        );
    }
    if let Some(m) = defaults.max_tokens {
        check.require(m > 0, "defaults.max_tokens", "must be greater than 0");
    }
    check.require(
        defaults.stop.len() <= MAX_STOP_SEQUENCES,
        "defaults.stop",
        format!("at most {MAX_STOP_SEQUENCES} stop sequences"),
    );
    for (i, stop) in defaults.stop.iter().enumerate() {
        check.require(
            !stop.is_empty(),
            format!("defaults.stop[{i}]"),
            "must not be empty",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> LogicalModel {
        LogicalModel {
            name: "primary-llm".into(),
            description: "General purpose".into(),
            capabilities: Capabilities {
                streaming: true,
                tools: true,
                ..Default::default()
            },
            defaults: Defaults {
                temperature: Some(0.2),
                max_tokens: Some(1024),
                top_p: Some(1.0),
                stop: vec![],
            },
            strategy: Strategy::Ordered,
            targets: vec![
                ModelTarget::new("openai-main", "gpt-4o"),
                ModelTarget::new("claude", "claude-sonnet-4-5"),
            ],
            retries: 0,
            cache: None,
        }
    }

    fn fields(model: &LogicalModel) -> Vec<String> {
        match model.validate() {
            Ok(()) => vec![],
            Err(DomainError::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
            Err(other) => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn validation_names_the_offending_field() {
        type Edit = fn(&mut LogicalModel);
        let cases: &[(&str, Edit, &[&str])] = &[
            ("valid", |_| {}, &[]),
            ("empty name", |m| m.name.clear(), &["name"]),
            ("bad charset", |m| m.name = "Primary LLM".into(), &["name"]),
            (
                "long description",
                |m| m.description = "x".repeat(501),
                &["description"],
            ),
            (
                "temperature too high",
                |m| m.defaults.temperature = Some(2.1),
                &["defaults.temperature"],
            ),
            (
                "temperature negative",
                |m| m.defaults.temperature = Some(-0.1),
                &["defaults.temperature"],
            ),
            (
                "temperature bound",
                |m| m.defaults.temperature = Some(2.0),
                &[],
            ),
            (
                "top_p too high",
                |m| m.defaults.top_p = Some(1.01),
                &["defaults.top_p"],
            ),
            ("top_p zero ok", |m| m.defaults.top_p = Some(0.0), &[]),
            (
                "max_tokens zero",
                |m| m.defaults.max_tokens = Some(0),
                &["defaults.max_tokens"],
            ),
            (
                "five stops",
                |m| m.defaults.stop = vec!["a".into(); 5],
                &["defaults.stop"],
            ),
            ("four stops", |m| m.defaults.stop = vec!["a".into(); 4], &[]),
            (
                "empty stop",
                |m| m.defaults.stop = vec![String::new()],
                &["defaults.stop[0]"],
            ),
            ("no targets", |m| m.targets.clear(), &["targets"]),
            (
                "bad account",
                |m| m.targets[1].target.account = String::new(),
                &["targets[1].account"],
            ),
            (
                "spaced model",
                |m| m.targets[0].target.model = "gpt 4o".into(),
                &["targets[0].model"],
            ),
            (
                "repeated target",
                |m| m.targets[1] = m.targets[0].clone(),
                &["targets[1]"],
            ),
            (
                "same target, other weight",
                |m| {
                    m.targets[1] = m.targets[0].clone();
                    m.targets[1].weight = 3;
                },
                &["targets[1]"],
            ),
            (
                "weight too high",
                |m| m.targets[0].weight = MAX_WEIGHT + 1,
                &["targets[0].weight"],
            ),
            ("weight zero ok", |m| m.targets[0].weight = 0, &[]),
            (
                "weighted with all weights zero",
                |m| {
                    m.strategy = Strategy::Weighted;
                    m.targets.iter_mut().for_each(|t| t.weight = 0);
                },
                &["targets"],
            ),
            ("retries at most", |m| m.retries = MAX_RETRIES, &[]),
            (
                "too many retries",
                |m| m.retries = MAX_RETRIES + 1,
                &["retries"],
            ),
            (
                "two problems",
                |m| {
                    m.name.clear();
                    m.targets.clear();
                },
                &["name", "targets"],
            ),
        ];
        for (label, edit, expected) in cases {
            let mut model = valid();
            edit(&mut model);
            assert_eq!(fields(&model), *expected, "{label}");
        }
    }

    #[test]
    fn capabilities_report_the_first_missing_one() {
        let declared: Capabilities = [Capability::Streaming, Capability::Tools]
            .into_iter()
            .collect();
        let cases = [
            (vec![], None),
            (vec![Capability::Tools], None),
            (vec![Capability::Vision], Some(Capability::Vision)),
            (
                vec![Capability::JsonMode, Capability::Vision],
                Some(Capability::Vision),
            ),
            (
                vec![Capability::Streaming, Capability::JsonMode],
                Some(Capability::JsonMode),
            ),
        ];
        for (needs, missing) in cases {
            let needs: Capabilities = needs.into_iter().collect();
            assert_eq!(declared.first_missing(needs), missing, "{needs:?}");
        }
        assert_eq!(
            declared.iter().collect::<Vec<_>>(),
            vec![Capability::Streaming, Capability::Tools]
        );
        assert_eq!("json_mode".parse::<Capability>(), Ok(Capability::JsonMode));
        assert!("audio"
            .parse::<Capability>()
            .unwrap_err()
            .to_string()
            .contains("streaming, tools, vision, json_mode"));
    }

    #[test]
    fn deserializes_with_defaults_and_rejects_unknown_fields() {
        let json =
            r#"{"name":"fast-llm","targets":[{"account":"mistral","model":"mistral-small"}]}"#;
        let model: LogicalModel = serde_json::from_str(json).unwrap();
        assert_eq!(model.capabilities, Capabilities::default());
        assert_eq!(model.targets[0].to_string(), "mistral/mistral-small");
        let wire = [
            (
                r#"["vision","tools"]"#,
                Some(Capabilities {
                    tools: true,
                    vision: true,
                    ..Default::default()
                }),
            ),
            (
                r#"{"json_mode":true}"#,
                Some(Capabilities {
                    json_mode: true,
                    ..Default::default()
                }),
            ),
            (r#"["audio"]"#, None),
            (r#"{"audio":true}"#, None),
        ];
        for (json, expected) in wire {
            assert_eq!(
                serde_json::from_str::<Capabilities>(json).ok(),
                expected,
                "{json}"
            );
        }
        let all: Capabilities = Capability::ALL.into_iter().collect();
        assert_eq!(
            serde_json::to_string(&all).unwrap(),
            r#"["streaming","tools","vision","json_mode","embeddings"]"#
        );
        let bad = r#"{"name":"x","targets":[],"colour":"red"}"#;
        assert!(serde_json::from_str::<LogicalModel>(bad).is_err());
        let bad_target = r#"{"name":"x","targets":[{"account":"a","model":"m","colour":1}]}"#;
        assert!(serde_json::from_str::<LogicalModel>(bad_target).is_err());
    }

    #[test]
    fn strategy_weight_and_retries_round_trip_and_stay_out_when_default() {
        let json = r#"{"name":"m","strategy":"lowest_latency","retries":2,
            "targets":[{"account":"a","model":"x","weight":3},{"account":"b","model":"y"}]}"#;
        let model: LogicalModel = serde_json::from_str(json).unwrap();
        assert_eq!(model.strategy, Strategy::LowestLatency);
        assert_eq!(model.retries, 2);
        assert_eq!(
            model.targets.iter().map(|t| t.weight).collect::<Vec<_>>(),
            vec![3, 1]
        );
        let back: LogicalModel =
            serde_json::from_str(&serde_json::to_string(&model).unwrap()).unwrap();
        assert_eq!(back, model);
        let plain = LogicalModel {
            strategy: Strategy::Ordered,
            retries: 0,
            ..model
        };
        let text = serde_json::to_string(&plain).unwrap();
        assert!(
            !text.contains("strategy") && !text.contains("retries"),
            "{text}"
        );
        assert!(
            text.contains(r#""weight":3"#) && !text.contains(r#""weight":1"#),
            "{text}"
        );
        assert_eq!("least_busy".parse::<Strategy>(), Ok(Strategy::LeastBusy));
        assert!("random"
            .parse::<Strategy>()
            .unwrap_err()
            .to_string()
            .contains("ordered, weighted, lowest_latency, cheapest, least_busy"));
    }
}
