//! HTTP and SSE plumbing shared by every adapter: timeouts, error bodies, and translating an
//! upstream event stream into OpenAI chunks one event at a time.

use std::collections::VecDeque;
use std::time::Duration;

use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::{stream, StreamExt};
use reqwest::header::HeaderValue;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::context::{CallContext, Secret};
use super::error::{ProviderError, TimeoutPhase};
use super::{ItemStream, StreamItem};
use crate::domain::ProviderKind;

/// Reads a provider's error JSON into a human message; `None` falls back to the raw body.
pub(crate) type ErrorParser = fn(&Value) -> Option<String>;

/// An answer (or a whole stream) bigger than this is a bad response: the next target is tried,
/// and a runaway or hostile upstream cannot fill the gateway's memory. Far above any real chat
/// answer; inline images go upstream, not back.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

fn too_large(provider: ProviderKind) -> ProviderError {
    ProviderError::bad_response(
        provider,
        format!(
            "the answer is larger than the limit of {} MB",
            MAX_ANSWER_BYTES / (1024 * 1024)
        ),
    )
}

/// Error bodies can be large HTML pages from a proxy in between; keep what a person needs.
const MAX_ERROR_BODY_CHARS: usize = 500;

/// An auth header value marked sensitive so it is never printed by `Debug` of the request.
pub(crate) fn secret_header(
    provider: ProviderKind,
    prefix: &str,
    key: &Secret,
) -> Result<HeaderValue, ProviderError> {
    let mut value = HeaderValue::from_str(&format!("{prefix}{}", key.expose())).map_err(|_| {
        ProviderError::Config {
            provider,
            message: "the API key contains characters that are not allowed in an HTTP header"
                .into(),
        }
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// A request to `{base}{path}` with `Authorization: Bearer <key>`.
pub(crate) fn bearer_request(
    provider: ProviderKind,
    ctx: &CallContext,
    method: reqwest::Method,
    path: &str,
) -> Result<reqwest::RequestBuilder, ProviderError> {
    let auth = secret_header(provider, "Bearer ", &ctx.api_key)?;
    Ok(ctx
        .client
        .request(method, ctx.url(path))
        .header(reqwest::header::AUTHORIZATION, auth))
}

/// Encodes a provider request body; the error names the provider (a map with non-string keys
/// is the only way it can fail).
pub(crate) fn encode_body<T: serde::Serialize>(
    provider: ProviderKind,
    body: &T,
) -> Result<Vec<u8>, ProviderError> {
    serde_json::to_vec(body).map_err(|e| ProviderError::Config {
        provider,
        message: format!("cannot encode the request: {e}"),
    })
}

/// `request` with an encoded JSON body, as `RequestBuilder::json` would set it.
pub(crate) fn with_json(
    request: reqwest::RequestBuilder,
    body: Vec<u8>,
) -> reqwest::RequestBuilder {
    request
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
}

/// Sends the request and waits for the headers within the first-byte timeout; a non-2xx status
/// becomes `ProviderError::Upstream` with the provider's message.
pub(crate) async fn send(
    provider: ProviderKind,
    ctx: &CallContext,
    request: reqwest::RequestBuilder,
    parse_error: ErrorParser,
) -> Result<reqwest::Response, ProviderError> {
    let total = ctx.timeouts.total;
    let pending = request.timeout(total).send();
    let response = tokio::time::timeout(ctx.timeouts.first_byte, pending)
        .await
        .map_err(|_| ProviderError::Timeout {
            provider,
            phase: TimeoutPhase::FirstByte,
            after: ctx.timeouts.first_byte,
        })?
        .map_err(|e| ProviderError::from_reqwest(provider, e, total))?;
    if response.status().is_success() {
        return Ok(response);
    }
    Err(upstream_error(provider, response, parse_error).await)
}

async fn upstream_error(
    provider: ProviderKind,
    response: reqwest::Response,
    parse_error: ErrorParser,
) -> ProviderError {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    // The status alone still makes a useful error when the body cannot be read.
    let body = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|json| parse_error(&json))
        .unwrap_or_else(|| {
            let trimmed = body.trim();
            if trimmed.is_empty() {
                status
                    .canonical_reason()
                    .unwrap_or("no message")
                    .to_string()
            } else {
                trimmed.chars().take(MAX_ERROR_BODY_CHARS).collect()
            }
        });
    ProviderError::Upstream {
        provider,
        status: status.as_u16(),
        message,
        retry_after,
    }
}

/// The common `{"error": {"message": ...}}` shape (OpenAI, Azure, Anthropic, Google and others).
pub(crate) fn nested_error_message(json: &Value) -> Option<String> {
    json.pointer("/error/message")
        .and_then(Value::as_str)
        .map(str::to_string)
}

pub(crate) async fn read_json<T: DeserializeOwned>(
    provider: ProviderKind,
    ctx: &CallContext,
    mut response: reqwest::Response,
) -> Result<T, ProviderError> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(too_large(provider));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ProviderError::from_reqwest(provider, e, ctx.timeouts.total))?
    {
        if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(too_large(provider));
        }
        bytes.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&bytes).map_err(|e| ProviderError::bad_response(provider, e))
}

/// Parses one event's data, naming the event in the error.
pub(crate) fn parse_event<T: DeserializeOwned>(
    provider: ProviderKind,
    event: &str,
    data: &str,
) -> Result<T, ProviderError> {
    serde_json::from_str(data)
        .map_err(|e| ProviderError::bad_response(provider, format!("stream event `{event}`: {e}")))
}

