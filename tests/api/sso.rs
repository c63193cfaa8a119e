//! Single sign-on against a real OpenID provider: the certified `oidc-provider` npm package
//! (end2end/oidc/provider.mjs, installed with end2end's packages by scripts/bootstrap.sh),
//! started per test on a free loopback port. Sign-ins go through its own login form.

use crate::helpers::*;
use crate::on_both_databases;
use reqwest::{Client, Response, Url};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The test client registered in provider.mjs.
const CLIENT_ID: &str = "switchyard-test";
const CLIENT_SECRET: &str = "switchyard-test-client-secret";
const IDP_PASSWORD: &str = "idp-password";
const PROVIDER_NAME: &str = "Test IdP";

/// A running oidc-provider; stopped when dropped.
struct TestProvider {
    issuer: String,
    accounts: PathBuf,
    _dir: tempfile::TempDir,
    _process: tokio::process::Child,
}

impl TestProvider {
    /// ada is in ops, grace in ml, mallory in sales (which the role map does not list).
    async fn start(options: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let accounts = dir.path().join("accounts.json");
        std::fs::write(
            &accounts,
            json!({
                "ada": {"groups": ["ops"], "name": "Ada Lovelace"},
                "grace": {"groups": ["ml"]},
                "mallory": {"groups": ["sales"]},
            })
            .to_string(),
        )
        .unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("end2end/oidc/provider.mjs");
        let mut process = tokio::process::Command::new("node")
            .arg(script)
            .arg("--accounts")
            .arg(&accounts)
            .args(options)
            .stdout(Stdio::piped())
            // Its warnings and any crash, for a look when a test fails.
            .stderr(std::fs::File::create(dir.path().join("provider.log")).unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs end2end/oidc/provider.mjs (scripts/bootstrap.sh installs it)");
        let mut lines = BufReader::new(process.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
            .await
            .expect("the provider starts within 20 s")
            .unwrap()
            .expect("the provider prints its issuer (are end2end's npm packages installed?)");
        // Keep reading what it prints, or its next write fails and it stops.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let issuer = serde_json::from_str::<Value>(&line).unwrap()["issuer"]
            .as_str()
            .unwrap()
            .to_string();
        TestProvider {
            issuer,
            accounts,
            _dir: dir,
            _process: process,
        }
    }

    /// Moves `user` to other groups at the provider.
    fn set_groups(&self, user: &str, groups: &[&str]) {
        let mut accounts: Value =
            serde_json::from_str(&std::fs::read_to_string(&self.accounts).unwrap()).unwrap();
        accounts[user]["groups"] = json!(groups);
        std::fs::write(&self.accounts, accounts.to_string()).unwrap();
    }
}

fn sso_env(issuer: &str) -> Vec<(&'static str, String)> {
    vec![
        ("SWITCHYARD_OIDC_ISSUER", issuer.to_string()),
        ("SWITCHYARD_OIDC_CLIENT_ID", CLIENT_ID.to_string()),
        ("SWITCHYARD_OIDC_CLIENT_SECRET", CLIENT_SECRET.to_string()),
        ("SWITCHYARD_OIDC_NAME", PROVIDER_NAME.to_string()),
        (
            "SWITCHYARD_OIDC_ROLE_MAP",
            "ops=admin,ml=editor".to_string(),
        ),
    ]
}

/// Switchyard with single sign-on through `issuer` (and `extra` settings), its first admin
/// signed in on `app.client`.
async fn spawn_sso_app(db: &TestDatabase, issuer: &str, extra: &[(&'static str, &str)]) -> TestApp {
    let mut env = sso_env(issuer);
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(db, &env, client()).await;
    let response = app.setup_admin().await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    app
}

fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location in a {} answer", response.status()))
        .to_str()
        .unwrap()
        .to_string()
}

/// Starts a sign-in in `browser`: Switchyard's answer must send it to the provider.
async fn start_sign_in(app: &TestApp, browser: &Client) -> String {
    let response = browser
        .get(app.url("/auth/oidc/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    location(&response)
}

/// What a person does at the provider: open the authorization URL, fill in its login form
/// with the test password, and follow it back. Returns the callback URL
/// the provider sends the browser to.
async fn at_provider(authorize: &str, login: &str) -> String {
    let idp = client();
    let mut url = Url::parse(authorize).unwrap();
    for _ in 0..10 {
        let response = idp.get(url.clone()).send().await.unwrap();
        if response.status().is_redirection() {
            url = url.join(&location(&response)).unwrap();
            if url.path() == "/auth/oidc/callback" {
                return url.to_string();
            }
            continue;
        }
        let html = response.text().await.unwrap();
        let action = html
            .split("action=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no login form at {url}: {html}"));
        let submitted = idp
            .post(url.join(action).unwrap())
            .form(&[("login", login), ("password", IDP_PASSWORD)])
            .send()
            .await
            .unwrap();
        assert!(
            submitted.status().is_redirection(),
            "{}",
            submitted.status()
        );
        url = url.join(&location(&submitted)).unwrap();
    }
    panic!("the provider never sent the browser back to Switchyard")
}

/// A whole sign-in of `login` in `browser`; Switchyard's answer to the callback.
async fn sign_in_through_provider(app: &TestApp, browser: &Client, login: &str) -> Response {
    let authorize = start_sign_in(app, browser).await;
    let callback = at_provider(&authorize, login).await;
    browser.get(callback).send().await.unwrap()
}

/// Checks the status of an answer, showing its page when it is not the expected one.
async fn page_with_status(response: Response, status: u16) -> String {
    let actual = response.status().as_u16();
    let page = response.text().await.unwrap();
    assert_eq!(actual, status, "{page}");
    page
}

/// The login page as served to someone signed out.
async fn login_page(app: &TestApp) -> String {
    let response = client().get(app.url("/login")).send().await.unwrap();
    response.text().await.unwrap()
}

/// The audit log's entries about users, newest first.
async fn user_audit(app: &TestApp) -> Vec<Value> {
    let response = app
        .client
        .post(app.url("/api/list_audit"))
        .json(
            &json!({"actor": null, "entity_kind": "user", "since": null, "before_at": null,
               "before_id": null, "limit": null}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let entries: Value = response.json().await.unwrap();
    entries.as_array().unwrap().clone()
}

async fn sso_accounts_follow_the_providers_groups(backend: Backend) {
    let provider = TestProvider::start(&[]).await;
    let db = TestDatabase::new(backend).await;
    let app = spawn_sso_app(&db, &provider.issuer, &[]).await;

    // The login page offers the provider, and nothing on it or in the redirect is secret.
    let page = login_page(&app).await;
    assert!(page.contains("Sign in with Test IdP"), "{page}");
    assert!(!page.contains(CLIENT_SECRET));
    let ada = client();
    let authorize = start_sign_in(&app, &ada).await;
    assert!(authorize.starts_with(&provider.issuer), "{authorize}");
    assert!(
        authorize.contains("code_challenge_method=S256"),
        "{authorize}"
    );
    assert!(authorize.contains("nonce="), "{authorize}");
    assert!(!authorize.contains(CLIENT_SECRET));

    // First sign-in: the account is created with the role of the groups.
    let callback = at_provider(&authorize, "ada").await;
    let landed = ada.get(&callback).send().await.unwrap();
    assert_eq!(location(&landed), "/");
    page_with_status(landed, 303).await;
    let me = app.current_user(&ada).await;
    assert_eq!(me["username"], "ada");
    assert_eq!(me["role"], "admin");
    // The callback works once.
    let replayed = client().get(&callback).send().await.unwrap();
    assert_eq!(replayed.status(), 400);

    let grace = client();
    let landed = sign_in_through_provider(&app, &grace, "grace").await;
    page_with_status(landed, 303).await;
    assert_eq!(app.current_user(&grace).await["role"], "editor");

    // Moved to ops at the provider: admin at the next sign-in.
    provider.set_groups("grace", &["ops"]);
    let grace = client();
    page_with_status(sign_in_through_provider(&app, &grace, "grace").await, 303).await;
    assert_eq!(app.current_user(&grace).await["role"], "admin");
    let audit = user_audit(&app).await;
    let role_change = audit
        .iter()
        .find(|e| e["action"] == "update" && e["entity_name"] == "grace")
        .expect("the role change is in the audit log");
    assert_eq!(role_change["actor"], "single-sign-on");
    assert!(role_change["before"].as_str().unwrap().contains("editor"));
    let after = role_change["after"].as_str().unwrap();
    assert!(
        after.contains("admin") && after.contains("\"source\":\"oidc\""),
        "{after}"
    );
    assert!(after.contains("Test IdP"), "{after}");
    assert!(audit
        .iter()
        .any(|e| e["action"] == "create" && e["entity_name"] == "ada"));
    let sign_ins = audit.iter().filter(|e| e["action"] == "sign-in").count();
    assert_eq!(sign_ins, 3, "{audit:?}");

    // No password sign-in for an account that came from the provider.
    assert_eq!(app.login("ada", "any-password-at-all").await.status(), 401);

    // Disabled in Switchyard: the open session ends and the provider cannot sign them in.
    let users: Value = app.call("list_users", &[]).await.json().await.unwrap();
    let ada_id = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "ada")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let disabled = app
        .call(
            "set_user_disabled",
            &[("id", ada_id.as_str()), ("disabled", "true")],
        )
        .await;
    assert_eq!(disabled.status(), 200);
    assert!(app.current_user(&ada).await.is_null());
    let refused = sign_in_through_provider(&app, &client(), "ada").await;
    assert!(page_with_status(refused, 403).await.contains("disabled"));

    // Signing out ends the session here and offers the provider's own sign-out.
    let out = app.call_as(&grace, "logout", &[]).await;
    assert_eq!(
        out.headers().get("location").unwrap(),
        "/login?signed_out=sso"
    );
    assert!(app.current_user(&grace).await.is_null());
    let options: Value = app
        .call_as(&grace, "login_options", &[])
        .await
        .json()
        .await
        .unwrap();
    let sign_out_url = options["sso_sign_out_url"].as_str().unwrap();
    assert!(sign_out_url.starts_with(&format!("{}/session/end?", provider.issuer)));
    assert!(
        sign_out_url.contains("client_id=switchyard-test"),
        "{sign_out_url}"
    );
    let provider_page = client().get(sign_out_url).send().await.unwrap();
    assert_eq!(
        provider_page.status(),
        200,
        "the provider accepts the sign-out request"
    );
}
on_both_databases!(sso_accounts_follow_the_providers_groups);

#[tokio::test]
async fn groups_without_a_role_are_refused_with_a_clear_page() {
    let provider = TestProvider::start(&[]).await;
    let db = TestDatabase::new(Backend::Sqlite).await;
    let app = spawn_sso_app(&db, &provider.issuer, &[]).await;
    let mallory = client();
    let refused = sign_in_through_provider(&app, &mallory, "mallory").await;
    let page = page_with_status(refused, 403).await;
    assert!(page.contains("No access to Switchyard"), "{page}");
    assert!(page.contains("none of your groups (sales)"), "{page}");
    assert!(app.current_user(&mallory).await.is_null());
    let users: Value = app.call("list_users", &[]).await.json().await.unwrap();
    assert_eq!(
        users.as_array().unwrap().len(),
        1,
        "no account was made: {users}"
    );
}

#[tokio::test]
async fn the_state_must_be_the_one_this_browser_started() {
    let provider = TestProvider::start(&[]).await;
    let db = TestDatabase::new(Backend::Sqlite).await;
    let app = spawn_sso_app(&db, &provider.issuer, &[]).await;
    // No sign-in started in this browser.
    let stray = client()
        .get(app.url("/auth/oidc/callback?code=x&state=y"))
        .send()
        .await
        .unwrap();
    assert!(page_with_status(stray, 400)
        .await
        .contains("No sign-in was started"));

    // A callback meant for another browser (its state) is refused, and uses up this one.
    let victim = client();
    let authorize = start_sign_in(&app, &victim).await;
    let attacker = client();
    start_sign_in(&app, &attacker).await;
    let callback = at_provider(&authorize, "ada").await;
    let crossed = attacker.get(&callback).send().await.unwrap();
    assert!(page_with_status(crossed, 400)
        .await
        .contains("The sign-in's state does not match"));
    assert!(app.current_user(&attacker).await.is_null());
    // The rightful browser still finishes its own.
    page_with_status(victim.get(&callback).send().await.unwrap(), 303).await;
    assert_eq!(app.current_user(&victim).await["username"], "ada");
}

#[tokio::test]
async fn an_id_token_with_another_nonce_is_refused() {
    let provider = TestProvider::start(&[]).await;
    let db = TestDatabase::new(Backend::Sqlite).await;
    let app = spawn_sso_app(&db, &provider.issuer, &[]).await;
    let browser = client();
    let authorize = start_sign_in(&app, &browser).await;
    // The provider signs whatever nonce the request carries; this one is not the session's.
    let mut url = Url::parse(&authorize).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "nonce" {
                "replayed-nonce".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let callback = at_provider(url.as_str(), "ada").await;
    let refused = browser.get(callback).send().await.unwrap();
    let page = page_with_status(refused, 401).await;
    assert!(page.contains("nonce"), "{page}");
    assert!(app.current_user(&browser).await.is_null());
}

#[tokio::test]
async fn an_expired_id_token_is_refused() {
    // The provider's clock runs two minutes behind and its ID tokens live one second: they are
    // properly signed, and expired when they arrive.
    let provider = TestProvider::start(&["--id-token-ttl", "1", "--clock-offset=-120"]).await;
    let db = TestDatabase::new(Backend::Sqlite).await;
    let app = spawn_sso_app(&db, &provider.issuer, &[]).await;
    let browser = client();
    let refused = sign_in_through_provider(&app, &browser, "ada").await;
    let page = page_with_status(refused, 401).await;
    assert!(page.contains("expired"), "{page}");
    assert!(app.current_user(&browser).await.is_null());
}

#[tokio::test]
async fn a_tampered_id_token_is_refused() {
    for tamper in ["payload", "foreign-key"] {
        let provider = TestProvider::start(&["--tamper", tamper]).await;
        let db = TestDatabase::new(Backend::Sqlite).await;
        let app = spawn_sso_app(&db, &provider.issuer, &[]).await;
        let browser = client();
        // mallory's token is rewritten to claim the ops group.
        let refused = sign_in_through_provider(&app, &browser, "mallory").await;
        let page = page_with_status(refused, 401).await;
        assert!(page.contains("ignature"), "{tamper}: {page}");
        assert!(app.current_user(&browser).await.is_null(), "{tamper}");
    }
}

#[tokio::test]
async fn with_the_provider_down_local_admins_still_sign_in() {
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let db = TestDatabase::new(Backend::Sqlite).await;
    let app = spawn_sso_app(&db, &issuer, &[("SWITCHYARD_LOGIN_MODE", "oidc")]).await;
    app.create_user("eddie", "password-1234", "editor").await;

    let page = login_page(&app).await;
    assert!(page.contains("Sign in with Test IdP"), "{page}");
    assert!(page.contains("Local admin sign-in"), "{page}");
    let down = client()
        .get(app.url("/auth/oidc/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(down.status(), 502);
    let text = down.text().await.unwrap();
    assert!(text.contains("Test IdP cannot be reached"), "{text}");
    assert!(text.contains("Local admins can still sign in"), "{text}");

    // In oidc mode passwords are for local admins only.
    let admin = app.login(ADMIN.0, ADMIN.1).await;
    assert_eq!(admin.status(), 200);
    let editor = app.login("eddie", "password-1234").await;
    assert_eq!(editor.status(), 403);
    assert!(editor
        .text()
        .await
        .unwrap()
        .contains("Sign in with Test IdP"));
}

#[tokio::test]
async fn failed_single_sign_ons_are_throttled_like_passwords() {
    let provider = TestProvider::start(&[]).await;
    let db = TestDatabase::new(Backend::Sqlite).await;
    let app = spawn_sso_app(
        &db,
        &provider.issuer,
        &[("SWITCHYARD_LOGIN_MAX_FAILURES", "2")],
    )
    .await;
    let browser = client();
    for _ in 0..2 {
        let stray = browser
            .get(app.url("/auth/oidc/callback?code=x&state=y"))
            .send()
            .await
            .unwrap();
        assert_eq!(stray.status(), 400);
    }
    let throttled = browser
        .get(app.url("/auth/oidc/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(throttled.status(), 429);
    assert!(throttled.text().await.unwrap().contains("Try again in"));
}
