//! Several instances sharing one database behave as one for configuration (DESIGN §7): a change
//! made on one (a dashboard server function) or by `switchyard apply` from a process of its own
//! is served by the others within a second, and a change made while an instance's connection to
//! PostgreSQL was cut is served once it is back. On SQLite, an apply from another process is
//! noticed by the running instance, and so is a restore that takes the version back. Every
//! response and `/metrics` name the instance.

use crate::helpers::*;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

/// Shared by every instance of a fleet: each must open the credentials the others sealed.
const MASTER_KEY: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
/// What the issue asks for a change to reach every instance.
const WITHIN: Duration = Duration::from_secs(1);

async fn models_status(app: &TestApp, key: &str) -> u16 {
    app.models(key).await.status().as_u16()
}

/// Waits until `app` accepts the gateway key `key` (401 until then), failing after `within`.
async fn serves_within(app: &TestApp, key: &str, within: Duration) {
    answers_within(app, key, 200, within).await;
}

/// Waits until `/v1/models` with `key` answers `status` on `app` (200 or 401), failing after
/// `within`.
async fn answers_within(app: &TestApp, key: &str, status: u16, within: Duration) {
    let start = Instant::now();
    loop {
        match models_status(app, key).await {
            answer if answer == status => return,
            200 | 401 => {}
            other => panic!("{}: /v1/models answered {other}", app.address),
        }
        assert!(
            start.elapsed() < within,
            "{} did not answer {status} for the key within {within:?}",
            app.address
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Creates a gateway key through the dashboard's server function on `app`; returns its text.
async fn create_key(app: &TestApp, browser: &reqwest::Client, name: &str) -> String {
    let response = browser
        .post(format!("{}/api/create_key", app.address))
        .json(&json!({"name": name, "models": [], "expires_at": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let created: serde_json::Value = response.json().await.unwrap();
    created["key"].as_str().unwrap().to_string()
}

/// `switchyard apply` run as an operator runs it, in a process of its own with `env`, on a
/// file in `dir` adding the gateway key `key` named `name`.
async fn apply_key(dir: &Path, name: &str, key: &str, env: &[(&str, &str)]) {
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &file,
        format!("keys:\n  - {{ name: {name}, key: {key} }}\n"),
    )
    .unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("apply")
        .arg(&file)
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "switchyard apply failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// One instance of the fleet on `database_url`, named `id`.
async fn instance(database_url: &str, id: &str) -> TestApp {
    spawn_app_with(&[
        ("DATABASE_URL", database_url),
        ("SWITCHYARD_MASTER_KEY", MASTER_KEY),
        ("SWITCHYARD_INSTANCE_ID", id),
    ])
    .await
}

fn instance_of(response: &reqwest::Response) -> String {
    header(response, "x-switchyard-instance").to_string()
}

#[tokio::test]
async fn config_changes_reach_every_instance_sharing_postgres() {
    let (url, name) = postgres_database().await;
    let relay = CuttableRelay::to_postgres().await;
    let through_relay = relay.url_for(&url);
    let a = instance(&url, "gw-a").await;
    let b = instance(&url, "gw-b").await;
    // Every connection of the third instance, the listening one too, goes through the relay.
    let c = instance(&through_relay, "gw-c").await;
    let fleet = [&a, &b, &c];

    // Each response names the instance that gave it; so does /metrics.
    for (app, id) in fleet.iter().zip(["gw-a", "gw-b", "gw-c"]) {
        let health = app
            .client
            .get(format!("{}/healthz", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(instance_of(&health), id);
        let info = format!(
            "switchyard_instance_info{{instance_id=\"{id}\",version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        assert!(metrics_text(app).await.contains(&info), "{info}");
    }

    // A change made in the dashboard of one instance is served by the others within a second.
    let browser = a.admin_browser().await;
    let first = create_key(&a, &browser, "first").await;
    let response = a.models(&first).await;
    assert_eq!(response.status(), 200, "the instance that made the change");
    assert_eq!(instance_of(&response), "gw-a");
    serves_within(&b, &first, WITHIN).await;
    serves_within(&c, &first, WITHIN).await;

    // So is one made by `switchyard apply`, from a process of its own.
    let applied = "sk-sy-applied-0123456789abcdef";
    let dir = a.state.settings.data_dir.as_path();
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("SWITCHYARD_MASTER_KEY", MASTER_KEY),
        ("SWITCHYARD_DATA_DIR", dir.to_str().unwrap()),
    ];
    apply_key(dir, "applied", applied, &env).await;
    for app in fleet {
        serves_within(app, applied, WITHIN).await;
    }

    // The third instance loses PostgreSQL (its listening connection with the rest); a change
    // is made meanwhile. It keeps serving what it had, and the change once it is back.
    relay.cut();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let meanwhile = create_key(&a, &browser, "meanwhile").await;
    serves_within(&b, &meanwhile, WITHIN).await;
    assert_eq!(models_status(&c, &first).await, 200, "serves from memory");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        models_status(&c, &meanwhile).await,
        401,
        "nothing reached the cut instance"
    );
    relay.restore();
    // Reconnecting is retried every second; well under the 30 s periodic check.
    serves_within(&c, &meanwhile, Duration::from_secs(5)).await;

    // Three changes, and every instance serves the third.
    for app in fleet {
        assert_eq!(metric(app, "switchyard_config_version").await, 3);
    }

    for app in [a, b, c] {
        app.stop().await;
    }
    drop_postgres_database(&name).await;
}

#[tokio::test]
async fn a_running_instance_on_sqlite_notices_switchyard_apply() {
    let app = spawn_app().await;
    let key = "sk-sy-applied-0123456789abcdef";
    assert_eq!(models_status(&app, key).await, 401);
    // No master key set: the command finds the app's key file beside the SQLite file.
    let database_url = app.state.settings.database_url.as_str();
    apply_key(
        &app.state.settings.data_dir,
        "applied",
        key,
        &[("DATABASE_URL", database_url)],
    )
    .await;
    serves_within(&app, key, WITHIN).await;
    assert_eq!(metric(&app, "switchyard_config_version").await, 1);
    // A restore from a backup taken before the apply: the version goes back, and the instance
    // serves what was restored.
    sqlx::query("DELETE FROM api_keys WHERE name = 'applied'")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE config_version SET version = 0")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    answers_within(&app, key, 401, WITHIN).await;
    assert_eq!(metric(&app, "switchyard_config_version").await, 0);
    // Without SWITCHYARD_INSTANCE_ID the instance is named by its host and port.
    let port = app.address.rsplit(':').next().unwrap();
    let response = app.models(key).await;
    assert!(
        instance_of(&response).ends_with(&format!(":{port}")),
        "{}",
        instance_of(&response)
    );
    app.stop().await;
}
