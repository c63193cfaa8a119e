//! OpenAI's Chat Completions wire format, and its Azure and Mistral variants.

use serde_json::{json, Map, Value};

use super::{
    bearer, body_object, embedding_inputs, halves, pieces, refuse_unknown_fields, reject, Answer,
    Call, RecordedRequest, Rejection, SseEvent, Wire, MOCK_API_KEY, MOCK_COMPLETION_TOKENS,
    MOCK_PROMPT_TOKENS,
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Operation {
    ListModels,
    Chat,
    Embeddings,
}

/// The fields Mistral's embeddings endpoint accepts.
const MISTRAL_EMBEDDING_FIELDS: [&str; 4] = ["model", "input", "output_dimension", "output_dtype"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    OpenAi,
    Azure,
    Mistral,
}

pub(super) struct OpenAiWire(Flavor);

pub(super) const OPENAI: OpenAiWire = OpenAiWire(Flavor::OpenAi);
pub(super) const AZURE: OpenAiWire = OpenAiWire(Flavor::Azure);
pub(super) const MISTRAL: OpenAiWire = OpenAiWire(Flavor::Mistral);

/// The top-level fields Mistral's chat endpoint accepts; it refuses any other with 422.
const MISTRAL_FIELDS: [&str; 17] = [
    "model",
    "messages",
    "temperature",
    "top_p",
    "max_tokens",
    "stream",
    "stop",
    "random_seed",
    "response_format",
    "tools",
    "tool_choice",
    "presence_penalty",
    "frequency_penalty",
    "n",
    "prediction",
    "parallel_tool_calls",
    "safe_prompt",
];

const ROLES: [&str; 5] = ["system", "developer", "user", "assistant", "tool"];

fn usage() -> Value {
    json!({
        "prompt_tokens": MOCK_PROMPT_TOKENS,
        "completion_tokens": MOCK_COMPLETION_TOKENS,
        "total_tokens": MOCK_PROMPT_TOKENS + MOCK_COMPLETION_TOKENS,
    })
}

/// Valid for every flavour, Mistral's nine-character rule included.
const MOCK_TOOL_CALL_ID: &str = "callmock1";

fn tool_call(name: &str, arguments: &Value) -> Value {
    json!({"id": MOCK_TOOL_CALL_ID, "type": "function", "function": {"name": name, "arguments": arguments.to_string()}})
}

/// Mistral's rule for tool call ids: nine ASCII letters or digits.
fn check_mistral_tool_ids(message: &Value) -> Result<(), Rejection> {
    let calls = message.get("tool_calls").and_then(Value::as_array);
    let ids = calls
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("id"))
        .chain(message.get("tool_call_id"))
        .filter_map(Value::as_str);
    for id in ids {
        if id.len() != 9 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(reject(
                400,
                format!("Tool call id was {id} but must be a-z, A-Z, 0-9, with a length of 9."),
            ));
        }
    }
    Ok(())
}

impl OpenAiWire {
    /// Auth and path: the operation and, for Azure, the deployment it addresses (the others
    /// name the model in the body).
    fn check_target(
        &self,
        req: &RecordedRequest,
    ) -> Result<(Operation, Option<String>), Rejection> {
        match self.0 {
            Flavor::OpenAi | Flavor::Mistral => {
                if bearer(req) != Some(MOCK_API_KEY) {
                    return Err(reject(401, "Incorrect API key provided."));
                }
                match (req.method.as_str(), req.path.as_str()) {
                    ("GET", "/v1/models") => Ok((Operation::ListModels, None)),
                    ("POST", "/v1/chat/completions") => Ok((Operation::Chat, None)),
                    ("POST", "/v1/embeddings") => Ok((Operation::Embeddings, None)),
                    _ => Err(reject(
                        404,
                        format!("Invalid URL ({} {})", req.method, req.path),
                    )),
                }
            }
            Flavor::Azure => {
                if req.query_param("api-version").is_none() {
                    return Err(reject(404, "Resource not found"));
                }
                if req.header("api-key") != Some(MOCK_API_KEY) {
                    return Err(reject(
                        401,
                        "Access denied due to invalid subscription key or wrong API endpoint.",
                    ));
                }
                if req.method == "GET" && req.path == "/openai/models" {
                    return Ok((Operation::ListModels, None));
                }
                let target = req
                    .path
                    .strip_prefix("/openai/deployments/")
                    .and_then(|rest| rest.split_once('/'))
                    .filter(|(d, _)| !d.is_empty())
                    .filter(|_| req.method == "POST");
                match target {
                    Some((d, "chat/completions")) => Ok((Operation::Chat, Some(d.to_string()))),
                    Some((d, "embeddings")) => Ok((Operation::Embeddings, Some(d.to_string()))),
                    _ => Err(reject(404, "Resource not found")),
                }
            }
        }
    }

    fn check_embeddings(
        &self,
        body: &Map<String, Value>,
        model: String,
    ) -> Result<Call, Rejection> {
        if self.0 == Flavor::Mistral {
            refuse_unknown_fields(body, &MISTRAL_EMBEDDING_FIELDS, 422)?;
        }
        if model.is_empty() {
            return Err(reject(400, "you must provide a model parameter"));
        }
        let dimensions_field = if self.0 == Flavor::Mistral {
            "output_dimension"
        } else {
            "dimensions"
        };
        let (inputs, dimensions) = embedding_inputs(body, dimensions_field)?;
        Ok(Call::Embed {
            model,
            inputs,
            dimensions,
        })
    }

