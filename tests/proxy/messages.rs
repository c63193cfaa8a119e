//! Anthropic's Messages API through the proxy: passthrough to Anthropic, translation to the
//! other providers, Anthropic-shaped errors and streams, fallback and count_tokens.

use crate::helpers::*;
use serde_json::{json, Value};
use switchyard::domain::ProviderKind;
use switchyard::providers::mock::{
    MockProvider, MockReply, MOCK_COMPLETION_TOKENS, MOCK_COUNTED_TOKENS, MOCK_PROMPT_TOKENS,
};

async fn messages(app: &TestApp, body: Value) -> reqwest::Response {
    app.client
        .post(format!("{}/v1/messages", app.address))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// `primary-llm` on one mock of `kind`.
async fn one_target(kind: ProviderKind, provider_model: &str) -> (TestApp, MockProvider) {
    let app = spawn_app().await;
    let mock = MockProvider::start(kind).await.unwrap();
    app.state.config.replace(snapshot(
        vec![(account("main", kind), &mock)],
        vec![model(
            "primary-llm",
            all_capabilities(),
            &[("main", provider_model)],
        )],
        vec![],
    ));
    (app, mock)
}

fn request(stream: bool) -> Value {
    json!({"model": "primary-llm", "max_tokens": 64, "stream": stream,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "hi"}]})
}

/// The (event name, data) pairs of an Anthropic SSE body.
fn events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = String::new();
            let mut data = Value::Null;
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_string();
                }
                if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).unwrap();
                }
            }
            (name, data)
        })
        .collect()
}

