//! The proxy end to end: the real app on a random port, mock providers speaking each vendor's
//! wire format, and a config snapshot injected as the config store would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod alerts;
mod bad_input;
mod balancing;
mod cache;
mod chat;
mod config_sync;
mod durability;
mod embeddings;
mod fallback;
mod faults;
mod fleet;
mod governance;

mod lifecycle;
mod live_status;
mod messages;
mod rollups;
mod sdk;
mod security;
