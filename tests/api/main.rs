//! Integration tests: the real app on a free port, against a fresh SQLite file and a fresh
//! PostgreSQL database. One test binary, so it links once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod alerts;
mod auth;
mod config;
mod every_function;
mod health;
mod helpers;
mod sso;
mod users;
