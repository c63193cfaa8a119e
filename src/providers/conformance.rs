//! The same scenarios against every adapter and its mock server: text, streams, tool calls,
//! images, JSON mode, error mapping, timeouts, cut streams. Provider-specific request mapping is
//! checked in each provider's own tests with the helpers here.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};

use super::mock::{
    mock_vector, MockProvider, MockReply, RecordedRequest, MOCK_COMPLETION_TOKENS,
    MOCK_COUNTED_TOKENS, MOCK_DIMENSIONS, MOCK_PROMPT_TOKENS,
};
use super::types::{
    ChatChunk, Content, ContentPart, EmbeddingInput, EmbeddingsRequest, FinishReason, FunctionCall,
    FunctionDefinition, ImageUrl, JsonSchemaFormat, Message, ResponseFormat, Role, Tool, ToolCall,
    ToolChoice, ToolChoiceMode, ToolKind, Usage,
};
use super::{adapter_for, peek_first, CallContext, ChatRequest, ChatResponse, ProviderError};
use crate::domain::ProviderKind;

pub(super) const MODEL: &str = "mock-model-1";
/// A 1×1 PNG, small enough to inline.
pub(super) const PNG_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

pub(super) fn request(messages: Vec<Message>) -> ChatRequest {
    ChatRequest {
        model: "primary-llm".into(),
        messages,
        ..ChatRequest::default()
    }
}

pub(super) fn text_request() -> ChatRequest {
    request(vec![
        Message::new(Role::System, "Be brief."),
        Message::new(Role::User, "Say hello."),
    ])
}

pub(super) fn weather_tool() -> Tool {
    Tool {
        kind: ToolKind::Function,
        function: FunctionDefinition {
            name: "get_weather".into(),
            description: Some("Current weather of a city".into()),
            parameters: Some(json!({
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
                "additionalProperties": false,
            })),
            strict: None,
        },
    }
}

