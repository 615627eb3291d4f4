//! Applying an event rescan in the scheduler's loop: the tracker takes the patch, the state
//! (file or S3 objects) is written, only then do the counters move, and last the snapshot is
//! swapped in; the consumer is answered with the time the change became visible (its
//! detection latency ends there) and deletes the message only after that.
//!
//! Takes rescanned reports, never facts; its only AWS calls are the S3 state backend's.

use std::collections::BTreeSet;
use std::path::PathBuf;

use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use super::apply::{Applier, report_load, report_save};
use crate::metrics::EventMetrics;
use crate::state::{self, CycleChanges, RescanRefused, Rescanned, S3Store, StateBackend, Tracker};

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
        let (tracker, changes, answers) = match &self.state {
            StateBackend::File(path) => {
                self.rescans_to_file(path.clone(), tracker, rescans, now)
                    .await
            }
            StateBackend::S3(store) => self.rescans_to_s3(store, tracker, rescans, now).await,
        };
        if !answers.iter().any(Result::is_ok) {
            return (
                tracker,
                answers.into_iter().map(|a| a.map(|()| now)).collect(),
            );
        }
        // The state holding these changes is written: now the counters may move.
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

    /// The tracker takes the rescans, then the state file is written (when any applied), off
    /// the async threads. First-seen times are on disk before the counters move, so a crash
    /// now never counts an opening twice.
    async fn rescans_to_file(
        &self,
        path: PathBuf,
        tracker: Tracker,
        rescans: Vec<Rescanned>,
        now: OffsetDateTime,
    ) -> (Tracker, CycleChanges, Vec<Applied>) {
        let shown = path.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut tracker = tracker;
            let (changes, answers) = take(&mut tracker, rescans, now);
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
        if let Some(Err(e)) = saved {
            self.metrics.counters().state_save_failed();
            tracing::warn!(path = %shown.display(), error = %e, "could not write the state file after event rescans");
        }
        (tracker, changes, answers)
    }

    /// With the S3 backend: the accounts of the rescans are read if this process has not
    /// read them yet (no other account is forgotten), the tracker takes the rescans, and the
    /// accounts that changed are written conditionally.
    async fn rescans_to_s3(
        &self,
        store: &S3Store,
        mut tracker: Tracker,
        rescans: Vec<Rescanned>,
        now: OffsetDateTime,
    ) -> (Tracker, CycleChanges, Vec<Applied>) {
        let accounts: BTreeSet<String> = rescans
            .iter()
            .map(|r| r.target.account_id.clone())
            .collect();
        let loaded = store.take_over(&mut tracker, accounts, false, now).await;
        report_load(&self.metrics, store, &loaded);
        let (mut changes, answers) = take(&mut tracker, rescans, now);
        if answers.iter().any(Result::is_ok) {
            let saved = store.save(&mut tracker, now).await;
            report_save(&self.metrics, store, &saved);
            // Another replica had seen these first: not new findings.
            changes.opened.retain(|k| !saved.adopted.contains(k));
        }
        (tracker, changes, answers)
    }
}

/// Whether one rescan was taken by the tracker.
type Applied = Result<(), RescanRefused>;

/// The tracker takes each rescan in turn; their changes add up.
fn take(
    tracker: &mut Tracker,
    rescans: Vec<Rescanned>,
    now: OffsetDateTime,
) -> (CycleChanges, Vec<Applied>) {
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
    (changes, answers)
}
