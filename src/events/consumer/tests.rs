//! The consumer against an in-memory queue, a scripted reader and a scripted scheduler: what
//! is deleted, kept, counted and rescanned, on paused time.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Mutex;

use prometheus_client::registry::Registry;

use super::*;
use crate::analysis::AnalysisSettings;
use crate::aws::{ApiCallStats, ApiErrorCode, Aws, CallError};
use crate::config::Config;
use crate::discovery::ShardSpec;
use crate::state::{ManualClock, RescanPart};

const OURS: &str = "111111111111";
const REGION: &str = "eu-west-1";

fn body(account: &str, name: &str, params: &str) -> String {
    format!(
        r#"{{"version":"0","id":"ev-{name}","detail-type":"AWS API Call via CloudTrail",
        "source":"aws.ecr","account":"{account}","time":"2026-12-06T10:00:00Z","region":"{REGION}",
        "detail":{{"eventName":"{name}","awsRegion":"{REGION}","eventTime":"2026-12-06T09:59:58Z",
        "recipientAccountId":"{account}","requestParameters":{params}}}}}"#
    )
}

fn policy_event(account: &str) -> String {
    body(
        account,
        "SetRepositoryPolicy",
        r#"{"repositoryName":"app"}"#,
    )
}

/// Messages to hand out (one batch per receive, then empty polls), failures to inject, and
/// what was deleted.
#[derive(Default)]
struct FakeQueue {
    batches: Mutex<VecDeque<Result<Vec<QueueMessage>, CallError>>>,
    deleted: Mutex<Vec<String>>,
    receives: std::sync::atomic::AtomicUsize,
}

impl EventQueue for Arc<FakeQueue> {
    async fn receive(&self) -> Result<Vec<QueueMessage>, CallError> {
        self.receives
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let next = self.batches.lock().unwrap().pop_front();
        match next {
            Some(batch) => batch,
            None => {
                // An empty long poll.
                tokio::time::sleep(Duration::from_secs(20)).await;
                Ok(Vec::new())
            }
        }
    }

    async fn delete(&self, receipt_handles: Vec<String>) -> Result<(), (Vec<String>, CallError)> {
        self.deleted.lock().unwrap().extend(receipt_handles);
        Ok(())
    }
}

fn message(n: u32, body: String, receive_count: u32) -> QueueMessage {
    QueueMessage {
        id: format!("m-{n}"),
        receipt_handle: format!("r-{n}"),
        body,
        receive_count,
    }
}

/// Reads succeed (a public `app`) unless the target's account is in `failing`.
#[derive(Default)]
struct FakeReader {
    failing: BTreeSet<String>,
    reads: Mutex<Vec<ReadScope>>,
}

impl Reader for Arc<FakeReader> {
    async fn read(
        &self,
        target: &TargetId,
        _credentials: &AccountCredentials,
        scope: &ReadScope,
        _settings: &Arc<AnalysisSettings>,
    ) -> Result<RescanPart, TargetError> {
        self.reads.lock().unwrap().push(scope.clone());
        if self.failing.contains(&target.account_id) {
            return Err(TargetError {
                code: TargetErrorCode::Throttled,
                message: "injected".into(),
            });
        }
        Ok(RescanPart::Repository {
            name: "app".into(),
            report: None,
        })
    }
}

struct Run {
    queue: Arc<FakeQueue>,
    reader: Arc<FakeReader>,
    metrics: EventMetrics,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    applied: Arc<Mutex<Vec<Rescanned>>>,
}

impl Run {
    fn render(&self) -> String {
        let mut r = Registry::default();
        self.metrics.register(&mut r);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &r).unwrap();
        out
    }

    fn value(&self, series: &str) -> String {
        let text = self.render();
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
            .to_string()
    }

    fn deleted(&self) -> Vec<String> {
        let mut d = self.queue.deleted.lock().unwrap().clone();
        d.sort();
        d
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap();
    }
}

