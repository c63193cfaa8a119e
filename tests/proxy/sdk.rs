//! The official `openai` Python SDK against the proxy (tests/sdk/README.md says how to run it).

use crate::helpers::*;
use serde_json::json;
use switchyard::domain::ProviderKind;
use switchyard::providers::mock::{MockProvider, MockReply};

#[tokio::test]
async fn official_python_sdk() {
    // scripts/test installs the SDK and sets this; a missing SDK fails rather than skips.
    let python = std::env::var("SWITCHYARD_SDK_PYTHON").expect(
        "set SWITCHYARD_SDK_PYTHON to a Python with `openai` installed (scripts/test does)",
    );
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
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/test_openai_sdk.py");
    let output = tokio::process::Command::new(python)
        .arg(script)
        .env("SWITCHYARD_BASE_URL", &app.address)
        .env("SWITCHYARD_KEY", KEY)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("ok models"), "{stdout}");
}
