//! Runtime settings: defaults from `Leptos.toml` (compiled in), overridden by environment
//! variables. Nothing here reads the database.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

const DEFAULTS: &str = include_str!("../Leptos.toml");

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("built-in defaults (Leptos.toml) are invalid: {0}")]
    Defaults(#[from] toml::de::Error),
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    Env {
        name: &'static str,
        value: String,
        reason: String,
    },
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub addr: SocketAddr,
    pub public_url: String,
    pub database_url: String,
    pub db_max_connections: u32,
    /// Where the SQLite file's folder and the master key file live.
    pub data_dir: PathBuf,
    pub auth: AuthSettings,
    /// `SWITCHYARD_CONFIG`: a YAML file applied at start-up.
    pub config_file: Option<PathBuf>,
    /// `SWITCHYARD_SETUP_TOKEN`: a fixed first-admin setup token for automation; random otherwise.
    pub setup_token: Option<String>,
    /// `SWITCHYARD_MAX_BODY_BYTES`: the largest `/v1` request body accepted (413 above it).
    pub max_body_bytes: usize,
    /// `SWITCHYARD_PROBE_INTERVAL_SECS`: how often each provider account is probed; 0 never.
    pub probe_interval_secs: u64,
    /// `SWITCHYARD_USAGE_RETENTION_DAYS`: days the per-request ledger is kept; 0 keeps it
    /// forever. Hour and day rollups are kept regardless.
    pub usage_retention_days: u32,
    /// `SWITCHYARD_MASTER_KEY`: base64 of the 32-byte credential key; a key file in `data_dir`
    /// otherwise.
    pub master_key: Option<crate::providers::Secret>,
    /// `SWITCHYARD_SHUTDOWN_GRACE_SECS`: after SIGTERM, how long in-flight requests (streams
    /// included) may take to finish before they are cut.
    pub shutdown_grace_secs: u64,
    /// `SWITCHYARD_METRICS_TOKEN`: when set, `GET /metrics` needs `Authorization: Bearer <it>`.
    pub metrics_token: Option<crate::providers::Secret>,
    /// `SWITCHYARD_RESPONSE_CACHE_MAX_BYTES`: the in-process response cache's size bound.
    pub response_cache_max_bytes: u64,
    /// `REDIS_URL`: when set, the response cache lives in this Redis, shared by every instance.
    /// A secret: the URL may carry a password.
    pub redis_url: Option<crate::providers::Secret>,
    /// With `REDIS_URL`: how this instance shares limits, circuits and budgets with the fleet.
    pub fleet: crate::fleet::FleetSettings,
    /// `SWITCHYARD_INSTANCE_ID`: names this instance in `/metrics` and in the
    /// `x-switchyard-instance` response header; the host name and port when unset.
    pub instance_id: Option<String>,
    /// `SWITCHYARD_OIDC_*` and `SWITCHYARD_LOGIN_MODE`: single sign-on, over the config
    /// file's `sso:` section; checked at start-up.
    pub oidc: crate::auth::oidc::OidcInput,
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub secure_cookies: bool,
    pub session_idle_days: i64,
    pub login_max_failures: u32,
    pub login_window_minutes: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    server: ServerDefaults,
    database: DatabaseDefaults,
    auth: AuthDefaults,
    proxy: ProxyDefaults,
    usage: UsageDefaults,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageDefaults {
    retention_days: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerDefaults {
    addr: String,
    public_url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DatabaseDefaults {
    url: String,
    max_connections: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProxyDefaults {
    max_body_bytes: usize,
    probe_interval_secs: u64,
    shutdown_grace_secs: u64,
    response_cache_max_bytes: u64,
    redis_timeout_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthDefaults {
    secure_cookies: bool,
    session_idle_days: i64,
    login_max_failures: u32,
    login_window_minutes: u64,
}

impl Settings {
    /// Defaults overridden by the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Defaults overridden by `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let defaults: Defaults = toml::from_str(DEFAULTS)?;
        let text = |name: &'static str, default: String| lookup(name).unwrap_or(default);

        let addr_text = text("SWITCHYARD_ADDR", defaults.server.addr);
        let addr = addr_text.parse().map_err(|e| SettingsError::Env {
            name: "SWITCHYARD_ADDR",
            value: addr_text.clone(),
            reason: format!("{e} (expected host:port, e.g. 127.0.0.1:3000)"),
        })?;
        let public_url = text("SWITCHYARD_PUBLIC_URL", defaults.server.public_url);
        let public_url = if public_url.is_empty() {
            format!("http://{addr}")
        } else {
            public_url.trim_end_matches('/').to_string()
        };

        let database_url = text("DATABASE_URL", defaults.database.url);
        let data_dir = lookup("SWITCHYARD_DATA_DIR")
            .map(PathBuf::from)
            .or_else(|| sqlite_folder(&database_url))
            .unwrap_or_else(|| PathBuf::from("data"));

        Ok(Settings {
            addr,
            public_url,
            database_url,
            db_max_connections: number(
                &lookup,
                "SWITCHYARD_DB_MAX_CONNECTIONS",
                defaults.database.max_connections,
            )?,
            data_dir,
            auth: AuthSettings {
                secure_cookies: boolean(
                    &lookup,
                    "SWITCHYARD_SECURE_COOKIES",
                    defaults.auth.secure_cookies,
                )?,
                session_idle_days: number(
                    &lookup,
                    "SWITCHYARD_SESSION_IDLE_DAYS",
                    defaults.auth.session_idle_days,
                )?,
                login_max_failures: number(
                    &lookup,
                    "SWITCHYARD_LOGIN_MAX_FAILURES",
                    defaults.auth.login_max_failures,
                )?,
                login_window_minutes: number(
                    &lookup,
                    "SWITCHYARD_LOGIN_WINDOW_MINUTES",
                    defaults.auth.login_window_minutes,
                )?,
            },
            config_file: lookup("SWITCHYARD_CONFIG")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            setup_token: lookup("SWITCHYARD_SETUP_TOKEN").filter(|t| !t.is_empty()),
            max_body_bytes: number(
                &lookup,
                "SWITCHYARD_MAX_BODY_BYTES",
                defaults.proxy.max_body_bytes,
            )?,
            probe_interval_secs: number(
                &lookup,
                "SWITCHYARD_PROBE_INTERVAL_SECS",
                defaults.proxy.probe_interval_secs,
            )?,
            usage_retention_days: number(
                &lookup,
                "SWITCHYARD_USAGE_RETENTION_DAYS",
                defaults.usage.retention_days,
            )?,
            master_key: lookup("SWITCHYARD_MASTER_KEY")
                .filter(|k| !k.is_empty())
                .map(crate::providers::Secret::new),
            shutdown_grace_secs: number(
                &lookup,
                "SWITCHYARD_SHUTDOWN_GRACE_SECS",
                defaults.proxy.shutdown_grace_secs,
            )?,
            metrics_token: lookup("SWITCHYARD_METRICS_TOKEN")
                .filter(|t| !t.trim().is_empty())
                .map(|t| crate::providers::Secret::new(t.trim())),
            response_cache_max_bytes: number(
                &lookup,
                "SWITCHYARD_RESPONSE_CACHE_MAX_BYTES",
                defaults.proxy.response_cache_max_bytes,
            )?,
            redis_url: lookup("REDIS_URL")
                .filter(|u| !u.trim().is_empty())
                .map(|u| crate::providers::Secret::new(u.trim())),
            fleet: crate::fleet::FleetSettings {
                prefix: text("SWITCHYARD_REDIS_PREFIX", "switchyard:".into()),
                on_failure: number(
                    &lookup,
                    "SWITCHYARD_REDIS_FAILURE",
                    crate::fleet::OnRedisFailure::Open,
                )?,
                timeout: std::time::Duration::from_millis(number(
                    &lookup,
                    "SWITCHYARD_REDIS_TIMEOUT_MS",
                    defaults.proxy.redis_timeout_ms,
                )?),
            },
            instance_id: lookup("SWITCHYARD_INSTANCE_ID")
                .map(|id| id.trim().to_string())
                .filter(|id| !id.is_empty())
                .map(|id| match instance_id_problem(&id) {
                    None => Ok(id),
                    Some(reason) => Err(SettingsError::Env {
                        name: "SWITCHYARD_INSTANCE_ID",
                        value: id,
                        reason: reason.into(),
                    }),
                })
                .transpose()?,
            oidc: crate::auth::oidc::OidcInput::from_lookup(&lookup),
        })
    }
}

/// Why `id` cannot name an instance: it goes into a response header and a metric label.
fn instance_id_problem(id: &str) -> Option<&'static str> {
    if id.len() > 100 {
        Some("at most 100 characters")
    } else if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
    {
        Some("letters, digits and . - _ : only")
    } else {
        None
    }
}

/// The instance's name when `SWITCHYARD_INSTANCE_ID` is unset: the host name and the port it
/// listens on. Unique among replicas (one per host, or several per host on their own ports),
/// the same after a restart, and what an operator recognises.
pub fn default_instance_id(port: u16) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && instance_id_problem(h).is_none())
        .unwrap_or_else(|| "switchyard".into());
    format!("{host}:{port}")
}

/// The folder of a `sqlite://` database file, which also holds the master key file.
fn sqlite_folder(database_url: &str) -> Option<PathBuf> {
    let path = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or(path);
    PathBuf::from(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(PathBuf::from)
}

fn number<T: std::str::FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, SettingsError>
where
    T::Err: std::fmt::Display,
{
    match lookup(name) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse()
            .map_err(|e: T::Err| SettingsError::Env {
                name,
                reason: e.to_string(),
                value,
            }),
    }
}

fn boolean(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, SettingsError> {
    match lookup(name).as_deref().map(str::trim) {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(SettingsError::Env {
            name,
            value: other.to_string(),
            reason: "expected true or false".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_come_from_leptos_toml() {
        let s = with(&[]).unwrap();
        assert_eq!(s.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(s.public_url, "http://127.0.0.1:3000");
        assert_eq!(s.database_url, "sqlite://data/switchyard.db");
        assert_eq!(s.data_dir, PathBuf::from("data"));
        assert!(!s.auth.secure_cookies);
        assert_eq!(s.auth.login_max_failures, 5);
        assert!(s.config_file.is_none());
        assert_eq!(s.max_body_bytes, 10 * 1024 * 1024);
        assert_eq!(s.probe_interval_secs, 60);
        assert_eq!(s.usage_retention_days, 30);
        assert!(s.redis_url.is_none());
        assert_eq!(s.fleet.on_failure, crate::fleet::OnRedisFailure::Open);
        assert_eq!(s.fleet.timeout, std::time::Duration::from_millis(50));
        assert_eq!(s.fleet.prefix, "switchyard:");
    }

    #[test]
    fn environment_overrides_defaults() {
        let s = with(&[
            ("SWITCHYARD_ADDR", "0.0.0.0:8080"),
            ("DATABASE_URL", "sqlite:///var/lib/sy/db.sqlite?mode=rwc"),
            ("SWITCHYARD_SECURE_COOKIES", "true"),
            ("SWITCHYARD_PUBLIC_URL", "https://gw.example.com/"),
        ])
        .unwrap();
        assert_eq!(s.addr.port(), 8080);
        assert_eq!(s.data_dir, PathBuf::from("/var/lib/sy"));
        assert!(s.auth.secure_cookies);
        assert_eq!(s.public_url, "https://gw.example.com");
        assert_eq!(
            with(&[("SWITCHYARD_INSTANCE_ID", " gw-eu-1:3000 ")])
                .unwrap()
                .instance_id
                .as_deref(),
            Some("gw-eu-1:3000")
        );
    }

    #[test]
    fn the_default_instance_id_is_the_host_and_port() {
        assert!(with(&[]).unwrap().instance_id.is_none());
        let id = default_instance_id(3001);
        let host = id.strip_suffix(":3001").unwrap();
        assert!(
            !host.is_empty() && instance_id_problem(&id).is_none(),
            "{id}"
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = with(&[("SWITCHYARD_ADDR", "nope")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("SWITCHYARD_ADDR"), "{err}");
        let err = with(&[("SWITCHYARD_LOGIN_MAX_FAILURES", "many")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("SWITCHYARD_LOGIN_MAX_FAILURES"), "{err}");
        let err = with(&[("SWITCHYARD_INSTANCE_ID", "gw 1\r\nx: y")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("SWITCHYARD_INSTANCE_ID"), "{err}");
        let err = with(&[("SWITCHYARD_SECURE_COOKIES", "maybe")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("true or false"), "{err}");
        let err = with(&[("SWITCHYARD_REDIS_FAILURE", "sometimes")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("SWITCHYARD_REDIS_FAILURE"), "{err}");
        assert!(err.contains("open or closed"), "{err}");
    }
}
