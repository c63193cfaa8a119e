//! Every registered server function refuses a caller without the role it needs. The list comes
//! from the server-function registry itself, so a new function that is not in `REQUIRED` fails
//! this test until someone decides who may call it.

use crate::helpers::*;
use reqwest::Client;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Needs {
    /// Sign-in and setup: callable without a session, and safe that way.
    Public,
    Viewer,
    Editor,
    Admin,
}

/// Each endpoint, the least role that may call it, and arguments that get past decoding.
fn required() -> Vec<(&'static str, Needs, Value)> {
    use Needs::*;
    let account = json!({"account": {
        "name": "main", "kind": "openai", "base_url": "http://127.0.0.1:9", "enabled": true,
        "rpm_limit": null, "tpm_limit": null, "monthly_budget_usd": null, "soft_budget": false,
        "alert_thresholds": [50, 80, 100], "azure": null, "api_key": null}});
    let model = json!({"model": {
        "name": "m", "description": "", "capabilities": [],
        "defaults": {"temperature": null, "max_tokens": null, "top_p": null, "stop": []},
        "targets": [{"account": "main", "model": "gpt-4o"}]}});
    let policy = json!({"policy": {
        "name": "p", "priority": 1, "enabled": true,
        "match": {"step_types": [], "purposes": [], "logical_models": []},
        "route": ["m"], "circuit_breaker": {"failure_threshold": 3, "recovery_seconds": 20}}});
    let price = json!({"price": {"kind": "openai", "model": "gpt-x",
        "input_per_mtok_usd": 1.0, "output_per_mtok_usd": 2.0}});
    vec![
        ("login", Public, json!({"username": "x", "password": "y"})),
        ("logout", Public, json!({})),
        ("current_user", Public, json!({})),
        ("login_options", Public, json!({})),
        ("setup_needed", Public, json!({})),
        (
            "setup_admin",
            Public,
            json!({"token": "t", "username": "u", "password": "p"}),
        ),
        ("list_alerts", Viewer, json!({})),
        ("budget_banner", Viewer, json!({})),
        ("alert_banner", Viewer, json!({})),
        ("acknowledge_alert", Editor, json!({"id": "none"})),
        ("get_alert_webhook", Admin, json!({})),
        ("set_alert_webhook", Admin, json!({"url": ""})),
        ("list_users", Admin, json!({})),
        (
            "create_user",
            Admin,
            json!({"username": "zed", "password": "password-1234", "role": "viewer"}),
        ),
        ("change_role", Admin, json!({"id": "x", "role": "viewer"})),
        (
            "set_user_disabled",
            Admin,
            json!({"id": "x", "disabled": "true"}),
        ),
        (
            "reset_password",
            Admin,
            json!({"id": "x", "password": "password-1234"}),
        ),
        ("list_audit", Viewer, json!({"limit": null})),
        ("audit_actors", Viewer, json!({})),
        ("list_keys", Viewer, json!({})),
        (
            "create_key",
            Admin,
            json!({"name": "k", "models": [], "expires_at": null}),
        ),
        ("revoke_key", Admin, json!({"name": "k"})),
        (
            "rotate_key",
            Admin,
            json!({"name": "k", "overlap_hours": 24}),
        ),
        (
            "update_key",
            Admin,
            json!({"name": "k", "models": [], "expires_at": null,
                "governance": {"rpm_limit": 10, "team": "ml"}}),
        ),
        ("list_models", Viewer, json!({})),
        ("save_model", Editor, model),
        ("delete_model", Editor, json!({"name": "m"})),
        ("list_accounts", Viewer, json!({})),
        ("save_account", Editor, account),
        ("delete_account", Admin, json!({"name": "main"})),
        ("test_account", Editor, json!({"name": "main"})),
        ("account_live_status", Viewer, json!({})),
        ("list_policies", Viewer, json!({})),
        ("save_policy", Editor, policy),
        ("delete_policy", Editor, json!({"name": "p"})),
        (
            "which_policy",
            Viewer,
            json!({"step_type": "inference", "purpose": "chat", "model": "m"}),
        ),
        ("policy_live_status", Viewer, json!({})),
        ("policy_arm_stats", Viewer, json!({})),
        (
            "window_overview",
            Viewer,
            json!({"window": "Hour1", "scope": "All"}),
        ),
        ("keys_and_cache", Viewer, json!({"window": "Hour1"})),
        (
            "request_log",
            Viewer,
            json!({"filter": {"window": null, "key": "", "model": "", "policy": "",
                "account": "", "status": "", "streamed": ""}, "after": null}),
        ),
        ("list_prices", Viewer, json!({})),
        ("save_price", Editor, price),
        (
            "delete_price",
            Editor,
            json!({"kind": "openai", "model": "gpt-x"}),
        ),
    ]
}

