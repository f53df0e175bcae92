//! HTTP tests of the sandbox: each test spawns its own sandbox on a random port and talks to it with reqwest.

#![allow(clippy::unwrap_used)]

mod admin;
mod api;
mod data;
mod helpers;
mod oauth;