/// A conversation after one tool round trip, offering the tool again.
pub(super) fn tool_request() -> ChatRequest {
    let mut assistant = Message::new(Role::Assistant, "");
    assistant.content = None;
    assistant.tool_calls = Some(vec![ToolCall {
        id: "call_prev".into(),
        kind: ToolKind::Function,
        function: FunctionCall {
            name: "get_weather".into(),
            arguments: r#"{"city":"Oslo"}"#.into(),
        },
    }]);
    let mut result = Message::new(Role::Tool, r#"{"temp_c": 3}"#);
    result.tool_call_id = Some("call_prev".into());
    let mut req = request(vec![
        Message::new(Role::User, "Weather in Oslo, then Paris?"),
        assistant,
        result,
        Message::new(Role::User, "And Paris?"),
    ]);
    req.tools = Some(vec![weather_tool()]);
    req.tool_choice = Some(ToolChoice::Mode(ToolChoiceMode::Auto));
    req
}

pub(super) fn image_request() -> ChatRequest {
    let mut user = Message::new(Role::User, "");
    user.content = Some(Content::Parts(vec![
        ContentPart::Text {
            text: "Compare these.".into(),
        },
        ContentPart::ImageUrl {
            image_url: ImageUrl {
                url: format!("data:image/png;base64,{PNG_BASE64}"),
                detail: None,
            },
        },
        ContentPart::ImageUrl {
            image_url: ImageUrl {
                url: "https://example.com/cat.png".into(),
                detail: Some("low".into()),
            },
        },
    ]));
    request(vec![user])
}

pub(super) fn json_schema_request() -> ChatRequest {
    let mut req = text_request();
    req.response_format = Some(ResponseFormat::JsonSchema {
        json_schema: JsonSchemaFormat {
            name: "greeting".into(),
            description: None,
            schema: Some(json!({
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {"greeting": {"type": "string"}},
                "required": ["greeting"],
                "additionalProperties": false,
            })),
            strict: Some(true),
        },
    });
    req
}

pub(super) async fn start(
    kind: ProviderKind,
    replies: Vec<MockReply>,
) -> (MockProvider, CallContext) {
    let mock = MockProvider::start(kind).await.unwrap();
    for reply in replies {
        mock.push(reply);
    }
    let ctx = mock.context(reqwest::Client::new(), MODEL);
    (mock, ctx)
}

/// Sends one request and returns the result with the request the mock received.
pub(super) async fn send(
    kind: ProviderKind,
    reply: MockReply,
    req: &ChatRequest,
) -> (Result<ChatResponse, ProviderError>, RecordedRequest) {
    let (mock, ctx) = start(kind, vec![reply]).await;
    let result = adapter_for(kind).send(&ctx, req).await;
    (result, last_request(&mock))
}

pub(super) async fn stream(
    kind: ProviderKind,
    reply: MockReply,
    req: &ChatRequest,
) -> (Vec<Result<ChatChunk, ProviderError>>, RecordedRequest) {
    let (mock, ctx) = start(kind, vec![reply]).await;
    let chunks = match adapter_for(kind).stream(&ctx, req).await {
        Ok(s) => s.collect().await,
        Err(e) => vec![Err(e)],
    };
    (chunks, last_request(&mock))
}

fn last_request(mock: &MockProvider) -> RecordedRequest {
    mock.requests().pop().unwrap()
}

/// A stream put back together the way an OpenAI client does.
#[derive(Debug, Default)]
pub(super) struct Assembled {
    pub text: String,
    /// (id, name, arguments) per tool call index.
    pub tool_calls: Vec<(String, String, String)>,
    pub finish: Option<FinishReason>,
    pub usage: Option<Usage>,
    pub first_has_role: bool,
}

pub(super) fn assemble(chunks: Vec<Result<ChatChunk, ProviderError>>) -> Assembled {
    let mut out = Assembled::default();
    for (i, chunk) in chunks.into_iter().enumerate() {
        let chunk = chunk.unwrap();
        if i == 0 {
            out.first_has_role = chunk
                .choices
                .first()
                .is_some_and(|c| c.delta.role == Some(Role::Assistant));
        }
        if chunk.usage.is_some() {
            out.usage = chunk.usage.clone();
        }
        for choice in chunk.choices {
            out.text
                .push_str(choice.delta.content.as_deref().unwrap_or_default());
            for call in choice.delta.tool_calls.into_iter().flatten() {
                let index = call.index as usize;
                if out.tool_calls.len() <= index {
                    out.tool_calls.resize(index + 1, Default::default());
                }
                let slot = &mut out.tool_calls[index];
                if let Some(id) = call.id {
                    slot.0 = id;
                }
                if let Some(function) = call.function {
                    if let Some(name) = function.name {
                        slot.1 = name;
                    }
                    slot.2
                        .push_str(function.arguments.as_deref().unwrap_or_default());
                }
            }
            if choice.finish_reason.is_some() {
                out.finish = choice.finish_reason;
            }
        }
    }
    out
}

fn mock_usage() -> (u64, u64) {
    (MOCK_PROMPT_TOKENS, MOCK_COMPLETION_TOKENS)
}

#[tokio::test]
async fn every_provider_answers_text() {
    for kind in ProviderKind::ALL {
        let (result, _) = send(
            kind,
            MockReply::text("Hello there, friend."),
            &text_request(),
        )
        .await;
        let resp = result.unwrap_or_else(|e| panic!("{kind}: {e}"));
        let choice = &resp.choices[0];
        assert_eq!(
            choice.message.content.as_deref(),
            Some("Hello there, friend."),
            "{kind}"
        );
        assert_eq!(choice.message.role, Role::Assistant, "{kind}");
        assert_eq!(choice.finish_reason, Some(FinishReason::Stop), "{kind}");
        let usage = resp.usage.unwrap();
        assert_eq!(
            (usage.prompt_tokens, usage.completion_tokens),
            mock_usage(),
            "{kind}"
        );
        assert_eq!(
            usage.total_tokens,
            MOCK_PROMPT_TOKENS + MOCK_COMPLETION_TOKENS,
            "{kind}"
        );
    }
}

#[tokio::test]
async fn every_provider_streams_text_with_usage() {
    for kind in ProviderKind::ALL {
        let (chunks, _) = stream(
            kind,
            MockReply::text("Hello there, friend."),
            &text_request(),
        )
        .await;
        let out = assemble(chunks);
        assert_eq!(out.text, "Hello there, friend.", "{kind}");
        assert!(out.first_has_role, "{kind}");
        assert_eq!(out.finish, Some(FinishReason::Stop), "{kind}");
        let usage = out.usage.unwrap_or_else(|| panic!("{kind}: no usage"));
        assert_eq!(
            (usage.prompt_tokens, usage.completion_tokens),
            mock_usage(),
            "{kind}"
        );
    }
}

#[tokio::test]
async fn every_provider_returns_tool_calls() {
    let args = json!({"city": "Paris"});
    for kind in ProviderKind::ALL {
        let (result, _) = send(
            kind,
            MockReply::tool_call("get_weather", args.clone()),
            &tool_request(),
        )
        .await;
        let resp = result.unwrap_or_else(|e| panic!("{kind}: {e}"));
        let choice = &resp.choices[0];
        assert_eq!(
            choice.finish_reason,
            Some(FinishReason::ToolCalls),
            "{kind}"
        );
        let calls = choice.message.tool_calls.as_ref().unwrap();
        assert_eq!(calls.len(), 1, "{kind}");
        assert!(!calls[0].id.is_empty(), "{kind}");
        assert_eq!(calls[0].function.name, "get_weather", "{kind}");
        let parsed: Value = serde_json::from_str(&calls[0].function.arguments).unwrap();
        assert_eq!(parsed, args, "{kind}");
    }
}

#[tokio::test]
async fn every_provider_streams_tool_calls() {
    let args = json!({"city": "Paris"});
    for kind in ProviderKind::ALL {
        let (chunks, _) = stream(
            kind,
            MockReply::tool_call("get_weather", args.clone()),
            &tool_request(),
        )
        .await;
        let out = assemble(chunks);
        assert_eq!(out.finish, Some(FinishReason::ToolCalls), "{kind}");
        assert_eq!(out.tool_calls.len(), 1, "{kind}");
        let (id, name, arguments) = &out.tool_calls[0];
        assert!(!id.is_empty(), "{kind}");
        assert_eq!(name, "get_weather", "{kind}");
        assert_eq!(
            serde_json::from_str::<Value>(arguments).unwrap(),
            args,
            "{kind}"
        );
    }
}

#[tokio::test]
async fn every_provider_accepts_images() {
    for kind in ProviderKind::ALL {
        let (result, recorded) = send(kind, MockReply::text("Two cats."), &image_request()).await;
        assert_eq!(
            result.unwrap().choices[0].message.content.as_deref(),
            Some("Two cats."),
            "{kind}"
        );
        let body = recorded.body.to_string();
        assert!(body.contains(PNG_BASE64), "{kind}: base64 image missing");
        assert!(
            body.contains("https://example.com/cat.png"),
            "{kind}: image URL missing"
        );
    }
}

#[tokio::test]
async fn every_provider_answers_json_schema_requests() {
    let answer = r#"{"greeting":"hi"}"#;
    for kind in ProviderKind::ALL {
        // Anthropic answers through the stand-in tool; the others in text.
        let reply = if kind == ProviderKind::Anthropic {
            MockReply::tool_call("greeting", json!({"greeting": "hi"}))
        } else {
            MockReply::text(answer)
        };
        let (result, _) = send(kind, reply, &json_schema_request()).await;
        let resp = result.unwrap_or_else(|e| panic!("{kind}: {e}"));
        let content = resp.choices[0].message.content.clone().unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&content).unwrap(),
            json!({"greeting": "hi"}),
            "{kind}"
        );
        assert_eq!(
            resp.choices[0].finish_reason,
            Some(FinishReason::Stop),
            "{kind}"
        );
    }
}

