//! Load balancing through the proxy: weighted targets, canary splits with per-arm stats,
//! `cheapest` against a budget, `lowest_latency` losing and winning back a slow target, and
//! per-model retries.

use crate::helpers::*;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;
use switchyard::domain::{LogicalModel, Money, ProviderKind, SplitArm, Strategy};
use switchyard::providers::mock::{MockProvider, MockReply};

fn hello(model: &str) -> Value {
    json!({"model": model, "messages": user_message("hi")})
}

/// Two OpenAI-speaking accounts, `a` and `b`, each on its own mock.
async fn two_accounts(
    models: Vec<LogicalModel>,
    policies: Vec<switchyard::domain::Policy>,
    edit: impl FnOnce(&mut [switchyard::domain::ProviderAccount; 2]),
) -> (TestApp, MockProvider, MockProvider) {
    two_accounts_on(spawn_app().await, models, policies, edit).await
}

async fn two_accounts_on(
    app: TestApp,
    models: Vec<LogicalModel>,
    policies: Vec<switchyard::domain::Policy>,
    edit: impl FnOnce(&mut [switchyard::domain::ProviderAccount; 2]),
) -> (TestApp, MockProvider, MockProvider) {
    let a = MockProvider::start(ProviderKind::Openai).await.unwrap();
    let b = MockProvider::start(ProviderKind::Openai).await.unwrap();
    let mut accounts = [
        account("a", ProviderKind::Openai),
        account("b", ProviderKind::Openai),
    ];
    edit(&mut accounts);
    let [account_a, account_b] = accounts;
    let mut config = snapshot(vec![(account_a, &a), (account_b, &b)], models, policies);
    // Hundreds of requests on two shared cores: the default timeouts, so a slow moment of the
    // machine is not mistaken for a provider timeout.
    for connection in config.connections.values_mut() {
        connection.timeouts = switchyard::providers::Timeouts::default();
    }
    app.state.config.replace(config);
    (app, a, b)
}

