//! The per-account state document of the S3 backend, and the rule that merges two versions of
//! it. Pure: no I/O, no clock (times come in as arguments).
//!
//! One document per account holds what the state file holds for that account's targets:
//! open findings with their first-seen times (and access / reason), and each target's last
//! successful scan. Counters are not persisted by either backend; what keeps them honest
//! across restarts and reshards is the first-seen time (an opening persisted once is never
//! counted again by the next owner).
//!
//! # The merge rule
//!
//! Two writers can hold different versions of one account: the replica that owns it now and
//! the one that owned it before a reshard (or two replicas that both claim a shard during a
//! rollout). When a conditional write finds that the object changed since it was read, or when
//! a replica takes an account over, the two versions are merged, per target (account and
//! region):
//!
//! 1. **The most recent successful scan decides which findings are open.** Each side's
//!    `last_success` for the target is compared; the newer side's set of findings is kept, the
//!    older side's extra findings are dropped. A tie (or neither side ever scanned) keeps the
//!    writer's own set. So the owner that has just scanned never gets back a finding it saw
//!    resolved from a stale copy, while a newer scan by another replica is not undone by an
//!    older one.
//! 2. **The earliest first-seen time wins** for a finding that both sides have (the same
//!    [`FindingKey`]), whichever side's set was kept: ages are never reset by a writer that
//!    did not know the older time. (A finding resolved and reopened between two writes of
//!    the other side keeps the earlier time: an age that is too long rather than one that is
//!    lost.)
//! 3. `last_success` is the later of the two; a target only one side knows is kept as that
//!    side has it (a region the writer has not scanned yet keeps its findings).
//!
//! The comparison uses the writers' wall clocks; clocks that disagree by more than a scan
//! interval can only make the rule pick the other side's set for one cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{FindingKey, TargetId};
use crate::state::store::{PersistedFinding, PersistedTarget, STATE_VERSION, StateFile};

/// Layout version of an account document; an unknown version is treated as corrupt.
pub const ACCOUNT_STATE_VERSION: u32 = 1;

/// One account's persisted state (`<prefix><account_id>.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountState {
    pub version: u32,
    pub account_id: String,
    /// Unix seconds when this version was written.
    pub written_at: i64,
    /// Sorted by key.
    pub findings: Vec<PersistedFinding>,
    /// Sorted by target.
    pub targets: Vec<PersistedTarget>,
}

impl AccountState {
    pub fn new(account_id: &str, written_at: i64) -> AccountState {
        AccountState {
            version: ACCOUNT_STATE_VERSION,
            account_id: account_id.to_string(),
            written_at,
            findings: Vec::new(),
            targets: Vec::new(),
        }
    }

    /// Parse and check one object's bytes: the version and that every entry belongs to
    /// `account_id` (an object that names other accounts is corrupt, not merged).
    pub fn parse(bytes: &[u8], account_id: &str) -> Result<AccountState, String> {
        let mut doc: AccountState =
            serde_json::from_slice(bytes).map_err(|e| format!("cannot parse: {e}"))?;
        if doc.version != ACCOUNT_STATE_VERSION {
            return Err(format!(
                "unsupported state version {} (expected {ACCOUNT_STATE_VERSION})",
                doc.version
            ));
        }
        let foreign = doc.account_id != account_id
            || doc.findings.iter().any(|f| f.key.account_id != account_id)
            || doc
                .targets
                .iter()
                .any(|t| t.target.account_id != account_id);
        if foreign {
            return Err(format!(
                "the object holds state of another account than {account_id}"
            ));
        }
        doc.normalize();
        Ok(doc)
    }

    /// The stored form (pretty JSON, trailing newline).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut body = serde_json::to_vec_pretty(self).unwrap_or_default();
        body.push(b'\n');
        body
    }

    /// Sort findings and targets, so that equal content compares equal.
    pub fn normalize(&mut self) {
        self.findings.sort_by(|a, b| a.key.cmp(&b.key));
        self.findings.dedup_by(|a, b| a.key == b.key);
        self.targets.sort_by(|a, b| a.target.cmp(&b.target));
        self.targets.dedup_by(|a, b| a.target == b.target);
    }

    /// As a state file holding this account only, for [`crate::state::Tracker::restore`].
    pub fn to_state_file(&self) -> StateFile {
        StateFile {
            version: STATE_VERSION,
            written_at: self.written_at,
            findings: self.findings.clone(),
            targets: self.targets.clone(),
        }
    }

    /// Same findings and targets (`written_at` aside).
    pub fn same_content(&self, other: &AccountState) -> bool {
        self.findings == other.findings && self.targets == other.targets
    }

    /// What [`Fingerprint::differs`] compares later, without keeping the findings.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint {
            findings: digest(&self.findings),
            targets: self.targets.clone(),
        }
    }
}

