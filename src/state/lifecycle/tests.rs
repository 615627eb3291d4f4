//! Lifecycle rules with a fixed clock: open, keep, resolve on success only, failed target keeps,
//! deleted repository resolves, restart restore, exceptions and expiry, forgotten targets.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::*;
use crate::analysis::policy::Access;
use crate::analysis::{FindingKind, PolicyReport, PolicyState, RepositoryReport};
use crate::facts::TagsSource;
use crate::state::clock::{Clock, ManualClock};
use crate::state::exceptions::ExceptionRule;

const ACC: &str = "111111111111";
const REGION: &str = "eu-west-1";

fn target() -> TargetId {
    TargetId {
        account_id: ACC.into(),
        region: REGION.into(),
    }
}

fn policy(public: bool) -> PolicyReport {
    PolicyReport {
        policy_state: PolicyState::Ok,
        public: Some(public),
        cross_account: Some(false),
        access: Some(if public { Access::Read } else { Access::None }),
        network_restricted: Some(false),
        grants: Vec::new(),
        error: None,
        unknown_reason: None,
    }
}

fn repo(name: &str, public: bool, owner: Option<&str>) -> RepositoryReport {
    let mut tags = BTreeMap::new();
    if let Some(o) = owner {
        tags.insert("owner".to_string(), o.to_string());
    }
    RepositoryReport {
        account_id: ACC.into(),
        region: REGION.into(),
        repository: name.into(),
        arn: format!("arn:aws:ecr:{REGION}:{ACC}:repository/{name}"),
        created_at: None,
        tags,
        tags_source: TagsSource::TaggingApi,
        policy: policy(public),
        missing_tags: if owner.is_some() {
            vec![]
        } else {
            vec!["owner".into()]
        },
        iac_managed: false,
        managed_by: None,
        owner: owner.map(str::to_string),
    }
}

fn ok(repos: Vec<RepositoryReport>) -> ScanResult {
    ScanResult {
        target: target(),
        duration_seconds: 0.5,
        result: Ok(TargetReport {
            target: target(),
            repositories: repos,
            registry: None,
        }),
    }
}

fn failed() -> ScanResult {
    ScanResult {
        target: target(),
        duration_seconds: 0.1,
        result: Err(TargetError {
            code: crate::facts::TargetErrorCode::Throttled,
            message: "slow down".into(),
        }),
    }
}

fn key(repo: &str, kind: FindingKind, detail: &str) -> FindingKey {
    FindingKey {
        account_id: ACC.into(),
        region: REGION.into(),
        repository: repo.into(),
        kind,
        detail: detail.into(),
    }
}

fn first_seen(t: &Tracker, k: &FindingKey) -> Option<i64> {
    let snap = t.snapshot();
    snap.targets
        .values()
        .flat_map(|t| t.findings.iter())
        .find(|f| &f.finding.key == k)
        .map(|f| f.first_seen.unix_timestamp())
}

fn tracker() -> Tracker {
    Tracker::new(Arc::new(Exceptions::default()))
}

const T0: i64 = 1_700_000_000;

#[test]
fn new_finding_opens_with_first_seen_now_and_is_kept() {
    let clock = ManualClock::at_unix(T0);
    let mut t = tracker();
    let c = t.apply_cycle(
        vec![ok(vec![repo("app", true, Some("team"))])],
        clock.now(),
        1.0,
    );
    let public = key("app", FindingKind::PublicExposure, "");
    assert_eq!(c.opened, vec![public.clone()]);
    assert!(c.resolved.is_empty());
    clock.advance(Duration::from_secs(900));
    let c = t.apply_cycle(
        vec![ok(vec![repo("app", true, Some("team"))])],
        clock.now(),
        1.0,
    );
    assert!(c.opened.is_empty(), "a kept finding is not opened again");
    assert_eq!(first_seen(&t, &public), Some(T0));
}

#[test]
fn successful_scan_resolves_with_remediation_time() {
    let clock = ManualClock::at_unix(T0);
    let mut t = tracker();
    t.apply_cycle(vec![ok(vec![repo("app", true, None)])], clock.now(), 1.0);
    clock.advance(Duration::from_secs(3600));
    let c = t.apply_cycle(vec![ok(vec![repo("app", false, None)])], clock.now(), 1.0);
    assert_eq!(
        c.resolved,
        vec![(key("app", FindingKind::PublicExposure, ""), 3600.0)]
    );
    // The missing tag finding stays open.
    assert_eq!(
        first_seen(&t, &key("app", FindingKind::MissingTag, "owner")),
        Some(T0)
    );
}

