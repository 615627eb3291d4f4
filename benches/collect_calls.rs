//! API calls per collection cycle against the lower bound, and wall time, at AWS call
//! concurrency 1, 8 and 32 (moto through the test wrapper, on 127.0.0.1).
//!
//!   cargo bench --bench collect_calls
//!   BENCH_ACCOUNTS=2 BENCH_REGIONS=2 BENCH_REPOS=1200 cargo bench --bench collect_calls
//!   BENCH_LATENCY_MS=20 BENCH_REPOS=300 cargo bench --bench collect_calls
//!
//! `BENCH_LATENCY_MS` makes every GetRepositoryPolicy answer that much later (the wrapper's
//! `slow` fault), as a real API's latency would, so that concurrency shows in wall time.
//!
//! Lower bound per target: ceil(repos/1000) DescribeRepositories pages + one
//! GetRepositoryPolicy per repository + ceil(tagged/100) GetResources pages + one
//! GetRegistryPolicy + one GetAccountSetting. Discovery (GetCallerIdentity, AssumeRole and
//! ListRegions per account) is reported apart. Target: collection calls <= 1.05 x bound.
//! Wall time mostly measures moto (one Python process, ~300 requests/s), not the exporter.
//!
//! The scan runs in a child process (this binary with `--child`) so that the emulator's
//! environment (dummy credentials, IMDS off) is set without touching our own environment.
//! Without `--bench` (as under `cargo test --all-targets`) it returns at once.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Instant;

use ecr_exposure_exporter::config::Config;
use ecr_exposure_exporter::cycle::{ScanContext, run_cycle};
use serde_json::{Value, json};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1]);
        return;
    }
    if !args.iter().any(|a| a == "--bench") {
        println!("collect_calls: skipped (run `cargo bench --bench collect_calls`)");
        return;
    }
    let accounts = env_usize("BENCH_ACCOUNTS", 2);
    let regions = env_usize("BENCH_REGIONS", 2);
    let repos = env_usize("BENCH_REPOS", 1200);
    let targets = accounts * regions;
    let latency = env_usize("BENCH_LATENCY_MS", 0);

    let moto = support::Moto::start();
    let t0 = Instant::now();
    let manifest = moto.seed(
        "bench",
        &[
            "--accounts",
            &accounts.to_string(),
            "--regions",
            &regions.to_string(),
            "--repos",
            &repos.to_string(),
        ],
    );
    println!(
        "seeded {} repositories over {targets} targets ({accounts} accounts x {regions} regions) in {:.1}s",
        manifest["repositories"],
        t0.elapsed().as_secs_f64()
    );
    let ids: Vec<String> = manifest["active_accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();

    let per_target = repos.div_ceil(1000) + repos + repos.div_ceil(100) + 2;
    let bound = per_target * targets;
    println!(
        "lower bound: {per_target} calls per target, {bound} per cycle (collection only); \
         GetRepositoryPolicy latency injected: {latency} ms\n"
    );
    println!(
        "{:>11}  {:>8}  {:>10}  {:>6}  {:>9}  {:>9}  {:>8}  {:>12}",
        "concurrency", "wall s", "collection", "ratio", "discovery", "wrapper", "errors", "repos/s"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let mut detail = Vec::new();
    for concurrency in [1usize, 8, 32] {
        let statics: String = ids
            .iter()
            .map(|id| format!("    - id: \"{id}\"\n"))
            .collect();
        let config = moto.write_config(
            dir.path(),
            &format!(
                "accounts:\n  discovery: static\n  static:\n{statics}scan:\n  target_concurrency: {targets}\n"
            ),
        );
        // aws.max_concurrency and per-target concurrency follow the bench's concurrency
        let text = std::fs::read_to_string(&config).expect("config");
        let text = text.replacen(
            "aws:\n",
            &format!(
                "aws:\n  max_concurrency: {concurrency}\n  per_target_concurrency: {concurrency}\n"
            ),
            1,
        );
        std::fs::write(&config, text).expect("config");

        moto.reset_counts();
        if latency > 0 {
            moto.fault(json!({"operation": "GetRepositoryPolicy", "error": "slow",
                              "delay_ms": latency, "count": 1_000_000}));
        }
        let out = std::process::Command::new(std::env::current_exe().expect("exe"))
            .arg("--child")
            .arg(&config)
            .envs(moto.env())
            .output()
            .expect("run child");
        assert!(
            out.status.success(),
            "child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let result: Value = serde_json::from_slice(&out.stdout).expect("child JSON");
        let calls: BTreeMap<String, u64> =
            serde_json::from_value(result["calls"].clone()).expect("calls");
        let wrapper = moto.counts();
        let discovery_ops = [
            "sts:GetCallerIdentity",
            "sts:AssumeRole",
            "account:ListRegions",
        ];
        let discovery: u64 = discovery_ops
            .iter()
            .map(|k| calls.get(*k).copied().unwrap_or(0))
            .sum();
        let collection: u64 = calls.values().sum::<u64>() - discovery;
        let wrapper_total: u64 = wrapper.values().sum();
        let wall = result["wall_seconds"].as_f64().unwrap_or(0.0);
        assert_eq!(
            result["failed_targets"], 0,
            "all targets must succeed: {result}"
        );
        println!(
            "{:>11}  {:>8.2}  {:>10}  {:>6.3}  {:>9}  {:>9}  {:>8}  {:>12.0}",
            concurrency,
            wall,
            collection,
            collection as f64 / bound as f64,
            discovery,
            wrapper_total,
            result["errors"],
            (repos * targets) as f64 / wall
        );
        detail.push((concurrency, calls, wrapper));
    }
    println!("\ncalls per operation (exporter's ApiCallStats | wrapper's request counts):");
    for (concurrency, calls, wrapper) in detail {
        println!("  concurrency {concurrency}:");
        for (op, n) in &calls {
            println!(
                "    {op:<32} {n:>7} | {:>7}",
                wrapper.get(op).copied().unwrap_or(0)
            );
        }
    }
}

/// One cycle in this process, with the emulator's environment; prints the figures as JSON.
fn child(config_path: &str) {
    let config = Config::load(Some(std::path::Path::new(config_path))).expect("bench config");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (cycle, wall, snapshot) = runtime.block_on(async {
        let ctx = ScanContext::new(config).await;
        let t0 = Instant::now();
        let cycle = run_cycle(&ctx).await;
        (cycle, t0.elapsed().as_secs_f64(), ctx.stats().snapshot())
    });
    let calls: BTreeMap<String, u64> = snapshot
        .calls
        .iter()
        .map(|c| (format!("{}:{}", c.service, c.operation), c.count))
        .collect();
    let errors: u64 = snapshot.errors.iter().map(|e| e.count).sum();
    let failed = cycle.outcomes.iter().filter(|o| o.result.is_err()).count();
    println!(
        "{}",
        json!({
            "wall_seconds": wall,
            "calls": calls,
            "errors": errors,
            "failed_targets": failed,
            "targets": cycle.outcomes.len(),
        })
    );
}
