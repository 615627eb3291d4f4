//! The S3 state backend against moto's S3 (conditional writes are real there: a stale
//! `If-Match` or an `If-None-Match: *` on an existing key answers 412 PreconditionFailed):
//! one object per account with the served first-seen times, no rewrite of unchanged
//! accounts, first-seen times across a restart without local state, a conflicting writer
//! merged, a missing bucket survived, and a corrupt object kept intact while writes are denied,
//! then copied aside and replaced.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::Moto;
use support::s3::{Bucket, Daemon, PREFIX, objects_first_seen, s3_calls, sample, write_config};

/// Each test runs moto and exporters: one at a time keeps 2 cores usable.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

const MGMT: &str = "123456789012";
const WAIT: Duration = Duration::from_secs(90);

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn active_accounts(manifest: &Value) -> Vec<String> {
    let mut a: Vec<String> = manifest["active_accounts"]
        .as_array()
        .expect("active_accounts")
        .iter()
        .map(|v| v.as_str().expect("id").to_string())
        .collect();
    a.sort();
    a
}

fn cycles(metrics: &str) -> f64 {
    sample(
        metrics,
        "ecr_exposure_scans_total",
        &[("account_id", MGMT), ("region", "us-east-1")],
    )
}

#[test]
fn one_object_per_account_unchanged_ones_are_not_rewritten_and_a_restart_keeps_first_seen() {
    let _serial = serial();
    let moto = Moto::start();
    let manifest = moto.seed("demo", &[]);
    let accounts = active_accounts(&manifest);
    let bucket = Bucket {
        moto: &moto,
        name: "exporter-state".into(),
    };
    bucket.create();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&moto, dir.path(), &bucket.name, "1s");

    let first = Daemon::start(&moto, &config, &dir.path().join("log1"), &[]);
    first.wait_ready();
    let served = first.first_seen();
    assert!(!served.is_empty(), "the demo estate has findings");

    // One object per account, holding exactly the served first-seen times.
    let want_keys: Vec<String> = accounts
        .iter()
        .map(|a| format!("{PREFIX}{a}.json"))
        .collect();
    assert_eq!(bucket.keys(PREFIX), want_keys);
    let docs: Vec<Value> = accounts.iter().map(|a| bucket.account(a).1).collect();
    for (doc, account) in docs.iter().zip(&accounts) {
        assert_eq!(doc["version"], 1, "{doc}");
        assert_eq!(doc["account_id"], account.as_str());
        let regions: Vec<&str> = doc["targets"]
            .as_array()
            .expect("targets")
            .iter()
            .map(|t| {
                assert!(t["last_success"].as_i64().is_some(), "{t}");
                t["region"].as_str().expect("region")
            })
            .collect();
        assert_eq!(regions, ["eu-west-1", "us-east-1"], "{doc}");
    }
    assert_eq!(objects_first_seen(&docs), served);

    // Later cycles change nothing: no more writes, and no read of a known account.
    let m = first.metrics();
    let (puts, gets, seen_cycles) = (
        s3_calls(&m, "PutObject"),
        s3_calls(&m, "GetObject"),
        cycles(&m),
    );
    assert_eq!(gets, accounts.len() as f64, "one read per account:\n{m}");
    assert_eq!(
        puts,
        accounts.len() as f64,
        "one write per new object:\n{m}"
    );
    first.wait_for("/metrics", WAIT, |_, b| cycles(b) >= seen_cycles + 2.0);
    let m = first.metrics();
    assert_eq!(
        s3_calls(&m, "PutObject"),
        puts,
        "unchanged accounts rewritten:\n{m}"
    );
    assert_eq!(s3_calls(&m, "GetObject"), gets);
    drop(first); // SIGKILL: no shutdown write

    // A new process with no local state continues the same first-seen times, and counts no
    // opening again.
    std::thread::sleep(Duration::from_millis(1100));
    let second = Daemon::start(&moto, &config, &dir.path().join("log2"), &[]);
    second.wait_ready();
    assert_eq!(second.first_seen(), served);
    let m = second.metrics();
    assert_eq!(
        sample(&m, "ecr_exposure_findings_opened_total", &[]),
        0.0,
        "openings counted again after the restart:\n{m}"
    );
    assert_eq!(s3_calls(&m, "GetObject"), accounts.len() as f64);
    assert_eq!(
        s3_calls(&m, "PutObject"),
        0.0,
        "nothing changed since the last write (last success moved by less than an hour)"
    );
}

