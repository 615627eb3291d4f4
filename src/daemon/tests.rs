//! The daemon with a fake cycle source. Scheduling runs on paused time (exact tick, skip and
//! cycle counts, no sleeps); the HTTP side runs on 127.0.0.1:0 and waits on conditions, with
//! cycles held at a gate the test opens, so nothing depends on how fast the machine is.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;

use super::*;
use crate::analysis::AnalysisSettings;
use crate::facts::{
    PolicyFetch, RepositoryFacts, TagsSource, TargetError, TargetFacts, TargetId, TargetOutcome,
};
use crate::metrics::Format;
use crate::state::SystemClock;

fn target() -> TargetId {
    TargetId {
        account_id: "111111111111".into(),
        region: "eu-west-1".into(),
    }
}

fn outcome(repos: Option<&[&str]>) -> TargetOutcome {
    let result = match repos {
        None => Err(TargetError {
            code: crate::model::TargetErrorCode::Throttled,
            message: "injected".into(),
        }),
        Some(repos) => Ok(TargetFacts {
            target: target(),
            repositories: repos
                .iter()
                .map(|n| RepositoryFacts {
                    name: n.to_string(),
                    arn: format!("arn:aws:ecr:eu-west-1:111111111111:repository/{n}"),
                    created_at: None,
                    tags: Default::default(),
                    tags_source: TagsSource::TaggingApi,
                    policy: PolicyFetch::None,
                })
                .collect(),
            registry: None,
        }),
    };
    TargetOutcome {
        target: target(),
        result,
        duration_seconds: 0.01,
    }
}

/// A cycle source over one target whose repositories (or failure, `None`) the test sets; each
/// cycle counts itself, then waits for a permit of `gate`, then takes `duration`.
struct FakeCycle {
    repos: Mutex<Option<Vec<&'static str>>>,
    calls: AtomicUsize,
    gate: Semaphore,
    duration: Duration,
}