/// Calls `endpoint` as JSON, or form-encoded when the function takes forms.
async fn call(app: &TestApp, browser: &Client, endpoint: &str, args: &Value) -> (u16, String) {
    let url = app.url(&format!("/api/{endpoint}"));
    let response = browser.post(&url).json(args).send().await.unwrap();
    let status = response.status().as_u16();
    if status != 400 {
        return (status, response.text().await.unwrap());
    }
    let form: Vec<(String, String)> = args
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.as_str().map_or(v.to_string(), str::to_string)))
        .collect();
    let response = browser.post(&url).form(&form).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn every_server_function_refuses_the_wrong_role() {
    let db = TestDatabase::new(Backend::Sqlite).await;
    let app = spawn_app_with_admin(&db).await;
    app.create_user("eddie", "password-1234", "editor").await;
    app.create_user("vera", "password-1234", "viewer").await;
    let editor = app.signed_in_browser("eddie", "password-1234").await;
    let viewer = app.signed_in_browser("vera", "password-1234").await;
    let nobody = client();

    let table = required();
    let mut registered: Vec<&str> = server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.trim_start_matches("/api/"))
        .collect();
    registered.sort_unstable();
    assert!(registered.len() >= table.len() - 1, "{registered:?}");
    for endpoint in &registered {
        let Some((_, needs, args)) = table.iter().find(|(e, _, _)| e == endpoint) else {
            panic!("server function {endpoint} is not in REQUIRED: decide which role may call it");
        };
        if *needs == Needs::Public {
            continue;
        }
        let (status, body) = call(&app, &nobody, endpoint, args).await;
        assert_eq!(status, 401, "anonymous {endpoint}: {body}");
        let below: &[(&str, &Client)] = match needs {
            Needs::Viewer | Needs::Public => &[],
            Needs::Editor => &[("viewer", &viewer)],
            Needs::Admin => &[("viewer", &viewer), ("editor", &editor)],
        };
        for (role, browser) in below {
            let (status, body) = call(&app, browser, endpoint, args).await;
            assert_eq!(status, 403, "{role} {endpoint}: {body}");
        }
        // Nothing secret in what even an admin gets back, but the new gateway key, shown once.
        let (_, body) = call(&app, &app.client, endpoint, args).await;
        if *endpoint != "create_key" {
            assert!(
                !body.contains("sk-sy-") && !body.contains("$argon2"),
                "{endpoint}: {body}"
            );
        }
    }
}

