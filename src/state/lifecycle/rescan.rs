//! Applying one event-driven rescan: the part of a target that an event named (one
//! repository, the registry policy, or the whole target) replaces that part of the target's
//! last successful report, and the patched report goes through the same finding rules as a
//! scan ([`take_findings`]): kept findings keep their first-seen time, new ones open, missing
//! ones resolve, exceptions apply.
//!
//! A repository or registry patch needs a baseline: a target whose last scan in this process
//! succeeded. Without one (never scanned here, or its last scan failed) the caller rescans the
//! whole target instead ([`RescanPart::Target`]), which applies as a scan of that target.
//! Patching the trimmed report is exact: the repositories it leaves out have no findings.

use std::sync::Arc;

use time::OffsetDateTime;

use super::{CycleChanges, Tracker, apply_success, repo_info, take_findings};
use crate::analysis::{RegistryReport, RepositoryReport, TargetReport};
use crate::facts::TargetId;
use crate::snapshot::{RepoInfo, TargetSnapshot};

/// What a rescan read, for one part of a target.
#[derive(Debug, Clone, PartialEq)]
pub enum RescanPart {
    /// One repository as read now; `None` when it no longer exists (its findings resolve
    /// and it leaves the inventory).
    Repository {
        name: String,
        report: Option<Box<RepositoryReport>>,
    },
    /// The registry policy and its scope as read now.
    Registry(Box<RegistryReport>),
    /// The whole target, rescanned because there was no baseline to patch.
    Target {
        report: Box<TargetReport>,
        duration_seconds: f64,
    },
}

impl RescanPart {
    /// Replace this part in `report` (a full scan's report or a trimmed one).
    pub fn patch(&self, report: &mut TargetReport) {
        match self {
            RescanPart::Repository { name, report: new } => {
                let at = report
                    .repositories
                    .iter()
                    .position(|r| &r.repository == name);
                match (at, new) {
                    (Some(i), Some(new)) => report.repositories[i] = (**new).clone(),
                    (Some(i), None) => {
                        report.repositories.remove(i);
                    }
                    (None, Some(new)) => report.repositories.push((**new).clone()),
                    (None, None) => {}
                }
            }
            RescanPart::Registry(new) => report.registry = Some((**new).clone()),
            RescanPart::Target { report: new, .. } => *report = (**new).clone(),
        }
    }
}

/// One rescan of one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Rescanned {
    pub target: TargetId,
    pub part: RescanPart,
}

/// Why a rescan was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RescanRefused {
    /// The target has no successful scan in this process to patch (see the module doc).
    NoBaseline,
}

impl std::fmt::Display for RescanRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the target has no successful scan to patch; rescan the whole target")
    }
}

fn has_baseline(snap: &TargetSnapshot) -> bool {
    !snap.is_stale() && snap.report.is_some() && snap.inventory.is_some()
}

impl Tracker {
    /// Whether a repository or registry rescan of `target` can be applied now.
    pub fn has_baseline(&self, target: &TargetId) -> bool {
        self.targets.get(target).is_some_and(has_baseline)
    }

    /// Apply one rescan. Counts nothing by itself: the caller persists the state, then moves
    /// the counters with the returned changes (as after a cycle). `changes.scans` stays
    /// empty: scan attempts count scheduled scans only.
    pub fn apply_rescan(
        &mut self,
        rescan: Rescanned,
        now: OffsetDateTime,
    ) -> Result<CycleChanges, RescanRefused> {
        let mut changes = CycleChanges::default();
        if let RescanPart::Target {
            report,
            duration_seconds,
        } = rescan.part
        {
            let snap = self
                .targets
                .entry(rescan.target.clone())
                .or_insert_with(|| TargetSnapshot::new(rescan.target.clone()));
            snap.absent_cycles = 0;
            apply_success(
                &self.exceptions,
                snap,
                *report,
                duration_seconds,
                now,
                &mut changes,
            );
            return Ok(changes);
        }
        let snap = match self.targets.get_mut(&rescan.target) {
            Some(snap) if has_baseline(snap) => snap,
            _ => return Err(RescanRefused::NoBaseline),
        };
        let mut report = snap
            .report
            .as_deref()
            .cloned()
            .ok_or(RescanRefused::NoBaseline)?;
        rescan.part.patch(&mut report);
        if let RescanPart::Repository { name, report: new } = &rescan.part {
            let inventory = snap.inventory.as_deref().unwrap_or_default();
            snap.inventory = Some(patch_inventory(inventory, name, new.as_deref()));
        }
        take_findings(&self.exceptions, snap, report, now, &mut changes);
        Ok(changes)
    }
}

/// The inventory with one repository replaced, added (at the end) or removed.
fn patch_inventory(
    inventory: &[RepoInfo],
    name: &str,
    new: Option<&RepositoryReport>,
) -> Arc<[RepoInfo]> {
    let mut out: Vec<RepoInfo> = inventory.to_vec();
    let at = out.iter().position(|r| &*r.repository == name);
    match (at, new) {
        (Some(i), Some(new)) => out[i] = repo_info(new),
        (Some(i), None) => {
            out.remove(i);
        }
        (None, Some(new)) => out.push(repo_info(new)),
        (None, None) => {}
    }
    out.into()
}
