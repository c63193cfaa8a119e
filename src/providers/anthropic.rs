//! Anthropic Messages API: `POST {base}/v1/messages` with `x-api-key` and `anthropic-version`.
//! System text travels outside the messages, `max_tokens` is required, tool calls and results are
//! content blocks, and the stream is a sequence of typed events.
//!
//! Apps that speak the Messages API themselves (`/v1/messages`) reach an Anthropic target
//! through the `native_*` functions below: their body goes out as sent, with only the model
//! replaced, and the answer comes back as Anthropic sent it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::context::CallContext;
use super::error::ProviderError;
use super::http::{self, nested_error_message, secret_header, StreamTranslator};
use super::types::{
    ChatChunk, ChatRequest, ChatResponse, ContentPart, Delta, FinishReason, FunctionCall,
    ImageSource, ResponseFormat, ResponseMessage, Role, ToolCall, ToolCallDelta, ToolChoice,
    ToolChoiceMode, ToolKind, Usage,
};
use super::{ChunkStream, ItemStream, ProviderAdapter, StreamItem};
use crate::domain::ProviderKind;

pub(crate) struct Anthropic;

const PROVIDER: ProviderKind = ProviderKind::Anthropic;
const API_VERSION: &str = "2023-06-01";
/// Anthropic requires `max_tokens`; OpenAI does not, so apps often leave it out.
const DEFAULT_MAX_TOKENS: u32 = 4096;
/// Anthropic has no JSON-object mode; an instruction gets the same result in practice.
const JSON_OBJECT_INSTRUCTION: &str = "Respond with a single valid JSON object and nothing else.";

#[derive(Serialize)]
struct MessagesRequest<'a> {
    model: &'a str,
    max_tokens: u32,
    messages: Vec<AnthropicMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stop_sequences: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<AnthropicTool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
}

#[derive(Serialize)]
struct AnthropicMessage {
    role: &'static str,
    content: Vec<Block>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        text: String,
    },
    Image {
        source: ImageBlockSource,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        content: String,
    },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ImageBlockSource {
    Base64 { media_type: String, data: String },
    Url { url: String },
}

#[derive(Serialize)]
struct AnthropicTool {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    input_schema: Value,
}

/// The request body, and the name of the tool standing in for a JSON schema response format:
/// Anthropic is made to call it and its input becomes the message content.
fn build_request<'a>(
    ctx: &'a CallContext,
    req: &ChatRequest,
    stream: bool,
) -> (MessagesRequest<'a>, Option<String>) {
    let mut system: Vec<String> = Vec::new();
    let mut messages: Vec<AnthropicMessage> = Vec::new();
    for message in &req.messages {
        let (role, blocks) = match message.role {
            Role::System | Role::Developer => {
                system.push(message.text());
                continue;
            }
            Role::User => ("user", content_blocks(message.content.as_ref())),
            Role::Assistant => {
                let mut blocks = content_blocks(message.content.as_ref());
                for call in message.tool_calls.iter().flatten() {
                    blocks.push(Block::ToolUse {
                        id: call.id.clone(),
                        name: call.function.name.clone(),
                        input: call.function.arguments_json(),
                    });
                }
                ("assistant", blocks)
            }
            // Tool results are user turns in Anthropic's format.
            Role::Tool => (
                "user",
                vec![Block::ToolResult {
                    tool_use_id: message.tool_call_id.clone().unwrap_or_default(),
                    content: message.text(),
                }],
            ),
        };
        // Anthropic refuses empty turns (an assistant message with neither text nor calls).
        if blocks.is_empty() {
            continue;
        }
        // Consecutive turns of one role are merged: several tool results answer one assistant turn.
        match messages.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => messages.push(AnthropicMessage {
                role,
                content: blocks,
            }),
        }
    }

    let mut tools: Vec<AnthropicTool> = req
        .tools
        .iter()
        .flatten()
        .map(|t| AnthropicTool {
            name: t.function.name.clone(),
            description: t.function.description.clone(),
            input_schema: t.function.parameters_or_empty(),
        })
        .collect();
    let mut tool_choice = req.tool_choice.as_ref().map(|choice| match choice {
        ToolChoice::Mode(ToolChoiceMode::None) => json!({"type": "none"}),
        ToolChoice::Mode(ToolChoiceMode::Auto) => json!({"type": "auto"}),
        ToolChoice::Mode(ToolChoiceMode::Required) => json!({"type": "any"}),
        ToolChoice::Function(named) => json!({"type": "tool", "name": named.function.name}),
    });
    let mut json_tool = None;
    match &req.response_format {
        Some(ResponseFormat::JsonObject) => system.push(JSON_OBJECT_INSTRUCTION.to_string()),
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            tools.push(AnthropicTool {
                name: json_schema.name.clone(),
                description: json_schema.description.clone(),
                input_schema: json_schema
                    .schema
                    .clone()
                    .unwrap_or_else(|| json!({"type": "object"})),
            });
            tool_choice = Some(json!({"type": "tool", "name": json_schema.name}));
            json_tool = Some(json_schema.name.clone());
        }
        Some(ResponseFormat::Text) | None => {}
    }

    let body = MessagesRequest {
        model: &ctx.model,
        max_tokens: req.output_limit().unwrap_or(DEFAULT_MAX_TOKENS),
        messages,
        system: (!system.is_empty()).then(|| system.join("\n\n")),
        // OpenAI's temperature goes to 2, Anthropic's to 1.
        temperature: req.temperature.map(|t| t.min(1.0)),
        // Current Claude models refuse temperature and top_p together; logical-model defaults often
        // set both, and temperature is the one apps mean.
        top_p: req.top_p.filter(|_| req.temperature.is_none()),
        stop_sequences: req.stop_sequences(),
        tools,
        tool_choice,
        stream,
    };
    (body, json_tool)
}

