//! The exact response cache: identical answers (non-streamed and streamed) at no cost, expiry,
//! per-key scope, `no-store`, nothing cached for a failed request, and Redis shared by a fleet.

use crate::helpers::*;
use serde_json::{json, Value};
use std::time::Duration;
use switchyard::domain::{CacheScope, CacheSettings, KeyLimits, ProviderKind};
use switchyard::providers::mock::{MockProvider, MockReply};
use switchyard::snapshot::ConfigSnapshot;

const OTHER_KEY: &str = "sk-sy-other-0123456789abcdef";

/// `primary-llm` on one OpenAI account (rpm 100: a hit must not count), caching as `cache`.
fn cached_config(mock: &MockProvider, cache: CacheSettings) -> ConfigSnapshot {
    let mut main = account("main", ProviderKind::Openai);
    main.rpm_limit = Some(100);
    let mut primary = model("primary-llm", all_capabilities(), &[("main", "gpt-4o")]);
    primary.cache = Some(cache);
    let mut config = patient(snapshot(vec![(main, mock)], vec![primary], vec![]));
    add_key(&mut config, OTHER_KEY, "other", KeyLimits::default());
    config
}

fn per_key(ttl_seconds: u32) -> CacheSettings {
    CacheSettings {
        ttl_seconds,
        scope: CacheScope::Key,
        nonzero_temperature: false,
    }
}

fn question(text: &str, stream: bool) -> Value {
    json!({"model": "primary-llm", "messages": user_message(text), "temperature": 0, "stream": stream})
}

async fn cached_app(cache: CacheSettings) -> (TestApp, MockProvider) {
    let app = spawn_app().await;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    app.state.config.replace(cached_config(&mock, cache));
    (app, mock)
}

/// (cache header, body)
async fn ask(app: &TestApp, key: &str, body: Value) -> (String, String) {
    let response = app.chat_with_key(key, body).await;
    assert_eq!(response.status(), 200);
    let cache = header(&response, "x-switchyard-cache").to_string();
    (cache, response.text().await.unwrap())
}

async fn ask_with(app: &TestApp, (name, value): (&str, &str), body: Value) -> reqwest::Response {
    app.chat_with_headers(KEY, &[(name, value)], body).await
}

