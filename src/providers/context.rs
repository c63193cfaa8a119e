//! What one call to a provider needs besides the request: where, with which key, which model, and
//! how long to wait.

use dashmap::DashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A credential. Its `Debug` never shows the value, so it cannot leak through `{:?}` in logs or
/// errors; there is deliberately no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The raw value, only for building the auth header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How long to wait for an upstream. `connect` is applied by [`http_client`] because reqwest sets
/// it per client; the others per call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// Until the response headers (and, for streams, the first event) arrive. A non-streamed
    /// completion sends its headers only when the whole answer is ready, hence the generous default.
    pub first_byte: Duration,
    /// The whole call, body included.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(120),
            total: Duration::from_secs(600),
        }
    }
}

/// Azure OpenAI addresses a deployment on a per-resource endpoint instead of a model on a shared
/// base URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AzureExtras {
    /// `https://<resource>.openai.azure.com`
    pub endpoint: String,
    /// e.g. `2024-10-21`
    pub api_version: String,
    pub deployment: String,
}

#[derive(Clone, Debug)]
pub struct CallContext {
    pub client: reqwest::Client,
    /// API root without a trailing path, e.g. `https://api.openai.com`. Azure uses `azure.endpoint`.
    pub base_url: String,
    pub api_key: Secret,
    /// The provider's own model name (the logical model is resolved before this point).
    pub model: String,
    pub azure: Option<AzureExtras>,
    pub timeouts: Timeouts,
}

impl CallContext {
    pub fn new(
        client: reqwest::Client,
        base_url: impl Into<String>,
        api_key: Secret,
        model: impl Into<String>,
    ) -> Self {
        CallContext {
            client,
            base_url: base_url.into(),
            api_key,
            model: model.into(),
            azure: None,
            timeouts: Timeouts::default(),
        }
    }

    /// `base_url` joined with `path`, tolerating a trailing slash in the configured URL.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url.trim_end_matches('/'), path)
    }
}

/// A client for provider calls with the connect timeout set; one is shared by all calls.
pub fn http_client(timeouts: &Timeouts) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .build()
}

/// HTTP clients for provider calls, one per connect timeout (reqwest sets it per client), so
/// connections are pooled across requests and accounts.
#[derive(Clone, Default)]
pub struct ProviderClients(Arc<DashMap<Duration, reqwest::Client>>);

impl ProviderClients {
    /// The shared client for calls with these timeouts.
    pub fn for_timeouts(&self, timeouts: &Timeouts) -> Result<reqwest::Client, reqwest::Error> {
        let connect = timeouts.connect;
        if let Some(client) = self.0.get(&connect) {
            return Ok(client.clone());
        }
        let client = http_client(timeouts)?;
        self.0.insert(connect, client.clone());
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let ctx = CallContext::new(
            reqwest::Client::new(),
            "http://x",
            Secret::new("sk-live-123"),
            "m",
        );
        let shown = format!("{ctx:?}");
        assert!(!shown.contains("sk-live-123"));
        assert!(shown.contains("[redacted]"));
        assert_eq!(ctx.url("/v1/models"), "http://x/v1/models");
    }
}
