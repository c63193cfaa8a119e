use crate::helpers::{client, error_of, spawn_app_with_admin, Backend, TestDatabase, ADMIN};
use crate::on_both_databases;

async fn roles_are_checked_by_the_server(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let app = spawn_app_with_admin(&db).await;
    app.create_user("vera", "viewer-password", "viewer").await;
    app.create_user("ed", "editor-password", "editor").await;

    let anonymous = client();
    let response = app.call_as(&anonymous, "list_users", &[]).await;
    assert_eq!(response.status(), 401);

    for (name, password) in [("vera", "viewer-password"), ("ed", "editor-password")] {
        let browser = app.signed_in_browser(name, password).await;
        for (endpoint, form) in [
            ("list_users", vec![]),
            (
                "create_user",
                vec![
                    ("username", "x1"),
                    ("password", "password-123"),
                    ("role", "admin"),
                ],
            ),
            ("change_role", vec![("id", "whatever"), ("role", "admin")]),
            (
                "set_user_disabled",
                vec![("id", "whatever"), ("disabled", "true")],
            ),
            (
                "reset_password",
                vec![("id", "whatever"), ("password", "password-123")],
            ),
        ] {
            let response = app.call_as(&browser, endpoint, &form).await;
            assert_eq!(response.status(), 403, "{name} calling {endpoint}");
            let message = error_of(response).await["Forbidden"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(message.contains("admin role"), "{message}");
        }
    }
}
on_both_databases!(roles_are_checked_by_the_server);

async fn admins_manage_users(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let app = spawn_app_with_admin(&db).await;
    let id = app.create_user("Dana", "first-password", "viewer").await;

    // Names are unique, case-insensitively; the error names the field.
    let duplicate = app
        .call(
            "create_user",
            &[
                ("username", "dana"),
                ("password", "password-123"),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(duplicate.status(), 400);
    assert_eq!(error_of(duplicate).await["Invalid"]["field"], "username");
    let bad_role = app
        .call(
            "create_user",
            &[
                ("username", "x2"),
                ("password", "password-123"),
                ("role", "root"),
            ],
        )
        .await;
    assert_eq!(bad_role.status(), 400);

    let dana = app.signed_in_browser("dana", "first-password").await;

    assert_eq!(
        app.call("change_role", &[("id", &id), ("role", "editor")])
            .await
            .status(),
        200
    );
    assert_eq!(app.current_user(&dana).await["role"], "editor");

    // Disabling ends Dana's access at once, including the open session.
    assert_eq!(
        app.call("set_user_disabled", &[("id", &id), ("disabled", "true")])
            .await
            .status(),
        200
    );
    assert_eq!(app.current_user(&dana).await, serde_json::Value::Null);
    assert_eq!(app.login("dana", "first-password").await.status(), 401);

    assert_eq!(
        app.call("set_user_disabled", &[("id", &id), ("disabled", "false")])
            .await
            .status(),
        200
    );
    assert_eq!(
        app.call(
            "reset_password",
            &[("id", &id), ("password", "second-password")]
        )
        .await
        .status(),
        200
    );
    app.signed_in_browser("dana", "second-password").await;

    let unknown = app
        .call("change_role", &[("id", "no-such-id"), ("role", "viewer")])
        .await;
    assert_eq!(unknown.status(), 404);
}
on_both_databases!(admins_manage_users);

async fn the_last_admin_stays(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let app = spawn_app_with_admin(&db).await;
    let users = app
        .call("list_users", &[])
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let admin_id = users[0]["id"].as_str().unwrap().to_string();
    assert_eq!(users[0]["username"], ADMIN.0);

    let demote = app
        .call("change_role", &[("id", &admin_id), ("role", "viewer")])
        .await;
    assert_eq!(demote.status(), 400);
    let disable = app
        .call(
            "set_user_disabled",
            &[("id", &admin_id), ("disabled", "true")],
        )
        .await;
    assert_eq!(disable.status(), 400);

    // With a second admin, the first may step down.
    app.create_user("second", "second-password", "admin").await;
    assert_eq!(
        app.call("change_role", &[("id", &admin_id), ("role", "editor")])
            .await
            .status(),
        200
    );
}
on_both_databases!(the_last_admin_stays);