#[test]
fn failed_scan_keeps_findings_and_first_seen() {
    let clock = ManualClock::at_unix(T0);
    let mut t = tracker();
    t.apply_cycle(vec![ok(vec![repo("app", true, None)])], clock.now(), 1.0);
    clock.advance(Duration::from_secs(60));
    let c = t.apply_cycle(vec![failed()], clock.now(), 1.0);
    assert!(c.resolved.is_empty() && c.opened.is_empty());
    let snap = t.snapshot();
    let ts = &snap.targets[&target()];
    assert_eq!(ts.findings.len(), 2);
    assert!(ts.is_stale());
    let scan = ts.scan.as_ref().unwrap();
    assert!(!scan.success);
    assert_eq!(ts.last_success.unwrap().unix_timestamp(), T0);
    assert!(
        ts.report.is_some(),
        "last good report is kept for inventory"
    );
    clock.advance(Duration::from_secs(60));
    t.apply_cycle(vec![ok(vec![repo("app", true, None)])], clock.now(), 1.0);
    assert_eq!(
        first_seen(&t, &key("app", FindingKind::PublicExposure, "")),
        Some(T0)
    );
}

#[test]
fn deleted_repository_resolves_its_findings() {
    let clock = ManualClock::at_unix(T0);
    let mut t = tracker();
    t.apply_cycle(
        vec![ok(vec![
            repo("app", true, None),
            repo("keep", false, Some("x")),
        ])],
        clock.now(),
        1.0,
    );
    clock.advance(Duration::from_secs(10));
    let c = t.apply_cycle(
        vec![ok(vec![repo("keep", false, Some("x"))])],
        clock.now(),
        1.0,
    );
    let mut kinds: Vec<_> = c.resolved.iter().map(|(k, _)| k.kind).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec![FindingKind::PublicExposure, FindingKind::MissingTag]
    );
    assert_eq!(t.open_findings(), 0);
}

#[test]
fn restart_restores_first_seen_and_does_not_reopen() {
    let clock = ManualClock::at_unix(T0);
    let mut t = tracker();
    t.apply_cycle(vec![ok(vec![repo("app", true, None)])], clock.now(), 1.0);
    let state = t.to_state(clock.now());
    // Round-trip through JSON as the daemon does.
    let state: StateFile = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();

    clock.advance(Duration::from_secs(7200));
    let mut restarted = tracker();
    restarted.restore(state);
    // Before any scan, the restored findings are exported.
    assert_eq!(restarted.open_findings(), 2);
    assert!(restarted.snapshot().targets[&target()].scan.is_none());
    // A failed first scan keeps them.
    let c = restarted.apply_cycle(vec![failed()], clock.now(), 1.0);
    assert!(c.resolved.is_empty());
    let c = restarted.apply_cycle(vec![ok(vec![repo("app", true, None)])], clock.now(), 1.0);
    assert!(
        c.opened.is_empty(),
        "no double-counted opening after restart"
    );
    assert_eq!(
        first_seen(&restarted, &key("app", FindingKind::PublicExposure, "")),
        Some(T0)
    );
}

/// The owner of a repository with findings survives a restart: until the first successful
/// scan, `repository_info` shows the saved tags (alerts keep their `owner_tag` label); a
/// failed first scan keeps them, and a successful one replaces them with the scan's inventory.
#[test]
fn restart_keeps_the_repository_info_of_open_findings_until_scanned() {
    let clock = ManualClock::at_unix(T0);
    let mut t = tracker();
    let mut managed = repo("app", true, Some("team-payments"));
    managed.managed_by = Some("terraform".into());
    t.apply_cycle(
        vec![ok(vec![managed, repo("clean", false, Some("team-web"))])],
        clock.now(),
        1.0,
    );
    let state = t.to_state(clock.now());
    let json = serde_json::to_string(&state).unwrap();
    // Only repositories with findings are kept, once per finding.
    assert!(
        json.contains(
            r#""repository_info":{"owner_tag":"team-payments","managed_by":"terraform"}"#
        ),
        "{json}"
    );
    assert!(!json.contains("team-web"), "{json}");
    let state: StateFile = serde_json::from_str(&json).unwrap();

    let names = |t: &Tracker| -> Vec<(String, Option<String>, Option<String>)> {
        t.snapshot().targets[&target()]
            .repository_info()
            .iter()
            .map(|r| {
                (
                    r.repository.to_string(),
                    r.owner.as_deref().map(String::from),
                    r.managed_by.as_deref().map(String::from),
                )
            })
            .collect()
    };
    let mut restarted = tracker();
    restarted.restore(state.clone());
    let saved = vec![(
        "app".to_string(),
        Some("team-payments".to_string()),
        Some("terraform".to_string()),
    )];
    assert_eq!(names(&restarted), saved);
    restarted.apply_cycle(vec![failed()], clock.now(), 1.0);
    assert_eq!(names(&restarted), saved, "a failed first scan keeps them");
    // Saved again before any successful scan (a second restart), they are still there.
    assert_eq!(restarted.to_state(clock.now()).findings, state.findings);
    restarted.apply_cycle(
        vec![ok(vec![
            repo("app", true, Some("team-new")),
            repo("clean", false, None),
        ])],
        clock.now(),
        1.0,
    );
    assert_eq!(
        names(&restarted),
        vec![
            ("app".to_string(), Some("team-new".to_string()), None),
            ("clean".to_string(), None, None)
        ]
    );
}

