//! The configuration server functions called over HTTP as each role, as the browser calls them:
//! role checks, field errors, the snapshot swap after each commit, and that no response, log
//! line or export ever carries a provider credential.

use crate::helpers::{client, spawn_app_with_admin, Backend, TestApp, TestDatabase};
use crate::on_both_databases;
use reqwest::Client;
use serde_json::{json, Value};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use switchyard::domain::ProviderKind;
use switchyard::providers::mock::{MockProvider, MOCK_API_KEY};

const PROVIDER_KEY: &str = "sk-PLAINTEXT-provider-key-7777";

/// Every log line of the test process, to search for leaked secrets.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_writer(move || Capture(sink.clone()))
            .try_init();
        logs
    })
    .clone()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A browser calling the JSON-encoded configuration server functions.
struct Caller<'a> {
    app: &'a TestApp,
    browser: Client,
}

impl Caller<'_> {
    /// Returns the status and the body text.
    async fn call(&self, endpoint: &str, args: Value) -> (u16, String) {
        let response = self
            .browser
            .post(self.app.url(&format!("/api/{endpoint}")))
            .json(&args)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn ok(&self, endpoint: &str, args: Value) -> Value {
        let (status, body) = self.call(endpoint, args).await;
        assert_eq!(status, 200, "{endpoint}: {body}");
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }

    async fn page(&self, path: &str) -> String {
        self.browser
            .get(self.app.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// An admin (the app's own client), an editor and a viewer, each signed in.
async fn team(app: &TestApp) -> (Caller<'_>, Caller<'_>, Caller<'_>) {
    app.create_user("eddie", "password-1234", "editor").await;
    app.create_user("vera", "password-1234", "viewer").await;
    (
        Caller {
            app,
            browser: app.client.clone(),
        },
        Caller {
            app,
            browser: app.signed_in_browser("eddie", "password-1234").await,
        },
        Caller {
            app,
            browser: app.signed_in_browser("vera", "password-1234").await,
        },
    )
}

fn account(name: &str, base_url: &str, api_key: Option<&str>) -> Value {
    json!({
        "name": name, "kind": "openai", "base_url": base_url, "enabled": true,
        "rpm_limit": 500, "tpm_limit": null, "monthly_budget_usd": 100.0, "soft_budget": false,
        "alert_thresholds": [50, 80, 100], "azure": null, "api_key": api_key,
    })
}

fn model(name: &str, targets: &[(&str, &str)]) -> Value {
    json!({
        "name": name, "description": "", "capabilities": ["streaming"],
        "defaults": { "temperature": 0.2, "max_tokens": 256, "top_p": null, "stop": [] },
        "targets": targets.iter().map(|(a, m)| json!({"account": a, "model": m})).collect::<Vec<_>>(),
    })
}

fn policy(name: &str, route: &[&str]) -> Value {
    json!({
        "name": name, "priority": 10, "enabled": true,
        "match": { "step_types": ["extraction"], "purposes": [], "logical_models": [] },
        "route": route, "circuit_breaker": { "failure_threshold": 3, "recovery_seconds": 20 },
    })
}

fn field_of(body: &str) -> String {
    let error: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    error["Invalid"]["field"].as_str().unwrap_or("").to_string()
}

async fn every_role_gets_exactly_its_rights(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let app = spawn_app_with_admin(&db).await;
    let (admin, editor, viewer) = team(&app).await;
    let nobody = Caller {
        app: &app,
        browser: client(),
    };

    // Editors set up everything but credentials.
    editor
        .ok(
            "save_account",
            json!({"account": account("main", "http://127.0.0.1:9", None)}),
        )
        .await;
    editor
        .ok(
            "save_model",
            json!({"model": model("primary-llm", &[("main", "gpt-4o")])}),
        )
        .await;
    editor
        .ok(
            "save_policy",
            json!({"policy": policy("extract", &["primary-llm"])}),
        )
        .await;
    editor
        .ok("save_price", json!({"price": {"kind": "openai", "model": "gpt-x", "input_per_mtok_usd": 1.0, "output_per_mtok_usd": 2.0}}))
        .await;

    let writes: Vec<(&str, Value)> = vec![
        (
            "save_account",
            json!({"original_name": "main", "account": account("main", "http://127.0.0.1:9", Some(PROVIDER_KEY))}),
        ),
        (
            "save_model",
            json!({"model": model("other", &[("main", "gpt-4o")])}),
        ),
        ("delete_model", json!({"name": "primary-llm"})),
        (
            "save_policy",
            json!({"policy": policy("p2", &["primary-llm"])}),
        ),
        ("delete_policy", json!({"name": "extract"})),
        (
            "save_price",
            json!({"price": {"kind": "openai", "model": "gpt-y", "input_per_mtok_usd": 1.0, "output_per_mtok_usd": 2.0}}),
        ),
        ("delete_price", json!({"kind": "openai", "model": "gpt-x"})),
        (
            "create_key",
            json!({"name": "app", "models": [], "expires_at": null}),
        ),
        ("revoke_key", json!({"name": "app"})),
        ("delete_account", json!({"name": "main"})),
        ("test_account", json!({"name": "main"})),
    ];
    for (endpoint, args) in &writes {
        let (status, body) = viewer.call(endpoint, args.clone()).await;
        assert_eq!(status, 403, "viewer {endpoint}: {body}");
        let (status, _) = nobody.call(endpoint, args.clone()).await;
        assert_eq!(status, 401, "anonymous {endpoint}");
    }
    for endpoint in ["save_account", "create_key", "revoke_key", "delete_account"] {
        let args = writes
            .iter()
            .find(|(e, _)| *e == endpoint)
            .unwrap()
            .1
            .clone();
        let (status, body) = editor.call(endpoint, args).await;
        assert_eq!(status, 403, "editor {endpoint}: {body}");
    }
    for reader in [&viewer, &editor, &admin] {
        for endpoint in [
            "list_models",
            "list_accounts",
            "list_policies",
            "list_keys",
            "list_prices",
            "list_audit",
        ] {
            reader.ok(endpoint, json!({})).await;
        }
    }
    for endpoint in ["list_models", "list_accounts", "list_audit"] {
        assert_eq!(nobody.call(endpoint, json!({})).await.0, 401);
    }

    // Admins set credentials and manage keys.
    admin.ok("save_account", writes[0].1.clone()).await;
    let created = admin.ok("create_key", writes[7].1.clone()).await;
    assert!(created["key"].as_str().unwrap().starts_with("sk-sy-"));
    admin.ok("revoke_key", json!({"name": "app"})).await;
    let keys = viewer.ok("list_keys", json!({})).await;
    assert_eq!(keys[0]["revoked"], true);
    assert!(!keys.to_string().contains(created["key"].as_str().unwrap()));
}

async fn committed_changes_swap_the_snapshot_at_once(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let app = spawn_app_with_admin(&db).await;
    let (admin, editor, _) = team(&app).await;
    assert!(app
        .state
        .config
        .load()
        .routing
        .logical_model("primary-llm")
        .is_none());

    admin
        .ok(
            "save_account",
            json!({"account": account("main", "http://127.0.0.1:9", Some(PROVIDER_KEY))}),
        )
        .await;
    editor
        .ok(
            "save_model",
            json!({"model": model("primary-llm", &[("main", "gpt-4o")])}),
        )
        .await;
    let snapshot = app.state.config.load();
    assert!(snapshot.routing.logical_model("primary-llm").is_some());
    assert_eq!(snapshot.connections["main"].api_key.expose(), PROVIDER_KEY);

    let created = admin
        .ok(
            "create_key",
            json!({"name": "app", "models": ["primary-llm"], "expires_at": null}),
        )
        .await;
    let hash = switchyard::snapshot::hash_gateway_key(created["key"].as_str().unwrap());
    assert!(app
        .state
        .config
        .load()
        .keys
        .get(&hash)
        .unwrap()
        .allows("primary-llm"));
    admin.ok("revoke_key", json!({"name": "app"})).await;
    assert!(!app.state.config.load().keys.contains_key(&hash));

    // Deleting a model is refused while a policy routes to it.
    editor
        .ok(
            "save_policy",
            json!({"policy": policy("extract", &["primary-llm"])}),
        )
        .await;
    let (status, body) = editor
        .call("delete_model", json!({"name": "primary-llm"}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("extract"), "{body}");
    assert!(app
        .state
        .config
        .load()
        .routing
        .logical_model("primary-llm")
        .is_some());

    editor.ok("delete_policy", json!({"name": "extract"})).await;
    editor
        .ok("delete_model", json!({"name": "primary-llm"}))
        .await;
    assert!(app
        .state
        .config
        .load()
        .routing
        .logical_model("primary-llm")
        .is_none());

    let audit = editor.ok("list_audit", json!({})).await;
    let actions: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {}",
                e["actor"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["entity_kind"].as_str().unwrap(),
                e["entity_name"].as_str().unwrap()
            )
        })
        .collect();
    for expected in [
        "admin create account main",
        "eddie create model primary-llm",
        "admin create key app",
        "admin revoke key app",
        "eddie delete model primary-llm",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} missing from {actions:?}"
        );
    }
}

