use std::time::Duration;

use super::*;
use crate::analysis::FindingKind;
use crate::model::Access;

const A: &str = "111111111111";

fn key(region: &str, repo: &str) -> FindingKey {
    FindingKey {
        account_id: A.into(),
        region: region.into(),
        repository: repo.into(),
        kind: FindingKind::PublicExposure,
        detail: String::new(),
    }
}

fn finding(region: &str, repo: &str, first_seen: i64) -> PersistedFinding {
    PersistedFinding {
        key: key(region, repo),
        first_seen,
        access: Some(Access::Read),
        reason: None,
        repository_info: None,
    }
}

fn target(region: &str, last_success: Option<i64>) -> PersistedTarget {
    PersistedTarget {
        target: TargetId {
            account_id: A.into(),
            region: region.into(),
        },
        last_success,
    }
}

fn doc(findings: Vec<PersistedFinding>, targets: Vec<PersistedTarget>) -> AccountState {
    let mut d = AccountState {
        version: ACCOUNT_STATE_VERSION,
        account_id: A.into(),
        written_at: 5_000,
        findings,
        targets,
    };
    d.normalize();
    d
}

fn first_seen(d: &AccountState, region: &str, repo: &str) -> Option<i64> {
    d.findings
        .iter()
        .find(|f| f.key == key(region, repo))
        .map(|f| f.first_seen)
}

#[test]
fn the_earliest_first_seen_wins_for_the_same_finding() {
    let mine = doc(
        vec![finding("eu-west-1", "app", 2_000)],
        vec![target("eu-west-1", Some(3_000))],
    );
    let theirs = doc(
        vec![finding("eu-west-1", "app", 1_000)],
        vec![target("eu-west-1", Some(2_500))],
    );
    let m = merge(&mine, &theirs);
    assert_eq!(first_seen(&m, "eu-west-1", "app"), Some(1_000));
    assert_eq!(m.targets, vec![target("eu-west-1", Some(3_000))]);
    // Symmetric for the time, whoever writes.
    assert_eq!(
        first_seen(&merge(&theirs, &mine), "eu-west-1", "app"),
        Some(1_000)
    );
}

#[test]
fn a_finding_the_newer_scan_resolved_is_not_resurrected() {
    // We scanned at 3000 and no longer see "old"; the other copy is from a scan at 2000.
    let mine = doc(
        vec![finding("eu-west-1", "app", 2_000)],
        vec![target("eu-west-1", Some(3_000))],
    );
    let theirs = doc(
        vec![
            finding("eu-west-1", "app", 1_500),
            finding("eu-west-1", "old", 1_000),
        ],
        vec![target("eu-west-1", Some(2_000))],
    );
    let m = merge(&mine, &theirs);
    assert_eq!(first_seen(&m, "eu-west-1", "old"), None, "{m:?}");
    assert_eq!(first_seen(&m, "eu-west-1", "app"), Some(1_500));
}

#[test]
fn a_newer_scan_by_the_other_writer_decides_the_open_set() {
    // Another replica scanned after us and sees a new finding and not our "gone".
    let mine = doc(
        vec![finding("eu-west-1", "gone", 1_000)],
        vec![target("eu-west-1", Some(2_000))],
    );
    let theirs = doc(
        vec![finding("eu-west-1", "new", 2_900)],
        vec![target("eu-west-1", Some(3_000))],
    );
    let m = merge(&mine, &theirs);
    assert_eq!(first_seen(&m, "eu-west-1", "new"), Some(2_900));
    assert_eq!(first_seen(&m, "eu-west-1", "gone"), None);
    assert_eq!(m.targets, vec![target("eu-west-1", Some(3_000))]);
}

#[test]
fn a_tie_or_no_scan_keeps_the_writers_set() {
    let mine = doc(
        vec![finding("eu-west-1", "a", 1_000)],
        vec![target("eu-west-1", None)],
    );
    let theirs = doc(
        vec![finding("eu-west-1", "b", 1_000)],
        vec![target("eu-west-1", None)],
    );
    let m = merge(&mine, &theirs);
    assert_eq!(m.findings, vec![finding("eu-west-1", "a", 1_000)]);
}

