use crate::helpers::{
    client, error_of, spawn_app, spawn_app_with, spawn_app_with_admin, Backend, TestDatabase,
    ADMIN, SETUP_TOKEN,
};
use crate::on_both_databases;
use serde_json::json;

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("switchyard_session="))
        .map(str::to_string)
}

async fn first_admin_needs_the_setup_token(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let app = spawn_app(&db).await;

    assert!(app.setup_needed().await);

    let wrong = app
        .call(
            "setup_admin",
            &[
                ("token", "guess"),
                ("username", "eve"),
                ("password", "password-123"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 403);

    let weak = app
        .call(
            "setup_admin",
            &[
                ("token", SETUP_TOKEN),
                ("username", "root"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(weak.status(), 400);
    assert_eq!(error_of(weak).await["Invalid"]["field"], "password");

    let created = app.setup_admin().await;
    assert_eq!(created.status(), 200);
    let me = app.current_user(&app.client).await;
    assert_eq!(me["username"], ADMIN.0);
    assert_eq!(me["role"], "admin");

    // The token is single-use in effect: once a user exists, setup is refused.
    let again = app
        .call(
            "setup_admin",
            &[
                ("token", SETUP_TOKEN),
                ("username", "second"),
                ("password", "password-123"),
            ],
        )
        .await;
    assert_eq!(again.status(), 403);
    assert!(!app.setup_needed().await);
}
on_both_databases!(first_admin_needs_the_setup_token);

async fn config_file_creates_the_first_admin(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let file = db.data_dir.path().join("switchyard.yaml");
    std::fs::write(
        &file,
        "admin: { username: Ops, password: env:SY_TEST_ADMIN_PW }\n",
    )
    .unwrap();
    std::env::set_var("SY_TEST_ADMIN_PW", "from-the-environment");
    let app = spawn_app_with(
        &db,
        &[("SWITCHYARD_CONFIG", file.to_str().unwrap())],
        client(),
    )
    .await;
    assert_eq!(app.login("ops", "from-the-environment").await.status(), 200);
    assert!(!app.setup_needed().await);
}
on_both_databases!(config_file_creates_the_first_admin);

async fn wrong_password_and_unknown_user_get_the_same_answer(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let app = spawn_app_with_admin(&db).await;
    let stranger = client();

    let wrong = app
        .call_as(
            &stranger,
            "login",
            &[("username", ADMIN.0), ("password", "not-the-password")],
        )
        .await;
    let unknown = app
        .call_as(
            &stranger,
            "login",
            &[("username", "nobody"), ("password", "not-the-password")],
        )
        .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert!(session_cookie(&wrong).is_none());
    assert_eq!(wrong.text().await.unwrap(), unknown.text().await.unwrap());
}
on_both_databases!(wrong_password_and_unknown_user_get_the_same_answer);

async fn login_sets_a_safe_cookie_with_a_new_session_id(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let app = spawn_app_with_admin(&db).await;

    let first = app.login(ADMIN.0, ADMIN.1).await;
    assert_eq!(first.status(), 200);
    let cookie = session_cookie(&first).expect("login sets the session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "Secure only when configured: {cookie}"
    );

    let second = app.login(ADMIN.0, ADMIN.1).await;
    let renewed = session_cookie(&second).expect("a new id at every login");
    assert_ne!(cookie.split(';').next(), renewed.split(';').next());

    // Log out: the session is gone, and the server functions say so.
    assert_eq!(app.call("logout", &[]).await.status(), 200);
    let me = app.current_user(&app.client).await;
    assert_eq!(me, json!(null));
    assert_eq!(app.call("list_users", &[]).await.status(), 401);
}
on_both_databases!(login_sets_a_safe_cookie_with_a_new_session_id);

async fn secure_cookies_when_configured(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let app = spawn_app_with(&db, &[("SWITCHYARD_SECURE_COOKIES", "true")], client()).await;
    let created = app.setup_admin().await;
    let cookie = session_cookie(&created).unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}
on_both_databases!(secure_cookies_when_configured);

async fn repeated_failures_are_throttled(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let app = spawn_app_with_admin(&db).await;
    let attacker = client();
    for _ in 0..5 {
        let response = app
            .call_as(
                &attacker,
                "login",
                &[("username", ADMIN.0), ("password", "guess-guess")],
            )
            .await;
        assert_eq!(response.status(), 401);
    }
    // Even the right password is refused now, with a clear message.
    let blocked = app
        .call_as(
            &attacker,
            "login",
            &[("username", ADMIN.0), ("password", ADMIN.1)],
        )
        .await;
    assert_eq!(blocked.status(), 429);
    let message = error_of(blocked).await["TooManyRequests"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("Too many failed sign-ins"), "{message}");
    // Another user name from the same address is not affected.
    let other = app
        .call_as(
            &attacker,
            "login",
            &[("username", "someone-else"), ("password", "guess-guess")],
        )
        .await;
    assert_eq!(other.status(), 401);
}
on_both_databases!(repeated_failures_are_throttled);

async fn cross_site_posts_are_refused(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let app = spawn_app_with_admin(&db).await;
    let forged = app
        .client
        .post(app.url("/api/create_user"))
        .header("origin", "https://evil.example")
        .form(&[
            ("username", "mallory"),
            ("password", "password-123"),
            ("role", "admin"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let forged = app
        .client
        .post(app.url("/api/logout"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    // Still signed in, and mallory was not created.
    let users = app
        .call("list_users", &[])
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(users.as_array().unwrap().len(), 1);
    // The same request from the dashboard's own origin goes through.
    let same = app
        .client
        .post(app.url("/api/list_users"))
        .header("origin", format!("http://{}", app.addr))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 200);
}
on_both_databases!(cross_site_posts_are_refused);

async fn a_session_survives_a_restart(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let app = spawn_app_with_admin(&db).await;
    let browser = app.stop().await;

    let restarted = spawn_app_with(&db, &[], browser).await;
    let me = restarted.current_user(&restarted.client).await;
    assert_eq!(me["username"], ADMIN.0);
    assert_eq!(restarted.call("list_users", &[]).await.status(), 200);
}
on_both_databases!(a_session_survives_a_restart);