async fn invalid_input_is_refused_at_its_field(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let app = spawn_app_with_admin(&db).await;
    let (admin, editor, _) = team(&app).await;
    admin
        .ok(
            "save_account",
            json!({"account": account("main", "http://127.0.0.1:9", None)}),
        )
        .await;
    let mut hot = model("hot", &[("main", "gpt-4o")]);
    hot["defaults"]["temperature"] = json!(5.0);
    let mut eager = model("eager", &[("main", "gpt-4o")]);
    eager["retries"] = json!(9);
    let mut heavy = model("heavy", &[("main", "gpt-4o")]);
    heavy["targets"][0]["weight"] = json!(20_000);
    let mut ghost_arm = policy("p", &[]);
    ghost_arm["split"] =
        json!([{"route": ["hot"], "weight": 1}, {"route": ["ghost"], "weight": 1}]);
    let cases = [
        ("save_model", json!({"model": eager}), "retries"),
        ("save_model", json!({"model": heavy}), "targets[0].weight"),
        (
            "save_policy",
            json!({"policy": ghost_arm}),
            "split[0].route[0]",
        ),
        ("save_model", json!({"model": hot}), "defaults.temperature"),
        ("save_model", json!({"model": model("m", &[])}), "targets"),
        (
            "save_model",
            json!({"model": model("m", &[("nowhere", "x")])}),
            "targets[0].account",
        ),
        (
            "save_model",
            json!({"model": model("Bad Name", &[("main", "x")])}),
            "name",
        ),
        (
            "save_policy",
            json!({"policy": policy("p", &["missing"])}),
            "route[0]",
        ),
        (
            "save_account",
            json!({"account": account("main", "http://x", None)}),
            "name",
        ),
        (
            "save_account",
            json!({"account": account("other", "ftp://x", None)}),
            "base_url",
        ),
        (
            "save_price",
            json!({"price": {"kind": "openai", "model": "m", "input_per_mtok_usd": -1.0, "output_per_mtok_usd": 1.0}}),
            "input_per_mtok_usd",
        ),
    ];
    for (endpoint, args, field) in cases {
        let (status, body) = editor.call(endpoint, args).await;
        assert_eq!(status, 400, "{endpoint} {field}: {body}");
        assert_eq!(field_of(&body), field, "{endpoint}: {body}");
    }
    let (status, body) = admin
        .call(
            "create_key",
            json!({"name": "k", "models": ["nope"], "expires_at": null}),
        )
        .await;
    assert_eq!(
        (status, field_of(&body).as_str()),
        (400, "models"),
        "{body}"
    );
}

