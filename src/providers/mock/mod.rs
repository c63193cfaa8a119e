//! Scriptable mock provider servers speaking each provider's real wire format, on 127.0.0.1 with a
//! random port. They check requests the way the provider does (path, auth headers, required
//! fields) and answer with the provider's response, stream and error shapes. Used by the adapter
//! tests here and, through the `mock-providers` feature, by the proxy's integration tests.
//!
//! ```ignore
//! let mock = MockProvider::start(ProviderKind::Anthropic).await?;
//! mock.push(MockReply::text("Hello!"));
//! mock.push(MockReply::error(429, "slow down").after(Duration::from_millis(50)));
//! let ctx = mock.context(reqwest::Client::new(), "claude-sonnet-4-5");
//! let answer = adapter_for(ProviderKind::Anthropic).send(&ctx, &request).await?;
//! assert_eq!(mock.requests()[0].header("anthropic-version"), Some("2023-06-01"));
//! ```

mod anthropic;
mod cohere;
mod google;
mod openai;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::task::JoinHandle;

use super::context::{AzureExtras, CallContext, Secret};
use crate::domain::ProviderKind;

/// The API key every mock accepts.
pub const MOCK_API_KEY: &str = "mock-key-0123456789";
/// The `api-version` the Azure mock's context sends.
pub const MOCK_AZURE_API_VERSION: &str = "2024-10-21";
/// Token counts every mock reports, so tests can check the usage mapping.
pub const MOCK_PROMPT_TOKENS: u64 = 12;
pub const MOCK_COMPLETION_TOKENS: u64 = 7;
/// What the Anthropic mock's count_tokens answers.
pub const MOCK_COUNTED_TOKENS: u64 = 21;
/// Vector length of the mocks' embeddings when the request asks for none.
pub const MOCK_DIMENSIONS: usize = 3;

/// The vector every mock returns for the input at `index`: distinct per input (so order can be
/// checked) and exact in `f32`.
pub fn mock_vector(index: usize, dimensions: usize) -> Vec<f32> {
    (0..dimensions)
        .map(|k| index as f32 + 0.25 * (k + 1) as f32)
        .collect()
}

/// One scripted answer: what to send, optionally after a pause before the response headers.
/// Replies are used in order, one per chat or embeddings request; with the queue empty the mock
/// answers `MockReply::text("mock reply")`. An embeddings request answered with text or a tool
/// call gets its vectors ([`mock_vector`]).
#[derive(Clone, Debug, PartialEq)]
pub struct MockReply {
    pub body: MockBody,
    pub delay: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub enum MockBody {
    Text(String),
    ToolCall {
        name: String,
        arguments: Value,
    },
    /// The provider's error body for this status (429 also sets `retry-after`).
    Error {
        status: u16,
        message: String,
    },
    /// A stream that sends the text, then closes without the provider's closing events.
    CutStream(String),
    /// The provider's error body for this status, without a `retry-after` header.
    ErrorWithoutRetryAfter {
        status: u16,
        message: String,
    },
    /// A body sent as is with status 200 (not JSON, or too big), whatever was asked.
    Raw {
        content_type: String,
        body: String,
    },
    /// The full stream of the text, one event every `every`.
    Trickle {
        text: String,
        every: Duration,
    },
    /// The stream's first events, then the connection is reset.
    ResetStream(String),
}

impl MockReply {
    fn new(body: MockBody) -> Self {
        MockReply {
            body,
            delay: Duration::ZERO,
        }
    }

    pub fn text(text: impl Into<String>) -> Self {
        MockReply::new(MockBody::Text(text.into()))
    }

    pub fn tool_call(name: impl Into<String>, arguments: Value) -> Self {
        MockReply::new(MockBody::ToolCall {
            name: name.into(),
            arguments,
        })
    }

    pub fn error(status: u16, message: impl Into<String>) -> Self {
        MockReply::new(MockBody::Error {
            status,
            message: message.into(),
        })
    }

    pub fn cut_stream(text: impl Into<String>) -> Self {
        MockReply::new(MockBody::CutStream(text.into()))
    }

    pub fn error_without_retry_after(status: u16, message: impl Into<String>) -> Self {
        MockReply::new(MockBody::ErrorWithoutRetryAfter {
            status,
            message: message.into(),
        })
    }

    pub fn raw(content_type: impl Into<String>, body: impl Into<String>) -> Self {
        MockReply::new(MockBody::Raw {
            content_type: content_type.into(),
            body: body.into(),
        })
    }

    pub fn trickle(text: impl Into<String>, every: Duration) -> Self {
        MockReply::new(MockBody::Trickle {
            text: text.into(),
            every,
        })
    }

