//! OpenAI: `POST {base}/v1/chat/completions` with a Bearer key; the canonical format itself.

use super::context::CallContext;
use super::error::ProviderError;
use super::http::{bearer_request, nested_error_message};
use super::openai_compat::Dialect;
use super::types::{ChatRequest, ChatResponse};
use super::{ChunkStream, ProviderAdapter};
use crate::domain::ProviderKind;

pub(crate) struct OpenAi;

const DIALECT: Dialect = Dialect {
    provider: ProviderKind::Openai,
    stream_options: true,
    max_completion_tokens: true,
    tool_call_id: None,
    parse_error: nested_error_message,
};

#[async_trait::async_trait]
impl ProviderAdapter for OpenAi {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Openai
    }

    async fn send(
        &self,
        ctx: &CallContext,
        req: &ChatRequest,
    ) -> Result<ChatResponse, ProviderError> {
        let target = bearer_request(
            ProviderKind::Openai,
            ctx,
            reqwest::Method::POST,
            "/v1/chat/completions",
        )?;
        DIALECT.send(ctx, target, req).await
    }

    async fn stream(
        &self,
        ctx: &CallContext,
        req: &ChatRequest,
    ) -> Result<ChunkStream, ProviderError> {
        let target = bearer_request(
            ProviderKind::Openai,
            ctx,
            reqwest::Method::POST,
            "/v1/chat/completions",
        )?;
        DIALECT.stream(ctx, target, req).await
    }

    async fn test_connection(&self, ctx: &CallContext) -> Result<(), ProviderError> {
        let target = bearer_request(
            ProviderKind::Openai,
            ctx,
            reqwest::Method::GET,
            "/v1/models",
        )?;
        DIALECT.test_connection(ctx, target).await
    }
}

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