async fn provider_keys_never_leave_the_server(backend: Backend) {
    let logs = captured_logs();
    let mock = MockProvider::start(ProviderKind::Openai).await.unwrap();
    let db = TestDatabase::new(backend).await;
    let app = spawn_app_with_admin(&db).await;
    let (admin, editor, viewer) = team(&app).await;
    admin
        .ok(
            "save_account",
            json!({"account": account("main", &mock.base_url(), Some(PROVIDER_KEY))}),
        )
        .await;
    admin
        .ok(
            "save_account",
            json!({"account": account("mocked", &mock.base_url(), Some(MOCK_API_KEY))}),
        )
        .await;
    editor
        .ok(
            "save_model",
            json!({"model": model("primary-llm", &[("main", "gpt-4o"), ("mocked", "gpt-4o")])}),
        )
        .await;
    editor
        .ok(
            "save_policy",
            json!({"policy": policy("extract", &["primary-llm"])}),
        )
        .await;

    // Test connection: the mock accepts only its own key.
    let good = editor.ok("test_account", json!({"name": "mocked"})).await;
    assert_eq!(good["ok"], true, "{good}");
    let bad = editor.ok("test_account", json!({"name": "main"})).await;
    assert_eq!(bad["ok"], false, "{bad}");

    // The tester shows the winning policy and the candidates in order.
    let matched = viewer
        .ok(
            "which_policy",
            json!({"step_type": "extraction", "purpose": "chat", "model": "primary-llm"}),
        )
        .await;
    assert_eq!(matched["policy"], "extract");
    assert_eq!(
        matched["candidates"][0],
        "main/gpt-4o (from primary-llm): listed #1"
    );
    assert_eq!(
        matched["candidates"][1],
        "mocked/gpt-4o (from primary-llm): listed #2"
    );
    assert_eq!(
        matched["strategies"][0],
        "primary-llm: ordered (first available target in the listed order)"
    );
    let unmatched = viewer
        .ok(
            "which_policy",
            json!({"step_type": "inference", "purpose": "chat", "model": "primary-llm"}),
        )
        .await;
    assert_eq!(unmatched["policy"], Value::Null);

    let accounts = viewer.ok("list_accounts", json!({})).await;
    assert_eq!(accounts[0]["api_key_set"], true);
    assert_eq!(accounts[0]["api_key_last4"], "7777");

    let mut seen = String::new();
    for caller in [&admin, &editor, &viewer] {
        for endpoint in ["list_accounts", "list_audit", "list_models", "list_keys"] {
            seen.push_str(&caller.call(endpoint, json!({})).await.1);
        }
        for page in ["/", "/accounts", "/models", "/audit"] {
            seen.push_str(&caller.page(page).await);
        }
    }
    seen.push_str(
        &switchyard::config_file::export(&app.state.db)
            .await
            .unwrap(),
    );
    assert!(
        !seen.contains(PROVIDER_KEY),
        "a response or export carries the key"
    );
    let stored: Vec<(String,)> = sqlx::query_as(
        "SELECT COALESCE(api_key_encrypted, '') || COALESCE(api_key_last4, '') FROM provider_accounts",
    )
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap();
    assert!(stored.iter().all(|(row,)| !row.contains(PROVIDER_KEY)));
    let logs = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    assert!(!logs.is_empty());
    assert!(!logs.contains(PROVIDER_KEY), "a log line carries the key");
}

