use crate::helpers::{spawn_app, Backend, TestDatabase};
use crate::on_both_databases;

async fn health_endpoints_answer_without_login(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let app = spawn_app(&db).await;

    let alive = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(alive.status(), 200);
    assert_eq!(alive.text().await.unwrap(), "ok");

    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().await.unwrap(), "ready");
}
on_both_databases!(health_endpoints_answer_without_login);

async fn pages_need_a_login(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let app = spawn_app(&db).await;
    // No user yet: every page leads to the setup page.
    let page = app.client.get(app.url("/users")).send().await.unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/setup");
    let setup = app.client.get(app.url("/setup")).send().await.unwrap();
    assert_eq!(setup.status(), 200);

    assert_eq!(app.setup_admin().await.status(), 200);
    let page = app.client.get(app.url("/users")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Switchyard") && html.contains("Users"),
        "{html}"
    );

    // Another browser, not signed in, goes to the login page.
    let stranger = crate::helpers::client();
    let page = stranger.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/login");

    let missing = app
        .client
        .get(app.url("/no-such-page"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}
on_both_databases!(pages_need_a_login);