    pub fn reset_stream(text: impl Into<String>) -> Self {
        MockReply::new(MockBody::ResetStream(text.into()))
    }

    pub fn after(self, delay: Duration) -> Self {
        MockReply { delay, ..self }
    }
}

/// A request as the mock received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    /// `Value::Null` when the body is empty or not JSON.
    pub body: Value,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The value of one query parameter (no percent-decoding: mocks only see plain values).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .as_deref()?
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

/// What the provider would do with a request that passed its checks.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Call {
    ListModels,
    Chat {
        model: String,
        stream: bool,
    },
    /// One vector per input, of the requested length or [`MOCK_DIMENSIONS`].
    Embed {
        model: String,
        inputs: usize,
        dimensions: Option<usize>,
    },
    /// Anthropic's `/v1/messages/count_tokens`.
    CountTokens,
}

/// A request the provider would refuse: rendered with the provider's error body.
struct Rejection {
    status: u16,
    message: String,
}

fn reject(status: u16, message: impl Into<String>) -> Rejection {
    Rejection {
        status,
        message: message.into(),
    }
}

/// The answer content of a successful reply.
enum Answer<'a> {
    Text(&'a str),
    ToolCall { name: &'a str, arguments: &'a Value },
}

/// One SSE event; `event` is `None` for providers that send bare `data:` lines.
struct SseEvent {
    event: Option<&'static str>,
    data: String,
}

impl SseEvent {
    fn data(data: impl ToString) -> Self {
        SseEvent {
            event: None,
            data: data.to_string(),
        }
    }

    fn named(event: &'static str, data: impl ToString) -> Self {
        SseEvent {
            event: Some(event),
            data: data.to_string(),
        }
    }

    fn encode(&self) -> String {
        match self.event {
            Some(event) => format!("event: {event}\ndata: {}\n\n", self.data),
            None => format!("data: {}\n\n", self.data),
        }
    }
}

/// One provider's wire format, as its server speaks it.
trait Wire: Send + Sync {
    /// Path, auth and body checks, in the provider's order.
    fn check(&self, req: &RecordedRequest) -> Result<Call, Rejection>;
    fn models(&self) -> Value;
    fn response(&self, answer: &Answer<'_>, model: &str) -> Value;
    /// The full event sequence; `complete: false` leaves out the closing events.
    fn events(
        &self,
        answer: &Answer<'_>,
        model: &str,
        req: &RecordedRequest,
        complete: bool,
    ) -> Vec<SseEvent>;
    fn error(&self, status: u16, message: &str) -> Value;
    /// The embeddings response; only wires whose `check` accepts an embeddings call (every
    /// provider but Anthropic) override it.
    fn embeddings(&self, _vectors: Vec<Vec<f32>>, _model: &str) -> Value {
        self.error(404, "this provider has no embeddings API")
    }
}

/// The number of texts and the requested size of an OpenAI-style embeddings body (OpenAI,
/// Azure, Mistral: `input` is a string or a list), refused as those providers refuse it.
fn embedding_inputs(
    body: &serde_json::Map<String, Value>,
    dimensions_field: &str,
) -> Result<(usize, Option<usize>), Rejection> {
    let inputs = match body.get("input") {
        Some(Value::String(_)) => 1,
        Some(Value::Array(items)) if !items.is_empty() && items.iter().all(Value::is_string) => {
            items.len()
        }
        _ => return Err(reject(400, "'input' must be a string or a list of strings")),
    };
    let dimensions = body
        .get(dimensions_field)
        .and_then(Value::as_u64)
        .and_then(|d| usize::try_from(d).ok());
    Ok((inputs, dimensions))
}

fn wire_for(kind: ProviderKind) -> &'static dyn Wire {
    match kind {
        ProviderKind::Openai => &openai::OPENAI,
        ProviderKind::Azure => &openai::AZURE,
        ProviderKind::Mistral => &openai::MISTRAL,
        ProviderKind::Anthropic => &anthropic::AnthropicWire,
        ProviderKind::Google => &google::GoogleWire,
        ProviderKind::Cohere => &cohere::CohereWire,
    }
}

/// Text cut into word-sized stream pieces, spaces kept, as providers stream it.
fn pieces(text: &str) -> Vec<String> {
    text.split_inclusive(' ').map(str::to_string).collect()
}

/// JSON text cut in two, to exercise argument deltas being joined.
fn halves(text: &str) -> [String; 2] {
    let middle = text
        .char_indices()
        .nth(text.chars().count() / 2)
        .map_or(text.len(), |(i, _)| i);
    [text[..middle].to_string(), text[middle..].to_string()]
}

struct Shared {
    kind: ProviderKind,
    replies: Mutex<VecDeque<MockReply>>,
    requests: Mutex<Vec<RecordedRequest>>,
}

