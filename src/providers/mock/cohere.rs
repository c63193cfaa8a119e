//! Cohere's v2 Chat wire format.

use serde_json::{json, Value};

use super::{
    bearer, body_object, halves, pieces, reject, Answer, Call, RecordedRequest, Rejection,
    SseEvent, Wire, MOCK_API_KEY, MOCK_COMPLETION_TOKENS, MOCK_PROMPT_TOKENS,
};

pub(super) struct CohereWire;

const ROLES: [&str; 4] = ["system", "user", "assistant", "tool"];

/// Cohere's own prompt template makes raw counts larger than billed ones.
const TEMPLATE_TOKENS: u64 = 60;

fn usage() -> Value {
    json!({
        "billed_units": {"input_tokens": MOCK_PROMPT_TOKENS, "output_tokens": MOCK_COMPLETION_TOKENS},
        "tokens": {"input_tokens": MOCK_PROMPT_TOKENS + TEMPLATE_TOKENS, "output_tokens": MOCK_COMPLETION_TOKENS},
    })
}

fn check_messages(messages: &[Value]) -> Result<(), Rejection> {
    if messages.is_empty() {
        return Err(reject(400, "invalid request: messages cannot be empty"));
    }
    for message in messages {
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !ROLES.contains(&role) {
            return Err(reject(
                400,
                format!("invalid request: unknown role '{role}'"),
            ));
        }
        if role == "tool" && !message.get("tool_call_id").is_some_and(Value::is_string) {
            return Err(reject(
                400,
                "invalid request: tool messages need a tool_call_id",
            ));
        }
    }
    Ok(())
}

/// v2 embed: `texts`, and `input_type` and `embedding_types`, which v3+ models require.
fn check_embed(req: &RecordedRequest) -> Result<Call, Rejection> {
    let body = body_object(req)?;
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .ok_or_else(|| reject(400, "invalid request: model must be specified"))?;
    let texts = body
        .get("texts")
        .and_then(Value::as_array)
        .filter(|t| !t.is_empty() && t.iter().all(Value::is_string))
        .ok_or_else(|| reject(400, "invalid request: texts must be a list of strings"))?;
    if !body.get("input_type").is_some_and(Value::is_string) {
        return Err(reject(
            400,
            "invalid request: input_type is required for embed models v3 and higher",
        ));
    }
    let float = json!("float");
    if !body
        .get("embedding_types")
        .and_then(Value::as_array)
        .is_some_and(|types| types.contains(&float))
    {
        return Err(reject(
            400,
            "invalid request: embedding_types must be specified",
        ));
    }
    Ok(Call::Embed {
        model: model.to_string(),
        inputs: texts.len(),
        dimensions: body
            .get("output_dimension")
            .and_then(Value::as_u64)
            .and_then(|d| usize::try_from(d).ok()),
    })
}

impl Wire for CohereWire {
    fn embeddings(&self, vectors: Vec<Vec<f32>>, _model: &str) -> Value {
        json!({
            "id": "embed-mock",
            "embeddings": {"float": vectors},
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": MOCK_PROMPT_TOKENS}},
            "response_type": "embeddings_by_type",
        })
    }

    fn check(&self, req: &RecordedRequest) -> Result<Call, Rejection> {
        if bearer(req) != Some(MOCK_API_KEY) {
            return Err(reject(401, "invalid api token"));
        }
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/v1/models") => return Ok(Call::ListModels),
            ("POST", "/v2/chat") => {}
            ("POST", "/v2/embed") => return check_embed(req),
            _ => return Err(reject(404, format!("route {} not found", req.path))),
        }
        let body = body_object(req)?;
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .ok_or_else(|| reject(400, "invalid request: model must be specified"))?;
        let messages = body
            .get("messages")
            .and_then(Value::as_array)
            .ok_or_else(|| reject(400, "invalid request: messages must be specified"))?;
        check_messages(messages)?;
        if body
            .get("p")
            .and_then(Value::as_f64)
            .is_some_and(|p| !(0.01..=0.99).contains(&p))
        {
            return Err(reject(
                400,
                "invalid request: p must be between 0.01 and 0.99",
            ));
        }
        Ok(Call::Chat {
            model: model.to_string(),
            stream: body.get("stream") == Some(&Value::Bool(true)),
        })
    }

    fn models(&self) -> Value {
        json!({"models": [{"name": "command-a-03-2025", "endpoints": ["chat"]}]})
    }

    fn response(&self, answer: &Answer<'_>, _model: &str) -> Value {
        let (message, finish) = match answer {
            Answer::Text(text) => (
                json!({"role": "assistant", "content": [{"type": "text", "text": text}]}),
                "COMPLETE",
            ),
            Answer::ToolCall { name, arguments } => (
                json!({"role": "assistant", "tool_plan": "I will call the tool.", "tool_calls": [
                    {"id": "call_mock1", "type": "function", "function": {"name": name, "arguments": arguments.to_string()}}
                ]}),
                "TOOL_CALL",
            ),
        };
        json!({"id": "mock-id", "finish_reason": finish, "message": message, "usage": usage()})
    }

    fn events(
        &self,
        answer: &Answer<'_>,
        _model: &str,
        _req: &RecordedRequest,
        complete: bool,
    ) -> Vec<SseEvent> {
        let mut events = vec![SseEvent::named(
            "message-start",
            json!({"type": "message-start", "id": "mock-id", "delta": {"message": {
                "role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}}),
        )];
        let finish = match answer {
            Answer::Text(text) => {
                events.push(SseEvent::named(
                    "content-start",
                    json!({"type": "content-start", "index": 0,
                        "delta": {"message": {"content": {"type": "text", "text": ""}}}}),
                ));
                events.extend(pieces(text).into_iter().map(|p| {
                    SseEvent::named(
                        "content-delta",
                        json!({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": p}}}}),
                    )
                }));
                if complete {
                    events.push(SseEvent::named(
                        "content-end",
                        json!({"type": "content-end", "index": 0}),
                    ));
                }
                "COMPLETE"
            }
            Answer::ToolCall { name, arguments } => {
                events.push(SseEvent::named(
                    "tool-plan-delta",
                    json!({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "I will call the tool."}}}),
                ));
                events.push(SseEvent::named(
                    "tool-call-start",
                    json!({"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls":
                        {"id": "call_mock1", "type": "function", "function": {"name": name, "arguments": ""}}}}}),
                ));
                events.extend(halves(&arguments.to_string()).into_iter().map(|part| {
                    SseEvent::named(
                        "tool-call-delta",
                        json!({"type": "tool-call-delta", "index": 0,
                            "delta": {"message": {"tool_calls": {"function": {"arguments": part}}}}}),
                    )
                }));
                if complete {
                    events.push(SseEvent::named(
                        "tool-call-end",
                        json!({"type": "tool-call-end", "index": 0}),
                    ));
                }
                "TOOL_CALL"
            }
        };
        if complete {
            events.push(SseEvent::named(
                "message-end",
                json!({"type": "message-end", "delta": {"finish_reason": finish, "usage": usage()}}),
            ));
        }
        events
    }

    fn error(&self, _status: u16, message: &str) -> Value {
        json!({"id": "mock-error", "message": message})
    }
}
