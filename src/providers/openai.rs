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
