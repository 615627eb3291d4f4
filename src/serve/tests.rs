//! The daemon with a fake cycle on 127.0.0.1:0: readiness, scheduling, skipped ticks, state
//! persisted across restarts and at shutdown.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::facts::{PolicyFetch, RepositoryFacts, TagsSource, TargetFacts, TargetId};

fn target() -> TargetId {
    TargetId {
        account_id: "111111111111".into(),
        region: "eu-west-1".into(),
    }
}

fn facts(repos: &[&str]) -> TargetOutcome {
    TargetOutcome {
        target: target(),
        result: Ok(TargetFacts {
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
        duration_seconds: 0.01,
    }
}

struct Harness {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    calls: Arc<AtomicUsize>,
}

/// Start the daemon; each cycle returns the repositories in `repos` (changeable) after `delay`.
async fn start(
    state_path: PathBuf,
    repos: Arc<Mutex<Vec<&'static str>>>,
    interval: Duration,
    delay: Duration,
) -> Harness {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let cycle: CycleFn = Arc::new(move || {
        let repos = repos.lock().unwrap().clone();
        let c = c.clone();
        Box::pin(async move {
            c.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            CycleOutput {
                outcomes: vec![facts(&repos)],
                settings: AnalysisSettings {
                    required_tags: vec!["owner".into()],
                    ..Default::default()
                },
            }
        })
    });
    let daemon = Daemon {
        options: DaemonOptions {
            interval,
            jitter: Duration::ZERO,
            state_path,
            exceptions: vec![],
            required_tags: vec!["owner".into()],
            telemetry_path: "/metrics".into(),
        },
        cycle,
        api_stats: None,
        clock: Arc::new(SystemClock),
        web: Arc::new(WebConfig::none()),
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
        calls,
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
    for _ in 0..200 {
        let (s, body) = get(addr, path).await;
        if pred(s, &body) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
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
async fn ready_after_first_cycle_and_first_seen_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state_path = dir.path().join("state.json");
    let repos = Arc::new(Mutex::new(vec!["a", "b"]));
    let h = start(
        state_path.clone(),
        repos.clone(),
        Duration::from_millis(200),
        Duration::from_millis(300),
    )
    .await;
    // The first cycle takes 300 ms: not ready before it completes.
    let (status, _) = get(h.addr, "/-/ready").await;
    assert_eq!(status, 503);
    wait_for(h.addr, "/-/ready", |s, _| s == 200).await;
    let m = wait_for(h.addr, "/metrics", |_, b| first_seen_line(b, "a").is_some()).await;
    let first = first_seen_line(&m, "a").unwrap();
    // Interval 200 ms < cycle 300 ms: ticks get skipped and counted.
    wait_for(h.addr, "/metrics", |_, b| {
        b.lines()
            .any(|l| l.starts_with("ecr_exposure_scan_cycles_skipped_total ") && !l.ends_with(" 0"))
    })
    .await;
    // Repository b deleted: its finding resolves on the next cycle.
    repos.lock().unwrap().retain(|r| *r != "b");
    wait_for(h.addr, "/metrics", |_, b| {
        first_seen_line(b, "b").is_none()
            && b.contains("ecr_exposure_findings_resolved_total{finding=\"missing_tag\"} 1")
    })
    .await;
    assert!(h.calls.load(Ordering::SeqCst) >= 2);
    h.stop().await;
    assert!(state_path.exists(), "state written");

    // Restart: the finding keeps its first-seen time and is not counted as opened again.
    let h = start(
        state_path.clone(),
        repos.clone(),
        Duration::from_secs(3600),
        Duration::from_millis(10),
    )
    .await;
    // Restored findings are exported even before the first cycle.
    let m = wait_for(h.addr, "/-/ready", |s, _| s == 200).await;
    drop(m);
    let m = get(h.addr, "/metrics").await.1;
    assert_eq!(first_seen_line(&m, "a").as_deref(), Some(first.as_str()));
    assert!(
        m.contains("ecr_exposure_findings_opened_total{finding=\"missing_tag\"} 0"),
        "{m}"
    );
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
    let h = start(
        state_path.clone(),
        Arc::new(Mutex::new(vec!["a"])),
        Duration::from_secs(3600),
        Duration::from_millis(10),
    )
    .await;
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
