//! The exact response cache: an answer stored under the SHA-256 of the canonical request (after
//! the logical model's defaults, routing hints left out) and its scope, and given back, at no
//! cost, to an identical request until its time to live is over. In process (moka: sharded,
//! bounded by the answers' size, no global lock), or in Redis when `REDIS_URL` is set, so a
//! fleet of instances shares one cache. A Redis that stops answering turns lookups into misses
//! (after a short timeout); it never fails a request.

use crate::domain::{CacheScope, CacheSettings, Money};
use crate::providers::ChatRequest;
use moka::sync::Cache;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `x-switchyard-cache`: `no-store` on a request skips the cache; on a response, `hit` or `miss`.
pub const CACHE_HEADER: &str = "x-switchyard-cache";
/// `x-switchyard-cache-ttl: N` keeps this request's answer N seconds at most (shorter than the
/// model's time to live, never longer).
pub const CACHE_TTL_HEADER: &str = "x-switchyard-cache-ttl";

/// A lookup in Redis slower than this is taken as a miss: the provider is the fallback.
const REDIS_TIMEOUT: Duration = Duration::from_millis(200);
const REDIS_PREFIX: &str = "switchyard:cache:";

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot connect to Redis at {url}: {source}")]
    Redis {
        url: String,
        source: redis::RedisError,
    },
}

/// The SHA-256 of the canonical request and its scope.
pub type CacheKey = [u8; 32];

/// An answer as the app received it, and what it cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CachedAnswer {
    pub body: CachedBody,
    /// What the provider call cost: saved by every hit.
    pub cost: Money,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CachedBody {
    /// The JSON body of a non-streamed answer.
    Complete(String),
    /// The SSE events of a streamed answer as the app received them, in order, the end
    /// (`data: [DONE]`) included: a hit replays them as they are.
    Stream(Vec<String>),
}

impl CachedAnswer {
    /// Bytes held, for the memory bound.
    fn weight(&self) -> u32 {
        let bytes = match &self.body {
            CachedBody::Complete(json) => json.len(),
            CachedBody::Stream(events) => events.iter().map(String::len).sum(),
        };
        u32::try_from(bytes).unwrap_or(u32::MAX)
    }
}

/// An answer with its own time to live.
struct Entry {
    answer: Arc<CachedAnswer>,
    ttl: Duration,
}

struct PerEntryTtl;

impl moka::Expiry<CacheKey, Arc<Entry>> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _: &CacheKey,
        entry: &Arc<Entry>,
        _: Instant,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

#[derive(Clone)]
enum Backend {
    Memory(Cache<CacheKey, Arc<Entry>>),
    Redis(redis::aio::ConnectionManager),
}

/// The handle every request shares; cloning is cheap.
#[derive(Clone)]
pub struct ResponseCache {
    backend: Backend,
}

impl ResponseCache {
    /// In process, holding answers of at most `max_bytes` in all.
    pub fn in_memory(max_bytes: u64) -> Self {
        let cache = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_: &CacheKey, entry: &Arc<Entry>| entry.answer.weight())
            .expire_after(PerEntryTtl)
            .build();
        ResponseCache {
            backend: Backend::Memory(cache),
        }
    }

    /// In Redis at `url`, shared by every instance pointed at it.
    pub async fn redis(url: &str) -> Result<Self, CacheError> {
        let fail = |source| CacheError::Redis {
            url: crate::store::redact_url(url),
            source,
        };
        let client = redis::Client::open(url).map_err(fail)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(REDIS_TIMEOUT);
        let manager = redis::aio::ConnectionManager::new_with_config(client, config)
            .await
            .map_err(fail)?;
        Ok(ResponseCache {
            backend: Backend::Redis(manager),
        })
    }

    pub async fn get(&self, key: &CacheKey) -> Option<Arc<CachedAnswer>> {
        match &self.backend {
            Backend::Memory(cache) => cache.get(key).map(|entry| entry.answer.clone()),
            Backend::Redis(manager) => {
                let mut conn = manager.clone();
                let mut get = redis::cmd("GET");
                get.arg(redis_key(key));
                let lookup = get.query_async::<Option<Vec<u8>>>(&mut conn);
                match tokio::time::timeout(REDIS_TIMEOUT, lookup).await {
                    Ok(Ok(Some(bytes))) => match serde_json::from_slice(&bytes) {
                        Ok(answer) => Some(Arc::new(answer)),
                        Err(e) => {
                            tracing::warn!(error = %e, "a cached answer in Redis cannot be read; asking the provider");
                            None
                        }
                    },
                    Ok(Ok(None)) => None,
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "the Redis response cache failed; asking the provider");
                        None
                    }
                    Err(_) => {
                        tracing::warn!(
                            "the Redis response cache did not answer in time; asking the provider"
                        );
                        None
                    }
                }
            }
        }
    }

    /// Stores an answer; never waits on Redis (the write runs on its own task).
    pub fn put(&self, key: CacheKey, answer: CachedAnswer, ttl: Duration) {
        match &self.backend {
            Backend::Memory(cache) => cache.insert(
                key,
                Arc::new(Entry {
                    answer: Arc::new(answer),
                    ttl,
                }),
            ),
            Backend::Redis(manager) => {
                let mut conn = manager.clone();
                let Ok(bytes) = serde_json::to_vec(&answer) else {
                    return;
                };
                tokio::spawn(async move {
                    let stored = redis::cmd("SET")
                        .arg(redis_key(&key))
                        .arg(bytes)
                        .arg("EX")
                        .arg(ttl.as_secs().max(1))
                        .query_async::<()>(&mut conn)
                        .await;
                    if let Err(e) = stored {
                        tracing::warn!(error = %e, "cannot store an answer in the Redis response cache");
                    }
                });
            }
        }
    }
}

