//! Cohere v2 Chat: `POST {base}/v2/chat` with a Bearer key. Messages and tools are close to
//! OpenAI's; the response puts text in content blocks and the stream uses typed events
//! (`message-start`, `content-delta`, `tool-call-start`, `tool-call-delta`, `message-end`).
//! Embeddings use `POST {base}/v2/embed` with float vectors.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::context::CallContext;
use super::error::ProviderError;
use super::http::{self, bearer_request, nested_error_message, StreamTranslator};
use super::types::{
    ChatChunk, ChatRequest, ChatResponse, Delta, Embeddings, EmbeddingsRequest, FinishReason,
    ResponseFormat, ResponseMessage, Role, Tool, ToolCall, ToolCallDelta, ToolChoice,
    ToolChoiceMode, Usage,
};
use super::{ChunkStream, ProviderAdapter};
use crate::domain::ProviderKind;

pub(crate) struct Cohere;

const PROVIDER: ProviderKind = ProviderKind::Cohere;
/// Cohere's `p` must lie in [0.01, 0.99]; OpenAI's `top_p` of 1.0 (a common default) means "no
/// cut-off", which 0.99 approximates.
const MIN_P: f64 = 0.01;
const MAX_P: f64 = 0.99;

#[derive(Serialize)]
struct CohereRequest<'a> {
    model: &'a str,
    messages: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stop_sequences: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
}

fn tool_json(tool: &Tool) -> Value {
    json!({
        "type": "function",
        "function": {
            "name": tool.function.name,
            "description": tool.function.description,
            "parameters": tool.function.parameters_or_empty(),
        }
    })
}

fn build_request<'a>(ctx: &'a CallContext, req: &ChatRequest, stream: bool) -> CohereRequest<'a> {
    let messages = req
        .messages
        .iter()
        .map(|m| match m.role {
            Role::System | Role::Developer => json!({"role": "system", "content": m.text()}),
            // Cohere takes OpenAI's text and image_url parts as they are.
            Role::User => json!({"role": "user", "content": m.content}),
            Role::Assistant => {
                let mut message = json!({"role": "assistant"});
                let text = m.text();
                if !text.is_empty() {
                    message["content"] = json!(text);
                }
                if let Some(calls) = &m.tool_calls {
                    message["tool_calls"] = json!(calls);
                }
                message
            }
            Role::Tool => json!({
                "role": "tool",
                "tool_call_id": m.tool_call_id,
                "content": m.text(),
            }),
        })
        .collect();

    let all_tools = req.tools.iter().flatten();
    // Cohere cannot name one tool to call: it is forced by offering only that one.
    let (tools, tool_choice): (Vec<Value>, _) = match &req.tool_choice {
        Some(ToolChoice::Function(named)) => (
            all_tools
                .filter(|t| t.function.name == named.function.name)
                .map(tool_json)
                .collect(),
            Some("REQUIRED"),
        ),
        Some(ToolChoice::Mode(ToolChoiceMode::Required)) => {
            (all_tools.map(tool_json).collect(), Some("REQUIRED"))
        }
        Some(ToolChoice::Mode(ToolChoiceMode::None)) => {
            (all_tools.map(tool_json).collect(), Some("NONE"))
        }
        Some(ToolChoice::Mode(ToolChoiceMode::Auto)) | None => {
            (all_tools.map(tool_json).collect(), None)
        }
    };

    let response_format = match &req.response_format {
        Some(ResponseFormat::JsonObject) => Some(json!({"type": "json_object"})),
        Some(ResponseFormat::JsonSchema { json_schema }) => Some(match &json_schema.schema {
            Some(schema) => json!({"type": "json_object", "json_schema": schema}),
            None => json!({"type": "json_object"}),
        }),
        Some(ResponseFormat::Text) | None => None,
    };

    CohereRequest {
        model: &ctx.model,
        messages,
        tools,
        tool_choice,
        response_format,
        temperature: req.temperature,
        p: req.top_p.map(|p| p.clamp(MIN_P, MAX_P)),
        max_tokens: req.output_limit(),
        stop_sequences: req.stop_sequences(),
        stream,
    }
}

#[derive(Deserialize)]
struct CohereResponse {
    id: String,
    #[serde(default)]
    finish_reason: Option<String>,
    message: CohereMessage,
    #[serde(default)]
    usage: Option<CohereUsage>,
}