on_both_databases!(every_role_gets_exactly_its_rights);
on_both_databases!(committed_changes_swap_the_snapshot_at_once);
on_both_databases!(invalid_input_is_refused_at_its_field);
on_both_databases!(provider_keys_never_leave_the_server);
on_both_databases!(strategies_and_splits_are_saved_and_shown_in_the_tester);
on_both_databases!(key_governance_and_model_cache_are_saved_checked_and_enforced);

/// A key's limits, budget and team and a model's cache survive a save and a reload, reach the
/// proxy's snapshot, and bad values come back as field errors, never a 500.
async fn key_governance_and_model_cache_are_saved_checked_and_enforced(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let app = spawn_app_with_admin(&db).await;
    let (admin, editor, viewer) = team(&app).await;
    admin
        .ok(
            "save_account",
            json!({"account": account("main", "http://127.0.0.1:9", None)}),
        )
        .await;
    let mut cached = model("primary-llm", &[("main", "gpt-4o")]);
    cached["cache"] = json!({"ttl_seconds": 600, "scope": "shared"});
    let saved = editor.ok("save_model", json!({"model": cached})).await;
    assert_eq!(
        saved["cache"],
        json!({"ttl_seconds": 600, "scope": "shared", "nonzero_temperature": false})
    );
    let governance = json!({"rpm_limit": 60, "tpm_limit": 90000, "monthly_budget_usd": 25.5,
        "soft_budget": false, "team": "ml-platform"});
    let created = admin
        .ok(
            "create_key",
            json!({"name": "app", "models": [], "expires_at": null, "governance": governance}),
        )
        .await;
    let listed = viewer.ok("list_keys", json!({})).await;
    for field in [
        "rpm_limit",
        "tpm_limit",
        "monthly_budget_usd",
        "soft_budget",
        "team",
    ] {
        assert_eq!(listed[0][field], governance[field], "{field}: {listed}");
    }
    assert_eq!(listed[0]["spent_this_month"], 0);
    let hash = switchyard::snapshot::hash_gateway_key(created["key"].as_str().unwrap());
    let limits = app.state.config.load().keys[&hash].limits.clone();
    assert_eq!(limits.rpm_limit, Some(60));
    assert_eq!(limits.monthly_budget.unwrap().micros(), 25_500_000);
    let changed = admin
        .ok(
            "update_key",
            json!({"name": "app", "models": ["primary-llm"], "expires_at": null,
                "governance": {"monthly_budget_usd": 5.0, "soft_budget": true, "team": "search"}}),
        )
        .await;
    assert_eq!(changed["team"], "search");
    assert_eq!(changed["rpm_limit"], Value::Null);
    let limits = app.state.config.load().keys[&hash].limits.clone();
    assert!(limits.soft_budget && limits.rpm_limit.is_none());
    let model_cache = app
        .state
        .config
        .load()
        .routing
        .logical_model("primary-llm")
        .unwrap()
        .cache;
    assert_eq!(model_cache.unwrap().ttl_seconds, 600);

    let key = |governance: Value| json!({"name": "app", "models": [], "expires_at": null, "governance": governance});
    let cases = [
        ("update_key", key(json!({"rpm_limit": 0})), "rpm_limit"),
        ("update_key", key(json!({"tpm_limit": 0})), "tpm_limit"),
        (
            "update_key",
            key(json!({"monthly_budget_usd": 0.0})),
            "monthly_budget_usd",
        ),
        ("update_key", key(json!({"team": "x".repeat(65)})), "team"),
        (
            "create_key",
            json!({"name": "Bad Name", "models": [], "expires_at": null}),
            "name",
        ),
    ];
    for (endpoint, args, field) in cases {
        let (status, body) = admin.call(endpoint, args).await;
        assert_eq!(status, 400, "{endpoint} {field}: {body}");
        assert_eq!(field_of(&body), field, "{endpoint}: {body}");
    }
    let mut forever = model("forever", &[("main", "gpt-4o")]);
    forever["cache"] = json!({"ttl_seconds": 0});
    let (status, body) = editor.call("save_model", json!({"model": forever})).await;
    assert_eq!(
        (status, field_of(&body).as_str()),
        (400, "cache.ttl_seconds"),
        "{body}"
    );
    // Revoked keys stay as they were.
    admin.ok("revoke_key", json!({"name": "app"})).await;
    let (status, _) = admin.call("update_key", key(json!({}))).await;
    assert_eq!(status, 400);
    // The audit log has the key's new fields, never the key.
    let audit = viewer
        .ok("list_audit", json!({"limit": null}))
        .await
        .to_string();
    assert!(
        audit.contains("ml-platform") && audit.contains("search"),
        "{audit}"
    );
    assert!(!audit.contains(created["key"].as_str().unwrap()));
}