fn redis_key(key: &CacheKey) -> String {
    let mut text = String::with_capacity(REDIS_PREFIX.len() + 64);
    text.push_str(REDIS_PREFIX);
    for byte in key {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// What one request may do with the cache, decided once from the model's settings and the
/// request's headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheUse {
    pub key: CacheKey,
    pub ttl: Duration,
}

/// Why a request's cache headers are refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CacheHeaderError {
    #[error("`{CACHE_TTL_HEADER}` must be a whole number of seconds greater than 0")]
    BadTtl,
    #[error("`{CACHE_HEADER}` on a request may only be `no-store`")]
    BadDirective,
}

/// Whether and how the request uses the cache: `None` when the model has none, the request
/// says `no-store`, or it is sampled at a temperature above 0 and the model does not cache
/// those. The request is hashed here, once, with its routing hints (`metadata`) left out.
pub fn cache_use(
    settings: Option<&CacheSettings>,
    directive: Option<&str>,
    ttl_header: Option<&str>,
    key_id: &str,
    request: &mut ChatRequest,
) -> Result<Option<CacheUse>, CacheHeaderError> {
    let no_store = match directive.map(str::trim) {
        None => false,
        Some(d) if d.eq_ignore_ascii_case("no-store") => true,
        Some(_) => return Err(CacheHeaderError::BadDirective),
    };
    let ttl_cap = ttl_header
        .map(|t| t.trim().parse::<u64>().ok().filter(|&s| s > 0))
        .map(|t| t.ok_or(CacheHeaderError::BadTtl))
        .transpose()?;
    let Some(settings) = settings else {
        return Ok(None);
    };
    // Left unset, providers sample at temperature 1.
    let sampled = request.temperature.is_none_or(|t| t > 0.0);
    if no_store || (sampled && !settings.nonzero_temperature) {
        return Ok(None);
    }
    let ttl_seconds = ttl_cap.map_or(u64::from(settings.ttl_seconds), |cap| {
        cap.min(u64::from(settings.ttl_seconds))
    });
    let mut hasher = Sha256::new();
    match settings.scope {
        CacheScope::Key => {
            hasher.update(b"key:");
            hasher.update(key_id.as_bytes());
        }
        CacheScope::Shared => hasher.update(b"shared"),
    }
    hasher.update([0]);
    // Hints choose the route, not the answer; taken out for the hash and put back.
    let metadata = request.metadata.take();
    let written = serde_json::to_writer(&mut hasher, &*request);
    request.metadata = metadata;
    if written.is_err() {
        return Ok(None);
    }
    Ok(Some(CacheUse {
        key: hasher.finalize().into(),
        ttl: Duration::from_secs(ttl_seconds),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(body: serde_json::Value) -> ChatRequest {
        serde_json::from_value(body).unwrap()
    }

    fn settings(scope: CacheScope, nonzero_temperature: bool) -> CacheSettings {
        CacheSettings {
            ttl_seconds: 300,
            scope,
            nonzero_temperature,
        }
    }

    #[test]
    fn the_key_is_the_canonical_request_and_its_scope() {
        let base = json!({"model": "m", "temperature": 0, "messages": [{"role": "user", "content": "hi"}]});
        let key_of = |body: &serde_json::Value, scope, key_id| {
            let mut r = request(body.clone());
            cache_use(Some(&settings(scope, false)), None, None, key_id, &mut r)
                .unwrap()
                .map(|u| u.key)
        };
        let a = key_of(&base, CacheScope::Key, "k1").unwrap();
        assert_eq!(Some(a), key_of(&base, CacheScope::Key, "k1"));
        assert_ne!(Some(a), key_of(&base, CacheScope::Key, "k2"));
        assert_eq!(
            key_of(&base, CacheScope::Shared, "k1"),
            key_of(&base, CacheScope::Shared, "k2")
        );
        let mut hinted = base.clone();
        hinted["metadata"] = json!({"purpose": "chat"});
        assert_eq!(Some(a), key_of(&hinted, CacheScope::Key, "k1"));
        let mut other = base.clone();
        other["messages"][0]["content"] = json!("hello");
        assert_ne!(Some(a), key_of(&other, CacheScope::Key, "k1"));
        let mut streamed = base.clone();
        streamed["stream"] = json!(true);
        assert_ne!(Some(a), key_of(&streamed, CacheScope::Key, "k1"));
    }

    #[test]
    fn headers_temperature_and_settings_decide_whether_to_cache() {
        let cold = json!({"model": "m", "temperature": 0, "messages": [{"role": "user", "content": "hi"}]});
        let warm = json!({"model": "m", "temperature": 0.7, "messages": [{"role": "user", "content": "hi"}]});
        let unset = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        let off = None;
        let on = Some(settings(CacheScope::Key, false));
        let any_temperature = Some(settings(CacheScope::Key, true));
        // (label, settings, body, directive, ttl header, expected ttl in seconds or None)
        type Case<'a> = (
            &'a str,
            Option<CacheSettings>,
            &'a serde_json::Value,
            Option<&'a str>,
            Option<&'a str>,
            Option<u64>,
        );
        let cases: Vec<Case> = vec![
            ("off by default", off, &cold, None, None, None),
            ("on", on, &cold, None, None, Some(300)),
            ("no-store", on, &cold, Some("no-store"), None, None),
            ("ttl shortened", on, &cold, None, Some("60"), Some(60)),
            (
                "ttl never lengthened",
                on,
                &cold,
                None,
                Some("9000"),
                Some(300),
            ),
            ("sampled answers vary", on, &warm, None, None, None),
            ("unset temperature samples", on, &unset, None, None, None),
            (
                "unless allowed",
                any_temperature,
                &warm,
                None,
                None,
                Some(300),
            ),
        ];
        for (label, settings, body, directive, ttl, expected) in cases {
            let mut r = request(body.clone());
            let got = cache_use(settings.as_ref(), directive, ttl, "k", &mut r).unwrap();
            assert_eq!(got.map(|u| u.ttl.as_secs()), expected, "{label}");
        }
        for (directive, ttl) in [(Some("please"), None), (None, Some("0")), (None, Some("x"))] {
            let mut r = request(cold.clone());
            assert!(
                cache_use(on.as_ref(), directive, ttl, "k", &mut r).is_err(),
                "{directive:?} {ttl:?}"
            );
        }
    }

    #[test]
    fn memory_entries_expire_and_weigh_their_size() {
        let cache = ResponseCache::in_memory(1024);
        let answer = CachedAnswer {
            body: CachedBody::Complete("{}".into()),
            cost: Money::from_dollars(0.01),
        };
        cache.put([1; 32], answer.clone(), Duration::from_millis(50));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            assert_eq!(cache.get(&[1; 32]).await.as_deref(), Some(&answer));
            assert!(cache.get(&[2; 32]).await.is_none());
            tokio::time::sleep(Duration::from_millis(80)).await;
            assert!(cache.get(&[1; 32]).await.is_none(), "expired");
        });
        assert_eq!(
            CachedAnswer {
                body: CachedBody::Stream(vec!["ab".into(), "cde".into()]),
                cost: Money::ZERO
            }
            .weight(),
            5
        );
    }
}