#[derive(Deserialize)]
struct CohereMessage {
    #[serde(default)]
    content: Vec<CohereContent>,
    #[serde(default)]
    tool_calls: Vec<ToolCall>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum CohereContent {
    Text {
        text: String,
    },
    /// Thinking and other block types have no OpenAI counterpart.
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Clone, Copy)]
struct CohereUsage {
    #[serde(default)]
    billed_units: Option<TokenCounts>,
    #[serde(default)]
    tokens: Option<TokenCounts>,
}

#[derive(Deserialize, Clone, Copy)]
struct TokenCounts {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
}

impl CohereUsage {
    /// Billed units are what Cohere charges for (without its own prompt template), so spend uses
    /// them; raw token counts only when billing is absent.
    fn to_openai(self) -> Option<Usage> {
        self.billed_units
            .or(self.tokens)
            .map(|t| Usage::new(t.input_tokens, t.output_tokens))
    }
}

fn finish_reason(reason: Option<&str>) -> FinishReason {
    match reason {
        Some("MAX_TOKENS") => FinishReason::Length,
        Some("TOOL_CALL") => FinishReason::ToolCalls,
        Some("ERROR") | Some("TIMEOUT") => FinishReason::Other,
        _ => FinishReason::Stop,
    }
}

fn into_response(ctx: &CallContext, resp: CohereResponse) -> ChatResponse {
    let text: String = resp
        .message
        .content
        .into_iter()
        .filter_map(|c| match c {
            CohereContent::Text { text } => Some(text),
            CohereContent::Other => None,
        })
        .collect();
    ChatResponse::single(
        resp.id,
        ctx.model.clone(),
        ResponseMessage::assistant((!text.is_empty()).then_some(text), resp.message.tool_calls),
        finish_reason(resp.finish_reason.as_deref()),
        resp.usage.and_then(CohereUsage::to_openai),
    )
}

struct CohereStream {
    id: String,
    model: String,
    /// OpenAI index of the tool call being streamed; calls arrive one after another.
    tool_index: Option<u32>,
    ended: bool,
}

fn text_at(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

impl StreamTranslator for CohereStream {
    type Item = ChatChunk;

    fn on_event(&mut self, event: &str, data: &str) -> Result<Vec<ChatChunk>, ProviderError> {
        let value: Value = http::parse_event(PROVIDER, event, data)?;
        let kind = value.get("type").and_then(Value::as_str).unwrap_or(event);
        let chunk = |delta| ChatChunk::delta(&self.id, &self.model, delta, None);
        let chunks = match kind {
            "message-start" => {
                if let Some(id) = text_at(&value, "/id") {
                    self.id = id;
                }
                vec![ChatChunk::delta(&self.id, &self.model, Delta::role(), None)]
            }
            "content-start" | "content-delta" => text_at(&value, "/delta/message/content/text")
                .filter(|t| !t.is_empty())
                .map(|t| vec![chunk(Delta::text(t))])
                .unwrap_or_default(),
            "tool-call-start" => {
                let index = self.tool_index.map_or(0, |i| i + 1);
                self.tool_index = Some(index);
                let call = "/delta/message/tool_calls";
                let start = ToolCallDelta::start(
                    index,
                    text_at(&value, &format!("{call}/id")).unwrap_or_default(),
                    text_at(&value, &format!("{call}/function/name")).unwrap_or_default(),
                    text_at(&value, &format!("{call}/function/arguments")).unwrap_or_default(),
                );
                vec![chunk(Delta::tool_call(start))]
            }
            "tool-call-delta" => {
                let arguments = text_at(&value, "/delta/message/tool_calls/function/arguments");
                match (self.tool_index, arguments) {
                    (Some(index), Some(arguments)) => {
                        vec![chunk(Delta::tool_call(ToolCallDelta::arguments(
                            index, arguments,
                        )))]
                    }
                    _ => Vec::new(),
                }
            }
            "message-end" => {
                self.ended = true;
                let reason = finish_reason(
                    value
                        .pointer("/delta/finish_reason")
                        .and_then(Value::as_str),
                );
                let usage = value
                    .pointer("/delta/usage")
                    .and_then(|u| serde_json::from_value::<CohereUsage>(u.clone()).ok())
                    .and_then(CohereUsage::to_openai);
                let mut chunks = vec![ChatChunk::delta(
                    &self.id,
                    &self.model,
                    Delta::default(),
                    Some(reason),
                )];
                if usage.is_some() {
                    chunks.push(ChatChunk::usage_only(&self.id, &self.model, usage));
                }
                chunks
            }
            // content-end, tool-plan-delta, tool-call-end, citations: nothing for OpenAI clients.
            _ => Vec::new(),
        };
        Ok(chunks)
    }

    fn finish(&mut self) -> Result<Vec<ChatChunk>, ProviderError> {
        if self.ended {
            Ok(Vec::new())
        } else {
            Err(ProviderError::bad_response(
                PROVIDER,
                "the stream ended before message-end",
            ))
        }
    }
}

/// Cohere's embed models v3 and later require `input_type`; OpenAI's format has none, so an app
/// may send Cohere's own field (`search_query`, `classification`, …) and otherwise the texts are
/// embedded as documents to search, the most common use behind a retrieval pipeline.
const DEFAULT_INPUT_TYPE: &str = "search_document";

fn embed_body(ctx: &CallContext, req: &EmbeddingsRequest) -> Value {
    let input_type = req
        .extra
        .get("input_type")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_INPUT_TYPE);
    let mut body = json!({
        "model": ctx.model,
        "texts": req.texts(),
        "input_type": input_type,
        "embedding_types": ["float"],
    });
    if let Some(dimensions) = req.dimensions {
        body["output_dimension"] = json!(dimensions);
    }
    body
}