/// A stored version reduced to what deciding on a write needs: a digest of its findings and
/// its targets with their last success. The S3 backend keeps one per owned account instead of
/// a second copy of every finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint {
    findings: [u8; 32],
    targets: Vec<PersistedTarget>,
}

impl Fingerprint {
    /// Whether writing `new` over the stored version would change something worth a PUT:
    /// findings, first-seen times, the set of targets, or a last-success time that moved by
    /// `refresh` or more (the last-success time alone moves every cycle; writing it every
    /// time would cost one PUT per account per cycle for nothing but the staleness gauge after
    /// a restart).
    pub fn differs(&self, new: &AccountState, refresh: Duration) -> bool {
        if self.targets.len() != new.targets.len() || self.findings != digest(&new.findings) {
            return true;
        }
        let refresh = i64::try_from(refresh.as_secs()).unwrap_or(i64::MAX);
        self.targets.iter().zip(&new.targets).any(|(a, b)| {
            a.target != b.target
                || match (a.last_success, b.last_success) {
                    (Some(x), Some(y)) => (y - x).abs() >= refresh,
                    (x, y) => x != y,
                }
        })
    }
}

/// SHA-256 of the findings' JSON: equal findings (sorted, as [`AccountState::normalize`]
/// leaves them) give equal digests.
fn digest(findings: &[PersistedFinding]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(findings).unwrap_or_default());
    h.finalize().into()
}

/// Cut a whole state into one document per account (accounts with neither findings nor
/// targets do not appear).
pub fn split(state: StateFile) -> BTreeMap<String, AccountState> {
    let mut out: BTreeMap<String, AccountState> = BTreeMap::new();
    let written_at = state.written_at;
    for f in state.findings {
        out.entry(f.key.account_id.clone())
            .or_insert_with_key(|a| AccountState::new(a, written_at))
            .findings
            .push(f);
    }
    for t in state.targets {
        out.entry(t.target.account_id.clone())
            .or_insert_with_key(|a| AccountState::new(a, written_at))
            .targets
            .push(t);
    }
    for doc in out.values_mut() {
        doc.normalize();
    }
    out
}

/// Merge the writer's version (`mine`) with another version of the same account (`theirs`)
/// by the rule in the module documentation. The result carries `mine`'s `written_at`.
pub fn merge(mine: &AccountState, theirs: &AccountState) -> AccountState {
    let mine_t = targets_of(mine);
    let theirs_t = targets_of(theirs);
    let mine_f = findings_by_target(mine);
    let theirs_f = findings_by_target(theirs);
    let earliest: BTreeMap<&FindingKey, i64> =
        mine.findings
            .iter()
            .chain(&theirs.findings)
            .fold(BTreeMap::new(), |mut m, f| {
                let e = m.entry(&f.key).or_insert(f.first_seen);
                *e = (*e).min(f.first_seen);
                m
            });
    let all: BTreeSet<&TargetId> = mine_t
        .keys()
        .copied()
        .chain(theirs_t.keys().copied())
        .chain(mine_f.keys())
        .chain(theirs_f.keys())
        .collect();
    let mut out = AccountState::new(&mine.account_id, mine.written_at);
    for target in all {
        let ours = mine_t.get(&target).copied().flatten();
        let other = theirs_t.get(&target).copied().flatten();
        let known_here = mine_t.contains_key(&target) || mine_f.contains_key(target);
        // Newer scan wins; a tie or no scan at all keeps ours, when we know the target.
        let take_theirs = if known_here { other > ours } else { true };
        let kept = if take_theirs {
            theirs_f.get(target)
        } else {
            mine_f.get(target)
        };
        for f in kept.into_iter().flatten() {
            let mut f = (*f).clone();
            f.first_seen = earliest.get(&f.key).copied().unwrap_or(f.first_seen);
            out.findings.push(f);
        }
        out.targets.push(PersistedTarget {
            target: target.clone(),
            last_success: ours.max(other),
        });
    }
    out.normalize();
    out
}

fn targets_of(doc: &AccountState) -> BTreeMap<&TargetId, Option<i64>> {
    doc.targets
        .iter()
        .map(|t| (&t.target, t.last_success))
        .collect()
}

fn findings_by_target(doc: &AccountState) -> BTreeMap<TargetId, Vec<&PersistedFinding>> {
    let mut out: BTreeMap<TargetId, Vec<&PersistedFinding>> = BTreeMap::new();
    for f in &doc.findings {
        out.entry(TargetId {
            account_id: f.key.account_id.clone(),
            region: f.key.region.clone(),
        })
        .or_default()
        .push(f);
    }
    out
}

#[cfg(test)]
mod tests;
