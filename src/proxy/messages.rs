//! Anthropic's Messages API for apps (`POST /v1/messages`, `/v1/messages/count_tokens`): the
//! body as the app sent it goes to Anthropic targets unchanged; for every other provider it is
//! translated into the canonical (OpenAI-shaped) chat types, and the answer back into a Messages
//! response or Anthropic's stream events. What the canonical types cannot carry (extended
//! thinking, documents, server tools, …) makes such a target unable to serve the request, which
//! the app learns as a 400 when no Anthropic target is left.

use super::error::ProxyError;
use super::request::{parse_json, require_model};
use crate::providers::types::{
    Content, ContentPart, FinishReason, FunctionDefinition, ImageUrl, Message, NamedToolChoice,
    Role, Stop, Tool, ToolCall, ToolChoice, ToolChoiceMode, ToolKind,
};
use crate::providers::{ChatChunk, ChatRequest, ChatResponse, Usage};
use crate::routing::{estimate_prompt_tokens, estimate_text_tokens};
use axum::http::HeaderMap;
use serde_json::{json, Map, Value};

/// A `/v1/messages` request in both forms.
#[derive(Clone, Debug)]
pub struct MessagesCall {
    /// The body as the app sent it; Anthropic targets receive it with only `model` replaced.
    pub body: Map<String, Value>,
    /// The same request in the canonical types, for the router and the other providers.
    pub chat: ChatRequest,
    /// Why the canonical types cannot carry the request, if they cannot.
    pub untranslatable: Option<String>,
    /// The app's `anthropic-beta` header, passed on to Anthropic.
    pub beta: Option<String>,
}

/// Top-level fields translated into the canonical request, or safe to leave behind (`metadata`
/// holds only Anthropic's `user_id`; `service_tier` is a billing choice).
const TRANSLATED_FIELDS: [&str; 12] = [
    "model",
    "messages",
    "max_tokens",
    "system",
    "stop_sequences",
    "temperature",
    "top_p",
    "stream",
    "tools",
    "tool_choice",
    "metadata",
    "service_tier",
];

/// Parses and checks a Messages body; `count_only` is the count_tokens endpoint, which takes no
/// `max_tokens`.
pub fn parse(
    body: &[u8],
    headers: &HeaderMap,
    count_only: bool,
) -> Result<MessagesCall, ProxyError> {
    let body: Map<String, Value> = parse_json(body)?;
    let model = match body.get("model") {
        Some(Value::String(model)) => model.clone(),
        _ => return Err(invalid("model: Field required (a string)")),
    };
    require_model(&model)?;
    let messages = match body.get("messages") {
        Some(Value::Array(messages)) if !messages.is_empty() => messages,
        _ => return Err(invalid("messages: at least one message is required")),
    };
    let max_tokens = match body.get("max_tokens") {
        Some(value) => Some(
            value
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid("max_tokens: must be a positive integer"))?,
        ),
        None if count_only => None,
        None => return Err(invalid("max_tokens: Field required")),
    };
    let mut untranslatable = body
        .keys()
        .find(|key| !TRANSLATED_FIELDS.contains(&key.as_str()))
        .map(|key| format!("`{key}`"));
    let mut lost = |what: String| {
        untranslatable.get_or_insert(what);
    };
    let mut chat_messages = Vec::new();
    if let Some(system) = body.get("system") {
        let text = system_text(system, &mut lost)?;
        chat_messages.push(Message::new(Role::System, text));
    }
    for (i, message) in messages.iter().enumerate() {
        translate_message(i, message, &mut chat_messages, &mut lost)?;
    }
    let tools = match body.get("tools") {
        None | Some(Value::Null) => None,
        Some(Value::Array(tools)) => Some(
            tools
                .iter()
                .enumerate()
                .map(|(i, tool)| translate_tool(i, tool, &mut lost))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => return Err(invalid("tools: must be a list")),
    };
    let mut extra = Map::new();
    let tool_choice = match body.get("tool_choice") {
        None | Some(Value::Null) => None,
        Some(choice) => {
            if choice.get("disable_parallel_tool_use") == Some(&Value::Bool(true)) {
                extra.insert("parallel_tool_calls".into(), Value::Bool(false));
            }
            Some(translate_tool_choice(choice)?)
        }
    };
    let number = |name: &str| -> Result<Option<f64>, ProxyError> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_f64()
                .map(Some)
                .ok_or_else(|| invalid(&format!("{name}: must be a number"))),
        }
    };
    let stop = match body.get("stop_sequences") {
        None | Some(Value::Null) => None,
        Some(value) => Some(Stop::Many(
            serde_json::from_value(value.clone())
                .map_err(|_| invalid("stop_sequences: must be a list of strings"))?,
        )),
    };
    let stream = match body.get("stream") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(stream)) => Some(*stream),
        Some(_) => return Err(invalid("stream: must be true or false")),
    };
    let chat = ChatRequest {
        model,
        messages: chat_messages,
        temperature: number("temperature")?,
        top_p: number("top_p")?,
        max_tokens,
        stop,
        stream,
        tools,
        tool_choice,
        extra,
        ..ChatRequest::default()
    };
    let beta = headers
        .get("anthropic-beta")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok(MessagesCall {
        body,
        chat,
        untranslatable,
        beta,
    })
}

