//! Azure OpenAI: the OpenAI format on a per-resource endpoint, addressed by deployment, with an
//! `api-key` header and a mandatory `api-version` query parameter.

use super::context::{AzureExtras, CallContext};
use super::error::ProviderError;
use super::http::{nested_error_message, secret_header};
use super::openai_compat::Dialect;
use super::types::{ChatRequest, ChatResponse, Embeddings, EmbeddingsRequest};
use super::{ChunkStream, ProviderAdapter};
use crate::domain::ProviderKind;

pub(crate) struct Azure;

const DIALECT: Dialect = Dialect {
    provider: ProviderKind::Azure,
    stream_options: true,
    max_completion_tokens: true,
    tool_call_id: None,
    openai_embedding_fields: true,
    parse_error: nested_error_message,
};

fn extras(ctx: &CallContext) -> Result<&AzureExtras, ProviderError> {
    ctx.azure.as_ref().ok_or_else(|| ProviderError::Config {
        provider: ProviderKind::Azure,
        message: "endpoint, api-version and deployment are required".into(),
    })
}

/// `path` is below `{endpoint}/openai`.
fn request(
    ctx: &CallContext,
    method: reqwest::Method,
    path: &str,
) -> Result<reqwest::RequestBuilder, ProviderError> {
    let azure = extras(ctx)?;
    let url = format!("{}/openai{path}", azure.endpoint.trim_end_matches('/'));
    let key = secret_header(ProviderKind::Azure, "", &ctx.api_key)?;
    Ok(ctx
        .client
        .request(method, url)
        .query(&[("api-version", azure.api_version.as_str())])
        .header("api-key", key))
}

/// `operation` is `chat/completions` or `embeddings`, below the deployment.
fn deployment_request(
    ctx: &CallContext,
    operation: &str,
) -> Result<reqwest::RequestBuilder, ProviderError> {
    let deployment = &extras(ctx)?.deployment;
    request(
        ctx,
        reqwest::Method::POST,
        &format!("/deployments/{deployment}/{operation}"),
    )
}

#[async_trait::async_trait]
impl ProviderAdapter for Azure {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Azure
    }

    fn request_body(
        &self,
        ctx: &CallContext,
        req: &ChatRequest,
        stream: bool,
    ) -> Result<Vec<u8>, ProviderError> {
        DIALECT.request_body(ctx, req, stream)
    }

    async fn send(
        &self,
        ctx: &CallContext,
        req: &ChatRequest,
    ) -> Result<ChatResponse, ProviderError> {
        DIALECT
            .send(ctx, deployment_request(ctx, "chat/completions")?, req)
            .await
    }

    async fn stream(
        &self,
        ctx: &CallContext,
        req: &ChatRequest,
    ) -> Result<ChunkStream, ProviderError> {
        DIALECT
            .stream(ctx, deployment_request(ctx, "chat/completions")?, req)
            .await
    }

    async fn test_connection(&self, ctx: &CallContext) -> Result<(), ProviderError> {
        DIALECT
            .test_connection(ctx, request(ctx, reqwest::Method::GET, "/models")?)
            .await
    }

    async fn embed(
        &self,
        ctx: &CallContext,
        req: &EmbeddingsRequest,
    ) -> Result<Embeddings, ProviderError> {
        DIALECT
            .embed(ctx, deployment_request(ctx, "embeddings")?, req)
            .await
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::ProviderKind;
    use crate::providers::conformance::{send, start, text_request, MODEL};
    use crate::providers::mock::{MockReply, MOCK_API_KEY, MOCK_AZURE_API_VERSION};
    use crate::providers::{adapter_for, ProviderError};

    #[tokio::test]
    async fn addresses_the_deployment_with_api_version_and_api_key() {
        let (result, recorded) =
            send(ProviderKind::Azure, MockReply::text("ok"), &text_request()).await;
        result.unwrap();
        assert_eq!(
            recorded.path,
            format!("/openai/deployments/{MODEL}/chat/completions")
        );
        assert_eq!(
            recorded.query_param("api-version"),
            Some(MOCK_AZURE_API_VERSION)
        );
        assert_eq!(recorded.header("api-key"), Some(MOCK_API_KEY));
        assert_eq!(recorded.header("authorization"), None);
    }

    #[tokio::test]
    async fn embeddings_address_the_deployment() {
        let (mock, ctx) = start(ProviderKind::Azure, vec![]).await;
        let req = crate::providers::conformance::embeddings_request(&["a"], Some(8));
        adapter_for(ProviderKind::Azure)
            .embed(&ctx, &req)
            .await
            .unwrap();
        let recorded = mock.requests().pop().unwrap();
        assert_eq!(
            recorded.path,
            format!("/openai/deployments/{MODEL}/embeddings")
        );
        assert_eq!(recorded.header("api-key"), Some(MOCK_API_KEY));
        assert_eq!(recorded.body["dimensions"], 8);
    }

    #[tokio::test]
    async fn refuses_to_call_without_azure_settings() {
        let (mock, mut ctx) = start(ProviderKind::Azure, vec![]).await;
        ctx.azure = None;
        let err = adapter_for(ProviderKind::Azure)
            .send(&ctx, &text_request())
            .await
            .unwrap_err();
        assert!(matches!(err, ProviderError::Config { .. }));
        assert!(mock.requests().is_empty());
    }
}
