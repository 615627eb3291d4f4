//! Exposition tests: exact series for a small snapshot, suppression, negotiation, text format.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::*;
use crate::analysis::policy::Access;
use crate::analysis::{FindingKind, PolicyReport, PolicyState, RepositoryReport, TargetReport};
use crate::facts::{TagsSource, TargetError};
use crate::snapshot::SnapshotCell;
use crate::state::{Clock, ExceptionRule, Exceptions, ManualClock, ScanResult, Tracker};

const T0: i64 = 1_700_000_000;

fn repo(name: &str, public: bool, owner: Option<&str>) -> RepositoryReport {
    let mut tags = BTreeMap::new();
    if let Some(o) = owner {
        tags.insert("owner".to_string(), o.to_string());
    }
    tags.insert("managed-by".to_string(), "terraform".to_string());
    RepositoryReport {
        account_id: "111111111111".into(),
        region: "eu-west-1".into(),
        repository: name.into(),
        arn: format!("arn:aws:ecr:eu-west-1:111111111111:repository/{name}"),
        created_at: None,
        tags,
        tags_source: TagsSource::TaggingApi,
        policy: PolicyReport {
            policy_state: PolicyState::Ok,
            public: Some(public),
            cross_account: Some(false),
            access: Some(if public { Access::Write } else { Access::None }),
            network_restricted: Some(false),
            grants: vec![],
            error: None,
            unknown_reason: None,
        },
        missing_tags: if owner.is_some() {
            vec![]
        } else {
            vec!["owner".into()]
        },
        iac_managed: true,
        managed_by: Some("terraform".into()),
        owner: owner.map(str::to_string),
    }
}

fn target(account: &str) -> crate::facts::TargetId {
    crate::facts::TargetId {
        account_id: account.into(),
        region: "eu-west-1".into(),
    }
}

struct Fixture {
    metrics: Metrics,
    clock: Arc<ManualClock>,
}

fn fixture(exceptions: Vec<ExceptionRule>) -> Fixture {
    let clock = Arc::new(ManualClock::at_unix(T0));
    let exceptions = Arc::new(Exceptions::new(exceptions));
    let mut tracker = Tracker::new(exceptions.clone());
    let changes = tracker.apply_cycle(
        vec![
            ScanResult {
                target: target("111111111111"),
                duration_seconds: 1.5,
                result: Ok(TargetReport {
                    target: target("111111111111"),
                    repositories: vec![
                        repo("pub", true, Some("team-a")),
                        repo("untagged", false, None),
                    ],
                    registry: None,
                }),
            },
            ScanResult {
                target: target("222222222222"),
                duration_seconds: 0.25,
                result: Err(TargetError {
                    code: crate::facts::TargetErrorCode::AccessDenied,
                    message: "no".into(),
                }),
            },
        ],
        clock.now(),
        2.0,
    );
    let cell = Arc::new(SnapshotCell::new(tracker.snapshot()));
    let metrics = Metrics::new(SnapshotCollector {
        cell,
        clock: clock.clone(),
        exceptions,
        required_tags: vec!["owner".into()],
        shard: crate::discovery::ShardSpec::new(1, 3).unwrap(),
        api_stats: Some(Arc::new(|| {
            vec![ApiCallSample {
                service: "ecr".into(),
                operation: "DescribeRepositories".into(),
                requests: 7,
                errors: vec![("throttling".into(), 2)],
            }]
        })),
    });
    metrics.counters().record_cycle(&changes);
    Fixture { metrics, clock }
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#')).collect()
}