fn invalid(message: &str) -> ProxyError {
    ProxyError::InvalidRequest(message.to_string())
}

fn block_type(block: &Value) -> &str {
    block
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn string_field<'a>(value: &'a Value, field: &str, at: &str) -> Result<&'a str, ProxyError> {
    value
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(&format!("{at}.{field}: Field required (a string)")))
}

/// The text of a `system` prompt: a string or a list of text blocks.
fn system_text(system: &Value, lost: &mut impl FnMut(String)) -> Result<String, ProxyError> {
    match system {
        Value::String(text) => Ok(text.clone()),
        Value::Array(blocks) => {
            let mut texts = Vec::new();
            for (i, block) in blocks.iter().enumerate() {
                match block_type(block) {
                    "text" => texts.push(string_field(block, "text", &format!("system.{i}"))?),
                    other => lost(format!("`{other}` blocks in `system`")),
                }
            }
            Ok(texts.join("\n\n"))
        }
        _ => Err(invalid("system: must be a string or a list of text blocks")),
    }
}

/// An image block as the canonical data or https URL.
fn image_part(block: &Value, at: &str) -> Result<ContentPart, ProxyError> {
    let source = block
        .get("source")
        .ok_or_else(|| invalid(&format!("{at}.source: Field required")))?;
    let url = match block_type(source) {
        "base64" => format!(
            "data:{};base64,{}",
            string_field(source, "media_type", &format!("{at}.source"))?,
            string_field(source, "data", &format!("{at}.source"))?
        ),
        "url" => string_field(source, "url", &format!("{at}.source"))?.to_string(),
        other => {
            return Err(invalid(&format!(
                "{at}.source.type: `{other}` is not base64 or url"
            )))
        }
    };
    Ok(ContentPart::ImageUrl {
        image_url: ImageUrl { url, detail: None },
    })
}

/// One Messages turn as canonical messages: tool results become tool messages (placed first, as
/// OpenAI wants them right after the calls), other user blocks one user message; an assistant
/// turn keeps its text and tool calls. Thinking blocks of earlier turns are the model's own
/// notes and have no canonical form; they are left out rather than refused.
fn translate_message(
    i: usize,
    message: &Value,
    out: &mut Vec<Message>,
    lost: &mut impl FnMut(String),
) -> Result<(), ProxyError> {
    let at = format!("messages.{i}");
    let role = match message.get("role").and_then(Value::as_str) {
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        _ => {
            return Err(invalid(&format!(
                "{at}.role: must be 'user' or 'assistant'"
            )))
        }
    };
    let blocks = match message.get("content") {
        Some(Value::String(text)) => {
            out.push(Message::new(role, text.clone()));
            return Ok(());
        }
        Some(Value::Array(blocks)) => blocks,
        _ => {
            return Err(invalid(&format!(
                "{at}.content: must be a string or a list of content blocks"
            )))
        }
    };
    let mut parts = Vec::new();
    let mut tool_calls = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let at = format!("{at}.content.{j}");
        match (block_type(block), role) {
            ("text", _) => parts.push(ContentPart::Text {
                text: string_field(block, "text", &at)?.to_string(),
            }),
            ("image", Role::User) => parts.push(image_part(block, &at)?),
            ("tool_result", Role::User) => {
                let mut result = Message::new(Role::Tool, tool_result_text(block, &at, lost)?);
                result.tool_call_id = Some(string_field(block, "tool_use_id", &at)?.to_string());
                out.push(result);
            }
            ("tool_use", Role::Assistant) => tool_calls.push(ToolCall {
                id: string_field(block, "id", &at)?.to_string(),
                kind: ToolKind::Function,
                function: crate::providers::types::FunctionCall {
                    name: string_field(block, "name", &at)?.to_string(),
                    arguments: block
                        .get("input")
                        .cloned()
                        .unwrap_or_else(|| json!({}))
                        .to_string(),
                },
            }),
            ("thinking" | "redacted_thinking", Role::Assistant) => {}
            (other, _) => lost(format!("`{other}` content blocks")),
        }
    }
    if parts.is_empty() && tool_calls.is_empty() {
        return Ok(());
    }
    let only_text = parts.iter().all(|p| matches!(p, ContentPart::Text { .. }));
    let content = if parts.is_empty() {
        None
    } else if only_text {
        let texts: Vec<String> = parts
            .into_iter()
            .filter_map(|p| match p {
                ContentPart::Text { text } => Some(text),
                ContentPart::ImageUrl { .. } => None,
            })
            .collect();
        Some(Content::Text(texts.join("\n")))
    } else {
        Some(Content::Parts(parts))
    };
    out.push(Message {
        content,
        tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
        ..Message::new(role, "")
    });
    Ok(())
}

