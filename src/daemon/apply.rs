//! Applying one cycle's results, in the order that keeps restarts honest: the tracker takes
//! the reports (in memory), the state file is written, only then do the opened/resolved
//! counters move, and last the new snapshot is swapped in for scrapes.
//!
//! Takes reports, never facts: analysis already ran in the cycle. Must not touch AWS.

use std::path::PathBuf;
use std::sync::Arc;

use crate::metrics::Metrics;
use crate::snapshot::SnapshotCell;
use crate::state::{self, Clock, CycleChanges, ScanResult, Tracker};

/// What applying needs besides the tracker.
pub(super) struct Applier {
    pub state_path: PathBuf,
    pub clock: Arc<dyn Clock>,
    pub cell: Arc<SnapshotCell>,
    pub metrics: Arc<Metrics>,
}

impl Applier {
    /// Apply one cycle; returns the tracker with its changes.
    pub async fn apply(
        &self,
        tracker: Tracker,
        results: Vec<ScanResult>,
        duration: f64,
    ) -> Tracker {
        let (tracker, changes) = self.apply_and_persist(tracker, results, duration).await;
        // Counters move only after the state holding these changes is on disk.
        self.metrics.counters().record_cycle(&changes);
        log_changes(&changes, &tracker, duration);
        self.cell.store(tracker.snapshot());
        tracker
    }

    /// Steps 1 and 2: the tracker takes the reports, then the state file is written. Disk work,
    /// so off the async threads.
    async fn apply_and_persist(
        &self,
        tracker: Tracker,
        results: Vec<ScanResult>,
        duration: f64,
    ) -> (Tracker, CycleChanges) {
        let now = self.clock.now();
        let path = self.state_path.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut tracker = tracker;
            let changes = tracker.apply_cycle(results, now, duration);
            let saved = state::store::save(&path, &tracker.to_state(now));
            (tracker, changes, saved)
        })
        .await;
        let (tracker, changes, saved) = match joined {
            Ok(x) => x,
            Err(e) => {
                // Cannot happen short of a panic in the tracker; the tracker moved into the task.
                tracing::error!(error = %e, "applying the cycle failed");
                std::process::abort();
            }
        };
        if let Err(e) = saved {
            self.metrics.counters().state_save_failed();
            tracing::warn!(path = %self.state_path.display(), error = %e, "could not write the state file; first-seen times of this cycle would be lost on restart");
        }
        (tracker, changes)
    }
}

fn log_changes(changes: &CycleChanges, tracker: &Tracker, duration: f64) {
    for key in &changes.opened {
        tracing::debug!(account_id = %key.account_id, region = %key.region, repository = %key.repository, finding = key.kind.as_label(), detail = %key.detail, "finding opened");
    }
    for (key, seconds) in &changes.resolved {
        tracing::debug!(account_id = %key.account_id, region = %key.region, repository = %key.repository, finding = key.kind.as_label(), detail = %key.detail, remediation_seconds = seconds, "finding resolved");
    }
    if !changes.forgotten.is_empty() {
        tracing::warn!(
            findings = changes.forgotten.len(),
            "targets no longer discovered were forgotten with their findings (not counted as resolved)"
        );
    }
    for (target, ok) in &changes.scans {
        if !ok {
            tracing::warn!(target = %target, "scan of target failed; keeping its previous findings");
        }
    }
    let failed = changes.scans.iter().filter(|(_, ok)| !ok).count();
    tracing::info!(
        targets = changes.scans.len(),
        failed,
        opened = changes.opened.len(),
        resolved = changes.resolved.len(),
        open_findings = tracker.open_findings(),
        duration_seconds = duration,
        "scan cycle completed"
    );
}
