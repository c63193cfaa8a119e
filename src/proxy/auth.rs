//! Gateway keys: `Authorization: Bearer sk-sy-…` or, as Anthropic's SDKs send it,
//! `x-api-key: sk-sy-…`; looked up by hash in the config snapshot.

use super::error::ProxyError;
use crate::snapshot::{hash_gateway_key, ConfigSnapshot, GatewayKey};
use axum::http::{header, HeaderMap};

/// The key the request carries, if it is one this instance issued and still valid.
pub fn authenticate<'a>(
    headers: &HeaderMap,
    config: &'a ConfigSnapshot,
    now_ms: i64,
) -> Result<&'a GatewayKey, ProxyError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .or_else(|| {
            headers
                .get("x-api-key")
                .and_then(|value| value.to_str().ok())
                .map(str::trim)
        })
        .filter(|token| !token.is_empty())
        .ok_or(ProxyError::MissingKey)?;
    let key = config
        .keys
        .get(&hash_gateway_key(token))
        .ok_or(ProxyError::InvalidKey)?;
    if key.is_expired(now_ms) {
        return Err(ProxyError::ExpiredKey);
    }
    Ok(key)
}
