//! Cross-site request forgery guard for the dashboard. Browsers send `Sec-Fetch-Site` and
//! `Origin` with every POST; a state-changing request from another site is refused before
//! any handler runs. The session cookie is also `SameSite=Lax`, so this is a second layer.
//! Requests without either header (curl, SDKs) carry no ambient browser credentials. The
//! proxy API (`/v1`) is outside this guard: it authenticates with bearer keys, not cookies,
//! so it is open to any origin.

use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn refuse_cross_site(request: Request, next: Next) -> Response {
    if is_safe_method(request.method()) {
        return next.run(request).await;
    }
    if let Some(reason) = cross_site_reason(request.headers()) {
        tracing::warn!(path = %request.uri().path(), reason, "refused a cross-site request");
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Cross-site requests are not allowed.",
        )
            .into_response();
    }
    next.run(request).await
}

fn is_safe_method(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn cross_site_reason(headers: &axum::http::HeaderMap) -> Option<&'static str> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return Some("sec-fetch-site");
        }
    }
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    if origin == "null" || Some(origin_host) != host {
        return Some("origin");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn same_origin_and_headerless_requests_pass() {
        assert_eq!(cross_site_reason(&headers(&[])), None);
        assert_eq!(
            cross_site_reason(&headers(&[
                ("sec-fetch-site", "same-origin"),
                ("origin", "http://127.0.0.1:3000"),
                ("host", "127.0.0.1:3000"),
            ])),
            None
        );
    }

    #[test]
    fn cross_site_requests_are_refused() {
        assert_eq!(
            cross_site_reason(&headers(&[("sec-fetch-site", "cross-site")])),
            Some("sec-fetch-site")
        );
        assert_eq!(
            cross_site_reason(&headers(&[("sec-fetch-site", "same-site")])),
            Some("sec-fetch-site")
        );
        assert_eq!(
            cross_site_reason(&headers(&[
                ("origin", "https://evil.example"),
                ("host", "127.0.0.1:3000"),
            ])),
            Some("origin")
        );
        assert_eq!(
            cross_site_reason(&headers(&[("origin", "null"), ("host", "127.0.0.1:3000")])),
            Some("origin")
        );
    }
}
