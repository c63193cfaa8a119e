//! Every way a `/v1` request fails, mapped once, here, to an error body with its status: the
//! OpenAI shape `{"error": {"message", "type", "code"}}`, or for `/v1/messages` Anthropic's
//! `{"type": "error", "error": {"type", "message"}}`.

use crate::providers::ProviderError;
use crate::routing::{KeyRefusal, RoutingError};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("unknown API path {0}: Switchyard serves /v1/chat/completions, /v1/messages, /v1/messages/count_tokens, /v1/embeddings and /v1/models")]
    UnknownPath(String),
    #[error("missing API key: send it as `Authorization: Bearer sk-sy-…` or `x-api-key: sk-sy-…`")]
    MissingKey,
    #[error("invalid API key")]
    InvalidKey,
    #[error("this API key has expired")]
    ExpiredKey,
    #[error("this API key may not use the model `{0}`")]
    ModelNotAllowed(String),
    #[error("the request body is larger than the limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("the request body could not be read: {0}")]
    BodyUnreadable(String),
    /// Malformed JSON, wrong types and missing fields, with serde's line and column.
    #[error("invalid request body: {0}")]
    InvalidBody(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error(transparent)]
    Routing(#[from] RoutingError),
    /// A provider refused the request itself (a 4xx other than 429): returned as is.
    #[error("{0}")]
    Provider(ProviderError),
    /// Every target was on a provider that cannot express what the request uses.
    #[error("this request uses {what}, which only Anthropic targets can serve: {summary}")]
    Inexpressible { what: String, summary: String },
    /// The shutdown grace period ended before the answer did.
    #[error("the server is shutting down and could not finish this request; retry it")]
    ShuttingDown,
    /// The fleet's shared limits (Redis) cannot be reached and this instance refuses rather
    /// than decide alone: `SWITCHYARD_REDIS_FAILURE=closed`, or a key's hard budget.
    #[error("{0}; retry shortly")]
    SharedStateUnavailable(&'static str),
    /// Every candidate was tried or skipped; `summary` lists what happened to each.
    #[error("no provider account could serve this request: {summary}")]
    AllFailed {
        summary: String,
        /// Every candidate was rate-limited; the app may retry after this many seconds.
        retry_after_secs: Option<u64>,
        /// Every call made timed out.
        timed_out: bool,
    },
}

impl ProxyError {
    pub fn status(&self) -> StatusCode {
        let code = match self {
            ProxyError::UnknownPath(_) => 404,
            ProxyError::MissingKey | ProxyError::InvalidKey | ProxyError::ExpiredKey => 401,
            ProxyError::ModelNotAllowed(_) => 403,
            ProxyError::BodyTooLarge { .. } => 413,
            ProxyError::BodyUnreadable(_)
            | ProxyError::InvalidBody(_)
            | ProxyError::InvalidRequest(_)
            | ProxyError::Inexpressible { .. } => 400,
            ProxyError::Routing(e) => match e {
                RoutingError::ModelNotFound(_) => 404,
                RoutingError::CapabilityMissing { .. } | RoutingError::InvalidHint { .. } => 400,
                RoutingError::Exhausted(exhausted) => {
                    if exhausted.retry_after_secs().is_some() {
                        429
                    } else {
                        503
                    }
                }
                RoutingError::InvalidConfig(_) => 500,
                // 402, not 429: waiting a minute does not help, and SDKs retry a 429.
                RoutingError::KeyRefused {
                    refusal: KeyRefusal::BudgetUsedUp { .. },
                    ..
                } => 402,
                RoutingError::KeyRefused { .. } => 429,
            },
            ProxyError::Provider(e) => e.gateway_status(),
            ProxyError::ShuttingDown => 503,
            ProxyError::SharedStateUnavailable(_) => 429,
            ProxyError::AllFailed {
                retry_after_secs,
                timed_out,
                ..
            } => match (retry_after_secs, timed_out) {
                (Some(_), _) => 429,
                (None, true) => 504,
                (None, false) => 503,
            },
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            ProxyError::Routing(RoutingError::Exhausted(exhausted)) => exhausted.retry_after_secs(),
            ProxyError::Routing(RoutingError::KeyRefused { refusal, .. }) => {
                refusal.retry_after_ms().map(|ms| ms.div_ceil(1000).max(1))
            }
            ProxyError::AllFailed {
                retry_after_secs, ..
            } => *retry_after_secs,
            ProxyError::SharedStateUnavailable(_) => Some(1),
            _ => None,
        }
    }

    /// OpenAI's `type` and `code` fields.
    fn kind_and_code(&self) -> (&'static str, &'static str) {
        match self {
            ProxyError::UnknownPath(_) => ("invalid_request_error", "unknown_url"),
            ProxyError::MissingKey | ProxyError::InvalidKey | ProxyError::ExpiredKey => {
                ("invalid_request_error", "invalid_api_key")
            }
            ProxyError::ModelNotAllowed(_) => ("permission_error", "model_not_allowed"),
            ProxyError::BodyTooLarge { .. } => ("invalid_request_error", "request_too_large"),
            ProxyError::BodyUnreadable(_) | ProxyError::InvalidBody(_) => {
                ("invalid_request_error", "invalid_body")
            }
            ProxyError::InvalidRequest(_) => ("invalid_request_error", "invalid_request"),
            ProxyError::Inexpressible { .. } => {
                ("invalid_request_error", "capability_not_supported")
            }
            ProxyError::Routing(e) => match e {
                RoutingError::ModelNotFound(_) => ("invalid_request_error", "model_not_found"),
                RoutingError::CapabilityMissing { .. } => {
                    ("invalid_request_error", "capability_not_supported")
                }
                RoutingError::InvalidHint { .. } => {
                    ("invalid_request_error", "invalid_routing_hint")
                }
                RoutingError::Exhausted(_) => self.exhausted_kind(),
                RoutingError::InvalidConfig(_) => ("server_error", "invalid_configuration"),
                RoutingError::KeyRefused { refusal, .. } => match refusal {
                    KeyRefusal::BudgetUsedUp { .. } => {
                        ("insufficient_quota", "key_budget_exceeded")
                    }
                    KeyRefusal::RateLimited(_) => ("rate_limit_error", "key_rate_limit_exceeded"),
                },
            },
            ProxyError::Provider(e) => match e.gateway_status() {
                400 | 404 | 413 => ("invalid_request_error", "upstream_refused"),
                504 => ("server_error", "upstream_timeout"),
                _ => ("server_error", "upstream_error"),
            },
            ProxyError::AllFailed { .. } => self.exhausted_kind(),
            ProxyError::ShuttingDown => ("server_error", "shutting_down"),
            ProxyError::SharedStateUnavailable(_) => {
                ("rate_limit_error", "shared_limits_unavailable")
            }
        }
    }

    fn exhausted_kind(&self) -> (&'static str, &'static str) {
        match self.status().as_u16() {
            429 => ("rate_limit_error", "rate_limit_exceeded"),
            504 => ("server_error", "upstream_timeout"),
            _ => ("server_error", "no_provider_available"),
        }
    }
}

/// The error format of the API the app speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ErrorShape {
    #[default]
    OpenAi,
    Anthropic,
}

