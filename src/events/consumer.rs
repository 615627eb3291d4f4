//! The event consumer: long-polls the queue, reads each message ([`super::parse_message`]),
//! decides whether it is this replica's to act on, rescans what it names ([`super::rescan`]),
//! hands the result to the daemon's scheduler to apply, and deletes the message only once the
//! change is visible on /metrics (while the next receive waits, so deletes cost no time).
//!
//! - Malformed and unknown messages, failed calls, and events of an account outside the last
//!   discovery (`unknown_account`) or of another shard (`other_shard`) are counted, logged once
//!   with their message id, and deleted.
//! - A rescan that fails (an AWS error) is counted and its message left in the queue: SQS
//!   redelivers it after the visibility timeout. After `events.max_receives` deliveries it is
//!   deleted and counted as abandoned; the next full scan covers its repository anyway.
//! - A failed receive is counted and retried with exponential backoff (1 s to 60 s); scans do
//!   not depend on this loop.
//! - A target without a good scan in this process to patch is rescanned whole.
//!
//! Holds no findings: the scheduler owns the tracker, so a rescan and a cycle never race.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::rescan::{ReadScope, Reader};
use super::{ChangeEvent, Ignored, parse_message};
use crate::aws::AccountCredentials;
use crate::aws::sqs::{EventQueue, QueueMessage};
use crate::cycle::Reach;
use crate::daemon::RescanRequest;
use crate::facts::{TargetError, TargetErrorCode, TargetId};
use crate::metrics::EventMetrics;
use crate::state::{Clock, RescanRefused, Rescanned};

/// Every `ecr_exposure_events_ignored_total` reason, created at 0.
pub const IGNORED_REASONS: [&str; 5] = [
    "malformed",
    "unknown_event",
    "unknown_account",
    "other_shard",
    "failed_call",
];

/// Every `ecr_exposure_event_rescans_total` result, created at 0.
pub const RESCAN_RESULTS: [&str; 2] = ["ok", "error"];

const BACKOFF_START: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// The shortest time between two receives that returned nothing (a zero `wait_time`).
const EMPTY_POLL_PAUSE: Duration = Duration::from_secs(1);

/// The event metrics with their zero series.
pub fn event_metrics() -> EventMetrics {
    EventMetrics::new(&IGNORED_REASONS, &RESCAN_RESULTS)
}

/// The consumer and what it talks to.
pub struct Consumer<Q, R> {
    pub queue: Q,
    pub reader: R,
    /// The last discovery's targets (the consumer waits for the first one).
    pub reach: watch::Receiver<Option<Arc<Reach>>>,
    /// The scheduler's rescan channel.
    pub apply: mpsc::Sender<RescanRequest>,
    pub metrics: EventMetrics,
    pub clock: Arc<dyn Clock>,
    /// `events.max_receives`.
    pub max_receives: u32,
    /// Messages of one batch rescanned at once.
    pub concurrency: usize,
}

impl<Q, R> std::fmt::Debug for Consumer<Q, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("max_receives", &self.max_receives)
            .finish_non_exhaustive()
    }
}

/// What becomes of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disposition {
    Delete,
    /// Left for redelivery.
    Keep,
    /// The daemon is gone (shutdown): left for redelivery, and the loop ends.
    Stop,
}

/// Where an event's target stands in the last discovery.
enum Place<'a> {
    Ours(&'a AccountCredentials),
    Unreachable,
    Skip(&'static str),
}

fn place<'a>(reach: &'a Reach, target: &TargetId) -> Place<'a> {
    if let Some(credentials) = reach.targets.get(target) {
        return Place::Ours(credentials);
    }
    let whole_account = TargetId {
        account_id: target.account_id.clone(),
        region: crate::discovery::ALL_REGIONS.to_string(),
    };
    if reach.unreachable.contains(target) || reach.unreachable.contains(&whole_account) {
        return Place::Unreachable;
    }
    if !reach.shard.owns(&target.account_id) && reach.known_accounts.contains(&target.account_id) {
        return Place::Skip("other_shard");
    }
    Place::Skip("unknown_account")
}