/// A running mock provider; stops when dropped.
pub struct MockProvider {
    kind: ProviderKind,
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl MockProvider {
    pub async fn start(kind: ProviderKind) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            kind,
            replies: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            // Serving ends only when the task is aborted on drop; an accept error just stops it.
            let _ = axum::serve(listener, app).await;
        });
        Ok(MockProvider {
            kind,
            addr,
            shared,
            server,
        })
    }

    pub fn kind(&self) -> ProviderKind {
        self.kind
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn push(&self, reply: MockReply) {
        lock(&self.shared.replies).push_back(reply);
    }

    /// Drops the scripted replies not used yet: later requests get the default answer.
    pub fn clear_replies(&self) {
        lock(&self.shared.replies).clear();
    }

    /// Every request received so far, rejected ones included.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// A call context aimed at this mock with its key; for Azure, `model` is the deployment.
    pub fn context(&self, client: reqwest::Client, model: &str) -> CallContext {
        let mut ctx = CallContext::new(client, self.base_url(), Secret::new(MOCK_API_KEY), model);
        if self.kind == ProviderKind::Azure {
            ctx.azure = Some(AzureExtras {
                endpoint: self.base_url(),
                api_version: MOCK_AZURE_API_VERSION.to_string(),
                deployment: model.to_string(),
            });
        }
        ctx
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A poisoned lock only means another test thread panicked; the data is still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = RecordedRequest {
        method,
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    lock(&shared.requests).push(request.clone());
    let wire = wire_for(shared.kind);
    let (model, stream, embed) = match wire.check(&request) {
        Err(rejection) => return error_response(wire, rejection.status, &rejection.message),
        Ok(Call::ListModels) => return json_response(StatusCode::OK, &wire.models()),
        Ok(Call::CountTokens) => {
            return json_response(
                StatusCode::OK,
                &serde_json::json!({"input_tokens": MOCK_COUNTED_TOKENS}),
            )
        }
        Ok(Call::Chat { model, stream }) => (model, stream, None),
        Ok(Call::Embed {
            model,
            inputs,
            dimensions,
        }) => (model, false, Some((inputs, dimensions))),
    };
    let reply = lock(&shared.replies)
        .pop_front()
        .unwrap_or_else(|| MockReply::text("mock reply"));
    tokio::time::sleep(reply.delay).await;
    let mut every = Duration::ZERO;
    let mut reset = false;
    let (answer, complete) = match &reply.body {
        MockBody::Error { status, message } => return error_response(wire, *status, message),
        MockBody::ErrorWithoutRetryAfter { status, message } => {
            let mut response = error_response(wire, *status, message);
            response.headers_mut().remove(header::RETRY_AFTER);
            return response;
        }
        MockBody::Raw { content_type, body } => {
            return Response::builder()
                .header(header::CONTENT_TYPE, content_type.as_str())
                .body(Body::from(body.clone()))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
        MockBody::Text(text) => (Answer::Text(text), true),
        MockBody::CutStream(text) => (Answer::Text(text), false),
        MockBody::ToolCall { name, arguments } => (Answer::ToolCall { name, arguments }, true),
        MockBody::Trickle { text, every: pause } => {
            every = *pause;
            (Answer::Text(text), true)
        }
        MockBody::ResetStream(text) => {
            reset = true;
            (Answer::Text(text), false)
        }
    };
    if let Some((inputs, dimensions)) = embed {
        let size = dimensions.unwrap_or(MOCK_DIMENSIONS);
        let vectors = (0..inputs).map(|i| mock_vector(i, size)).collect();
        return json_response(StatusCode::OK, &wire.embeddings(vectors, &model));
    }
    if !stream {
        return json_response(StatusCode::OK, &wire.response(&answer, &model));
    }
    let mut events: Vec<Result<Bytes, std::io::Error>> = wire
        .events(&answer, &model, &request, complete)
        .iter()
        .map(|e| Ok(Bytes::from(e.encode())))
        .collect();
    if reset {
        // An error in the body makes the server drop the connection mid-response.
        events.push(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset by the mock",
        )));
    }
    let paced = futures_util::stream::iter(events.into_iter().enumerate()).then(
        move |(i, event)| async move {
            if i > 0 {
                tokio::time::sleep(every).await;
            }
            event
        },
    );
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(paced))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (status, axum::Json(body.clone())).into_response()
}