impl ProxyError {
    /// The error body; a stream that fails after its first byte ends with it as its last event.
    pub fn body(&self) -> serde_json::Value {
        self.body_as(ErrorShape::OpenAi)
    }

    pub fn body_as(&self, shape: ErrorShape) -> serde_json::Value {
        match shape {
            ErrorShape::OpenAi => {
                let (kind, code) = self.kind_and_code();
                json!({"error": {"message": self.to_string(), "type": kind, "code": code}})
            }
            ErrorShape::Anthropic => json!({"type": "error", "error": {
                "type": crate::providers::anthropic_error_type(self.status().as_u16()),
                "message": self.to_string()}}),
        }
    }

    pub fn into_response_as(self, shape: ErrorShape) -> Response {
        let mut response = (self.status(), axum::Json(self.body_as(shape))).into_response();
        if let Some(secs) = self.retry_after_secs() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        self.into_response_as(ErrorShape::OpenAi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_errors_keep_the_status_and_name_its_type() {
        let cases = [
            (ProxyError::MissingKey, 401, "authentication_error"),
            (
                ProxyError::ModelNotAllowed("m".into()),
                403,
                "permission_error",
            ),
            (
                ProxyError::InvalidRequest("x".into()),
                400,
                "invalid_request_error",
            ),
            (ProxyError::ShuttingDown, 503, "overloaded_error"),
        ];
        for (error, status, kind) in cases {
            let body = error.body_as(ErrorShape::Anthropic);
            assert_eq!(error.status().as_u16(), status);
            assert_eq!(body["type"], "error");
            assert_eq!(body["error"]["type"], kind);
            assert_eq!(body["error"]["message"], error.to_string());
        }
    }
}
