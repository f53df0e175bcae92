//! A SmashRun API simulator for offline demos and integration tests.
//!
//! It serves, on one address, what SmashRun splits over two hosts: the OAuth 2.0 endpoints
//! (`/oauth2/authenticate`, `/oauth2/token`) and the REST API (`/v1/my/...`), with activities that look exactly like
//! the real captures (generated deterministically from a seed, or loaded from a file of SmashRun JSON). `/admin`
//! routes let tests add, edit and delete runs, expire or revoke tokens, inject faults (failures, rate limits,
//! delays, dropped connections) and read request counters.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use smashrun_sandbox::{spawn, SandboxConfig};
//! let running = spawn(SandboxConfig::default()).await?;
//! println!("SmashRun at {}/v1, current streak {}", running.base_url, running.sandbox.summary().current_streak);
//! # Ok(()) }
//! ```

mod activity;
mod auth;
pub mod cli;
mod config;
mod error;
mod faults;
mod generate;
mod http;
mod rng;
mod server;
mod stats;
mod store;
mod timefmt;
mod tz;

pub use config::{DataSource, Profile, RefreshPolicy, SandboxConfig};
pub use error::SandboxError;
pub use server::{RunningSandbox, Sandbox, spawn};
pub use stats::Summary;