/// Sends `n` requests, 8 at a time, and counts them by the account that answered; every
/// attempts header must contain `strategy`.
async fn served_by(app: &TestApp, model: &str, n: usize, strategy: &str) -> HashMap<String, usize> {
    let responses: Vec<(u16, String, String)> = futures_util::stream::iter(0..n)
        .map(|_| async {
            let response = app.chat(hello(model)).await;
            (
                response.status().as_u16(),
                header(&response, "x-switchyard-account").to_string(),
                header(&response, "x-switchyard-attempts").to_string(),
            )
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut counts = HashMap::new();
    for (status, account, attempts) in responses {
        assert_eq!(status, 200, "{attempts}");
        assert!(attempts.contains(strategy), "{attempts}");
        *counts.entry(account).or_default() += 1;
    }
    counts
}

/// 400 draws at 3:1: one standard deviation is 8.7 requests, so ±40 is more than 4.5 of them.
fn assert_three_to_one(counts: &HashMap<String, usize>, three: &str, one: &str) {
    let (x, y) = (counts[three], counts[one]);
    assert_eq!(x + y, 400, "{counts:?}");
    assert!(
        (260..=340).contains(&x),
        "expected about 300 on {three}: {counts:?}"
    );
}

#[tokio::test]
async fn weighted_targets_split_three_to_one() {
    let mut m = model(
        "primary-llm",
        all_capabilities(),
        &[("a", "gpt-4o"), ("b", "gpt-4o")],
    );
    m.strategy = Strategy::Weighted;
    m.targets[0].weight = 3;
    let (app, a, b) = two_accounts(vec![m], vec![], |_| {}).await;
    let counts = served_by(&app, "primary-llm", 400, "1; weighted; ").await;
    assert_three_to_one(&counts, "a", "b");
    assert_eq!(a.requests().len() + b.requests().len(), 400);
}

#[tokio::test]
async fn a_canary_split_sends_each_arm_its_share_and_reports_each_arms_figures() {
    canary_split(spawn_app().await).await;
}

/// The per-arm sums on PostgreSQL, which sums BIGINT columns as NUMERIC.
#[tokio::test]
async fn a_canary_split_on_postgres() {
    let (url, name) = postgres_database().await;
    canary_split(spawn_app_with(&[("DATABASE_URL", &url)]).await).await;
    drop_postgres_database(&name).await;
}

async fn canary_split(app: TestApp) {
    let current = model("m-current", all_capabilities(), &[("a", "gpt-4o")]);
    let candidate = model("m-candidate", all_capabilities(), &[("b", "gpt-4o-mini")]);
    let mut canary = policy("canary", &[], 5, 30);
    canary.route.clear();
    canary.split = vec![
        SplitArm {
            route: vec!["m-current".into()],
            weight: 3,
        },
        SplitArm {
            route: vec!["m-candidate".into(), "m-current".into()],
            weight: 1,
        },
    ];
    let (app, _a, b) = two_accounts_on(app, vec![current, candidate], vec![canary], |_| {}).await;
    b.push(MockReply::error(500, "candidate broke"));
    let counts = served_by(&app, "m-current", 400, "; ordered, arm m-").await;
    // The candidate's one failure fell back to the current model, inside the candidate arm.
    let on_candidate = counts["b"] + 1;
    assert!((60..=140).contains(&on_candidate), "{counts:?}");

    app.state.telemetry.flush().await;
    let browser = app.admin_browser().await;
    let arms: Value = app
        .server_fn(&browser, "policy_arm_stats")
        .await
        .json()
        .await
        .unwrap();
    let arms = arms.as_array().unwrap();
    assert_eq!(arms.len(), 2, "{arms:?}");
    assert_eq!(arms[0]["arm"], "m-current");
    assert_eq!(arms[0]["share_percent"], 75.0);
    assert_eq!(arms[1]["arm"], "m-candidate");
    let requests: Vec<u64> = arms
        .iter()
        .map(|a| a["requests"].as_u64().unwrap())
        .collect();
    assert_eq!(requests[0] + requests[1], 400);
    assert_eq!(requests[1], on_candidate as u64, "{arms:?}");
    for arm in arms {
        assert_eq!(arm["successes"], arm["requests"], "{arm}");
        assert!(arm["avg_latency_ms"].as_u64().is_some(), "{arm}");
        assert!(arm["cost"].as_i64().unwrap() > 0, "{arm}");
    }
    // gpt-4o-mini costs a sixteenth of gpt-4o per token: the comparison the page is for.
    let per_request =
        |arm: &Value| arm["cost"].as_f64().unwrap() / arm["requests"].as_f64().unwrap();
    assert!(
        per_request(&arms[1]) < per_request(&arms[0]) / 5.0,
        "{arms:?}"
    );
}

#[tokio::test]
async fn cheapest_takes_the_traffic_until_its_budget_is_reached() {
    let mut m = model(
        "primary-llm",
        all_capabilities(),
        &[("a", "gpt-4o"), ("b", "gpt-4o-mini")],
    );
    m.strategy = Strategy::Cheapest;
    // A mock answer (12 prompt and 7 completion tokens) costs 6 µ$ on gpt-4o-mini: five fit.
    let (app, a, b) = two_accounts(vec![m], vec![], |accounts| {
        accounts[1].monthly_budget = Some(Money::from_micros(30));
    })
    .await;
    let mut served = Vec::new();
    for _ in 0..8 {
        let response = app.chat(hello("primary-llm")).await;
        assert_eq!(response.status(), 200);
        served.push(header(&response, "x-switchyard-account").to_string());
        if served.len() == 8 {
            let attempts = header(&response, "x-switchyard-attempts");
            assert!(
                attempts.starts_with("1; cheapest; b/gpt-4o-mini skipped (monthly budget used up"),
                "{attempts}"
            );
        }
    }
    assert_eq!(served, ["b", "b", "b", "b", "b", "a", "a", "a"]);
    assert_eq!((a.requests().len(), b.requests().len()), (3, 5));
}

#[tokio::test]
async fn a_slow_target_loses_its_place_under_lowest_latency_and_wins_it_back() {
    let mut m = model(
        "primary-llm",
        all_capabilities(),
        &[("a", "gpt-4o"), ("b", "gpt-4o")],
    );
    m.strategy = Strategy::LowestLatency;
    let (app, a, b) = two_accounts(vec![m], vec![], |_| {}).await;
    // `b` is steadily 15 ms slower than a healthy `a`.
    for _ in 0..3_000 {
        b.push(MockReply::text("b").after(Duration::from_millis(15)));
    }
    let send = async || {
        let response = app.chat(hello("primary-llm")).await;
        assert_eq!(response.status(), 200);
        let attempts = header(&response, "x-switchyard-attempts").to_string();
        assert!(attempts.starts_with("1; lowest_latency; "), "{attempts}");
        header(&response, "x-switchyard-account").to_string()
    };
    // Both get measured (an unmeasured target goes first), then `a` leads.
    for _ in 0..5 {
        send().await;
    }
    let mut warm = Vec::new();
    for _ in 0..40 {
        warm.push(send().await);
    }
    assert!(warm.iter().filter(|s| *s == "a").count() >= 30, "{warm:?}");

    // `a` turns slow: it loses first place after its first slow answer and is only tried
    // again by exploration (5 %), so `b` takes nearly all of the next 100 requests.
    for _ in 0..100 {
        a.push(MockReply::text("slow a").after(Duration::from_millis(200)));
    }
    let mut slow_phase = Vec::new();
    for _ in 0..100 {
        slow_phase.push(send().await);
    }
    let on_b = slow_phase.iter().filter(|s| *s == "b").count();
    assert!(
        on_b >= 80,
        "b should take the traffic while a is slow: {on_b} of 100"
    );
    a.clear_replies();

    // `a` is fast again: exploration measures it, and it wins first place back.
    let mut recovery = Vec::new();
    loop {
        recovery.push(send().await);
        let last: Vec<&String> = recovery.iter().rev().take(20).collect();
        if last.len() == 20 && last.iter().filter(|s| ***s == "a").count() >= 17 {
            break;
        }
        assert!(recovery.len() < 1_500, "a never won its place back");
    }
}

#[tokio::test]
async fn retries_repeat_the_same_target_before_falling_back() {
    let mut m = model(
        "primary-llm",
        all_capabilities(),
        &[("a", "gpt-4o"), ("b", "gpt-4o")],
    );
    m.retries = 2;
    let (app, a, b) = two_accounts(
        vec![m],
        vec![policy("main", &["primary-llm"], 100, 30)],
        |_| {},
    )
    .await;
    // Answers first, so the failures below leave `a` degraded at worst, never unhealthy
    // (which would move it behind `b`).
    for _ in 0..20 {
        assert_eq!(app.chat(hello("primary-llm")).await.status(), 200);
    }

    // A 500 then an answer: one retry on `a`, no fallback.
    a.push(MockReply::error(500, "blip"));
    let response = app.chat(hello("primary-llm")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-switchyard-account"), "a");
    let attempts = header(&response, "x-switchyard-attempts").to_string();
    assert!(
        attempts.starts_with("2; ordered; a/gpt-4o failed ("),
        "{attempts}"
    );
    assert!(attempts.contains("; a/gpt-4o retried after "), "{attempts}");
    assert!(attempts.ends_with("; a/gpt-4o ok"), "{attempts}");

    // Three 503s: the first call and both retries fail, then `b` answers.
    for _ in 0..3 {
        a.push(MockReply::error(503, "down"));
    }
    let response = app.chat(hello("primary-llm")).await;
    assert_eq!(header(&response, "x-switchyard-account"), "b");
    assert!(header(&response, "x-switchyard-attempts").starts_with("4; "));

    // A 429 asking for a longer wait than the backoff: straight to `b`.
    a.push(MockReply::error(429, "slow down"));
    let response = app.chat(hello("primary-llm")).await;
    assert_eq!(header(&response, "x-switchyard-account"), "b");
    assert!(header(&response, "x-switchyard-attempts").starts_with("2; "));

    // A bad request is the app's: returned as is, never retried.
    a.push(MockReply::error(400, "bad field"));
    let response = app.chat(hello("primary-llm")).await;
    assert_eq!(response.status(), 400);

    // A stream that breaks after its first token is not retried: the app has seen output.
    a.push(MockReply::cut_stream("partial"));
    let response = app
        .chat(json!({"model": "primary-llm", "messages": user_message("hi"), "stream": true}))
        .await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(body.contains("partial") && body.contains("error"), "{body}");

    assert_eq!(a.requests().len(), 20 + 2 + 3 + 1 + 1 + 1);
    assert_eq!(b.requests().len(), 2);
    let stats = app.state.live.policy_stats("main");
    assert_eq!(stats.retries, 3);
    assert_eq!(stats.matches, 25);
    let metrics = metrics_text(&app).await;
    assert!(
        metrics
            .lines()
            .any(|l| l == "switchyard_policy_retries_total{policy=\"main\"} 3"),
        "{metrics}"
    );
}