async fn reach(shard: ShardSpec, known: &[&str]) -> Reach {
    let config = Config::from_yaml_str("{}").unwrap();
    let aws = Aws::new(&config.aws, Arc::new(ApiCallStats::new())).await;
    let ours = TargetId {
        account_id: OURS.into(),
        region: REGION.into(),
    };
    Reach {
        targets: BTreeMap::from([(ours, aws.ambient())]),
        unreachable: BTreeSet::from([TargetId {
            account_id: "555555555555".into(),
            region: crate::discovery::ALL_REGIONS.into(),
        }]),
        known_accounts: known.iter().map(|a| a.to_string()).collect(),
        shard,
        settings: Arc::new(AnalysisSettings::default()),
    }
}

/// Start a consumer; the scheduler side answers every rescan with `answer` (or refuses the
/// first one of each target when `refuse_first`).
async fn start(
    batches: Vec<Result<Vec<QueueMessage>, CallError>>,
    reader: FakeReader,
    reach: Reach,
    refuse_first: bool,
) -> Run {
    let queue = Arc::new(FakeQueue {
        batches: Mutex::new(batches.into()),
        ..Default::default()
    });
    let reader = Arc::new(reader);
    let metrics = event_metrics();
    let (apply, mut requests) = mpsc::channel::<RescanRequest>(4);
    let applied = Arc::new(Mutex::new(Vec::new()));
    let seen = applied.clone();
    let clock = Arc::new(ManualClock::at_unix(1_796_551_200)); // 2026-12-06T10:00:00Z
    let visible = clock.clone();
    tokio::spawn(async move {
        let mut refused = BTreeSet::new();
        while let Some(r) = requests.recv().await {
            if refuse_first
                && !matches!(r.rescan.part, RescanPart::Target { .. })
                && refused.insert(r.rescan.target.clone())
            {
                let _ = r.reply.send(Err(RescanRefused::NoBaseline));
                continue;
            }
            seen.lock().unwrap().push(r.rescan);
            // Visible 5 s after the call's eventTime (09:59:58 + 5 s).
            let _ = r.reply.send(Ok(visible.now() + time::Duration::seconds(3)));
        }
    });
    let (_tx, rx) = watch::channel(Some(Arc::new(reach)));
    let consumer = Consumer {
        queue: queue.clone(),
        reader: reader.clone(),
        reach: rx,
        apply,
        metrics: metrics.clone(),
        clock,
        max_receives: 3,
        concurrency: 4,
    };
    let stop = CancellationToken::new();
    // Keep the watch sender alive for the whole run.
    let task = tokio::spawn({
        let stop = stop.clone();
        async move {
            let _keep = _tx;
            consumer.run(stop).await
        }
    });
    Run {
        queue,
        reader,
        metrics,
        stop,
        task,
        applied,
    }
}

