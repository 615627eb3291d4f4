//! Applying one cycle's results, in the order that keeps restarts honest: the tracker takes
//! the reports (in memory), the state is written, only then do the opened/resolved
//! counters move, and last the new snapshot is swapped in for scrapes.
//!
//! With the S3 backend the accounts a cycle brings in for the first time are read (and merged
//! into the tracker) before the reports are applied, so an account taken over from another
//! replica keeps its first-seen times and its openings are not counted again.
//!
//! Takes reports, never facts: analysis already ran in the cycle. Must not touch AWS besides
//! the state backend.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use crate::metrics::Metrics;
use crate::model::is_account_id;
use crate::snapshot::SnapshotCell;
use crate::state::s3::{LoadReport, SaveReport};
use crate::state::{self, Clock, CycleChanges, S3Store, ScanResult, StateBackend, Tracker};

/// What applying needs besides the tracker.
pub(super) struct Applier {
    pub state: StateBackend,
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
        let (tracker, changes) = match &self.state {
            StateBackend::File(path) => {
                self.apply_to_file(path.clone(), tracker, results, duration)
                    .await
            }
            StateBackend::S3(store) => self.apply_to_s3(store, tracker, results, duration).await,
        };
        // Counters move only after the state holding these changes is written.
        self.metrics.counters().record_cycle(&changes);
        log_changes(&changes, &tracker, duration);
        self.cell.store(tracker.snapshot());
        tracker
    }

    /// Steps 1 and 2 with the file backend: the tracker takes the reports, then the state
    /// file is written. Disk work, so off the async threads.
    async fn apply_to_file(
        &self,
        path: PathBuf,
        tracker: Tracker,
        results: Vec<ScanResult>,
        duration: f64,
    ) -> (Tracker, CycleChanges) {
        let now = self.clock.now();
        let shown = path.clone();
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
            tracing::warn!(path = %shown.display(), error = %e, "could not write the state file; first-seen times of this cycle would be lost on restart");
        }
        (tracker, changes)
    }

    /// Steps 1 and 2 with the S3 backend: read the accounts new to this process, apply the
    /// reports, write the accounts that changed.
    async fn apply_to_s3(
        &self,
        store: &S3Store,
        mut tracker: Tracker,
        results: Vec<ScanResult>,
        duration: f64,
    ) -> (Tracker, CycleChanges) {
        let now = self.clock.now();
        let accounts: BTreeSet<String> = results
            .iter()
            .map(|r| r.target.account_id.clone())
            .filter(|a| is_account_id(a))
            .collect();
        let any_success = results.iter().any(|r| r.result.is_ok());
        let loaded = store
            .take_over(&mut tracker, accounts, any_success, now)
            .await;
        report_load(&self.metrics, store, &loaded);
        let mut changes = tracker.apply_cycle(results, now, duration);
        let saved = store.save(&mut tracker, now).await;
        report_save(&self.metrics, store, &saved);
        // Another replica had seen these first: not new findings.
        changes.opened.retain(|k| !saved.adopted.contains(k));
        (tracker, changes)
    }
}

/// How long the S3 backend's last write at shutdown may take (within the process's
/// shutdown deadline).
const S3_SHUTDOWN_SAVE: std::time::Duration = std::time::Duration::from_secs(4);

/// The last write at shutdown: covers a failed write of the last cycle.
pub(super) async fn save_at_shutdown(
    backend: &StateBackend,
    mut tracker: Tracker,
    clock: &dyn Clock,
    metrics: &Metrics,
) {
    match backend {
        StateBackend::File(path) => {
            if let Err(e) = state::store::save(path, &tracker.to_state(clock.now())) {
                tracing::warn!(path = %path.display(), error = %e, "could not write the state file at shutdown");
            }
        }
        StateBackend::S3(store) => {
            // Bounded: an unreachable bucket must not hold the process past its deadline.
            match tokio::time::timeout(S3_SHUTDOWN_SAVE, store.save(&mut tracker, clock.now()))
                .await
            {
                Ok(saved) => report_save(metrics, store, &saved),
                Err(_) => tracing::warn!(
                    location = %store.location(),
                    seconds = S3_SHUTDOWN_SAVE.as_secs(),
                    "the last write of the state objects did not finish in time; changes of the last cycle are not saved"
                ),
            }
        }
    }
}

pub(super) fn report_load(metrics: &Metrics, store: &S3Store, r: &LoadReport) {
    let location = store.location();
    for (account, problem, aside) in &r.corrupt {
        metrics.counters().state_load_failed();
        tracing::warn!(%location, account_id = %account, error = %problem, moved_to = %aside, "state object unreadable; copied aside, the account starts fresh (first-seen times restart now)");
    }
    for (account, e) in &r.failed {
        metrics.counters().state_save_failed();
        tracing::warn!(%location, account_id = %account, error = %e.message, "could not read the account's state object; first-seen times from other replicas are merged when it can be read (next cycle)");
    }
    if r.read > 0 {
        tracing::info!(%location, read = r.read, restored = r.restored, "state objects read for accounts new to this replica");
    }
}

pub(super) fn report_save(metrics: &Metrics, store: &S3Store, r: &SaveReport) {
    let location = store.location();
    for (account, problem, aside) in &r.corrupt {
        metrics.counters().state_load_failed();
        tracing::warn!(%location, account_id = %account, error = %problem, moved_to = %aside, "state object unreadable; copied aside and replaced");
    }
    for _ in 0..r.conflicts {
        metrics.counters().state_write_conflict();
    }
    for (account, e) in &r.failed {
        metrics.counters().state_save_failed();
        tracing::warn!(%location, account_id = %account, error = %e, "could not write the account's state object; kept in memory, retried next cycle");
    }
    tracing::debug!(%location, written = r.written, unchanged = r.unchanged, conflicts = r.conflicts, failed = r.failed.len(), "state objects saved");
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