#[test]
fn first_seen_is_whole_seconds_so_restarts_export_the_same_value() {
    let clock = ManualClock::new(
        OffsetDateTime::from_unix_timestamp(T0).unwrap() + Duration::from_millis(750),
    );
    let mut t = tracker();
    t.apply_cycle(
        vec![ok(vec![repo("app", true, Some("o"))])],
        clock.now(),
        1.0,
    );
    let snap = t.snapshot();
    let f = &snap.targets[&target()].findings[0];
    assert_eq!(f.first_seen.nanosecond(), 0);
    assert_eq!(f.first_seen.unix_timestamp(), T0);
}

#[test]
fn exception_suppresses_until_expiry() {
    let clock = ManualClock::at_unix(T0);
    let rule = ExceptionRule {
        account_id: Some(ACC.parse().unwrap()),
        region: None,
        repository: "pub*".into(),
        finding: FindingKind::PublicExposure,
        reason: "public base images".into(),
        expires: OffsetDateTime::from_unix_timestamp(T0 + 100).unwrap(),
    };
    let mut t = Tracker::new(Arc::new(Exceptions::new(vec![rule])));
    let c = t.apply_cycle(
        vec![ok(vec![
            repo("public-base", true, Some("o")),
            repo("app", true, Some("o")),
        ])],
        clock.now(),
        1.0,
    );
    assert_eq!(c.opened.len(), 2, "suppressed findings are still tracked");
    let snap = t.snapshot();
    let findings = &snap.targets[&target()].findings;
    let by_repo = |r: &str| {
        findings
            .iter()
            .find(|f| f.finding.key.repository == r)
            .unwrap()
    };
    assert!(by_repo("public-base").suppressed_at(clock.now()).is_some());
    assert!(by_repo("app").suppressed_at(clock.now()).is_none());
    clock.advance(Duration::from_secs(100));
    assert!(by_repo("public-base").suppressed_at(clock.now()).is_none());
    let expired = t.exceptions().take_newly_expired(clock.now());
    assert_eq!(expired.len(), 1);
    assert!(t.exceptions().take_newly_expired(clock.now()).is_empty());
}

#[test]
fn target_missing_from_discovery_is_stale_then_forgotten_not_resolved() {
    let clock = ManualClock::at_unix(T0);
    let mut t = tracker().with_forget_after(2);
    t.apply_cycle(vec![ok(vec![repo("app", true, None)])], clock.now(), 1.0);
    let other = TargetId {
        account_id: "222222222222".into(),
        region: REGION.into(),
    };
    let other_ok = || ScanResult {
        target: other.clone(),
        duration_seconds: 0.1,
        result: Ok(TargetReport {
            target: other.clone(),
            repositories: vec![],
            registry: None,
        }),
    };
    for _ in 0..2 {
        let c = t.apply_cycle(vec![other_ok()], clock.now(), 1.0);
        assert!(c.resolved.is_empty() && c.forgotten.is_empty());
        assert!(t.snapshot().targets[&target()].is_stale());
    }
    let c = t.apply_cycle(vec![other_ok()], clock.now(), 1.0);
    assert!(c.resolved.is_empty());
    assert_eq!(c.forgotten.len(), 2);
    assert!(!t.snapshot().targets.contains_key(&target()));
}

#[test]
fn empty_discovery_ages_nothing() {
    let clock = ManualClock::at_unix(T0);
    let mut t = tracker().with_forget_after(0);
    t.apply_cycle(vec![ok(vec![repo("app", true, None)])], clock.now(), 1.0);
    let c = t.apply_cycle(vec![], clock.now(), 1.0);
    assert!(c.forgotten.is_empty());
    assert_eq!(t.open_findings(), 2);
}

