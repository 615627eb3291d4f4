//! The tracker: applies one cycle's per-target results to the open findings and tells what
//! opened and what resolved.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use time::OffsetDateTime;

use crate::analysis::{Finding, FindingKey, TargetReport};
use crate::facts::{TargetError, TargetId};
use crate::snapshot::{CycleSummary, OpenFinding, RepoInfo, ScanStatus, Snapshot, TargetSnapshot};
use crate::state::exceptions::Exceptions;
use crate::state::store::{
    PersistedFinding, PersistedRepoInfo, PersistedTarget, STATE_VERSION, StateFile,
};

mod rescan;

pub use rescan::{RescanPart, RescanRefused, Rescanned};

/// Cycles a target may be missing from discovery before it is forgotten.
pub const DEFAULT_FORGET_AFTER_CYCLES: u32 = 3;

/// One target's result in a cycle, already analysed: the tracker takes reports and never runs
/// analysis (the cycle does, see `crate::cycle::report`), so tests hand it reports directly.
#[derive(Debug, Clone)]
pub struct ScanResult {
    pub target: TargetId,
    pub duration_seconds: f64,
    pub result: Result<TargetReport, TargetError>,
}

/// What a cycle changed, for the counters and the log. Applied to counters only after the
/// state holding these changes was persisted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CycleChanges {
    pub opened: Vec<FindingKey>,
    /// Resolved findings with their remediation time (first seen to resolved) in seconds.
    pub resolved: Vec<(FindingKey, f64)>,
    /// Findings dropped because their target left discovery (not counted as resolved).
    pub forgotten: Vec<FindingKey>,
    /// Each scanned target and whether its scan succeeded.
    pub scans: Vec<(TargetId, bool)>,
}

/// Open findings per target across cycles; the only writer of snapshots.
#[derive(Debug)]
pub struct Tracker {
    targets: BTreeMap<TargetId, TargetSnapshot>,
    exceptions: Arc<Exceptions>,
    cycles: u64,
    last_cycle: Option<CycleSummary>,
    forget_after: u32,
}

impl Tracker {
    pub fn new(exceptions: Arc<Exceptions>) -> Self {
        Tracker {
            targets: BTreeMap::new(),
            exceptions,
            cycles: 0,
            last_cycle: None,
            forget_after: DEFAULT_FORGET_AFTER_CYCLES,
        }
    }

    /// Change how many absent cycles a target survives (tests).
    pub fn with_forget_after(mut self, cycles: u32) -> Self {
        self.forget_after = cycles;
        self
    }

    pub fn exceptions(&self) -> &Arc<Exceptions> {
        &self.exceptions
    }

    /// Take over the open findings of a previous run (the state file), or of one account
    /// (the S3 backend, when a replica first scans it). Their targets are exported from the
    /// restored findings until scanned; nothing is counted as opened. A target in `state`
    /// replaces the tracker's findings of that target; other targets are left as they are.
    pub fn restore(&mut self, state: StateFile) {
        let mut per_target: BTreeMap<TargetId, Vec<OpenFinding>> = BTreeMap::new();
        let mut infos: BTreeMap<TargetId, BTreeMap<String, PersistedRepoInfo>> = BTreeMap::new();
        for f in state.findings {
            let target = TargetId {
                account_id: f.key.account_id.clone(),
                region: f.key.region.clone(),
            };
            if let Some(info) = f.repository_info {
                infos
                    .entry(target.clone())
                    .or_default()
                    .insert(f.key.repository.clone(), info);
            }
            let first_seen = from_unix(f.first_seen);
            let suppression = self.exceptions.suppression_for(&f.key);
            per_target.entry(target).or_default().push(OpenFinding {
                finding: Finding {
                    key: f.key,
                    access: f.access,
                    reason: f.reason,
                },
                first_seen,
                suppression,
            });
        }
        for t in state.targets {
            per_target.entry(t.target.clone()).or_default();
            let snap = self
                .targets
                .entry(t.target.clone())
                .or_insert_with(|| TargetSnapshot::new(t.target));
            snap.last_success = t.last_success.map(from_unix);
        }
        for (target, mut findings) in per_target {
            findings.sort_by(|a, b| a.finding.key.cmp(&b.finding.key));
            let restored_info: Arc<[RepoInfo]> = infos
                .remove(&target)
                .unwrap_or_default()
                .into_iter()
                .map(|(repository, info)| RepoInfo {
                    repository: repository.into(),
                    owner: info.owner_tag.map(Into::into),
                    managed_by: info.managed_by.map(Into::into),
                })
                .collect();
            let snap = self
                .targets
                .entry(target.clone())
                .or_insert_with(|| TargetSnapshot::new(target));
            snap.findings = Arc::new(findings);
            snap.restored_info = restored_info;
        }
    }

