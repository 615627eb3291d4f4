//! The JSON records shared by `scan --once --format json` and the daemon's `/findings`.
//!
//! One [`Record`] enum, tagged by `kind` (`repository`, `registry`, `target`), so both outputs
//! spell a record the same way and neither has to import the other. `/findings` adds its
//! lifecycle fields through [`FindingsRecord`].
//!
//! Records are written through `serde_json::Value`, whose maps are sorted: every object comes
//! out with its keys in alphabetical order, which is the byte layout these outputs have always
//! had. Pure: no I/O, no clock (the caller passes `now`).

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::analysis::{RegistryReport, RepositoryReport};
use crate::facts::TargetError;
use crate::snapshot::OpenFinding;
use crate::state::ScanResult;

/// One line of `scan --once --format json`, and the base of a `/findings` line.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record<'a> {
    /// Every field of the repository's report.
    Repository(&'a RepositoryReport),
    /// Every field of the registry's report.
    Registry(&'a RegistryReport),
    Target(TargetRecord<'a>),
}

/// How one target's scan went.
#[derive(Debug, Clone, Serialize)]
pub struct TargetRecord<'a> {
    pub account_id: &'a str,
    pub region: &'a str,
    /// `ok` or `failed`.
    pub status: &'static str,
    /// `null` on success.
    pub error: Option<&'a TargetError>,
    /// Repositories listed; 0 for a failed target.
    pub repositories: usize,
    pub duration_seconds: f64,
}

impl<'a> TargetRecord<'a> {
    pub fn new(outcome: &'a ScanResult) -> Self {
        let (status, error, repositories) = match &outcome.result {
            Ok(report) => ("ok", None, report.repositories.len()),
            Err(e) => ("failed", Some(e), 0),
        };
        TargetRecord {
            account_id: &outcome.target.account_id,
            region: &outcome.target.region,
            status,
            error,
            repositories,
            duration_seconds: outcome.duration_seconds,
        }
    }
}

impl Record<'_> {
    /// The record as one line of JSON (no newline).
    pub fn to_line(&self) -> String {
        to_line(self)
    }
}

/// Serialise through `Value` so that keys come out sorted (see the module doc).
fn to_line(record: &impl Serialize) -> String {
    serde_json::to_value(record)
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// Every record of one target: its repositories, its registry, then the target itself.
pub fn records(outcome: &ScanResult) -> Vec<Record<'_>> {
    let mut out = Vec::new();
    if let Ok(report) = &outcome.result {
        out.extend(report.repositories.iter().map(Record::Repository));
        out.extend(report.registry.iter().map(Record::Registry));
    }
    out.push(Record::Target(TargetRecord::new(outcome)));
    out
}

/// One JSON object per line, for all targets, written as they are made: the whole output of
/// a 100,000-repository organization is never held at once.
pub fn write_json_lines(
    out: &mut impl std::io::Write,
    outcomes: &[ScanResult],
) -> std::io::Result<()> {
    for o in outcomes {
        for rec in records(o) {
            writeln!(out, "{}", rec.to_line())?;
        }
    }
    Ok(())
}

/// What a `/findings` line is about, before its lifecycle fields.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum FindingsBase<'a> {
    /// The same object `scan --once` prints for it.
    Scanned(Record<'a>),
    /// Restored from the state file, not scanned yet in this process: only the identity.
    Restored(RestoredRecord<'a>),
}

/// The identity of a repository or registry known only from the state file.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RestoredRecord<'a> {
    Repository {
        account_id: &'a str,
        region: &'a str,
        repository: &'a str,
    },
    Registry {
        account_id: &'a str,
        region: &'a str,
    },
}

/// One `/findings` line: the record, whether it is stale, and its open findings.
#[derive(Debug, Clone, Serialize)]
pub struct FindingsRecord<'a> {
    #[serde(flatten)]
    pub base: FindingsBase<'a>,
    /// The target's last scan failed or it is known only from the state file.
    pub stale: bool,
    pub findings: Vec<FindingOut<'a>>,
}

impl FindingsRecord<'_> {
    /// The record as one line of JSON (no newline).
    pub fn to_line(&self) -> String {
        to_line(self)
    }
}

/// One open finding with its first-seen time and suppression.
#[derive(Debug, Clone, Serialize)]
pub struct FindingOut<'a> {
    pub finding: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    pub first_seen: String,
    pub suppressed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppression_expires: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppression_reason: Option<&'a str>,
}

impl<'a> FindingOut<'a> {
    /// `suppressed` is decided at `now`, so an expiry between cycles shows at once.
    pub fn new(f: &'a OpenFinding, now: OffsetDateTime) -> Self {
        let k = &f.finding.key;
        let s = f.suppression.as_ref();
        FindingOut {
            finding: k.kind.as_label(),
            tag_key: k.tag_key(),
            access: f.finding.access.map(|a| a.as_label()),
            reason: f.finding.reason.map(|r| r.as_label()),
            first_seen: rfc3339(f.first_seen),
            suppressed: f.suppressed_at(now).is_some(),
            suppression_expires: s.map(|s| rfc3339(s.expires)),
            suppression_reason: s.map(|s| s.reason.as_str()),
        }
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests;
