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

pub use context::{http_client, AzureExtras, CallContext, ProviderClients, Secret, Timeouts};
pub(crate) use error::error_chain;
pub use error::{ProviderError, TimeoutPhase};
pub use http::{peek_first, MAX_ANSWER_BYTES};
pub use types::{ChatChunk, ChatRequest, ChatResponse};

use crate::domain::ProviderKind;

/// OpenAI-shaped chunks as the provider produces them. When the provider reports usage, the last
/// chunks carry it even if the app did not ask (spend needs it): in a chunk with empty `choices`
/// (OpenAI, Azure and the translated providers) or on the final chunk (Mistral). The proxy strips
/// it unless `stream_options.include_usage` was set.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<ChatChunk, ProviderError>> + Send>>;

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
