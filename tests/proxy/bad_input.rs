//! Broken requests: each gets an OpenAI-shaped error with the right status, nothing reaches a
//! provider, and the server keeps serving.

use crate::helpers::*;
use serde_json::{json, Value};
use switchyard::domain::ProviderKind;
use switchyard::providers::mock::MockProvider;

#[tokio::test]
async fn a_corpus_of_broken_requests_never_reaches_a_provider() {
    let app = spawn_app_with(&[("SWITCHYARD_MAX_BODY_BYTES", "65536")]).await;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    app.state.config.replace(snapshot(
        vec![(account("main", ProviderKind::Openai), &mock)],
        vec![
            model("primary-llm", all_capabilities(), &[("main", "gpt-4o")]),
            model("fast-llm", all_capabilities(), &[("main", "gpt-4o-mini")]),
        ],
        vec![],
    ));
    let hi = user_message("hi");
    let huge =
        json!({"model": "primary-llm", "messages": user_message(&"x".repeat(70_000))}).to_string();
    // (label, key, raw body, status, error code)
    let cases: Vec<(&str, Option<&str>, String, u16, &str)> = vec![
        (
            "no key",
            None,
            json!({"model": "primary-llm", "messages": hi}).to_string(),
            401,
            "invalid_api_key",
        ),
        (
            "wrong key",
            Some("sk-sy-nope"),
            json!({"model": "primary-llm", "messages": hi}).to_string(),
            401,
            "invalid_api_key",
        ),
        (
            "expired key",
            Some(EXPIRED_KEY),
            json!({"model": "primary-llm", "messages": hi}).to_string(),
            401,
            "invalid_api_key",
        ),
        (
            "key not allowed the model",
            Some(LIMITED_KEY),
            json!({"model": "fast-llm", "messages": hi}).to_string(),
            403,
            "model_not_allowed",
        ),
        ("empty body", Some(KEY), String::new(), 400, "invalid_body"),
        (
            "malformed json",
            Some(KEY),
            "{\"model\": \"primary-llm\", \"messages\": [".into(),
            400,
            "invalid_body",
        ),
        (
            "not an object",
            Some(KEY),
            "[1, 2, 3]".into(),
            400,
            "invalid_body",
        ),
        (
            "binary junk",
            Some(KEY),
            "\u{0}\u{1}\u{fffd}".into(),
            400,
            "invalid_body",
        ),
        (
            "missing messages",
            Some(KEY),
            json!({"model": "primary-llm"}).to_string(),
            400,
            "invalid_body",
        ),
        (
            "missing model",
            Some(KEY),
            json!({"messages": hi}).to_string(),
            400,
            "invalid_body",
        ),
        (
            "empty messages",
            Some(KEY),
            json!({"model": "primary-llm", "messages": []}).to_string(),
            400,
            "invalid_request",
        ),
        (
            "messages wrong type",
            Some(KEY),
            json!({"model": "primary-llm", "messages": "hi"}).to_string(),
            400,
            "invalid_body",
        ),
        (
            "model wrong type",
            Some(KEY),
            json!({"model": 42, "messages": hi}).to_string(),
            400,
            "invalid_body",
        ),
        (
            "unknown role",
            Some(KEY),
            json!({"model": "primary-llm", "messages": [{"role": "wizard", "content": "x"}]})
                .to_string(),
            400,
            "invalid_body",
        ),
        (
            "temperature as text",
            Some(KEY),
            json!({"model": "primary-llm", "messages": hi, "temperature": "hot"}).to_string(),
            400,
            "invalid_body",
        ),
        (
            "negative max_tokens",
            Some(KEY),
            json!({"model": "primary-llm", "messages": hi, "max_tokens": -5}).to_string(),
            400,
            "invalid_body",
        ),
        (
            "stream not a bool",
            Some(KEY),
            json!({"model": "primary-llm", "messages": hi, "stream": "yes"}).to_string(),
            400,
            "invalid_body",
        ),
        (
            "tools wrong shape",
            Some(KEY),
            json!({"model": "primary-llm", "messages": hi, "tools": [{"type": "function"}]})
                .to_string(),
            400,
            "invalid_body",
        ),
        (
            "bad step type header value",
            Some(KEY),
            json!({"model": "primary-llm", "messages": hi, "metadata": {"step_type": "dance"}})
                .to_string(),
            400,
            "invalid_routing_hint",
        ),
        (
            "unknown model",
            Some(KEY),
            json!({"model": "ghost-llm", "messages": hi}).to_string(),
            404,
            "model_not_found",
        ),
        ("oversized", Some(KEY), huge, 413, "request_too_large"),
    ];
    for (label, key, body, status, code) in cases {
        let mut request = app
            .client
            .post(format!("{}/v1/chat/completions", app.address))
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{label}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], code, "{label}: {error}");
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{label}"
        );
        assert!(error["error"]["type"].is_string(), "{label}");
    }
    assert!(mock.requests().is_empty());
    // Still serving.
    let response = app
        .chat(json!({"model": "primary-llm", "messages": user_message("hi")}))
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn other_v1_paths_get_an_openai_shaped_404() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(format!("{}/v1/images/generations", app.address))
        .bearer_auth(KEY)
        .json(&json!({"model": "x", "prompt": "y"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "unknown_url");
}

#[tokio::test]
async fn a_header_hint_that_is_not_allowed_is_refused() {
    let app = spawn_app().await;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    app.state.config.replace(snapshot(
        vec![(account("main", ProviderKind::Openai), &mock)],
        vec![model(
            "primary-llm",
            all_capabilities(),
            &[("main", "gpt-4o")],
        )],
        vec![],
    ));
    let response = app
        .chat_with_headers(
            KEY,
            &[("x-switchyard-purpose", "poetry")],
            json!({"model": "primary-llm", "messages": user_message("hi")}),
        )
        .await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("x-switchyard-purpose"));
    assert!(mock.requests().is_empty());
}
