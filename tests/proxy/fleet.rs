//! Several instances behave as one: instances on different ports share one PostgreSQL database
//! and, through `REDIS_URL`, their rate windows, budgets and circuits, so traffic spread across
//! them is held to exactly what one instance would allow. Each test has its own key prefix in
//! the machine's Redis, so tests running side by side share nothing.

use crate::helpers::*;
use futures_util::future::join_all;
use serde_json::{json, Value};
use std::time::Duration;
use switchyard::domain::{KeyLimits, Money, ProviderKind};
use switchyard::providers::mock::{MockProvider, MockReply};
use switchyard::snapshot::ConfigSnapshot;

const REDIS: &str = "redis://127.0.0.1:6379";
const BUDGETED: &str = "sk-sy-budgeted-0123456789abcdef";

fn hello() -> Value {
    json!({"model": "primary-llm", "messages": user_message("hi"), "max_tokens": 10})
}

/// Instances sharing one fresh PostgreSQL database and one Redis key prefix.
struct Fleet {
    apps: Vec<TestApp>,
    database: String,
    prefix: String,
}

/// A fleet of `n` instances, each started with `vars` on top.
async fn fleet(n: usize, redis_url: &str, vars: &[(&str, &str)]) -> Fleet {
    let (database_url, database) = postgres_database().await;
    let prefix = format!("switchyard-test:{}:", uuid::Uuid::new_v4().simple());
    let mut env = vec![
        ("DATABASE_URL", database_url.as_str()),
        ("REDIS_URL", redis_url),
        ("SWITCHYARD_REDIS_PREFIX", prefix.as_str()),
        // A busy test machine is not an unreachable Redis.
        ("SWITCHYARD_REDIS_TIMEOUT_MS", "2000"),
    ];
    env.extend_from_slice(vars);
    let mut apps = Vec::new();
    for _ in 0..n {
        apps.push(spawn_app_with(&env).await);
    }
    Fleet {
        apps,
        database,
        prefix,
    }
}

impl Fleet {
    /// Drops the database and the test's keys in the machine's Redis.
    async fn end(self) {
        drop_postgres_database(&self.database).await;
        self.forget_keys().await;
    }

    /// Deletes the test's keys in the machine's Redis, as a flush or a new Redis would.
    async fn forget_keys(&self) {
        let client = redis::Client::open(REDIS).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query_async(&mut conn)
            .await
            .unwrap();
        if !keys.is_empty() {
            redis::cmd("DEL")
                .arg(keys)
                .query_async::<()>(&mut conn)
                .await
                .unwrap();
        }
    }
}

/// Gives every instance the configuration `make` builds.
fn configure(apps: &[TestApp], make: impl Fn() -> ConfigSnapshot) {
    for app in apps {
        app.state.config.replace(make());
    }
}