/// A model's strategy, weights and retries and a policy's split arms survive a save and a
/// reload on both databases (the additive migration), and the tester explains the order.
async fn strategies_and_splits_are_saved_and_shown_in_the_tester(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let app = spawn_app_with_admin(&db).await;
    let (admin, editor, viewer) = team(&app).await;
    for name in ["main", "spare"] {
        admin
            .ok(
                "save_account",
                json!({"account": account(name, "http://127.0.0.1:9", None)}),
            )
            .await;
    }
    let mut current = model("m-current", &[("main", "gpt-4o"), ("spare", "gpt-4o")]);
    current["strategy"] = json!("weighted");
    current["targets"][0]["weight"] = json!(3);
    current["retries"] = json!(2);
    editor.ok("save_model", json!({"model": current})).await;
    editor
        .ok(
            "save_model",
            json!({"model": model("m-candidate", &[("spare", "gpt-4o-mini")])}),
        )
        .await;
    let mut canary = policy("canary", &[]);
    canary["split"] = json!([
        {"route": ["m-current"], "weight": 95},
        {"route": ["m-candidate", "m-current"], "weight": 5},
    ]);
    editor.ok("save_policy", json!({"policy": canary})).await;

    let models = viewer.ok("list_models", json!({})).await;
    let saved = models
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "m-current")
        .unwrap();
    assert_eq!(saved["strategy"], "weighted");
    assert_eq!(saved["retries"], 2);
    assert_eq!(saved["targets"][0]["weight"], 3);
    assert_eq!(
        saved["targets"][1].get("weight"),
        None,
        "default weight stays out"
    );
    let policies = viewer.ok("list_policies", json!({})).await;
    assert_eq!(policies[0]["split"][1]["weight"], 5);
    assert_eq!(policies[0].get("route"), None);

    let matched = viewer
        .ok(
            "which_policy",
            json!({"step_type": "extraction", "purpose": "chat", "model": "m-current"}),
        )
        .await;
    assert_eq!(matched["policy"], "canary");
    assert_eq!(
        matched["arms"],
        json!([
            "m-current: weight 95 of 100 (95 %), route m-current",
            "m-candidate: weight 5 of 100 (5 %), route m-candidate → m-current",
        ])
    );
    let arm = matched["arm"].as_str().unwrap();
    assert!(["m-current", "m-candidate"].contains(&arm), "{matched}");
    let candidates = matched["candidates"].to_string();
    assert!(
        candidates.contains("of 4 (75 % of first picks)") || candidates.contains("listed #1"),
        "{matched}"
    );

    let arms = viewer.ok("policy_arm_stats", json!({})).await;
    assert_eq!(arms.as_array().unwrap().len(), 2, "{arms}");
    assert_eq!(arms[0]["requests"], 0);
    assert_eq!(arms[1]["share_percent"], 5.0);
}

