//! Anthropic's Messages API wire format.

use serde_json::{json, Value};

use crate::providers::anthropic_error_type as error_type;

use super::{
    body_object, halves, pieces, refuse_unknown_fields, reject, Answer, Call, RecordedRequest,
    Rejection, SseEvent, Wire, MOCK_API_KEY, MOCK_COMPLETION_TOKENS, MOCK_PROMPT_TOKENS,
};

pub(super) struct AnthropicWire;

const BLOCK_TYPES: [&str; 4] = ["text", "image", "tool_use", "tool_result"];

const COUNT_TOKENS_FIELDS: [&str; 6] = [
    "model",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "thinking",
];

fn check_messages(messages: &[Value]) -> Result<(), Rejection> {
    if messages.is_empty() {
        return Err(reject(400, "messages: at least one message is required"));
    }
    for (i, message) in messages.iter().enumerate() {
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if role != "user" && role != "assistant" {
            return Err(reject(
                400,
                format!("messages.{i}.role: Input should be 'user' or 'assistant'"),
            ));
        }
        let Some(content) = message.get("content") else {
            return Err(reject(400, format!("messages.{i}.content: Field required")));
        };
        if content.as_array().is_some_and(Vec::is_empty) || content.as_str() == Some("") {
            return Err(reject(
                400,
                format!("messages.{i}: all messages must have non-empty content"),
            ));
        }
        for block in content.as_array().into_iter().flatten() {
            let kind = block
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !BLOCK_TYPES.contains(&kind) {
                return Err(reject(
                    400,
                    format!("messages.{i}.content: unknown block type '{kind}'"),
                ));
            }
            if kind == "image" {
                let source = block.pointer("/source/type").and_then(Value::as_str);
                if source != Some("base64") && source != Some("url") {
                    return Err(reject(
                        400,
                        format!("messages.{i}.content: invalid image source"),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn usage(output_tokens: u64) -> Value {
    json!({"input_tokens": MOCK_PROMPT_TOKENS, "output_tokens": output_tokens})
}

impl Wire for AnthropicWire {
    fn check(&self, req: &RecordedRequest) -> Result<Call, Rejection> {
        if req.header("x-api-key") != Some(MOCK_API_KEY) {
            return Err(reject(401, "invalid x-api-key"));
        }
        if req.header("anthropic-version").is_none() {
            return Err(reject(400, "anthropic-version: header is required"));
        }
        let counting = match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/v1/models") => return Ok(Call::ListModels),
            ("POST", "/v1/messages") => false,
            ("POST", "/v1/messages/count_tokens") => true,
            _ => return Err(reject(404, "Not found")),
        };
        let body = body_object(req)?;
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .ok_or_else(|| reject(400, "model: Field required"))?;
        if counting {
            // count_tokens takes the prompt only.
            refuse_unknown_fields(body, &COUNT_TOKENS_FIELDS, 400)?;
            let messages = body
                .get("messages")
                .and_then(Value::as_array)
                .ok_or_else(|| reject(400, "messages: Field required"))?;
            check_messages(messages)?;
            return Ok(Call::CountTokens);
        }
        if !body.get("max_tokens").is_some_and(Value::is_u64) {
            return Err(reject(400, "max_tokens: Field required"));
        }
        let messages = body
            .get("messages")
            .and_then(Value::as_array)
            .ok_or_else(|| reject(400, "messages: Field required"))?;
        check_messages(messages)?;
        if let Some(system) = body.get("system") {
            if !system.is_string() && !system.is_array() {
                return Err(reject(400, "system: Input should be a valid string"));
            }
        }
        if body
            .get("temperature")
            .and_then(Value::as_f64)
            .is_some_and(|t| !(0.0..=1.0).contains(&t))
        {
            return Err(reject(400, "temperature: range: 0..1"));
        }
        // As the Claude 4.5 models do.
        if body.contains_key("temperature") && body.contains_key("top_p") {
            return Err(reject(
                400,
                "`temperature` and `top_p` cannot both be specified for this model. Please use only one.",
            ));
        }
        for tool in body
            .get("tools")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if tool.get("input_schema").is_none() {
                return Err(reject(400, "tools.0.custom.input_schema: Field required"));
            }
        }
        Ok(Call::Chat {
            model: model.to_string(),
            stream: body.get("stream") == Some(&Value::Bool(true)),
        })
    }

    fn models(&self) -> Value {
        json!({"data": [{"type": "model", "id": "claude-sonnet-4-5", "display_name": "Claude Sonnet 4.5"}],
            "has_more": false, "first_id": "claude-sonnet-4-5", "last_id": "claude-sonnet-4-5"})
    }

    fn response(&self, answer: &Answer<'_>, model: &str) -> Value {
        let (content, stop) = match answer {
            Answer::Text(text) => (json!([{"type": "text", "text": text}]), "end_turn"),
            Answer::ToolCall { name, arguments } => (
                json!([{"type": "tool_use", "id": "toolu_mock1", "name": name, "input": arguments}]),
                "tool_use",
            ),
        };
        json!({
            "id": "msg_mock",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": null,
            "usage": usage(MOCK_COMPLETION_TOKENS),
        })
    }

    fn events(
        &self,
        answer: &Answer<'_>,
        model: &str,
        _req: &RecordedRequest,
        complete: bool,
    ) -> Vec<SseEvent> {
        let mut events = vec![
            SseEvent::named(
                "message_start",
                json!({"type": "message_start", "message": {
                    "id": "msg_mock", "type": "message", "role": "assistant", "model": model,
                    "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage(1),
                }}),
            ),
            SseEvent::named("ping", json!({"type": "ping"})),
        ];
        let stop = match answer {
            Answer::Text(text) => {
                events.push(SseEvent::named(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
                ));
                events.extend(pieces(text).into_iter().map(|p| {
                    SseEvent::named(
                        "content_block_delta",
                        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}),
                    )
                }));
                "end_turn"
            }
            Answer::ToolCall { name, arguments } => {
                events.push(SseEvent::named(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": 0, "content_block":
                        {"type": "tool_use", "id": "toolu_mock1", "name": name, "input": {}}}),
                ));
                events.extend(halves(&arguments.to_string()).into_iter().map(|part| {
                    SseEvent::named(
                        "content_block_delta",
                        json!({"type": "content_block_delta", "index": 0,
                            "delta": {"type": "input_json_delta", "partial_json": part}}),
                    )
                }));
                "tool_use"
            }
        };
        if !complete {
            return events;
        }
        events.push(SseEvent::named(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ));
        events.push(SseEvent::named(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
                "usage": {"output_tokens": MOCK_COMPLETION_TOKENS}}),
        ));
        events.push(SseEvent::named(
            "message_stop",
            json!({"type": "message_stop"}),
        ));
        events
    }

    fn error(&self, status: u16, message: &str) -> Value {
        json!({"type": "error", "error": {"type": error_type(status), "message": message}})
    }
}