#[tokio::test]
async fn every_provider_maps_error_bodies_and_statuses() {
    for kind in ProviderKind::ALL {
        let (result, _) = send(
            kind,
            MockReply::error(400, "temperature is out of range"),
            &text_request(),
        )
        .await;
        let err = result.unwrap_err();
        match &err {
            ProviderError::Upstream {
                status, message, ..
            } => {
                assert_eq!(*status, 400, "{kind}");
                assert!(
                    message.contains("temperature is out of range"),
                    "{kind}: {message}"
                );
            }
            other => panic!("{kind}: {other:?}"),
        }
        assert!(!err.is_retryable(), "{kind}");
        assert_eq!(err.gateway_status(), 400, "{kind}");
        assert_eq!(err.provider(), kind);

        let (result, _) = send(kind, MockReply::error(429, "slow down"), &text_request()).await;
        let err = result.unwrap_err();
        assert!(err.is_retryable() && err.is_rate_limited(), "{kind}");
        assert_eq!(err.gateway_status(), 429, "{kind}");
        assert!(
            matches!(err, ProviderError::Upstream { retry_after: Some(d), .. } if d == Duration::from_secs(1)),
            "{kind}"
        );

        for status in [500, 503] {
            let (result, _) = send(
                kind,
                MockReply::error(status, "upstream broke"),
                &text_request(),
            )
            .await;
            let err = result.unwrap_err();
            assert!(err.is_retryable(), "{kind} {status}");
            assert_eq!(err.gateway_status(), 502, "{kind} {status}");
        }

        // A stream refused with a status fails before any chunk, so the proxy can fall back.
        let (mock, ctx) = start(kind, vec![MockReply::error(503, "overloaded")]).await;
        let err = adapter_for(kind)
            .stream(&ctx, &text_request())
            .await
            .err()
            .unwrap();
        assert!(err.is_retryable(), "{kind}");
        drop(mock);
    }
}

