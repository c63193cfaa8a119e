//! Team logins: password hashing, sessions, roles, CSRF protection, login throttling and the
//! first-admin setup.

pub mod csrf;
pub mod password;
pub mod session;
pub mod setup;
pub mod throttle;