#[tokio::test]
async fn anthropic_targets_get_the_body_unchanged_and_answer_as_sent() {
    let (app, mock) = one_target(ProviderKind::Anthropic, "claude-sonnet-4-5").await;
    mock.push(MockReply::text("Hello"));
    let mut body = request(false);
    // Fields only Anthropic knows pass through untouched.
    body["system"] =
        json!([{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]);
    body["top_k"] = json!(5);
    let response = app
        .client
        .post(format!("{}/v1/messages", app.address))
        .bearer_auth(KEY)
        .header("anthropic-beta", "prompt-caching-2024-07-31")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-switchyard-account"), "main");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["type"], "message");
    assert_eq!(answer["content"][0]["text"], "Hello");
    assert_eq!(answer["usage"]["input_tokens"], MOCK_PROMPT_TOKENS);
    let sent = &mock.requests()[0];
    let mut expected = body.clone();
    expected["model"] = json!("claude-sonnet-4-5");
    assert_eq!(sent.body, expected);
    assert_eq!(
        sent.header("anthropic-beta"),
        Some("prompt-caching-2024-07-31")
    );
    let rows = app.usage_rows().await;
    assert_eq!(rows.len(), 1);
    let (_, status, prompt, completion, cost, _) = rows[0].clone();
    assert_eq!(status, 200);
    assert_eq!(
        (prompt, completion),
        (MOCK_PROMPT_TOKENS as i64, MOCK_COMPLETION_TOKENS as i64)
    );
    // claude-sonnet-4-5: 12 × $3/M + 7 × $15/M = 141 µ$.
    assert_eq!(cost, 141);
}

#[tokio::test]
async fn anthropic_streams_are_relayed_event_by_event() {
    let (app, mock) = one_target(ProviderKind::Anthropic, "claude-sonnet-4-5").await;
    mock.push(MockReply::text("Hello there"));
    let response = messages(&app, request(true)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "text/event-stream");
    let events = events(&response.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let rows = app.usage_rows().await;
    assert_eq!(rows[0].3, MOCK_COMPLETION_TOKENS as i64);
    assert_eq!(rows[0].5, 1);
}

#[tokio::test]
async fn other_providers_answer_in_anthropic_shape() {
    for (kind, provider_model) in [
        (ProviderKind::Openai, "gpt-4o"),
        (ProviderKind::Azure, "gpt-4o"),
        (ProviderKind::Google, "gemini-2.5-flash"),
        (ProviderKind::Cohere, "command-a-03-2025"),
        (ProviderKind::Mistral, "mistral-large-latest"),
    ] {
        let (app, mock) = one_target(kind, provider_model).await;
        mock.push(MockReply::text("Hello there"));
        mock.push(MockReply::text("Hello there"));
        mock.push(MockReply::tool_call("get_weather", json!({"city": "Oslo"})));
        let response = messages(&app, request(false)).await;
        assert_eq!(response.status(), 200, "{kind}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["type"], "message", "{kind}");
        assert_eq!(answer["role"], "assistant", "{kind}");
        assert_eq!(answer["content"][0]["text"], "Hello there", "{kind}");
        assert_eq!(answer["stop_reason"], "end_turn", "{kind}");
        assert_eq!(
            answer["usage"]["output_tokens"], MOCK_COMPLETION_TOKENS,
            "{kind}"
        );

        let response = messages(&app, request(true)).await;
        assert_eq!(response.status(), 200, "{kind}");
        let events = events(&response.text().await.unwrap());
        let text: String = events
            .iter()
            .filter_map(|(_, d)| d.pointer("/delta/text").and_then(Value::as_str))
            .collect();
        assert_eq!(text, "Hello there", "{kind}");
        assert_eq!(events.first().unwrap().0, "message_start", "{kind}");
        assert_eq!(events.last().unwrap().0, "message_stop", "{kind}");
        let delta = &events[events.len() - 2].1;
        assert_eq!(
            delta["usage"]["output_tokens"], MOCK_COMPLETION_TOKENS,
            "{kind}"
        );

        let mut tools = request(false);
        tools["tools"] = json!([{"name": "get_weather",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
        tools["messages"] = json!([
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Bergen"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "rain"}]}
        ]);
        let answer: Value = messages(&app, tools).await.json().await.unwrap();
        assert_eq!(answer["stop_reason"], "tool_use", "{kind}");
        let call = answer["content"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["type"] == "tool_use")
            .unwrap();
        assert_eq!(call["name"], "get_weather", "{kind}");
        assert_eq!(call["input"], json!({"city": "Oslo"}), "{kind}");
    }
}

#[tokio::test]
async fn what_only_anthropic_can_do_falls_back_to_it_or_is_a_clear_400() {
    let (config, first, second) = two_targets_snapshot(vec![]).await;
    let app = spawn_app().await;
    app.state.config.replace(config);
    second.push(MockReply::text("thought it through"));
    let mut body = request(false);
    body["thinking"] = json!({"type": "enabled", "budget_tokens": 1024});
    let response = messages(&app, body.clone()).await;
    assert_eq!(response.status(), 200);
    assert!(
        header(&response, "x-switchyard-attempts").contains("OpenAI cannot express `thinking`"),
        "{}",
        header(&response, "x-switchyard-attempts")
    );
    assert!(first.requests().is_empty());

    let (app, mock) = one_target(ProviderKind::Openai, "gpt-4o").await;
    let response = messages(&app, body).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("`thinking`"), "{message}");
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn fallback_and_errors_keep_anthropic_shapes() {
    let (config, first, second) = two_targets_snapshot(vec![]).await;
    let app = spawn_app().await;
    app.state.config.replace(config);
    first.push(MockReply::error(503, "down"));
    second.push(MockReply::text("from claude"));
    let response = messages(&app, request(false)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-switchyard-account"), "second");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["content"][0]["text"], "from claude");

    let missing_key = app
        .client
        .post(format!("{}/v1/messages", app.address))
        .json(&request(false))
        .send()
        .await
        .unwrap();
    assert_eq!(missing_key.status(), 401);
    let error: Value = missing_key.json().await.unwrap();
    assert_eq!(error["error"]["type"], "authentication_error");

    let mut unknown = request(false);
    unknown["model"] = json!("ghost-llm");
    let response = messages(&app, unknown).await;
    assert_eq!(response.status(), 404);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["type"], "not_found_error");

    let mut no_max_tokens = request(false);
    no_max_tokens.as_object_mut().unwrap().remove("max_tokens");
    let response = messages(&app, no_max_tokens).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["message"], "max_tokens: Field required");

    // A failure after the first event ends the stream with Anthropic's error event.
    first.push(MockReply::reset_stream("partial answer"));
    let response = messages(&app, request(true)).await;
    let events = events(&response.text().await.unwrap());
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(data["type"], "error");
}

#[tokio::test]
async fn step_type_and_purpose_headers_route_messages() {
    let (app, mock) = one_target(ProviderKind::Anthropic, "claude-sonnet-4-5").await;
    mock.push(MockReply::text("ok"));
    let response = app
        .client
        .post(format!("{}/v1/messages", app.address))
        .header("x-api-key", KEY)
        .header("x-switchyard-step-type", "extraction")
        .header("x-switchyard-purpose", "classification")
        .json(&request(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    app.state.telemetry.flush().await;
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT step_type, purpose FROM usage_events")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(rows, vec![("extraction".into(), "classification".into())]);
}

#[tokio::test]
async fn count_tokens_is_exact_on_anthropic_and_an_estimate_elsewhere() {
    let count = |app: &TestApp| {
        app.client
            .post(format!("{}/v1/messages/count_tokens", app.address))
            .header("x-api-key", KEY)
            .json(&json!({"model": "primary-llm",
                "messages": [{"role": "user", "content": "How many tokens is this?"}]}))
            .send()
    };
    let (app, mock) = one_target(ProviderKind::Anthropic, "claude-sonnet-4-5").await;
    let response = count(&app).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-switchyard-token-count"), "exact");
    let counted: Value = response.json().await.unwrap();
    assert_eq!(
        counted,
        json!({"input_tokens": MOCK_COUNTED_TOKENS, "estimated": false})
    );
    assert_eq!(mock.requests()[0].path, "/v1/messages/count_tokens");
    // Counting is not a completion: nothing in the ledger.
    assert!(app.usage_rows().await.is_empty());

    let (app, mock) = one_target(ProviderKind::Openai, "gpt-4o").await;
    let response = count(&app).await.unwrap();
    assert_eq!(header(&response, "x-switchyard-token-count"), "estimated");
    let counted: Value = response.json().await.unwrap();
    assert_eq!(counted["estimated"], true);
    // 24 characters / 4 + 4 per message.
    assert_eq!(counted["input_tokens"], 10);
    assert!(mock.requests().is_empty());
}