    /// Apply one cycle. `results` holds every target discovery listed this cycle.
    pub fn apply_cycle(
        &mut self,
        results: Vec<ScanResult>,
        now: OffsetDateTime,
        cycle_duration_seconds: f64,
    ) -> CycleChanges {
        let mut changes = CycleChanges::default();
        let seen: BTreeSet<TargetId> = results.iter().map(|r| r.target.clone()).collect();
        let (mut ok, mut failed) = (0usize, 0usize);
        for r in results {
            let snap = self
                .targets
                .entry(r.target.clone())
                .or_insert_with(|| TargetSnapshot::new(r.target.clone()));
            snap.absent_cycles = 0;
            changes.scans.push((r.target.clone(), r.result.is_ok()));
            match r.result {
                Ok(report) => {
                    ok += 1;
                    apply_success(
                        &self.exceptions,
                        snap,
                        report,
                        r.duration_seconds,
                        now,
                        &mut changes,
                    );
                }
                Err(error) => {
                    failed += 1;
                    snap.scan = Some(ScanStatus {
                        success: false,
                        duration_seconds: r.duration_seconds,
                        at: now,
                        error: Some(error),
                    });
                }
            }
        }
        // A cycle without a single successful scan (for example a failed discovery, reported
        // as one failed pseudo-target) says more about discovery than about the targets: do
        // not age anything on it.
        if ok > 0 {
            let forget_after = self.forget_after;
            let mut gone = Vec::new();
            for (id, snap) in self.targets.iter_mut() {
                if !seen.contains(id) {
                    snap.absent_cycles += 1;
                    // Nothing to keep for a target without findings: drop it at once, so that
                    // its scan-health series disappear with it.
                    if snap.absent_cycles > forget_after || snap.findings.is_empty() {
                        gone.push(id.clone());
                    }
                }
            }
            for id in gone {
                if let Some(snap) = self.targets.remove(&id) {
                    changes
                        .forgotten
                        .extend(snap.findings.iter().map(|f| f.finding.key.clone()));
                }
            }
        }
        self.cycles += 1;
        self.last_cycle = Some(CycleSummary {
            number: self.cycles,
            completed_at: now,
            duration_seconds: cycle_duration_seconds,
            targets_ok: ok,
            targets_failed: failed,
        });
        changes
    }

    /// The immutable view for scrapes.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            targets: self.targets.clone(),
            cycle: self.last_cycle.clone(),
        }
    }

    /// What to persist: every open finding with its first-seen time.
    pub fn to_state(&self, now: OffsetDateTime) -> StateFile {
        let mut findings = Vec::new();
        let mut targets = Vec::new();
        for snap in self.targets.values() {
            targets.push(PersistedTarget {
                target: snap.target.clone(),
                last_success: snap.last_success.map(|t| t.unix_timestamp()),
            });
            let info = repository_info_of(snap);
            findings.extend(snap.findings.iter().map(|f| PersistedFinding {
                key: f.finding.key.clone(),
                first_seen: f.first_seen.unix_timestamp(),
                access: f.finding.access,
                reason: f.finding.reason,
                repository_info: info.get(f.finding.key.repository.as_str()).map(|r| {
                    PersistedRepoInfo {
                        owner_tag: r.owner.as_deref().map(Into::into),
                        managed_by: r.managed_by.as_deref().map(Into::into),
                    }
                }),
            }));
        }
        StateFile {
            version: STATE_VERSION,
            written_at: now.unix_timestamp(),
            findings,
            targets,
        }
    }

    /// Number of open findings (logs, landing page).
    pub fn open_findings(&self) -> usize {
        self.targets.values().map(|t| t.findings.len()).sum()
    }
}

