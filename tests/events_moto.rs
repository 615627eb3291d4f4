//! Event-driven detection against the moto wrapper: moto's EventBridge `PutEvents` delivers
//! ECR's CloudTrail events through a rule into an SQS queue (the message body is the event, as
//! EventBridge sends it), and the exporter, with full scans an hour apart, shows the change on
//! /metrics and /findings within seconds. Also: a duplicate event, an unknown account, a
//! malformed body, a repository deleted before its event is read, SQS errors while scans go
//! on, and kill -9 between the rescan and the delete (redelivered, nothing counted twice).

mod daemon_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use daemon_support::*;

/// Each test runs moto and the exporter; one at a time keeps 2 cores usable.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const READY: Duration = Duration::from_secs(90);
/// What "within seconds" means here, with a 1 s long poll (the shipped default is 20 s, which
/// only delays empty polls: a message ends a long poll at once).
const SOON: Duration = Duration::from_secs(15);

/// Queue, rule and repositories; the queue's URL.
fn setup(moto: &Moto, queue: &str, repos: &[&str]) -> String {
    let mut args = vec!["setup", "--queue", queue];
    for r in repos {
        args.extend(["--repo", r]);
    }
    let out: serde_json::Value = serde_json::from_str(&moto.events_fixture(&args)).unwrap();
    out["queue_url"].as_str().unwrap().to_string()
}

fn put_event(moto: &Moto, name: &str, repo: &str, account: &str) {
    moto.events_fixture(&[
        "put-event",
        "--name",
        name,
        "--repo",
        repo,
        "--account",
        account,
    ]);
}

fn depth(moto: &Moto, queue_url: &str) -> u64 {
    moto.events_fixture(&["depth", "--queue-url", queue_url])
        .parse()
        .unwrap()
}

/// POST a control request to the wrapper (faults, counts).
async fn control(moto: &Moto, path: &str, body: serde_json::Value) -> serde_json::Value {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", moto.endpoint()))
        .json(&body)
        .send()
        .await
        .unwrap();
    r.json().await.unwrap_or(serde_json::Value::Null)
}

