//! The official SDKs against the proxy, unchanged but for base URL and key (tests/sdk/README.md
//! says how to run them): the `openai` Python SDK (chat, embeddings), the `anthropic` Python SDK
//! (messages, streaming, tools, count_tokens) and the `openai` Node SDK (chat, embeddings),
//! through a target of every provider kind. A missing SDK fails the test rather than skips it.

use crate::helpers::*;
use serde_json::json;
use switchyard::domain::{Capabilities, ProviderKind};
use switchyard::providers::mock::{MockProvider, MockReply};

const SDK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk");

/// The Python with both SDKs; scripts/test installs them and sets the variable.
fn python() -> String {
    std::env::var("SWITCHYARD_SDK_PYTHON").expect(
        "set SWITCHYARD_SDK_PYTHON to a Python with `openai` and `anthropic` installed (scripts/test does)",
    )
}

/// Runs `program script` against the app with the kinds to try in its environment; fails the
/// test on a non-zero exit and returns what it printed.
async fn run_sdk(program: &str, script: &str, app: &TestApp) -> String {
    let chat_kinds: Vec<&str> = ProviderKind::ALL.iter().map(|k| k.as_str()).collect();
    let embed_kinds: Vec<&str> = ProviderKind::ALL
        .iter()
        .filter(|k| k.offers_embeddings())
        .map(|k| k.as_str())
        .collect();
    let output = tokio::process::Command::new(program)
        .arg(format!("{SDK_DIR}/{script}"))
        .env("SWITCHYARD_BASE_URL", &app.address)
        .env("SWITCHYARD_KEY", KEY)
        .env("SWITCHYARD_CHAT_KINDS", chat_kinds.join(","))
        .env("SWITCHYARD_EMBED_KINDS", embed_kinds.join(","))
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    stdout
}

/// One mock per provider kind serving `chat-<kind>` and, where the provider has embeddings,
/// `embed-<kind>`; each mock is scripted with `replies`.
async fn every_kind(app: &TestApp, replies: &[MockReply]) -> Vec<MockProvider> {
    let mut mocks = Vec::new();
    for kind in ProviderKind::ALL {
        let mock = MockProvider::start(kind).await.unwrap();
        for reply in replies {
            mock.push(reply.clone());
        }
        mocks.push(mock);
    }
    let mut models = Vec::new();
    for kind in ProviderKind::ALL {
        let name = kind.as_str();
        models.push(model(
            &format!("chat-{name}"),
            all_capabilities(),
            &[(name, "gpt-4o")],
        ));
        if kind.offers_embeddings() {
            let embeddings = Capabilities {
                embeddings: true,
                ..Capabilities::default()
            };
            models.push(model(
                &format!("embed-{name}"),
                embeddings,
                &[(name, "text-embedding-3-small")],
            ));
        }
    }
    let accounts = ProviderKind::ALL
        .into_iter()
        .zip(&mocks)
        .map(|(kind, mock)| (account(kind.as_str(), kind), mock))
        .collect();
    app.state.config.replace(snapshot(accounts, models, vec![]));
    mocks
}

#[tokio::test]
async fn official_python_sdk() {
    let python = python();
    let app = spawn_app().await;
    let mock = MockProvider::start(ProviderKind::Anthropic).await.unwrap();
    app.state.config.replace(snapshot(
        vec![(account("main", ProviderKind::Anthropic), &mock)],
        vec![model(
            "primary-llm",
            all_capabilities(),
            &[("main", "claude-sonnet-4-5")],
        )],
        vec![],
    ));
    mock.push(MockReply::text("sdk plain"));
    mock.push(MockReply::text("sdk streamed"));
    mock.push(MockReply::tool_call("get_weather", json!({"city": "Oslo"})));
    let stdout = run_sdk(&python, "test_openai_sdk.py", &app).await;
    assert!(stdout.contains("ok models"), "{stdout}");
}

#[tokio::test]
async fn official_python_sdk_embeddings_on_every_kind() {
    let python = python();
    let app = spawn_app().await;
    let mocks = every_kind(&app, &[]).await;
    let stdout = run_sdk(&python, "test_openai_embeddings.py", &app).await;
    assert!(stdout.contains("ok embeddings mistral"), "{stdout}");
    for mock in mocks.iter().filter(|m| m.kind().offers_embeddings()) {
        assert_eq!(mock.requests().len(), 2, "{}", mock.kind());
    }
}

#[tokio::test]
async fn official_anthropic_python_sdk_on_every_kind() {
    let python = python();
    let app = spawn_app().await;
    let replies = [
        MockReply::text("sdk plain"),
        MockReply::text("sdk streamed"),
        MockReply::tool_call("get_weather", json!({"city": "Oslo"})),
    ];
    let mocks = every_kind(&app, &replies).await;
    let stdout = run_sdk(&python, "test_anthropic_sdk.py", &app).await;
    assert!(stdout.contains("ok count_tokens"), "{stdout}");
    for mock in &mocks {
        let messages = mock
            .requests()
            .iter()
            .filter(|r| !r.path.ends_with("count_tokens"))
            .count();
        assert_eq!(messages, 3, "{}", mock.kind());
    }
}

#[tokio::test]
async fn official_node_sdk_on_every_kind() {
    let installed = std::path::Path::new(SDK_DIR).join("node_modules/openai/package.json");
    assert!(
        installed.exists(),
        "the openai Node SDK is missing: run `npm ci` in tests/sdk (scripts/test does)"
    );
    let app = spawn_app().await;
    let replies = [
        MockReply::text("sdk plain"),
        MockReply::text("sdk streamed"),
    ];
    let _mocks = every_kind(&app, &replies).await;
    let stdout = run_sdk("node", "test_openai_sdk.mjs", &app).await;
    assert!(stdout.contains("ok node"), "{stdout}");
}
