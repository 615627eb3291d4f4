//! The fake half of `events_throughput`: the daemon (scheduler, tracker, state file, swaps)
//! and the event consumer in this process, with an in-memory queue and reader that each take
//! `latency` per call, so the figure is the exporter's own ceiling rather than moto's.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ecr_exposure_exporter::analysis::{AnalysisSettings, analyze_target};
use ecr_exposure_exporter::aws::sqs::{EventQueue, QueueMessage};
use ecr_exposure_exporter::aws::{AccountCredentials, ApiCallStats, Aws, CallError};
use ecr_exposure_exporter::config::Config;
use ecr_exposure_exporter::cycle::Reach;
use ecr_exposure_exporter::daemon::{
    CycleFuture, CycleSource, Daemon, DaemonOptions, EventHooks, run_daemon,
};
use ecr_exposure_exporter::discovery::ShardSpec;
use ecr_exposure_exporter::events::consumer::{Consumer, event_metrics};
use ecr_exposure_exporter::events::rescan::{ReadScope, Reader};
use ecr_exposure_exporter::facts::{
    PolicyFetch, RepositoryFacts, TagsSource, TargetError, TargetFacts, TargetId,
};
use ecr_exposure_exporter::http::WebConfig;
use ecr_exposure_exporter::state::{RescanPart, ScanResult, SystemClock};

const ACCOUNT: &str = "111111111111";
const REGION: &str = "eu-west-1";

fn target() -> TargetId {
    TargetId {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
    }
}

fn facts(repos: usize, public: Option<usize>) -> TargetFacts {
    TargetFacts {
        target: target(),
        repositories: (0..repos)
            .map(|i| RepositoryFacts {
                name: format!("r{i:04}"),
                arn: format!("arn:aws:ecr:{REGION}:{ACCOUNT}:repository/r{i:04}"),
                created_at: None,
                tags: [("owner".to_string(), "team".to_string())].into(),
                tags_source: TagsSource::ListTagsForResource,
                policy: if Some(i) == public {
                    PolicyFetch::Text {
                        text: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}]}"#.into(),
                    }
                } else {
                    PolicyFetch::None
                },
            })
            .collect(),
        registry: None,
    }
}

fn settings() -> AnalysisSettings {
    AnalysisSettings {
        required_tags: vec!["owner".into()],
        ..Default::default()
    }
}

struct OneTarget(usize);

impl CycleSource for OneTarget {
    fn run_cycle(&self) -> CycleFuture {
        let repos = self.0;
        Box::pin(async move {
            vec![ScanResult {
                target: target(),
                duration_seconds: 0.1,
                result: Ok(analyze_target(&facts(repos, None), &settings())),
            }]
        })
    }
}

struct Queue {
    pending: Mutex<Vec<QueueMessage>>,
    deleted: AtomicUsize,
    latency: Duration,
}

/// The consumer owns its queue; the bench keeps a handle to count deletes.
struct Shared(Arc<Queue>);

impl EventQueue for Shared {
    async fn receive(&self) -> Result<Vec<QueueMessage>, CallError> {
        tokio::time::sleep(self.0.latency).await;
        let mut p = self.0.pending.lock().unwrap();
        let n = p.len().min(10);
        Ok(p.drain(..n).collect())
    }

    async fn delete(&self, handles: Vec<String>) -> Result<(), (Vec<String>, CallError)> {
        // One DeleteMessage per message, concurrently: one latency for the batch.
        tokio::time::sleep(self.0.latency).await;
        self.0.deleted.fetch_add(handles.len(), Ordering::SeqCst);
        Ok(())
    }
}

/// A repository read: DescribeRepositories, then the policy and tags side by side.
struct SlowReader {
    latency: Duration,
    repos: usize,
}

impl Reader for SlowReader {
    async fn read(
        &self,
        _target: &TargetId,
        _credentials: &AccountCredentials,
        scope: &ReadScope,
        settings: &Arc<AnalysisSettings>,
    ) -> Result<RescanPart, TargetError> {
        tokio::time::sleep(self.latency * 2).await;
        let ReadScope::Part(ecr_exposure_exporter::events::Rescan::Repository(name)) = scope else {
            let report = analyze_target(&facts(self.repos, None), settings);
            return Ok(RescanPart::Target {
                report: Box::new(report),
                duration_seconds: 0.1,
            });
        };
        let i: usize = name.trim_start_matches('r').parse().unwrap_or(0);
        let mut report = analyze_target(&facts(self.repos, Some(i)), settings);
        let found = report
            .repositories
            .iter()
            .position(|r| &r.repository == name);
        Ok(RescanPart::Repository {
            name: name.clone(),
            report: found.map(|at| Box::new(report.repositories.swap_remove(at))),
        })
    }
}

