//! Render `/metrics` for a synthetic snapshot: 100,000 repositories over 20 targets, 1%
//! publicly exposed, 20% missing the owner tag. Reports render time (text and OpenMetrics,
//! plus gzip) and peak RSS (VmHWM). Targets: under 50 ms and under 150 MB.
//!
//! `cargo bench --bench metrics_render` runs the full size; without `--bench` (as `cargo test
//! --all-targets` runs it) a tiny snapshot checks that the code path works.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ecr_exposure_exporter::analysis::policy::Access;
use ecr_exposure_exporter::analysis::{PolicyReport, PolicyState, RepositoryReport, TargetReport};
use ecr_exposure_exporter::facts::{TagsSource, TargetId};
use ecr_exposure_exporter::metrics::{Format, Metrics, SnapshotCollector};
use ecr_exposure_exporter::snapshot::SnapshotCell;
use ecr_exposure_exporter::state::{Clock, Exceptions, ManualClock, ScanResult, Tracker};

fn vm_hwm_kib() -> Option<u64> {
    vm_kib("VmHWM:")
}

fn vm_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn repo(account: &str, region: &str, i: usize) -> RepositoryReport {
    let name = format!("team-{}/service-{i:06}", i % 97);
    let exposed = i % 100 == 0;
    let untagged = i % 5 == 1;
    let mut tags = BTreeMap::new();
    if !untagged {
        tags.insert("owner".to_string(), format!("team-{}", i % 97));
    }
    tags.insert("managed-by".to_string(), "terraform".to_string());
    RepositoryReport {
        account_id: account.to_string(),
        region: region.to_string(),
        arn: format!("arn:aws:ecr:{region}:{account}:repository/{name}"),
        repository: name,
        created_at: None,
        tags,
        tags_source: TagsSource::TaggingApi,
        policy: PolicyReport {
            policy_state: PolicyState::Ok,
            public: Some(exposed),
            cross_account: Some(false),
            access: Some(if exposed { Access::Read } else { Access::None }),
            network_restricted: Some(false),
            grants: vec![],
            error: None,
            unknown_reason: None,
        },
        missing_tags: if untagged {
            vec!["owner".to_string()]
        } else {
            vec![]
        },
        iac_managed: true,
        managed_by: Some("terraform".to_string()),
        owner: (!untagged).then(|| format!("team-{}", i % 97)),
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (targets, per_target, runs) = if full { (20, 5_000, 15) } else { (2, 50, 2) };
    let clock = Arc::new(ManualClock::at_unix(1_700_000_000));
    let exceptions = Arc::new(Exceptions::default());
    // Fed one target per cycle (nothing is forgotten), so that the full reports of only one
    // target exist at a time, as the snapshot keeps them trimmed.
    let mut tracker = Tracker::new(exceptions.clone()).with_forget_after(u32::MAX);
    let mut n = 0;
    for t in 0..targets {
        let account = format!("{:012}", 100_000_000_000u64 + t as u64 / 2);
        let region = if t % 2 == 0 { "eu-west-1" } else { "us-east-1" };
        let target = TargetId {
            account_id: account.clone(),
            region: region.to_string(),
        };
        let repositories = (0..per_target).map(|_| {
            n += 1;
            repo(&account, region, n)
        });
        let result = ScanResult {
            target: target.clone(),
            duration_seconds: 1.0,
            result: Ok(TargetReport {
                target,
                repositories: repositories.collect(),
                registry: None,
            }),
        };
        tracker.apply_cycle(vec![result], clock.now(), 10.0);
    }
    let cell = Arc::new(SnapshotCell::new(tracker.snapshot()));
    let open = tracker.open_findings();
    drop(tracker);
    let metrics = Metrics::new(SnapshotCollector {
        cell,
        clock,
        exceptions,
        required_tags: vec!["owner".into()],
        api_stats: None,
        shard: ecr_exposure_exporter::discovery::ShardSpec::SINGLE,
    });
    let hwm_before = vm_hwm_kib().unwrap_or(0);
    let rss_snapshot = vm_kib("VmRSS:").unwrap_or(0);
    // Reset the peak (clear_refs 5) so that the figure below is the peak while rendering
    // with the snapshot loaded, without the transient cost of building the synthetic data.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();

    let report = |label: &str, f: &dyn Fn() -> usize| {
        let mut times: Vec<Duration> = Vec::new();
        let mut size = 0;
        for _ in 0..runs {
            let t = Instant::now();
            size = f();
            times.push(t.elapsed());
        }
        times.sort();
        let med = times[times.len() / 2];
        println!(
            "{label:<28} median {:>8.2} ms  min {:>8.2} ms  max {:>8.2} ms  ({size} bytes)",
            med.as_secs_f64() * 1e3,
            times[0].as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3
        );
        med
    };
    println!(
        "snapshot: {} repositories in {targets} targets, {open} open findings",
        targets * per_target
    );
    let text = report("render text 0.0.4", &|| metrics.render(Format::Text).len());
    report("render OpenMetrics", &|| {
        metrics.render(Format::OpenMetrics).len()
    });
    report("render text + gzip", &|| {
        let body = metrics.render(Format::Text);
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(body.as_bytes()).unwrap();
        enc.finish().unwrap().len()
    });
    let body = metrics.render(Format::Text);
    let series = body.lines().filter(|l| !l.starts_with('#')).count();
    let hwm = vm_hwm_kib().unwrap_or(0);
    println!("series: {series}");
    println!(
        "RSS holding the snapshot: {:.1} MiB; peak while building the synthetic data: {:.1} MiB",
        rss_snapshot as f64 / 1024.0,
        hwm_before as f64 / 1024.0
    );
    println!(
        "peak RSS (VmHWM) while rendering{}: {:.1} MiB",
        if reset {
            ""
        } else {
            " (peak reset unavailable: whole-process peak)"
        },
        hwm as f64 / 1024.0
    );
    if full {
        println!(
            "targets: render < 50 ms: {}; peak RSS < 150 MB: {}",
            if text < Duration::from_millis(50) {
                "met"
            } else {
                "NOT met"
            },
            if (hwm as f64) * 1024.0 < 150e6 {
                "met"
            } else {
                "NOT met"
            }
        );
    }
    assert!(series > 0);
}