#[test]
fn targets_only_one_side_knows_are_kept() {
    let mine = doc(
        vec![finding("eu-west-1", "a", 1_000)],
        vec![target("eu-west-1", Some(3_000))],
    );
    let theirs = doc(
        vec![finding("us-east-1", "b", 900)],
        vec![target("us-east-1", Some(2_000))],
    );
    let m = merge(&mine, &theirs);
    assert_eq!(first_seen(&m, "eu-west-1", "a"), Some(1_000));
    assert_eq!(first_seen(&m, "us-east-1", "b"), Some(900));
    assert_eq!(
        m.targets,
        vec![
            target("eu-west-1", Some(3_000)),
            target("us-east-1", Some(2_000))
        ]
    );
}

#[test]
fn merging_never_loses_a_first_seen_time_of_a_kept_finding() {
    // Exhaustive over small cases: every finding in the result carries the minimum of the
    // first-seen times both sides have for it, and comes from the side with the newer scan.
    let times = [None, Some(1_000), Some(2_000)];
    for mine_scan in times {
        for theirs_scan in times {
            for (fm, ft) in [(1_500, 1_200), (1_200, 1_500)] {
                let mine = doc(
                    vec![finding("r", "x", fm), finding("r", "only-mine", 10)],
                    vec![target("r", mine_scan)],
                );
                let theirs = doc(
                    vec![finding("r", "x", ft), finding("r", "only-theirs", 20)],
                    vec![target("r", theirs_scan)],
                );
                let m = merge(&mine, &theirs);
                assert_eq!(first_seen(&m, "r", "x"), Some(fm.min(ft)));
                let theirs_newer = theirs_scan > mine_scan;
                assert_eq!(first_seen(&m, "r", "only-theirs").is_some(), theirs_newer);
                assert_eq!(first_seen(&m, "r", "only-mine").is_some(), !theirs_newer);
                assert_eq!(m.targets[0].last_success, mine_scan.max(theirs_scan));
            }
        }
    }
}

#[test]
fn split_groups_by_account_and_round_trips() {
    let other = "222222222222";
    let mut f2 = finding("eu-west-1", "b", 7);
    f2.key.account_id = other.into();
    let mut t2 = target("eu-west-1", Some(8));
    t2.target.account_id = other.into();
    let state = StateFile {
        version: STATE_VERSION,
        written_at: 9,
        findings: vec![finding("eu-west-1", "a", 1), f2.clone()],
        targets: vec![target("eu-west-1", Some(2)), t2.clone()],
    };
    let docs = split(state);
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[other].findings, vec![f2]);
    assert_eq!(docs[other].targets, vec![t2]);
    let bytes = docs[A].to_bytes();
    assert_eq!(AccountState::parse(&bytes, A).unwrap(), docs[A]);
}

#[test]
fn parse_refuses_other_versions_and_other_accounts() {
    let mut d = doc(vec![finding("r", "x", 1)], vec![target("r", Some(2))]);
    assert!(
        AccountState::parse(&d.to_bytes(), "222222222222")
            .unwrap_err()
            .contains("another account")
    );
    d.version = 2;
    assert!(
        AccountState::parse(&d.to_bytes(), A)
            .unwrap_err()
            .contains("version 2")
    );
    assert!(
        AccountState::parse(b"{not json", A)
            .unwrap_err()
            .contains("parse")
    );
}

#[test]
fn last_success_alone_is_a_change_only_after_the_refresh_time() {
    let refresh = Duration::from_secs(3_600);
    let stored = doc(vec![finding("r", "x", 1)], vec![target("r", Some(10_000))]);
    let later = doc(vec![finding("r", "x", 1)], vec![target("r", Some(10_900))]);
    assert!(!stored.fingerprint().differs(&later, refresh));
    let much_later = doc(vec![finding("r", "x", 1)], vec![target("r", Some(13_600))]);
    assert!(stored.fingerprint().differs(&much_later, refresh));
    let first_scan = doc(vec![finding("r", "x", 1)], vec![target("r", None)]);
    assert!(first_scan.fingerprint().differs(&stored, refresh));
    let new_finding = doc(
        vec![finding("r", "x", 1), finding("r", "y", 2)],
        vec![target("r", Some(10_000))],
    );
    assert!(stored.fingerprint().differs(&new_finding, refresh));
    let earlier = doc(vec![finding("r", "x", 0)], vec![target("r", Some(10_000))]);
    assert!(
        stored.fingerprint().differs(&earlier, refresh),
        "a first-seen time changed"
    );
    let written_later = AccountState {
        written_at: 99_999,
        ..stored.clone()
    };
    assert!(!stored.fingerprint().differs(&written_later, refresh));
}
