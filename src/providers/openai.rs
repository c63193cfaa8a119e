//! OpenAI: `POST {base}/v1/chat/completions` with a Bearer key; the canonical format itself.

use super::http::nested_error_message;
use super::openai_compat::{BearerCompatible, Dialect};
use crate::domain::ProviderKind;

pub(crate) const OPENAI: BearerCompatible = BearerCompatible(Dialect {
    provider: ProviderKind::Openai,
    stream_options: true,
    max_completion_tokens: true,
    tool_call_id: None,
    openai_embedding_fields: true,
    parse_error: nested_error_message,
});

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::domain::ProviderKind;
    use crate::providers::conformance::{image_request, send, stream, text_request, MODEL};
    use crate::providers::mock::{MockReply, MOCK_API_KEY};

    #[tokio::test]
    async fn forwards_the_request_with_provider_model_and_without_routing_metadata() {
        let mut req = text_request();
        req.metadata = Some(json!({"purpose": "chat"}).as_object().unwrap().clone());
        req.extra.insert("seed".into(), json!(42));
        req.max_completion_tokens = Some(64);
        let (result, recorded) = send(ProviderKind::Openai, MockReply::text("ok"), &req).await;
        result.unwrap();
        assert_eq!(recorded.path, "/v1/chat/completions");
        assert_eq!(
            recorded.header("authorization"),
            Some(format!("Bearer {MOCK_API_KEY}").as_str())
        );
        assert_eq!(recorded.body["model"], MODEL);
        assert_eq!(recorded.body["seed"], 42);
        assert_eq!(recorded.body["max_completion_tokens"], 64);
        assert!(recorded.body.get("metadata").is_none());
        assert!(recorded.body.get("stream").is_none());
    }

    #[tokio::test]
    async fn streams_always_ask_for_usage_and_pass_images_unchanged() {
        let (_, recorded) = stream(
            ProviderKind::Openai,
            MockReply::text("ok"),
            &image_request(),
        )
        .await;
        assert_eq!(recorded.body["stream"], true);
        assert_eq!(
            recorded.body["stream_options"],
            json!({"include_usage": true})
        );
        assert_eq!(
            recorded.body["messages"][0]["content"][2]["image_url"]["detail"],
            "low"
        );
    }
}