fn error_response(wire: &dyn Wire, status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(code, &wire.error(status, message));
    if status == 429 {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    response
}

/// The bearer token of a request, if any.
fn bearer(req: &RecordedRequest) -> Option<&str> {
    req.header("authorization")?.strip_prefix("Bearer ")
}

/// Refuses a body with a field outside `allowed`, as the strict APIs (Mistral, Anthropic's
/// count_tokens) do, with their pydantic-style message.
fn refuse_unknown_fields(
    body: &serde_json::Map<String, Value>,
    allowed: &[&str],
    status: u16,
) -> Result<(), Rejection> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(reject(
            status,
            format!("{extra}: Extra inputs are not permitted"),
        )),
        None => Ok(()),
    }
}

/// The body as an object, or the rejection a JSON API gives for anything else.
fn body_object(req: &RecordedRequest) -> Result<&serde_json::Map<String, Value>, Rejection> {
    req.body
        .as_object()
        .ok_or_else(|| reject(400, "the request body must be a JSON object"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Posts raw JSON the way a careless client would, to see the mock refuse it like the provider.
    async fn post(
        mock: &MockProvider,
        path: &str,
        headers: &[(&str, &str)],
        body: Value,
    ) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .post(format!("{}{path}", mock.base_url()))
            .json(&body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn anthropic_mock_requires_version_header_and_max_tokens() {
        let mock = MockProvider::start(ProviderKind::Anthropic).await.unwrap();
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        let (status, error) = post(
            &mock,
            "/v1/messages",
            &[("x-api-key", MOCK_API_KEY)],
            body.clone(),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(error["error"]["type"], "invalid_request_error");
        let headers = [
            ("x-api-key", MOCK_API_KEY),
            ("anthropic-version", "2023-06-01"),
        ];
        let (status, error) = post(&mock, "/v1/messages", &headers, body).await;
        assert_eq!(
            (status, error["error"]["message"].as_str()),
            (400, Some("max_tokens: Field required"))
        );
        let system_in_messages = json!({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]});
        let (status, _) = post(&mock, "/v1/messages", &headers, system_in_messages).await;
        assert_eq!(status, 400);
        assert_eq!(mock.requests().len(), 3);
    }

    #[tokio::test]
    async fn gemini_mock_checks_roles_and_parts() {
        let mock = MockProvider::start(ProviderKind::Google).await.unwrap();
        let headers = [("x-goog-api-key", MOCK_API_KEY)];
        let path = "/v1beta/models/gemini-2.5-flash:generateContent";
        let assistant_role =
            json!({"contents": [{"role": "assistant", "parts": [{"text": "hi"}]}]});
        let (status, error) = post(&mock, path, &headers, assistant_role).await;
        assert_eq!(
            (status, error["error"]["status"].as_str()),
            (400, Some("INVALID_ARGUMENT"))
        );
        let empty_parts = json!({"contents": [{"role": "user", "parts": []}]});
        assert_eq!(post(&mock, path, &headers, empty_parts).await.0, 400);
        let ok = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
        assert_eq!(post(&mock, path, &headers, ok.clone()).await.0, 200);
        assert_eq!(post(&mock, path, &[], ok).await.0, 403);
    }

    #[tokio::test]
    async fn azure_mock_requires_api_version() {
        let mock = MockProvider::start(ProviderKind::Azure).await.unwrap();
        let body = json!({"messages": [{"role": "user", "content": "hi"}]});
        let path = "/openai/deployments/gpt4o/chat/completions";
        assert_eq!(
            post(&mock, path, &[("api-key", MOCK_API_KEY)], body.clone())
                .await
                .0,
            404
        );
        let versioned = format!("{path}?api-version={MOCK_AZURE_API_VERSION}");
        assert_eq!(
            post(
                &mock,
                &versioned,
                &[("api-key", MOCK_API_KEY)],
                body.clone()
            )
            .await
            .0,
            200
        );
        assert_eq!(
            post(&mock, &versioned, &[("api-key", "nope")], body)
                .await
                .0,
            401
        );
    }

    #[tokio::test]
    async fn replies_are_used_in_order_then_the_default() {
        let mock = MockProvider::start(ProviderKind::Cohere).await.unwrap();
        mock.push(MockReply::error(503, "busy"));
        mock.push(MockReply::text("second"));
        let auth = format!("Bearer {MOCK_API_KEY}");
        let headers = [("authorization", auth.as_str())];
        let body =
            json!({"model": "command-a-03-2025", "messages": [{"role": "user", "content": "hi"}]});
        let (status, error) = post(&mock, "/v2/chat", &headers, body.clone()).await;
        assert_eq!((status, error["message"].as_str()), (503, Some("busy")));
        let (_, second) = post(&mock, "/v2/chat", &headers, body.clone()).await;
        assert_eq!(second["message"]["content"][0]["text"], "second");
        let (_, default) = post(&mock, "/v2/chat", &headers, body).await;
        assert_eq!(default["message"]["content"][0]["text"], "mock reply");
    }
}