fn config(dir: &Path, endpoint: &str, state: &Path, interval: &str, queue_url: &str) -> PathBuf {
    let path = dir.join("config.yaml");
    let text = format!(
        r#"aws:
  endpoint_url: "{endpoint}"
  region: us-east-1
  max_attempts: 2
  initial_backoff: 10ms
  max_backoff: 50ms
  connect_timeout: 2s
  read_timeout: 10s
  operation_timeout: 20s
regions: [us-east-1]
accounts:
  discovery: current
tags:
  required: [owner]
scan:
  interval: {interval}
  jitter: 0s
  timeout: 60s
state:
  path: "{state}"
events:
  sqs_queue_url: "{queue_url}"
  wait_time: 1s
  visibility_timeout: 2s
  max_receives: 5
"#,
        state = state.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The value of the one sample line that starts with `prefix` (0 when absent).
fn sample(body: &str, prefix: &str) -> f64 {
    body.lines()
        .find(|l| l.starts_with(prefix))
        .map(value)
        .unwrap_or(0.0)
}

fn exposed(repo: &str) -> [(&str, &str); 4] {
    [
        ("account_id", MGMT),
        ("region", "us-east-1"),
        ("repository", repo),
        ("scope", "public"),
    ]
}

const OPENED: &str = "ecr_exposure_findings_opened_total{finding=\"public_exposure\"}";
const RESOLVED: &str = "ecr_exposure_findings_resolved_total{finding=\"public_exposure\"}";
const RESCANS_OK: &str = "ecr_exposure_event_rescans_total{result=\"ok\"}";
const SCANS: &str = "ecr_exposure_scans_total{account_id=\"123456789012\",region=\"us-east-1\"}";

/// Start the exporter and wait for its first scan and a first successful receive.
async fn start(client: &reqwest::Client, config: &Path, log: &Path) -> (Exporter, String) {
    let exp = Exporter::start(config, free_port(), log, &[]);
    wait_for(client, &exp.url("/-/ready"), READY, &exp, |s, _| s == 200).await;
    let body = wait_for(client, &exp.url("/metrics"), READY, &exp, |_, b| {
        b.contains("ecr_exposure_event_queue_last_receive_timestamp_seconds ")
    })
    .await;
    (exp, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_made_public_shows_within_seconds_of_its_event() {
    let _serial = SERIAL.lock().await;
    let moto = Moto::start();
    let queue = setup(&moto, "ecr-events", &["app", "old=public"]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &moto.endpoint(),
        &dir.path().join("state.json"),
        "1h",
        &queue,
    );
    let client = reqwest::Client::new();
    let (exp, body) = start(&client, &cfg, &dir.path().join("log")).await;
    // The first full scan saw old's exposure; nothing is known of app yet.
    assert!(series(&body, "ecr_exposure_repository_exposed", &exposed("old")).is_some());
    assert!(series(&body, "ecr_exposure_repository_exposed", &exposed("app")).is_none());
    assert_eq!(sample(&body, OPENED), 1.0);
    // No series before the first event (the EventsNotDelivered alert relies on it).
    assert!(
        !body.contains("ecr_exposure_events_received_total{"),
        "{body}"
    );

    // app is made public; its CloudTrail event goes through EventBridge into the queue.
    moto.events_fixture(&["set-policy", "--repo", "app", "public"]);
    let sent = Instant::now();
    put_event(&moto, "SetRepositoryPolicy", "app", MGMT);
    let body = wait_for(&client, &exp.url("/metrics"), SOON, &exp, |_, b| {
        series(b, "ecr_exposure_repository_exposed", &exposed("app")).is_some()
    })
    .await;
    let seen_after = sent.elapsed();
    println!("event to /metrics: {seen_after:?}");
    assert_eq!(sample(&body, OPENED), 2.0);
    assert_eq!(sample(&body, RESCANS_OK), 1.0);
    assert_eq!(
        sample(&body, SCANS),
        1.0,
        "no full scan ran: the event did it"
    );
    assert_eq!(
        sample(
            &body,
            "ecr_exposure_events_received_total{event_name=\"SetRepositoryPolicy\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(&body, "ecr_exposure_detection_latency_seconds_count"),
        1.0
    );
    let (_, findings) = get(&client, &exp.url("/findings")).await.unwrap();
    let record = findings
        .lines()
        .find(|l| l.contains("\"repository\":\"app\""))
        .unwrap_or_else(|| panic!("app not in /findings:\n{findings}"));
    assert!(record.contains("\"public\":true"), "{record}");

    // A duplicate event: rescanned again, nothing opens twice.
    put_event(&moto, "SetRepositoryPolicy", "app", MGMT);
    let body = wait_for(&client, &exp.url("/metrics"), SOON, &exp, |_, b| {
        sample(b, RESCANS_OK) == 2.0
    })
    .await;
    assert_eq!(sample(&body, OPENED), 2.0);

    // An account outside discovery: counted, not rescanned.
    put_event(&moto, "SetRepositoryPolicy", "app", "999999999999");
    wait_for(&client, &exp.url("/metrics"), SOON, &exp, |_, b| {
        sample(
            b,
            "ecr_exposure_events_ignored_total{reason=\"unknown_account\"}",
        ) == 1.0
    })
    .await;

    // A malformed body: counted, logged with its message id, deleted.
    moto.events_fixture(&["send-raw", "--queue-url", &queue, "--body", "not an event"]);
    wait_for(&client, &exp.url("/metrics"), SOON, &exp, |_, b| {
        sample(b, "ecr_exposure_events_ignored_total{reason=\"malformed\"}") == 1.0
    })
    .await;

    // old is deleted; its (late) policy event finds it gone: its finding resolves, no error.
    moto.events_fixture(&["delete-repo", "--repo", "old"]);
    put_event(&moto, "SetRepositoryPolicy", "old", MGMT);
    let body = wait_for(&client, &exp.url("/metrics"), SOON, &exp, |_, b| {
        series(b, "ecr_exposure_repository_exposed", &exposed("old")).is_none()
    })
    .await;
    assert_eq!(sample(&body, RESOLVED), 1.0);
    assert_eq!(
        sample(&body, "ecr_exposure_event_rescans_total{result=\"error\"}"),
        0.0
    );
    assert_eq!(
        sample(
            &body,
            "ecr_exposure_repositories{account_id=\"123456789012\",region=\"us-east-1\"}"
        ),
        1.0,
        "old left the inventory"
    );
    assert_eq!(sample(&body, SCANS), 1.0);
    // A registry policy letting another account replicate: the registry event rescans it.
    moto.events_fixture(&["registry-policy", "replicate"]);
    moto.events_fixture(&["put-event", "--name", "PutRegistryPolicy"]);
    let registry = [
        ("account_id", MGMT),
        ("region", "us-east-1"),
        ("scope", "cross_account"),
    ];
    let body = wait_for(&client, &exp.url("/metrics"), SOON, &exp, |_, b| {
        series(b, "ecr_exposure_registry_exposed", &registry).is_some()
    })
    .await;
    assert_eq!(sample(&body, SCANS), 1.0);
    moto.events_fixture(&["registry-policy", "none"]);
    moto.events_fixture(&["put-event", "--name", "DeleteRegistryPolicy"]);
    wait_for(&client, &exp.url("/metrics"), SOON, &exp, |_, b| {
        series(b, "ecr_exposure_registry_exposed", &registry).is_none()
            && sample(
                b,
                "ecr_exposure_findings_resolved_total{finding=\"registry_exposure\"}",
            ) == 1.0
    })
    .await;
    // Every message was deleted once handled.
    let start = Instant::now();
    while depth(&moto, &queue) != 0 {
        assert!(start.elapsed() < SOON, "messages left in the queue");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        exp.log_text()
            .contains("queue message is not an ECR event; deleted")
    );
    assert!(
        seen_after < SOON,
        "the exposure took {seen_after:?} from its event to /metrics"
    );
}

/// boto3 on the state bucket (`tests/support/s3_objects.py`): its JSON answer.
fn bucket(moto: &Moto, args: &[&str]) -> serde_json::Value {
    let out = Command::new(python())
        .arg(repo_root().join("tests/support/s3_objects.py"))
        .arg(moto.endpoint())
        .args(args)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run s3_objects.py");
    assert!(
        out.status.success(),
        "s3_objects.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("s3_objects.py JSON")
}

/// The kinds of the findings of `repository` in the account's state object.
fn stored_kinds(moto: &Moto, repository: &str) -> Vec<String> {
    let key = format!("ecr-exposure-exporter/{MGMT}.json");
    let got = bucket(moto, &["get", "exporter-state", &key]);
    let doc: serde_json::Value =
        serde_json::from_str(got["body"].as_str().expect("body")).expect("state object JSON");
    let mut kinds: Vec<String> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["repository"] == repository)
        .map(|f| f["kind"].as_str().unwrap_or_default().to_string())
        .collect();
    kinds.sort();
    kinds
}

const S3_PUTS: &str = "ecr_exposure_aws_api_requests_total{service=\"s3\",operation=\"PutObject\"}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_s3_backend_a_rescan_writes_its_account_object_before_it_is_visible() {
    let _serial = SERIAL.lock().await;
    let moto = Moto::start();
    let queue = setup(&moto, "ecr-events", &["app"]);
    bucket(&moto, &["mb", "exporter-state"]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &moto.endpoint(),
        &dir.path().join("state.json"),
        "1h",
        &queue,
    );
    let text = std::fs::read_to_string(&cfg).unwrap();
    let text = text.replace(
        "state:\n",
        "state:\n  backend: s3\n  s3:\n    bucket: exporter-state\n",
    );
    std::fs::write(&cfg, text).unwrap();
    let client = reqwest::Client::new();
    let (exp, body) = start(&client, &cfg, &dir.path().join("log")).await;
    assert_eq!(
        sample(&body, S3_PUTS),
        1.0,
        "the first scan wrote the account"
    );
    assert!(
        stored_kinds(&moto, "app").is_empty(),
        "app is private and tagged"
    );

    moto.events_fixture(&["set-policy", "--repo", "app", "public"]);
    put_event(&moto, "SetRepositoryPolicy", "app", MGMT);
    let body = wait_for(&client, &exp.url("/metrics"), SOON, &exp, |_, b| {
        series(b, "ecr_exposure_repository_exposed", &exposed("app")).is_some()
    })
    .await;
    // Visible means stored: the account's object already holds the new finding, written
    // once, and the local state file is not used.
    assert_eq!(sample(&body, S3_PUTS), 2.0, "{body}");
    assert_eq!(stored_kinds(&moto, "app"), ["public_exposure"]);
    assert_eq!(sample(&body, OPENED), 1.0);
    assert_eq!(
        sample(&body, SCANS),
        1.0,
        "no full scan ran: the event did it"
    );
    assert!(!dir.path().join("state.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_errors_are_counted_and_retried_while_scans_go_on() {
    let _serial = SERIAL.lock().await;
    let moto = Moto::start();
    let queue = setup(&moto, "ecr-events", &["app"]);
    // Every receive fails with a 500 for a while.
    control(
        &moto,
        "/_faults",
        serde_json::json!({"operation": "ReceiveMessage", "error": "500", "count": 1000}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &moto.endpoint(),
        &dir.path().join("state.json"),
        "2s",
        &queue,
    );
    let client = reqwest::Client::new();
    let exp = Exporter::start(&cfg, free_port(), &dir.path().join("log"), &[]);
    let body = wait_for(&client, &exp.url("/metrics"), READY, &exp, |_, b| {
        sample(b, "ecr_exposure_event_queue_errors_total") >= 3.0 && sample(b, SCANS) >= 3.0
    })
    .await;
    // Counted through the AWS layer too, under service="sqs".
    assert!(
        series(
            &body,
            "ecr_exposure_aws_api_request_errors_total",
            &[("service", "sqs"), ("operation", "ReceiveMessage")]
        )
        .is_some(),
        "{body}"
    );
    assert!(!body.contains("ecr_exposure_event_queue_last_receive_timestamp_seconds "));
    // The queue comes back: receives succeed again and events are acted on.
    control(&moto, "/_reset", serde_json::json!({})).await;
    moto.events_fixture(&["set-policy", "--repo", "app", "public"]);
    put_event(&moto, "SetRepositoryPolicy", "app", MGMT);
    wait_for(
        &client,
        &exp.url("/metrics"),
        Duration::from_secs(90),
        &exp,
        |_, b| {
            b.contains("ecr_exposure_event_queue_last_receive_timestamp_seconds ")
                && series(b, "ecr_exposure_repository_exposed", &exposed("app")).is_some()
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_between_rescan_and_delete_redelivers_and_counts_nothing_twice() {
    let _serial = SERIAL.lock().await;
    let moto = Moto::start();
    let queue = setup(&moto, "ecr-events", &["app"]);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let cfg = config(dir.path(), &moto.endpoint(), &state, "1h", &queue);
    let client = reqwest::Client::new();
    let (mut exp, _) = start(&client, &cfg, &dir.path().join("log")).await;
    // The first delete stalls (the wrapper holds it for two minutes): the rescan is applied and
    // visible, its message not yet deleted.
    control(
        &moto,
        "/_faults",
        serde_json::json!({"operation": "DeleteMessage", "error": "slow", "delay_ms": 120000, "count": 1}),
    )
    .await;
    moto.events_fixture(&["set-policy", "--repo", "app", "public"]);
    put_event(&moto, "SetRepositoryPolicy", "app", MGMT);
    let body = wait_for(&client, &exp.url("/metrics"), SOON, &exp, |_, b| {
        series(b, "ecr_exposure_repository_exposed", &exposed("app")).is_some()
    })
    .await;
    assert_eq!(sample(&body, OPENED), 1.0);
    let first_seen_of = |b: &str| {
        series(
            b,
            "ecr_exposure_finding_first_seen_timestamp_seconds",
            &[("repository", "app"), ("finding", "public_exposure")],
        )
        .map(value)
    };
    let first_seen = first_seen_of(&body).expect("first seen of app");
    // Wait until the delete has reached the wrapper (and is held there), then kill -9.
    let start_wait = Instant::now();
    loop {
        let counts = reqwest::get(format!("{}/_counts", moto.endpoint()))
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap();
        if counts["sqs:DeleteMessage"].as_u64().unwrap_or(0) >= 1 {
            break;
        }
        assert!(
            start_wait.elapsed() < SOON,
            "no delete reached the wrapper: {counts}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    exp.signal("-9");
    exp.wait_exit(Duration::from_secs(10));
    assert_eq!(depth(&moto, &queue), 1, "the message was not deleted");

    // Restart on the same state: the message comes back after its visibility timeout and is
    // rescanned; the finding keeps its first-seen time and is not opened again.
    let (exp, _) = start(&client, &cfg, &dir.path().join("log2")).await;
    let body = wait_for(&client, &exp.url("/metrics"), SOON, &exp, |_, b| {
        sample(b, RESCANS_OK) == 1.0
    })
    .await;
    assert_eq!(
        sample(&body, OPENED),
        0.0,
        "an opening persisted before kill -9 is not counted again"
    );
    assert_eq!(first_seen_of(&body), Some(first_seen));
    let start_wait = Instant::now();
    while depth(&moto, &queue) != 0 {
        assert!(
            start_wait.elapsed() < SOON,
            "the redelivered message was not deleted"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_for_a_target_whose_scan_failed_rescans_the_whole_target() {
    let _serial = SERIAL.lock().await;
    let moto = Moto::start();
    let queue = setup(&moto, "ecr-events", &["app", "old=public"]);
    // The first scan's listing fails (both attempts): no baseline to patch.
    control(
        &moto,
        "/_faults",
        serde_json::json!({"operation": "DescribeRepositories", "error": "500", "count": 2}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &moto.endpoint(),
        &dir.path().join("state.json"),
        "1h",
        &queue,
    );
    let client = reqwest::Client::new();
    let (exp, body) = start(&client, &cfg, &dir.path().join("log")).await;
    let success = "ecr_exposure_scan_success{account_id=\"123456789012\",region=\"us-east-1\"}";
    assert_eq!(sample(&body, success), 0.0, "{body}");
    assert!(series(&body, "ecr_exposure_repository_exposed", &exposed("old")).is_none());

    moto.events_fixture(&["set-policy", "--repo", "app", "public"]);
    put_event(&moto, "SetRepositoryPolicy", "app", MGMT);
    // The whole target is read: app and old both show, and the target counts as scanned.
    // Wait for that whole state (a wrong one fails by timing out, with the log), then check
    // that nothing undoes it a moment later.
    let body = wait_for(&client, &exp.url("/metrics"), SOON, &exp, |_, b| {
        series(b, "ecr_exposure_repository_exposed", &exposed("app")).is_some()
            && sample(b, RESCANS_OK) == 1.0
            && sample(b, success) == 1.0
    })
    .await;
    let log = exp.log_text();
    assert!(
        series(&body, "ecr_exposure_repository_exposed", &exposed("old")).is_some(),
        "{body}\n{log}"
    );
    assert_eq!(sample(&body, success), 1.0, "{body}\n{log}");
    assert_eq!(sample(&body, OPENED), 2.0, "{body}\n{log}");
    assert_eq!(sample(&body, RESCANS_OK), 1.0, "{body}\n{log}");
    assert_eq!(
        sample(&body, SCANS),
        1.0,
        "the failed scheduled scan only\n{body}\n{log}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, later) = get(&client, &exp.url("/metrics"))
        .await
        .expect("scrape /metrics");
    let log = exp.log_text();
    assert_eq!(sample(&later, success), 1.0, "{later}\n{log}");
    assert_eq!(sample(&later, SCANS), 1.0, "{later}\n{log}");
}
