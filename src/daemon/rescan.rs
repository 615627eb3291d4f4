//! Applying an event rescan in the scheduler's loop: the tracker takes the patch, the state
//! file is written, only then do the counters move, and last the snapshot is swapped in; the
//! consumer is answered with the time the change became visible (its detection latency ends
//! there) and deletes the message only after that.
//!
//! Takes rescanned reports, never facts, and makes no AWS call.

use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use super::apply::Applier;
use crate::metrics::EventMetrics;
use crate::state::{self, CycleChanges, RescanRefused, Rescanned, Tracker};

/// The answer to a rescan: when it became visible on /metrics, or why it was not applied.
pub type RescanReply = Result<OffsetDateTime, RescanRefused>;

/// One rescan for the scheduler to apply.
#[derive(Debug)]
pub struct RescanRequest {
    pub rescan: Rescanned,
    /// Answered once the rescan is applied and swapped in, or refused.
    pub reply: oneshot::Sender<RescanReply>,
}

/// What the daemon needs when events are on.
#[derive(Debug)]
pub struct EventHooks {
    /// Registered with the daemon's metrics; the consumer holds a clone.
    pub metrics: EventMetrics,
    pub requests: mpsc::Receiver<RescanRequest>,
}

impl Applier {
    /// Apply rescans (steps as after a cycle), several at once when they queued up while the
    /// previous ones were applied: one state write and one swap for all of them. Each gets its
    /// own answer; refused ones change nothing.
    pub async fn apply_rescans(
        &self,
        tracker: Tracker,
        rescans: Vec<Rescanned>,
    ) -> (Tracker, Vec<RescanReply>) {
        let now = self.clock.now();
        let path = self.state_path.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut tracker = tracker;
            let mut changes = CycleChanges::default();
            let mut answers = Vec::with_capacity(rescans.len());
            for rescan in rescans {
                match tracker.apply_rescan(rescan, now) {
                    Ok(c) => {
                        changes.opened.extend(c.opened);
                        changes.resolved.extend(c.resolved);
                        answers.push(Ok(()));
                    }
                    Err(refused) => answers.push(Err(refused)),
                }
            }
            // The same persistence as after a cycle: first-seen times are on disk before
            // the counters move, so a crash now never counts an opening twice.
            let saved = answers
                .iter()
                .any(Result::is_ok)
                .then(|| state::store::save(&path, &tracker.to_state(now)));
            (tracker, changes, answers, saved)
        })
        .await;
        let (tracker, changes, answers, saved) = match joined {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, "applying rescans failed");
                std::process::abort();
            }
        };
        let Some(saved) = saved else {
            return (
                tracker,
                answers.into_iter().map(|a| a.map(|()| now)).collect(),
            );
        };
        if let Err(e) = saved {
            self.metrics.counters().state_save_failed();
            tracing::warn!(path = %self.state_path.display(), error = %e, "could not write the state file after event rescans");
        }
        self.metrics.counters().record_cycle(&changes);
        for key in &changes.opened {
            tracing::info!(account_id = %key.account_id, region = %key.region, repository = %key.repository, finding = key.kind.as_label(), detail = %key.detail, "finding opened by an event rescan");
        }
        for (key, seconds) in &changes.resolved {
            tracing::info!(account_id = %key.account_id, region = %key.region, repository = %key.repository, finding = key.kind.as_label(), detail = %key.detail, remediation_seconds = seconds, "finding resolved by an event rescan");
        }
        self.cell.store(tracker.snapshot());
        let visible_at = self.clock.now();
        tracing::debug!(
            rescans = answers.len(),
            opened = changes.opened.len(),
            resolved = changes.resolved.len(),
            "event rescans applied"
        );
        (
            tracker,
            answers
                .into_iter()
                .map(|a| a.map(|()| visible_at))
                .collect(),
        )
    }
}
