//! The batch wrapper against a checked-in SQS event: only messages that should come back are
//! reported as failures.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::Mutex;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Context, LambdaEvent};
use stk_core::job::QueueMessage;
use stk_core::sync::{Outcome, RetryLater};
use stk_worker::{JobHandler, handle_batch};

/// Fails the job whose id ends in `4b5a`, records what it saw.
#[derive(Default)]
struct Recorder(Mutex<Vec<(String, u32)>>);

impl JobHandler for Recorder {
    async fn handle(&self, message: QueueMessage, delivery: u32) -> Result<Outcome, RetryLater> {
        let QueueMessage::Job(message) = message else {
            panic!("the fixture holds job messages only");
        };
        let id = message.job_id.to_string();
        self.0.lock().unwrap().push((id.clone(), delivery));
        if id.ends_with("4b5a") {
            Err(RetryLater::Busy)
        } else {
            Ok(Outcome::Succeeded)
        }
    }
}

#[tokio::test]
async fn reports_only_retryable_and_unreadable_messages() {
    let event: SqsEvent = serde_json::from_str(include_str!("fixtures/sqs_batch.json")).unwrap();
    let recorder = Recorder::default();
    let response = handle_batch(&recorder, LambdaEvent::new(event, Context::default())).await;
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
    let seen = recorder.0.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            ("6f0c7a58-4a34-4f3e-9d0e-2a1f5c3b7e11".to_owned(), 1),
            ("1c9e4d2a-7b3f-4e5a-9c8d-0f1e2d3c4b5a".to_owned(), 3)
        ]
    );
}