#[test]
fn a_conflicting_writer_is_merged_and_counted_and_nothing_is_lost() {
    let _serial = serial();
    let moto = Moto::start();
    moto.seed("demo", &[]);
    let bucket = Bucket {
        moto: &moto,
        name: "exporter-state".into(),
    };
    bucket.create();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&moto, dir.path(), &bucket.name, "1s");
    let daemon = Daemon::start(&moto, &config, &dir.path().join("log"), &[]);
    daemon.wait_ready();

    // Another writer changes the management account's object: it saw web-public 10 days
    // earlier, and holds a finding from an older scan that this replica's scans do not have.
    let (etag, mut doc) = bucket.account(MGMT);
    let findings = doc["findings"].as_array_mut().expect("findings");
    let web = findings
        .iter_mut()
        .find(|f| f["repository"] == "web-public" && f["region"] == "us-east-1")
        .expect("web-public is exposed");
    let earlier = web["first_seen"].as_i64().unwrap() - 864_000;
    web["first_seen"] = earlier.into();
    let mut ghost = web.clone();
    ghost["repository"] = "deleted-long-ago".into();
    findings.push(ghost);
    for t in doc["targets"].as_array_mut().unwrap() {
        t["last_success"] = (t["last_success"].as_i64().unwrap() - 3_600).into();
    }
    bucket.put_if_match(&format!("{PREFIX}{MGMT}.json"), &doc, &etag);

    // A change in that account makes the replica write: its If-Match is stale now.
    let m = daemon.metrics();
    let (puts, gets) = (s3_calls(&m, "PutObject"), s3_calls(&m, "GetObject"));
    support::s3::make_public(&moto, MGMT, "us-east-1", "private-none");
    let m = daemon.wait_for("/metrics", WAIT, |_, b| {
        sample(b, "ecr_exposure_state_write_conflicts_total", &[]) >= 1.0
    });
    assert_eq!(
        sample(&m, "ecr_exposure_state_save_failures_total", &[]),
        0.0,
        "{m}"
    );
    // The conflict costs one re-read and one more write, and only that account is written.
    let m = daemon.wait_for("/metrics", WAIT, |_, b| {
        s3_calls(b, "PutObject") >= puts + 2.0
    });
    assert_eq!(s3_calls(&m, "PutObject"), puts + 2.0, "{m}");
    assert_eq!(s3_calls(&m, "GetObject"), gets + 1.0, "{m}");
    let key = |repo: &str| {
        (
            MGMT.to_string(),
            "us-east-1".to_string(),
            repo.to_string(),
            "public_exposure".to_string(),
        )
    };
    // The merged object: the earlier time kept, the new finding in, the stale one not back.
    let (_, merged) = bucket.account(MGMT);
    let stored = objects_first_seen([&merged]);
    assert_eq!(
        stored.get(&key("web-public")),
        Some(&vec![earlier]),
        "{merged}"
    );
    assert!(stored.contains_key(&key("private-none")), "{merged}");
    assert!(!stored.contains_key(&key("deleted-long-ago")), "{merged}");
    // And the replica serves the merged time too.
    daemon.wait_for("/findings", WAIT, |_, b| {
        support::s3::findings_first_seen(b).contains_key(&key("private-none"))
    });
    let served = daemon.first_seen();
    assert_eq!(served.get(&key("web-public")), Some(&vec![earlier]));
    assert!(!served.contains_key(&key("deleted-long-ago")));
}

