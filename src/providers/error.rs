//! How a provider call fails, and what the proxy should make of it. Messages never contain the
//! API key: it travels only in headers, and reqwest errors are stripped of their URL.

use std::fmt;
use std::time::Duration;

use crate::domain::ProviderKind;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("could not reach {provider}: {message}")]
    Connect {
        provider: ProviderKind,
        message: String,
    },
    #[error("{provider} did not answer within {after:?} ({phase})")]
    Timeout {
        provider: ProviderKind,
        phase: TimeoutPhase,
        after: Duration,
    },
    #[error("{provider} returned HTTP {status}: {message}")]
    Upstream {
        provider: ProviderKind,
        status: u16,
        /// The provider's own explanation, parsed from its error body.
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("{provider} sent a response Switchyard cannot read: {message}")]
    BadResponse {
        provider: ProviderKind,
        message: String,
    },
    /// The account is not set up for this call (e.g. Azure without a deployment); nothing was sent.
    #[error("{provider} account is misconfigured: {message}")]
    Config {
        provider: ProviderKind,
        message: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// Waiting for the response headers or the first stream event.
    FirstByte,
    /// The whole call, body included.
    Total,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::FirstByte => "waiting for the first byte",
            TimeoutPhase::Total => "total time",
        })
    }
}

impl ProviderError {
    pub fn provider(&self) -> ProviderKind {
        match self {
            ProviderError::Connect { provider, .. }
            | ProviderError::Timeout { provider, .. }
            | ProviderError::Upstream { provider, .. }
            | ProviderError::BadResponse { provider, .. }
            | ProviderError::Config { provider, .. } => *provider,
        }
    }

    /// Whether the proxy should try the next candidate. Failures of the provider or the path to it
    /// (connect, timeouts, 408, 429, 5xx, unreadable answers) are; a 4xx about the request itself
    /// would fail the same way everywhere, so it is not. A misconfigured account sent nothing, so
    /// another account may well succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Connect { .. }
            | ProviderError::Timeout { .. }
            | ProviderError::BadResponse { .. }
            | ProviderError::Config { .. } => true,
            ProviderError::Upstream { status, .. } => {
                *status == 408 || *status == 429 || *status >= 500
            }
        }
    }

    pub fn is_rate_limited(&self) -> bool {
        matches!(self, ProviderError::Upstream { status: 429, .. })
    }

    /// The status the gateway answers with when this is the last failure. Errors about the app's
    /// request keep their status; the account's own problems (401/403: our credentials, 402:
    /// billing) are the gateway's, not the app's, so they become 502.
    pub fn gateway_status(&self) -> u16 {
        match self {
            ProviderError::Timeout { .. } => 504,
            ProviderError::Upstream { status, .. } => match *status {
                400 | 404 | 413 | 429 => *status,
                422 => 400,
                408 => 504,
                _ => 502,
            },
            ProviderError::Connect { .. }
            | ProviderError::BadResponse { .. }
            | ProviderError::Config { .. } => 502,
        }
    }

    pub(crate) fn bad_response(provider: ProviderKind, message: impl fmt::Display) -> Self {
        ProviderError::BadResponse {
            provider,
            message: message.to_string(),
        }
    }

    /// reqwest's error, without the URL (it may carry query parameters we do not want in logs).
    pub(crate) fn from_reqwest(
        provider: ProviderKind,
        err: reqwest::Error,
        total: Duration,
    ) -> Self {
        if err.is_timeout() {
            return ProviderError::Timeout {
                provider,
                phase: TimeoutPhase::Total,
                after: total,
            };
        }
        let decode = err.is_decode() || err.is_body();
        let message = error_chain(&err.without_url());
        if decode {
            ProviderError::BadResponse { provider, message }
        } else {
            ProviderError::Connect { provider, message }
        }
    }
}

/// "outer: inner: root" — reqwest's top-level message alone is often just "error sending request".
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(status: u16) -> ProviderError {
        ProviderError::Upstream {
            provider: ProviderKind::Openai,
            status,
            message: "m".into(),
            retry_after: None,
        }
    }

    #[test]
    fn retryable_and_gateway_status() {
        for (status, retry, gateway) in [
            (400, false, 400),
            (401, false, 502),
            (404, false, 404),
            (422, false, 400),
            (429, true, 429),
            (500, true, 502),
            (503, true, 502),
            (529, true, 502),
        ] {
            let err = upstream(status);
            assert_eq!(err.is_retryable(), retry, "status {status}");
            assert_eq!(err.gateway_status(), gateway, "status {status}");
        }
        let timeout = ProviderError::Timeout {
            provider: ProviderKind::Google,
            phase: TimeoutPhase::FirstByte,
            after: Duration::from_secs(1),
        };
        assert!(timeout.is_retryable());
        assert_eq!(timeout.gateway_status(), 504);
        assert!(upstream(429).is_rate_limited());
    }
}