#[tokio::test(start_paused = true)]
async fn events_are_rescanned_applied_then_deleted_and_the_rest_ignored_and_deleted() {
    let batch = vec![
        message(1, policy_event(OURS), 1),
        message(2, "not json".into(), 1),
        message(3, body(OURS, "PutImage", r#"{"repositoryName":"app"}"#), 1),
        message(4, policy_event("999999999999"), 1),
        message(5, policy_event("121212121212"), 1),
    ];
    // 121212121212 is known and hashes to the other of two shards; 999999999999 is unknown.
    let shard = ShardSpec::new(ShardSpec::shard_of(OURS, 2), 2).unwrap();
    assert!(
        !shard.owns("121212121212"),
        "pick another account for the test"
    );
    let run = start(
        vec![Ok(batch)],
        FakeReader::default(),
        reach(shard, &[OURS, "121212121212"]).await,
        false,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(run.deleted(), ["r-1", "r-2", "r-3", "r-4", "r-5"]);
    assert_eq!(run.applied.lock().unwrap().len(), 1);
    assert_eq!(
        run.value("ecr_exposure_events_received_total{event_name=\"SetRepositoryPolicy\"}"),
        "3"
    );
    for (reason, n) in [
        ("malformed", "1"),
        ("unknown_event", "1"),
        ("unknown_account", "1"),
        ("other_shard", "1"),
        ("failed_call", "0"),
    ] {
        let series = format!("ecr_exposure_events_ignored_total{{reason=\"{reason}\"}}");
        assert_eq!(run.value(&series), n, "{reason}");
    }
    assert_eq!(
        run.value("ecr_exposure_event_rescans_total{result=\"ok\"}"),
        "1"
    );
    // eventTime 09:59:58, visible at 10:00:03.
    assert_eq!(
        run.value("ecr_exposure_detection_latency_seconds_sum"),
        "5.0"
    );
    assert!(
        run.render()
            .contains("ecr_exposure_event_queue_last_receive_timestamp_seconds 1796551200")
    );
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_rescan_stays_in_the_queue_until_max_receives_then_is_abandoned() {
    let failing = "333333333333";
    let batches = vec![
        Ok(vec![message(1, policy_event(failing), 1)]),
        Ok(vec![message(1, policy_event(failing), 3)]),
        // An account discovery could not reach fails the same way, without a read.
        Ok(vec![message(2, policy_event("555555555555"), 1)]),
    ];
    let mut reader = FakeReader::default();
    reader.failing.insert(failing.into());
    let mut r = reach(ShardSpec::SINGLE, &[OURS]).await;
    r.targets.insert(
        TargetId {
            account_id: failing.into(),
            region: REGION.into(),
        },
        r.targets.values().next().unwrap().clone(),
    );
    let run = start(batches, reader, r, false).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(run.deleted(), ["r-1"], "deleted on its third receive only");
    assert_eq!(
        run.value("ecr_exposure_event_rescans_total{result=\"error\"}"),
        "3"
    );
    assert_eq!(run.value("ecr_exposure_events_abandoned_total"), "1");
    assert_eq!(run.reader.reads.lock().unwrap().len(), 2);
    assert!(run.applied.lock().unwrap().is_empty());
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_target_without_a_baseline_is_rescanned_whole() {
    let run = start(
        vec![Ok(vec![message(1, policy_event(OURS), 1)])],
        FakeReader::default(),
        reach(ShardSpec::SINGLE, &[OURS]).await,
        true,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        *run.reader.reads.lock().unwrap(),
        [
            ReadScope::Part(crate::events::Rescan::Repository("app".into())),
            ReadScope::Target
        ]
    );
    assert_eq!(run.deleted(), ["r-1"]);
    assert_eq!(
        run.value("ecr_exposure_event_rescans_total{result=\"ok\"}"),
        "1"
    );
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn receive_errors_are_counted_and_retried_with_growing_backoff() {
    let err = || {
        Err(CallError {
            class: ApiErrorCode::Other,
            aws_code: Some("InternalError".into()),
            message: "500".into(),
        })
    };
    let run = start(
        vec![
            err(),
            err(),
            err(),
            err(),
            Ok(vec![message(1, policy_event(OURS), 1)]),
        ],
        FakeReader::default(),
        reach(ShardSpec::SINGLE, &[OURS]).await,
        false,
    )
    .await;
    // Backoff 1 + 2 + 4 s: the fourth attempt is at 7 s, the fifth (which succeeds) at 15 s.
    tokio::time::sleep(Duration::from_millis(7_500)).await;
    assert_eq!(run.value("ecr_exposure_event_queue_errors_total"), "4");
    assert!(run.deleted().is_empty());
    assert!(
        !run.render().contains("last_receive_timestamp"),
        "no successful receive yet"
    );
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(run.deleted(), ["r-1"]);
    assert_eq!(
        run.queue.receives.load(std::sync::atomic::Ordering::SeqCst),
        6
    );
    run.stop().await;
}
