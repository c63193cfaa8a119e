//! The request path of providers that speak OpenAI's Chat Completions format themselves (OpenAI,
//! Azure OpenAI, Mistral). They differ only in URL, auth header and a few dialect quirks, so the
//! adapters build the request target and hand the rest to these functions.

use super::context::CallContext;
use super::error::ProviderError;
use super::http::{self, bearer_request, ErrorParser, StreamTranslator};
use super::types::{
    ChatChunk, ChatRequest, ChatResponse, Embeddings, EmbeddingsRequest, StreamOptions,
};
use super::{ChunkStream, ProviderAdapter};
use crate::domain::ProviderKind;
use serde::{Deserialize, Serialize};

/// What sets one OpenAI-compatible upstream apart.
pub(crate) struct Dialect {
    pub provider: ProviderKind,
    /// Whether the upstream accepts `stream_options` (Mistral rejects unknown fields and reports
    /// usage in its last chunk anyway).
    pub stream_options: bool,
    /// Whether the upstream knows `max_completion_tokens`; otherwise it is sent as `max_tokens`.
    pub max_completion_tokens: bool,
    /// Maps tool call ids of the conversation into the form the upstream accepts, when it is
    /// stricter than OpenAI (a conversation may have started on another provider).
    pub tool_call_id: Option<fn(&str) -> String>,
    /// Whether embeddings take OpenAI's `dimensions` and `user`; Mistral knows neither (it
    /// refuses unknown fields) and names the output size `output_dimension`.
    pub openai_embedding_fields: bool,
    pub parse_error: ErrorParser,
}

/// The embeddings body: always a list of texts and float vectors (the gateway encodes base64
/// itself, so every provider is handled alike).
#[derive(Serialize)]
struct EmbeddingsBody<'a> {
    model: &'a str,
    input: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_dimension: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
}

#[derive(Deserialize)]
struct EmbeddingsResponse {
    data: Vec<EmbeddingItem>,
    #[serde(default)]
    usage: Option<EmbeddingsUsage>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    index: usize,
    embedding: Vec<f32>,
}

#[derive(Deserialize)]
struct EmbeddingsUsage {
    prompt_tokens: u64,
}

impl Dialect {
    /// The body sent upstream: the app's request with the provider model, without Switchyard's
    /// routing metadata, and always asking for usage in streams because spend depends on it.
    fn body(&self, ctx: &CallContext, req: &ChatRequest, stream: bool) -> ChatRequest {
        let mut body = req.clone();
        body.model = ctx.model.clone();
        body.metadata = None;
        body.stream = stream.then_some(true);
        body.stream_options = (stream && self.stream_options).then_some(StreamOptions {
            include_usage: Some(true),
        });
        if !self.max_completion_tokens {
            body.max_tokens = body.output_limit();
            body.max_completion_tokens = None;
        }
        if let Some(map_id) = self.tool_call_id {
            for message in &mut body.messages {
                for call in message.tool_calls.iter_mut().flatten() {
                    call.id = map_id(&call.id);
                }
                if let Some(id) = message.tool_call_id.as_mut() {
                    *id = map_id(id);
                }
            }
        }
        body
    }

    pub fn request_body(
        &self,
        ctx: &CallContext,
        req: &ChatRequest,
        stream: bool,
    ) -> Result<Vec<u8>, ProviderError> {
        http::encode_body(self.provider, &self.body(ctx, req, stream))
    }

    /// `request` is the chat endpoint with auth already set.
    pub async fn send(
        &self,
        ctx: &CallContext,
        request: reqwest::RequestBuilder,
        req: &ChatRequest,
    ) -> Result<ChatResponse, ProviderError> {
        let request = http::with_json(request, self.request_body(ctx, req, false)?);
        let response = http::send(self.provider, ctx, request, self.parse_error).await?;
        http::read_json(self.provider, ctx, response).await
    }

    pub async fn stream(
        &self,
        ctx: &CallContext,
        request: reqwest::RequestBuilder,
        req: &ChatRequest,
    ) -> Result<ChunkStream, ProviderError> {
        let request = http::with_json(request, self.request_body(ctx, req, true)?);
        let response = http::send(self.provider, ctx, request, self.parse_error).await?;
        let translator = OpenAiChunks {
            provider: self.provider,
            complete: false,
        };
        Ok(http::translate_sse(
            self.provider,
            ctx,
            response,
            translator,
        ))
    }