const STARTUP_FILE: &str = "
accounts:
  - { name: main, kind: openai, api_key: env:E2E_CONFIG_OPENAI_KEY }
models:
  - name: primary-llm
    targets: [ { account: main, model: gpt-4o } ]
policies:
  - { name: extract, priority: 5, match: { step_types: [extraction] }, route: [primary-llm] }
keys:
  - { name: ci-app, key: sk-sy-from-the-file, models: [primary-llm] }
";

/// `SWITCHYARD_CONFIG` is applied at start-up and the proxy's snapshot holds it; an invalid file
/// stops start-up with a message naming the file and the line, and changes nothing.
async fn the_config_file_is_applied_at_start_up(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let file = db.data_dir.path().join("switchyard.yaml");
    std::fs::write(&file, STARTUP_FILE).unwrap();
    let path = file.to_str().unwrap().to_string();
    std::env::set_var("E2E_CONFIG_OPENAI_KEY", PROVIDER_KEY);
    let app = crate::helpers::spawn_app_with(&db, &[("SWITCHYARD_CONFIG", &path)], client()).await;
    let snapshot = app.state.config.load();
    assert!(snapshot.routing.logical_model("primary-llm").is_some());
    assert_eq!(snapshot.routing.policies()[0].name, "extract");
    assert_eq!(snapshot.connections["main"].api_key.expose(), PROVIDER_KEY);
    assert!(snapshot
        .keys
        .contains_key(&switchyard::snapshot::hash_gateway_key(
            "sk-sy-from-the-file"
        )));
    drop(snapshot);
    app.stop().await;

    std::fs::write(
        &file,
        "models:\n  - name: second\n    targets: [ { account: nowhere, model: x } ]\n",
    )
    .unwrap();
    let vars = [
        ("SWITCHYARD_ADDR", "127.0.0.1:0".to_string()),
        ("DATABASE_URL", db.url.clone()),
        (
            "SWITCHYARD_DATA_DIR",
            db.data_dir.path().display().to_string(),
        ),
        ("SWITCHYARD_CONFIG", path.clone()),
    ];
    let settings = switchyard::settings::Settings::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let error = match switchyard::server::Application::build(settings).await {
        Ok(_) => panic!("an invalid config file must stop start-up"),
        Err(e) => format!("{e:#}"),
    };
    assert!(error.contains("switchyard.yaml, line 2"), "{error}");
    assert!(error.contains("nowhere"), "{error}");
    let mut conn = app_db(&db).await;
    let stored = switchyard::store::config::load(&mut conn).await.unwrap();
    assert!(stored.models.iter().all(|m| m.model.name != "second"));
}

