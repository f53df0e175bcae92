//! Runs the worker from the queue the way Lambda's SQS event source mapping does: long-polls a
//! batch, hands it to the handler as an `SqsEvent`, deletes what succeeded, and leaves reported
//! failures to reappear after the visibility timeout (and, after `maxReceiveCount`, in the DLQ).

use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageSystemAttributeName,
};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use stk_worker::{JobHandler, handle_batch};
use tokio::sync::watch;
use tracing::{debug, warn};

#[derive(Debug, Clone)]
pub struct PollerSettings {
    /// Messages per invocation (the event source mapping's `batch_size`).
    pub batch_size: i32,
    /// Long-poll wait.
    pub wait: Duration,
    /// Each invocation's deadline, from its start (the function's timeout in Terraform).
    pub invocation_timeout: Duration,
}

impl Default for PollerSettings {
    fn default() -> Self {
        Self {
            batch_size: 5,
            wait: Duration::from_secs(1),
            invocation_timeout: Duration::from_secs(900),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Poller {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
    settings: PollerSettings,
}

/// The URL of a queue next to `queue_url` (same account and region), by name.
pub fn sibling_queue_url(queue_url: &str, name: &str) -> String {
    match queue_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => name.to_owned(),
    }
}

impl Poller {
    pub fn new(sqs: aws_sdk_sqs::Client, queue_url: String, settings: PollerSettings) -> Self {
        let queue_arn = format!(
            "arn:aws:sqs:us-east-1:123456789012:{}",
            queue_url.rsplit('/').next().unwrap_or_default()
        );
        Self {
            sqs,
            queue_url,
            queue_arn,
            settings,
        }
    }

    /// Polls until `shutdown` turns true. A receive under way is never cut short: moto (like
    /// SQS) would still hand its messages to the dropped request and keep them invisible for the
    /// whole visibility timeout. What arrives after the stop is released at once instead.
    pub async fn run<H: JobHandler>(&self, handler: &H, shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            if let Err(e) = self.poll_once(handler, &shutdown).await {
                warn!(error = %e, "polling the queue failed; retrying shortly");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }

    /// One receive, one invocation, one delete. Returns how many messages were received.
    pub async fn poll_once<H: JobHandler>(
        &self,
        handler: &H,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<usize, aws_sdk_sqs::Error> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(self.settings.batch_size)
            .wait_time_seconds(i32::try_from(self.settings.wait.as_secs()).unwrap_or(1))
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(0);
        }
        if *shutdown.borrow() {
            self.release(&messages).await?;
            return Ok(messages.len());
        }
        let records: Vec<_> = messages
            .iter()
            .map(|m| {
                let attributes: serde_json::Map<String, serde_json::Value> = m
                    .attributes
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str().to_owned(), json!(v)))
                    .collect();
                json!({
                    "messageId": m.message_id,
                    "receiptHandle": m.receipt_handle,
                    "body": m.body,
                    "attributes": attributes,
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body,
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": "us-east-1",
                })
            })
            .collect();
        // Built from JSON, as Lambda delivers it: the event types are non-exhaustive.
        let event: SqsEvent = match serde_json::from_value(json!({ "Records": records })) {
            Ok(event) => event,
            Err(e) => {
                warn!(error = %e, "could not build the sqs event; messages left on the queue");
                return Ok(messages.len());
            }
        };
        let mut context = Context::default();
        let deadline = time::OffsetDateTime::now_utc() + self.settings.invocation_timeout;
        context.deadline = u64::try_from(deadline.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let response = handle_batch(handler, LambdaEvent::new(event, context)).await;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        let done: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .filter(|m| !failed.contains(&m.message_id.as_deref().unwrap_or_default()))
            .enumerate()
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                    .build()
                    .ok()
            })
            .collect();
        debug!(
            received = messages.len(),
            failed = failed.len(),
            "batch handled"
        );
        if !done.is_empty() {
            self.sqs
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(done))
                .send()
                .await?;
        }
        Ok(messages.len())
    }

    /// Makes messages visible again now, for the next receiver.
    async fn release(
        &self,
        messages: &[aws_sdk_sqs::types::Message],
    ) -> Result<(), aws_sdk_sqs::Error> {
        let entries: Vec<ChangeMessageVisibilityBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                    .visibility_timeout(0)
                    .build()
                    .ok()
            })
            .collect();
        debug!(
            released = entries.len(),
            "stopping: messages handed back to the queue"
        );
        self.sqs
            .change_message_visibility_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await?;
        Ok(())
    }
}
