//! Single sign-on settings: the environment (`SWITCHYARD_OIDC_*`, `SWITCHYARD_LOGIN_MODE`) or
//! the config file's `sso:` section, checked once at start-up so a mistake stops the server
//! with a sentence naming the setting instead of failing at someone's first sign-in.

use super::role_map::RoleMap;
use crate::providers::Secret;
use openidconnect::{ClientId, IssuerUrl};
use std::net::IpAddr;

/// The single sign-on fields as given. The environment wins over the config file, field by
/// field, so a deployment can keep the file and inject only the secret.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OidcInput {
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    /// The provider's name on the login page's button.
    pub name: Option<String>,
    pub groups_claim: Option<String>,
    pub role_map: Option<String>,
    /// `password`, `oidc` or `both`.
    pub login_mode: Option<String>,
}

impl OidcInput {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let text = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        OidcInput {
            issuer: text("SWITCHYARD_OIDC_ISSUER"),
            client_id: text("SWITCHYARD_OIDC_CLIENT_ID"),
            client_secret: text("SWITCHYARD_OIDC_CLIENT_SECRET").map(Secret::new),
            name: text("SWITCHYARD_OIDC_NAME"),
            groups_claim: text("SWITCHYARD_OIDC_GROUPS_CLAIM"),
            role_map: text("SWITCHYARD_OIDC_ROLE_MAP"),
            login_mode: text("SWITCHYARD_LOGIN_MODE"),
        }
    }

    /// These fields, each one missing taken from `fallback`.
    pub fn or(self, fallback: OidcInput) -> OidcInput {
        OidcInput {
            issuer: self.issuer.or(fallback.issuer),
            client_id: self.client_id.or(fallback.client_id),
            client_secret: self.client_secret.or(fallback.client_secret),
            name: self.name.or(fallback.name),
            groups_claim: self.groups_claim.or(fallback.groups_claim),
            role_map: self.role_map.or(fallback.role_map),
            login_mode: self.login_mode.or(fallback.login_mode),
        }
    }
}

/// Which ways of signing in the login page offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginMode {
    Password,
    Oidc,
    Both,
}

impl LoginMode {
    /// Whether team members other than local admins sign in with a password. In `oidc` mode
    /// local admins still can, so the dashboard stays reachable while the provider is down.
    pub fn everyone_uses_passwords(self) -> bool {
        self != LoginMode::Oidc
    }
}

/// A checked identity provider registration.
#[derive(Clone, Debug)]
pub struct OidcConfig {
    pub issuer: IssuerUrl,
    pub client_id: ClientId,
    /// `None` for a public client, which proves itself with PKCE alone.
    pub client_secret: Option<Secret>,
    pub name: String,
    pub groups_claim: String,
    pub role_map: RoleMap,
}

/// How the dashboard signs people in; `oidc` is `None` in `password` mode.
#[derive(Clone, Debug)]
pub struct LoginSettings {
    pub mode: LoginMode,
    pub oidc: Option<OidcConfig>,
}

const DEFAULT_NAME: &str = "SSO";
const DEFAULT_GROUPS_CLAIM: &str = "groups";

impl LoginSettings {
    pub fn resolve(input: OidcInput) -> Result<Self, String> {
        let mode = match input.login_mode.as_deref().map(str::trim) {
            None if input.issuer.is_some() => LoginMode::Both,
            None | Some("password") => LoginMode::Password,
            Some("oidc") => LoginMode::Oidc,
            Some("both") => LoginMode::Both,
            Some(other) => {
                return Err(format!(
                    "login mode (SWITCHYARD_LOGIN_MODE or sso.login_mode) is `{other}`: expected password, oidc or both"
                ))
            }
        };
        let Some(issuer) = input.issuer else {
            if mode != LoginMode::Password {
                return Err(
                    "single sign-on needs the issuer (SWITCHYARD_OIDC_ISSUER or sso.issuer) for login mode oidc or both"
                        .into(),
                );
            }
            if input.client_id.is_some() || input.role_map.is_some() {
                return Err(
                    "single sign-on is half configured: set the issuer (SWITCHYARD_OIDC_ISSUER or sso.issuer) too"
                        .into(),
                );
            }
            return Ok(LoginSettings { mode, oidc: None });
        };
        if mode == LoginMode::Password {
            return Ok(LoginSettings { mode, oidc: None });
        }
        let issuer = checked_issuer(issuer.trim())?;
        let client_id = input
            .client_id
            .map(|id| ClientId::new(id.trim().to_string()))
            .ok_or(
                "single sign-on needs the client id (SWITCHYARD_OIDC_CLIENT_ID or sso.client_id)",
            )?;
        let role_map = input.role_map.ok_or(
            "single sign-on needs a role map (SWITCHYARD_OIDC_ROLE_MAP or sso.role_map), e.g. ops=admin,ml=editor,*=viewer",
        )?;
        let role_map = RoleMap::parse(&role_map)
            .map_err(|e| format!("role map (SWITCHYARD_OIDC_ROLE_MAP or sso.role_map): {e}"))?;
        Ok(LoginSettings {
            mode,
            oidc: Some(OidcConfig {
                issuer,
                client_id,
                client_secret: input.client_secret,
                name: input
                    .name
                    .map(|n| n.trim().to_string())
                    .unwrap_or_else(|| DEFAULT_NAME.into()),
                groups_claim: input
                    .groups_claim
                    .map(|c| c.trim().to_string())
                    .unwrap_or_else(|| DEFAULT_GROUPS_CLAIM.into()),
                role_map,
            }),
        })
    }
}