impl FakeCycle {
    fn new(repos: &[&'static str], open: bool, duration: Duration) -> Arc<FakeCycle> {
        Arc::new(FakeCycle {
            repos: Mutex::new(Some(repos.to_vec())),
            calls: AtomicUsize::new(0),
            gate: Semaphore::new(if open { Semaphore::MAX_PERMITS } else { 0 }),
            duration,
        })
    }

    fn set(&self, repos: Option<&[&'static str]>) {
        *self.repos.lock().unwrap() = repos.map(<[_]>::to_vec);
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

struct Source(Arc<FakeCycle>);

impl CycleSource for Source {
    fn run_cycle(&self) -> CycleFuture {
        let fake = self.0.clone();
        Box::pin(async move {
            fake.calls.fetch_add(1, Ordering::SeqCst);
            if let Ok(permit) = fake.gate.acquire().await {
                permit.forget();
            }
            tokio::time::sleep(fake.duration).await;
            // Read at the gate, so a test can change the answer of a waiting cycle.
            let repos = fake.repos.lock().unwrap().clone();
            let settings = Arc::new(AnalysisSettings {
                required_tags: vec!["owner".into()],
                ..Default::default()
            });
            let result = crate::cycle::report(outcome(repos.as_deref()), settings).await;
            vec![result]
        })
    }
}

fn options(state_path: PathBuf, interval: Duration) -> DaemonOptions {
    DaemonOptions {
        interval,
        jitter: Duration::ZERO,
        state: crate::state::StateBackend::File(state_path),
        exceptions: vec![],
        required_tags: vec!["owner".into()],
        telemetry_path: "/metrics".into(),
        shard: crate::discovery::ShardSpec::SINGLE,
    }
}

// ---- scheduling, on paused time ----

/// The scheduler alone, with the handles a test reads.
struct Sched {
    fake: Arc<FakeCycle>,
    metrics: Arc<Metrics>,
    cell: Arc<SnapshotCell>,
    token: CancellationToken,
    task: tokio::task::JoinHandle<Tracker>,
}

fn start_scheduler(fake: &Arc<FakeCycle>, state_path: &Path, interval: Duration) -> Sched {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let exceptions = Arc::new(Exceptions::new(vec![]));
    let cell = Arc::new(SnapshotCell::default());
    let metrics = Arc::new(Metrics::new(SnapshotCollector {
        cell: cell.clone(),
        clock: clock.clone(),
        exceptions: exceptions.clone(),
        shard: crate::discovery::ShardSpec::SINGLE,
        required_tags: vec!["owner".into()],
        api_stats: None,
    }));
    let scheduler = scheduler::Scheduler::new(
        options(state_path.to_path_buf(), interval),
        Arc::new(Source(fake.clone())),
        clock,
        cell.clone(),
        metrics.clone(),
        exceptions.clone(),
    );
    let token = CancellationToken::new();
    let task = tokio::spawn(scheduler.run(Tracker::new(exceptions), token.clone()));
    Sched {
        fake: fake.clone(),
        metrics,
        cell,
        token,
        task,
    }
}

impl Sched {
    fn cycles_applied(&self) -> u64 {
        self.cell.load().cycle.as_ref().map_or(0, |c| c.number)
    }

    fn skipped(&self) -> u64 {
        self.metrics.counters().cycles_skipped_count()
    }

    fn metric(&self, prefix: &str) -> String {
        let text = self.metrics.render(Format::Text);
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
            .to_string()
    }

    async fn stop(self) -> Tracker {
        self.token.cancel();
        self.task.await.unwrap()
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[tokio::test(start_paused = true)]
async fn a_cycle_starts_every_interval_from_the_start_of_the_previous_tick() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeCycle::new(&["a"], true, secs(3));
    let s = start_scheduler(&fake, &dir.path().join("state.json"), secs(10));
    // ticks at 0, 10, 20, 30, 40; each 3 s cycle is applied before the next tick
    tokio::time::sleep(secs(45)).await;
    assert_eq!(s.fake.calls(), 5);
    assert_eq!(s.cycles_applied(), 5);
    assert_eq!(s.skipped(), 0);
    s.stop().await;
}

#[tokio::test(start_paused = true)]
async fn ticks_during_a_running_cycle_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeCycle::new(&["a", "b"], false, Duration::ZERO);
    let s = start_scheduler(&fake, &dir.path().join("state.json"), secs(10));
    // the first cycle waits at the gate through the ticks at 10, 20 and 30
    tokio::time::sleep(secs(35)).await;
    assert_eq!((s.fake.calls(), s.skipped(), s.cycles_applied()), (1, 3, 0));
    fake.gate.add_permits(1);
    tokio::time::sleep(secs(4)).await;
    assert_eq!((s.fake.calls(), s.skipped(), s.cycles_applied()), (1, 3, 1));
    assert_eq!(
        s.metric("ecr_exposure_findings_opened_total{finding=\"missing_tag\"}"),
        "ecr_exposure_findings_opened_total{finding=\"missing_tag\"} 2"
    );
    // the tick at 40 starts the next cycle, no sooner
    tokio::time::sleep(secs(2)).await;
    assert_eq!((s.fake.calls(), s.skipped()), (2, 3));
    s.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_cycle_running_at_shutdown_is_not_applied() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeCycle::new(&["a", "b"], false, Duration::ZERO);
    let s = start_scheduler(&fake, &dir.path().join("state.json"), secs(10));
    fake.gate.add_permits(1);
    tokio::time::sleep(secs(5)).await;
    assert_eq!(s.cycles_applied(), 1);
    // the second cycle would resolve b; it is still at the gate when shutdown comes
    fake.set(Some(&["a"]));
    tokio::time::sleep(secs(10)).await;
    assert_eq!(s.fake.calls(), 2);
    let tracker = s.stop().await;
    assert_eq!(tracker.snapshot().cycle.map(|c| c.number), Some(1));
    assert_eq!(tracker.open_findings(), 2);
}

#[tokio::test(start_paused = true)]
async fn only_a_successful_scan_resolves_and_a_failed_one_keeps_findings() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeCycle::new(&["a", "b"], true, Duration::ZERO);
    let s = start_scheduler(&fake, &dir.path().join("state.json"), secs(10));
    let resolved = "ecr_exposure_findings_resolved_total{finding=\"missing_tag\"}";
    tokio::time::sleep(secs(5)).await;
    assert_eq!(s.cycles_applied(), 1);
    // the target fails: b is gone from nowhere, nothing resolves, both findings stay
    fake.set(None);
    tokio::time::sleep(secs(10)).await;
    assert_eq!(s.cycles_applied(), 2);
    assert_eq!(s.metric(resolved), format!("{resolved} 0"));
    assert_eq!(s.cell.load().targets[&target()].findings.len(), 2);
    assert_eq!(
        s.metric("ecr_exposure_scan_failures_total{"),
        "ecr_exposure_scan_failures_total{account_id=\"111111111111\",region=\"eu-west-1\"} 1"
    );
    // a successful scan without b resolves it, once
    fake.set(Some(&["a"]));
    tokio::time::sleep(secs(10)).await;
    assert_eq!(s.cycles_applied(), 3);
    assert_eq!(s.metric(resolved), format!("{resolved} 1"));
    assert_eq!(s.cell.load().targets[&target()].findings.len(), 1);
    s.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_state_write_is_counted_and_the_cycle_still_applies() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeCycle::new(&["a"], true, Duration::ZERO);
    // a file where the state directory should be: no write can succeed (even as root)
    std::fs::write(dir.path().join("not-a-dir"), b"").unwrap();
    let unwritable = dir.path().join("not-a-dir").join("state.json");
    let s = start_scheduler(&fake, &unwritable, secs(10));
    tokio::time::sleep(secs(5)).await;
    assert_eq!(s.cycles_applied(), 1);
    assert_eq!(
        s.metric("ecr_exposure_state_save_failures_total"),
        "ecr_exposure_state_save_failures_total 1"
    );
    s.stop().await;
}

// ---- the whole daemon over HTTP, waiting on conditions ----

struct Harness {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

/// Start the daemon with `fake` as its cycle source, one cycle an hour after the first.
async fn start(state_path: PathBuf, fake: &Arc<FakeCycle>) -> Harness {
    let daemon = Daemon {
        options: options(state_path, Duration::from_secs(3600)),
        cycle: Arc::new(Source(fake.clone())),
        api_stats: None,
        clock: Arc::new(SystemClock),
        web: Arc::new(WebConfig::none()),
        events: None,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run_daemon(daemon, listener, async move {
        let _ = rx.await;
    }));
    Harness {
        addr,
        stop: Some(tx),
        task,
    }
}

impl Harness {
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("daemon stops within the deadline")
            .unwrap();
    }
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let client = reqwest::Client::new();
    let r = client
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

async fn wait_for(addr: SocketAddr, path: &str, pred: impl Fn(u16, &str) -> bool) -> String {
    for _ in 0..400 {
        let (s, body) = get(addr, path).await;
        if pred(s, &body) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("condition on {path} not met within 10 s");
}

fn first_seen_line(metrics: &str, repo: &str) -> Option<String> {
    metrics
        .lines()
        .find(|l| {
            l.starts_with("ecr_exposure_finding_first_seen_timestamp_seconds{")
                && l.contains(&format!("repository=\"{repo}\""))
        })
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_until_the_first_cycle_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeCycle::new(&["a"], false, Duration::ZERO);
    let h = start(dir.path().join("state.json"), &fake).await;
    // The first cycle is held at the gate: up and healthy, not ready, nothing found yet.
    assert_eq!(get(h.addr, "/-/ready").await.0, 503);
    assert_eq!(get(h.addr, "/-/healthy").await.0, 200);
    let (status, m) = get(h.addr, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(first_seen_line(&m, "a"), None);
    fake.gate.add_permits(1);
    wait_for(h.addr, "/-/ready", |s, _| s == 200).await;
    let m = get(h.addr, "/metrics").await.1;
    assert!(first_seen_line(&m, "a").is_some(), "{m}");
    assert_eq!(fake.calls(), 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_seen_survives_a_restart_and_is_not_counted_again() {
    let dir = tempfile::tempdir().unwrap();
    let state_path = dir.path().join("state.json");
    let fake = FakeCycle::new(&["a"], true, Duration::ZERO);
    let h = start(state_path.clone(), &fake).await;
    let m = wait_for(h.addr, "/metrics", |_, b| first_seen_line(b, "a").is_some()).await;
    let first = first_seen_line(&m, "a").unwrap();
    assert!(
        m.contains("ecr_exposure_findings_opened_total{finding=\"missing_tag\"} 1"),
        "{m}"
    );
    h.stop().await;
    assert!(state_path.exists(), "state written");

    // Restart with the first cycle held: the restored finding is exported before it, and so
    // is its repository's info series (the owner_tag join of the alerts).
    let fake = FakeCycle::new(&["a"], false, Duration::ZERO);
    let h = start(state_path.clone(), &fake).await;
    let m = get(h.addr, "/metrics").await.1;
    assert_eq!(first_seen_line(&m, "a").as_deref(), Some(first.as_str()));
    assert!(
        m.contains(
            r#"ecr_exposure_repository_info{account_id="111111111111",region="eu-west-1",repository="a",owner_tag="",managed_by=""} 1"#
        ),
        "{m}"
    );
    fake.gate.add_permits(1);
    wait_for(h.addr, "/-/ready", |s, _| s == 200).await;
    let m = get(h.addr, "/metrics").await.1;
    assert_eq!(first_seen_line(&m, "a").as_deref(), Some(first.as_str()));
    assert!(
        m.contains("ecr_exposure_findings_opened_total{finding=\"missing_tag\"} 0"),
        "{m}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_answer_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeCycle::new(&["a"], true, Duration::ZERO);
    let h = start(dir.path().join("state.json"), &fake).await;
    wait_for(h.addr, "/-/ready", |s, _| s == 200).await;
    let (status, body) = get(h.addr, "/findings?finding=missing_tag").await;
    assert_eq!(status, 200);
    assert_eq!(body.lines().count(), 1, "{body}");
    let rec: serde_json::Value = serde_json::from_str(body.lines().next().unwrap()).unwrap();
    assert_eq!(rec["repository"], "a");
    assert_eq!(get(h.addr, "/findings?scope=bogus").await.0, 400);
    assert_eq!(get(h.addr, "/nope").await.0, 404);
    assert_eq!(get(h.addr, "/-/healthy").await.0, 200);
    let (s, landing) = get(h.addr, "/").await;
    assert_eq!(s, 200);
    assert!(landing.contains("/metrics") && landing.contains(crate::VERSION));
    let post = reqwest::Client::new()
        .post(format!("http://{}/metrics", h.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status().as_u16(), 405);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_state_is_moved_aside_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let state_path = dir.path().join("state.json");
    std::fs::write(&state_path, b"\x00garbage").unwrap();
    let fake = FakeCycle::new(&["a"], true, Duration::ZERO);
    let h = start(state_path.clone(), &fake).await;
    let m = wait_for(h.addr, "/metrics", |_, b| first_seen_line(b, "a").is_some()).await;
    assert!(
        m.contains("ecr_exposure_state_load_failures_total 1"),
        "{m}"
    );
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("state.json.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1);
    h.stop().await;
    // Fresh state written over.
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    assert_eq!(s["version"], 1);
}

// ---- event rescans applied by the scheduler ----

/// A rescan of repository `name` (a clean one, missing its owner tag).
fn rescan_of(name: &'static str) -> crate::state::Rescanned {
    let settings = AnalysisSettings {
        required_tags: vec!["owner".into()],
        ..Default::default()
    };
    let facts = outcome(Some(&[name])).result.unwrap();
    let mut report = crate::analysis::analyze_target(&facts, &settings);
    crate::state::Rescanned {
        target: target(),
        part: crate::state::RescanPart::Repository {
            name: name.into(),
            report: report.repositories.pop().map(Box::new),
        },
    }
}

async fn send_rescan(
    tx: &tokio::sync::mpsc::Sender<RescanRequest>,
    rescan: crate::state::Rescanned,
) -> RescanReply {
    let (reply, answer) = tokio::sync::oneshot::channel();
    tx.send(RescanRequest { rescan, reply }).await.unwrap();
    answer.await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn rescans_apply_between_cycles_and_survive_the_older_read_of_a_running_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let state_path = dir.path().join("state.json");
    let fake = FakeCycle::new(&["a"], false, Duration::ZERO);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let exceptions = Arc::new(Exceptions::new(vec![]));
    let cell = Arc::new(SnapshotCell::default());
    let metrics = Arc::new(Metrics::new(SnapshotCollector {
        cell: cell.clone(),
        clock: clock.clone(),
        exceptions: exceptions.clone(),
        shard: crate::discovery::ShardSpec::SINGLE,
        required_tags: vec!["owner".into()],
        api_stats: None,
    }));
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let scheduler = scheduler::Scheduler::new(
        options(state_path.clone(), secs(10)),
        Arc::new(Source(fake.clone())),
        clock,
        cell.clone(),
        metrics.clone(),
        exceptions.clone(),
    )
    .with_rescans(Some(rx));
    let token = CancellationToken::new();
    let task = tokio::spawn(scheduler.run(Tracker::new(exceptions), token.clone()));
    let s = Sched {
        fake: fake.clone(),
        metrics,
        cell,
        token,
        task,
    };
    let opened = "ecr_exposure_findings_opened_total{finding=\"missing_tag\"}";
    // Before any scan there is nothing to patch.
    assert_eq!(
        send_rescan(&tx, rescan_of("b")).await,
        Err(crate::state::RescanRefused::NoBaseline)
    );
    fake.gate.add_permits(1);
    tokio::time::sleep(secs(1)).await;
    assert_eq!(s.metric(opened), format!("{opened} 1"));
    // A new repository b: opened, persisted, visible at once.
    assert!(send_rescan(&tx, rescan_of("b")).await.is_ok());
    assert_eq!(s.metric(opened), format!("{opened} 2"));
    assert_eq!(s.cell.load().targets[&target()].findings.len(), 2);
    let persisted = std::fs::read_to_string(&state_path).unwrap();
    assert!(persisted.contains("\"b\""), "{persisted}");
    // The tick at 10 s starts a cycle that read the target before c existed; c's rescan is
    // applied while that cycle is still at the gate.
    tokio::time::sleep(secs(10)).await;
    assert_eq!(s.fake.calls(), 2);
    assert!(send_rescan(&tx, rescan_of("c")).await.is_ok());
    assert_eq!(s.metric(opened), format!("{opened} 3"));
    fake.set(Some(&["a", "b"]));
    fake.gate.add_permits(1);
    tokio::time::sleep(secs(1)).await;
    assert_eq!(s.cycles_applied(), 2);
    // c is neither resolved by the older read nor opened again.
    let resolved = "ecr_exposure_findings_resolved_total{finding=\"missing_tag\"}";
    assert_eq!(s.metric(resolved), format!("{resolved} 0"));
    assert_eq!(s.metric(opened), format!("{opened} 3"));
    assert_eq!(s.cell.load().targets[&target()].findings.len(), 3);
    s.stop().await;
}
