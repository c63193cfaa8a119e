//! Provider adapters: one file per vendor translating the canonical (OpenAI-shaped) chat types to
//! its wire format and back. Shared HTTP/SSE plumbing lives in `http`, the OpenAI-compatible
//! request path (OpenAI, Azure, Mistral) in `openai_compat`.

mod anthropic;
mod azure;
mod cohere;
mod context;
mod error;
#[cfg(test)]
mod fuzz;
mod google;
mod http;
mod mistral;
mod openai;
mod openai_compat;
pub mod prices;
pub mod types;

#[cfg(test)]
mod conformance;
#[cfg(any(test, feature = "mock-providers"))]
pub mod mock;

use std::pin::Pin;

use futures_util::Stream;

pub use anthropic::{
    count_tokens, error_type as anthropic_error_type, native_messages, native_messages_stream,
    NativeEvent,
};
pub use context::{http_client, AzureExtras, CallContext, ProviderClients, Secret, Timeouts};
pub(crate) use error::error_chain;
pub use error::{ProviderError, TimeoutPhase};
pub use http::{peek_first, MAX_ANSWER_BYTES};
pub use types::{ChatChunk, ChatRequest, ChatResponse, Embeddings, EmbeddingsRequest, Usage};

use crate::domain::ProviderKind;

/// OpenAI-shaped chunks as the provider produces them. When the provider reports usage, the last
/// chunks carry it even if the app did not ask (spend needs it): in a chunk with empty `choices`
/// (OpenAI, Azure and the translated providers) or on the final chunk (Mistral). The proxy strips
/// it unless `stream_options.include_usage` was set.
pub type ChunkStream = ItemStream<ChatChunk>;

/// A stream of answer pieces: OpenAI chunks, or a provider's own events passed through.
pub type ItemStream<T> = Pin<Box<dyn Stream<Item = Result<T, ProviderError>> + Send>>;

/// What the proxy needs to know of each piece of a streamed answer.
pub trait StreamItem: Send + 'static {
    /// Whether it carries output the app would see (so falling back is no longer possible).
    fn has_output(&self) -> bool;
    /// Token counts, on the piece that reports them.
    fn usage(&self) -> Option<&Usage>;
}

impl StreamItem for ChatChunk {
    fn has_output(&self) -> bool {
        ChatChunk::has_output(self)
    }
    fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }
}

#[async_trait::async_trait]
pub trait ProviderAdapter: Send + Sync {
    fn kind(&self) -> ProviderKind;

    /// The JSON body sent to the provider for `req`, encoded: the translation alone, without I/O
    /// (`send` and `stream` send exactly this; benches time it per provider).
    fn request_body(
        &self,
        ctx: &CallContext,
        req: &ChatRequest,
        stream: bool,
    ) -> Result<Vec<u8>, ProviderError>;

    /// A non-streamed completion. `req.model` is ignored: `ctx.model` names the provider's model.
    async fn send(
        &self,
        ctx: &CallContext,
        req: &ChatRequest,
    ) -> Result<ChatResponse, ProviderError>;

    /// A streamed completion; `Ok` means the provider accepted the request (status 2xx). Use
    /// [`peek_first`] to learn whether the first token arrives before committing to this provider.
    async fn stream(
        &self,
        ctx: &CallContext,
        req: &ChatRequest,
    ) -> Result<ChunkStream, ProviderError>;

    /// Checks address and credentials with the provider's cheapest call (listing models).
    async fn test_connection(&self, ctx: &CallContext) -> Result<(), ProviderError>;

    /// One vector per input text of `req`, from the embedding model `ctx.model`. A provider
    /// without an embeddings API sends nothing and answers a configuration error (the config
    /// check already keeps such targets out of models that declare embeddings).
    async fn embed(
        &self,
        _ctx: &CallContext,
        _req: &EmbeddingsRequest,
    ) -> Result<Embeddings, ProviderError> {
        Err(ProviderError::Config {
            provider: self.kind(),
            message: format!("{} has no embeddings API", self.kind().label()),
        })
    }
}

/// The adapter for a provider kind. Adding a provider means one new file and one line here.
pub fn adapter_for(kind: ProviderKind) -> &'static dyn ProviderAdapter {
    match kind {
        ProviderKind::Openai => &openai::OPENAI,
        ProviderKind::Azure => &azure::Azure,
        ProviderKind::Anthropic => &anthropic::Anthropic,
        ProviderKind::Google => &google::Google,
        ProviderKind::Cohere => &cohere::Cohere,
        ProviderKind::Mistral => &mistral::MISTRAL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_covers_every_kind() {
        for kind in ProviderKind::ALL {
            assert_eq!(adapter_for(kind).kind(), kind);
        }
    }
}
