use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The LLM vendors Switchyard speaks to. Each has one adapter module in `providers/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Openai,
    Azure,
    Anthropic,
    Google,
    Cohere,
    Mistral,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 6] = [
        ProviderKind::Openai,
        ProviderKind::Anthropic,
        ProviderKind::Google,
        ProviderKind::Azure,
        ProviderKind::Cohere,
        ProviderKind::Mistral,
    ];

    /// The identifier used in config files, the database and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Azure => "azure",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Google => "google",
            ProviderKind::Cohere => "cohere",
            ProviderKind::Mistral => "mistral",
        }
    }

    /// The name people know the vendor by, for the dashboard.
    pub fn label(self) -> &'static str {
        match self {
            ProviderKind::Openai => "OpenAI",
            ProviderKind::Azure => "Azure OpenAI",
            ProviderKind::Anthropic => "Anthropic",
            ProviderKind::Google => "Google Gemini",
            ProviderKind::Cohere => "Cohere",
            ProviderKind::Mistral => "Mistral",
        }
    }

    /// Whether the vendor has an embeddings API; Anthropic has none, so a logical model
    /// declaring `embeddings` may not target its accounts.
    pub fn offers_embeddings(self) -> bool {
        self != ProviderKind::Anthropic
    }

    /// Public API root; an account may override it (self-hosted gateways, tests).
    /// Azure has no shared root: each resource has its own endpoint.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            ProviderKind::Openai => Some("https://api.openai.com"),
            ProviderKind::Azure => None,
            ProviderKind::Anthropic => Some("https://api.anthropic.com"),
            ProviderKind::Google => Some("https://generativelanguage.googleapis.com"),
            ProviderKind::Cohere => Some("https://api.cohere.com"),
            ProviderKind::Mistral => Some("https://api.mistral.ai"),
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider kind `{0}` (expected one of openai, azure, anthropic, google, cohere, mistral)")]
pub struct UnknownProviderKind(pub String);

impl FromStr for ProviderKind {
    type Err = UnknownProviderKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProviderKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownProviderKind(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_and_rejects_others() {
        for kind in ProviderKind::ALL {
            assert_eq!(kind.as_str().parse::<ProviderKind>(), Ok(kind));
        }
        assert!("bedrock".parse::<ProviderKind>().is_err());
    }
}
