//! The immutable result of the last cycle, per target: what `/metrics`, `/findings` and the
//! landing page read.
//!
//! Built by the state layer after each cycle and swapped in whole ([`SnapshotCell`]), so a
//! scrape sees either the previous cycle or the new one, never a half-applied mix, and never
//! waits on AWS. A target whose last scan failed keeps the findings of its last good scan.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use time::OffsetDateTime;

use crate::analysis::{Finding, TargetReport};
use crate::facts::{TargetError, TargetId};
use crate::model::Suppression;

/// Everything a scrape needs, as of the last completed cycle.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub targets: BTreeMap<TargetId, TargetSnapshot>,
    /// `None` until the first cycle completed (readiness).
    pub cycle: Option<CycleSummary>,
}

/// The last full cycle over all targets.
#[derive(Debug, Clone, PartialEq)]
pub struct CycleSummary {
    /// 1 for the first cycle of this process.
    pub number: u64,
    pub completed_at: OffsetDateTime,
    pub duration_seconds: f64,
    pub targets_ok: usize,
    pub targets_failed: usize,
}

/// One target as of its last scan attempt.
#[derive(Debug, Clone)]
pub struct TargetSnapshot {
    pub target: TargetId,
    /// The last attempt in this process; `None` for a target only known from the state file.
    pub scan: Option<ScanStatus>,
    /// Time of the last successful scan (also restored from the state file).
    pub last_success: Option<OffsetDateTime>,
    /// Reports of the last successful scan in this process, trimmed to the registry and the
    /// repositories with open findings (what `/findings` shows); kept, like the findings,
    /// when a later scan fails.
    pub report: Option<Arc<TargetReport>>,
    /// Every repository of the last successful scan, reduced to what `repository_info` and
    /// the inventory gauges need: full reports of 100,000 clean repositories would be most of
    /// the daemon's memory for nothing.
    pub inventory: Option<Arc<[RepoInfo]>>,
    /// The repositories of restored findings with the tags the state file kept for them:
    /// what `repository_info` shows until the first successful scan fills `inventory`.
    pub restored_info: Arc<[RepoInfo]>,
    /// Open findings with their first-seen times, sorted by key.
    pub findings: Arc<Vec<OpenFinding>>,
    /// Consecutive cycles in which discovery no longer listed this target.
    pub absent_cycles: u32,
}

impl TargetSnapshot {
    pub fn new(target: TargetId) -> Self {
        TargetSnapshot {
            target,
            scan: None,
            last_success: None,
            report: None,
            inventory: None,
            restored_info: Arc::new([]),
            findings: Arc::new(Vec::new()),
            absent_cycles: 0,
        }
    }

    /// The repositories `repository_info` shows: the last successful scan's, else the
    /// restored ones.
    pub fn repository_info(&self) -> &[RepoInfo] {
        self.inventory.as_deref().unwrap_or(&self.restored_info)
    }

    /// Whether the findings shown are older than the last attempt (failed or not listed).
    pub fn is_stale(&self) -> bool {
        self.absent_cycles > 0 || self.scan.as_ref().is_some_and(|s| !s.success)
    }
}

/// One repository as `ecr_exposure_repository_info` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoInfo {
    pub repository: Box<str>,
    /// Value of the first required tag.
    pub owner: Option<Box<str>>,
    /// From the IaC tag keys.
    pub managed_by: Option<Box<str>>,
}

/// Outcome of the last attempt to scan a target.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanStatus {
    pub success: bool,
    pub duration_seconds: f64,
    pub at: OffsetDateTime,
    pub error: Option<TargetError>,
}

/// One open finding with its lifecycle data.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenFinding {
    pub finding: Finding,
    pub first_seen: OffsetDateTime,
    /// The exception that covers it, if any; whether it is still in force is decided at
    /// export time, so an expiry between cycles takes effect at once.
    pub suppression: Option<Suppression>,
}

impl OpenFinding {
    /// The suppression in force at `now`, if any.
    pub fn suppressed_at(&self, now: OffsetDateTime) -> Option<&Suppression> {
        self.suppression.as_ref().filter(|s| s.active_at(now))
    }
}

/// The swap point between the scheduler (writer) and HTTP handlers (readers).
///
/// Readers clone the `Arc` under a read lock held for a pointer copy only; the writer replaces
/// it whole. Rendering happens outside the lock.
#[derive(Debug, Default)]
pub struct SnapshotCell {
    current: RwLock<Arc<Snapshot>>,
}

impl SnapshotCell {
    pub fn new(snapshot: Snapshot) -> Self {
        SnapshotCell {
            current: RwLock::new(Arc::new(snapshot)),
        }
    }

    /// The current snapshot (cheap: an `Arc` clone).
    pub fn load(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replace the snapshot atomically.
    pub fn store(&self, snapshot: Snapshot) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(snapshot);
    }
}
