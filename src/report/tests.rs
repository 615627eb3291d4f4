//! Exact bytes of one record of each kind, and a differential check against the hand-merged
//! maps these records were built from before (`with_kind` plus inserted lifecycle fields).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::*;
use crate::analysis::{AnalysisSettings, Finding, TargetReport, analyze_target};
use crate::facts::{
    PolicyFetch, RegistryFacts, RepositoryFacts, TagsSource, TargetErrorCode, TargetFacts,
    TargetId, TargetOutcome, UnknownReason,
};
use crate::model::{Access, FindingKey, FindingKind, RegistryScope, Suppression};
use crate::snapshot::{Snapshot, TargetSnapshot};

const ACCOUNT: &str = "111122223333";

fn target() -> TargetId {
    TargetId {
        account_id: ACCOUNT.into(),
        region: "eu-west-1".into(),
    }
}

fn repo(name: &str, policy: PolicyFetch) -> RepositoryFacts {
    RepositoryFacts {
        name: name.into(),
        arn: format!("arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/{name}"),
        created_at: Some("2026-01-02T03:04:05Z".into()),
        tags: BTreeMap::from([("team".to_string(), "web".to_string())]),
        tags_source: TagsSource::TaggingApi,
        policy,
    }
}

const PUBLIC_PULL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}"#;

fn outcome_and_report(with_grant: bool) -> (TargetOutcome, TargetReport) {
    let policy = if with_grant {
        PolicyFetch::Text {
            text: PUBLIC_PULL.into(),
        }
    } else {
        PolicyFetch::None
    };
    let facts = TargetFacts {
        target: target(),
        repositories: vec![repo("app", policy)],
        registry: Some(RegistryFacts {
            policy: PolicyFetch::Unreadable {
                reason: UnknownReason::AccessDenied,
                message: "denied".into(),
            },
            scope: RegistryScope::V2,
            scope_known: false,
        }),
    };
    let settings = AnalysisSettings {
        required_tags: vec!["owner".into()],
        iac_tags: vec!["managed-by".into()],
        ..AnalysisSettings::default()
    };
    let report = analyze_target(&facts, &settings);
    let outcome = TargetOutcome {
        target: target(),
        result: Ok(facts),
        duration_seconds: 1.25,
    };
    (outcome, report)
}

fn failed_outcome() -> TargetOutcome {
    TargetOutcome {
        target: TargetId {
            account_id: "444455556666".into(),
            region: "*".into(),
        },
        result: Err(TargetError {
            code: TargetErrorCode::AssumeRoleFailed,
            message: "sts:AssumeRole arn:aws:iam::444455556666:role/r: denied".into(),
        }),
        duration_seconds: 0.0,
    }
}

#[test]
fn one_record_of_each_kind_exactly() {
    let (outcome, report) = outcome_and_report(false);
    let lines: Vec<String> = records(&scanned(&outcome, Some(&report)))
        .iter()
        .map(Record::to_line)
        .collect();
    assert_eq!(
        lines,
        vec![
            r#"{"access":"none","account_id":"111122223333","arn":"arn:aws:ecr:eu-west-1:111122223333:repository/app","created_at":"2026-01-02T03:04:05Z","cross_account":false,"error":null,"grants":[],"iac_managed":false,"kind":"repository","managed_by":null,"missing_tags":["owner"],"network_restricted":false,"owner":null,"policy_state":"none","public":false,"region":"eu-west-1","repository":"app","tags":{"team":"web"},"tags_source":"tagging_api"}"#
                .to_string(),
            r#"{"access":null,"account_id":"111122223333","cross_account":null,"error":{"code":"access_denied","message":"denied"},"grants":[],"kind":"registry","network_restricted":null,"policy_state":"unknown","public":null,"region":"eu-west-1","scope":"v2","scope_known":false}"#
                .to_string(),
            r#"{"account_id":"111122223333","duration_seconds":1.25,"error":null,"kind":"target","region":"eu-west-1","repositories":1,"status":"ok"}"#
                .to_string(),
        ]
    );
    let failed = failed_outcome();
    assert_eq!(
        Record::Target(TargetRecord::new(&scanned(&failed, None))).to_line(),
        r#"{"account_id":"444455556666","duration_seconds":0.0,"error":{"code":"assume_role_failed","message":"sts:AssumeRole arn:aws:iam::444455556666:role/r: denied"},"kind":"target","region":"*","repositories":0,"status":"failed"}"#
    );
}

/// What the cycle hands on for `outcome`: its report instead of its facts.
fn scanned(outcome: &TargetOutcome, report: Option<&TargetReport>) -> ScanResult {
    ScanResult {
        target: outcome.target.clone(),
        duration_seconds: outcome.duration_seconds,
        result: match (&outcome.result, report) {
            (Ok(_), Some(r)) => Ok(r.clone()),
            (Err(e), _) => Err(e.clone()),
            (Ok(_), None) => unreachable!("a scanned outcome has a report"),
        },
    }
}