#[tokio::test]
async fn every_provider_times_out_on_first_byte() {
    for kind in ProviderKind::ALL {
        let (_mock, mut ctx) = start(
            kind,
            vec![MockReply::text("late").after(Duration::from_millis(500))],
        )
        .await;
        ctx.timeouts.first_byte = Duration::from_millis(50);
        let err = adapter_for(kind)
            .send(&ctx, &text_request())
            .await
            .unwrap_err();
        assert!(
            matches!(err, ProviderError::Timeout { .. }),
            "{kind}: {err:?}"
        );
        assert!(err.is_retryable(), "{kind}");
        assert_eq!(err.gateway_status(), 504, "{kind}");
    }
}

#[tokio::test]
async fn every_provider_reports_a_cut_stream() {
    for kind in ProviderKind::ALL {
        let (chunks, _) = stream(
            kind,
            MockReply::cut_stream("Partial answer"),
            &text_request(),
        )
        .await;
        let last = chunks.last().unwrap();
        assert!(
            matches!(last, Err(ProviderError::BadResponse { .. })),
            "{kind}: {last:?}"
        );
    }
}

#[tokio::test]
async fn peek_falls_back_when_nothing_was_said() {
    for kind in ProviderKind::ALL {
        let (_mock, ctx) = start(kind, vec![MockReply::cut_stream("")]).await;
        let chunks = adapter_for(kind)
            .stream(&ctx, &text_request())
            .await
            .unwrap();
        let err = peek_first(kind, chunks).await.err();
        assert!(err.is_some_and(|e| e.is_retryable()), "{kind}");

        let (_mock, ctx) = start(kind, vec![MockReply::text("Hi there")]).await;
        let chunks = adapter_for(kind)
            .stream(&ctx, &text_request())
            .await
            .unwrap();
        let peeked = peek_first(kind, chunks).await.unwrap();
        assert_eq!(assemble(peeked.collect().await).text, "Hi there", "{kind}");
    }
}