#[tokio::test]
async fn a_cached_answer_is_identical_free_and_leaves_the_account_alone() {
    let (app, mock) = cached_app(per_key(300)).await;
    for stream in [false, true] {
        let (first_cache, first) = ask(&app, KEY, question("what is 2+2?", stream)).await;
        let (second_cache, second) = ask(&app, KEY, question("what is 2+2?", stream)).await;
        assert_eq!(
            (first_cache.as_str(), second_cache.as_str()),
            ("miss", "hit"),
            "stream {stream}"
        );
        assert_eq!(first, second, "stream {stream}");
        if stream {
            assert!(second.ends_with("data: [DONE]\n\n"), "{second}");
        }
    }
    // One provider call per mode; the hits reached no provider.
    assert_eq!(mock.requests().len(), 2);
    let now = chrono::Utc::now().timestamp_millis() as u64;
    assert_eq!(
        app.state
            .live
            .account_view("main", now)
            .requests_last_minute,
        2
    );
    app.state.telemetry.flush().await;
    // (cache, cost, account, saved) per ledger row.
    type Row = (Option<String>, i64, Option<String>, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT cache, cost_micros, account, saved_micros FROM usage_events ORDER BY at_ms",
    )
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap();
    let hits: Vec<_> = rows
        .iter()
        .filter(|r| r.0.as_deref() == Some("hit"))
        .collect();
    let misses: Vec<_> = rows
        .iter()
        .filter(|r| r.0.as_deref() == Some("miss"))
        .collect();
    assert_eq!((hits.len(), misses.len()), (2, 2), "{rows:?}");
    for hit in hits {
        assert_eq!((hit.1, hit.2.as_deref(), hit.3), (0, None, 100), "{hit:?}");
    }
    for miss in misses {
        assert_eq!((miss.1, miss.3), (100, 0), "{miss:?}");
    }
    // The dashboard's figures.
    let browser = app.admin_browser().await;
    let figures: Value = browser
        .post(format!("{}/api/keys_and_cache", app.address))
        .json(&json!({"window": "Hour1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(figures["cache"]["lookups"], 4, "{figures}");
    assert_eq!(figures["cache"]["hits"], 2, "{figures}");
    assert_eq!(figures["cache"]["saved"], 200, "{figures}");
}

#[tokio::test]
async fn answers_expire_stay_with_their_key_and_no_store_skips_the_cache() {
    let (app, mock) = cached_app(per_key(1)).await;
    let q = || question("hello", false);
    assert_eq!(ask(&app, KEY, q()).await.0, "miss");
    assert_eq!(ask(&app, KEY, q()).await.0, "hit");
    // Scope per key: another key asks the provider.
    assert_eq!(ask(&app, OTHER_KEY, q()).await.0, "miss");
    // no-store: neither read nor written.
    let response = ask_with(&app, ("x-switchyard-cache", "no-store"), q()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-switchyard-cache"), "");
    assert_eq!(mock.requests().len(), 3);
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    assert_eq!(ask(&app, KEY, q()).await.0, "miss", "expired after its TTL");
    assert_eq!(mock.requests().len(), 4);
    // A bad TTL header is the app's mistake.
    let response = ask_with(&app, ("x-switchyard-cache-ttl", "soon"), q()).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn a_shared_cache_answers_every_key_but_sampled_requests_are_not_cached() {
    let shared = CacheSettings {
        scope: CacheScope::Shared,
        ..per_key(300)
    };
    let (app, mock) = cached_app(shared).await;
    assert_eq!(ask(&app, KEY, question("shared", false)).await.0, "miss");
    assert_eq!(
        ask(&app, OTHER_KEY, question("shared", false)).await.0,
        "hit"
    );
    let sampled =
        json!({"model": "primary-llm", "messages": user_message("poem"), "temperature": 0.9});
    assert_eq!(ask(&app, KEY, sampled.clone()).await.0, "");
    assert_eq!(ask(&app, KEY, sampled).await.0, "");
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
async fn nothing_is_cached_for_a_failed_request() {
    let (app, mock) = cached_app(per_key(300)).await;
    mock.push(MockReply::error(500, "upstream broke"));
    let failed = app.chat(question("fragile", false)).await;
    assert!(failed.status().is_server_error(), "{}", failed.status());
    // A stream cut before its end is not cached either.
    mock.push(MockReply::cut_stream("half an answ"));
    let cut = app.chat(question("fragile", true)).await;
    let _ = cut.text().await;
    assert_eq!(ask(&app, KEY, question("fragile", false)).await.0, "miss");
    assert_eq!(ask(&app, KEY, question("fragile", true)).await.0, "miss");
    assert_eq!(ask(&app, KEY, question("fragile", true)).await.0, "hit");
}

#[tokio::test]
async fn a_fleet_shares_the_redis_cache() {
    // Its own prefix for the fleet's shared limits, which REDIS_URL turns on as well.
    let prefix = format!("switchyard-test:{}:", uuid::Uuid::new_v4().simple());
    let redis = [
        ("REDIS_URL", "redis://127.0.0.1:6379"),
        ("SWITCHYARD_REDIS_PREFIX", prefix.as_str()),
    ];
    let one = spawn_app_with(&redis).await;
    let two = spawn_app_with(&redis).await;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    one.state.config.replace(cached_config(&mock, per_key(60)));
    two.state.config.replace(cached_config(&mock, per_key(60)));
    // Unique per run: the Redis server outlives the test.
    let text = format!("fleet {}", uuid::Uuid::new_v4());
    for stream in [false, true] {
        let (miss, first) = ask(&one, KEY, question(&text, stream)).await;
        assert_eq!(miss, "miss");
        // The write is on its own task; give it a moment.
        let mut answer = (String::new(), String::new());
        for _ in 0..20 {
            answer = ask(&two, KEY, question(&text, stream)).await;
            if answer.0 == "hit" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(answer.0, "hit", "stream {stream}");
        assert_eq!(answer.1, first, "stream {stream}");
    }
    assert_eq!(mock.requests().len(), 2);
}
