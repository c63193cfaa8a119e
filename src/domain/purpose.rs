use super::validation::{allowed_list, DomainError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What the caller wants the answer for; policies route on it (e.g. cheap models for
/// classification).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Chat,
    Summarization,
    Classification,
}

impl Purpose {
    pub const ALL: [Purpose; 3] = [
        Purpose::Chat,
        Purpose::Summarization,
        Purpose::Classification,
    ];

    /// The spelling used in headers, request metadata and config files.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Chat => "chat",
            Purpose::Summarization => "summarization",
            Purpose::Classification => "classification",
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Purpose {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Purpose::ALL
            .into_iter()
            .find(|purpose| purpose.as_str() == s)
            .ok_or_else(|| DomainError::UnknownValue {
                what: "purpose",
                value: s.to_string(),
                allowed: allowed_list(&Purpose::ALL),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_purpose_and_names_the_allowed_ones() {
        for purpose in Purpose::ALL {
            assert_eq!(purpose.as_str().parse::<Purpose>(), Ok(purpose));
        }
        let err = "translation".parse::<Purpose>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown purpose `translation` (expected one of chat, summarization, classification)"
        );
    }
}