#[derive(Deserialize)]
struct EmbedResponse {
    embeddings: EmbeddingsByType,
    #[serde(default)]
    meta: Option<EmbedMeta>,
}

#[derive(Deserialize)]
struct EmbeddingsByType {
    float: Vec<Vec<f32>>,
}

#[derive(Deserialize)]
struct EmbedMeta {
    #[serde(default)]
    billed_units: Option<BilledUnits>,
}

#[derive(Deserialize)]
struct BilledUnits {
    #[serde(default)]
    input_tokens: Option<u64>,
}

/// Cohere answers `{"message": "..."}`.
fn parse_error(json: &Value) -> Option<String> {
    json.get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| nested_error_message(json))
}

#[async_trait::async_trait]
impl ProviderAdapter for Cohere {
    fn kind(&self) -> ProviderKind {
        PROVIDER
    }

    fn request_body(
        &self,
        ctx: &CallContext,
        req: &ChatRequest,
        stream: bool,
    ) -> Result<Vec<u8>, ProviderError> {
        http::encode_body(PROVIDER, &build_request(ctx, req, stream))
    }

    async fn send(
        &self,
        ctx: &CallContext,
        req: &ChatRequest,
    ) -> Result<ChatResponse, ProviderError> {
        let target = http::with_json(
            bearer_request(PROVIDER, ctx, reqwest::Method::POST, "/v2/chat")?,
            self.request_body(ctx, req, false)?,
        );
        let response = http::send(PROVIDER, ctx, target, parse_error).await?;
        let parsed: CohereResponse = http::read_json(PROVIDER, ctx, response).await?;
        Ok(into_response(ctx, parsed))
    }

    async fn stream(
        &self,
        ctx: &CallContext,
        req: &ChatRequest,
    ) -> Result<ChunkStream, ProviderError> {
        let target = http::with_json(
            bearer_request(PROVIDER, ctx, reqwest::Method::POST, "/v2/chat")?,
            self.request_body(ctx, req, true)?,
        );
        let response = http::send(PROVIDER, ctx, target, parse_error).await?;
        let translator = CohereStream {
            id: String::new(),
            model: ctx.model.clone(),
            tool_index: None,
            ended: false,
        };
        Ok(http::translate_sse(PROVIDER, ctx, response, translator))
    }

    async fn test_connection(&self, ctx: &CallContext) -> Result<(), ProviderError> {
        let target = bearer_request(PROVIDER, ctx, reqwest::Method::GET, "/v1/models")?;
        http::send(PROVIDER, ctx, target, parse_error)
            .await
            .map(drop)
    }

