//! The exporter binary against the moto wrapper with the demo estate: scrape and promtool,
//! a policy change seen on the next cycle, first-seen kept across kill -9, SIGTERM exits 0 and
//! persists, an expiring exception re-opens a finding.

mod daemon_support;

use std::io::Read;
use std::time::Duration;

use daemon_support::*;

/// The tests here each run moto and the exporter; one at a time keeps 2 cores usable.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const READY: Duration = Duration::from_secs(90);
const PUBLIC_WEB: [(&str, &str); 4] = [
    ("account_id", MGMT),
    ("region", "us-east-1"),
    ("repository", "web-public"),
    ("scope", "public"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrape_passes_promtool_and_a_policy_change_shows_on_the_next_cycle() {
    let _serial = SERIAL.lock().await;
    let moto = Moto::start();
    moto.seed("demo");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &moto.endpoint(),
        &dir.path().join("state.json"),
        "2s",
        "",
    );
    let exp = Exporter::start(&config, free_port(), &dir.path().join("log"), &[]);
    let client = reqwest::Client::new();
    wait_for(&client, &exp.url("/-/ready"), READY, &exp, |s, _| s == 200).await;
    let body = wait_for(&client, &exp.url("/metrics"), READY, &exp, |_, b| {
        series(b, "ecr_exposure_repository_exposed", &PUBLIC_WEB).is_some()
    })
    .await;

    // promtool lints a full scrape (text format 0.0.4).
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
    for metric in [
        "ecr_exposure_repository_info",
        "ecr_exposure_repositories",
        "ecr_exposure_scan_success",
        "ecr_exposure_aws_api_requests_total",
        "ecr_exposure_finding_first_seen_timestamp_seconds",
        "ecr_exposure_build_info",
    ] {
        assert!(
            body.lines().any(|l| l.starts_with(metric)),
            "{metric} missing"
        );
    }
    let owner = series(
        &body,
        "ecr_exposure_repository_info",
        &[
            ("account_id", MGMT),
            ("region", "us-east-1"),
            ("repository", "web-public"),
        ],
    )
    .expect("repository_info for web-public");
    assert!(owner.contains("owner_tag=\"team-web\""), "{owner}");

    // OpenMetrics by negotiation; gzip when asked.
    let om = client
        .get(exp.url("/metrics"))
        .header(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )
        .send()
        .await
        .unwrap();
    assert!(
        om.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    assert!(om.text().await.unwrap().ends_with("# EOF\n"));
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let gz = raw
        .get(exp.url("/metrics"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let bytes = gz.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.contains("ecr_exposure_build_info"));

    // private-none has no policy: make it public in moto and watch the next cycle see it.
    let private = [
        ("account_id", MGMT),
        ("region", "us-east-1"),
        ("repository", "private-none"),
        ("scope", "public"),
    ];
    assert!(series(&body, "ecr_exposure_repository_exposed", &private).is_none());
    moto.set_repository_policy(
        MGMT,
        "us-east-1",
        "private-none",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"pub","Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}"#,
    );
    let body = wait_for(&client, &exp.url("/metrics"), READY, &exp, |_, b| {
        series(b, "ecr_exposure_repository_exposed", &private).is_some()
    })
    .await;
    assert!(
        series(&body, "ecr_exposure_repository_exposed", &private)
            .unwrap()
            .contains("access=\"read\"")
    );
    let (s, findings) = get(
        &client,
        &exp.url(&format!(
            "/findings?account_id={MGMT}&region=us-east-1&scope=public"
        )),
    )
    .await
    .unwrap();
    assert_eq!(s, 200);
    let repos: Vec<String> = findings
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["repository"].to_string())
        .collect();
    assert!(
        repos.contains(&"\"private-none\"".to_string()),
        "{findings}"
    );
    assert!(repos.contains(&"\"web-public\"".to_string()), "{findings}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_seen_survives_kill_9_and_sigterm_persists_and_exits_0() {
    let _serial = SERIAL.lock().await;
    let moto = Moto::start();
    moto.seed("demo");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let config = write_config(dir.path(), &moto.endpoint(), &state, "2s", "");
    let client = reqwest::Client::new();
    let first_seen_labels = [
        ("account_id", MGMT),
        ("region", "us-east-1"),
        ("repository", "web-public"),
        ("finding", "public_exposure"),
    ];

    let mut exp = Exporter::start(&config, free_port(), &dir.path().join("log1"), &[]);
    let body = wait_for(&client, &exp.url("/metrics"), READY, &exp, |_, b| {
        series(
            b,
            "ecr_exposure_finding_first_seen_timestamp_seconds",
            &first_seen_labels,
        )
        .is_some()
    })
    .await;
    let before = series(
        &body,
        "ecr_exposure_finding_first_seen_timestamp_seconds",
        &first_seen_labels,
    )
    .unwrap()
    .to_string();
    assert!(state.exists(), "state persisted after the first cycle");
    // Let a few seconds pass so that a re-opened finding would get a different time.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    exp.proc.child.kill().unwrap(); // SIGKILL
    exp.wait_exit(Duration::from_secs(5));

    let mut exp = Exporter::start(&config, free_port(), &dir.path().join("log2"), &[]);
    wait_for(&client, &exp.url("/-/ready"), READY, &exp, |s, _| s == 200).await;
    let body = get(&client, &exp.url("/metrics")).await.unwrap().1;
    let after = series(
        &body,
        "ecr_exposure_finding_first_seen_timestamp_seconds",
        &first_seen_labels,
    )
    .expect("finding still open after restart");
    assert_eq!(after, before, "first-seen preserved across kill -9");
    let opened = series(
        &body,
        "ecr_exposure_findings_opened_total",
        &[("finding", "public_exposure")],
    )
    .expect("opened counter");
    assert_eq!(
        value(opened),
        0.0,
        "an opening persisted before the kill is not counted again"
    );

    exp.signal("-TERM");
    let status = exp.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "log:\n{}", exp.log_text());
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(saved.contains("web-public"), "{saved}");
    assert!(exp.log_text().contains("stopped"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_exception_reopens_the_finding() {
    let _serial = SERIAL.lock().await;
    let moto = Moto::start();
    moto.seed("demo");
    let dir = tempfile::tempdir().unwrap();
    let expires = time::OffsetDateTime::now_utc() + Duration::from_secs(20);
    let expires = expires
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let extra = format!(
        r#"exceptions:
  - account_id: "{MGMT}"
    region: us-east-1
    repository: "web-*"
    finding: public_exposure
    reason: "public website images, accepted until the CDN migration"
    expires: "{expires}"
"#
    );
    // One cycle only (1h interval): the expiry must take effect without a new scan.
    let config = write_config(
        dir.path(),
        &moto.endpoint(),
        &dir.path().join("state.json"),
        "1h",
        &extra,
    );
    let exp = Exporter::start(&config, free_port(), &dir.path().join("log"), &[]);
    let client = reqwest::Client::new();
    let labels = [
        ("account_id", MGMT),
        ("region", "us-east-1"),
        ("repository", "web-public"),
    ];
    let body = wait_for(&client, &exp.url("/metrics"), READY, &exp, |s, _| s == 200).await;
    let body = if series(&body, "ecr_exposure_scan_success", &[("account_id", MGMT)]).is_none() {
        wait_for(&client, &exp.url("/metrics"), READY, &exp, |_, b| {
            series(b, "ecr_exposure_scan_success", &[("account_id", MGMT)]).is_some()
        })
        .await
    } else {
        body
    };
    // The scrape must come from before the expiry, or this test checks nothing.
    assert!(
        time::OffsetDateTime::now_utc()
            < time::OffsetDateTime::parse(&expires, &time::format_description::well_known::Rfc3339)
                .unwrap(),
        "the first cycle took longer than the exception's 20 s lifetime; log:\n{}",
        exp.log_text()
    );
    {
        assert!(
            series(&body, "ecr_exposure_finding_suppressed", &labels).is_some()
                && series(&body, "ecr_exposure_repository_exposed", &labels).is_none(),
            "suppressed while the exception holds:\n{body}"
        );
        let expiry = series(
            &body,
            "ecr_exposure_finding_suppression_expiry_timestamp_seconds",
            &labels,
        )
        .expect("expiry series");
        assert!(value(expiry) > 0.0);
    }
    let body = wait_for(
        &client,
        &exp.url("/metrics"),
        Duration::from_secs(40),
        &exp,
        |_, b| series(b, "ecr_exposure_repository_exposed", &labels).is_some(),
    )
    .await;
    assert!(series(&body, "ecr_exposure_finding_suppressed", &labels).is_none());
    assert!(body.contains("ecr_exposure_exceptions{state=\"expired\"} 1"));
    // The log says so (once).
    let start = std::time::Instant::now();
    while !exp.log_text().contains("exception expired") {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no expiry log line:\n{}",
            exp.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(exp.log_text().matches("exception expired").count(), 1);
}