#[test]
fn failed_discovery_ages_nothing_and_empty_absent_targets_go_at_once() {
    let clock = ManualClock::at_unix(T0);
    let mut t = tracker().with_forget_after(0);
    t.apply_cycle(vec![ok(vec![repo("app", true, None)])], clock.now(), 1.0);
    // Discovery failed: one failed pseudo-target.
    let pseudo = TargetId {
        account_id: "*".into(),
        region: "*".into(),
    };
    let c = t.apply_cycle(
        vec![ScanResult {
            target: pseudo.clone(),
            duration_seconds: 0.1,
            result: Err(TargetError {
                code: crate::facts::TargetErrorCode::AccessDenied,
                message: "organizations".into(),
            }),
        }],
        clock.now(),
        1.0,
    );
    assert!(c.forgotten.is_empty());
    assert_eq!(t.open_findings(), 2);
    assert!(t.snapshot().targets.contains_key(&pseudo));
    // Discovery recovers: the pseudo-target (no findings) disappears at once.
    t.apply_cycle(vec![ok(vec![repo("app", true, None)])], clock.now(), 1.0);
    assert!(!t.snapshot().targets.contains_key(&pseudo));
    assert_eq!(t.open_findings(), 2);
}

#[test]
fn snapshot_keeps_full_reports_only_for_repositories_with_findings() {
    let clock = ManualClock::at_unix(T0);
    let mut t = tracker();
    t.apply_cycle(
        vec![ok(vec![
            repo("exposed", true, Some("o")),
            repo("clean", false, Some("o")),
        ])],
        clock.now(),
        1.0,
    );
    let snap = t.snapshot();
    let ts = &snap.targets[&target()];
    let names: Vec<&str> = ts
        .report
        .as_ref()
        .unwrap()
        .repositories
        .iter()
        .map(|r| r.repository.as_str())
        .collect();
    assert_eq!(names, vec!["exposed"]);
    let inventory: Vec<&str> = ts
        .inventory
        .as_ref()
        .unwrap()
        .iter()
        .map(|r| &*r.repository)
        .collect();
    assert_eq!(inventory, vec!["exposed", "clean"]);
    assert_eq!(
        ts.inventory.as_ref().unwrap()[1].owner.as_deref(),
        Some("o")
    );
}

/// Event-driven rescans patch one part of the last good report and go through the same
/// finding rules as a scan.
mod rescans {
    use super::*;

    fn repo_part(name: &str, report: Option<RepositoryReport>) -> Rescanned {
        Rescanned {
            target: target(),
            part: RescanPart::Repository {
                name: name.into(),
                report: report.map(Box::new),
            },
        }
    }

