//! A fixed-answer OpenAI-compatible upstream, much faster than any proxy in front of it, so a
//! benchmark measures the proxy and not the provider.
//!
//! `POST /{delay_ms}/{chunks}/{gap_ms}/v1/chat/completions`: waits `delay_ms` before the first
//! byte, then answers one fixed completion, or with `"stream": true` in the body `chunks`
//! content chunks `gap_ms` apart, a usage chunk and `[DONE]`. `POST /v1/chat/completions` is
//! `/0/8/0/...`. `GET /v1/models` answers the proxy's health probe.
//!
//! Usage: `upstream PORT`.

use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use std::convert::Infallible;
use std::time::Duration;

const COMPLETION: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1764400000,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the bench upstream."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}"#;
const CHUNK: &str = "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1764400000,\"model\":\"bench-model\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"token \"},\"finish_reason\":null}]}\n\n";
const LAST: &str = "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1764400000,\"model\":\"bench-model\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1764400000,\"model\":\"bench-model\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":8,\"total_tokens\":20}}\n\ndata: [DONE]\n\n";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(9100);
    let app = Router::new()
        .route("/v1/chat/completions", post(|body: Bytes| answer(0, 8, 0, body)))
        .route(
            "/{delay}/{chunks}/{gap}/v1/chat/completions",
            post(
                |Path((delay, chunks, gap)): Path<(u64, u32, u64)>, body: Bytes| {
                    answer(delay, chunks, gap, body)
                },
            ),
        )
        .route("/v1/models", get(models))
        .route("/{delay}/{chunks}/{gap}/v1/models", get(models));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    // Without TCP_NODELAY, spaced stream chunks wait on the client's delayed ACK.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}

async fn models() -> Response {
    json(r#"{"object":"list","data":[{"id":"bench-model","object":"model","created":0,"owned_by":"bench"}]}"#)
}

fn json(body: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}

async fn answer(delay_ms: u64, chunks: u32, gap_ms: u64, body: Bytes) -> Response {
    if delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    }
    if !wants_stream(&body) {
        return json(COMPLETION);
    }
    let events = futures_util::stream::unfold(0u32, move |sent| async move {
        if sent > chunks {
            return None;
        }
        if sent > 0 && gap_ms > 0 {
            tokio::time::sleep(Duration::from_millis(gap_ms)).await;
        }
        let event = if sent == chunks { LAST } else { CHUNK };
        Some((Ok::<_, Infallible>(Bytes::from_static(event.as_bytes())), sent + 1))
    });
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"))],
        Body::from_stream(events),
    )
        .into_response()
}

/// `"stream": true` anywhere at the top level of the body, with or without spaces (proxies
/// encode JSON differently); a full parse would make the upstream the slow part.
fn wants_stream(body: &[u8]) -> bool {
    let key = b"\"stream\"";
    let mut rest = body;
    while let Some(at) = rest.windows(key.len()).position(|w| w == key) {
        let after = &rest[at + key.len()..];
        let value = after
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b':'))
            .map_or(&after[after.len()..], |i| &after[i..]);
        if value.starts_with(b"true") {
            return true;
        }
        rest = after;
    }
    false
}