fn body(repo: &str) -> String {
    format!(
        r#"{{"version":"0","id":"e","detail-type":"AWS API Call via CloudTrail","source":"aws.ecr","account":"{ACCOUNT}","region":"{REGION}","detail":{{"eventName":"SetRepositoryPolicy","awsRegion":"{REGION}","eventTime":"2026-12-07T00:00:00Z","recipientAccountId":"{ACCOUNT}","requestParameters":{{"repositoryName":"{repo}"}}}}}}"#
    )
}

/// Rescans per second through the whole daemon path (read, apply with its state write and
/// swap, delete), `events` of them over `repos` repositories (a few only: each read analyses
/// the fake's whole target, which must stay cheap next to the latency).
pub fn run(events: usize, repos: usize, latency: Duration) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let metrics = event_metrics();
        let (apply, requests) = tokio::sync::mpsc::channel(32);
        let daemon = Daemon {
            options: DaemonOptions {
                interval: Duration::from_secs(3600),
                jitter: Duration::ZERO,
                state: ecr_exposure_exporter::state::StateBackend::File(dir.path().join("state.json")),
                exceptions: Vec::new(),
                required_tags: vec!["owner".into()],
                telemetry_path: "/metrics".into(),
                shard: ShardSpec::SINGLE,
            },
            cycle: Arc::new(OneTarget(repos)),
            api_stats: None,
            clock: Arc::new(SystemClock),
            web: Arc::new(WebConfig::none()),
            events: Some(EventHooks {
                metrics: metrics.clone(),
                requests,
            }),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let daemon_task = tokio::spawn(run_daemon(daemon, listener, async move {
            let _ = stop_rx.await;
        }));
        // Let the first cycle apply, so rescans patch a baseline.
        tokio::time::sleep(Duration::from_millis(500)).await;

        let config = Config::from_yaml_str("{}").unwrap();
        let aws = Aws::new(&config.aws, Arc::new(ApiCallStats::new())).await;
        let reach = Reach {
            targets: [(target(), aws.ambient())].into(),
            unreachable: Default::default(),
            known_accounts: [ACCOUNT.to_string()].into(),
            shard: ShardSpec::SINGLE,
            settings: Arc::new(settings()),
        };
        let queue = Arc::new(Queue {
            pending: Mutex::new(
                (0..events)
                    .map(|i| QueueMessage {
                        id: format!("m{i}"),
                        receipt_handle: format!("h{i}"),
                        body: body(&format!("r{:04}", i % repos)),
                        receive_count: 1,
                    })
                    .collect(),
            ),
            deleted: AtomicUsize::new(0),
            latency,
        });
        let (_reach_tx, reach_rx) = tokio::sync::watch::channel(Some(Arc::new(reach)));
        let consumer = Consumer {
            queue: Shared(queue.clone()),
            reader: SlowReader { latency, repos },
            reach: reach_rx,
            apply,
            metrics,
            clock: Arc::new(SystemClock),
            max_receives: 5,
            concurrency: 10,
        };
        let stop = tokio_util::sync::CancellationToken::new();
        let started = Instant::now();
        let consumer_task = tokio::spawn(consumer.run(stop.clone()));
        while queue.deleted.load(Ordering::SeqCst) < events
            && started.elapsed() < Duration::from_secs(300)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let secs = started.elapsed().as_secs_f64();
        let done = queue.deleted.load(Ordering::SeqCst);
        println!(
            "in-process (fake queue and reads, {} ms per call, 10 messages per receive): {done} rescans in {secs:.2}s = {:.1} rescans/s",
            latency.as_millis(),
            done as f64 / secs
        );
        stop.cancel();
        let _ = consumer_task.await;
        let _ = stop_tx.send(());
        let _ = daemon_task.await;
    });
}