async fn app_db(db: &TestDatabase) -> sqlx::pool::PoolConnection<sqlx::Any> {
    let pool = switchyard::store::Db::connect(&db.url, 1).await.unwrap();
    pool.pool.acquire().await.unwrap()
}

on_both_databases!(the_config_file_is_applied_at_start_up);

on_both_databases!(a_rotated_key_keeps_its_previous_secret_for_the_overlap);

/// `/v1/models` with `key`: the status the proxy's key check gives.
async fn models_status(app: &TestApp, key: &str) -> u16 {
    client()
        .get(app.url("/v1/models"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Rotation gives a new secret at once; the previous one works until its overlap ends (here
/// moved into the past in the database, then reloaded as a restart would), and a rotation
/// without overlap refuses the previous secret at once. A restart keeps all of it.
async fn a_rotated_key_keeps_its_previous_secret_for_the_overlap(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let app = spawn_app_with_admin(&db).await;
    let (admin, editor, _) = team(&app).await;
    let created = admin
        .ok(
            "create_key",
            json!({"name": "app", "models": [], "expires_at": null}),
        )
        .await;
    let first = created["key"].as_str().unwrap().to_string();
    assert_eq!(models_status(&app, &first).await, 200);

    // Only admins rotate; a week is the longest overlap.
    let (status, _) = editor
        .call("rotate_key", json!({"name": "app", "overlap_hours": 24}))
        .await;
    assert_eq!(status, 403);
    let (status, body) = admin
        .call("rotate_key", json!({"name": "app", "overlap_hours": 1000}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("overlap_hours"), "{body}");

    let rotated = admin
        .ok("rotate_key", json!({"name": "app", "overlap_hours": 24}))
        .await;
    let second = rotated["key"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(models_status(&app, &second).await, 200);
    assert_eq!(models_status(&app, &first).await, 200, "the overlap");
    let until = rotated["view"]["previous_valid_until"].as_i64().unwrap();
    let in_a_day = switchyard::store::now_millis() + 24 * 3_600_000;
    assert!((in_a_day - until).abs() < 60_000, "{until}");
    assert!(!rotated["view"].to_string().contains(&first));

    // The overlap ends: the previous secret is refused, the new one still works.
    sqlx::query("UPDATE api_keys SET previous_valid_until = $1")
        .bind(switchyard::store::now_millis() - 1)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let cipher = switchyard::store::cipher::CredentialCipher::load(
        app.state.settings.master_key.as_ref(),
        &app.state.settings.data_dir,
    )
    .unwrap();
    app.state.config.replace(
        switchyard::configuration::load_snapshot(&app.state.db, &cipher)
            .await
            .unwrap(),
    );
    assert_eq!(models_status(&app, &first).await, 401);
    assert_eq!(models_status(&app, &second).await, 200);

    // No overlap: the secret before is refused at once.
    let third = admin
        .ok("rotate_key", json!({"name": "app", "overlap_hours": 0}))
        .await["key"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(models_status(&app, &second).await, 401);
    assert_eq!(models_status(&app, &third).await, 200);
    let audit = admin.ok("list_audit", json!({})).await.to_string();
    assert!(audit.contains("rotate"), "{audit}");
    assert!(!audit.contains(&third) && !audit.contains(&second));
}
