//! What the router needs to know about a request, and how step type and purpose are found.

use super::RoutingError;
use crate::domain::{Capabilities, Purpose, StepType};
use std::str::FromStr;

pub const STEP_TYPE_HEADER: &str = "x-switchyard-step-type";
pub const PURPOSE_HEADER: &str = "x-switchyard-purpose";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteRequest {
    /// The logical model the application asked for (`model` in the body).
    pub logical_model: String,
    pub step_type: StepType,
    pub purpose: Purpose,
    /// Capabilities the request uses (stream, tools, images, JSON response format).
    pub needs: Capabilities,
    /// Prompt estimate plus completion limit, reserved against the account's TPM limit.
    pub estimated_tokens: u32,
    /// The prompt's share of `estimated_tokens`; the rest is priced as completion (`cheapest`).
    pub estimated_prompt_tokens: u32,
}

/// The raw signals step type and purpose are derived from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassificationHints<'a> {
    pub step_type_header: Option<&'a str>,
    pub purpose_header: Option<&'a str>,
    pub step_type_metadata: Option<&'a str>,
    pub purpose_metadata: Option<&'a str>,
    pub has_tools: bool,
    pub json_response_format: bool,
    /// The request is for `/v1/embeddings`.
    pub embedding: bool,
}

/// Step type and purpose: a header wins over body `metadata`; without either, the step type is
/// inferred (embeddings ⇒ embedding, tools ⇒ tool_call, JSON response format ⇒ extraction, else
/// inference) and the
/// purpose is chat. An unknown value is refused rather than ignored, so a typo cannot silently
/// route a request elsewhere.
pub fn classify(hints: &ClassificationHints<'_>) -> Result<(StepType, Purpose), RoutingError> {
    let step_type = match explicit::<StepType>(
        hints.step_type_header,
        hints.step_type_metadata,
        STEP_TYPE_HEADER,
        "metadata.step_type",
    )? {
        Some(step_type) => step_type,
        None if hints.embedding => StepType::Embedding,
        None if hints.has_tools => StepType::ToolCall,
        None if hints.json_response_format => StepType::Extraction,
        None => StepType::Inference,
    };
    let purpose = explicit::<Purpose>(
        hints.purpose_header,
        hints.purpose_metadata,
        PURPOSE_HEADER,
        "metadata.purpose",
    )?
    .unwrap_or(Purpose::Chat);
    Ok((step_type, purpose))
}

fn explicit<T>(
    header: Option<&str>,
    metadata: Option<&str>,
    header_name: &'static str,
    metadata_name: &'static str,
) -> Result<Option<T>, RoutingError>
where
    T: FromStr<Err = crate::domain::DomainError>,
{
    let (origin, raw) = match (header, metadata) {
        (Some(value), _) => (header_name, value),
        (None, Some(value)) => (metadata_name, value),
        (None, None) => return Ok(None),
    };
    raw.trim()
        .to_ascii_lowercase()
        .parse()
        .map(Some)
        .map_err(|source| RoutingError::InvalidHint { origin, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        type Case = (
            &'static str,
            ClassificationHints<'static>,
            (StepType, Purpose),
        );
        let none = ClassificationHints::default();
        let cases: &[Case] = &[
            ("plain chat", none, (StepType::Inference, Purpose::Chat)),
            (
                "tools infer tool_call",
                ClassificationHints {
                    has_tools: true,
                    ..none
                },
                (StepType::ToolCall, Purpose::Chat),
            ),
            (
                "json infers extraction",
                ClassificationHints {
                    json_response_format: true,
                    ..none
                },
                (StepType::Extraction, Purpose::Chat),
            ),
            (
                "tools beat json",
                ClassificationHints {
                    has_tools: true,
                    json_response_format: true,
                    ..none
                },
                (StepType::ToolCall, Purpose::Chat),
            ),
            (
                "embeddings default to embedding",
                ClassificationHints {
                    embedding: true,
                    ..none
                },
                (StepType::Embedding, Purpose::Chat),
            ),
            (
                "a header routes an embedding as another step type",
                ClassificationHints {
                    embedding: true,
                    step_type_header: Some("extraction"),
                    ..none
                },
                (StepType::Extraction, Purpose::Chat),
            ),
            (
                "header wins over inference",
                ClassificationHints {
                    step_type_header: Some("inference"),
                    has_tools: true,
                    ..none
                },
                (StepType::Inference, Purpose::Chat),
            ),
            (
                "header wins over metadata",
                ClassificationHints {
                    step_type_header: Some("extraction"),
                    step_type_metadata: Some("tool_call"),
                    purpose_header: Some("classification"),
                    purpose_metadata: Some("summarization"),
                    ..none
                },
                (StepType::Extraction, Purpose::Classification),
            ),
            (
                "metadata when no header",
                ClassificationHints {
                    step_type_metadata: Some("tool_call"),
                    purpose_metadata: Some("summarization"),
                    ..none
                },
                (StepType::ToolCall, Purpose::Summarization),
            ),
            (
                "case and spaces forgiven",
                ClassificationHints {
                    purpose_header: Some(" Classification "),
                    ..none
                },
                (StepType::Inference, Purpose::Classification),
            ),
        ];
        for (label, hints, expected) in cases {
            assert_eq!(classify(hints).unwrap(), *expected, "{label}");
        }
    }

    #[test]
    fn unknown_values_name_where_and_what_is_allowed() {
        let none = ClassificationHints::default();
        let cases = [
            (ClassificationHints { step_type_header: Some("tool-call"), ..none },
                "invalid x-switchyard-step-type: unknown step type `tool-call` (expected one of inference, tool_call, extraction, embedding)"),
            (ClassificationHints { purpose_metadata: Some("poetry"), ..none },
                "invalid metadata.purpose: unknown purpose `poetry` (expected one of chat, summarization, classification)"),
        ];
        for (hints, message) in cases {
            let err = classify(&hints).unwrap_err();
            assert!(matches!(err, RoutingError::InvalidHint { .. }), "{err:?}");
            assert_eq!(err.to_string(), message);
        }
    }
}
