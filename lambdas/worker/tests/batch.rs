//! The batch wrapper against a checked-in SQS event: only messages that should come back are
//! reported as failures, each first hidden for as long as its job waits, and dead letters go
//! to the dead-letter path.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Context, LambdaEvent};
use stk_core::QueueError;
use stk_core::job::{JobMessage, Outgoing, QueueMessage};
use stk_core::ports::JobQueue;
use stk_core::sync::{Delivery, Outcome, RetryLater};
use stk_worker::{JobHandler, handle_batch};

/// Fails the job whose id ends in `4b5a` (held for two more minutes), records what it saw.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(String, u32)>>,
    dead: Mutex<Vec<String>>,
    queue: HiddenLog,
}

#[derive(Debug, Default)]
struct HiddenLog(Mutex<Vec<(String, Duration)>>);

#[async_trait]
impl JobQueue for HiddenLog {
    async fn enqueue(&self, _: &JobMessage) -> Result<(), QueueError> {
        unreachable!("the batch wrapper sends nothing")
    }
    async fn enqueue_batch(&self, _: &[Outgoing]) -> Result<Vec<usize>, QueueError> {
        unreachable!("the batch wrapper sends nothing")
    }
    async fn set_visibility(&self, receipt: &str, hidden: Duration) -> Result<(), QueueError> {
        self.0.lock().unwrap().push((receipt.to_owned(), hidden));
        Ok(())
    }
}

fn id(message: QueueMessage) -> String {
    let QueueMessage::Job(message) = message else {
        panic!("the fixture holds job messages only");
    };
    message.job_id.to_string()
}

impl JobHandler for Recorder {
    async fn handle(
        &self,
        message: QueueMessage,
        delivery: &Delivery,
    ) -> Result<Outcome, RetryLater> {
        let id = id(message);
        self.seen
            .lock()
            .unwrap()
            .push((id.clone(), delivery.receives));
        if id.ends_with("4b5a") {
            Err(RetryLater::NotYet {
                until: Some(time::OffsetDateTime::now_utc() + time::Duration::minutes(2)),
            })
        } else {
            Ok(Outcome::Succeeded)
        }
    }

    async fn dead_lettered(&self, message: QueueMessage) -> Result<Outcome, RetryLater> {
        self.dead.lock().unwrap().push(id(message));
        Ok(Outcome::Failed)
    }

    fn is_dead_letter_queue(&self, arn: &str) -> bool {
        arn.ends_with(":myrunstreak-sync-jobs-dlq")
    }

    fn queue(&self) -> &dyn JobQueue {
        &self.queue
    }
}

fn fixture() -> SqsEvent {
    serde_json::from_str(include_str!("fixtures/sqs_batch.json")).unwrap()
}

#[tokio::test]
async fn reports_only_retryable_and_unreadable_messages_and_hides_the_busy_one() {
    let recorder = Recorder::default();
    let response = handle_batch(&recorder, LambdaEvent::new(fixture(), Context::default())).await;
    let failed: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(
        failed,
        vec![
            "2e1424d4-f796-459a-8184-9c92662be6da".to_owned(),
            "5bd31f7e-3a4c-4d5b-9e6f-7a8b9c0d1e2f".to_owned()
        ]
    );
    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            ("6f0c7a58-4a34-4f3e-9d0e-2a1f5c3b7e11".to_owned(), 1),
            ("1c9e4d2a-7b3f-4e5a-9c8d-0f1e2d3c4b5a".to_owned(), 3)
        ]
    );
    // The busy message is hidden until just after the other worker's lease, not for the
    // queue's whole visibility timeout; the unreadable one is left as it is.
    let hidden = recorder.queue.0.lock().unwrap().clone();
    assert_eq!(hidden.len(), 1, "{hidden:?}");
    assert_eq!(hidden[0].0, "AQEBzWwaftRI0KuVm4tP+/7q1rGgNqicHq");
    assert!((Duration::from_secs(119)..=Duration::from_secs(121)).contains(&hidden[0].1));
}

#[tokio::test]
async fn records_from_the_dead_letter_queue_fail_their_jobs_and_are_deleted() {
    let mut event = fixture();
    for record in &mut event.records {
        record.event_source_arn =
            Some("arn:aws:sqs:us-east-1:123456789012:myrunstreak-sync-jobs-dlq".into());
    }
    let recorder = Recorder::default();
    let response = handle_batch(&recorder, LambdaEvent::new(event, Context::default())).await;
    assert!(recorder.seen.lock().unwrap().is_empty());
    assert_eq!(recorder.dead.lock().unwrap().len(), 2);
    // Only the unreadable body stays (it is kept in the dead-letter queue for a human).
    assert_eq!(response.batch_item_failures.len(), 1);
}
