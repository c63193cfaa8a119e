use super::validation::{allowed_list, DomainError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What an agent step is doing; policies route on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepType {
    Inference,
    ToolCall,
    Extraction,
    /// A request to `/v1/embeddings`; its default there, so policies can route embeddings apart.
    Embedding,
}

impl StepType {
    pub const ALL: [StepType; 4] = [
        StepType::Inference,
        StepType::ToolCall,
        StepType::Extraction,
        StepType::Embedding,
    ];

    /// The spelling used in headers, request metadata and config files.
    pub fn as_str(self) -> &'static str {
        match self {
            StepType::Inference => "inference",
            StepType::ToolCall => "tool_call",
            StepType::Extraction => "extraction",
            StepType::Embedding => "embedding",
        }
    }
}

impl fmt::Display for StepType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StepType {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StepType::ALL
            .into_iter()
            .find(|step| step.as_str() == s)
            .ok_or_else(|| DomainError::UnknownValue {
                what: "step type",
                value: s.to_string(),
                allowed: allowed_list(&StepType::ALL),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_step_type_and_names_the_allowed_ones() {
        for step in StepType::ALL {
            assert_eq!(step.as_str().parse::<StepType>(), Ok(step));
            let json = serde_json::to_string(&step).unwrap();
            assert_eq!(json, format!("\"{}\"", step.as_str()));
        }
        let err = "tool-call".parse::<StepType>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown step type `tool-call` (expected one of inference, tool_call, extraction, embedding)"
        );
    }
}