fn checked_issuer(issuer: &str) -> Result<IssuerUrl, String> {
    let url = IssuerUrl::new(issuer.to_string()).map_err(|e| {
        format!("the issuer (SWITCHYARD_OIDC_ISSUER or sso.issuer) `{issuer}` is not a URL: {e}")
    })?;
    if !is_secure_or_loopback(url.url()) {
        return Err(format!(
            "the issuer (SWITCHYARD_OIDC_ISSUER or sso.issuer) `{issuer}` must use https (plain http only on this machine's loopback address)"
        ));
    }
    Ok(url)
}

/// https, or plain http to a loopback address: sign-in codes and tokens never cross a network
/// unencrypted, while a provider on the same machine (tests, a local Keycloak) still works.
pub fn is_secure_or_loopback(url: &openidconnect::url::Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(openidconnect::url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(openidconnect::url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            Some(openidconnect::url::Host::Domain(name)) => name == "localhost",
            None => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    fn input(issuer: &str) -> OidcInput {
        OidcInput {
            issuer: Some(issuer.into()),
            client_id: Some("switchyard".into()),
            client_secret: Some(Secret::new("s3cret")),
            role_map: Some("ops=admin,*=viewer".into()),
            ..OidcInput::default()
        }
    }

    #[test]
    fn an_issuer_alone_offers_both_ways_with_defaults() {
        let settings = LoginSettings::resolve(input("https://id.example.com/realms/main")).unwrap();
        assert_eq!(settings.mode, LoginMode::Both);
        let oidc = settings.oidc.unwrap();
        assert_eq!(oidc.name, "SSO");
        assert_eq!(oidc.groups_claim, "groups");
        assert_eq!(oidc.role_map.role_for(&["ops".into()]), Some(Role::Admin));
        assert!(!format!("{oidc:?}").contains("s3cret"));
    }

    #[test]
    fn plain_http_issuers_are_refused_except_on_loopback() {
        assert!(LoginSettings::resolve(input("http://127.0.0.1:4000")).is_ok());
        assert!(LoginSettings::resolve(input("http://localhost:4000/oidc")).is_ok());
        assert!(LoginSettings::resolve(input("http://[::1]:4000")).is_ok());
        let err = LoginSettings::resolve(input("http://id.example.com")).unwrap_err();
        assert!(err.contains("must use https"), "{err}");
        assert!(LoginSettings::resolve(input("http://10.0.0.5")).is_err());
        assert!(LoginSettings::resolve(input("ftp://127.0.0.1")).is_err());
    }

    #[test]
    fn modes_and_missing_fields_are_explained() {
        let none = LoginSettings::resolve(OidcInput::default()).unwrap();
        assert_eq!(none.mode, LoginMode::Password);
        assert!(none.oidc.is_none());
        let off = LoginSettings::resolve(OidcInput {
            login_mode: Some("password".into()),
            ..input("https://id.example.com")
        })
        .unwrap();
        assert!(off.oidc.is_none());
        let err = LoginSettings::resolve(OidcInput {
            login_mode: Some("oidc".into()),
            ..OidcInput::default()
        })
        .unwrap_err();
        assert!(err.contains("SWITCHYARD_OIDC_ISSUER"), "{err}");
        let err = LoginSettings::resolve(OidcInput {
            login_mode: Some("sso".into()),
            ..input("https://id.example.com")
        })
        .unwrap_err();
        assert!(err.contains("password, oidc or both"), "{err}");
        let err = LoginSettings::resolve(OidcInput {
            role_map: None,
            ..input("https://id.example.com")
        })
        .unwrap_err();
        assert!(err.contains("SWITCHYARD_OIDC_ROLE_MAP"), "{err}");
    }

    #[test]
    fn the_environment_wins_field_by_field() {
        let env = OidcInput {
            client_secret: Some(Secret::new("from-env")),
            ..OidcInput::default()
        };
        let merged = env.or(input("https://id.example.com"));
        assert_eq!(merged.client_secret, Some(Secret::new("from-env")));
        assert_eq!(merged.client_id.as_deref(), Some("switchyard"));
    }
}