    /// `request` is the embeddings endpoint with auth already set.
    pub async fn embed(
        &self,
        ctx: &CallContext,
        request: reqwest::RequestBuilder,
        req: &EmbeddingsRequest,
    ) -> Result<Embeddings, ProviderError> {
        let openai = self.openai_embedding_fields;
        let body = EmbeddingsBody {
            model: &ctx.model,
            input: req.texts(),
            dimensions: req.dimensions.filter(|_| openai),
            output_dimension: req.dimensions.filter(|_| !openai),
            user: req.user.as_deref().filter(|_| openai),
        };
        let request = http::with_json(request, http::encode_body(self.provider, &body)?);
        let response = http::send(self.provider, ctx, request, self.parse_error).await?;
        let mut parsed: EmbeddingsResponse = http::read_json(self.provider, ctx, response).await?;
        parsed.data.sort_by_key(|item| item.index);
        Ok(Embeddings {
            vectors: parsed.data.into_iter().map(|item| item.embedding).collect(),
            prompt_tokens: parsed.usage.map(|u| u.prompt_tokens),
        })
    }

    /// `request` is the models listing with auth already set.
    pub async fn test_connection(
        &self,
        ctx: &CallContext,
        request: reqwest::RequestBuilder,
    ) -> Result<(), ProviderError> {
        http::send(self.provider, ctx, request, self.parse_error)
            .await
            .map(drop)
    }
}

/// OpenAI and Mistral serve OpenAI's paths under `{base}/v1` with a Bearer key, so their whole
/// adapter is their dialect.
pub(crate) struct BearerCompatible(pub Dialect);

#[async_trait::async_trait]
impl ProviderAdapter for BearerCompatible {
    fn kind(&self) -> ProviderKind {
        self.0.provider
    }

    fn request_body(
        &self,
        ctx: &CallContext,
        req: &ChatRequest,
        stream: bool,
    ) -> Result<Vec<u8>, ProviderError> {
        self.0.request_body(ctx, req, stream)
    }

    async fn send(
        &self,
        ctx: &CallContext,
        req: &ChatRequest,
    ) -> Result<ChatResponse, ProviderError> {
        let target = bearer_request(self.0.provider, ctx, reqwest::Method::POST, CHAT_PATH)?;
        self.0.send(ctx, target, req).await
    }

    async fn stream(
        &self,
        ctx: &CallContext,
        req: &ChatRequest,
    ) -> Result<ChunkStream, ProviderError> {
        let target = bearer_request(self.0.provider, ctx, reqwest::Method::POST, CHAT_PATH)?;
        self.0.stream(ctx, target, req).await
    }

    async fn test_connection(&self, ctx: &CallContext) -> Result<(), ProviderError> {
        let target = bearer_request(self.0.provider, ctx, reqwest::Method::GET, MODELS_PATH)?;
        self.0.test_connection(ctx, target).await
    }

    async fn embed(
        &self,
        ctx: &CallContext,
        req: &EmbeddingsRequest,
    ) -> Result<Embeddings, ProviderError> {
        let target = bearer_request(self.0.provider, ctx, reqwest::Method::POST, EMBEDDINGS_PATH)?;
        self.0.embed(ctx, target, req).await
    }
}

const CHAT_PATH: &str = "/v1/chat/completions";
const EMBEDDINGS_PATH: &str = "/v1/embeddings";
const MODELS_PATH: &str = "/v1/models";

/// The upstream already sends OpenAI chunks: parse them; a stream that closes before `[DONE]`
/// or a finish reason was cut off.
struct OpenAiChunks {
    provider: ProviderKind,
    complete: bool,
}

impl StreamTranslator for OpenAiChunks {
    type Item = ChatChunk;

    fn on_event(&mut self, event: &str, data: &str) -> Result<Vec<ChatChunk>, ProviderError> {
        if data.trim() == "[DONE]" {
            self.complete = true;
            return Ok(Vec::new());
        }
        // Mid-stream failures arrive as `{"error": {...}}` instead of a chunk.
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(data) {
            if let Some(message) = http::nested_error_message(&value) {
                return Err(ProviderError::Upstream {
                    provider: self.provider,
                    status: 502,
                    message,
                    retry_after: None,
                });
            }
        }
        let chunk: ChatChunk = http::parse_event(self.provider, event, data)?;
        if chunk.choices.iter().any(|c| c.finish_reason.is_some()) {
            self.complete = true;
        }
        Ok(vec![chunk])
    }

    fn finish(&mut self) -> Result<Vec<ChatChunk>, ProviderError> {
        if self.complete {
            Ok(Vec::new())
        } else {
            Err(ProviderError::bad_response(
                self.provider,
                "the stream ended before a finish reason or [DONE]",
            ))
        }
    }
}
