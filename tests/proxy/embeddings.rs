//! `/v1/embeddings` through the proxy: every provider with embeddings, float and base64,
//! capability checks, skipping Anthropic, fallback, step type and the ledger.

use crate::helpers::*;
use base64::Engine;
use serde_json::{json, Value};
use switchyard::domain::{Capabilities, ProviderKind};
use switchyard::providers::mock::{
    mock_vector, MockProvider, MockReply, MOCK_DIMENSIONS, MOCK_PROMPT_TOKENS,
};

fn embeddings_only() -> Capabilities {
    Capabilities {
        embeddings: true,
        ..Capabilities::default()
    }
}

/// `embed-llm` served by OpenAI's text-embedding-3-small.
async fn openai_embeddings() -> (TestApp, MockProvider) {
    let app = spawn_app().await;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    app.state.config.replace(snapshot(
        vec![(account("main", ProviderKind::Openai), &mock)],
        vec![model(
            "embed-llm",
            embeddings_only(),
            &[("main", "text-embedding-3-small")],
        )],
        vec![],
    ));
    (app, mock)
}

async fn embed(app: &TestApp, body: Value) -> reqwest::Response {
    app.client
        .post(format!("{}/v1/embeddings", app.address))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn floats(item: &Value) -> Vec<f32> {
    item["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

#[tokio::test]
async fn every_provider_with_embeddings_serves_them_with_usage_and_cost() {
    for (kind, provider_model, cost) in [
        // Seed prices: 12 tokens × $0.02/M round to 0 µ$; × $0.12/M or $0.10/M, and Gemini's
        // estimated 6 × $0.15/M, to 1 µ$.
        (ProviderKind::Openai, "text-embedding-3-small", 0),
        (ProviderKind::Azure, "text-embedding-3-small", 0),
        (ProviderKind::Google, "gemini-embedding-001", 1),
        (ProviderKind::Cohere, "embed-v4.0", 1),
        (ProviderKind::Mistral, "mistral-embed", 1),
    ] {
        let app = spawn_app().await;
        let mock = MockProvider::start(kind).await.unwrap();
        app.state.config.replace(snapshot(
            vec![(account("main", kind), &mock)],
            vec![model(
                "embed-llm",
                embeddings_only(),
                &[("main", provider_model)],
            )],
            vec![],
        ));
        let response = embed(
            &app,
            json!({"model": "embed-llm", "input": ["first text", "second text"]}),
        )
        .await;
        assert_eq!(response.status(), 200, "{kind}");
        assert_eq!(header(&response, "x-switchyard-account"), "main", "{kind}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["object"], "list", "{kind}");
        let data = body["data"].as_array().unwrap();
        assert_eq!(data.len(), 2, "{kind}");
        assert_eq!(floats(&data[1]), mock_vector(1, MOCK_DIMENSIONS), "{kind}");
        assert_eq!(data[1]["index"], 1, "{kind}");
        // Gemini counts no tokens: the estimate (10 + 11 characters → 3 + 3) is recorded.
        let tokens = if kind == ProviderKind::Google {
            6
        } else {
            MOCK_PROMPT_TOKENS
        };
        assert_eq!(body["usage"]["prompt_tokens"], tokens, "{kind}");
        let rows = app.usage_rows().await;
        assert_eq!(rows.len(), 1, "{kind}");
        let (_, status, prompt, completion, micros, stream) = rows[0].clone();
        assert_eq!(
            (status, prompt, completion, stream),
            (200, tokens as i64, 0, 0),
            "{kind}"
        );
        assert_eq!(micros, cost, "{kind}");
    }
}

#[tokio::test]
async fn base64_dimensions_and_a_single_string() {
    let (app, mock) = openai_embeddings().await;
    let response = embed(
        &app,
        json!({"model": "embed-llm", "input": "one text", "dimensions": 5, "encoding_format": "base64"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let encoded = body["data"][0]["embedding"].as_str().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let vector: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(vector, mock_vector(0, 5));
    let sent = &mock.requests()[0].body;
    assert_eq!(
        sent,
        &json!({"model": "text-embedding-3-small", "input": ["one text"], "dimensions": 5})
    );
}

#[tokio::test]
async fn fallback_capability_and_step_type_routing_work_as_for_chat() {
    let app = spawn_app().await;
    let first = MockProvider::start(ProviderKind::Cohere).await.unwrap();
    let second = MockProvider::start(ProviderKind::Mistral).await.unwrap();
    let third = MockProvider::start(ProviderKind::Google).await.unwrap();
    let claude = MockProvider::start(ProviderKind::Anthropic).await.unwrap();
    let mut by_step = policy("embeddings-to-gemini", &["gemini-embed"], 5, 30);
    by_step.criteria.step_types = vec![switchyard::domain::StepType::Embedding];
    by_step.criteria.logical_models = vec!["routed-embed".into()];
    app.state.config.replace(snapshot(
        vec![
            (account("claude", ProviderKind::Anthropic), &claude),
            (account("first", ProviderKind::Cohere), &first),
            (account("second", ProviderKind::Mistral), &second),
            (account("third", ProviderKind::Google), &third),
        ],
        vec![
            model(
                "primary-llm",
                all_capabilities(),
                &[("claude", "claude-sonnet-4-5")],
            ),
            model(
                "embed-llm",
                embeddings_only(),
                &[("first", "embed-v4.0"), ("second", "mistral-embed")],
            ),
            model(
                "routed-embed",
                embeddings_only(),
                &[("first", "embed-v4.0")],
            ),
            model(
                "gemini-embed",
                embeddings_only(),
                &[("third", "gemini-embedding-001")],
            ),
        ],
        vec![by_step],
    ));
    first.push(MockReply::error(503, "busy"));
    let response = embed(&app, json!({"model": "embed-llm", "input": "x"})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-switchyard-account"), "second");
    assert!(
        header(&response, "x-switchyard-attempts")
            .starts_with("2; ordered; first/embed-v4.0 failed"),
        "{}",
        header(&response, "x-switchyard-attempts")
    );

    // The logical model must declare embeddings.
    let response = embed(&app, json!({"model": "primary-llm", "input": "x"})).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "capability_not_supported");
    assert!(claude.requests().is_empty());

    // Embeddings default to the `embedding` step type, which a policy can route on; a header
    // names another step type, and the policy no longer matches.
    let response = embed(&app, json!({"model": "routed-embed", "input": "x"})).await;
    assert_eq!(
        header(&response, "x-switchyard-policy"),
        "embeddings-to-gemini"
    );
    assert_eq!(header(&response, "x-switchyard-account"), "third");
    let response = app
        .client
        .post(format!("{}/v1/embeddings", app.address))
        .bearer_auth(KEY)
        .header("x-switchyard-step-type", "extraction")
        .json(&json!({"model": "routed-embed", "input": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-switchyard-account"), "first");

    app.state.telemetry.flush().await;
    let steps: Vec<(String,)> = sqlx::query_as("SELECT step_type FROM usage_events")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    let mut steps: Vec<&str> = steps.iter().map(|(s,)| s.as_str()).collect();
    steps.sort_unstable();
    assert_eq!(
        steps,
        vec!["embedding", "embedding", "embedding", "extraction"]
    );
}

#[tokio::test]
async fn bad_embedding_requests_are_clear_400s() {
    let (app, mock) = openai_embeddings().await;
    for (body, words) in [
        (
            json!({"model": "embed-llm", "input": [1, 2, 3]}),
            "token arrays",
        ),
        (json!({"model": "embed-llm", "input": []}), "non-empty"),
        (
            json!({"model": "embed-llm", "input": "x", "encoding_format": "int8"}),
            "unknown variant",
        ),
        (
            json!({"model": "embed-llm", "input": "x", "dimensions": 0}),
            "dimensions",
        ),
        (json!({"input": "x"}), "model"),
    ] {
        let response = embed(&app, body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{body}: {message}");
    }
    let response = app
        .client
        .post(format!("{}/v1/embeddings", app.address))
        .header("x-switchyard-step-type", "nonsense")
        .bearer_auth(KEY)
        .json(&json!({"model": "embed-llm", "input": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(mock.requests().is_empty());
}
