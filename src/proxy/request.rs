//! From the raw body to a request the router and the adapters can work with: size limit, JSON
//! parsing, the logical model's defaults, what the request needs and how it is classified.

use super::error::ProxyError;
use crate::domain::{Capabilities, Defaults};
use crate::providers::types::{Content, ContentPart, ResponseFormat, Stop};
use crate::providers::{ChatRequest, EmbeddingsRequest};
use crate::routing::{
    classify, estimate_prompt_tokens, estimate_request_tokens, estimate_text_tokens,
    ClassificationHints, RouteRequest, PURPOSE_HEADER, STEP_TYPE_HEADER,
};
use axum::body::{Body, Bytes};
use axum::http::HeaderMap;
use futures_util::StreamExt;
use serde_json::Value;

/// Reads the body, refusing it as soon as it grows past `limit` bytes.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, ProxyError> {
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(frame) = stream.next().await {
        let frame = frame.map_err(|e| ProxyError::BodyUnreadable(e.to_string()))?;
        if bytes.len() + frame.len() > limit {
            return Err(ProxyError::BodyTooLarge { limit });
        }
        bytes.extend_from_slice(&frame);
    }
    Ok(Bytes::from(bytes))
}

/// The body as `T`, or a 400 with serde's line and column.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ProxyError> {
    serde_json::from_slice(body).map_err(|e| ProxyError::InvalidBody(e.to_string()))
}

pub fn require_model(model: &str) -> Result<(), ProxyError> {
    if model.trim().is_empty() {
        return Err(ProxyError::InvalidRequest(
            "`model` must not be empty".into(),
        ));
    }
    Ok(())
}

pub fn parse(body: &[u8]) -> Result<ChatRequest, ProxyError> {
    let request: ChatRequest = parse_json(body)?;
    require_model(&request.model)?;
    if request.messages.is_empty() {
        return Err(ProxyError::InvalidRequest(
            "`messages` must contain at least one message".into(),
        ));
    }
    Ok(request)
}

/// Fills in every default the request does not set itself.
pub fn apply_defaults(request: &mut ChatRequest, defaults: &Defaults) {
    if request.temperature.is_none() {
        request.temperature = defaults.temperature;
    }
    if request.top_p.is_none() {
        request.top_p = defaults.top_p;
    }
    if request.output_limit().is_none() {
        request.max_tokens = defaults.max_tokens;
    }
    if request.stop.is_none() && !defaults.stop.is_empty() {
        request.stop = Some(Stop::Many(defaults.stop.clone()));
    }
}

pub fn wants_stream(request: &ChatRequest) -> bool {
    request.stream == Some(true)
}

/// Capabilities the request uses.
pub fn needs(request: &ChatRequest) -> Capabilities {
    let has_image = |content: &Content| match content {
        Content::Text(_) => false,
        Content::Parts(parts) => parts
            .iter()
            .any(|p| matches!(p, ContentPart::ImageUrl { .. })),
    };
    Capabilities {
        streaming: wants_stream(request),
        tools: request.tools.as_ref().is_some_and(|t| !t.is_empty()),
        vision: request
            .messages
            .iter()
            .any(|m| m.content.as_ref().is_some_and(has_image)),
        json_mode: json_response_format(request),
        embeddings: false,
    }
}

fn json_response_format(request: &ChatRequest) -> bool {
    matches!(
        request.response_format,
        Some(ResponseFormat::JsonObject | ResponseFormat::JsonSchema { .. })
    )
}

