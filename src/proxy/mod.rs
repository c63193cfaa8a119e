//! The API for applications: OpenAI's `POST /v1/chat/completions`, `POST /v1/embeddings` and
//! `GET /v1/models`, and Anthropic's `POST /v1/messages` and `/v1/messages/count_tokens`,
//! authenticated by gateway keys. Each request reads one config snapshot, is planned by the
//! routing engine and served by the first candidate that answers, the same way whichever API
//! the app speaks.
//!
//! Response headers: `x-switchyard-policy` (the matched policy; absent when the model's own
//! targets were the route), `x-switchyard-account` and `x-switchyard-provider-model` (who
//! answered), and `x-switchyard-attempts`: the number of provider calls, then each target's
//! outcome, e.g. `2; openai-main/gpt-4o failed (…HTTP 500…); claude/claude-sonnet-4-5 ok`,
//! skipped targets with their reason. `x-switchyard-cache`: `hit` when the response cache
//! answered, `miss` when it was asked and the provider answered.

mod auth;
mod embeddings;
mod error;
mod execute;
mod messages;
pub mod probes;
mod request;

/// The tracing target of the one line logged per proxied request (`RUST_LOG=switchyard::requests=off`
/// turns those lines off).
pub const REQUEST_LOG_TARGET: &str = "switchyard::requests";

use error::{ErrorShape, ProxyError};

use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use execute::{Payload, Prepared, Runtime};
use serde_json::json;
use std::time::Instant;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count_tokens))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(list_models))
        // Apps get OpenAI-shaped JSON for any other /v1 path too, not the dashboard's 404 page.
        .route("/v1/{*rest}", any(unknown_path))
}

async fn unknown_path(uri: Uri) -> Response {
    ProxyError::UnknownPath(uri.path().to_string()).into_response()
}

/// The API a request came in through.
#[derive(Clone, Copy)]
enum Endpoint {
    Chat,
    Messages,
    Embeddings,
}

impl Endpoint {
    fn error_shape(self) -> ErrorShape {
        match self {
            Endpoint::Messages => ErrorShape::Anthropic,
            Endpoint::Chat | Endpoint::Embeddings => ErrorShape::OpenAi,
        }
    }

    fn parse(self, body: &[u8], headers: &HeaderMap) -> Result<Payload, ProxyError> {
        Ok(match self {
            Endpoint::Chat => Payload::Chat(request::parse(body)?),
            Endpoint::Messages => Payload::Messages(messages::parse(body, headers, false)?),
            Endpoint::Embeddings => Payload::Embeddings(request::parse_embeddings(body)?),
        })
    }
}

async fn chat_completions(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    serve(state, headers, body, Endpoint::Chat).await
}

async fn messages(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    serve(state, headers, body, Endpoint::Messages).await
}

async fn embeddings(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    serve(state, headers, body, Endpoint::Embeddings).await
}

/// Authenticates, parses and classifies the request, then runs it: one path for every API.
async fn serve(state: AppState, headers: HeaderMap, body: Body, endpoint: Endpoint) -> Response {
    let started = Instant::now();
    let config = state.config.load();
    let prepared = async {
        let key = auth::authenticate(&headers, &config, crate::store::now_millis())?.clone();
        let bytes = request::read_body(body, state.settings.max_body_bytes).await?;
        let mut payload = endpoint.parse(&bytes, &headers)?;
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let mut cache = None;
        let route = match &mut payload {
            Payload::Chat(chat) | Payload::Messages(messages::MessagesCall { chat, .. }) => {
                if !key.allows(&chat.model) {
                    return Err(ProxyError::ModelNotAllowed(chat.model.clone()));
                }
                let model = config.routing.logical_model(&chat.model);
                if let Some(model) = model {
                    request::apply_defaults(chat, &model.defaults);
                }
                // The cache keeps chat completions (in OpenAI's shape) only, for now.
                if matches!(endpoint, Endpoint::Chat) {
                    cache = crate::cache::cache_use(
                        model.and_then(|m| m.cache.as_ref()),
                        header(crate::cache::CACHE_HEADER),
                        header(crate::cache::CACHE_TTL_HEADER),
                        &key.id,
                        chat,
                    )
                    .map_err(|e| ProxyError::InvalidRequest(e.to_string()))?;
                }
                request::route_request(chat, &headers)?
            }
            Payload::Embeddings(embeddings) => {
                if !key.allows(&embeddings.model) {
                    return Err(ProxyError::ModelNotAllowed(embeddings.model.clone()));
                }
                request::route_embeddings(embeddings, &headers)?
            }
        };
        Ok(Prepared {
            key,
            payload,
            route,
            started,
            cache,
        })
    }
    .await;
    let prepared = match prepared {
        Ok(prepared) => prepared,
        Err(error) => {
            tracing::info!(status = error.status().as_u16(), error = %error, "refused a proxy request");
            state.telemetry.record_refusal();
            return error.into_response_as(endpoint.error_shape());
        }
    };
    let runtime = Runtime {
        config: config.clone(),
        live: &state.live,
        telemetry: &state.telemetry,
        clients: &state.provider_clients,
        cache: &state.cache,
        fleet: state.fleet.as_ref(),
        cut: state.cut.clone(),
    };
    execute::run(runtime, prepared).await
}