fn content_blocks(content: Option<&super::types::Content>) -> Vec<Block> {
    content
        .map(|c| c.parts())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|part| match part {
            // Anthropic rejects empty text blocks.
            ContentPart::Text { text } if text.is_empty() => None,
            ContentPart::Text { text } => Some(Block::Text { text }),
            ContentPart::ImageUrl { image_url } => Some(Block::Image {
                source: match image_url.source() {
                    ImageSource::Base64 { media_type, data } => ImageBlockSource::Base64 {
                        media_type: media_type.to_string(),
                        data: data.to_string(),
                    },
                    ImageSource::Url(url) => ImageBlockSource::Url {
                        url: url.to_string(),
                    },
                },
            }),
        })
        .collect()
}

#[derive(Deserialize)]
struct MessagesResponse {
    id: String,
    content: Vec<ResponseBlock>,
    stop_reason: Option<String>,
    #[serde(default)]
    usage: AnthropicUsage,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ResponseBlock {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    /// Thinking and server-tool blocks have no OpenAI counterpart.
    #[serde(other)]
    Other,
}

#[derive(Clone, Copy, Default, Deserialize)]
struct AnthropicUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// Cached prompt tokens are reported apart from `input_tokens`; OpenAI counts them in.
    fn to_openai(self) -> Usage {
        let prompt = self.input_tokens
            + self.cache_creation_input_tokens.unwrap_or(0)
            + self.cache_read_input_tokens.unwrap_or(0);
        Usage::new(prompt, self.output_tokens)
    }
}

