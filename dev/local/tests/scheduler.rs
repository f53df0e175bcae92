//! The nightly scheduler against the real stack: it pages through linked users in the store and
//! queues their syncs through the same job service as `POST /sync`.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use common::{Options, spawn_app_with};
use stk_core::service::JobService;
use stk_protocol::{JobStatus, SyncKind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nightly_run_queues_each_linked_user_once_and_skips_active_ones() {
    let app = spawn_app_with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let scheduler = stk_scheduler::Scheduler::from_adapters(&app.adapters);
    let first = scheduler.run().await.unwrap();
    assert!(first.users >= 1);
    assert_eq!(
        first.jobs.queued + first.jobs.skipped_active + first.jobs.failed,
        first.users
    );
    assert_eq!(first.jobs.failed, 0);
    // Ten messages to a SendMessageBatch request, per page of users.
    assert!(first.jobs.queue_requests >= first.jobs.queued.div_ceil(10));
    assert!(first.jobs.queue_requests <= first.jobs.queued.div_ceil(10) + first.user_pages);

    let jobs = JobService::new(
        app.adapters.jobs.clone(),
        app.adapters.queue.clone(),
        std::sync::Arc::new(stk_core::clock::SystemClock),
    );
    let ours = jobs.list(app.user_id, 10).await.unwrap();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].status, JobStatus::Queued);
    assert_eq!(ours[0].spec.kind, SyncKind::Incremental);

    // Our user's job is still queued: the next run skips them.
    let second = scheduler.run().await.unwrap();
    assert!(second.jobs.skipped_active >= 1);
    assert_eq!(jobs.list(app.user_id, 10).await.unwrap().len(), 1);

    // Its message is on this test's queue, as the worker will read it.
    let sqs = aws_sdk_sqs::Client::new(&app.aws);
    let mut bodies = Vec::new();
    for _ in 0..20 {
        let received = sqs
            .receive_message()
            .queue_url(&app.adapters.settings.queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(30)
            .send()
            .await
            .unwrap();
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        bodies.extend(messages.into_iter().filter_map(|m| m.body));
    }
    let mine: Vec<&String> = bodies
        .iter()
        .filter(|b| b.contains(&app.user_id.to_string()))
        .collect();
    assert_eq!(mine.len(), 1, "{bodies:?}");
    assert!(mine[0].contains(&ours[0].id.to_string()));
}
