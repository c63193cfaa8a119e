//! Mistral: OpenAI-compatible at `POST {base}/v1/chat/completions` with a Bearer key, but strict
//! about unknown fields and without `max_completion_tokens` or `stream_options`.

use serde_json::Value;
use sha2::Digest;

use super::http::nested_error_message;
use super::openai_compat::{BearerCompatible, Dialect};
use crate::domain::ProviderKind;

pub(crate) const MISTRAL: BearerCompatible = BearerCompatible(Dialect {
    provider: ProviderKind::Mistral,
    stream_options: false,
    max_completion_tokens: false,
    tool_call_id: Some(tool_call_id),
    openai_embedding_fields: false,
    parse_error,
});

/// Mistral accepts only tool call ids of nine ASCII letters or digits. Others (from a conversation
/// begun on another provider) are replaced by a digest, the same for a call and its result.
fn tool_call_id(id: &str) -> String {
    if id.len() == 9 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return id.to_string();
    }
    let digest = sha2::Sha256::digest(id.as_bytes());
    format!("{digest:x}").chars().take(9).collect()
}

/// Mistral answers `{"message": ...}` for most errors, `{"detail": [{"msg": ...}]}` for
/// validation errors (422), and sometimes the OpenAI shape.
fn parse_error(json: &Value) -> Option<String> {
    if let Some(message) = json.get("message") {
        return Some(match message {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    }
    if let Some(details) = json.get("detail").and_then(Value::as_array) {
        let messages: Vec<String> = details
            .iter()
            .filter_map(|d| {
                let msg = d.get("msg")?.as_str()?;
                let field = d.get("loc").and_then(Value::as_array).map(|loc| {
                    loc.iter()
                        .map(|p| p.to_string().trim_matches('"').to_string())
                        .collect::<Vec<_>>()
                        .join(".")
                });
                Some(match field {
                    Some(field) => format!("{field}: {msg}"),
                    None => msg.to_string(),
                })
            })
            .collect();
        if !messages.is_empty() {
            return Some(messages.join("; "));
        }
    }
    nested_error_message(json)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::parse_error;
    use crate::domain::ProviderKind;
    use crate::providers::conformance::{send, stream, text_request, tool_request};
    use crate::providers::mock::MockReply;

    #[tokio::test]
    async fn sends_only_fields_mistral_knows() {
        let mut req = text_request();
        req.max_completion_tokens = Some(99);
        req.metadata = Some(
            json!({"step_type": "inference"})
                .as_object()
                .unwrap()
                .clone(),
        );
        let (chunks, recorded) = stream(ProviderKind::Mistral, MockReply::text("ok"), &req).await;
        assert!(chunks.iter().all(Result::is_ok));
        assert_eq!(recorded.body["max_tokens"], 99);
        for absent in ["max_completion_tokens", "stream_options", "metadata"] {
            assert!(recorded.body.get(absent).is_none(), "{absent}");
        }
    }

    #[tokio::test]
    async fn embeddings_name_the_size_output_dimension_and_send_no_openai_fields() {
        let (mock, ctx) = crate::providers::conformance::start(ProviderKind::Mistral, vec![]).await;
        let mut req = crate::providers::conformance::embeddings_request(&["a"], Some(8));
        req.user = Some("u1".into());
        crate::providers::adapter_for(ProviderKind::Mistral)
            .embed(&ctx, &req)
            .await
            .unwrap();
        let body = mock.requests().pop().unwrap().body;
        assert_eq!(body["output_dimension"], 8);
        for absent in ["dimensions", "user", "encoding_format"] {
            assert!(body.get(absent).is_none(), "{absent}");
        }
    }

    #[tokio::test]
    async fn rewrites_foreign_tool_call_ids_consistently() {
        let (result, recorded) = send(
            ProviderKind::Mistral,
            MockReply::text("ok"),
            &tool_request(),
        )
        .await;
        result.unwrap();
        let messages = &recorded.body["messages"];
        let call_id = messages[1]["tool_calls"][0]["id"].as_str().unwrap();
        assert_eq!(call_id.len(), 9);
        assert_eq!(messages[2]["tool_call_id"], call_id);
        assert_eq!(super::tool_call_id("abcDEF123"), "abcDEF123");
    }

    #[test]
    fn reads_each_error_shape() {
        let validation = json!({"detail": [{"type": "extra_forbidden", "loc": ["body", "foo"], "msg": "Extra inputs are not permitted"}]});
        assert_eq!(
            parse_error(&validation).unwrap(),
            "body.foo: Extra inputs are not permitted"
        );
        assert_eq!(
            parse_error(&json!({"object": "error", "message": "Unauthorized"})).unwrap(),
            "Unauthorized"
        );
        assert_eq!(
            parse_error(&json!({"error": {"message": "nested"}})).unwrap(),
            "nested"
        );
    }
}
