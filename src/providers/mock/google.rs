//! Google's Gemini API (`generateContent`) wire format.

use serde_json::{json, Value};

use super::{
    body_object, pieces, reject, Answer, Call, RecordedRequest, Rejection, SseEvent, Wire,
    MOCK_API_KEY, MOCK_COMPLETION_TOKENS, MOCK_PROMPT_TOKENS,
};

pub(super) struct GoogleWire;

const PART_KINDS: [&str; 5] = [
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
];

fn check_contents(contents: &[Value]) -> Result<(), Rejection> {
    if contents.is_empty() {
        return Err(reject(
            400,
            "* GenerateContentRequest.contents: contents is not specified",
        ));
    }
    for (i, content) in contents.iter().enumerate() {
        let role = content
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if role != "user" && role != "model" {
            return Err(reject(
                400,
                format!("Please use a valid role: user, model. (contents[{i}].role = '{role}')"),
            ));
        }
        let parts = content
            .get("parts")
            .and_then(Value::as_array)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| reject(400, format!("* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.")))?;
        for part in parts {
            let kinds = part.as_object().map(|o| {
                o.keys()
                    .filter(|k| PART_KINDS.contains(&k.as_str()))
                    .count()
            });
            if kinds != Some(1) {
                return Err(reject(400, format!("* GenerateContentRequest.contents[{i}].parts: each part needs exactly one data field")));
            }
        }
    }
    Ok(())
}

fn usage() -> Value {
    json!({
        "promptTokenCount": MOCK_PROMPT_TOKENS,
        "candidatesTokenCount": MOCK_COMPLETION_TOKENS,
        "totalTokenCount": MOCK_PROMPT_TOKENS + MOCK_COMPLETION_TOKENS,
    })
}

fn candidate(parts: Value, finish: Option<&str>) -> Value {
    let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
    if let Some(finish) = finish {
        candidate["finishReason"] = json!(finish);
    }
    candidate
}

fn status_name(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

/// `batchEmbedContents`: each request names the same model and has text parts.
fn check_embeddings(req: &RecordedRequest, model: &str) -> Result<Call, Rejection> {
    let body = body_object(req)?;
    let requests = body
        .get("requests")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            reject(
                400,
                "* BatchEmbedContentsRequest.requests: requests is not specified",
            )
        })?;
    let expected = format!("models/{model}");
    let mut dimensions = None;
    for (i, one) in requests.iter().enumerate() {
        if one.get("model").and_then(Value::as_str) != Some(expected.as_str()) {
            return Err(reject(400, format!("* BatchEmbedContentsRequest.requests[{i}].model: Model names must match: {expected}")));
        }
        let has_text = one
            .pointer("/content/parts/0/text")
            .is_some_and(Value::is_string);
        if !has_text {
            return Err(reject(
                400,
                format!("* BatchEmbedContentsRequest.requests[{i}].content: must have a text part"),
            ));
        }
        dimensions = one
            .get("outputDimensionality")
            .and_then(Value::as_u64)
            .and_then(|d| usize::try_from(d).ok());
    }
    Ok(Call::Embed {
        model: model.to_string(),
        inputs: requests.len(),
        dimensions,
    })
}

impl Wire for GoogleWire {
    /// Gemini reports no token counts for embeddings.
    fn embeddings(&self, vectors: Vec<Vec<f32>>, _model: &str) -> Value {
        let embeddings: Vec<Value> = vectors
            .into_iter()
            .map(|values| json!({"values": values}))
            .collect();
        json!({ "embeddings": embeddings })
    }

    fn check(&self, req: &RecordedRequest) -> Result<Call, Rejection> {
        match req.header("x-goog-api-key") {
            None => return Err(reject(403, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.")),
            Some(key) if key != MOCK_API_KEY => {
                return Err(reject(400, "API key not valid. Please pass a valid API key."))
            }
            Some(_) => {}
        }
        if req.method == "GET" && req.path == "/v1beta/models" {
            return Ok(Call::ListModels);
        }
        let target = req
            .path
            .strip_prefix("/v1beta/models/")
            .and_then(|rest| rest.split_once(':'))
            .filter(|_| req.method == "POST");
        let (model, stream) = match target {
            Some((model, "batchEmbedContents")) => return check_embeddings(req, model),
            Some((model, "generateContent")) => (model, false),
            // Without alt=sse Gemini streams one JSON array, which is not what the adapter reads.
            Some((model, "streamGenerateContent")) if req.query_param("alt") == Some("sse") => {
                (model, true)
            }
            _ => return Err(reject(404, format!("{} is not found", req.path))),
        };
        let body = body_object(req)?;
        let contents = body
            .get("contents")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                reject(
                    400,
                    "* GenerateContentRequest.contents: contents is not specified",
                )
            })?;
        check_contents(contents)?;
        if let Some(system) = body.get("systemInstruction") {
            if !system.get("parts").is_some_and(Value::is_array) {
                return Err(reject(400, "systemInstruction.parts is required"));
            }
        }
        Ok(Call::Chat {
            model: model.to_string(),
            stream,
        })
    }

    fn models(&self) -> Value {
        json!({"models": [{"name": "models/gemini-2.5-flash", "displayName": "Gemini 2.5 Flash"}]})
    }

    fn response(&self, answer: &Answer<'_>, model: &str) -> Value {
        let parts = match answer {
            Answer::Text(text) => json!([{"text": text}]),
            Answer::ToolCall { name, arguments } => {
                json!([{"functionCall": {"name": name, "args": arguments}}])
            }
        };
        json!({
            "candidates": [candidate(parts, Some("STOP"))],
            "usageMetadata": usage(),
            "modelVersion": model,
            "responseId": "mock-response",
        })
    }

    fn events(
        &self,
        answer: &Answer<'_>,
        model: &str,
        _req: &RecordedRequest,
        complete: bool,
    ) -> Vec<SseEvent> {
        let event = |parts: Value, finish: Option<&str>| {
            SseEvent::data(json!({
                "candidates": [candidate(parts, finish)],
                "usageMetadata": {"promptTokenCount": MOCK_PROMPT_TOKENS, "totalTokenCount": MOCK_PROMPT_TOKENS},
                "modelVersion": model,
                "responseId": "mock-response",
            }))
        };
        let mut events: Vec<SseEvent> = match answer {
            Answer::Text(text) => pieces(text)
                .into_iter()
                .map(|p| event(json!([{"text": p}]), None))
                .collect(),
            Answer::ToolCall { name, arguments } => {
                vec![event(
                    json!([{"functionCall": {"name": name, "args": arguments}}]),
                    None,
                )]
            }
        };
        if complete {
            // The last event carries the finish reason and the final usage.
            events.push(SseEvent::data(json!({
                "candidates": [candidate(json!([{"text": ""}]), Some("STOP"))],
                "usageMetadata": usage(),
                "modelVersion": model,
                "responseId": "mock-response",
            })));
        }
        events
    }

    fn error(&self, status: u16, message: &str) -> Value {
        json!({"error": {"code": status, "message": message, "status": status_name(status)}})
    }
}