/// `POST /v1/messages/count_tokens`: the prompt's tokens for the model the request would be
/// routed to first. Anthropic counts exactly; for other providers (or when Anthropic cannot be
/// reached) the router's estimate is answered, and `estimated` and the
/// `x-switchyard-token-count` header say which it is. Not a completion: no ledger entry and no
/// rate-limit room taken.
async fn count_tokens(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let config = state.config.load();
    let counted = async {
        let key = auth::authenticate(&headers, &config, crate::store::now_millis())?;
        let bytes = request::read_body(body, state.settings.max_body_bytes).await?;
        let call = messages::parse(&bytes, &headers, true)?;
        if !key.allows(&call.chat.model) {
            return Err(ProxyError::ModelNotAllowed(call.chat.model.clone()));
        }
        let route = request::route_request(&call.chat, &headers)?;
        let plan = crate::routing::plan(
            &config.routing,
            &route,
            &*state.live,
            execute::now_ms(),
            &mut rand::thread_rng(),
        )?;
        // The target the request would go to first decides, as it would answer.
        let first = plan.candidates.iter().find_map(|candidate| {
            let connection = config.connections.get(&candidate.target.account)?;
            Some((connection, &candidate.target))
        });
        let anthropic =
            first.filter(|(connection, _)| connection.kind == crate::domain::ProviderKind::Anthropic);
        if let Some((connection, target)) = anthropic {
            match state.provider_clients.for_timeouts(&connection.timeouts) {
                Ok(client) => {
                    let ctx = execute::call_context(client, connection, &target.model);
                    match crate::providers::count_tokens(&ctx, &call.body, call.beta.as_deref())
                        .await
                    {
                        Ok(tokens) => return Ok((tokens, false)),
                        Err(error) => {
                            tracing::warn!(target = %target, error = %error, "count_tokens failed; answering the estimate")
                        }
                    }
                }
                Err(error) => tracing::warn!(error = %error, "no HTTP client for count_tokens"),
            }
        }
        Ok::<_, ProxyError>((messages::estimate_input_tokens(&call), true))
    }
    .await;
    match counted {
        Ok((tokens, estimated)) => {
            let mut response =
                axum::Json(json!({"input_tokens": tokens, "estimated": estimated})).into_response();
            response.headers_mut().insert(
                axum::http::HeaderName::from_static("x-switchyard-token-count"),
                axum::http::HeaderValue::from_static(if estimated { "estimated" } else { "exact" }),
            );
            response
        }
        Err(error) => error.into_response_as(ErrorShape::Anthropic),
    }
}

async fn list_models(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let config = state.config.load();
    let key = match auth::authenticate(&headers, &config, crate::store::now_millis()) {
        Ok(key) => key,
        Err(error) => return error.into_response(),
    };
    let mut names: Vec<&str> = config
        .routing
        .logical_models()
        .map(|m| m.name.as_str())
        .filter(|name| key.allows(name))
        .collect();
    names.sort_unstable();
    let data: Vec<_> = names
        .into_iter()
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "switchyard"}))
        .collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}
