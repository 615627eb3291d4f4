//! `/findings`: the open findings of the last snapshot as JSON lines, filterable by
//! `account_id`, `region`, `scope` and `finding`.
//!
//! One object per line (`application/x-ndjson`): the repository or registry record exactly as
//! `scan --once --format json` prints it ([`crate::report::Record`]), plus `stale` and
//! `findings` (each open finding with its first-seen time and suppression). Only records with
//! at least one open finding are listed (suppressed ones included, marked). Records of a
//! target whose last scan failed carry `"stale": true`. The record shapes live in
//! [`crate::report`]; this module filters and groups.

use time::OffsetDateTime;

use crate::model::{FindingKind, FindingSubject, Scope};
use crate::report::{FindingOut, FindingsBase, FindingsRecord, Record, RestoredRecord};
use crate::snapshot::{OpenFinding, Snapshot, TargetSnapshot};

/// Query filters; all given ones must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingsFilter {
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub scope: Option<Scope>,
    pub finding: Option<FindingKind>,
}

impl FindingsFilter {
    /// Parse a query string; unknown parameters and values are errors (a typo must not silently
    /// return everything).
    pub fn parse(query: Option<&str>) -> Result<Self, String> {
        let query = query.unwrap_or("");
        if let Some(k) = bad_escape(query) {
            return Err(format!("{k}: bad percent-encoding"));
        }
        let mut f = FindingsFilter::default();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            if v.contains(char::REPLACEMENT_CHARACTER) {
                return Err(format!("{k}: bad percent-encoding"));
            }
            let v = v.into_owned();
            match k.as_ref() {
                "account_id" => f.account_id = Some(v),
                "region" => f.region = Some(v),
                "scope" => {
                    f.scope = Some(Scope::from_label(&v).ok_or_else(|| {
                        format!("scope: expected public or cross_account, got {v:?}")
                    })?)
                }
                "finding" => {
                    f.finding = Some(FindingKind::from_label(&v).ok_or_else(|| {
                        let all: Vec<_> = FindingKind::ALL.iter().map(|k| k.as_label()).collect();
                        format!("finding: expected one of {}, got {v:?}", all.join(", "))
                    })?)
                }
                other => {
                    return Err(format!(
                        "unknown parameter {other:?} (account_id, region, scope, finding)"
                    ));
                }
            }
        }
        Ok(f)
    }

    fn matches_target(&self, t: &TargetSnapshot) -> bool {
        self.account_id
            .as_ref()
            .is_none_or(|a| *a == t.target.account_id)
            && self.region.as_ref().is_none_or(|r| *r == t.target.region)
    }

    fn matches_findings(&self, findings: &[&OpenFinding]) -> bool {
        let kind_ok = self
            .finding
            .is_none_or(|k| findings.iter().any(|f| f.finding.key.kind == k));
        let scope_ok = self
            .scope
            .is_none_or(|s| findings.iter().any(|f| f.finding.key.scope() == Some(s)));
        kind_ok && scope_ok
    }
}

/// The key of the first parameter with a `%` not followed by two hex digits: the decoder keeps
/// such text as it is, where a filter should refuse it.
fn bad_escape(query: &str) -> Option<&str> {
    query
        .split('&')
        .find(|pair| {
            let b = pair.as_bytes();
            b.iter().enumerate().any(|(i, &c)| {
                c == b'%'
                    && !b
                        .get(i + 1..i + 3)
                        .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
            })
        })
        .map(|pair| pair.split_once('=').map_or(pair, |(k, _)| k))
}

/// Render the matching records as JSON lines.
pub fn render(snapshot: &Snapshot, filter: &FindingsFilter, now: OffsetDateTime) -> String {
    let mut out = String::new();
    for t in snapshot
        .targets
        .values()
        .filter(|t| filter.matches_target(t))
    {
        // Findings grouped by subject (the registry sorts first: its repository is ""), in key
        // order.
        let mut groups: Vec<(FindingSubject<'_>, Vec<&OpenFinding>)> = Vec::new();
        for f in t.findings.iter() {
            let subject = f.finding.key.subject();
            match groups.last_mut() {
                Some((s, v)) if *s == subject => v.push(f),
                _ => groups.push((subject, vec![f])),
            }
        }
        for (subject, findings) in groups {
            if !filter.matches_findings(&findings) {
                continue;
            }
            let record = FindingsRecord {
                base: base_record(t, subject),
                stale: t.is_stale() || t.report.is_none(),
                findings: findings.iter().map(|f| FindingOut::new(f, now)).collect(),
            };
            out.push_str(&record.to_line());
            out.push('\n');
        }
    }
    out
}

/// The same object as `scan --once` prints, or only the identity when the target is known
/// from the state file alone.
fn base_record<'a>(t: &'a TargetSnapshot, subject: FindingSubject<'a>) -> FindingsBase<'a> {
    let scanned = t.report.as_deref().and_then(|r| match subject {
        FindingSubject::Registry => r.registry.as_ref().map(Record::Registry),
        FindingSubject::Repository(name) => r
            .repositories
            .iter()
            .find(|x| x.repository == name)
            .map(Record::Repository),
    });
    match scanned {
        Some(record) => FindingsBase::Scanned(record),
        None => {
            let (account_id, region) = (t.target.account_id.as_str(), t.target.region.as_str());
            FindingsBase::Restored(match subject {
                FindingSubject::Registry => RestoredRecord::Registry { account_id, region },
                FindingSubject::Repository(repository) => RestoredRecord::Repository {
                    account_id,
                    region,
                    repository,
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_parsing() {
        let f = FindingsFilter::parse(Some(
            "account_id=111111111111&region=eu-west-1&scope=public&finding=missing_tag",
        ))
        .unwrap();
        assert_eq!(f.account_id.as_deref(), Some("111111111111"));
        assert_eq!(f.scope, Some(Scope::Public));
        assert_eq!(f.finding, Some(FindingKind::MissingTag));
        assert!(FindingsFilter::parse(Some("scope=everyone")).is_err());
        assert!(FindingsFilter::parse(Some("finding=bad")).is_err());
        assert!(FindingsFilter::parse(Some("acount_id=1")).is_err());
        assert_eq!(
            FindingsFilter::parse(Some("region=eu%2Dwest-1"))
                .unwrap()
                .region
                .as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            FindingsFilter::parse(None).unwrap(),
            FindingsFilter::default()
        );
        assert_eq!(
            FindingsFilter::parse(Some("region=eu+west-1"))
                .unwrap()
                .region
                .as_deref(),
            Some("eu west-1")
        );
        for bad in ["region=%zz", "region=%4", "region=%C3%28"] {
            assert_eq!(
                FindingsFilter::parse(Some(bad)),
                Err("region: bad percent-encoding".to_string()),
                "{bad}"
            );
        }
    }
}