/// Turns one provider's stream events into OpenAI chunks (or, for a native passthrough, into
/// the provider's own events). Stateful: tool call indexes, ids and usage are carried between
/// events.
pub(crate) trait StreamTranslator: Send + 'static {
    type Item: StreamItem;
    /// One SSE event (`event` is empty when the provider sends only `data:` lines).
    fn on_event(&mut self, event: &str, data: &str) -> Result<Vec<Self::Item>, ProviderError>;
    /// The connection closed; a provider with a terminal event reports a cut-off stream here.
    fn finish(&mut self) -> Result<Vec<Self::Item>, ProviderError>;
}

struct SseState<S, T: StreamTranslator> {
    events: S,
    translator: T,
    pending: VecDeque<T::Item>,
    started: bool,
    done: bool,
}

/// A stream that over `MAX_ANSWER_BYTES` ends with an error instead of growing further.
fn limited<B: AsRef<[u8]>>(
    body: impl futures_util::Stream<Item = reqwest::Result<B>>,
) -> impl futures_util::Stream<Item = Result<B, LimitedError>> {
    let mut seen = 0usize;
    body.map(move |chunk| {
        let chunk = chunk.map_err(LimitedError::Transport)?;
        seen += chunk.as_ref().len();
        if seen > MAX_ANSWER_BYTES {
            return Err(LimitedError::TooLarge);
        }
        Ok(chunk)
    })
}

#[derive(Debug, thiserror::Error)]
enum LimitedError {
    #[error(transparent)]
    Transport(reqwest::Error),
    #[error("the stream is larger than the limit of {} MB", MAX_ANSWER_BYTES / (1024 * 1024))]
    TooLarge,
}

/// The response body as a stream of OpenAI chunks, translated as events arrive (never buffered
/// whole). The first event must come within the first-byte timeout; the total timeout set on the
/// request bounds the rest.
pub(crate) fn translate_sse<T: StreamTranslator>(
    provider: ProviderKind,
    ctx: &CallContext,
    response: reqwest::Response,
    translator: T,
) -> ItemStream<T::Item> {
    let first_byte = ctx.timeouts.first_byte;
    let total = ctx.timeouts.total;
    let state = SseState {
        events: Box::pin(limited(response.bytes_stream()).eventsource()),
        translator,
        pending: VecDeque::new(),
        started: false,
        done: false,
    };
    Box::pin(stream::unfold(state, move |mut st| async move {
        loop {
            if let Some(chunk) = st.pending.pop_front() {
                return Some((Ok(chunk), st));
            }
            if st.done {
                return None;
            }
            let next = if st.started {
                st.events.next().await
            } else {
                st.started = true;
                match tokio::time::timeout(first_byte, st.events.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        st.done = true;
                        let err = ProviderError::Timeout {
                            provider,
                            phase: TimeoutPhase::FirstByte,
                            after: first_byte,
                        };
                        return Some((Err(err), st));
                    }
                }
            };
            let translated = match next {
                Some(Ok(event)) => st.translator.on_event(&event.event, &event.data),
                Some(Err(EventStreamError::Transport(LimitedError::Transport(e)))) => {
                    Err(ProviderError::from_reqwest(provider, e, total))
                }
                Some(Err(EventStreamError::Transport(LimitedError::TooLarge))) => {
                    Err(too_large(provider))
                }
                Some(Err(e)) => Err(ProviderError::bad_response(provider, e)),
                None => {
                    st.done = true;
                    st.translator.finish()
                }
            };
            match translated {
                Ok(chunks) => st.pending.extend(chunks),
                Err(err) => {
                    st.done = true;
                    return Some((Err(err), st));
                }
            }
        }
    }))
}

/// Waits until the stream produced real output (text, a tool call, a finish reason or usage) and
/// returns it with everything read so far put back in front. An error before that point comes back
/// as `Err`, so the proxy can still fall back to the next candidate: nothing reached the app yet.
pub async fn peek_first<T: StreamItem>(
    provider: ProviderKind,
    mut chunks: ItemStream<T>,
) -> Result<ItemStream<T>, ProviderError> {
    let mut head = Vec::new();
    loop {
        match chunks.next().await {
            Some(Ok(chunk)) => {
                let has_output = chunk.has_output();
                head.push(Ok(chunk));
                if has_output {
                    return Ok(Box::pin(stream::iter(head).chain(chunks)));
                }
            }
            Some(Err(err)) => return Err(err),
            None => {
                return Err(ProviderError::bad_response(
                    provider,
                    "the stream ended before any output",
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::types::{ChatChunk, Delta};

    #[tokio::test]
    async fn peek_keeps_role_chunk_and_first_token() {
        let items = vec![
            Ok(ChatChunk::delta("id", "m", Delta::role(), None)),
            Ok(ChatChunk::delta("id", "m", Delta::text("Hi"), None)),
            Ok(ChatChunk::delta("id", "m", Delta::text("!"), None)),
        ];
        let peeked = peek_first(ProviderKind::Openai, Box::pin(stream::iter(items)))
            .await
            .unwrap();
        let all: Vec<_> = peeked.collect().await;
        assert_eq!(all.len(), 3);
    }

    #[tokio::test]
    async fn peek_reports_failure_before_first_token() {
        let items = vec![
            Ok(ChatChunk::delta("id", "m", Delta::role(), None)),
            Err(ProviderError::Upstream {
                provider: ProviderKind::Anthropic,
                status: 529,
                message: "Overloaded".into(),
                retry_after: None,
            }),
        ];
        let err = peek_first(ProviderKind::Anthropic, Box::pin(stream::iter(items)))
            .await
            .err()
            .unwrap();
        assert!(err.is_retryable());
        let empty =
            peek_first::<ChatChunk>(ProviderKind::Openai, Box::pin(stream::iter(Vec::new()))).await;
        assert!(matches!(empty, Err(ProviderError::BadResponse { .. })));
    }
}