pub fn parse_embeddings(body: &[u8]) -> Result<EmbeddingsRequest, ProxyError> {
    let request: EmbeddingsRequest = parse_json(body)?;
    require_model(&request.model)?;
    let texts = request.texts();
    if texts.is_empty() || texts.iter().any(|t| t.is_empty()) {
        return Err(ProxyError::InvalidRequest(
            "`input` must be a non-empty string or a non-empty list of non-empty strings".into(),
        ));
    }
    if request.dimensions == Some(0) {
        return Err(ProxyError::InvalidRequest(
            "`dimensions` must be at least 1".into(),
        ));
    }
    Ok(request)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Embeddings are classified by the same headers as chat and default to the `embedding` step
/// type; they need a model with the `embeddings` capability and produce no completion tokens.
pub fn route_embeddings(
    request: &EmbeddingsRequest,
    headers: &HeaderMap,
) -> Result<RouteRequest, ProxyError> {
    let hints = ClassificationHints {
        step_type_header: header(headers, STEP_TYPE_HEADER),
        purpose_header: header(headers, PURPOSE_HEADER),
        embedding: true,
        ..ClassificationHints::default()
    };
    let (step_type, purpose) = classify(&hints)?;
    let prompt = request.texts().into_iter().fold(0u32, |total, text| {
        total.saturating_add(estimate_text_tokens(text))
    });
    Ok(RouteRequest {
        logical_model: request.model.clone(),
        step_type,
        purpose,
        needs: Capabilities {
            embeddings: true,
            ..Capabilities::default()
        },
        estimated_tokens: prompt,
        estimated_prompt_tokens: prompt,
    })
}

/// Step type, purpose, needs and the token estimate for the router.
pub fn route_request(
    request: &ChatRequest,
    headers: &HeaderMap,
) -> Result<RouteRequest, ProxyError> {
    let header = |name: &str| header(headers, name);
    let metadata = |name: &str| -> Result<Option<&str>, ProxyError> {
        match request.metadata.as_ref().and_then(|m| m.get(name)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(ProxyError::InvalidRequest(format!(
                "`metadata.{name}` must be a string"
            ))),
        }
    };
    let hints = ClassificationHints {
        step_type_header: header(STEP_TYPE_HEADER),
        purpose_header: header(PURPOSE_HEADER),
        step_type_metadata: metadata("step_type")?,
        purpose_metadata: metadata("purpose")?,
        has_tools: request.tools.as_ref().is_some_and(|t| !t.is_empty()),
        json_response_format: json_response_format(request),
        embedding: false,
    };
    let (step_type, purpose) = classify(&hints)?;
    let texts: Vec<String> = request.messages.iter().map(|m| m.text()).collect();
    let prompt = estimate_prompt_tokens(texts.iter().map(String::as_str));
    Ok(RouteRequest {
        logical_model: request.model.clone(),
        step_type,
        purpose,
        needs: needs(request),
        estimated_tokens: estimate_request_tokens(prompt, request.output_limit()),
        estimated_prompt_tokens: prompt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(body: Value) -> ChatRequest {
        parse(body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn defaults_fill_only_what_is_missing() {
        let defaults = Defaults {
            temperature: Some(0.2),
            max_tokens: Some(1024),
            top_p: Some(1.0),
            stop: vec!["END".into()],
        };
        let mut req = request(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "temperature": 0.9, "max_completion_tokens": 10}),
        );
        apply_defaults(&mut req, &defaults);
        assert_eq!(req.temperature, Some(0.9));
        assert_eq!(req.top_p, Some(1.0));
        assert_eq!(req.output_limit(), Some(10));
        assert_eq!(req.max_tokens, None);
        assert_eq!(req.stop_sequences(), vec!["END"]);
    }

    #[test]
    fn needs_and_classification() {
        let req = request(json!({"model": "m", "stream": true,
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "https://x/cat.png"}}]}],
            "response_format": {"type": "json_object"},
            "metadata": {"purpose": "classification"}}));
        let route = route_request(&req, &HeaderMap::new()).unwrap();
        assert_eq!(
            route.needs,
            Capabilities {
                streaming: true,
                tools: false,
                vision: true,
                json_mode: true,
                embeddings: false
            }
        );
        assert_eq!(route.step_type.as_str(), "extraction");
        assert_eq!(route.purpose.as_str(), "classification");
        let bad = request(
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "metadata": {"purpose": 3}}),
        );
        assert!(route_request(&bad, &HeaderMap::new()).is_err());
    }

    #[test]
    fn broken_bodies_are_refused() {
        for body in [
            "",
            "{",
            "[]",
            "null",
            r#"{"model": "m"}"#,
            r#"{"model": "m", "messages": []}"#,
            r#"{"model": "", "messages": [{"role": "user", "content": "x"}]}"#,
            r#"{"model": 5, "messages": [{"role": "user", "content": "x"}]}"#,
            r#"{"model": "m", "messages": "hi"}"#,
            r#"{"model": "m", "messages": [{"role": "wizard", "content": "x"}]}"#,
            r#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}"#,
        ] {
            assert!(parse(body.as_bytes()).is_err(), "{body}");
        }
    }

    fn message() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let content = prop_oneof![
            Just(Value::Null),
            "[a-z ]{0,10}".prop_map(Value::String),
            any::<i64>().prop_map(|n| json!(n)),
            Just(json!([{"type": "text", "text": "hi"}])),
            Just(json!([{"type": "image_url", "image_url": {"url": "data:x"}}])),
            Just(json!([{"type": "nope"}])),
            Just(json!({})),
        ];
        let role = prop::sample::select(vec!["system", "user", "assistant", "tool", "bad", ""]);
        (role, content, any::<bool>()).prop_map(|(role, content, with_tools)| {
            let mut message = json!({"role": role, "content": content});
            if with_tools {
                message["tool_calls"] = json!([{"id": "c", "type": "function",
                    "function": {"name": "f", "arguments": "{"}}]);
                message["tool_call_id"] = json!(7);
            }
            message
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 512,
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// Any bytes: a request or a 4xx, never a panic.
        #[test]
        fn any_bytes_parse_or_are_a_client_error(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            if let Err(e) = parse(&body) {
                proptest::prop_assert!(e.status().is_client_error());
            }
        }

        /// Request-shaped JSON with wrong types, odd values and unknown fields in every place.
        #[test]
        fn request_shaped_json_parses_or_is_a_client_error(
            model in proptest::option::of("[a-z-]{0,8}"),
            messages in proptest::collection::vec(message(), 0..4),
            stream in proptest::option::of(proptest::prelude::any::<bool>()),
            temperature in proptest::option::of(-10.0f64..10.0),
            max_tokens in proptest::option::of(proptest::prelude::any::<i64>()),
            extra in proptest::option::of(proptest::sample::select(vec![
                json!({"response_format": {"type": "json_schema"}}),
                json!({"tools": [{"type": "function"}]}),
                json!({"tool_choice": 3}),
                json!({"stop": [1, 2]}),
                json!({"stream_options": {"include_usage": "yes"}}),
                json!({"metadata": {"step_type": ["x"]}}),
                json!({"n": -1}),
            ])),
        ) {
            let mut body = json!({"messages": messages});
            if let Some(model) = model { body["model"] = json!(model); }
            if let Some(stream) = stream { body["stream"] = json!(stream); }
            if let Some(t) = temperature { body["temperature"] = json!(t); }
            if let Some(n) = max_tokens { body["max_tokens"] = json!(n); }
            if let Some(Value::Object(extra)) = extra {
                for (k, v) in extra { body[k] = v; }
            }
            match parse(body.to_string().as_bytes()) {
                Ok(request) => {
                    let headers = axum::http::HeaderMap::new();
                    if let Err(e) = route_request(&request, &headers) {
                        proptest::prop_assert!(e.status().is_client_error());
                    }
                }
                Err(e) => proptest::prop_assert!(e.status().is_client_error()),
            }
        }
    }
}
