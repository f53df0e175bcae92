//! The job queue on SQS.

use async_trait::async_trait;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use stk_core::QueueError;
use stk_core::job::{JobMessage, Outgoing};
use stk_core::ports::JobQueue;
use tracing::{Instrument, info_span};

#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: String) -> Self {
        Self { client, queue_url }
    }
}

#[async_trait]
impl JobQueue for SqsQueue {
    async fn enqueue(&self, message: &JobMessage) -> Result<(), QueueError> {
        let body =
            serde_json::to_string(message).map_err(|e| QueueError::Unavailable(Box::new(e)))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .instrument(info_span!("enqueue_job", job_id = %message.job_id))
            .await
            .map_err(|e| QueueError::Unavailable(Box::new(e.into_service_error())))?;
        Ok(())
    }

    async fn enqueue_batch(&self, messages: &[Outgoing]) -> Result<Vec<usize>, QueueError> {
        let entries = messages
            .iter()
            .enumerate()
            .map(|(i, outgoing)| {
                let body = serde_json::to_string(&outgoing.message)
                    .map_err(|e| QueueError::Unavailable(Box::new(e)))?;
                let delay = outgoing.delay.min(stk_core::job::MAX_QUEUE_DELAY).as_secs();
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .delay_seconds(i32::try_from(delay).unwrap_or(0))
                    .build()
                    .map_err(|e| QueueError::Unavailable(Box::new(e)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .instrument(info_span!("enqueue_batch", messages = messages.len()))
            .await
            .map_err(|e| QueueError::Unavailable(Box::new(e.into_service_error())))?;
        Ok(output
            .failed()
            .iter()
            .filter_map(|f| f.id().parse::<usize>().ok())
            .collect())
    }

    async fn set_visibility(
        &self,
        receipt: &str,
        hidden: std::time::Duration,
    ) -> Result<(), QueueError> {
        let seconds = hidden.min(stk_core::sync::MAX_HIDDEN).as_secs();
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(i32::try_from(seconds).unwrap_or(i32::MAX))
            .send()
            .instrument(info_span!("set_visibility", seconds))
            .await
            .map_err(|e| QueueError::Unavailable(Box::new(e.into_service_error())))?;
        Ok(())
    }
}
