//! Property tests: every provider's response and stream parser, fed arbitrary bodies over real
//! HTTP, answers `Ok` or a `ProviderError` and never panics. Bodies are random bytes, random
//! JSON built from the providers' own field names (so the parsers get past the first check),
//! and SSE streams of such JSON. Bounded: a fixed number of cases per run.

use super::{adapter_for, CallContext, ChatRequest, Secret};
use crate::domain::ProviderKind;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use futures_util::StreamExt;
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};

const FIELDS: &[&str] = &[
    "id",
    "object",
    "model",
    "choices",
    "index",
    "delta",
    "message",
    "content",
    "role",
    "text",
    "type",
    "tool_calls",
    "function",
    "name",
    "arguments",
    "finish_reason",
    "usage",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "candidates",
    "parts",
    "functionCall",
    "args",
    "finishReason",
    "usageMetadata",
    "promptTokenCount",
    "candidatesTokenCount",
    "content_block",
    "input_json_delta",
    "partial_json",
    "stop_reason",
    "input_tokens",
    "output_tokens",
    "tokens",
    "input",
    "output",
    "error",
    "tool_plan",
    "event_type",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1.0e6f64..1.0e6).prop_map(|n| json!(n)),
        "[a-z_ ]{0,12}".prop_map(Value::String),
        prop::sample::select(FIELDS).prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(FIELDS), inner), 0..6).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(
            (
                prop::option::of(prop::sample::select(
                    &[
                        "message_start",
                        "content_block_start",
                        "content_block_delta",
                        "message_delta",
                        "message_stop",
                        "message-start",
                        "content-delta",
                        "tool-call-start",
                        "tool-call-delta",
                        "message-end",
                        "error",
                    ][..]
                )),
                prop_oneof![
                    json_value().prop_map(|v| v.to_string()),
                    Just("[DONE]".to_string()),
                    "[^\n]{0,40}",
                ],
            ),
            0..8,
        )
        .prop_map(|events| {
            events
                .into_iter()
                .map(|(event, data)| match event {
                    Some(event) => format!("event: {event}\ndata: {data}\n\n"),
                    None => format!("data: {data}\n\n"),
                })
                .collect::<String>()
                .into_bytes()
        }),
    ]
}

/// A server answering every request with 200 and the current body.
async fn server(current: Arc<Mutex<Vec<u8>>>) -> String {
    async fn answer(State(current): State<Arc<Mutex<Vec<u8>>>>) -> Response {
        let body = current.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Response::builder()
            .header("content-type", "text/event-stream")
            .body(Body::from(body))
            .unwrap_or_default()
    }
    let router = axum::Router::new().fallback(answer).with_state(current);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

#[test]
fn no_provider_parser_panics_on_any_answer() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let current = Arc::new(Mutex::new(Vec::new()));
    let url = runtime.block_on(server(current.clone()));
    let request: ChatRequest = serde_json::from_value(json!({
        "model": "m", "messages": [{"role": "user", "content": "hi"}]
    }))
    .unwrap();
    let client = reqwest::Client::new();
    let config = ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(body in body(), kind in prop::sample::select(ProviderKind::ALL.to_vec()))| {
        *current.lock().unwrap() = body;
        let mut ctx = CallContext::new(client.clone(), url.clone(), Secret::new("k"), "m");
        if kind == ProviderKind::Azure {
            ctx.azure = Some(super::AzureExtras {
                endpoint: url.clone(),
                api_version: "2024-10-21".into(),
                deployment: "m".into(),
            });
        }
        runtime.block_on(async {
            let adapter = adapter_for(kind);
            let _ = adapter.send(&ctx, &request).await;
            if let Ok(mut chunks) = adapter.stream(&ctx, &request).await {
                while let Some(_chunk) = chunks.next().await {}
            }
        });
    });
}
