//! Google Gemini API: `POST {base}/v1beta/models/{model}:generateContent` (and
//! `:streamGenerateContent?alt=sse`) with `x-goog-api-key`. Messages become `contents` with roles
//! `user`/`model`, system text becomes `systemInstruction`, tools are `functionDeclarations`.
//! Embeddings use `:batchEmbedContents`, one request per text.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::context::CallContext;
use super::error::ProviderError;
use super::http::{self, nested_error_message, secret_header, StreamTranslator};
use super::types::{
    ChatChunk, ChatRequest, ChatResponse, Content, ContentPart, Delta, Embeddings,
    EmbeddingsRequest, FinishReason, FunctionCall, ImageSource, ResponseFormat, ResponseMessage,
    Role, ToolCall, ToolCallDelta, ToolChoice, ToolChoiceMode, ToolKind, Usage,
};
use super::{ChunkStream, ProviderAdapter};
use crate::domain::ProviderKind;

pub(crate) struct Google;

const PROVIDER: ProviderKind = ProviderKind::Google;

/// JSON Schema keywords Gemini's OpenAPI-subset schemas reject.
const UNSUPPORTED_SCHEMA_KEYS: [&str; 5] = [
    "$schema",
    "$id",
    "additionalProperties",
    "default",
    "examples",
];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerateContentRequest {
    contents: Vec<GeminiContent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<GeminiContent>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_config: Option<Value>,
    generation_config: GenerationConfig,
}

#[derive(Serialize)]
struct GeminiContent {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    parts: Vec<Value>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stop_sequences: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_mime_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_schema: Option<Value>,
}

/// A JSON Schema made acceptable to Gemini by dropping the keywords it does not know.
fn gemini_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !UNSUPPORTED_SCHEMA_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), gemini_schema(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(gemini_schema).collect()),
        other => other.clone(),
    }
}

fn parts_of(content: Option<&Content>) -> Vec<Value> {
    content
        .map(Content::parts)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|part| match part {
            ContentPart::Text { text } if text.is_empty() => None,
            ContentPart::Text { text } => Some(json!({"text": text})),
            ContentPart::ImageUrl { image_url } => Some(match image_url.source() {
                ImageSource::Base64 { media_type, data } => {
                    json!({"inlineData": {"mimeType": media_type, "data": data}})
                }
                ImageSource::Url(url) => {
                    json!({"fileData": {"mimeType": mime_from_url(url), "fileUri": url}})
                }
            }),
        })
        .collect()
}

/// Gemini wants a MIME type with every file reference; the extension is all we know.
fn mime_from_url(url: &str) -> &'static str {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    if path.ends_with(".png") {
        "image/png"
    } else if path.ends_with(".webp") {
        "image/webp"
    } else if path.ends_with(".gif") {
        "image/gif"
    } else if path.ends_with(".heic") {
        "image/heic"
    } else {
        "image/jpeg"
    }
}

/// `functionResponse.response` must be an object; plain text is wrapped.
fn function_response(text: String) -> Value {
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Value::Object(map),
        _ => json!({"content": text}),
    }
}