/// A tool result's text; an error result says so in words, as tool messages have no flag.
fn tool_result_text(
    block: &Value,
    at: &str,
    lost: &mut impl FnMut(String),
) -> Result<String, ProxyError> {
    let text = match block.get("content") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(blocks)) => {
            let mut texts = Vec::new();
            for (k, inner) in blocks.iter().enumerate() {
                match block_type(inner) {
                    "text" => {
                        texts.push(string_field(inner, "text", &format!("{at}.content.{k}"))?)
                    }
                    other => lost(format!("`{other}` blocks inside tool results")),
                }
            }
            texts.join("\n")
        }
        Some(_) => {
            return Err(invalid(&format!(
                "{at}.content: must be a string or a list"
            )))
        }
    };
    Ok(if block.get("is_error") == Some(&Value::Bool(true)) {
        format!("Error: {text}")
    } else {
        text
    })
}

fn translate_tool(
    i: usize,
    tool: &Value,
    lost: &mut impl FnMut(String),
) -> Result<Tool, ProxyError> {
    let at = format!("tools.{i}");
    // Server tools (web search, code execution, …) carry a versioned `type` and run at Anthropic.
    if let Some(kind) = tool.get("type").and_then(Value::as_str) {
        if kind != "custom" {
            lost(format!("the server tool `{kind}`"));
        }
    }
    Ok(Tool {
        kind: ToolKind::Function,
        function: FunctionDefinition {
            name: string_field(tool, "name", &at)?.to_string(),
            description: tool
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string),
            parameters: tool.get("input_schema").cloned(),
            strict: None,
        },
    })
}

fn translate_tool_choice(choice: &Value) -> Result<ToolChoice, ProxyError> {
    Ok(match block_type(choice) {
        "auto" => ToolChoice::Mode(ToolChoiceMode::Auto),
        "any" => ToolChoice::Mode(ToolChoiceMode::Required),
        "none" => ToolChoice::Mode(ToolChoiceMode::None),
        "tool" => ToolChoice::Function(NamedToolChoice {
            kind: ToolKind::Function,
            function: crate::providers::types::FunctionName {
                name: string_field(choice, "name", "tool_choice")?.to_string(),
            },
        }),
        other => {
            return Err(invalid(&format!(
                "tool_choice.type: `{other}` is not auto, any, tool or none"
            )))
        }
    })
}

fn stop_reason(reason: Option<FinishReason>) -> &'static str {
    match reason {
        Some(FinishReason::Length) => "max_tokens",
        Some(FinishReason::ToolCalls | FinishReason::FunctionCall) => "tool_use",
        Some(FinishReason::ContentFilter) => "refusal",
        Some(FinishReason::Stop | FinishReason::Other) | None => "end_turn",
    }
}

fn usage_json(usage: Option<&Usage>) -> Value {
    let (input, output) = usage.map_or((0, 0), |u| (u.prompt_tokens, u.completion_tokens));
    json!({"input_tokens": input, "output_tokens": output})
}

/// A canonical answer as a Messages response.
pub fn response(answer: ChatResponse) -> Value {
    let mut content = Vec::new();
    let mut finish = None;
    if let Some(choice) = answer.choices.into_iter().next() {
        finish = choice.finish_reason;
        if let Some(text) = choice.message.content.filter(|t| !t.is_empty()) {
            content.push(json!({"type": "text", "text": text}));
        }
        for call in choice.message.tool_calls.into_iter().flatten() {
            content.push(json!({"type": "tool_use", "id": call.id,
                "name": call.function.name, "input": call.function.arguments_json()}));
        }
    }
    json!({
        "id": answer.id,
        "type": "message",
        "role": "assistant",
        "model": answer.model,
        "content": content,
        "stop_reason": stop_reason(finish),
        "stop_sequence": null,
        "usage": usage_json(answer.usage.as_ref()),
    })
}