    fn check_body(&self, body: &Map<String, Value>) -> Result<(), Rejection> {
        if self.0 == Flavor::Mistral {
            refuse_unknown_fields(body, &MISTRAL_FIELDS, 422)?;
        }
        if self.0 != Flavor::Azure && !body.get("model").is_some_and(Value::is_string) {
            return Err(reject(400, "you must provide a model parameter"));
        }
        let messages = body
            .get("messages")
            .and_then(Value::as_array)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| reject(400, "'messages' must contain at least one message"))?;
        for message in messages {
            let role = message
                .get("role")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !ROLES.contains(&role) {
                return Err(reject(400, format!("Invalid value for 'role': '{role}'")));
            }
            if self.0 == Flavor::Mistral {
                check_mistral_tool_ids(message)?;
            }
        }
        Ok(())
    }
}

impl Wire for OpenAiWire {
    fn check(&self, req: &RecordedRequest) -> Result<Call, Rejection> {
        let (operation, deployment) = self.check_target(req)?;
        if operation == Operation::ListModels {
            return Ok(Call::ListModels);
        }
        let body = body_object(req)?;
        let model = deployment.unwrap_or_else(|| {
            body.get("model")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        });
        if operation == Operation::Embeddings {
            return self.check_embeddings(body, model);
        }
        self.check_body(body)?;
        let stream = body.get("stream") == Some(&Value::Bool(true));
        Ok(Call::Chat { model, stream })
    }

    fn embeddings(&self, vectors: Vec<Vec<f32>>, model: &str) -> Value {
        let data: Vec<Value> = vectors
            .into_iter()
            .enumerate()
            .map(|(index, embedding)| json!({"object": "embedding", "index": index, "embedding": embedding}))
            .collect();
        json!({
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": MOCK_PROMPT_TOKENS, "total_tokens": MOCK_PROMPT_TOKENS},
        })
    }

    fn models(&self) -> Value {
        json!({"object": "list", "data": [{"id": "mock-model", "object": "model", "owned_by": "mock"}]})
    }

    fn response(&self, answer: &Answer<'_>, model: &str) -> Value {
        let (message, finish) = match answer {
            Answer::Text(text) => (json!({"role": "assistant", "content": text}), "stop"),
            Answer::ToolCall { name, arguments } => (
                json!({"role": "assistant", "content": null, "tool_calls": [tool_call(name, arguments)]}),
                "tool_calls",
            ),
        };
        json!({
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": null}],
            "usage": usage(),
        })
    }

    fn events(
        &self,
        answer: &Answer<'_>,
        model: &str,
        req: &RecordedRequest,
        complete: bool,
    ) -> Vec<SseEvent> {
        let chunk = |delta: Value, finish: Value| {
            SseEvent::data(json!({
                "id": "chatcmpl-mock",
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }))
        };
        let mut events = vec![chunk(
            json!({"role": "assistant", "content": ""}),
            Value::Null,
        )];
        let finish = match answer {
            Answer::Text(text) => {
                events.extend(
                    pieces(text)
                        .into_iter()
                        .map(|p| chunk(json!({"content": p}), Value::Null)),
                );
                "stop"
            }
            Answer::ToolCall { name, arguments } => {
                let [first, second] = halves(&arguments.to_string());
                events.push(chunk(
                    json!({"tool_calls": [{"index": 0, "id": MOCK_TOOL_CALL_ID, "type": "function",
                        "function": {"name": name, "arguments": first}}]}),
                    Value::Null,
                ));
                events.push(chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": second}}]}),
                    Value::Null,
                ));
                "tool_calls"
            }
        };
        if !complete {
            return events;
        }
        if self.0 == Flavor::Mistral {
            // Mistral always reports usage, on the final chunk.
            let mut last = chunk(json!({}), json!(finish));
            if let Ok(mut value) = serde_json::from_str::<Value>(&last.data) {
                value["usage"] = usage();
                last = SseEvent::data(value);
            }
            events.push(last);
        } else {
            events.push(chunk(json!({}), json!(finish)));
            if req.body.pointer("/stream_options/include_usage") == Some(&Value::Bool(true)) {
                events.push(SseEvent::data(json!({
                    "id": "chatcmpl-mock",
                    "object": "chat.completion.chunk",
                    "created": 1_700_000_000,
                    "model": model,
                    "choices": [],
                    "usage": usage(),
                })));
            }
        }
        events.push(SseEvent::data("[DONE]"));
        events
    }

    fn error(&self, status: u16, message: &str) -> Value {
        match (self.0, status) {
            (Flavor::Mistral, 422) => json!({"detail": [{
                "type": "extra_forbidden",
                "loc": ["body"],
                "msg": message,
            }]}),
            (Flavor::Mistral, _) => json!({
                "object": "error",
                "message": message,
                "type": "invalid_request_error",
                "param": null,
                "code": null,
            }),
            (Flavor::Azure, _) => {
                json!({"error": {"code": status.to_string(), "message": message}})
            }
            (Flavor::OpenAi, _) => json!({"error": {
                "message": message,
                "type": if status == 429 { "rate_limit_exceeded" } else { "invalid_request_error" },
                "param": null,
                "code": null,
            }}),
        }
    }
}
