//! The ports' contract suites against the real adapters (the in-memory twins run the same
//! suites in the core's unit tests).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::{Options, spawn_app_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamodb_job_repository_keeps_the_contract() {
    let app = spawn_app_with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    stk_core::contract::job_repository(app.adapters.jobs.as_ref(), time::OffsetDateTime::now_utc())
        .await;
}
