//! Event-driven rescans against the moto wrapper, with `BENCH_LATENCY_MS` (default 30) added
//! to every ECR and SQS call the consumer makes (the wrapper's `slow` fault):
//!
//! 1. throughput: `BENCH_EVENTS` SetRepositoryPolicy events over `BENCH_REPOS` repositories
//!    wait in the queue; the exporter (the real binary, `serve`, scans an hour apart) drains
//!    them; printed as rescans per second between the first and the last rescan;
//! 2. detection latency: `BENCH_DRIVE` repositories are made public one after another, each
//!    followed by its CloudTrail-shaped event through moto's EventBridge rule into the queue;
//!    the time from `PutEvents` returning to the exposure showing on /metrics (polled every
//!    25 ms) is printed as p50 / p95 / max.
//!
//!   cargo bench --bench events_throughput
//!   BENCH_EVENTS=1000 BENCH_LATENCY_MS=30 BENCH_DRIVE=40 cargo bench --bench events_throughput
//!
//! First, the same drain in this process against a fake queue and fake reads with the same
//! latency (`BENCH_FAKE_EVENTS`, default 2000; `BENCH_FAKE_ONLY=1` stops there): the
//! exporter's own ceiling, which moto hides.
//!
//! Prints figures, asserts nothing. Moto (one Python process, ~300 requests/s) is the ceiling
//! here: a repository rescan is 3 ECR calls plus one DeleteMessage. Without `--bench` (as
//! under `cargo test --all-targets`) it returns at once.

