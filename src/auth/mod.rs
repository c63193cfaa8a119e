//! Team logins: password hashing, single sign-on (OpenID Connect), sessions, roles, CSRF
//! protection, login throttling and the first-admin setup.

pub mod csrf;
pub mod oidc;
pub mod password;
pub mod session;
pub mod setup;
pub mod throttle;