/// The tags of the target's repositories that have open findings, by name (registry findings,
/// whose repository is empty, find nothing).
fn repository_info_of(snap: &TargetSnapshot) -> BTreeMap<&str, &RepoInfo> {
    let with_findings: BTreeSet<&str> = snap
        .findings
        .iter()
        .map(|f| f.finding.key.repository.as_str())
        .filter(|r| !r.is_empty())
        .collect();
    if with_findings.is_empty() {
        return BTreeMap::new();
    }
    snap.repository_info()
        .iter()
        .filter(|r| with_findings.contains(&*r.repository))
        .map(|r| (&*r.repository, r))
        .collect()
}

/// A successful scan of one target: its findings, inventory, report and scan status.
pub(super) fn apply_success(
    exceptions: &Exceptions,
    snap: &mut TargetSnapshot,
    report: TargetReport,
    duration_seconds: f64,
    now: OffsetDateTime,
    changes: &mut CycleChanges,
) {
    let inventory: Arc<[RepoInfo]> = report.repositories.iter().map(repo_info).collect();
    take_findings(exceptions, snap, report, now, changes);
    snap.inventory = Some(inventory);
    snap.restored_info = Arc::new([]);
    snap.last_success = Some(now);
    snap.scan = Some(ScanStatus {
        success: true,
        duration_seconds,
        at: now,
        error: None,
    });
}

/// One repository as the inventory keeps it.
pub(super) fn repo_info(r: &crate::analysis::RepositoryReport) -> RepoInfo {
    RepoInfo {
        repository: r.repository.as_str().into(),
        owner: r.owner.as_deref().map(Into::into),
        managed_by: r.managed_by.as_deref().map(Into::into),
    }
}

/// The findings of `report` replace the target's: kept ones keep their first-seen time, new
/// ones open now, missing ones resolve; the report is kept trimmed to the registry and the
/// repositories with findings.
pub(super) fn take_findings(
    exceptions: &Exceptions,
    snap: &mut TargetSnapshot,
    mut report: TargetReport,
    now: OffsetDateTime,
    changes: &mut CycleChanges,
) {
    let previous: BTreeMap<&FindingKey, &OpenFinding> =
        snap.findings.iter().map(|f| (&f.finding.key, f)).collect();
    let current = report.findings();
    let current_keys: BTreeSet<&FindingKey> = current.iter().map(|f| &f.key).collect();
    for (key, old) in &previous {
        if !current_keys.contains(key) {
            let seconds = (now - old.first_seen).as_seconds_f64().max(0.0);
            changes.resolved.push(((*key).clone(), seconds));
        }
    }
    let mut open = Vec::with_capacity(current.len());
    for finding in current {
        let first_seen = match previous.get(&finding.key) {
            Some(old) => old.first_seen,
            None => {
                changes.opened.push(finding.key.clone());
                // Whole seconds: what the state file keeps, so a restart exports the same
                // first-seen value.
                now.replace_nanosecond(0).unwrap_or(now)
            }
        };
        let suppression = exceptions.suppression_for(&finding.key);
        open.push(OpenFinding {
            finding,
            first_seen,
            suppression,
        });
    }
    drop(previous);
    let with_findings: BTreeSet<&str> = open
        .iter()
        .map(|f| f.finding.key.repository.as_str())
        .collect();
    report
        .repositories
        .retain(|r| with_findings.contains(r.repository.as_str()));
    report.repositories.shrink_to_fit();
    drop(with_findings);
    snap.findings = Arc::new(open);
    snap.report = Some(Arc::new(report));
}

fn from_unix(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests;