enum RescanError {
    Read(TargetError),
    Closed,
}

impl<Q: EventQueue, R: Reader> Consumer<Q, R> {
    /// Run until `shutdown` is cancelled or the daemon stops taking rescans.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut reach = self.reach.clone();
        tokio::select! {
            () = shutdown.cancelled() => return,
            first = reach.wait_for(|r| r.is_some()) => if first.is_err() { return },
        }
        tracing::info!("event consumer started");
        let mut backoff = BACKOFF_START;
        // Messages handled in the last batch: deleted while the next receive waits.
        let mut done: Vec<String> = Vec::new();
        loop {
            let started = tokio::time::Instant::now();
            let deleting = std::mem::take(&mut done);
            let received = tokio::select! {
                () = shutdown.cancelled() => return,
                (r, ()) = async { tokio::join!(self.queue.receive(), self.delete(deleting)) } => r,
            };
            let pause = match received {
                Err(e) => {
                    self.metrics.queue_error();
                    tracing::warn!(error_code = e.class.as_label(), error = %e.message, retry_in_seconds = backoff.as_secs(), "SQS ReceiveMessage failed; retrying (full scans go on)");
                    let pause = backoff;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    pause
                }
                Ok(messages) => {
                    backoff = BACKOFF_START;
                    let now = self.clock.now();
                    self.metrics.received_from_queue(
                        (now - time::OffsetDateTime::UNIX_EPOCH).as_seconds_f64(),
                    );
                    if messages.is_empty() {
                        EMPTY_POLL_PAUSE.saturating_sub(started.elapsed())
                    } else {
                        let (go_on, handled) = self.batch(messages).await;
                        done = handled;
                        if !go_on {
                            self.delete(std::mem::take(&mut done)).await;
                            tracing::info!(
                                "event consumer stopped: the daemon takes no more rescans"
                            );
                            return;
                        }
                        Duration::ZERO
                    }
                }
            };
            if !pause.is_zero() {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
    }

    /// Handle one received batch: whether to go on (the daemon still takes rescans), and the
    /// receipt handles of the messages that are done (applied, or ignored) and can be deleted.
    async fn batch(&self, messages: Vec<QueueMessage>) -> (bool, Vec<String>) {
        let Some(reach) = self.reach.borrow().clone() else {
            return (true, Vec::new());
        };
        let handled: Vec<(String, Disposition)> = futures::stream::iter(messages)
            .map(|m| async {
                let disposition = self.handle(&m, &reach).await;
                (m.receipt_handle, disposition)
            })
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        let go_on = handled.iter().all(|(_, d)| *d != Disposition::Stop);
        let done = handled
            .into_iter()
            .filter(|(_, d)| *d == Disposition::Delete)
            .map(|(h, _)| h)
            .collect();
        (go_on, done)
    }

    /// Delete handled messages; a failure is counted and they come back (rescanned again,
    /// harmless).
    async fn delete(&self, done: Vec<String>) {
        if done.is_empty() {
            return;
        }
        let n = done.len();
        if let Err((failed, e)) = self.queue.delete(done).await {
            self.metrics.queue_error();
            tracing::warn!(messages = n, failed = failed.len(), error_code = e.class.as_label(), error = %e.message, "SQS DeleteMessage failed; those messages will be redelivered and rescanned again (harmless)");
        }
    }

    async fn handle(&self, m: &QueueMessage, reach: &Reach) -> Disposition {
        let event = match parse_message(&m.body) {
            Ok(event) => event,
            Err(ignored) => {
                self.ignore(m, &ignored);
                return Disposition::Delete;
            }
        };
        self.metrics.received(event.event_name.as_label());
        let target = TargetId {
            account_id: event.account_id.clone(),
            region: event.region.clone(),
        };
        let credentials = match place(reach, &target) {
            Place::Ours(credentials) => credentials,
            Place::Skip(reason) => {
                self.metrics.ignored(reason);
                tracing::info!(message_id = %m.id, event_id = %event.id, event_name = event.event_name.as_label(), account_id = %event.account_id, region = %event.region, reason, "event ignored: not a target of this replica");
                return Disposition::Delete;
            }
            Place::Unreachable => {
                let e = TargetError {
                    code: TargetErrorCode::AssumeRoleFailed,
                    message: "the last discovery could not reach this account".into(),
                };
                return self.failed(m, &event, &e);
            }
        };
        match self.rescan(&target, credentials, &event, reach).await {
            Ok(visible_at) => {
                self.metrics.rescan("ok");
                if let Some(at) = event.event_time {
                    self.metrics.detected((visible_at - at).as_seconds_f64());
                }
                tracing::debug!(message_id = %m.id, event_id = %event.id, event_name = event.event_name.as_label(), target = %target, "event rescan applied");
                Disposition::Delete
            }
            Err(RescanError::Read(e)) => self.failed(m, &event, &e),
            Err(RescanError::Closed) => Disposition::Stop,
        }
    }

    fn ignore(&self, m: &QueueMessage, ignored: &Ignored) {
        let reason = ignored.as_label();
        self.metrics.ignored(reason);
        match ignored {
            Ignored::Malformed(why) => {
                tracing::warn!(message_id = %m.id, reason, error = %why, "queue message is not an ECR event; deleted")
            }
            Ignored::UnknownEvent { source, event_name } => {
                tracing::info!(message_id = %m.id, reason, source = %source, event_name = %event_name, "event is not one the exporter acts on; deleted")
            }
            Ignored::FailedCall { event_name } => {
                self.metrics.received(event_name.as_label());
                tracing::info!(message_id = %m.id, reason, event_name = event_name.as_label(), "the API call failed, nothing changed; deleted")
            }
        }
    }

    /// A rescan that could not be made: kept for redelivery, or abandoned after too many.
    fn failed(&self, m: &QueueMessage, event: &ChangeEvent, e: &TargetError) -> Disposition {
        self.metrics.rescan("error");
        if m.receive_count >= self.max_receives {
            self.metrics.abandoned();
            tracing::warn!(message_id = %m.id, event_id = %event.id, account_id = %event.account_id, region = %event.region, receives = m.receive_count, code = %e.code, error = %e.message, "event rescan failed again; message deleted, the next full scan covers it");
            Disposition::Delete
        } else {
            tracing::warn!(message_id = %m.id, event_id = %event.id, account_id = %event.account_id, region = %event.region, receives = m.receive_count, code = %e.code, error = %e.message, "event rescan failed; the message will be redelivered");
            Disposition::Keep
        }
    }

    /// Read, then have the scheduler apply; a refusal (no baseline) reads the whole target.
    async fn rescan(
        &self,
        target: &TargetId,
        credentials: &AccountCredentials,
        event: &ChangeEvent,
        reach: &Reach,
    ) -> Result<time::OffsetDateTime, RescanError> {
        let mut scope = ReadScope::Part(event.rescan.clone());
        loop {
            let part = self
                .reader
                .read(target, credentials, &scope, &reach.settings)
                .await
                .map_err(RescanError::Read)?;
            let (reply, answer) = oneshot::channel();
            let request = RescanRequest {
                rescan: Rescanned {
                    target: target.clone(),
                    part,
                },
                reply,
            };
            self.apply
                .send(request)
                .await
                .map_err(|_| RescanError::Closed)?;
            match answer.await.map_err(|_| RescanError::Closed)? {
                Ok(visible_at) => return Ok(visible_at),
                Err(RescanRefused::NoBaseline) if scope != ReadScope::Target => {
                    tracing::debug!(target = %target, "no good scan of the target to patch; rescanning it whole");
                    scope = ReadScope::Target;
                }
                Err(refused) => {
                    return Err(RescanError::Read(TargetError {
                        code: TargetErrorCode::Error,
                        message: refused.to_string(),
                    }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