#[tokio::test]
async fn every_provider_tests_its_connection() {
    for kind in ProviderKind::ALL {
        let (mock, ctx) = start(kind, vec![]).await;
        adapter_for(kind)
            .test_connection(&ctx)
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(mock.requests()[0].method, "GET", "{kind}");

        let mut wrong = ctx.clone();
        wrong.api_key = super::Secret::new("wrong-key");
        let err = adapter_for(kind).test_connection(&wrong).await.unwrap_err();
        assert!(matches!(err, ProviderError::Upstream { .. }), "{kind}");
        assert!(!err.to_string().contains("wrong-key"), "{kind}: key leaked");
        assert!(
            !format!("{err:?}").contains(super::mock::MOCK_API_KEY),
            "{kind}"
        );
    }
}

#[tokio::test]
async fn unreachable_provider_is_a_retryable_connect_error() {
    // Bind then drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for kind in ProviderKind::ALL {
        let (mock, mut ctx) = start(kind, vec![]).await;
        drop(mock);
        ctx.base_url = format!("http://127.0.0.1:{port}");
        if let Some(azure) = ctx.azure.as_mut() {
            azure.endpoint = ctx.base_url.clone();
        }
        let err = adapter_for(kind)
            .send(&ctx, &text_request())
            .await
            .unwrap_err();
        assert!(
            matches!(err, ProviderError::Connect { .. }),
            "{kind}: {err:?}"
        );
        assert!(err.is_retryable());
        assert_eq!(err.gateway_status(), 502);
    }
}

pub(super) fn embeddings_request(texts: &[&str], dimensions: Option<u32>) -> EmbeddingsRequest {
    EmbeddingsRequest {
        model: "embed-llm".into(),
        input: EmbeddingInput::Many(texts.iter().map(|t| t.to_string()).collect()),
        dimensions,
        encoding_format: None,
        user: None,
        extra: serde_json::Map::new(),
    }
}

/// What each embeddings-capable provider is asked, in its own format.
fn embedding_texts(kind: ProviderKind, body: &Value) -> Vec<String> {
    let texts = match kind {
        ProviderKind::Google => body["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["content"]["parts"][0]["text"].clone())
            .collect(),
        ProviderKind::Cohere => body["texts"].as_array().unwrap().clone(),
        _ => body["input"].as_array().unwrap().clone(),
    };
    texts
        .into_iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn every_provider_with_embeddings_embeds_in_order() {
    for kind in ProviderKind::ALL {
        let (mock, ctx) = start(kind, vec![]).await;
        let result = adapter_for(kind)
            .embed(&ctx, &embeddings_request(&["first", "second"], None))
            .await;
        if !kind.offers_embeddings() {
            // Nothing is sent; the proxy moves on to the next target.
            let err = result.unwrap_err();
            assert!(matches!(err, ProviderError::Config { .. }), "{kind}: {err}");
            assert!(err.is_retryable(), "{kind}");
            assert!(mock.requests().is_empty(), "{kind}");
            continue;
        }
        let embeddings = result.unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(
            embeddings.vectors,
            vec![
                mock_vector(0, MOCK_DIMENSIONS),
                mock_vector(1, MOCK_DIMENSIONS)
            ],
            "{kind}"
        );
        let expected_tokens = (kind != ProviderKind::Google).then_some(MOCK_PROMPT_TOKENS);
        assert_eq!(embeddings.prompt_tokens, expected_tokens, "{kind}");
        let recorded = last_request(&mock);
        assert_eq!(
            embedding_texts(kind, &recorded.body),
            vec!["first", "second"],
            "{kind}"
        );
    }
}

#[tokio::test]
async fn every_provider_with_embeddings_shortens_vectors_on_request() {
    for kind in ProviderKind::ALL
        .into_iter()
        .filter(|k| k.offers_embeddings())
    {
        let (_mock, ctx) = start(kind, vec![]).await;
        let embeddings = adapter_for(kind)
            .embed(&ctx, &embeddings_request(&["one"], Some(5)))
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(embeddings.vectors, vec![mock_vector(0, 5)], "{kind}");
    }
}

#[tokio::test]
async fn every_provider_with_embeddings_maps_errors() {
    for kind in ProviderKind::ALL
        .into_iter()
        .filter(|k| k.offers_embeddings())
    {
        let (_mock, ctx) = start(kind, vec![MockReply::error(429, "slow down")]).await;
        let err = adapter_for(kind)
            .embed(&ctx, &embeddings_request(&["one"], None))
            .await
            .unwrap_err();
        assert!(err.is_rate_limited(), "{kind}: {err}");
        assert!(err.to_string().contains("slow down"), "{kind}: {err}");
    }
}

fn native_body(stream: bool) -> serde_json::Map<String, Value> {
    json!({"model": "primary-llm", "max_tokens": 64, "stream": stream,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "Say hello."}]})
    .as_object()
    .unwrap()
    .clone()
}