/// Sends `n` requests at once, spread round-robin over the instances; returns their statuses.
async fn spread(apps: &[TestApp], key: &str, n: usize) -> Vec<u16> {
    let calls = (0..n).map(|i| {
        let app = &apps[i % apps.len()];
        async move { app.chat_with_key(key, hello()).await.status().as_u16() }
    });
    join_all(calls).await
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// What `read` gives once it gives `expected` (instances read the fleet's figures once a
/// second), or after three seconds.
async fn eventually<T: PartialEq>(read: impl Fn() -> T, expected: T) -> T {
    for _ in 0..30 {
        let value = read();
        if value == expected {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    read()
}

/// Settlements reach Redis on their own task, after the answer.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn an_accounts_rpm_limit_holds_across_three_instances() {
    let fleet = fleet(3, REDIS, &[]).await;
    let apps = &fleet.apps;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    configure(apps, || {
        patient(one_account_snapshot_with(&mock, |main| {
            main.rpm_limit = Some(4);
        }))
    });
    let statuses = spread(apps, KEY, 15).await;
    assert_eq!(count(&statuses, 200), 4, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 11, "{statuses:?}");
    assert_eq!(mock.requests().len(), 4, "upstream calls within the limit");
    // Each instance alone saw at most a third of the traffic, yet refuses the next one too,
    // saying when the window has room again.
    for app in apps {
        let refused = app.chat(hello()).await;
        assert_eq!(refused.status(), 429);
        let wait: u64 = header(&refused, "retry-after").parse().unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
    }
    fleet.end().await;
}

#[tokio::test]
async fn an_accounts_tpm_limit_holds_across_instances_reserving_then_correcting() {
    let fleet = fleet(2, REDIS, &[]).await;
    let apps = &fleet.apps;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    configure(apps, || {
        patient(one_account_snapshot_with(&mock, |main| {
            main.tpm_limit = Some(100);
        }))
    });
    // Each call reserves 25 tokens (a 5-token prompt and max_tokens 20) and uses 19: whatever
    // the order, four fit in 100 and a fifth does not, as on one instance.
    let body = json!({"model": "primary-llm", "messages": user_message("hi"), "max_tokens": 20});
    let calls = (0..10).map(|i| {
        let (app, body) = (&apps[i % 2], body.clone());
        async move { app.chat(body).await.status().as_u16() }
    });
    let statuses = join_all(calls).await;
    assert_eq!(count(&statuses, 200), 4, "{statuses:?}");
    assert_eq!(mock.requests().len(), 4);
    settle().await;
    // Corrected to the 76 tokens used: 25 more do not fit.
    assert_eq!(apps[1].chat(body).await.status(), 429);
    let tokens = || {
        let now = chrono::Utc::now().timestamp_millis() as u64;
        apps[0]
            .state
            .live
            .account_view("main", now)
            .tokens_last_minute
    };
    assert_eq!(eventually(tokens, 76).await, 76);
    fleet.end().await;
}

#[tokio::test]
async fn an_accounts_hard_budget_holds_across_instances() {
    let fleet = fleet(2, REDIS, &[]).await;
    let apps = &fleet.apps;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    configure(apps, || {
        patient(one_account_snapshot_with(&mock, |main| {
            main.monthly_budget = Some(Money::from_micros(300));
        }))
    });
    let statuses = spread(apps, KEY, 10).await;
    assert_eq!(count(&statuses, 200), 3, "{statuses:?}");
    assert_eq!(count(&statuses, 503), 7, "{statuses:?}");
    assert_eq!(mock.requests().len(), 3);
    fleet.end().await;
}

#[tokio::test]
async fn a_keys_hard_budget_holds_to_the_cent_under_concurrent_traffic() {
    let fleet = fleet(2, REDIS, &[]).await;
    let apps = &fleet.apps;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    // A call costs 100 µ$ (12 + 7 tokens of gpt-4o); at most 113 µ$ by the estimate, held
    // against the budget while the call runs.
    configure(apps, || {
        let mut config = patient(one_account_snapshot(&mock));
        add_key(
            &mut config,
            BUDGETED,
            "budgeted",
            KeyLimits {
                monthly_budget: Some(Money::from_micros(300)),
                ..KeyLimits::default()
            },
        );
        config
    });
    let statuses = spread(apps, BUDGETED, 12).await;
    // One instance serving them one by one would serve three (0, 100 and 200 µ$ spent before
    // each) and stop at exactly the budget; concurrency across instances changes nothing.
    assert_eq!(count(&statuses, 200), 3, "{statuses:?}");
    assert_eq!(count(&statuses, 402), 9, "{statuses:?}");
    assert_eq!(mock.requests().len(), 3);
    settle().await;
    for app in apps {
        assert_eq!(app.chat_with_key(BUDGETED, hello()).await.status(), 402);
    }
    for app in apps {
        app.state.telemetry.flush().await;
    }
    let spent: i64 = apps[0]
        .usage_rows()
        .await
        .iter()
        .filter(|row| row.1 == 200)
        .map(|row| row.4)
        .sum();
    assert_eq!(spent, 300, "the ledger, to the micro-dollar");
    // Every instance follows the fleet's spend, whether it served the calls or not.
    for app in apps {
        let spent = || {
            let now = chrono::Utc::now().timestamp_millis() as u64;
            app.state.live.key_spent("budgeted", now)
        };
        assert_eq!(
            eventually(spent, Money::from_micros(300)).await,
            Money::from_micros(300)
        );
    }
    // A flushed Redis starts the counter again from what the instances know, not from zero.
    fleet.forget_keys().await;
    assert_eq!(apps[1].chat_with_key(BUDGETED, hello()).await.status(), 402);
    fleet.end().await;
}

#[tokio::test]
async fn a_circuit_opened_on_one_instance_is_honoured_by_the_other_with_one_trial() {
    let fleet = fleet(2, REDIS, &[]).await;
    let apps = &fleet.apps;
    let first = MockProvider::start(ProviderKind::Openai).await.unwrap();
    let second = MockProvider::start(ProviderKind::Anthropic).await.unwrap();
    configure(apps, || {
        patient(two_targets_config(
            &first,
            &second,
            vec![policy("main", &["primary-llm"], 2, 1)],
        ))
    });
    first.push(MockReply::error(500, "down"));
    first.push(MockReply::error(500, "down"));
    for _ in 0..2 {
        let response = apps[0].chat(hello()).await;
        assert_eq!(header(&response, "x-switchyard-account"), "second");
    }
    settle().await;
    let response = apps[1].chat(hello()).await;
    let attempts = header(&response, "x-switchyard-attempts").to_string();
    assert!(
        attempts.starts_with("1; ordered; first/gpt-4o skipped (circuit open until"),
        "{attempts}"
    );
    assert_eq!(first.requests().len(), 2);

    // After the recovery window, requests on both instances at once: one trial fleet-wide.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    first.push(MockReply::text("trial").after(Duration::from_millis(600)));
    let calls = (0..6).map(|i| {
        let app = &apps[i % 2];
        async move {
            let response = app.chat(hello()).await;
            header(&response, "x-switchyard-account").to_string()
        }
    });
    let served = join_all(calls).await;
    assert_eq!(
        served.iter().filter(|a| *a == "first").count(),
        1,
        "{served:?}"
    );
    assert_eq!(first.requests().len(), 3);
    // The trial's success closed the circuit for the whole fleet.
    settle().await;
    for app in apps {
        let response = app.chat(hello()).await;
        assert_eq!(header(&response, "x-switchyard-account"), "first");
    }
    assert_eq!(second.requests().len(), 2 + 1 + 5);
    fleet.end().await;
}

async fn wait_for_metric(app: &TestApp, name: &str, value: u64) {
    for _ in 0..100 {
        if metric(app, name).await == value {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} never became {value}");
}

#[tokio::test]
async fn with_redis_gone_fail_closed_refuses_and_recovers_by_itself() {
    let relay = CuttableRelay::to_redis().await;
    let fleet = fleet(
        2,
        &relay.url_for(REDIS),
        &[("SWITCHYARD_REDIS_FAILURE", "closed")],
    )
    .await;
    let apps = &fleet.apps;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    configure(apps, || patient(one_account_snapshot(&mock)));
    assert_eq!(spread(apps, KEY, 2).await, vec![200, 200]);

    relay.cut();
    let refused = apps[0].chat(hello()).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(header(&refused, "retry-after"), "1");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "shared_limits_unavailable", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("Redis"),
        "{body}"
    );
    wait_for_metric(&apps[0], "switchyard_fleet_redis_up", 0).await;
    assert!(metric(&apps[0], "switchyard_fleet_redis_fallbacks_total").await >= 1);
    assert_eq!(mock.requests().len(), 2, "nothing reached the provider");
    let alert = wait_for_redis_alert(&apps[0], false).await;
    assert!(
        alert.contains("requests are refused until it is back"),
        "{alert}"
    );

    relay.restore();
    wait_for_metric(&apps[0], "switchyard_fleet_redis_up", 1).await;
    assert_eq!(apps[0].chat(hello()).await.status(), 200);
    wait_for_redis_alert(&apps[0], true).await;
    fleet.end().await;
}

/// The message of the alert raised while Redis could not be reached, once it is open (or
/// resolved, with `resolved`).
async fn wait_for_redis_alert(app: &TestApp, resolved: bool) -> String {
    for _ in 0..50 {
        let alerts: Vec<(String, Option<i64>)> = sqlx::query_as(
            "SELECT message, resolved_at FROM alerts WHERE kind = 'redis_unreachable'",
        )
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
        if let Some((message, _)) = alerts.into_iter().find(|(_, at)| at.is_some() == resolved) {
            return message;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no redis_unreachable alert (resolved: {resolved})");
}

#[tokio::test]
async fn with_redis_gone_fail_open_serves_on_local_limits_but_budgets_fail_closed() {
    let relay = CuttableRelay::to_redis().await;
    let fleet = fleet(2, &relay.url_for(REDIS), &[]).await;
    let apps = &fleet.apps;
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    configure(apps, || {
        let mut limited = account("main", ProviderKind::Openai);
        limited.rpm_limit = Some(3);
        let mut config = patient(snapshot(
            vec![(limited, &mock)],
            vec![model(
                "primary-llm",
                all_capabilities(),
                &[("main", "gpt-4o")],
            )],
            vec![],
        ));
        add_key(
            &mut config,
            BUDGETED,
            "budgeted",
            KeyLimits {
                monthly_budget: Some(Money::from_dollars(10.0)),
                ..KeyLimits::default()
            },
        );
        config
    });
    let (one, two) = (&apps[0], &apps[1]);
    assert_eq!(one.chat(hello()).await.status(), 200);

    relay.cut();
    // The instance's own window still counts the call made before: two more fit.
    assert_eq!(one.chat(hello()).await.status(), 200);
    assert_eq!(one.chat(hello()).await.status(), 200);
    assert_eq!(one.chat(hello()).await.status(), 429);
    let refused = one.chat_with_key(BUDGETED, hello()).await;
    assert_eq!(
        refused.status(),
        429,
        "a hard budget is never checked alone"
    );
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("hard budget"),
        "{body}"
    );
    assert_eq!(metric(one, "switchyard_fleet_redis_up").await, 0);
    assert!(metric(one, "switchyard_fleet_redis_fallbacks_total").await >= 4);

    relay.restore();
    wait_for_metric(one, "switchyard_fleet_redis_up", 1).await;
    wait_for_metric(two, "switchyard_fleet_redis_up", 1).await;
    settle().await;
    // The calls made while Redis was gone were counted in it once it came back: the other
    // instance, which served none of them, finds the window full and the spend counted.
    assert_eq!(two.chat(hello()).await.status(), 429);
    assert_eq!(mock.requests().len(), 3);
    let spent = || {
        let now = chrono::Utc::now().timestamp_millis() as u64;
        two.state.live.account_spent("main", now)
    };
    assert_eq!(
        eventually(spent, Money::from_micros(300)).await,
        Money::from_micros(300)
    );
    fleet.end().await;
}

async fn sign_in(client: &reqwest::Client, app: &TestApp, password: &str) -> u16 {
    client
        .post(format!("{}/api/login", app.address))
        .form(&[("username", "admin"), ("password", password)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn failed_sign_ins_are_counted_across_the_fleet() {
    let fleet = fleet(2, REDIS, &[]).await;
    let apps = &fleet.apps;
    apps[0].admin_browser().await;
    let attacker = reqwest::Client::new();
    for i in 0..5 {
        assert_eq!(sign_in(&attacker, &apps[i % 2], "guess-guess").await, 401);
    }
    // Five failures spread over two instances: each alone saw fewer than the limit.
    for app in apps {
        assert_eq!(sign_in(&attacker, app, "admin-password-1").await, 429);
    }
    fleet.end().await;
}
