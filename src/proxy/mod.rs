//! The OpenAI-compatible API for applications: `POST /v1/chat/completions` and `GET /v1/models`,
//! authenticated by gateway keys. Each request reads one config snapshot, is planned by the
//! routing engine and served by the first candidate that answers.
//!
//! Response headers: `x-switchyard-policy` (the matched policy; absent when the model's own
//! targets were the route), `x-switchyard-account` and `x-switchyard-provider-model` (who
//! answered), and `x-switchyard-attempts`: the number of provider calls, then each target's
//! outcome, e.g. `2; openai-main/gpt-4o failed (…HTTP 500…); claude/claude-sonnet-4-5 ok`,
//! skipped targets with their reason. `x-switchyard-cache`: `hit` when the response cache
//! answered, `miss` when it was asked and the provider answered.

mod auth;
mod error;
mod execute;
pub mod probes;
mod request;

/// The tracing target of the one line logged per proxied request (`RUST_LOG=switchyard::requests=off`
/// turns those lines off).
pub const REQUEST_LOG_TARGET: &str = "switchyard::requests";

use error::ProxyError;

use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use execute::{Prepared, Runtime};
use serde_json::json;
use std::time::Instant;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(list_models))
        // Apps get OpenAI-shaped JSON for any other /v1 path too, not the dashboard's 404 page.
        .route("/v1/{*rest}", any(unknown_path))
}

async fn unknown_path(uri: Uri) -> Response {
    ProxyError::UnknownPath(uri.path().to_string()).into_response()
}

async fn chat_completions(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let config = state.config.load();
    let prepared = async {
        let key = auth::authenticate(&headers, &config, crate::store::now_millis())?.clone();
        let bytes = request::read_body(body, state.settings.max_body_bytes).await?;
        let mut chat = request::parse(&bytes)?;
        if !key.allows(&chat.model) {
            return Err(ProxyError::ModelNotAllowed(chat.model));
        }
        let model = config.routing.logical_model(&chat.model);
        if let Some(model) = model {
            request::apply_defaults(&mut chat, &model.defaults);
        }
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let cache = crate::cache::cache_use(
            model.and_then(|m| m.cache.as_ref()),
            header(crate::cache::CACHE_HEADER),
            header(crate::cache::CACHE_TTL_HEADER),
            &key.id,
            &mut chat,
        )
        .map_err(|e| ProxyError::InvalidRequest(e.to_string()))?;
        let route = request::route_request(&chat, &headers)?;
        Ok(Prepared {
            key,
            request: chat,
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
            return error.into_response();
        }
    };
    let runtime = Runtime {
        config: config.clone(),
        live: &state.live,
        telemetry: &state.telemetry,
        clients: &state.provider_clients,
        cache: &state.cache,
        cut: state.cut.clone(),
    };
    execute::run(runtime, prepared).await
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
