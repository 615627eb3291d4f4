//! Golden `/metrics`: the daemon against moto with the fixed `demo` estate, one cycle (a long
//! interval) and events on (an empty queue: the event families with their zero series),
//! scraped once; the scrape with only its volatile values masked (durations,
//! timestamps, the build revision and version) must equal `tests/golden/metrics.txt` byte for
//! byte, and pass `promtool check metrics`. A change of metric name, HELP, TYPE, label set,
//! label order or value shows as one diff.
//!
//! Regenerate after an intended change, then review the diff:
//! `UPDATE_GOLDEN=1 cargo test --test metrics_golden` (with the moto env of scripts/test.sh).

mod daemon_support;

use std::time::Duration;

use daemon_support::*;

const GOLDEN: &str = "tests/golden/metrics.txt";
const READY: Duration = Duration::from_secs(120);

/// Whether a sample of this metric family carries a value that changes from run to run.
fn volatile(name: &str) -> bool {
    ["duration", "timestamp"].iter().any(|w| name.contains(w))
}

/// Whether a sample's value depends on timing: the SQS calls of the event consumer's polls.
fn volatile_sample(line: &str) -> bool {
    line.contains("service=\"sqs\"")
}

/// Masks volatile sample values and the build labels, and sorts the samples within each family
/// (the exposition format gives their order no meaning, and counters appear in the order
/// targets complete); every other byte is kept.
fn normalise(scrape: &str) -> String {
    let mut out = String::with_capacity(scrape.len());
    let mut samples: Vec<String> = Vec::new();
    let flush = |out: &mut String, samples: &mut Vec<String>| {
        samples.sort();
        for s in samples.drain(..) {
            out.push_str(&s);
            out.push('\n');
        }
    };
    for line in scrape.lines() {
        if line.starts_with('#') || line.is_empty() {
            flush(&mut out, &mut samples);
            out.push_str(line);
            out.push('\n');
        } else {
            let name_end = line.find(['{', ' ']).unwrap_or(line.len());
            let mut l = line.to_string();
            if line[..name_end].ends_with("build_info") {
                l = mask_label(&mask_label(&l, "revision"), "version");
            }
            if volatile(&line[..name_end]) || volatile_sample(line) {
                if let Some(space) = l.rfind(' ') {
                    l.truncate(space);
                    l.push_str(" <volatile>");
                }
            }
            samples.push(l);
        }
    }
    flush(&mut out, &mut samples);
    out
}

fn mask_label(line: &str, label: &str) -> String {
    let key = format!("{label}=\"");
    let Some(start) = line.find(&key).map(|i| i + key.len()) else {
        return line.to_string();
    };
    let end = line[start..].find('"').map_or(line.len(), |e| start + e);
    format!("{}<volatile>{}", &line[..start], &line[end..])
}

/// First differing line, for a readable failure.
fn compare(got: &str, want: &str) -> Result<(), String> {
    if got == want {
        return Ok(());
    }
    let (g, w): (Vec<_>, Vec<_>) = (got.lines().collect(), want.lines().collect());
    let at = g
        .iter()
        .zip(&w)
        .position(|(a, b)| a != b)
        .unwrap_or(g.len().min(w.len()));
    Err(format!(
        "scrape differs from {GOLDEN} at line {}:\n  got:  {:?}\n  want: {:?}\n(regenerate with UPDATE_GOLDEN=1 if intended)",
        at + 1,
        g.get(at),
        w.get(at)
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_match_the_golden_file() {
    let moto = Moto::start();
    // Seed moto's random generator, so the organization and member account ids are the same
    // on every run (moto's own `/moto-api/seed`).
    let seeded = reqwest::Client::new()
        .post(format!("{}/moto-api/seed?a=13", moto.endpoint()))
        .send()
        .await
        .expect("seed moto");
    assert!(
        seeded.status().is_success(),
        "moto seed: {}",
        seeded.status()
    );
    moto.seed("demo");
    let queue: serde_json::Value =
        serde_json::from_str(&moto.events_fixture(&["setup", "--queue", "golden"])).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &moto.endpoint(),
        &dir.path().join("state.json"),
        "1h",
        &format!(
            "events:\n  sqs_queue_url: \"{}\"\n  wait_time: 0s\n",
            queue["queue_url"].as_str().unwrap()
        ),
    );
    let exp = Exporter::start(&config, free_port(), &dir.path().join("log"), &[]);
    let client = reqwest::Client::new();
    wait_for(&client, &exp.url("/-/ready"), READY, &exp, |s, _| s == 200).await;
    let body = wait_for(&client, &exp.url("/metrics"), READY, &exp, |s, b| {
        s == 200 && b.contains("ecr_exposure_event_queue_last_receive_timestamp_seconds ")
    })
    .await;

    let scrape = dir.path().join("scrape.prom");
    std::fs::write(&scrape, &body).unwrap();
    let out = std::process::Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&scrape).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let got = normalise(&body);
    let path = repo_root().join(GOLDEN);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    let want = std::fs::read_to_string(&path).expect("golden file (UPDATE_GOLDEN=1 writes it)");
    compare(&got, &want).unwrap_or_else(|e| panic!("{e}"));
}

/// The comparison catches a changed HELP line, and masking leaves HELP text alone.
#[test]
fn a_changed_help_line_fails_the_comparison() {
    let want = std::fs::read_to_string(repo_root().join(GOLDEN)).unwrap();
    let help = want
        .lines()
        .find(|l| l.starts_with("# HELP "))
        .expect("the golden file has HELP lines");
    let changed = want.replacen(help, &format!("{help} (changed)"), 1);
    let err = compare(&normalise(&changed), &want).unwrap_err();
    assert!(err.contains("(changed)"), "{err}");
    assert_eq!(compare(&normalise(&want), &want), Ok(()));
}

#[test]
fn normalising_masks_only_volatile_values() {
    let text = "# HELP x_duration_seconds d\nx_duration_seconds 0.25\n# TYPE x_total counter\nx_total{a=\"c\"} 4\nx_total{a=\"b\"} 3\n# HELP x_build_info b\nx_build_info{revision=\"abc\",version=\"0.1.0\",rustc=\"1\"} 1\n";
    assert_eq!(
        normalise(text),
        "# HELP x_duration_seconds d\nx_duration_seconds <volatile>\n# TYPE x_total counter\nx_total{a=\"b\"} 3\nx_total{a=\"c\"} 4\n# HELP x_build_info b\nx_build_info{revision=\"<volatile>\",version=\"<volatile>\",rustc=\"1\"} 1\n"
    );
}
