use crate::helpers::{client, error_of, spawn_app_with_admin, Backend, TestDatabase};
use crate::on_both_databases;
use serde_json::Value;

/// Stores an alert as the telemetry writer does.
async fn insert_alert(pool: &sqlx::AnyPool, account: &str, month: &str, threshold: i64, at: i64) {
    sqlx::query(
        "INSERT INTO alerts (id, kind, account, month, threshold, message, created_at) \
         VALUES ($1, 'budget', $2, $3, $4, $5, $6)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(account)
    .bind(month)
    .bind(threshold)
    .bind(format!(
        "{account} reached {threshold}% of its monthly budget"
    ))
    .bind(at)
    .execute(pool)
    .await
    .unwrap();
}

fn this_month() -> String {
    chrono::Utc::now().format("%Y-%m").to_string()
}

async fn every_role_reads_alerts_newest_first(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let app = spawn_app_with_admin(&db).await;
    app.create_user("vera", "viewer-password", "viewer").await;
    let viewer = app.signed_in_browser("vera", "viewer-password").await;

    let anonymous = client();
    for endpoint in ["list_alerts", "budget_banner"] {
        let response = app.call_as(&anonymous, endpoint, &[]).await;
        assert_eq!(response.status(), 401, "{endpoint}");
    }
    let empty: Vec<Value> = app
        .call_as(&viewer, "list_alerts", &[])
        .await
        .json()
        .await
        .unwrap();
    assert!(empty.is_empty());

    let pool = &app.state.db.pool;
    insert_alert(pool, "openai-main", "2026-10", 50, 1_000).await;
    insert_alert(pool, "openai-main", "2026-10", 80, 3_000).await;
    insert_alert(pool, "claude", "2026-10", 50, 2_000).await;
    let response = app.call_as(&viewer, "list_alerts", &[]).await;
    assert_eq!(response.status(), 200);
    let alerts: Vec<Value> = response.json().await.unwrap();
    let order: Vec<(&str, i64)> = alerts
        .iter()
        .map(|a| {
            (
                a["account"].as_str().unwrap(),
                a["threshold"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        order,
        vec![("openai-main", 80), ("claude", 50), ("openai-main", 50)]
    );
    assert_eq!(alerts[0]["kind"], "budget");
    assert_eq!(alerts[0]["month"], "2026-10");
    assert_eq!(alerts[0]["at"], 3_000);
    assert_eq!(
        alerts[0]["message"],
        "openai-main reached 80% of its monthly budget"
    );
}
on_both_databases!(every_role_reads_alerts_newest_first);

async fn the_banner_names_each_accounts_highest_threshold_this_month(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let app = spawn_app_with_admin(&db).await;
    let none: Vec<Value> = app.call("budget_banner", &[]).await.json().await.unwrap();
    assert!(none.is_empty());

    let pool = &app.state.db.pool;
    let month = this_month();
    insert_alert(pool, "openai-main", &month, 50, 1).await;
    insert_alert(pool, "openai-main", &month, 80, 2).await;
    insert_alert(pool, "claude", &month, 50, 3).await;
    // An earlier month no longer shows.
    insert_alert(pool, "mistral", "2020-01", 100, 4).await;
    let response = app.call("budget_banner", &[]).await;
    assert_eq!(response.status(), 200);
    let banner: Vec<Value> = response.json().await.unwrap();
    assert_eq!(
        banner,
        vec![
            serde_json::json!({"account": "claude", "key": false, "threshold": 50}),
            serde_json::json!({"account": "openai-main", "key": false, "threshold": 80}),
        ]
    );
}
on_both_databases!(the_banner_names_each_accounts_highest_threshold_this_month);

async fn only_admins_see_and_set_the_webhook(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let app = spawn_app_with_admin(&db).await;
    app.create_user("ed", "editor-password", "editor").await;
    let editor = app.signed_in_browser("ed", "editor-password").await;
    for (endpoint, form) in [
        ("get_alert_webhook", vec![]),
        (
            "set_alert_webhook",
            vec![("url", "https://hooks.example.com/x")],
        ),
    ] {
        let response = app.call_as(&editor, endpoint, &form).await;
        assert_eq!(response.status(), 403, "{endpoint}");
    }

    let bad = app
        .call("set_alert_webhook", &[("url", "hooks.example.com")])
        .await;
    assert_eq!(bad.status(), 400);
    assert!(error_of(bad).await["Invalid"]["field"] == "url");

    let url = "https://hooks.example.com/services/T000/SECRET-TOKEN";
    let saved = app.call("set_alert_webhook", &[("url", url)]).await;
    assert_eq!(saved.status(), 200);
    let current: Option<String> = app
        .call("get_alert_webhook", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(current.as_deref(), Some(url));

    // The audit log names the change but not the URL's token.
    let (actor, after): (String, String) = sqlx::query_as(
        "SELECT actor, after_json FROM audit_log WHERE entity_kind = 'alert-webhook'",
    )
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(actor, "admin");
    assert!(after.contains("hooks.example.com"), "{after}");
    assert!(!after.contains("SECRET-TOKEN"), "{after}");

    let cleared = app.call("set_alert_webhook", &[("url", " ")]).await;
    assert_eq!(cleared.status(), 200);
    let current: Option<String> = app
        .call("get_alert_webhook", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(current, None);
}
on_both_databases!(only_admins_see_and_set_the_webhook);
