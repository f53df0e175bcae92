//! The nightly scheduler against the real stack: it pages through linked users in the store and
//! queues one nightly sync each; the worker creates the job (once per night) and runs it unless
//! the user's sync is already running.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::sync::Arc;

use common::{Options, TestApp, spawn_app_with};
use serde_json::json;
use stk_core::clock::SystemClock;
use stk_core::job::{Lease, QueueMessage};
use stk_core::ports::JobRepository;
use stk_core::service::JobService;
use stk_core::sync::{Delivery, EngineSettings, Outcome};
use stk_protocol::{JobStatus, SyncKind};
use stk_worker::{JobHandler, Worker};

impl TestApp {
    /// Every message on this test's queue, taken off it.
    async fn drain_queue(&self) -> Vec<QueueMessage> {
        let sqs = aws_sdk_sqs::Client::new(&self.aws);
        let mut out = Vec::new();
        loop {
            let received = sqs
                .receive_message()
                .queue_url(&self.adapters.settings.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                return out;
            }
            for m in messages {
                out.push(serde_json::from_str(m.body().unwrap()).unwrap());
                sqs.delete_message()
                    .queue_url(&self.adapters.settings.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    fn jobs(&self) -> JobService {
        JobService::new(
            self.adapters.jobs.clone(),
            self.adapters.queue.clone(),
            Arc::new(SystemClock),
        )
    }
}

/// Lets the worker split every nightly chunk into per-user messages, and returns those.
async fn dispatch(app: &TestApp, worker: &Worker, chunks: Vec<QueueMessage>) -> Vec<QueueMessage> {
    for chunk in chunks {
        assert!(matches!(chunk, QueueMessage::Chunk(_)), "{chunk:?}");
        assert_eq!(
            worker.handle(chunk, &Delivery::default()).await.unwrap(),
            Outcome::Dispatched
        );
    }
    app.drain_queue().await
}

fn mine(app: &TestApp, messages: &[QueueMessage]) -> QueueMessage {
    let ours: Vec<&QueueMessage> = messages
        .iter()
        .filter(|m| matches!(m, QueueMessage::Scheduled(s) if s.user_id == app.user_id))
        .collect();
    assert_eq!(ours.len(), 1, "{messages:?}");
    ours[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nightly_run_syncs_each_linked_user_once_per_night() {
    let app = spawn_app_with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let scheduler = stk_scheduler::Scheduler::from_adapters(&app.adapters);
    let report = scheduler.run().await.unwrap();
    assert!(report.users >= 1);
    assert_eq!(report.queued, report.users);
    assert_eq!(report.refused, 0);
    // A hundred users to a message, ten messages to a SendMessageBatch request.
    assert!(report.queue_requests >= report.users.div_ceil(1000));
    assert!(
        report.queue_requests <= report.users.div_ceil(1000) + report.user_pages,
        "{report:?}"
    );

    let worker = Worker::from_adapters(&app.adapters, EngineSettings::default());
    let chunks = app.drain_queue().await;
    assert_eq!(chunks.len() as u64, report.users.div_ceil(100));
    let messages = dispatch(&app, &worker, chunks).await;
    assert_eq!(messages.len() as u64, report.queued);
    let tonight = mine(&app, &messages);

    assert_eq!(
        worker
            .handle(tonight.clone(), &Delivery::default())
            .await
            .unwrap(),
        Outcome::Succeeded
    );
    let jobs = app.jobs().list(app.user_id, 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].status, JobStatus::Succeeded);
    assert_eq!(jobs[0].spec.kind, SyncKind::Incremental);
    assert_eq!(
        jobs[0].progress.runs_inserted,
        app.sandbox_summary().await.activity_count
    );

    // The same night again (a second schedule or a redelivery) creates and syncs nothing.
    assert_eq!(
        worker.handle(tonight, &Delivery::default()).await.unwrap(),
        Outcome::Skipped
    );
    assert_eq!(app.jobs().list(app.user_id, 10).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_whose_sync_is_running_is_skipped_and_a_queued_one_is_served() {
    let app = spawn_app_with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let worker = Worker::from_adapters(&app.adapters, EngineSettings::default());
    let scheduler = stk_scheduler::Scheduler::from_adapters(&app.adapters);

    // A sync the runner asked for is queued: tonight's message runs it.
    let manual = app.start_sync(&json!({})).await;
    scheduler.run().await.unwrap();
    let chunks: Vec<QueueMessage> = app
        .drain_queue()
        .await
        .into_iter()
        .filter(|m| matches!(m, QueueMessage::Chunk(_)))
        .collect();
    let tonight = mine(&app, &dispatch(&app, &worker, chunks).await);
    assert_eq!(
        worker
            .handle(tonight.clone(), &Delivery::default())
            .await
            .unwrap(),
        Outcome::Succeeded
    );
    let jobs = app.jobs().list(app.user_id, 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].id.to_string(), manual.id);
    assert_eq!(jobs[0].status, JobStatus::Succeeded);

    // Another sync is running (a worker holds its lease): tonight's is skipped.
    let running = app.start_sync(&json!({})).await;
    let now = time::OffsetDateTime::now_utc();
    app.adapters
        .jobs
        .claim(
            running.id.parse().unwrap(),
            Lease {
                owner: "another-worker".into(),
                until: now + time::Duration::minutes(5),
            },
            now,
        )
        .await
        .unwrap();
    let QueueMessage::Scheduled(mut another_night) = tonight else {
        unreachable!()
    };
    another_night.night = "2099-01-01".parse().unwrap();
    assert_eq!(
        worker
            .handle(QueueMessage::Scheduled(another_night), &Delivery::default())
            .await
            .unwrap(),
        Outcome::Skipped
    );
    assert_eq!(app.jobs().list(app.user_id, 10).await.unwrap().len(), 2);
}