    async fn embed(
        &self,
        ctx: &CallContext,
        req: &EmbeddingsRequest,
    ) -> Result<Embeddings, ProviderError> {
        let target = http::with_json(
            bearer_request(PROVIDER, ctx, reqwest::Method::POST, "/v2/embed")?,
            http::encode_body(PROVIDER, &embed_body(ctx, req))?,
        );
        let response = http::send(PROVIDER, ctx, target, parse_error).await?;
        let parsed: EmbedResponse = http::read_json(PROVIDER, ctx, response).await?;
        Ok(Embeddings {
            vectors: parsed.embeddings.float,
            prompt_tokens: parsed
                .meta
                .and_then(|m| m.billed_units)
                .and_then(|b| b.input_tokens),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::domain::ProviderKind;
    use crate::providers::conformance::{
        json_schema_request, send, text_request, tool_request, weather_tool, MODEL,
    };
    use crate::providers::mock::{MockReply, MOCK_API_KEY};
    use crate::providers::types::{FunctionName, NamedToolChoice, ToolChoice, ToolKind};

    const KIND: ProviderKind = ProviderKind::Cohere;

    #[tokio::test]
    async fn sends_v2_chat_with_bearer_and_sampling_fields() {
        let mut req = text_request();
        req.top_p = Some(1.0);
        req.max_tokens = Some(20);
        let (result, recorded) = send(KIND, MockReply::text("ok"), &req).await;
        result.unwrap();
        assert_eq!(recorded.path, "/v2/chat");
        assert_eq!(
            recorded.header("authorization"),
            Some(format!("Bearer {MOCK_API_KEY}").as_str())
        );
        assert_eq!(recorded.body["model"], MODEL);
        assert_eq!(recorded.body["p"], 0.99);
        assert_eq!(recorded.body["max_tokens"], 20);
        assert_eq!(
            recorded.body["messages"][0],
            json!({"role": "system", "content": "Be brief."})
        );
    }

    #[tokio::test]
    async fn maps_tool_history_and_forces_a_named_tool() {
        let mut req = tool_request();
        let mut other = weather_tool();
        other.function.name = "get_time".into();
        req.tools.as_mut().unwrap().push(other);
        req.tool_choice = Some(ToolChoice::Function(NamedToolChoice {
            kind: ToolKind::Function,
            function: FunctionName {
                name: "get_weather".into(),
            },
        }));
        let (_, recorded) = send(KIND, MockReply::text("ok"), &req).await;
        let messages = &recorded.body["messages"];
        assert_eq!(
            messages[1]["tool_calls"][0]["function"]["name"],
            "get_weather"
        );
        assert_eq!(
            messages[2],
            json!({"role": "tool", "tool_call_id": "call_prev", "content": "{\"temp_c\": 3}"})
        );
        assert_eq!(recorded.body["tool_choice"], "REQUIRED");
        let tools = recorded.body["tools"].as_array().unwrap();
        assert_eq!(tools.len(), 1);
        assert_eq!(tools[0]["function"]["name"], "get_weather");
    }

    #[tokio::test]
    async fn json_schema_goes_into_response_format() {
        let (_, recorded) = send(KIND, MockReply::text("{}"), &json_schema_request()).await;
        let format = &recorded.body["response_format"];
        assert_eq!(format["type"], "json_object");
        assert_eq!(format["json_schema"]["required"], json!(["greeting"]));
    }

    #[tokio::test]
    async fn embeddings_ask_for_floats_as_documents_unless_the_app_says_otherwise() {
        use crate::providers::conformance::{embeddings_request, start};
        let (mock, ctx) = start(KIND, vec![]).await;
        let adapter = crate::providers::adapter_for(KIND);
        adapter
            .embed(&ctx, &embeddings_request(&["a", "b"], Some(256)))
            .await
            .unwrap();
        let body = mock.requests().pop().unwrap().body;
        assert_eq!(body["model"], MODEL);
        assert_eq!(body["input_type"], "search_document");
        assert_eq!(body["embedding_types"], json!(["float"]));
        assert_eq!(body["output_dimension"], 256);
        let mut query = embeddings_request(&["what is rust?"], None);
        query
            .extra
            .insert("input_type".into(), json!("search_query"));
        adapter.embed(&ctx, &query).await.unwrap();
        let body = mock.requests().pop().unwrap().body;
        assert_eq!(body["input_type"], "search_query");
    }
}