#[tokio::test]
async fn anthropic_passthrough_sends_the_body_as_is_but_for_the_model() {
    let (mock, ctx) = start(ProviderKind::Anthropic, vec![MockReply::text("Hi!")]).await;
    let (answer, usage) = super::native_messages(&ctx, &native_body(false), Some("beta-1"))
        .await
        .unwrap();
    assert_eq!(answer["content"][0]["text"], "Hi!");
    assert_eq!(answer["type"], "message");
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), mock_usage());
    let recorded = last_request(&mock);
    let mut expected = native_body(false);
    expected.insert("model".into(), json!(MODEL));
    assert_eq!(recorded.body, Value::Object(expected));
    assert_eq!(recorded.header("anthropic-beta"), Some("beta-1"));
}

#[tokio::test]
async fn anthropic_passthrough_streams_events_unchanged_with_usage() {
    let (mock, ctx) = start(ProviderKind::Anthropic, vec![MockReply::text("Hi there")]).await;
    let events = super::native_messages_stream(&ctx, &native_body(true), None)
        .await
        .unwrap();
    let events = peek_first(ProviderKind::Anthropic, events).await.unwrap();
    let events: Vec<_> = events.map(Result::unwrap).collect().await;
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    assert!(names.contains(&"ping"));
    use super::StreamItem;
    let usage = events.iter().find_map(|e| e.usage()).unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), mock_usage());
    assert_eq!(last_request(&mock).body["stream"], true);
    // A stream cut before message_stop is an error, as for chat.
    let (_mock, ctx) = start(ProviderKind::Anthropic, vec![MockReply::cut_stream("Hi")]).await;
    let events = super::native_messages_stream(&ctx, &native_body(true), None)
        .await
        .unwrap();
    let last = events.collect::<Vec<_>>().await.pop().unwrap();
    assert!(matches!(last, Err(ProviderError::BadResponse { .. })));
}

#[tokio::test]
async fn anthropic_counts_tokens_with_the_prompt_fields_only() {
    let (mock, ctx) = start(ProviderKind::Anthropic, vec![]).await;
    let counted = super::count_tokens(&ctx, &native_body(false), None)
        .await
        .unwrap();
    assert_eq!(counted, MOCK_COUNTED_TOKENS);
    let recorded = last_request(&mock);
    assert_eq!(recorded.path, "/v1/messages/count_tokens");
    assert!(recorded.body.get("max_tokens").is_none());
    assert_eq!(recorded.body["model"], MODEL);
}
