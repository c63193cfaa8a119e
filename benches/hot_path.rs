//! The pure parts of the `/v1` request path, timed without a network or a database, so a
//! regression shows in `cargo bench --features ssr` before it shows in `bench/run`:
//! parse an app's request and classify it, translate it for each provider, plan a route, and
//! settle an attempt in live state.

// A bench is a test harness: a broken set-up should stop it at once.
#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rand::SeedableRng;
use serde_json::json;
use std::hint::black_box;
use switchyard::domain::{LogicalModel, Policy, ProviderAccount, ProviderKind};
use switchyard::providers::{adapter_for, CallContext, ChatRequest, Secret};
use switchyard::routing::{
    classify, estimate_prompt_tokens, estimate_request_tokens, plan, AttemptOutcome,
    ClassificationHints, LiveState, RouteRequest, RoutingSnapshot,
};

const NOW_MS: u64 = 1_764_400_000_000;

/// A typical chat request: a system prompt, a short conversation and one tool.
fn body() -> Vec<u8> {
    json!({
        "model": "primary-llm",
        "messages": [
            {"role": "system", "content": "You are a concise assistant for a support team."},
            {"role": "user", "content": "Where is my order 4711? It was due on Monday."},
            {"role": "assistant", "content": "Let me look that up for you."},
            {"role": "user", "content": "Thanks. Please also tell me the carrier."}
        ],
        "temperature": 0.2,
        "max_tokens": 256,
        "tools": [{"type": "function", "function": {
            "name": "lookup_order", "description": "Finds an order by number",
            "parameters": {"type": "object", "properties": {"number": {"type": "string"}},
                           "required": ["number"]}}}]
    })
    .to_string()
    .into_bytes()
}

fn route_request(request: &ChatRequest) -> RouteRequest {
    let hints = ClassificationHints {
        step_type_header: None,
        purpose_header: None,
        step_type_metadata: None,
        purpose_metadata: None,
        has_tools: request.tools.as_ref().is_some_and(|t| !t.is_empty()),
        json_response_format: false,
        embedding: false,
    };
    let (step_type, purpose) = classify(&hints).unwrap();
    let texts: Vec<String> = request.messages.iter().map(|m| m.text()).collect();
    let prompt = estimate_prompt_tokens(texts.iter().map(String::as_str));
    RouteRequest {
        logical_model: request.model.clone(),
        step_type,
        purpose,
        needs: Default::default(),
        estimated_prompt_tokens: prompt,
        estimated_tokens: estimate_request_tokens(prompt, request.output_limit()),
    }
}

/// Four accounts, three logical models and two policies, as a small production set-up has.
fn snapshot() -> RoutingSnapshot {
    let accounts: Vec<ProviderAccount> = serde_json::from_value(json!([
        {"name": "openai-main", "kind": "openai", "rpm_limit": 100000, "tpm_limit": 100000000,
         "monthly_budget": 1000000000000i64},
        {"name": "claude", "kind": "anthropic"},
        {"name": "azure-eu", "kind": "azure", "rpm_limit": 100000},
        {"name": "mistral", "kind": "mistral"}
    ]))
    .unwrap();
    let models: Vec<LogicalModel> = serde_json::from_value(json!([
        {"name": "primary-llm", "capabilities": {"streaming": true, "tools": true},
         "targets": [{"account": "openai-main", "model": "gpt-4o"},
                     {"account": "claude", "model": "claude-sonnet-4-5"}]},
        {"name": "fast-llm", "targets": [{"account": "mistral", "model": "mistral-small"},
                                          {"account": "openai-main", "model": "gpt-4o-mini"}]},
        {"name": "backup-llm", "capabilities": {"streaming": true, "tools": true},
         "targets": [{"account": "azure-eu", "model": "gpt-4o"}]}
    ]))
    .unwrap();
    let policies: Vec<Policy> = serde_json::from_value(json!([
        {"name": "cheap-classification", "priority": 100,
         "match": {"purposes": ["classification"]}, "route": ["fast-llm", "primary-llm"]},
        {"name": "tools-with-backup", "priority": 50,
         "match": {"step_types": ["tool_call"]}, "route": ["primary-llm", "backup-llm"]}
    ]))
    .unwrap();
    RoutingSnapshot::new(accounts, models, policies).unwrap()
}

fn parse(c: &mut Criterion) {
    let body = body();
    c.bench_function("parse and classify a chat request", |b| {
        b.iter(|| {
            let request: ChatRequest = serde_json::from_slice(black_box(&body)).unwrap();
            route_request(&request)
        })
    });
}

fn translate(c: &mut Criterion) {
    let request: ChatRequest = serde_json::from_slice(&body()).unwrap();
    let client = reqwest::Client::new();
    let mut group = c.benchmark_group("translate a request for");
    for kind in ProviderKind::ALL {
        let ctx = CallContext::new(
            client.clone(),
            "http://127.0.0.1:1",
            Secret::new("sk-bench"),
            "provider-model",
        );
        let adapter = adapter_for(kind);
        group.bench_function(kind.as_str(), |b| {
            b.iter(|| {
                adapter
                    .request_body(&ctx, black_box(&request), false)
                    .unwrap()
            })
        });
    }
    group.finish();
}

fn routing(c: &mut Criterion) {
    let snapshot = snapshot();
    let live = LiveState::new();
    let request: ChatRequest = serde_json::from_slice(&body()).unwrap();
    let route = route_request(&request);
    // Seeded, so every run plans the same draws.
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    c.bench_function("plan a route", |b| {
        b.iter(|| plan(&snapshot, black_box(&route), &live, NOW_MS, &mut rng).unwrap())
    });
    let planned = plan(&snapshot, &route, &live, NOW_MS, &mut rng).unwrap();
    let mut now = NOW_MS;
    c.bench_function("begin and settle an attempt", |b| {
        b.iter_batched(
            || {
                now += 1;
                now
            },
            |now| {
                let attempt = live
                    .begin_attempt(&snapshot, &planned, &planned.candidates[0], 300, now)
                    .unwrap();
                live.finish_attempt(
                    attempt,
                    AttemptOutcome::Answered {
                        latency_ms: 420,
                        total_tokens: Some(280),
                    },
                    now,
                );
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(hot_path, parse, translate, routing);
criterion_main!(hot_path);