#[test]
fn text_format_has_the_contract_series() {
    let f = fixture(vec![]);
    let text = f.metrics.render(Format::Text);
    let l = lines(&text);
    for want in [
        r#"ecr_exposure_repository_exposed{account_id="111111111111",region="eu-west-1",repository="pub",scope="public",access="write"} 1"#,
        r#"ecr_exposure_repository_missing_tag{account_id="111111111111",region="eu-west-1",repository="untagged",tag_key="owner"} 1"#,
        r#"ecr_exposure_finding_first_seen_timestamp_seconds{account_id="111111111111",region="eu-west-1",repository="pub",finding="public_exposure",tag_key=""} 1700000000"#,
        r#"ecr_exposure_repository_info{account_id="111111111111",region="eu-west-1",repository="pub",owner_tag="team-a",managed_by="terraform"} 1"#,
        r#"ecr_exposure_repositories{account_id="111111111111",region="eu-west-1"} 2"#,
        r#"ecr_exposure_exposed_repositories{account_id="111111111111",region="eu-west-1",scope="public"} 1"#,
        r#"ecr_exposure_exposed_repositories{account_id="111111111111",region="eu-west-1",scope="cross_account"} 0"#,
        r#"ecr_exposure_repositories_missing_tag{account_id="111111111111",region="eu-west-1",tag_key="owner"} 1"#,
        r#"ecr_exposure_scan_success{account_id="111111111111",region="eu-west-1"} 1"#,
        r#"ecr_exposure_scan_success{account_id="222222222222",region="eu-west-1"} 0"#,
        r#"ecr_exposure_scan_duration_seconds{account_id="222222222222",region="eu-west-1"} 0.25"#,
        r#"ecr_exposure_scan_last_success_timestamp_seconds{account_id="111111111111",region="eu-west-1"} 1700000000"#,
        r#"ecr_exposure_shard_info{shard="1",total_shards="3"} 1"#,
        r#"ecr_exposure_shard_accounts 2"#,
        r#"ecr_exposure_scan_cycle_duration_seconds 2.0"#,
        r#"ecr_exposure_scans_total{account_id="222222222222",region="eu-west-1"} 1"#,
        r#"ecr_exposure_scan_failures_total{account_id="222222222222",region="eu-west-1"} 1"#,
        r#"ecr_exposure_findings_opened_total{finding="public_exposure"} 1"#,
        r#"ecr_exposure_findings_opened_total{finding="missing_tag"} 1"#,
        r#"ecr_exposure_findings_resolved_total{finding="public_exposure"} 0"#,
        r#"ecr_exposure_scan_cycles_skipped_total 0"#,
        r#"ecr_exposure_aws_api_requests_total{service="ecr",operation="DescribeRepositories"} 7"#,
        r#"ecr_exposure_aws_api_request_errors_total{service="ecr",operation="DescribeRepositories",error_code="throttling"} 2"#,
        r#"ecr_exposure_exceptions{state="active"} 0"#,
    ] {
        assert!(l.contains(&want), "missing line {want}\n--- got:\n{text}");
    }
    assert!(text.contains(&format!(
        r#"ecr_exposure_build_info{{version="{}",revision="{}"}} 1"#,
        crate::VERSION,
        crate::REVISION
    )));
    // The failed target has no findings, so no exposure series for it.
    assert!(!text.contains(r#"ecr_exposure_repository_exposed{account_id="222222222222""#));
    assert!(text.contains("# TYPE ecr_exposure_findings_opened_total counter"));
    assert!(!text.contains("# EOF"));
    assert!(
        l.contains(&r#"ecr_exposure_finding_remediation_seconds_bucket{finding="public_exposure",le="2.592e+06"} 0"#),
        "{text}"
    );
}

#[test]
fn openmetrics_ends_with_eof() {
    let f = fixture(vec![]);
    let om = f.metrics.render(Format::OpenMetrics);
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# TYPE ecr_exposure_findings_opened counter"));
}

#[test]
fn suppressed_finding_moves_from_exposed_to_suppressed_until_expiry() {
    let rule = ExceptionRule {
        account_id: None,
        region: None,
        repository: "pub".into(),
        finding: FindingKind::PublicExposure,
        reason: "accepted".into(),
        expires: OffsetDateTime::from_unix_timestamp(T0 + 60).unwrap(),
    };
    let f = fixture(vec![rule]);
    let text = f.metrics.render(Format::Text);
    assert!(
        !text.contains(r#"ecr_exposure_repository_exposed{"#),
        "{text}"
    );
    assert!(text.contains(r#"ecr_exposure_finding_suppressed{account_id="111111111111",region="eu-west-1",repository="pub",finding="public_exposure",tag_key=""} 1"#));
    assert!(text.contains(r#"ecr_exposure_finding_suppression_expiry_timestamp_seconds{account_id="111111111111",region="eu-west-1",repository="pub",finding="public_exposure",tag_key=""} 1700000060"#));
    assert!(text.contains(r#"ecr_exposure_exposed_repositories{account_id="111111111111",region="eu-west-1",scope="public"} 0"#));
    assert!(!text.contains(r#"ecr_exposure_finding_first_seen_timestamp_seconds{account_id="111111111111",region="eu-west-1",repository="pub""#));

    f.clock.advance(Duration::from_secs(60));
    let text = f.metrics.render(Format::Text);
    assert!(text.contains(r#"ecr_exposure_repository_exposed{account_id="111111111111",region="eu-west-1",repository="pub",scope="public",access="write"} 1"#));
    assert!(!text.contains("ecr_exposure_finding_suppressed{"));
    assert!(text.contains(r#"ecr_exposure_exceptions{state="expired"} 1"#));
    // First seen is the original time, not the expiry.
    assert!(text.contains(r#"ecr_exposure_finding_first_seen_timestamp_seconds{account_id="111111111111",region="eu-west-1",repository="pub",finding="public_exposure",tag_key=""} 1700000000"#));
}

#[test]
fn negotiation() {
    assert_eq!(Format::negotiate(None), Format::Text);
    assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
    assert_eq!(
        Format::negotiate(Some(
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        )),
        Format::OpenMetrics
    );
    assert_eq!(
        Format::negotiate(Some("application/openmetrics-text;q=0")),
        Format::Text
    );
    assert_eq!(Format::negotiate(Some("text/plain")), Format::Text);
}

fn registry(account: &str, policy: PolicyReport) -> TargetReport {
    TargetReport {
        target: target(account),
        repositories: vec![],
        registry: Some(crate::analysis::RegistryReport {
            account_id: account.into(),
            region: "eu-west-1".into(),
            scope: crate::model::RegistryScope::V2,
            scope_known: true,
            policy,
        }),
    }
}

#[test]
fn registry_findings_have_scope_and_reason_labels() {
    let clock = Arc::new(ManualClock::at_unix(T0));
    let exceptions = Arc::new(Exceptions::new(vec![]));
    let mut tracker = Tracker::new(exceptions.clone());
    let exposed = PolicyReport {
        policy_state: PolicyState::Ok,
        public: Some(false),
        cross_account: Some(true),
        access: Some(Access::Read),
        network_restricted: Some(false),
        grants: vec![],
        error: None,
        unknown_reason: None,
    };
    let unknown = PolicyReport {
        policy_state: PolicyState::Unknown,
        public: None,
        cross_account: None,
        access: None,
        network_restricted: None,
        grants: vec![],
        error: None,
        unknown_reason: Some(crate::facts::UnknownReason::Throttled),
    };
    let results = [("111111111111", exposed), ("222222222222", unknown)]
        .into_iter()
        .map(|(account, policy)| ScanResult {
            target: target(account),
            duration_seconds: 1.0,
            result: Ok(registry(account, policy)),
        })
        .collect();
    tracker.apply_cycle(results, clock.now(), 1.0);
    let metrics = Metrics::new(SnapshotCollector {
        cell: Arc::new(SnapshotCell::new(tracker.snapshot())),
        clock,
        exceptions,
        required_tags: vec![],
        api_stats: None,
        shard: crate::discovery::ShardSpec::SINGLE,
    });
    let text = metrics.render(Format::Text);
    let l = lines(&text);
    for want in [
        r#"ecr_exposure_registry_exposed{account_id="111111111111",region="eu-west-1",scope="cross_account",access="read"} 1"#,
        r#"ecr_exposure_registry_policy_unknown{account_id="222222222222",region="eu-west-1",reason="throttled"} 1"#,
    ] {
        assert!(l.contains(&want), "missing {want}\n{text}");
    }
    assert!(
        !text.contains("ecr_exposure_repository_policy_unknown{"),
        "a registry finding is not a repository's: {text}"
    );
}
