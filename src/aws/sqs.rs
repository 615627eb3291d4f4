//! The seam below the event consumer: receiving and deleting messages of one SQS queue, as a
//! trait ([`EventQueue`]) with plain-data answers, so the consumer's loop is tested without
//! the emulator.
//!
//! [`SqsQueue`] is the real implementation. Its calls go through [`Aws`] (counted under
//! `service="sqs"`, classified); the long poll is made outside the global cap, as it waits by
//! design. Deletes are one `DeleteMessage` per message (the one delete action the exporter's
//! IAM statement grants), made concurrently. What a message means is the consumer's.

use std::future::Future;
use std::time::Duration;

use aws_sdk_sqs::types::MessageSystemAttributeName;

use super::{Aws, CallError};

/// One received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    /// The SQS message id (logs).
    pub id: String,
    /// Needed to delete it; valid for this receive only.
    pub receipt_handle: String,
    pub body: String,
    /// `ApproximateReceiveCount`: 1 on the first delivery.
    pub receive_count: u32,
}

/// The queue operations the consumer makes.
pub trait EventQueue: Send + Sync {
    /// One `ReceiveMessage` long poll (possibly empty).
    fn receive(&self) -> impl Future<Output = Result<Vec<QueueMessage>, CallError>> + Send;

    /// Delete received messages: the receipt handles that could not be deleted come back
    /// with the error of the first failure (they will be redelivered).
    fn delete(
        &self,
        receipt_handles: Vec<String>,
    ) -> impl Future<Output = Result<(), (Vec<String>, CallError)>> + Send;
}

/// [`EventQueue`] over the AWS SDK.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    aws: Aws,
    client: aws_sdk_sqs::Client,
    url: String,
    max_batch: i32,
    wait_time: Duration,
    visibility_timeout: Option<Duration>,
}

impl SqsQueue {
    /// Client for `url` in `region` (the home region when `None`); no call is made here.
    pub fn new(
        aws: &Aws,
        url: &str,
        region: Option<&str>,
        max_batch: i32,
        wait_time: Duration,
        visibility_timeout: Option<Duration>,
    ) -> SqsQueue {
        SqsQueue {
            aws: aws.clone(),
            client: aws.sqs(region, wait_time),
            url: url.to_string(),
            max_batch: max_batch.clamp(1, 10),
            wait_time,
            visibility_timeout,
        }
    }
}

fn seconds(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}

impl EventQueue for SqsQueue {
    async fn receive(&self) -> Result<Vec<QueueMessage>, CallError> {
        let call = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(self.max_batch)
            .wait_time_seconds(seconds(self.wait_time))
            .set_visibility_timeout(self.visibility_timeout.map(seconds))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send();
        let out = self
            .aws
            .send_uncapped("sqs", "ReceiveMessage", call)
            .await?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| {
                let receive_count = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                Some(QueueMessage {
                    id: m.message_id().unwrap_or_default().to_string(),
                    receipt_handle: m.receipt_handle()?.to_string(),
                    body: m.body().unwrap_or_default().to_string(),
                    receive_count,
                })
            })
            .collect())
    }

    async fn delete(&self, receipt_handles: Vec<String>) -> Result<(), (Vec<String>, CallError)> {
        let calls = receipt_handles.into_iter().map(|handle| async move {
            let call = self
                .client
                .delete_message()
                .queue_url(&self.url)
                .receipt_handle(&handle)
                .send();
            match self.aws.send("sqs", "DeleteMessage", call).await {
                Ok(_) => Ok(()),
                Err(e) => Err((handle, e)),
            }
        });
        let mut failed = Vec::new();
        let mut first = None;
        for result in futures::future::join_all(calls).await {
            if let Err((handle, e)) = result {
                failed.push(handle);
                first.get_or_insert(e);
            }
        }
        match first {
            None => Ok(()),
            Some(e) => Err((failed, e)),
        }
    }
}