/// The open content block of a translated stream.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    /// A tool call, by its canonical `tool_calls` index.
    Tool(u32),
}

/// Canonical chunks as Anthropic's stream events: `message_start` and a `ping`, then each text
/// or tool call as a content block (start, deltas, stop), then `message_delta` with the stop
/// reason and usage, and `message_stop`.
#[derive(Default)]
pub struct EventWriter {
    /// The message id and model, from the first chunk.
    id: String,
    model: String,
    started: bool,
    open: Option<(u32, Block)>,
    next_index: u32,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
}

fn event(out: &mut String, name: &str, data: &Value) {
    out.push_str("event: ");
    out.push_str(name);
    out.push_str("\ndata: ");
    out.push_str(&data.to_string());
    out.push_str("\n\n");
}

impl EventWriter {
    fn start(&mut self, out: &mut String) {
        if self.started {
            return;
        }
        self.started = true;
        event(
            out,
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": self.id, "type": "message", "role": "assistant", "model": self.model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": usage_json(None)}}),
        );
        event(out, "ping", &json!({"type": "ping"}));
    }

    fn close(&mut self, out: &mut String) {
        if let Some((index, _)) = self.open.take() {
            event(
                out,
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            );
        }
    }

    fn open(&mut self, out: &mut String, kind: Block, block: Value) -> u32 {
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((index, kind));
        event(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        );
        index
    }

    fn delta(out: &mut String, index: u32, delta: Value) {
        event(
            out,
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index, "delta": delta}),
        );
    }

    /// The events for one chunk (possibly none).
    pub fn chunk(&mut self, chunk: ChatChunk) -> String {
        let mut out = String::new();
        if !self.started {
            self.id = chunk.id;
            self.model = chunk.model;
            self.start(&mut out);
        }
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
        }
        let Some(choice) = chunk.choices.into_iter().find(|c| c.index == 0) else {
            return out;
        };
        if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
            let index = match self.open {
                Some((index, Block::Text)) => index,
                _ => self.open(&mut out, Block::Text, json!({"type": "text", "text": ""})),
            };
            Self::delta(&mut out, index, json!({"type": "text_delta", "text": text}));
        }
        for call in choice.delta.tool_calls.into_iter().flatten() {
            let function = call.function.unwrap_or_default();
            let index = match (self.open, call.id) {
                (Some((index, Block::Tool(open))), None) if open == call.index => index,
                (_, id) => self.open(
                    &mut out,
                    Block::Tool(call.index),
                    json!({"type": "tool_use", "id": id.unwrap_or_default(),
                        "name": function.name.unwrap_or_default(), "input": {}}),
                ),
            };
            if let Some(arguments) = function.arguments.filter(|a| !a.is_empty()) {
                Self::delta(
                    &mut out,
                    index,
                    json!({"type": "input_json_delta", "partial_json": arguments}),
                );
            }
        }
        if choice.finish_reason.is_some() {
            self.finish = choice.finish_reason;
        }
        out
    }

    /// The closing events once the provider's stream ended well.
    pub fn end(&mut self) -> String {
        let mut out = String::new();
        self.start(&mut out);
        self.close(&mut out);
        event(
            &mut out,
            "message_delta",
            &json!({"type": "message_delta",
                "delta": {"stop_reason": stop_reason(self.finish), "stop_sequence": null},
                "usage": usage_json(self.usage.as_ref())}),
        );
        event(&mut out, "message_stop", &json!({"type": "message_stop"}));
        out
    }
}

