//! `spawn_app`: starts Switchyard on port 0 with its own database and a cookie-keeping client.

use reqwest::{Client, Response};
use std::collections::HashMap;
use std::net::SocketAddr;
use switchyard::server::Application;
use switchyard::settings::Settings;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const SETUP_TOKEN: &str = "integration-setup-token";
pub const ADMIN: (&str, &str) = ("admin", "admin-password-1");

/// Runs a test body once against SQLite and once against PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await;
            }
            #[tokio::test]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await;
            }
        }
    };
}

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that lives for one test: a SQLite file in a temp folder, or a PostgreSQL
/// database created on the local server and dropped afterwards.
pub struct TestDatabase {
    pub url: String,
    pub data_dir: TempDir,
    postgres_name: Option<String>,
}

fn postgres_admin_url() -> String {
    std::env::var("SWITCHYARD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => TestDatabase {
                url: format!("sqlite://{}/switchyard.db", data_dir.path().display()),
                data_dir,
                postgres_name: None,
            },
            Backend::Postgres => {
                use sqlx::Connection;
                let name = format!("switchyard_test_{}", uuid::Uuid::new_v4().simple());
                let admin_url = postgres_admin_url();
                let mut conn = sqlx::PgConnection::connect(&admin_url).await.expect(
                    "PostgreSQL must run at 127.0.0.1:5432 (or set SWITCHYARD_TEST_POSTGRES_URL)",
                );
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let base = admin_url.rsplit_once('/').unwrap().0;
                TestDatabase {
                    url: format!("{base}/{name}"),
                    data_dir,
                    postgres_name: Some(name),
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        // Drop runs outside async; a short-lived runtime on its own thread does the cleanup.
        let admin_url = postgres_admin_url();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: Client,
    /// The running app's state: its database and the config snapshot the proxy reads.
    pub state: switchyard::state::AppState,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Calls a server function the way the browser's client does (form-encoded POST).
    pub async fn call(&self, endpoint: &str, form: &[(&str, &str)]) -> Response {
        self.call_as(&self.client, endpoint, form).await
    }

    /// The same, from another browser (its own cookies).
    pub async fn call_as(
        &self,
        browser: &Client,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> Response {
        browser
            .post(self.url(&format!("/api/{endpoint}")))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn setup_needed(&self) -> bool {
        self.call("setup_needed", &[]).await.json().await.unwrap()
    }

    /// Who `browser` is signed in as (JSON null when nobody).
    pub async fn current_user(&self, browser: &Client) -> serde_json::Value {
        self.call_as(browser, "current_user", &[])
            .await
            .json()
            .await
            .unwrap()
    }

    /// A new browser signed in as `username`.
    pub async fn signed_in_browser(&self, username: &str, password: &str) -> Client {
        let browser = client();
        let response = self
            .call_as(
                &browser,
                "login",
                &[("username", username), ("password", password)],
            )
            .await;
        assert_eq!(response.status(), 200, "{username} signs in");
        browser
    }

    pub async fn setup_admin(&self) -> Response {
        self.call(
            "setup_admin",
            &[
                ("token", SETUP_TOKEN),
                ("username", ADMIN.0),
                ("password", ADMIN.1),
            ],
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.call("login", &[("username", username), ("password", password)])
            .await
    }

    /// Creates a user as the signed-in admin and returns its id.
    pub async fn create_user(&self, username: &str, password: &str, role: &str) -> String {
        let response = self
            .call(
                "create_user",
                &[
                    ("username", username),
                    ("password", password),
                    ("role", role),
                ],
            )
            .await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        let user: serde_json::Value = response.json().await.unwrap();
        user["id"].as_str().unwrap().to_string()
    }

    /// Stops accepting, finishes in-flight requests and waits for the server to end.
    pub async fn stop(mut self) -> Client {
        self.shutdown().await;
        self.client.clone()
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

pub fn client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub async fn spawn_app(db: &TestDatabase) -> TestApp {
    spawn_app_with(db, &[], client()).await
}

/// Starts the app with extra environment settings and a given client (its cookies, e.g.
/// from before a restart).
pub async fn spawn_app_with(db: &TestDatabase, env: &[(&str, &str)], client: Client) -> TestApp {
    let mut vars: HashMap<String, String> = [
        ("SWITCHYARD_ADDR", "127.0.0.1:0"),
        ("DATABASE_URL", db.url.as_str()),
        ("SWITCHYARD_DATA_DIR", db.data_dir.path().to_str().unwrap()),
        ("SWITCHYARD_SETUP_TOKEN", SETUP_TOKEN),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in env {
        vars.insert(k.to_string(), v.to_string());
    }
    let settings = Settings::from_lookup(|name| vars.get(name).cloned()).unwrap();
    let app = Application::build(settings).await.unwrap();
    let addr = app.local_addr().unwrap();
    let state = app.state().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.run_until(async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    TestApp {
        addr,
        client,
        state,
        stop: Some(stop),
        server: Some(server),
    }
}

/// A fresh app whose first admin exists and is signed in on `app.client`.
pub async fn spawn_app_with_admin(db: &TestDatabase) -> TestApp {
    let app = spawn_app(db).await;
    let response = app.setup_admin().await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    app
}

pub async fn error_of(response: Response) -> serde_json::Value {
    response.json().await.unwrap()
}