fn finish_reason(stop_reason: Option<&str>, answered_with_json_tool: bool) -> FinishReason {
    match stop_reason {
        Some("max_tokens") | Some("model_context_window_exceeded") => FinishReason::Length,
        Some("tool_use") if !answered_with_json_tool => FinishReason::ToolCalls,
        Some("refusal") => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

fn into_response(
    ctx: &CallContext,
    resp: MessagesResponse,
    json_tool: Option<&str>,
) -> ChatResponse {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    let mut answered_with_json_tool = false;
    for block in resp.content {
        match block {
            ResponseBlock::Text { text: t } => text.push_str(&t),
            ResponseBlock::ToolUse { name, input, .. } if Some(name.as_str()) == json_tool => {
                answered_with_json_tool = true;
                text.push_str(&input.to_string());
            }
            ResponseBlock::ToolUse { id, name, input } => tool_calls.push(ToolCall {
                id,
                kind: ToolKind::Function,
                function: FunctionCall {
                    name,
                    arguments: input.to_string(),
                },
            }),
            ResponseBlock::Other => {}
        }
    }
    ChatResponse::single(
        resp.id,
        ctx.model.clone(),
        ResponseMessage::assistant((!text.is_empty()).then_some(text), tool_calls),
        finish_reason(resp.stop_reason.as_deref(), answered_with_json_tool),
        Some(resp.usage.to_openai()),
    )
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StreamEvent {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockStart {
        index: u32,
        content_block: ResponseBlock,
    },
    ContentBlockDelta {
        index: u32,
        delta: BlockDelta,
    },
    MessageDelta {
        delta: MessageDeltaBody,
        #[serde(default)]
        usage: Option<AnthropicUsage>,
    },
    MessageStop {},
    Error {
        error: ErrorBody,
    },
    /// `ping`, `content_block_stop` and event types added later carry nothing to translate.
    #[serde(other)]
    Ignored,
}

#[derive(Deserialize)]
struct StartMessage {
    id: String,
    #[serde(default)]
    usage: AnthropicUsage,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct MessageDeltaBody {
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type")]
    kind: String,
    message: String,
}

/// Anthropic's error `type` for an HTTP status, as its API sends it and its SDKs map it to
/// exception classes.
pub fn error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        _ => "api_error",
    }
}

/// An `error` event as the failure it reports.
fn stream_error(error: ErrorBody) -> ProviderError {
    ProviderError::Upstream {
        provider: PROVIDER,
        status: error_status(&error.kind),
        message: error.message,
        retry_after: None,
    }
}

/// Nothing more once the stream closed, if `message_stop` came; otherwise it was cut off.
fn after_message_stop<T>(stopped: bool) -> Result<Vec<T>, ProviderError> {
    if stopped {
        Ok(Vec::new())
    } else {
        Err(ProviderError::bad_response(
            PROVIDER,
            "the stream ended before message_stop",
        ))
    }
}

/// How an in-stream error would have been answered as an HTTP status.
fn error_status(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "overloaded_error" => 529,
        _ => 500,
    }
}

enum BlockRole {
    /// The stand-in tool of a JSON schema response: its input is streamed as text.
    JsonAnswer,
    /// An app tool call, with its OpenAI `tool_calls` index.
    ToolCall(u32),
}

struct AnthropicStream {
    id: String,
    model: String,
    json_tool: Option<String>,
    blocks: HashMap<u32, BlockRole>,
    next_tool_index: u32,
    usage: AnthropicUsage,
    answered_with_json_tool: bool,
    stopped: bool,
}

impl AnthropicStream {
    fn chunk(&self, delta: Delta, finish: Option<FinishReason>) -> ChatChunk {
        ChatChunk::delta(&self.id, &self.model, delta, finish)
    }
}

impl StreamTranslator for AnthropicStream {
    type Item = ChatChunk;

    fn on_event(&mut self, event: &str, data: &str) -> Result<Vec<ChatChunk>, ProviderError> {
        let chunks = match http::parse_event::<StreamEvent>(PROVIDER, event, data)? {
            StreamEvent::MessageStart { message } => {
                self.id = message.id;
                self.usage = message.usage;
                vec![self.chunk(Delta::role(), None)]
            }
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => match content_block {
                ResponseBlock::Text { text } if !text.is_empty() => {
                    vec![self.chunk(Delta::text(text), None)]
                }
                ResponseBlock::ToolUse { name, .. } if Some(&name) == self.json_tool.as_ref() => {
                    self.answered_with_json_tool = true;
                    self.blocks.insert(index, BlockRole::JsonAnswer);
                    Vec::new()
                }
                ResponseBlock::ToolUse { id, name, .. } => {
                    let tool_index = self.next_tool_index;
                    self.next_tool_index += 1;
                    self.blocks.insert(index, BlockRole::ToolCall(tool_index));
                    let start = ToolCallDelta::start(tool_index, id, name, String::new());
                    vec![self.chunk(Delta::tool_call(start), None)]
                }
                ResponseBlock::Text { .. } | ResponseBlock::Other => Vec::new(),
            },
            StreamEvent::ContentBlockDelta { index, delta } => match delta {
                BlockDelta::TextDelta { text } => vec![self.chunk(Delta::text(text), None)],
                BlockDelta::InputJsonDelta { partial_json } => match self.blocks.get(&index) {
                    Some(BlockRole::JsonAnswer) => {
                        vec![self.chunk(Delta::text(partial_json), None)]
                    }
                    Some(BlockRole::ToolCall(tool_index)) => {
                        let args = ToolCallDelta::arguments(*tool_index, partial_json);
                        vec![self.chunk(Delta::tool_call(args), None)]
                    }
                    None => Vec::new(),
                },
                BlockDelta::Other => Vec::new(),
            },
            StreamEvent::MessageDelta { delta, usage } => {
                // `output_tokens` here is the running total for the message.
                if let Some(usage) = usage {
                    self.usage.output_tokens = usage.output_tokens;
                }
                let reason =
                    finish_reason(delta.stop_reason.as_deref(), self.answered_with_json_tool);
                vec![self.chunk(Delta::default(), Some(reason))]
            }
            StreamEvent::MessageStop {} => {
                self.stopped = true;
                vec![ChatChunk::usage_only(
                    &self.id,
                    &self.model,
                    Some(self.usage.to_openai()),
                )]
            }
            StreamEvent::Error { error } => return Err(stream_error(error)),
            StreamEvent::Ignored => Vec::new(),
        };
        Ok(chunks)
    }

    fn finish(&mut self) -> Result<Vec<ChatChunk>, ProviderError> {
        after_message_stop(self.stopped)
    }
}

fn request(
    ctx: &CallContext,
    method: reqwest::Method,
    path: &str,
) -> Result<reqwest::RequestBuilder, ProviderError> {
    let key = secret_header(PROVIDER, "", &ctx.api_key)?;
    Ok(ctx
        .client
        .request(method, ctx.url(path))
        .header("x-api-key", key)
        .header("anthropic-version", API_VERSION))
}

/// The app's Messages body aimed at the provider model.
fn native_body(ctx: &CallContext, body: &Map<String, Value>) -> Map<String, Value> {
    let mut body = body.clone();
    body.insert("model".into(), Value::String(ctx.model.clone()));
    body
}

/// `POST /v1/messages` with the app's body; `beta` is the app's `anthropic-beta` header, passed
/// on so features in beta keep working behind the gateway.
fn native_request(
    ctx: &CallContext,
    path: &str,
    body: &Map<String, Value>,
    beta: Option<&str>,
) -> Result<reqwest::RequestBuilder, ProviderError> {
    let mut target = request(ctx, reqwest::Method::POST, path)?;
    if let Some(beta) = beta {
        target = target.header("anthropic-beta", beta);
    }
    Ok(http::with_json(target, http::encode_body(PROVIDER, body)?))
}

/// A non-streamed Messages call passed through: Anthropic's answer as sent, and its usage.
pub async fn native_messages(
    ctx: &CallContext,
    body: &Map<String, Value>,
    beta: Option<&str>,
) -> Result<(Value, Usage), ProviderError> {
    let target = native_request(ctx, "/v1/messages", &native_body(ctx, body), beta)?;
    let response = http::send(PROVIDER, ctx, target, nested_error_message).await?;
    let answer: Value = http::read_json(PROVIDER, ctx, response).await?;
    let usage = answer
        .get("usage")
        .and_then(|u| AnthropicUsage::deserialize(u).ok())
        .unwrap_or_default();
    Ok((answer, usage.to_openai()))
}

/// A streamed Messages call passed through, event by event.
pub async fn native_messages_stream(
    ctx: &CallContext,
    body: &Map<String, Value>,
    beta: Option<&str>,
) -> Result<ItemStream<NativeEvent>, ProviderError> {
    let target = native_request(ctx, "/v1/messages", &native_body(ctx, body), beta)?;
    let response = http::send(PROVIDER, ctx, target, nested_error_message).await?;
    let translator = NativeStream {
        usage: AnthropicUsage::default(),
        stopped: false,
    };
    Ok(http::translate_sse(PROVIDER, ctx, response, translator))
}

/// The fields `/v1/messages/count_tokens` accepts; it refuses the others (`max_tokens`, …).
const COUNT_TOKENS_FIELDS: [&str; 5] = ["messages", "system", "tools", "tool_choice", "thinking"];

/// Anthropic's own count of the prompt tokens of a Messages body, for `ctx.model`.
pub async fn count_tokens(
    ctx: &CallContext,
    body: &Map<String, Value>,
    beta: Option<&str>,
) -> Result<u64, ProviderError> {
    let mut counted: Map<String, Value> = body
        .iter()
        .filter(|(k, _)| COUNT_TOKENS_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    counted.insert("model".into(), Value::String(ctx.model.clone()));
    let target = native_request(ctx, "/v1/messages/count_tokens", &counted, beta)?;
    let response = http::send(PROVIDER, ctx, target, nested_error_message).await?;
    #[derive(Deserialize)]
    struct Counted {
        input_tokens: u64,
    }
    let counted: Counted = http::read_json(PROVIDER, ctx, response).await?;
    Ok(counted.input_tokens)
}

/// One event of an Anthropic stream, kept exactly as sent.
#[derive(Clone, Debug, PartialEq)]
pub struct NativeEvent {
    pub event: String,
    pub data: String,
    /// The message's usage so far, on `message_delta`.
    usage: Option<Usage>,
    output: bool,
}

impl StreamItem for NativeEvent {
    fn has_output(&self) -> bool {
        self.output
    }
    fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }
}

struct NativeStream {
    usage: AnthropicUsage,
    stopped: bool,
}

impl StreamTranslator for NativeStream {
    type Item = NativeEvent;

    fn on_event(&mut self, event: &str, data: &str) -> Result<Vec<NativeEvent>, ProviderError> {
        // Parsed with the translator's event type: only usage, output and errors matter here.
        let (usage, output) = match http::parse_event::<StreamEvent>(PROVIDER, event, data)? {
            StreamEvent::MessageStart { message } => {
                self.usage = message.usage;
                (None, false)
            }
            StreamEvent::ContentBlockDelta { .. } => (None, true),
            StreamEvent::MessageDelta { usage, .. } => {
                // Totals for the message so far; newer API versions repeat the input counts.
                if let Some(delta) = usage {
                    self.usage.output_tokens = delta.output_tokens;
                    if delta.input_tokens > 0 {
                        self.usage.input_tokens = delta.input_tokens;
                    }
                }
                (Some(self.usage.to_openai()), true)
            }
            StreamEvent::MessageStop {} => {
                self.stopped = true;
                (None, true)
            }
            StreamEvent::Error { error } => return Err(stream_error(error)),
            StreamEvent::ContentBlockStart { .. } | StreamEvent::Ignored => (None, false),
        };
        Ok(vec![NativeEvent {
            event: event.to_string(),
            data: data.to_string(),
            usage,
            output,
        }])
    }

    fn finish(&mut self) -> Result<Vec<NativeEvent>, ProviderError> {
        after_message_stop(self.stopped)
    }
}

#[async_trait::async_trait]
impl ProviderAdapter for Anthropic {
    fn kind(&self) -> ProviderKind {
        PROVIDER
    }

    fn request_body(
        &self,
        ctx: &CallContext,
        req: &ChatRequest,
        stream: bool,
    ) -> Result<Vec<u8>, ProviderError> {
        http::encode_body(PROVIDER, &build_request(ctx, req, stream).0)
    }

    async fn send(
        &self,
        ctx: &CallContext,
        req: &ChatRequest,
    ) -> Result<ChatResponse, ProviderError> {
        let (body, json_tool) = build_request(ctx, req, false);
        let target = http::with_json(
            request(ctx, reqwest::Method::POST, "/v1/messages")?,
            http::encode_body(PROVIDER, &body)?,
        );
        let response = http::send(PROVIDER, ctx, target, nested_error_message).await?;
        let parsed: MessagesResponse = http::read_json(PROVIDER, ctx, response).await?;
        Ok(into_response(ctx, parsed, json_tool.as_deref()))
    }

    async fn stream(
        &self,
        ctx: &CallContext,
        req: &ChatRequest,
    ) -> Result<ChunkStream, ProviderError> {
        let (body, json_tool) = build_request(ctx, req, true);
        let target = http::with_json(
            request(ctx, reqwest::Method::POST, "/v1/messages")?,
            http::encode_body(PROVIDER, &body)?,
        );
        let response = http::send(PROVIDER, ctx, target, nested_error_message).await?;
        let translator = AnthropicStream {
            id: String::new(),
            model: ctx.model.clone(),
            json_tool,
            blocks: HashMap::new(),
            next_tool_index: 0,
            usage: AnthropicUsage::default(),
            answered_with_json_tool: false,
            stopped: false,
        };
        Ok(http::translate_sse(PROVIDER, ctx, response, translator))
    }

    async fn test_connection(&self, ctx: &CallContext) -> Result<(), ProviderError> {
        let target = request(ctx, reqwest::Method::GET, "/v1/models")?;
        http::send(PROVIDER, ctx, target, nested_error_message)
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{
        AnthropicStream, AnthropicUsage, StreamTranslator, DEFAULT_MAX_TOKENS,
        JSON_OBJECT_INSTRUCTION,
    };
    use crate::domain::ProviderKind;
    use crate::providers::conformance::{
        assemble, image_request, json_schema_request, send, stream, text_request, tool_request,
        PNG_BASE64,
    };
    use crate::providers::mock::{MockReply, MOCK_API_KEY};
    use crate::providers::types::{Message, ResponseFormat, Role, Stop};
    use crate::providers::ProviderError;

    const KIND: ProviderKind = ProviderKind::Anthropic;

    #[tokio::test]
    async fn puts_system_apart_and_fills_required_fields() {
        let mut req = text_request();
        req.temperature = Some(1.5);
        req.top_p = Some(1.0);
        req.stop = Some(Stop::One("END".into()));
        let (result, recorded) = send(KIND, MockReply::text("ok"), &req).await;
        result.unwrap();
        assert_eq!(recorded.path, "/v1/messages");
        assert_eq!(recorded.header("x-api-key"), Some(MOCK_API_KEY));
        assert_eq!(recorded.header("anthropic-version"), Some("2023-06-01"));
        let body = &recorded.body;
        assert_eq!(body["system"], "Be brief.");
        assert_eq!(body["max_tokens"], DEFAULT_MAX_TOKENS);
        assert_eq!(body["temperature"], 1.0);
        assert!(body.get("top_p").is_none());
        assert_eq!(body["stop_sequences"], json!(["END"]));
        assert_eq!(
            body["messages"],
            json!([{"role": "user", "content": [{"type": "text", "text": "Say hello."}]}])
        );
    }

    #[tokio::test]
    async fn maps_tool_calls_and_results_to_blocks() {
        let (result, recorded) = send(KIND, MockReply::text("Sunny"), &tool_request()).await;
        result.unwrap();
        let messages = &recorded.body["messages"];
        assert_eq!(
            messages[1],
            json!({"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_prev", "name": "get_weather", "input": {"city": "Oslo"}}
            ]})
        );
        // The tool result and the next question share one user turn.
        assert_eq!(
            messages[2],
            json!({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_prev", "content": "{\"temp_c\": 3}"},
                {"type": "text", "text": "And Paris?"}
            ]})
        );
        assert_eq!(recorded.body["tools"][0]["name"], "get_weather");
        assert_eq!(
            recorded.body["tools"][0]["input_schema"]["required"],
            json!(["city"])
        );
        assert_eq!(recorded.body["tool_choice"], json!({"type": "auto"}));
    }

    #[tokio::test]
    async fn leaves_out_empty_turns() {
        let mut req = text_request();
        req.messages.push(Message::new(Role::Assistant, ""));
        req.messages.push(Message::new(Role::User, "Still there?"));
        let (result, recorded) = send(KIND, MockReply::text("ok"), &req).await;
        result.unwrap();
        let messages = recorded.body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0]["content"].as_array().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn sends_images_as_base64_and_url_sources() {
        let (_, recorded) = send(KIND, MockReply::text("ok"), &image_request()).await;
        let content = &recorded.body["messages"][0]["content"];
        assert_eq!(
            content[1],
            json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_BASE64}})
        );
        assert_eq!(
            content[2],
            json!({"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}})
        );
    }

    #[tokio::test]
    async fn json_modes_use_an_instruction_or_a_forced_tool() {
        let mut req = text_request();
        req.response_format = Some(ResponseFormat::JsonObject);
        let (_, recorded) = send(KIND, MockReply::text("{}"), &req).await;
        assert!(recorded.body["system"]
            .as_str()
            .unwrap()
            .ends_with(JSON_OBJECT_INSTRUCTION));

        let reply = MockReply::tool_call("greeting", json!({"greeting": "hi"}));
        let (chunks, recorded) = stream(KIND, reply, &json_schema_request()).await;
        assert_eq!(
            recorded.body["tool_choice"],
            json!({"type": "tool", "name": "greeting"})
        );
        let out = assemble(chunks);
        assert!(out.tool_calls.is_empty());
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&out.text).unwrap(),
            json!({"greeting": "hi"})
        );
    }

    #[test]
    fn stream_error_events_keep_their_meaning() {
        let mut translator = AnthropicStream {
            id: String::new(),
            model: "m".into(),
            json_tool: None,
            blocks: Default::default(),
            next_tool_index: 0,
            usage: AnthropicUsage::default(),
            answered_with_json_tool: false,
            stopped: false,
        };
        let data = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let err = translator.on_event("error", data).unwrap_err();
        assert!(
            matches!(err, ProviderError::Upstream { status: 529, ref message, .. } if message == "Overloaded")
        );
        assert!(err.is_retryable());
        // Cached prompt tokens count as prompt tokens.
        let usage: AnthropicUsage = serde_json::from_value(
            json!({"input_tokens": 5, "cache_read_input_tokens": 100, "output_tokens": 2}),
        )
        .unwrap();
        assert_eq!(usage.to_openai().prompt_tokens, 105);
    }
}