#[tokio::test]
async fn rotating_the_master_key_reencrypts_every_credential_and_the_app_still_opens_them() {
    let db = TestDatabase::new(Backend::Sqlite).await;
    let app = spawn_app_with_admin(&db).await;
    for name in ["one", "two"] {
        let response = app
            .client
            .post(app.url("/api/save_account"))
            .json(&json!({"account": {
                "name": name, "kind": "openai", "base_url": "http://127.0.0.1:9", "enabled": true,
                "rpm_limit": null, "tpm_limit": null, "monthly_budget_usd": null,
                "soft_budget": false, "alert_thresholds": [50, 80, 100], "azure": null,
                "api_key": format!("sk-provider-{name}-secret")}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }
    let client = app.stop().await;
    let key_file = db.data_dir.path().join("master.key");
    let old_key = std::fs::read_to_string(&key_file).unwrap();
    let sealed_before: Vec<(String,)> =
        sqlx::query_as("SELECT api_key_encrypted FROM provider_accounts ORDER BY name")
            .fetch_all(&sqlx::AnyPool::connect(&db.url).await.unwrap())
            .await
            .unwrap();

    let settings = switchyard::settings::Settings::from_lookup(|name| match name {
        "DATABASE_URL" => Some(db.url.clone()),
        "SWITCHYARD_DATA_DIR" => Some(db.data_dir.path().display().to_string()),
        _ => None,
    })
    .unwrap();
    let rotated = switchyard::cli::rotate_master_key_with(&settings)
        .await
        .unwrap();
    assert_eq!(rotated.credentials, 2);
    assert_ne!(std::fs::read_to_string(&key_file).unwrap(), old_key);

    // Restarted on the new key, the stored credentials open: the snapshot has them.
    let app = spawn_app_with(&db, &[], client).await;
    let snapshot = app.state.config.load();
    for name in ["one", "two"] {
        assert_eq!(
            snapshot.connections[name].api_key.expose(),
            format!("sk-provider-{name}-secret")
        );
    }
    let sealed_after: Vec<(String,)> =
        sqlx::query_as("SELECT api_key_encrypted FROM provider_accounts ORDER BY name")
            .fetch_all(&app.state.db.pool)
            .await
            .unwrap();
    assert_ne!(sealed_before, sealed_after);
    // The old key no longer opens them.
    let old = switchyard::store::cipher::CredentialCipher::load(
        Some(&switchyard::providers::Secret::new(old_key.trim())),
        db.data_dir.path(),
    )
    .unwrap();
    assert!(old.decrypt(&sealed_after[0].0).is_err());
}

/// Every place in `value` a leaf (or an empty container) sits, as JSON pointers.
fn leaf_pointers(value: &Value, at: String, into: &mut Vec<String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                leaf_pointers(v, format!("{at}/{k}"), into);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                leaf_pointers(v, format!("{at}/{i}"), into);
            }
        }
        _ => into.push(at),
    }
}

/// Forms and server functions answer bad input with a 4xx, never a 500: every argument of every
/// function in the table, in turn, replaced by a value of the wrong type, out of range, empty or
/// huge, sent by an admin (who gets past every role check); and bodies that are not JSON at all.
#[tokio::test]
async fn bad_values_are_refused_never_a_server_error() {
    let db = TestDatabase::new(Backend::Sqlite).await;
    let app = spawn_app_with_admin(&db).await;
    let huge = "x".repeat(20_000);
    let bad_values = [
        Value::Null,
        json!(-1),
        json!(1e300),
        json!(u64::MAX),
        json!(""),
        json!(huge),
        json!("\u{0}<script>"),
        json!([]),
        json!({"unexpected": 1}),
        json!(true),
    ];
    let mut calls = 0;
    for (endpoint, needs, args) in required() {
        // Signing out or in would change the admin's session under the rest of the test.
        if needs == Needs::Public {
            continue;
        }
        let url = app.url(&format!("/api/{endpoint}"));
        let mut pointers = Vec::new();
        leaf_pointers(&args, String::new(), &mut pointers);
        for pointer in pointers.iter().filter(|p| !p.is_empty()) {
            for bad in &bad_values {
                let mut sent = args.clone();
                *sent.pointer_mut(pointer).unwrap() = bad.clone();
                let response = app.client.post(&url).json(&sent).send().await.unwrap();
                let status = response.status().as_u16();
                let body = response.text().await.unwrap();
                assert!(
                    status < 500,
                    "{endpoint} with {pointer} = {}: {status} {body}",
                    &bad.to_string()[..bad.to_string().len().min(40)]
                );
                calls += 1;
            }
        }
        for raw in ["{not json", "", "[]", "null"] {
            let response = app
                .client
                .post(&url)
                .header("content-type", "application/json")
                .body(raw)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            assert!(
                status < 500,
                "{endpoint} with body {raw:?}: {status} {}",
                response.text().await.unwrap()
            );
            calls += 1;
        }
    }
    assert!(calls > 500, "only {calls} calls");
}