#[test]
fn a_missing_bucket_is_counted_the_scan_goes_on_and_the_state_is_written_once_it_exists() {
    let _serial = serial();
    let moto = Moto::start();
    let manifest = moto.seed("demo", &[]);
    let accounts = active_accounts(&manifest);
    let bucket = Bucket {
        moto: &moto,
        name: "created-later".into(),
    };
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&moto, dir.path(), &bucket.name, "1s");
    let daemon = Daemon::start(&moto, &config, &dir.path().join("log"), &[]);
    daemon.wait_ready();

    // Every account's read and write failed: counted, while /metrics serves the findings.
    let m = daemon.metrics();
    let failures = sample(&m, "ecr_exposure_state_save_failures_total", &[]);
    assert!(failures >= 2.0 * accounts.len() as f64, "{m}");
    assert!(
        m.lines()
            .any(|l| l.starts_with("ecr_exposure_repository_exposed{")
                && l.contains("repository=\"web-public\"")),
        "{m}"
    );
    let before = daemon.first_seen();
    assert!(
        daemon
            .log_text()
            .contains("could not write the account's state object")
    );

    // The bucket appears: the next cycle writes every account, with the times kept in memory.
    std::thread::sleep(Duration::from_millis(1100));
    bucket.create();
    let want_keys: Vec<String> = accounts
        .iter()
        .map(|a| format!("{PREFIX}{a}.json"))
        .collect();
    let start = std::time::Instant::now();
    while bucket.keys(PREFIX) != want_keys {
        assert!(
            start.elapsed() < WAIT,
            "objects not written:\n{}",
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let docs: Vec<Value> = accounts.iter().map(|a| bucket.account(a).1).collect();
    assert_eq!(objects_first_seen(&docs), before);
    assert_eq!(daemon.first_seen(), before);
    // And failures stop.
    let settled = sample(
        &daemon.metrics(),
        "ecr_exposure_state_save_failures_total",
        &[],
    );
    let seen = cycles(&daemon.metrics());
    daemon.wait_for("/metrics", WAIT, |_, b| cycles(b) >= seen + 2.0);
    assert_eq!(
        sample(
            &daemon.metrics(),
            "ecr_exposure_state_save_failures_total",
            &[]
        ),
        settled
    );
}

#[test]
fn access_denied_keeps_a_corrupt_object_intact_and_once_allowed_it_is_copied_aside_and_replaced() {
    let _serial = serial();
    let moto = Moto::start();
    let manifest = moto.seed("demo", &[]);
    let accounts = active_accounts(&manifest);
    let bucket = Bucket {
        moto: &moto,
        name: "exporter-state".into(),
    };
    bucket.create();
    let key = format!("{PREFIX}{MGMT}.json");
    let garbage = "{\"version\": 1, \"findings\": [truncated";
    bucket.put_raw(&key, garbage.as_bytes());
    // Every PutObject is refused, as with a role that lacks s3:PutObject.
    moto.fault(
        serde_json::json!({"operation": "PutObject", "error": "AccessDenied", "count": 100000}),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&moto, dir.path(), &bucket.name, "1s");
    let daemon = Daemon::start(&moto, &config, &dir.path().join("log"), &[]);
    daemon.wait_ready();

    // Refused writes are counted as such, the findings are served, and the corrupt object is
    // neither set aside (the copy was refused too) nor overwritten.
    let m = daemon.metrics();
    assert!(
        sample(&m, "ecr_exposure_state_save_failures_total", &[]) >= accounts.len() as f64,
        "{m}"
    );
    assert!(
        sample(
            &m,
            "ecr_exposure_aws_api_request_errors_total",
            &[
                ("service", "s3"),
                ("operation", "PutObject"),
                ("error_code", "access_denied")
            ]
        ) >= 1.0,
        "{m}"
    );
    assert_eq!(
        sample(&m, "ecr_exposure_state_load_failures_total", &[]),
        0.0,
        "{m}"
    );
    let served = daemon.first_seen();
    assert!(served.keys().any(|k| k.0 == MGMT));
    assert_eq!(bucket.get_raw(&key), garbage);
    assert!(daemon.log_text().contains("could not be copied aside"));

    // Allowed again: the corrupt object is copied aside, counted once, and replaced; every
    // account is written with the first-seen times kept in memory meanwhile.
    moto.reset_counts();
    let start = std::time::Instant::now();
    let aside = loop {
        let keys = bucket.keys(PREFIX);
        let aside = keys
            .iter()
            .find(|k| k.starts_with(&format!("{key}.corrupt-")));
        if let Some(aside) = aside.filter(|_| keys.len() == accounts.len() + 1) {
            break aside.clone();
        }
        assert!(start.elapsed() < WAIT, "{keys:?}\n{}", daemon.log_text());
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(bucket.get_raw(&aside), garbage);
    let m = daemon.wait_for("/metrics", WAIT, |_, b| {
        sample(b, "ecr_exposure_state_load_failures_total", &[]) >= 1.0
    });
    assert_eq!(
        sample(&m, "ecr_exposure_state_load_failures_total", &[]),
        1.0
    );
    let docs: Vec<Value> = accounts.iter().map(|a| bucket.account(a).1).collect();
    assert_eq!(objects_first_seen(&docs), served);
    assert!(
        daemon
            .log_text()
            .contains("state object unreadable; copied aside")
    );
}

#[test]
fn a_bucket_that_does_not_answer_costs_one_round_of_timeouts_per_cycle_not_one_per_account() {
    let _serial = serial();
    let moto = Moto::start();
    let n = 40;
    let manifest = moto.seed(
        "bench",
        &[
            "--accounts",
            &n.to_string(),
            "--regions",
            "1",
            "--repos",
            "1",
        ],
    );
    let accounts = active_accounts(&manifest);
    let bucket = Bucket {
        moto: &moto,
        name: "exporter-state".into(),
    };
    bucket.create();
    // Reads of the state hang longer than the read timeout.
    moto.fault(serde_json::json!({"operation": "GetObject", "error": "slow", "delay_ms": 3000, "count": 100000}));
    let dir = tempfile::tempdir().unwrap();
    let statics: String = accounts
        .iter()
        .map(|a| format!("    - id: \"{a}\"\n"))
        .collect();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "aws:\n  endpoint_url: {}\n  region: us-east-1\n  max_attempts: 2\n  initial_backoff: 5ms\n  \
             max_backoff: 50ms\n  read_timeout: 500ms\n  operation_timeout: 5s\n\
             regions: [us-east-1]\naccounts:\n  discovery: static\n  static:\n{statics}\
             scan:\n  interval: 1h\n  timeout: 60s\n\
             state:\n  backend: s3\n  s3:\n    bucket: {}\n",
            moto.endpoint, bucket.name
        ),
    )
    .unwrap();
    let daemon = Daemon::start(&moto, &config, &dir.path().join("log"), &[]);
    daemon.wait_ready();
    let m = daemon.metrics();
    // Every account's state failed, but only the first batch of reads was tried (16 at once,
    // 2 attempts each), and no write was attempted after the bucket went silent.
    assert!(
        sample(&m, "ecr_exposure_state_save_failures_total", &[]) >= n as f64,
        "{m}"
    );
    let counts = moto.counts();
    let reads = counts.get("s3:GetObject").copied().unwrap_or(0);
    assert!(
        (1..=32).contains(&reads),
        "{reads} GetObject requests for {n} accounts: {counts:?}"
    );
    assert_eq!(counts.get("s3:PutObject"), None, "{counts:?}");
    assert!(
        daemon
            .log_text()
            .contains("did not answer an earlier call of this cycle")
    );
}
