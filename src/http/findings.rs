//! `/findings`: the open findings of the last snapshot as JSON lines, filterable by
//! `account_id`, `region`, `scope` and `finding`.
//!
//! One object per line (`application/x-ndjson`): the repository or registry record exactly as
//! `scan --once --format json` prints it ([`crate::scan::repository_record`]), plus `stale` and
//! `findings` (each open finding with its first-seen time and suppression). Only records with at least one open finding are listed (suppressed
//! ones included, marked). Records of a target whose last scan failed carry `"stale": true`.

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::analysis::{FindingKind, Scope};
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
        let mut f = FindingsFilter::default();
        let query = query.unwrap_or("");
        check_escapes(query)?;
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            if k.contains(char::REPLACEMENT_CHARACTER) || v.contains(char::REPLACEMENT_CHARACTER) {
                return Err(format!("{k}: bad percent-encoding (not UTF-8)"));
            }
            let v = v.into_owned();
            match k.as_ref() {
                "account_id" => f.account_id = Some(v),
                "region" => f.region = Some(v),
                "scope" => {
                    f.scope = Some(match v.as_str() {
                        "public" => Scope::Public,
                        "cross_account" => Scope::CrossAccount,
                        _ => {
                            return Err(format!(
                                "scope: expected public or cross_account, got {v:?}"
                            ));
                        }
                    })
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
            .is_none_or(|s| findings.iter().any(|f| finding_scope(f) == Some(s)));
        kind_ok && scope_ok
    }
}

fn finding_scope(f: &OpenFinding) -> Option<Scope> {
    match f.finding.key.kind {
        FindingKind::PublicExposure => Some(Scope::Public),
        FindingKind::CrossAccountExposure => Some(Scope::CrossAccount),
        FindingKind::RegistryExposure => match f.finding.key.detail.as_str() {
            "public" => Some(Scope::Public),
            "cross_account" => Some(Scope::CrossAccount),
            _ => None,
        },
        _ => None,
    }
}

/// `form_urlencoded` passes a malformed escape such as `%zz` through as text; refuse it instead,
/// so that a mangled filter is an error rather than a filter that silently matches nothing.
fn check_escapes(query: &str) -> Result<(), String> {
    for pair in query.split('&') {
        let bytes = pair.as_bytes();
        let bad = bytes.iter().enumerate().any(|(i, &b)| {
            b == b'%'
                && !bytes
                    .get(i + 1..i + 3)
                    .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
        });
        if bad {
            let key = pair.split('=').next().unwrap_or(pair);
            return Err(format!("{key}: bad percent-encoding"));
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct FindingOut<'a> {
    finding: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tag_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    first_seen: String,
    suppressed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    suppression_expires: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    suppression_reason: Option<&'a str>,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn finding_out(f: &OpenFinding, now: OffsetDateTime) -> FindingOut<'_> {
    let k = &f.finding.key;
    let s = f.suppression.as_ref();
    FindingOut {
        finding: k.kind.as_label(),
        tag_key: (k.kind == FindingKind::MissingTag).then_some(k.detail.as_str()),
        access: f.finding.access.map(|a| a.as_label()),
        reason: f.finding.reason.map(|r| r.as_label()),
        first_seen: rfc3339(f.first_seen),
        suppressed: f.suppressed_at(now).is_some(),
        suppression_expires: s.map(|s| rfc3339(s.expires)),
        suppression_reason: s.map(|s| s.reason.as_str()),
    }
}

/// Render the matching records as JSON lines.
pub fn render(snapshot: &Snapshot, filter: &FindingsFilter, now: OffsetDateTime) -> String {
    let mut out = String::new();
    for t in snapshot
        .targets
        .values()
        .filter(|t| filter.matches_target(t))
    {
        // Findings grouped by repository ("" = registry), in key order.
        let mut groups: Vec<(&str, Vec<&OpenFinding>)> = Vec::new();
        for f in t.findings.iter() {
            let repo = f.finding.key.repository.as_str();
            match groups.last_mut() {
                Some((r, v)) if *r == repo => v.push(f),
                _ => groups.push((repo, vec![f])),
            }
        }
        for (repo, findings) in groups {
            if !filter.matches_findings(&findings) {
                continue;
            }
            // The same object as `scan --once` prints, plus lifecycle fields.
            let base = t.report.as_ref().and_then(|r| {
                if repo.is_empty() {
                    r.registry.as_ref().map(crate::scan::registry_record)
                } else {
                    r.repositories
                        .iter()
                        .find(|x| x.repository == repo)
                        .map(crate::scan::repository_record)
                }
            });
            let mut record = match base {
                Some(Value::Object(map)) => map,
                // Restored from the state file, not scanned yet in this process.
                _ => {
                    let mut m = Map::new();
                    let kind = if repo.is_empty() {
                        "registry"
                    } else {
                        "repository"
                    };
                    m.insert("kind".into(), Value::from(kind));
                    m.insert(
                        "account_id".into(),
                        Value::from(t.target.account_id.clone()),
                    );
                    m.insert("region".into(), Value::from(t.target.region.clone()));
                    if !repo.is_empty() {
                        m.insert("repository".into(), Value::from(repo));
                    }
                    m
                }
            };
            record.insert(
                "stale".into(),
                Value::from(t.is_stale() || t.report.is_none()),
            );
            record.insert(
                "findings".into(),
                serde_json::to_value(
                    findings
                        .iter()
                        .map(|f| finding_out(f, now))
                        .collect::<Vec<_>>(),
                )
                .unwrap_or(Value::Null),
            );
            if let Ok(line) = serde_json::to_string(&Value::Object(record)) {
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    out
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
    }

    #[test]
    fn query_decoding_follows_form_urlencoding() {
        let region = |q: &str| FindingsFilter::parse(Some(q)).map(|f| f.region);
        // Keys are decoded like values (`%5F` is `_`); `+` is a space; empty pairs are skipped.
        assert_eq!(
            FindingsFilter::parse(Some("account%5Fid=111111111111&&"))
                .unwrap()
                .account_id
                .as_deref(),
            Some("111111111111")
        );
        assert_eq!(region("region=a+b%2Bc"), Ok(Some("a b+c".to_string())));
        assert_eq!(region("region=%C3%A9"), Ok(Some("\u{e9}".to_string())));
        assert_eq!(region("region"), Ok(Some(String::new())));
        // Malformed escapes and bytes that are not UTF-8 are errors naming the key.
        for bad in ["region=eu%2", "region=%zz", "region=%"] {
            assert_eq!(
                region(bad),
                Err("region: bad percent-encoding".into()),
                "{bad}"
            );
        }
        let err = region("region=%FF").unwrap_err();
        assert!(err.starts_with("region: bad percent-encoding"), "{err}");
    }
}