fn build_request(req: &ChatRequest) -> GenerateContentRequest {
    let mut system_parts = Vec::new();
    let mut contents: Vec<GeminiContent> = Vec::new();
    // Gemini names the function in a response; OpenAI only gives the call id.
    let mut call_names: HashMap<&str, &str> = HashMap::new();
    for message in &req.messages {
        let (role, parts) = match message.role {
            Role::System | Role::Developer => {
                system_parts.extend(parts_of(message.content.as_ref()));
                continue;
            }
            Role::User => ("user", parts_of(message.content.as_ref())),
            Role::Assistant => {
                let mut parts = parts_of(message.content.as_ref());
                for call in message.tool_calls.iter().flatten() {
                    call_names.insert(&call.id, &call.function.name);
                    parts.push(json!({"functionCall": {
                        "name": call.function.name,
                        "args": call.function.arguments_json(),
                    }}));
                }
                ("model", parts)
            }
            Role::Tool => {
                let id = message.tool_call_id.as_deref().unwrap_or_default();
                let name = call_names.get(id).copied().unwrap_or(id);
                let part = json!({"functionResponse": {
                    "name": name,
                    "response": function_response(message.text()),
                }});
                ("user", vec![part])
            }
        };
        if parts.is_empty() {
            continue;
        }
        // Parallel function responses must share one turn, and Gemini expects turns to alternate.
        match contents.last_mut() {
            Some(last) if last.role == Some(role) => last.parts.extend(parts),
            _ => contents.push(GeminiContent {
                role: Some(role),
                parts,
            }),
        }
    }

    let declarations: Vec<Value> = req
        .tools
        .iter()
        .flatten()
        .map(|tool| {
            let mut declaration = Map::new();
            declaration.insert("name".into(), json!(tool.function.name));
            if let Some(description) = &tool.function.description {
                declaration.insert("description".into(), json!(description));
            }
            // Gemini rejects an object schema without properties, so "no parameters" is left out.
            if let Some(parameters) = &tool.function.parameters {
                declaration.insert("parameters".into(), gemini_schema(parameters));
            }
            Value::Object(declaration)
        })
        .collect();
    let tools = if declarations.is_empty() {
        Vec::new()
    } else {
        vec![json!({"functionDeclarations": declarations})]
    };
    let tool_config = req.tool_choice.as_ref().map(|choice| {
        let config = match choice {
            ToolChoice::Mode(ToolChoiceMode::None) => json!({"mode": "NONE"}),
            ToolChoice::Mode(ToolChoiceMode::Auto) => json!({"mode": "AUTO"}),
            ToolChoice::Mode(ToolChoiceMode::Required) => json!({"mode": "ANY"}),
            ToolChoice::Function(named) => {
                json!({"mode": "ANY", "allowedFunctionNames": [named.function.name]})
            }
        };
        json!({"functionCallingConfig": config})
    });

    let (response_mime_type, response_schema) = match &req.response_format {
        Some(ResponseFormat::JsonObject) => (Some("application/json"), None),
        Some(ResponseFormat::JsonSchema { json_schema }) => (
            Some("application/json"),
            json_schema.schema.as_ref().map(gemini_schema),
        ),
        Some(ResponseFormat::Text) | None => (None, None),
    };

    GenerateContentRequest {
        contents,
        system_instruction: (!system_parts.is_empty()).then_some(GeminiContent {
            role: None,
            parts: system_parts,
        }),
        tools,
        tool_config,
        generation_config: GenerationConfig {
            temperature: req.temperature,
            top_p: req.top_p,
            max_output_tokens: req.output_limit(),
            stop_sequences: req.stop_sequences(),
            response_mime_type,
            response_schema,
        },
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateContentResponse {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    response_id: Option<String>,
    #[serde(default)]
    prompt_feedback: Option<PromptFeedback>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    content: Option<CandidateContent>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct CandidateContent {
    #[serde(default)]
    parts: Vec<ResponsePart>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResponsePart {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    function_call: Option<GeminiFunctionCall>,
    /// Thought summaries are not part of the answer.
    #[serde(default)]
    thought: bool,
}

#[derive(Deserialize)]
struct GeminiFunctionCall {
    name: String,
    #[serde(default)]
    args: Option<Value>,
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
    #[serde(default)]
    thoughts_token_count: u64,
}

impl UsageMetadata {
    /// Thinking tokens are billed as output.
    fn to_openai(self) -> Usage {
        Usage::new(
            self.prompt_token_count,
            self.candidates_token_count + self.thoughts_token_count,
        )
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(default)]
    block_reason: Option<String>,
}

fn finish_reason(reason: &str, called_tools: bool) -> FinishReason {
    match reason {
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            FinishReason::ContentFilter
        }
        _ if called_tools => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

fn new_id() -> String {
    format!("chatcmpl-{}", uuid::Uuid::new_v4().simple())
}

/// Gemini only sometimes names its calls; OpenAI needs an id to pair results with calls.
fn tool_call(call: GeminiFunctionCall, index: u32) -> ToolCall {
    ToolCall {
        id: call.id.unwrap_or_else(|| format!("call_{index}")),
        kind: ToolKind::Function,
        function: FunctionCall {
            name: call.name,
            arguments: call.args.unwrap_or_else(|| json!({})).to_string(),
        },
    }
}

fn into_response(ctx: &CallContext, resp: GenerateContentResponse) -> ChatResponse {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    let mut next_index = 0u32;
    let candidate = resp.candidates.into_iter().next();
    let reason = candidate.as_ref().and_then(|c| c.finish_reason.clone());
    for part in candidate
        .and_then(|c| c.content)
        .map(|c| c.parts)
        .unwrap_or_default()
    {
        if part.thought {
            continue;
        }
        if let Some(t) = part.text {
            text.push_str(&t);
        }
        if let Some(call) = part.function_call {
            tool_calls.push(tool_call(call, next_index));
            next_index += 1;
        }
    }
    let blocked = resp.prompt_feedback.and_then(|f| f.block_reason).is_some();
    let finish = match reason {
        Some(reason) => finish_reason(&reason, !tool_calls.is_empty()),
        None if blocked => FinishReason::ContentFilter,
        None => FinishReason::Stop,
    };
    ChatResponse::single(
        resp.response_id.unwrap_or_else(new_id),
        ctx.model.clone(),
        ResponseMessage::assistant((!text.is_empty()).then_some(text), tool_calls),
        finish,
        resp.usage_metadata.map(UsageMetadata::to_openai),
    )
}

/// Each event is a whole `GenerateContentResponse` holding the next piece of the answer; usage
/// is cumulative, so only the last one counts.
struct GeminiStream {
    id: Option<String>,
    model: String,
    next_tool_index: u32,
    usage: Option<UsageMetadata>,
    finished: bool,
}

impl StreamTranslator for GeminiStream {
    type Item = ChatChunk;

    fn on_event(&mut self, event: &str, data: &str) -> Result<Vec<ChatChunk>, ProviderError> {
        let value: Value = http::parse_event(PROVIDER, event, data)?;
        if let Some(message) = nested_error_message(&value) {
            let status = value
                .pointer("/error/code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(500);
            return Err(ProviderError::Upstream {
                provider: PROVIDER,
                status,
                message,
                retry_after: None,
            });
        }
        let resp: GenerateContentResponse = serde_json::from_value(value)
            .map_err(|e| ProviderError::bad_response(PROVIDER, format!("stream event: {e}")))?;
        let mut chunks = Vec::new();
        let id = match &self.id {
            Some(id) => id.clone(),
            None => {
                let id = resp.response_id.clone().unwrap_or_else(new_id);
                self.id = Some(id.clone());
                chunks.push(ChatChunk::delta(&id, &self.model, Delta::role(), None));
                id
            }
        };
        if resp.usage_metadata.is_some() {
            self.usage = resp.usage_metadata;
        }
        let blocked = resp.prompt_feedback.and_then(|f| f.block_reason).is_some();
        let candidate = resp.candidates.into_iter().next();
        let reason = candidate.as_ref().and_then(|c| c.finish_reason.clone());
        for part in candidate
            .and_then(|c| c.content)
            .map(|c| c.parts)
            .unwrap_or_default()
        {
            if part.thought {
                continue;
            }
            if let Some(text) = part.text.filter(|t| !t.is_empty()) {
                chunks.push(ChatChunk::delta(&id, &self.model, Delta::text(text), None));
            }
            if let Some(call) = part.function_call {
                // Gemini sends each call whole, so one delta carries id, name and arguments.
                let call = tool_call(call, self.next_tool_index);
                let delta = ToolCallDelta::start(
                    self.next_tool_index,
                    call.id,
                    call.function.name,
                    call.function.arguments,
                );
                self.next_tool_index += 1;
                chunks.push(ChatChunk::delta(
                    &id,
                    &self.model,
                    Delta::tool_call(delta),
                    None,
                ));
            }
        }
        let finish = match reason {
            Some(reason) => Some(finish_reason(&reason, self.next_tool_index > 0)),
            None if blocked => Some(FinishReason::ContentFilter),
            None => None,
        };
        if let Some(finish) = finish {
            self.finished = true;
            chunks.push(ChatChunk::delta(
                &id,
                &self.model,
                Delta::default(),
                Some(finish),
            ));
        }
        Ok(chunks)
    }

    fn finish(&mut self) -> Result<Vec<ChatChunk>, ProviderError> {
        if !self.finished {
            return Err(ProviderError::bad_response(
                PROVIDER,
                "the stream ended without a finishReason",
            ));
        }
        let id = self.id.clone().unwrap_or_default();
        Ok(self
            .usage
            .map(|u| vec![ChatChunk::usage_only(&id, &self.model, Some(u.to_openai()))])
            .unwrap_or_default())
    }
}

/// Google answers `{"error": {...}}`, and from some front ends a one-element array of that.
fn parse_error(json: &Value) -> Option<String> {
    match json {
        Value::Array(items) => items.first().and_then(nested_error_message),
        other => nested_error_message(other),
    }
}

/// Google answers a wrong API key with 400 INVALID_ARGUMENT; it is the account's credential, not
/// the app's request, so it is reported as the 401 it means (the gateway then answers 502).
async fn call(
    ctx: &CallContext,
    target: reqwest::RequestBuilder,
) -> Result<reqwest::Response, ProviderError> {
    http::send(PROVIDER, ctx, target, parse_error)
        .await
        .map_err(|err| match err {
            ProviderError::Upstream {
                status: 400,
                message,
                retry_after,
                ..
            } if message.starts_with("API key not valid") => ProviderError::Upstream {
                provider: PROVIDER,
                status: 401,
                message,
                retry_after,
            },
            other => other,
        })
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
        .header("x-goog-api-key", key))
}

/// `models/gemini-2.5-pro` and `gemini-2.5-pro` name the same model.
fn model_path(ctx: &CallContext, action: &str) -> String {
    format!("/v1beta/{}:{action}", model_name(ctx))
}

/// The model as Gemini names it in paths and bodies: `models/{model}`.
fn model_name(ctx: &CallContext) -> String {
    format!("models/{}", ctx.model.trim_start_matches("models/"))
}

/// `batchEmbedContents`: Gemini reports no token counts for embeddings.
fn embed_body(ctx: &CallContext, req: &EmbeddingsRequest) -> Value {
    let model = model_name(ctx);
    let requests: Vec<Value> = req
        .texts()
        .into_iter()
        .map(|text| {
            let mut one = json!({"model": model, "content": {"parts": [{"text": text}]}});
            if let Some(dimensions) = req.dimensions {
                one["outputDimensionality"] = json!(dimensions);
            }
            one
        })
        .collect();
    json!({ "requests": requests })
}

#[derive(Deserialize)]
struct BatchEmbedResponse {
    embeddings: Vec<GeminiEmbedding>,
}

#[derive(Deserialize)]
struct GeminiEmbedding {
    values: Vec<f32>,
}

#[async_trait::async_trait]
impl ProviderAdapter for Google {
    fn kind(&self) -> ProviderKind {
        PROVIDER
    }

    fn request_body(
        &self,
        _ctx: &CallContext,
        req: &ChatRequest,
        _stream: bool,
    ) -> Result<Vec<u8>, ProviderError> {
        // Streaming is chosen by the endpoint, not the body.
        http::encode_body(PROVIDER, &build_request(req))
    }

    async fn send(
        &self,
        ctx: &CallContext,
        req: &ChatRequest,
    ) -> Result<ChatResponse, ProviderError> {
        let target = request(
            ctx,
            reqwest::Method::POST,
            &model_path(ctx, "generateContent"),
        )?;
        let target = http::with_json(target, self.request_body(ctx, req, false)?);
        let response = call(ctx, target).await?;
        let parsed: GenerateContentResponse = http::read_json(PROVIDER, ctx, response).await?;
        Ok(into_response(ctx, parsed))
    }

    async fn stream(
        &self,
        ctx: &CallContext,
        req: &ChatRequest,
    ) -> Result<ChunkStream, ProviderError> {
        let target = request(
            ctx,
            reqwest::Method::POST,
            &model_path(ctx, "streamGenerateContent"),
        )?
        .query(&[("alt", "sse")]);
        let target = http::with_json(target, self.request_body(ctx, req, true)?);
        let response = call(ctx, target).await?;
        let translator = GeminiStream {
            id: None,
            model: ctx.model.clone(),
            next_tool_index: 0,
            usage: None,
            finished: false,
        };
        Ok(http::translate_sse(PROVIDER, ctx, response, translator))
    }

    async fn test_connection(&self, ctx: &CallContext) -> Result<(), ProviderError> {
        let target = request(ctx, reqwest::Method::GET, "/v1beta/models")?;
        call(ctx, target).await.map(drop)
    }

    async fn embed(
        &self,
        ctx: &CallContext,
        req: &EmbeddingsRequest,
    ) -> Result<Embeddings, ProviderError> {
        let target = request(
            ctx,
            reqwest::Method::POST,
            &model_path(ctx, "batchEmbedContents"),
        )?;
        let body = http::encode_body(PROVIDER, &embed_body(ctx, req))?;
        let response = call(ctx, http::with_json(target, body)).await?;
        let parsed: BatchEmbedResponse = http::read_json(PROVIDER, ctx, response).await?;
        Ok(Embeddings {
            vectors: parsed.embeddings.into_iter().map(|e| e.values).collect(),
            prompt_tokens: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{finish_reason, into_response, GenerateContentResponse};
    use crate::domain::ProviderKind;
    use crate::providers::conformance::{
        image_request, json_schema_request, send, start, stream, text_request, tool_request, MODEL,
        PNG_BASE64,
    };
    use crate::providers::mock::{MockReply, MOCK_API_KEY};
    use crate::providers::types::{FinishReason, Stop, ToolChoice, ToolChoiceMode};

    const KIND: ProviderKind = ProviderKind::Google;

    #[tokio::test]
    async fn builds_contents_system_instruction_and_generation_config() {
        let mut req = text_request();
        req.temperature = Some(0.3);
        req.max_tokens = Some(50);
        req.stop = Some(Stop::Many(vec!["END".into(), "STOP".into()]));
        let (result, recorded) = send(KIND, MockReply::text("ok"), &req).await;
        result.unwrap();
        assert_eq!(
            recorded.path,
            format!("/v1beta/models/{MODEL}:generateContent")
        );
        assert_eq!(recorded.header("x-goog-api-key"), Some(MOCK_API_KEY));
        let body = &recorded.body;
        assert_eq!(
            body["systemInstruction"],
            json!({"parts": [{"text": "Be brief."}]})
        );
        assert_eq!(
            body["contents"],
            json!([{"role": "user", "parts": [{"text": "Say hello."}]}])
        );
        assert_eq!(
            body["generationConfig"],
            json!({"temperature": 0.3, "maxOutputTokens": 50, "stopSequences": ["END", "STOP"]})
        );
    }

    #[tokio::test]
    async fn maps_tools_calls_and_responses() {
        let mut req = tool_request();
        req.tool_choice = Some(ToolChoice::Mode(ToolChoiceMode::Required));
        let (_, recorded) = send(KIND, MockReply::text("Sunny"), &req).await;
        let contents = &recorded.body["contents"];
        assert_eq!(
            contents[1],
            json!({"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}}]})
        );
        // The response is named after the call it answers, and shares the turn with the question.
        assert_eq!(
            contents[2],
            json!({"role": "user", "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temp_c": 3}}},
                {"text": "And Paris?"}
            ]})
        );
        let declaration = &recorded.body["tools"][0]["functionDeclarations"][0];
        assert_eq!(declaration["name"], "get_weather");
        assert!(declaration["parameters"]
            .get("additionalProperties")
            .is_none());
        assert_eq!(
            recorded.body["toolConfig"],
            json!({"functionCallingConfig": {"mode": "ANY"}})
        );
    }

    #[tokio::test]
    async fn sends_inline_and_file_images() {
        let (_, recorded) = send(KIND, MockReply::text("ok"), &image_request()).await;
        let parts = &recorded.body["contents"][0]["parts"];
        assert_eq!(
            parts[1],
            json!({"inlineData": {"mimeType": "image/png", "data": PNG_BASE64}})
        );
        assert_eq!(
            parts[2],
            json!({"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/cat.png"}})
        );
    }

    #[tokio::test]
    async fn json_schema_becomes_response_schema_and_streams_use_sse() {
        let (_, recorded) = stream(KIND, MockReply::text("{}"), &json_schema_request()).await;
        assert_eq!(
            recorded.path,
            format!("/v1beta/models/{MODEL}:streamGenerateContent")
        );
        assert_eq!(recorded.query_param("alt"), Some("sse"));
        let config = &recorded.body["generationConfig"];
        assert_eq!(config["responseMimeType"], "application/json");
        assert_eq!(
            config["responseSchema"],
            json!({"type": "object", "properties": {"greeting": {"type": "string"}}, "required": ["greeting"]})
        );
    }

    #[tokio::test]
    async fn an_invalid_key_is_the_accounts_problem_not_the_apps() {
        let (_mock, mut ctx) = start(KIND, vec![]).await;
        ctx.api_key = crate::providers::Secret::new("AIza-wrong");
        let err = crate::providers::adapter_for(KIND)
            .send(&ctx, &text_request())
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            crate::providers::ProviderError::Upstream { status: 401, .. }
        ));
        assert_eq!(err.gateway_status(), 502);
    }

    #[tokio::test]
    async fn safety_stops_and_blocked_prompts_are_content_filtered() {
        assert_eq!(finish_reason("SAFETY", false), FinishReason::ContentFilter);
        assert_eq!(finish_reason("MAX_TOKENS", true), FinishReason::Length);
        let (_mock, ctx) = start(KIND, vec![]).await;
        let blocked: GenerateContentResponse = serde_json::from_value(json!({
            "promptFeedback": {"blockReason": "SAFETY"},
            "usageMetadata": {"promptTokenCount": 4, "totalTokenCount": 4}
        }))
        .unwrap();
        let resp = into_response(&ctx, blocked);
        assert_eq!(
            resp.choices[0].finish_reason,
            Some(FinishReason::ContentFilter)
        );
        assert_eq!(resp.choices[0].message.content, None);
        assert_eq!(resp.usage.unwrap().prompt_tokens, 4);
    }
}