#[path = "events_throughput/fake.rs"]
mod events_fake;
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn fixture(moto: &support::Moto, args: &[&str]) -> String {
    let out = Command::new(support::python())
        .arg(support::repo_root().join("tests/support/events_fixture.py"))
        .args(["--endpoint", &moto.endpoint])
        .args(args)
        .output()
        .expect("run events_fixture.py");
    assert!(
        out.status.success(),
        "events_fixture {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn sample(body: &str, prefix: &str) -> f64 {
    body.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// GET `/metrics` (async reqwest on a small runtime: the dev-dependency has no blocking client).
struct Scraper {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    url: String,
}

impl Scraper {
    fn get(&self) -> String {
        self.rt.block_on(async {
            match self
                .client
                .get(&self.url)
                .timeout(Duration::from_secs(5))
                .send()
                .await
            {
                Ok(r) => r.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            }
        })
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("events_throughput: skipped (run `cargo bench --bench events_throughput`)");
        return;
    }
    let events = env_usize("BENCH_EVENTS", 600);
    let repos = env_usize("BENCH_REPOS", 100);
    let drive = env_usize("BENCH_DRIVE", 40);
    let latency = env_usize("BENCH_LATENCY_MS", 30);
    events_fake::run(
        env_usize("BENCH_FAKE_EVENTS", 2000),
        20,
        Duration::from_millis(latency as u64),
    );
    if std::env::var_os("BENCH_FAKE_ONLY").is_some() {
        return;
    }

    let moto = support::Moto::start();
    let setup: Value =
        serde_json::from_str(&fixture(&moto, &["setup", "--queue", "bench"])).unwrap();
    let queue = setup["queue_url"].as_str().unwrap().to_string();
    fixture(
        &moto,
        &["make-repos", "--prefix", "r", "--count", &repos.to_string()],
    );
    fixture(
        &moto,
        &["make-repos", "--prefix", "p", "--count", &drive.to_string()],
    );
    let t0 = Instant::now();
    fixture(
        &moto,
        &[
            "flood",
            "--queue-url",
            &queue,
            "--prefix",
            "r",
            "--repos",
            &repos.to_string(),
            "--count",
            &events.to_string(),
        ],
    );
    println!(
        "queued {events} events over {repos} repositories in {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    if latency > 0 {
        for op in [
            "DescribeRepositories",
            "GetRepositoryPolicy",
            "ListTagsForResource",
            "GetRegistryPolicy",
            "ReceiveMessage",
            "DeleteMessage",
        ] {
            moto.fault(json!({"operation": op, "error": "slow", "delay_ms": latency, "count": 100_000_000}));
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let config = moto.write_config(
        dir.path(),
        &format!(
            "regions: [us-east-1]\naccounts:\n  discovery: current\nscan:\n  interval: 1h\n  jitter: 0s\nstate:\n  path: {}\nevents:\n  sqs_queue_url: \"{queue}\"\n  wait_time: 1s\n",
            dir.path().join("state.json").display()
        ),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let log = std::fs::File::create(dir.path().join("log")).unwrap();
    let mut exporter = moto
        .exporter()
        .arg("--config.file")
        .arg(&config)
        .args(["--web.listen-address", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start the exporter");
    let scraper = Scraper {
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        client: reqwest::Client::new(),
        url: format!("http://127.0.0.1:{port}/metrics"),
    };

    // 1. throughput
    let ok = "ecr_exposure_event_rescans_total{result=\"ok\"}";
    let limit = Instant::now() + Duration::from_secs(600);
    let mut first: Option<(Instant, f64)> = None;
    let mut last = (Instant::now(), 0.0);
    while Instant::now() < limit {
        let n = sample(&scraper.get(), ok);
        if n > 0.0 && first.is_none() {
            first = Some((Instant::now(), n));
        }
        last = (Instant::now(), n);
        if n >= events as f64 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let counts = moto.counts();
    match first {
        Some((t1, n1)) if last.1 > n1 => {
            let secs = (last.0 - t1).as_secs_f64();
            println!(
                "throughput: {} rescans in {secs:.2}s = {:.1} rescans/s (latency {latency} ms per call; moto counted {} DescribeRepositories, {} DeleteMessage, {} ReceiveMessage)",
                last.1 - n1,
                (last.1 - n1) / secs,
                counts.get("ecr:DescribeRepositories").copied().unwrap_or(0),
                counts.get("sqs:DeleteMessage").copied().unwrap_or(0),
                counts.get("sqs:ReceiveMessage").copied().unwrap_or(0),
            );
        }
        _ => println!("throughput: no rescan seen ({} ok)", last.1),
    }

    // 2. detection latency, event by event
    let sent: Arc<Mutex<BTreeMap<String, f64>>> = Arc::default();
    let mut driver = Command::new(support::python())
        .arg(support::repo_root().join("tests/support/events_fixture.py"))
        .args(["--endpoint", &moto.endpoint, "drive", "--prefix", "p"])
        .args(["--count", &drive.to_string(), "--interval", "0.5"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the driver");
    let out = driver.stdout.take().unwrap();
    let record = sent.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                let repo = v["repo"].as_str().unwrap_or_default().to_string();
                record
                    .lock()
                    .unwrap()
                    .insert(repo, v["sent"].as_f64().unwrap_or(0.0));
            }
        }
    });
    let mut seen: BTreeMap<String, f64> = BTreeMap::new();
    let limit = Instant::now() + Duration::from_secs(120 + drive as u64);
    while seen.len() < drive && Instant::now() < limit {
        let body = scraper.get();
        let at = unix(SystemTime::now());
        for line in body
            .lines()
            .filter(|l| l.starts_with("ecr_exposure_repository_exposed{"))
        {
            if let Some(repo) = line
                .split("repository=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .filter(|r| r.starts_with('p'))
            {
                seen.entry(repo.to_string()).or_insert(at);
            }
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = driver.wait();
    let _ = reader.join();
    let sent = sent.lock().unwrap();
    let mut latencies: Vec<f64> = seen
        .iter()
        .filter_map(|(repo, at)| sent.get(repo).map(|s| (at - s).max(0.0)))
        .collect();
    latencies.sort_by(f64::total_cmp);
    let q = |p: f64| {
        latencies[((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1]
    };
    if latencies.is_empty() {
        println!("detection latency: nothing detected");
    } else {
        println!(
            "detection latency (PutEvents -> /metrics, {} events, {latency} ms per call): p50 {:.3}s p95 {:.3}s max {:.3}s",
            latencies.len(),
            q(0.50),
            q(0.95),
            latencies[latencies.len() - 1]
        );
    }
    let body = scraper.get();
    println!(
        "exporter histogram (from CloudTrail eventTime, whole seconds): count {} sum {:.1}s",
        sample(&body, "ecr_exposure_detection_latency_seconds_count"),
        sample(&body, "ecr_exposure_detection_latency_seconds_sum")
    );
    let _ = exporter.kill();
    let _ = exporter.wait();
}