    fn inventory(t: &Tracker) -> Vec<String> {
        let snap = t.snapshot();
        snap.targets[&target()]
            .inventory
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|r| r.repository.to_string())
            .collect()
    }

    #[test]
    fn a_repository_made_public_opens_once_and_a_duplicate_changes_nothing() {
        let clock = ManualClock::at_unix(T0);
        let mut t = tracker();
        t.apply_cycle(
            vec![ok(vec![
                repo("app", false, Some("o")),
                repo("other", true, Some("o")),
            ])],
            clock.now(),
            1.0,
        );
        clock.advance(Duration::from_secs(30));
        let c = t
            .apply_rescan(
                repo_part("app", Some(repo("app", true, Some("o")))),
                clock.now(),
            )
            .unwrap();
        let public = key("app", FindingKind::PublicExposure, "");
        assert_eq!(c.opened, vec![public.clone()]);
        assert!(c.resolved.is_empty() && c.scans.is_empty());
        assert_eq!(first_seen(&t, &public), Some(T0 + 30));
        // The other repository's finding is untouched.
        let other = key("other", FindingKind::PublicExposure, "");
        assert_eq!(first_seen(&t, &other), Some(T0));
        // A duplicate (or a redelivery) of the same event: nothing opens again.
        clock.advance(Duration::from_secs(30));
        let c = t
            .apply_rescan(
                repo_part("app", Some(repo("app", true, Some("o")))),
                clock.now(),
            )
            .unwrap();
        assert_eq!(c, CycleChanges::default());
        assert_eq!(first_seen(&t, &public), Some(T0 + 30));
        // The next full scan that sees the same keeps the event's first-seen time.
        let c = t.apply_cycle(
            vec![ok(vec![
                repo("app", true, Some("o")),
                repo("other", true, Some("o")),
            ])],
            clock.now(),
            1.0,
        );
        assert!(c.opened.is_empty() && c.resolved.is_empty());
        assert_eq!(first_seen(&t, &public), Some(T0 + 30));
    }

    #[test]
    fn a_deleted_repository_resolves_and_leaves_the_inventory() {
        let clock = ManualClock::at_unix(T0);
        let mut t = tracker();
        t.apply_cycle(
            vec![ok(vec![
                repo("app", true, None),
                repo("clean", false, Some("o")),
            ])],
            clock.now(),
            1.0,
        );
        clock.advance(Duration::from_secs(60));
        let c = t.apply_rescan(repo_part("app", None), clock.now()).unwrap();
        let mut resolved: Vec<FindingKey> = c.resolved.iter().map(|(k, _)| k.clone()).collect();
        resolved.sort();
        assert_eq!(
            resolved,
            vec![
                key("app", FindingKind::PublicExposure, ""),
                key("app", FindingKind::MissingTag, "owner"),
            ]
        );
        assert!(c.resolved.iter().all(|(_, s)| *s == 60.0));
        assert_eq!(inventory(&t), vec!["clean"]);
        let snap = t.snapshot();
        assert!(snap.targets[&target()].findings.is_empty());
        // A created repository joins the inventory; a clean one adds no finding.
        let c = t
            .apply_rescan(
                repo_part("new", Some(repo("new", false, Some("o")))),
                clock.now(),
            )
            .unwrap();
        assert_eq!(c, CycleChanges::default());
        assert_eq!(inventory(&t), vec!["clean", "new"]);
    }

    #[test]
    fn exceptions_cover_findings_opened_by_a_rescan() {
        let rule = ExceptionRule {
            account_id: None,
            region: None,
            repository: "app".into(),
            finding: FindingKind::PublicExposure,
            reason: "accepted".into(),
            expires: OffsetDateTime::from_unix_timestamp(T0 + 1000).unwrap(),
        };
        let clock = ManualClock::at_unix(T0);
        let mut t = Tracker::new(Arc::new(Exceptions::new(vec![rule])));
        t.apply_cycle(
            vec![ok(vec![repo("app", false, Some("o"))])],
            clock.now(),
            1.0,
        );
        t.apply_rescan(
            repo_part("app", Some(repo("app", true, Some("o")))),
            clock.now(),
        )
        .unwrap();
        let snap = t.snapshot();
        let f = &snap.targets[&target()].findings[0];
        assert_eq!(f.finding.key, key("app", FindingKind::PublicExposure, ""));
        assert!(f.suppressed_at(clock.now()).is_some());
    }

    #[test]
    fn without_a_good_scan_only_a_whole_target_rescan_applies() {
        let clock = ManualClock::at_unix(T0);
        let mut t = tracker();
        let part = || repo_part("app", Some(repo("app", true, Some("o"))));
        // Never scanned.
        assert!(!t.has_baseline(&target()));
        assert_eq!(
            t.apply_rescan(part(), clock.now()),
            Err(RescanRefused::NoBaseline)
        );
        // Last scan failed: its stale findings are not patched either.
        t.apply_cycle(
            vec![ok(vec![repo("app", false, Some("o"))])],
            clock.now(),
            1.0,
        );
        t.apply_cycle(vec![failed()], clock.now(), 1.0);
        assert!(!t.has_baseline(&target()));
        assert_eq!(
            t.apply_rescan(part(), clock.now()),
            Err(RescanRefused::NoBaseline)
        );
        // A whole-target rescan applies as a scan of that target.
        let whole = Rescanned {
            target: target(),
            part: RescanPart::Target {
                report: Box::new(TargetReport {
                    target: target(),
                    repositories: vec![repo("app", true, Some("o"))],
                    registry: None,
                }),
                duration_seconds: 0.2,
            },
        };
        let c = t.apply_rescan(whole, clock.now()).unwrap();
        assert_eq!(c.opened, vec![key("app", FindingKind::PublicExposure, "")]);
        assert!(t.has_baseline(&target()));
        let snap = t.snapshot();
        assert!(snap.targets[&target()].scan.as_ref().unwrap().success);
    }

    #[test]
    fn patching_a_full_report_replaces_adds_and_removes() {
        let mut report = TargetReport {
            target: target(),
            repositories: vec![repo("a", false, None), repo("b", false, None)],
            registry: None,
        };
        repo_part("a", Some(repo("a", true, None)))
            .part
            .patch(&mut report);
        assert_eq!(report.repositories[0].policy.public, Some(true));
        repo_part("b", None).part.patch(&mut report);
        repo_part("c", Some(repo("c", false, None)))
            .part
            .patch(&mut report);
        let names: Vec<&str> = report
            .repositories
            .iter()
            .map(|r| r.repository.as_str())
            .collect();
        assert_eq!(names, ["a", "c"]);
    }
}