/// The records as they were built before `report.rs`: a `kind` key merged into the report's
/// own map, and the target record spelled with `json!`.
fn old_records(outcome: &TargetOutcome, report: Option<&TargetReport>) -> Vec<String> {
    let with_kind = |kind: &str, value: Value| {
        let mut map = Map::new();
        map.insert("kind".into(), Value::String(kind.into()));
        if let Value::Object(fields) = value {
            map.extend(fields);
        }
        Value::Object(map).to_string()
    };
    let mut out = Vec::new();
    if let Some(r) = report {
        for repo in &r.repositories {
            out.push(with_kind("repository", serde_json::to_value(repo).unwrap()));
        }
        if let Some(reg) = &r.registry {
            out.push(with_kind("registry", serde_json::to_value(reg).unwrap()));
        }
    }
    let (status, error, repositories) = match &outcome.result {
        Ok(facts) => ("ok", Value::Null, facts.repositories.len()),
        Err(e) => (
            "failed",
            json!({"code": e.code.as_label(), "message": e.message}),
            0,
        ),
    };
    out.push(
        json!({
            "kind": "target",
            "account_id": outcome.target.account_id,
            "region": outcome.target.region,
            "status": status,
            "error": error,
            "repositories": repositories,
            "duration_seconds": outcome.duration_seconds,
        })
        .to_string(),
    );
    out
}

#[test]
fn records_are_byte_identical_to_the_merged_maps() {
    for with_grant in [false, true] {
        let (outcome, report) = outcome_and_report(with_grant);
        let new: Vec<String> = records(&scanned(&outcome, Some(&report)))
            .iter()
            .map(Record::to_line)
            .collect();
        assert_eq!(new, old_records(&outcome, Some(&report)));
        if with_grant {
            assert!(new[0].contains(r#""public":true"#), "{}", new[0]);
        }
    }
    let failed = failed_outcome();
    let new: Vec<String> = records(&scanned(&failed, None))
        .iter()
        .map(Record::to_line)
        .collect();
    assert_eq!(new, old_records(&failed, None));
}

fn open(repository: &str, kind: FindingKind, detail: &str) -> OpenFinding {
    OpenFinding {
        finding: Finding {
            key: FindingKey {
                account_id: ACCOUNT.into(),
                region: "eu-west-1".into(),
                repository: repository.into(),
                kind,
                detail: detail.into(),
            },
            access: (kind == FindingKind::PublicExposure).then_some(Access::Read),
            reason: (kind == FindingKind::PolicyUnknown).then_some(UnknownReason::AccessDenied),
        },
        first_seen: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        suppression: None,
    }
}

fn snapshot(report: Option<TargetReport>, findings: Vec<OpenFinding>) -> Snapshot {
    let mut t = TargetSnapshot::new(target());
    t.report = report.map(Arc::new);
    t.findings = Arc::new(findings);
    Snapshot {
        targets: BTreeMap::from([(target(), t)]),
        cycle: None,
    }
}

#[test]
fn findings_records_exactly() {
    let now = OffsetDateTime::from_unix_timestamp(1_700_000_100).unwrap();
    let mut tag = open("app", FindingKind::MissingTag, "owner");
    tag.suppression = Some(Suppression {
        expires: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        reason: "legacy".into(),
    });
    let findings = vec![open("", FindingKind::PolicyUnknown, "registry"), tag];
    // Known only from the state file: identity, stale, findings.
    let got = crate::http::findings::render(&snapshot(None, findings), &Default::default(), now);
    assert_eq!(
        got,
        concat!(
            r#"{"account_id":"111122223333","findings":[{"finding":"policy_unknown","first_seen":"2023-11-14T22:13:20Z","reason":"access_denied","suppressed":false}],"kind":"registry","region":"eu-west-1","stale":true}"#,
            "\n",
            r#"{"account_id":"111122223333","findings":[{"finding":"missing_tag","first_seen":"2023-11-14T22:13:20Z","suppressed":true,"suppression_expires":"2027-01-15T08:00:00Z","suppression_reason":"legacy","tag_key":"owner"}],"kind":"repository","region":"eu-west-1","repository":"app","stale":true}"#,
            "\n",
        )
    );
}

#[test]
fn findings_lines_match_the_merged_maps() {
    let now = OffsetDateTime::from_unix_timestamp(1_700_000_100).unwrap();
    let (_, report) = outcome_and_report(true);
    let findings = vec![
        open("", FindingKind::PolicyUnknown, "registry"),
        open("app", FindingKind::PublicExposure, ""),
        open("app", FindingKind::MissingTag, "owner"),
    ];
    let snap = snapshot(Some(report.clone()), findings.clone());
    let got = crate::http::findings::render(&snap, &Default::default(), now);

    // Before: the `scan --once` map with `stale` and `findings` inserted.
    let (outcome, _) = outcome_and_report(true);
    let old = old_records(&outcome, Some(&report));
    let merged = |line: &str, fs: &[&OpenFinding]| {
        let Value::Object(mut map) = serde_json::from_str::<Value>(line).unwrap() else {
            unreachable!()
        };
        map.insert("stale".into(), Value::from(false));
        let outs: Vec<FindingOut<'_>> = fs.iter().map(|f| FindingOut::new(f, now)).collect();
        map.insert("findings".into(), serde_json::to_value(outs).unwrap());
        Value::Object(map).to_string()
    };
    let want = format!(
        "{}\n{}\n",
        merged(&old[1], &[&findings[0]]),
        merged(&old[0], &[&findings[1], &findings[2]])
    );
    assert_eq!(got, want);
}
