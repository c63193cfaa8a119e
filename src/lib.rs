//! Switchyard: one crate built twice by cargo-leptos, as the server (`ssr`) and as the
//! browser bundle (`hydrate`). Server-only modules are compiled out of the wasm build.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod domain;
#[cfg(feature = "ssr")]
pub mod providers;
