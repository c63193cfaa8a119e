//! Successful requests: shapes, headers, defaults, streams, tools, images and JSON mode.

use crate::helpers::*;
use serde_json::{json, Value};
use switchyard::domain::{Capabilities, Defaults, ProviderKind};
use switchyard::providers::mock::{
    MockProvider, MockReply, MOCK_COMPLETION_TOKENS, MOCK_PROMPT_TOKENS,
};

async fn one_target(kind: ProviderKind, provider_model: &str) -> (TestApp, MockProvider) {
    let app = spawn_app().await;
    let mock = MockProvider::start(kind).await.unwrap();
    let mut primary = model(
        "primary-llm",
        all_capabilities(),
        &[("main", provider_model)],
    );
    primary.defaults = Defaults {
        temperature: Some(0.25),
        max_tokens: Some(300),
        top_p: None,
        stop: vec![],
    };
    app.state.config.replace(snapshot(
        vec![(account("main", kind), &mock)],
        vec![primary],
        vec![],
    ));
    (app, mock)
}

#[tokio::test]
async fn non_stream_answer_has_openai_shape_headers_and_a_ledger_row() {
    let (app, mock) = one_target(ProviderKind::Openai, "gpt-4o").await;
    mock.push(MockReply::text("Hello there"));
    let response = app
        .chat(json!({"model": "primary-llm", "messages": user_message("hi"), "temperature": 0.9}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-switchyard-account"), "main");
    assert_eq!(header(&response, "x-switchyard-provider-model"), "gpt-4o");
    assert_eq!(
        header(&response, "x-switchyard-attempts"),
        "1; ordered; main/gpt-4o ok"
    );
    assert_eq!(header(&response, "x-switchyard-policy"), "");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "Hello there");
    assert_eq!(body["usage"]["prompt_tokens"], MOCK_PROMPT_TOKENS);
    let sent = &mock.requests()[0].body;
    assert_eq!(sent["model"], "gpt-4o");
    // The request's own temperature wins; the missing max_tokens comes from the defaults.
    assert_eq!(sent["temperature"], 0.9);
    assert_eq!(sent["max_tokens"], 300);
    assert!(sent.get("metadata").is_none());

    let rows = app.usage_rows().await;
    assert_eq!(rows.len(), 1);
    let (account, status, prompt, completion, cost, stream) = rows[0].clone();
    assert_eq!(account.as_deref(), Some("main"));
    assert_eq!((status, stream), (200, 0));
    assert_eq!(
        (prompt, completion),
        (MOCK_PROMPT_TOKENS as i64, MOCK_COMPLETION_TOKENS as i64)
    );
    // Seed price of gpt-4o: 12 × $2.50/M + 7 × $10/M = 100 µ$.
    assert_eq!(cost, 100);
    let spent = app
        .state
        .live
        .account_view("main", chrono::Utc::now().timestamp_millis() as u64)
        .spent_this_month;
    assert_eq!(spent.micros(), 100);
}

#[tokio::test]
async fn every_provider_answers_through_the_proxy_streamed_and_not() {
    for (kind, provider_model) in [
        (ProviderKind::Openai, "gpt-4o"),
        (ProviderKind::Azure, "gpt-4o"),
        (ProviderKind::Mistral, "mistral-small-latest"),
        (ProviderKind::Anthropic, "claude-sonnet-4-5"),
        (ProviderKind::Google, "gemini-2.5-flash"),
        (ProviderKind::Cohere, "command-a-03-2025"),
    ] {
        let (app, mock) = one_target(kind, provider_model).await;
        mock.push(MockReply::text("plain answer"));
        mock.push(MockReply::text("streamed answer here"));
        let response = app
            .chat(json!({"model": "primary-llm", "messages": user_message("hi")}))
            .await;
        assert_eq!(response.status(), 200, "{kind}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["choices"][0]["message"]["content"], "plain answer",
            "{kind}"
        );

        let response = app
            .chat(json!({"model": "primary-llm", "messages": user_message("hi"), "stream": true}))
            .await;
        assert_eq!(response.status(), 200, "{kind}");
        let text = response.text().await.unwrap();
        let data = sse_data(&text);
        assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{kind}");
        let content: String = data[..data.len() - 1]
            .iter()
            .map(|d| serde_json::from_str::<Value>(d).unwrap())
            .filter_map(|c| {
                c["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(String::from)
            })
            .collect();
        assert_eq!(content, "streamed answer here", "{kind}");
        assert_eq!(app.usage_rows().await.len(), 2, "{kind}");
        if kind == ProviderKind::Azure {
            // The account maps the model to its deployment name.
            let path = &mock.requests()[0].path;
            assert_eq!(path, "/openai/deployments/gpt4o-prod/chat/completions");
        }
    }
}

#[tokio::test]
async fn stream_usage_only_when_asked() {
    let (app, mock) = one_target(ProviderKind::Anthropic, "claude-sonnet-4-5").await;
    let response = app
        .chat(json!({"model": "primary-llm", "messages": user_message("hi"), "stream": true}))
        .await;
    assert_eq!(header(&response, "content-type"), "text/event-stream");
    let text = response.text().await.unwrap();
    assert!(!text.contains("\"usage\""), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"));

    let response = app
        .chat(
            json!({"model": "primary-llm", "messages": user_message("hi"), "stream": true,
            "stream_options": {"include_usage": true}}),
        )
        .await;
    let data = sse_data(&response.text().await.unwrap());
    let usage: Vec<Value> = data
        .iter()
        .filter(|d| d.as_str() != "[DONE]")
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter(|c| c.get("usage").is_some_and(|u| !u.is_null()))
        .collect();
    assert_eq!(usage.len(), 1, "{data:?}");
    assert_eq!(
        usage[0]["usage"]["completion_tokens"],
        MOCK_COMPLETION_TOKENS
    );
    assert_eq!(mock.requests().len(), 2);
    // Usage is counted either way.
    let rows = app.usage_rows().await;
    assert!(rows
        .iter()
        .all(|r| r.3 == MOCK_COMPLETION_TOKENS as i64 && r.5 == 1));
}

#[tokio::test]
async fn tool_calls_come_back_in_openai_shape() {
    let (app, mock) = one_target(ProviderKind::Anthropic, "claude-sonnet-4-5").await;
    mock.push(MockReply::tool_call("get_weather", json!({"city": "Oslo"})));
    mock.push(MockReply::tool_call(
        "get_weather",
        json!({"city": "Bergen"}),
    ));
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let response = app
        .chat(json!({"model": "primary-llm", "messages": user_message("weather?"), "tools": tools}))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let call = &body["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "Oslo"}));
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(mock.requests()[0].body["tools"][0]["name"], "get_weather");

    let response = app
        .chat(
            json!({"model": "primary-llm", "messages": user_message("weather?"),
            "tools": tools, "stream": true}),
        )
        .await;
    let data = sse_data(&response.text().await.unwrap());
    let arguments: String = data
        .iter()
        .filter(|d| d.as_str() != "[DONE]")
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter_map(|c| {
            c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .map(String::from)
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).unwrap(),
        json!({"city": "Bergen"})
    );
}

#[tokio::test]
async fn images_and_json_mode_reach_the_provider() {
    let (app, mock) = one_target(ProviderKind::Google, "gemini-2.5-flash").await;
    let messages = json!([{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}]);
    let response = app
        .chat(json!({"model": "primary-llm", "messages": messages,
            "response_format": {"type": "json_object"}}))
        .await;
    assert_eq!(response.status(), 200);
    let sent = &mock.requests()[0].body;
    let parts = &sent["contents"][0]["parts"];
    assert_eq!(parts[1]["inlineData"]["mimeType"], "image/png");
    assert_eq!(
        sent["generationConfig"]["responseMimeType"],
        "application/json"
    );
}

#[tokio::test]
async fn missing_capabilities_are_named_and_nothing_is_sent() {
    let app = spawn_app().await;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    let text_only = Capabilities::default();
    app.state.config.replace(snapshot(
        vec![(account("main", ProviderKind::Openai), &mock)],
        vec![model("primary-llm", text_only, &[("main", "gpt-4o")])],
        vec![],
    ));
    let image = json!([{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]);
    let tools = json!([{"type": "function", "function": {"name": "f"}}]);
    let cases = [
        (
            json!({"model": "primary-llm", "messages": user_message("x"), "stream": true}),
            "streaming",
        ),
        (
            json!({"model": "primary-llm", "messages": user_message("x"), "tools": tools}),
            "tools",
        ),
        (json!({"model": "primary-llm", "messages": image}), "vision"),
        (
            json!({"model": "primary-llm", "messages": user_message("x"),
            "response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}),
            "json_mode",
        ),
    ];
    for (body, capability) in cases {
        let response = app.chat(body).await;
        assert_eq!(response.status(), 400, "{capability}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "capability_not_supported");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(capability), "{message}");
    }
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn models_lists_what_the_key_may_use() {
    let app = spawn_app().await;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    app.state.config.replace(snapshot(
        vec![(account("main", ProviderKind::Openai), &mock)],
        vec![
            model("primary-llm", all_capabilities(), &[("main", "gpt-4o")]),
            model("fast-llm", all_capabilities(), &[("main", "gpt-4o-mini")]),
        ],
        vec![],
    ));
    let list = |key: &'static str| {
        let app = &app;
        async move {
            let body: Value = app.models(key).await.json().await.unwrap();
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(KEY).await, vec!["fast-llm", "primary-llm"]);
    assert_eq!(list(LIMITED_KEY).await, vec!["primary-llm"]);
    let response = app
        .client
        .get(format!("{}/v1/models", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}
