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

/// A feature a request may use and a logical model may declare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    Streaming,
    Tools,
    Vision,
    JsonMode,
}

impl Capability {
    pub const ALL: [Capability; 4] = [
        Capability::Streaming,
        Capability::Tools,
        Capability::Vision,
        Capability::JsonMode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Streaming => "streaming",
            Capability::Tools => "tools",
            Capability::Vision => "vision",
            Capability::JsonMode => "json_mode",
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
}

impl Capabilities {
    pub fn has(self, capability: Capability) -> bool {
        match capability {
            Capability::Streaming => self.streaming,
            Capability::Tools => self.tools,
            Capability::Vision => self.vision,
            Capability::JsonMode => self.json_mode,
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
    /// In preference order: the first healthy one is tried first.
    pub targets: Vec<Target>,
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
        check.require(
            !self.targets.is_empty(),
            "targets",
            "needs at least one target",
        );
        let mut seen = HashSet::new();
        for (i, target) in self.targets.iter().enumerate() {
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
            targets: vec![
                Target {
                    account: "openai-main".into(),
                    model: "gpt-4o".into(),
                },
                Target {
                    account: "claude".into(),
                    model: "claude-sonnet-4-5".into(),
                },
            ],
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
                |m| m.targets[1].account = String::new(),
                &["targets[1].account"],
            ),
            (
                "spaced model",
                |m| m.targets[0].model = "gpt 4o".into(),
                &["targets[0].model"],
            ),
            (
                "repeated target",
                |m| m.targets[1] = m.targets[0].clone(),
                &["targets[1]"],
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
            r#"["streaming","tools","vision","json_mode"]"#
        );
        let bad = r#"{"name":"x","targets":[],"colour":"red"}"#;
        assert!(serde_json::from_str::<LogicalModel>(bad).is_err());
    }
}