/// The prompt estimate count_tokens answers when no Anthropic target can count exactly: the
/// router's estimate of the messages plus the tool definitions.
pub fn estimate_input_tokens(call: &MessagesCall) -> u64 {
    let texts: Vec<String> = call.chat.messages.iter().map(Message::text).collect();
    let messages = estimate_prompt_tokens(texts.iter().map(String::as_str));
    let tools = call
        .body
        .get("tools")
        .map_or(0, |tools| estimate_text_tokens(&tools.to_string()));
    u64::from(messages.saturating_add(tools))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::types::{Delta, ToolCallDelta};

    fn call(body: Value) -> MessagesCall {
        parse(body.to_string().as_bytes(), &HeaderMap::new(), false).unwrap()
    }

    #[test]
    fn a_conversation_with_tools_and_images_becomes_canonical() {
        let call = call(json!({
            "model": "primary-llm", "max_tokens": 100,
            "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "Weather here?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}]},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "hm", "signature": "s"},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "rain"}], "is_error": true},
                    {"type": "text", "text": "And tomorrow?"}]}
            ],
            "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
            "stop_sequences": ["END"], "temperature": 0.5, "stream": true,
            "metadata": {"user_id": "u1"}
        }));
        assert_eq!(call.untranslatable, None);
        let chat = &call.chat;
        let roles: Vec<Role> = chat.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            vec![
                Role::System,
                Role::User,
                Role::Assistant,
                Role::Tool,
                Role::User
            ]
        );
        assert_eq!(chat.messages[0].text(), "Be brief.");
        assert!(matches!(&chat.messages[1].content, Some(Content::Parts(p)) if p.len() == 2));
        let calls = chat.messages[2].tool_calls.as_ref().unwrap();
        assert_eq!(calls[0].function.arguments_json(), json!({"city": "Oslo"}));
        assert_eq!(chat.messages[3].tool_call_id.as_deref(), Some("toolu_1"));
        assert_eq!(chat.messages[3].text(), "Error: rain");
        assert_eq!(
            chat.tool_choice,
            Some(ToolChoice::Mode(ToolChoiceMode::Required))
        );
        assert_eq!(chat.extra["parallel_tool_calls"], false);
        assert_eq!(chat.max_tokens, Some(100));
        assert_eq!(chat.stream, Some(true));
        assert_eq!(chat.stop_sequences(), vec!["END"]);
    }

    #[test]
    fn what_only_anthropic_can_do_is_named() {
        let thinking = call(json!({"model": "m", "max_tokens": 5,
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "messages": [{"role": "user", "content": "hi"}]}));
        assert_eq!(thinking.untranslatable.as_deref(), Some("`thinking`"));
        let document = call(json!({"model": "m", "max_tokens": 5,
            "messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]}));
        assert_eq!(
            document.untranslatable.as_deref(),
            Some("`document` content blocks")
        );
        let server_tool = call(json!({"model": "m", "max_tokens": 5,
            "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            "messages": [{"role": "user", "content": "hi"}]}));
        assert_eq!(
            server_tool.untranslatable.as_deref(),
            Some("the server tool `web_search_20250305`")
        );
    }

    #[test]
    fn broken_bodies_are_refused() {
        for body in [
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
            json!({"model": "m", "max_tokens": 0, "messages": [{"role": "user", "content": "hi"}]}),
            json!({"model": "m", "max_tokens": 5, "messages": []}),
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "hi"}]}),
            json!({"model": "", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}),
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "text"}]}]}),
            json!({"model": "m", "max_tokens": 5, "tool_choice": {"type": "maybe"}, "messages": [{"role": "user", "content": "hi"}]}),
        ] {
            let err = parse(body.to_string().as_bytes(), &HeaderMap::new(), false).unwrap_err();
            assert_eq!(err.status().as_u16(), 400, "{body}");
        }
        let count = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        assert!(parse(count.to_string().as_bytes(), &HeaderMap::new(), true).is_ok());
    }

    #[test]
    fn chunks_become_anthropic_events() {
        let mut writer = EventWriter::default();
        let chunk = |delta, finish| ChatChunk::delta("id1", "gpt-4o", delta, finish);
        let mut out = writer.chunk(chunk(Delta::role(), None));
        out += &writer.chunk(chunk(Delta::text("Hel"), None));
        out += &writer.chunk(chunk(Delta::text("lo"), None));
        out += &writer.chunk(chunk(
            Delta::tool_call(ToolCallDelta::start(
                0,
                "call_1".into(),
                "f".into(),
                String::new(),
            )),
            None,
        ));
        out += &writer.chunk(chunk(
            Delta::tool_call(ToolCallDelta::arguments(0, "{\"a\":1}".into())),
            Some(FinishReason::ToolCalls),
        ));
        out += &writer.chunk(ChatChunk::usage_only(
            "id1",
            "gpt-4o",
            Some(Usage::new(9, 4)),
        ));
        out += &writer.end();
        let names: Vec<&str> = out
            .lines()
            .filter_map(|l| l.strip_prefix("event: "))
            .collect();
        assert_eq!(
            names,
            vec![
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        let data: Vec<Value> = out
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        assert_eq!(data[6]["content_block"]["id"], "call_1");
        assert_eq!(data[6]["index"], 1);
        assert_eq!(data[9]["delta"]["stop_reason"], "tool_use");
        assert_eq!(
            data[9]["usage"],
            json!({"input_tokens": 9, "output_tokens": 4})
        );
    }
}
