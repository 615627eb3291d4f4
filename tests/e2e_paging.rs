//! End-to-end paging: the exporter scans moto, a real Prometheus evaluates the shipped rules
//! (`alerts/ecr-exposure.rules.yml`, unchanged: the finding alerts have no `for`), and a real
//! Alertmanager routes with the shipped example configuration (`config/alertmanager.example.yml`,
//! with every receiver replaced by a webhook to this test named after the receiver, and the
//! timers shortened to `group_wait: 0s`, `group_interval: 1s`).
//!
//! A public policy set in moto pages (`security-pager`) and reaches the owner's route
//! (`team-payments`) with repository, account, region, owner_tag and runbook_url; removing it
//! sends the resolved notification; removing the owner tag raises the missing-owner alert on its
//! own route (`platform-tickets`), never on the pager. With events on and scans an hour apart,
//! a repository made public pages from its CloudTrail event alone (moto's EventBridge rule into
//! the SQS queue). Two shards behind one Prometheus: stopping one holds back its own pages
//! (no false resolution, no repeat when it is back) while the other shard's new exposure pages
//! (that test's `group_interval` is 4s, so that a resolution would have had its chance to go
//! out). Every wait is bounded (90 s); the timings printed are observations, not assertions.

#[path = "assets/common.rs"]
mod common;
#[path = "assets/stack.rs"]
mod stack;
#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use ecr_exposure_exporter::discovery::ShardSpec;

use serde_json::Value;

use common::repo_path;
use stack::{Alertmanager, Delivery, Exporter, Prometheus, Webhook, moto_op, wait_until};
use support::Moto;

const ACCOUNT: &str = "123456789012";
const REPO: &str = "payments-api";

/// The example Alertmanager configuration with webhooks to `hook` and test timers.
fn alertmanager_config(hook: &Webhook) -> String {
    alertmanager_config_with(hook, "1s")
}

/// The same with another `group_interval`: how often a group that has already notified may
/// notify again (5m in the example).
fn alertmanager_config_with(hook: &Webhook, group_interval: &str) -> String {
    let text = std::fs::read_to_string(repo_path("config/alertmanager.example.yml")).unwrap();
    let mut config: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let route = &mut config["route"];
    route["group_wait"] = "0s".into();
    route["group_interval"] = group_interval.into();
    route["repeat_interval"] = "1h".into();
    for receiver in config["receivers"].as_sequence_mut().unwrap() {
        let name = receiver["name"].as_str().unwrap().to_string();
        let mut replaced = serde_norway::Mapping::new();
        replaced.insert("name".into(), name.clone().into());
        let webhook: serde_norway::Value = serde_norway::from_str(&format!(
            "[{{url: '{}', send_resolved: true}}]",
            hook.url(&format!("/{name}"))
        ))
        .unwrap();
        replaced.insert("webhook_configs".into(), webhook);
        *receiver = serde_norway::Value::Mapping(replaced);
    }
    serde_norway::to_string(&config).unwrap()
}

/// Alerts named `alertname` with `status` in the deliveries to `path`.
fn alerts_in(deliveries: &[Delivery], path: &str, alertname: &str, status: &str) -> Vec<Value> {
    deliveries
        .iter()
        .filter(|d| d.path == path)
        .flat_map(|d| d.body["alerts"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["labels"]["alertname"] == alertname && a["status"] == status)
        .collect()
}

#[test]
fn public_policy_pages_resolves_and_missing_owner_goes_to_tickets() {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start();
    moto_op(
        &moto,
        ACCOUNT,
        &[
            "create-repo",
            REPO,
            "owner=team-payments",
            "managed-by=terraform",
        ],
    );
    let config = moto.write_config(
        dir.path(),
        &format!(
            "regions: [us-east-1]\naccounts:\n  discovery: current\ntags:\n  required: [owner]\nscan:\n  interval: 2s\n  jitter: 0s\n  timeout: 30s\nstate:\n  path: {}\n",
            dir.path().join("state.json").display()
        ),
    );

    let hook = Webhook::start();
    let mut am = Alertmanager::start(dir.path(), &alertmanager_config(&hook));
    let mut exporter = Exporter::start(&moto, &config, dir.path());
    let mut prom = Prometheus::start(
        dir.path(),
        exporter.port,
        &[repo_path("alerts/ecr-exposure.rules.yml")],
        Some(am.port),
    );
    let api = prom.api();
    let started = Instant::now();

    // The repository is scanned and scraped, owned and private: nothing pages.
    let info = format!("ecr_exposure_repository_info{{repository=\"{REPO}\"}}");
    let series = wait_until(
        "the repository's info series in Prometheus",
        &mut [&mut exporter.proc, &mut prom.proc, &mut am.proc],
        || Some(api.query(&info)).filter(|r| !r.is_empty()),
    );
    assert_eq!(series[0]["metric"]["owner_tag"], "team-payments");
    eprintln!(
        "first scrape with the repository after {:?}",
        started.elapsed()
    );
    assert!(
        api.query("ALERTS{alertname=~\"EcrExposureRepositoryPublic.*\"}")
            .is_empty()
    );

    // Public: page, with everything a responder needs.
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AnyonePulls",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
        }]
    });
    let t0 = Instant::now();
    moto_op(&moto, ACCOUNT, &["set-policy", REPO, &policy.to_string()]);
    let paged = wait_until(
        "EcrExposureRepositoryPublic firing at the security-pager webhook",
        &mut [&mut exporter.proc, &mut prom.proc, &mut am.proc],
        || {
            alerts_in(
                &hook.deliveries(),
                "/security-pager",
                "EcrExposureRepositoryPublic",
                "firing",
            )
            .into_iter()
            .next()
        },
    );
    eprintln!("public policy -> page after {:?}", t0.elapsed());
    let labels = &paged["labels"];
    assert_eq!(labels["repository"], REPO);
    assert_eq!(labels["account_id"], ACCOUNT);
    assert_eq!(labels["region"], "us-east-1");
    assert_eq!(labels["owner_tag"], "team-payments");
    assert_eq!(labels["severity"], "critical");
    assert_eq!(labels["access"], "read");
    let runbook = paged["annotations"]["runbook_url"]
        .as_str()
        .unwrap_or_default();
    assert!(
        runbook.ends_with("docs/runbooks.md#ecrexposurerepositorypublic"),
        "runbook_url {runbook}"
    );
    let description = paged["annotations"]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(
        description.contains(REPO) && description.contains("team-payments"),
        "{description}"
    );
    // The owner's route hears of it too (`continue: true` on the critical route).
    wait_until(
        "the page at the owner's (team-payments) webhook",
        &mut [&mut exporter.proc, &mut prom.proc, &mut am.proc],
        || {
            alerts_in(
                &hook.deliveries(),
                "/team-payments",
                "EcrExposureRepositoryPublic",
                "firing",
            )
            .into_iter()
            .next()
        },
    );

    // Fixed: the resolved notification follows.
    let t1 = Instant::now();
    moto_op(&moto, ACCOUNT, &["delete-policy", REPO]);
    let resolved = wait_until(
        "EcrExposureRepositoryPublic resolved at the security-pager webhook",
        &mut [&mut exporter.proc, &mut prom.proc, &mut am.proc],
        || {
            alerts_in(
                &hook.deliveries(),
                "/security-pager",
                "EcrExposureRepositoryPublic",
                "resolved",
            )
            .into_iter()
            .next()
        },
    );
    eprintln!("policy removed -> resolved after {:?}", t1.elapsed());
    assert_eq!(resolved["labels"]["repository"], REPO);

    // Untagged: an info ticket on its own route, per account, and never a page.
    let t2 = Instant::now();
    moto_op(&moto, ACCOUNT, &["untag", REPO, "owner"]);
    let ticket = wait_until(
        "EcrExposureRepositoryMissingOwnerTag at the platform-tickets webhook",
        &mut [&mut exporter.proc, &mut prom.proc, &mut am.proc],
        || {
            alerts_in(
                &hook.deliveries(),
                "/platform-tickets",
                "EcrExposureRepositoryMissingOwnerTag",
                "firing",
            )
            .into_iter()
            .next()
        },
    );
    eprintln!("owner tag removed -> ticket after {:?}", t2.elapsed());
    assert_eq!(ticket["labels"]["account_id"], ACCOUNT);
    assert_eq!(ticket["labels"]["severity"], "info");
    assert!(
        ticket["labels"].get("repository").is_none(),
        "aggregated per account"
    );
    let deliveries = hook.deliveries();
    for pager in [
        "/security-pager",
        "/security-team",
        "/team-payments",
        "/owner-router",
    ] {
        assert!(
            alerts_in(
                &deliveries,
                pager,
                "EcrExposureRepositoryMissingOwnerTag",
                "firing"
            )
            .is_empty(),
            "the missing-owner alert reached {pager}"
        );
    }
    eprintln!("whole scenario: {:?}", started.elapsed());
}

#[test]
fn an_exposure_pages_from_its_event_while_scans_are_an_hour_apart() {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start();
    moto_op(
        &moto,
        ACCOUNT,
        &["create-repo", REPO, "owner=team-payments"],
    );
    let setup: Value =
        serde_json::from_str(&moto.events_fixture(&["setup", "--queue", "ecr-events"])).unwrap();
    let queue = setup["queue_url"].as_str().unwrap();
    let config = moto.write_config(
        dir.path(),
        &format!(
            "regions: [us-east-1]\naccounts:\n  discovery: current\ntags:\n  required: [owner]\nscan:\n  interval: 1h\n  jitter: 0s\n  timeout: 30s\nstate:\n  path: {}\nevents:\n  sqs_queue_url: \"{queue}\"\n  wait_time: 1s\n",
            dir.path().join("state.json").display()
        ),
    );
    let hook = Webhook::start();
    let mut am = Alertmanager::start(dir.path(), &alertmanager_config(&hook));
    let mut exporter = Exporter::start(&moto, &config, dir.path());
    let mut prom = Prometheus::start(
        dir.path(),
        exporter.port,
        &[repo_path("alerts/ecr-exposure.rules.yml")],
        Some(am.port),
    );
    let api = prom.api();
    // Scanned once and scraped, and the consumer polls: nothing pages.
    wait_until(
        "the repository and the consumer's poll time in Prometheus",
        &mut [&mut exporter.proc, &mut prom.proc, &mut am.proc],
        || {
            let info = api.query(&format!(
                "ecr_exposure_repository_info{{repository=\"{REPO}\"}}"
            ));
            let polled = api.query("ecr_exposure_event_queue_last_receive_timestamp_seconds");
            (!info.is_empty() && !polled.is_empty()).then_some(())
        },
    );

    let t0 = Instant::now();
    moto.events_fixture(&["set-policy", "--repo", REPO, "public"]);
    moto.events_fixture(&["put-event", "--name", "SetRepositoryPolicy", "--repo", REPO]);
    let paged = wait_until(
        "EcrExposureRepositoryPublic from the event at the security-pager webhook",
        &mut [&mut exporter.proc, &mut prom.proc, &mut am.proc],
        || {
            alerts_in(
                &hook.deliveries(),
                "/security-pager",
                "EcrExposureRepositoryPublic",
                "firing",
            )
            .into_iter()
            .next()
        },
    );
    eprintln!("public policy + event -> page after {:?}", t0.elapsed());
    assert_eq!(paged["labels"]["repository"], REPO);
    assert_eq!(paged["labels"]["owner_tag"], "team-payments");
    // The page came from the event: one full scan only, one rescan.
    let scans = api.query("sum(ecr_exposure_scans_total)");
    assert_eq!(scans[0]["value"][1], "1", "{scans:?}");
    // (The counter moves just after the swap, so a scrape may lag it by one interval.)
    wait_until(
        "one event rescan in Prometheus",
        &mut [&mut exporter.proc, &mut prom.proc, &mut am.proc],
        || {
            let r = api.query("ecr_exposure_event_rescans_total{result=\"ok\"}");
            (r.first().map(|s| s["value"][1].clone()) == Some("1".into())).then_some(())
        },
    );
}

/// Two shards behind one real Prometheus and Alertmanager, with the shipped rules and example
/// configuration. Shard A's repository is public and pages. A is stopped: its series go stale,
/// EcrExposureFindingsUnreported names its target, and the page's resolution is held back (the
/// repository is still public); meanwhile a repository of shard B made public pages at once. A
/// comes back: its page fires again in Prometheus, and Alertmanager neither resolves nor repeats
/// it.
#[test]
fn a_stopped_shard_neither_resolves_its_pages_nor_silences_the_other_shard() {
    // Observation windows for what must NOT be delivered: two of Alertmanager's group intervals
    // and Prometheus' resend delay. Shorter windows could only let a defect pass, never fail.
    const GROUP_INTERVAL: Duration = Duration::from_secs(4);
    let window = 2 * GROUP_INTERVAL + Duration::from_secs(2);
    let candidates = (1..100).map(|i| format!("2000000000{i:02}"));
    let in_shard = |k: u32| {
        candidates
            .clone()
            .find(|a| ShardSpec::shard_of(a, 2) == k)
            .expect("an account id in each shard")
    };
    let (account_a, account_b) = (in_shard(0), in_shard(1));
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start();
    let public_policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "AnyonePulls", "Effect": "Allow", "Principal": "*",
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]
    })
    .to_string();
    moto_op(
        &moto,
        &account_a,
        &["create-repo", "stopped-shard", "owner=team-payments"],
    );
    moto_op(
        &moto,
        &account_a,
        &["set-policy", "stopped-shard", &public_policy],
    );
    moto_op(
        &moto,
        &account_b,
        &["create-repo", "healthy-shard", "owner=team-payments"],
    );

    let replica = |shard: u32| {
        let sub = dir.path().join(format!("shard-{shard}"));
        std::fs::create_dir_all(&sub).unwrap();
        let config = moto.write_config(
            &sub,
            &format!(
                "regions: [us-east-1]\naccounts:\n  discovery: static\n  static:\n    - id: \"{account_a}\"\n    - id: \"{account_b}\"\ntags:\n  required: [owner]\nscan:\n  interval: 2s\n  jitter: 0s\n  timeout: 30s\nsharding:\n  total_shards: 2\n  shard: {shard}\nstate:\n  path: {}\n",
                sub.join("state.json").display()
            ),
        );
        (sub, config)
    };
    let (dir_a, config_a) = replica(0);
    let (dir_b, config_b) = replica(1);
    let hook = Webhook::start();
    let group_interval = format!("{}s", GROUP_INTERVAL.as_secs());
    let mut am = Alertmanager::start(
        dir.path(),
        &alertmanager_config_with(&hook, &group_interval),
    );
    let mut exporter_a = Exporter::start(&moto, &config_a, &dir_a);
    let port_a = exporter_a.port;
    let mut exporter_b = Exporter::start(&moto, &config_b, &dir_b);
    let mut prom = Prometheus::start_scraping(
        dir.path(),
        &[port_a, exporter_b.port],
        &[repo_path("alerts/ecr-exposure.rules.yml")],
        Some(am.port),
    );
    let api = prom.api();
    let deliveries = |repository: &str, status: &str| -> usize {
        ["/security-pager", "/team-payments"]
            .iter()
            .flat_map(|path| {
                alerts_in(
                    &hook.deliveries(),
                    path,
                    "EcrExposureRepositoryPublic",
                    status,
                )
            })
            .filter(|a| a["labels"]["repository"] == repository)
            .count()
    };
    let firing_in_prometheus = |alertname: &str, label: &str, value: &str| {
        !api.query(&format!(
            "ALERTS{{alertname=\"{alertname}\", alertstate=\"firing\", {label}=\"{value}\"}}"
        ))
        .is_empty()
    };

    wait_until(
        "shard A's public repository to page",
        &mut [
            &mut exporter_a.proc,
            &mut exporter_b.proc,
            &mut prom.proc,
            &mut am.proc,
        ],
        || (deliveries("stopped-shard", "firing") > 0).then_some(()),
    );

    // Shard A stops.
    drop(exporter_a);
    wait_until(
        "A's target unreported and its page resolved in Prometheus",
        &mut [&mut exporter_b.proc, &mut prom.proc, &mut am.proc],
        || {
            (firing_in_prometheus("EcrExposureFindingsUnreported", "account_id", &account_a)
                && !firing_in_prometheus(
                    "EcrExposureRepositoryPublic",
                    "repository",
                    "stopped-shard",
                ))
            .then_some(())
        },
    );
    assert!(
        !firing_in_prometheus("EcrExposureFindingsUnreported", "account_id", &account_b),
        "the healthy shard's target is reported"
    );
    let t0 = Instant::now();
    moto_op(
        &moto,
        &account_b,
        &["set-policy", "healthy-shard", &public_policy],
    );
    wait_until(
        "shard B's new exposure to page while A is down",
        &mut [&mut exporter_b.proc, &mut prom.proc, &mut am.proc],
        || (deliveries("healthy-shard", "firing") > 0).then_some(()),
    );
    eprintln!(
        "shard B paged {:?} after its policy changed, with A down",
        t0.elapsed()
    );
    std::thread::sleep(window);
    assert_eq!(
        deliveries("stopped-shard", "resolved"),
        0,
        "the stopped shard's page was resolved though the repository is still public"
    );

    // Shard A comes back on the same address, with its state.
    let mut exporter_a = Exporter::start_on(&moto, &config_a, &dir_a, port_a);
    wait_until(
        "A's page firing again in Prometheus and its target reported",
        &mut [
            &mut exporter_a.proc,
            &mut exporter_b.proc,
            &mut prom.proc,
            &mut am.proc,
        ],
        || {
            (firing_in_prometheus("EcrExposureRepositoryPublic", "repository", "stopped-shard")
                && !firing_in_prometheus("EcrExposureFindingsUnreported", "account_id", &account_a))
            .then_some(())
        },
    );
    std::thread::sleep(window);
    assert_eq!(
        deliveries("stopped-shard", "resolved"),
        0,
        "a resolution was delivered when the shard came back"
    );
    // One page to each of its two receivers (security-pager and the owner's team), not a second.
    assert_eq!(
        deliveries("stopped-shard", "firing"),
        2,
        "the stopped shard's page was repeated when it came back"
    );
}

/// Inhibition in the example configuration, on a real Alertmanager. One replica of a sharded job
/// is down: EcrExposureExporterDown pages, EcrExposureFindingsUnreported names the target that
/// replica scanned (account ACCOUNT in us-east-1) and goes to the null receiver only; that
/// target's page is held back, while a target of a healthy shard (another account, and the same
/// account in another region) and another job page; the per-account owner-tag ticket (no region
/// label) is held back for that account only. A failing scan holds back the staleness alert of
/// the same target. Then no replica of the job is up (the unreported alert without
/// `account_id`): every alert of the job is held back, the other job's is not.
#[test]
fn a_stopped_replica_holds_back_only_its_own_targets_pages() {
    const HEALTHY: &str = "210987654321";
    let dir = tempfile::tempdir().unwrap();
    let hook = Webhook::start();
    let mut am = Alertmanager::start(dir.path(), &alertmanager_config(&hook));
    let alert =
        |labels: Value| serde_json::json!({"labels": labels, "annotations": {"summary": "test"}});
    let job = "ecr-exposure-exporter";
    let public = |job: &str, account: &str, region: &str, repository: &str| {
        alert(
            serde_json::json!({"alertname": "EcrExposureRepositoryPublic",
            "severity": "critical", "job": job, "account_id": account, "region": region,
            "repository": repository, "access": "read", "owner_tag": "team-payments"}),
        )
    };
    // The per-account owner-tag ticket: no region label.
    let missing_owner = |account: &str| {
        alert(
            serde_json::json!({"alertname": "EcrExposureRepositoryMissingOwnerTag",
            "severity": "info", "job": job, "account_id": account}),
        )
    };
    let sources = serde_json::json!([
        alert(
            serde_json::json!({"alertname": "EcrExposureExporterDown", "severity": "critical",
            "job": job, "instance": "127.0.0.1:9847"})
        ),
        alert(
            serde_json::json!({"alertname": "EcrExposureFindingsUnreported", "severity": "none",
            "job": job, "account_id": ACCOUNT, "region": "us-east-1"})
        ),
        alert(
            serde_json::json!({"alertname": "EcrExposureScanFailing", "severity": "warning",
            "job": "other-exporter", "account_id": ACCOUNT, "region": "eu-west-1"})
        ),
    ]);
    let targets = serde_json::json!([
        public(job, ACCOUNT, "us-east-1", "held-back"),
        public(job, HEALTHY, "us-east-1", "healthy-shard"),
        public(job, ACCOUNT, "eu-west-1", "other-region"),
        public("other-exporter", ACCOUNT, "us-east-1", "other-job"),
        missing_owner(ACCOUNT),
        missing_owner(HEALTHY),
        alert(
            serde_json::json!({"alertname": "EcrExposureScanStale", "severity": "warning",
            "job": "other-exporter", "account_id": ACCOUNT, "region": "eu-west-1"})
        ),
    ]);
    let alerts = || -> Option<Vec<Value>> {
        let (_, body) = stack::http_get(am.port, "/api/v2/alerts")?;
        serde_json::from_str::<Value>(&body)
            .ok()?
            .as_array()
            .cloned()
    };
    // The state of the first alert for which `pick` holds.
    let state_of = |pick: &dyn Fn(&Value) -> bool| -> Option<String> {
        alerts()?
            .iter()
            .find(|a| pick(a))
            .and_then(|a| a["status"]["state"].as_str().map(String::from))
    };
    // ... with this repository or this alertname.
    let state = |key: &str| {
        state_of(&|a| a["labels"]["repository"] == key || a["labels"]["alertname"] == key)
    };
    // ... the owner-tag ticket of `account`.
    let ticket_state = |account: &str| {
        state_of(&|a| {
            a["labels"]["alertname"] == "EcrExposureRepositoryMissingOwnerTag"
                && a["labels"]["account_id"] == account
        })
    };
    // Inhibiting alerts first, as in production (the unreported alert fires in the same rule
    // evaluation as the series go stale, well before Alertmanager's group_interval): Alertmanager
    // indexes inhibitors asynchronously, so a target in the same batch could pass.
    assert_eq!(
        stack::http_post_json(am.port, "/api/v2/alerts", &sources),
        Some(200)
    );
    wait_until(
        "the inhibiting alerts to be active",
        &mut [&mut am.proc],
        || {
            [
                "EcrExposureExporterDown",
                "EcrExposureFindingsUnreported",
                "EcrExposureScanFailing",
            ]
            .iter()
            .all(|name| state(name).as_deref() == Some("active"))
            .then_some(())
        },
    );
    // The API shows the alerts before the inhibitor has necessarily indexed them; give it a
    // moment (not a timing assertion: a longer pause only makes the test more lenient).
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(
        stack::http_post_json(am.port, "/api/v2/alerts", &targets),
        Some(200)
    );
    wait_until("inhibition to apply", &mut [&mut am.proc], || {
        (state("held-back").as_deref() == Some("suppressed")
            && state("EcrExposureScanStale").as_deref() == Some("suppressed")
            && ticket_state(ACCOUNT).as_deref() == Some("suppressed"))
        .then_some(())
    });
    for free in ["healthy-shard", "other-region", "other-job"] {
        assert_eq!(state(free).as_deref(), Some("active"), "{free}");
    }
    assert_eq!(ticket_state(HEALTHY).as_deref(), Some("active"));
    assert_eq!(state("EcrExposureExporterDown").as_deref(), Some("active"));

    // Deliveries: the healthy shard's, the other region's and the other job's pages arrive, and
    // ExporterDown's; the held-back one never does, and the unreported alert only reaches null.
    // The first firing `alertname` delivered to `path` for which `pick` holds.
    let firing_at = |path: &str, alertname: &str, pick: &dyn Fn(&Value) -> bool| {
        alerts_in(&hook.deliveries(), path, alertname, "firing")
            .into_iter()
            .find(|a| pick(a))
    };
    let paged = |repository: &str| {
        firing_at("/security-pager", "EcrExposureRepositoryPublic", &|a| {
            a["labels"]["repository"] == repository
        })
    };
    for repository in ["healthy-shard", "other-region", "other-job"] {
        wait_until(
            &format!("the page of {repository}"),
            &mut [&mut am.proc],
            || paged(repository),
        );
    }
    wait_until("the ExporterDown page", &mut [&mut am.proc], || {
        firing_at("/security-pager", "EcrExposureExporterDown", &|_| true)
    });
    wait_until("the unreported alert at null", &mut [&mut am.proc], || {
        firing_at("/null", "EcrExposureFindingsUnreported", &|_| true)
    });
    let ticket = |account: &str| {
        firing_at(
            "/platform-tickets",
            "EcrExposureRepositoryMissingOwnerTag",
            &|a| a["labels"]["account_id"] == account,
        )
    };
    wait_until("the healthy account's ticket", &mut [&mut am.proc], || {
        ticket(HEALTHY)
    });
    let delivered = hook.deliveries();
    assert!(
        paged("held-back").is_none(),
        "an inhibited page was delivered"
    );
    assert!(
        ticket(ACCOUNT).is_none(),
        "the stopped replica's account ticket was delivered"
    );
    assert!(
        alerts_in(
            &delivered,
            "/security-team",
            "EcrExposureScanStale",
            "firing"
        )
        .is_empty()
    );
    let unreported_elsewhere: Vec<&Delivery> = delivered
        .iter()
        .filter(|d| d.path != "/null")
        .filter(|d| {
            d.body["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| a["labels"]["alertname"] == "EcrExposureFindingsUnreported")
        })
        .collect();
    assert!(
        unreported_elsewhere.is_empty(),
        "the inhibition source was delivered: {unreported_elsewhere:?}"
    );

    // No replica of the job is up: everything of the job is held back, the other job is not.
    let whole_job = serde_json::json!([alert(serde_json::json!({
        "alertname": "EcrExposureFindingsUnreported", "severity": "none", "job": job}))]);
    assert_eq!(
        stack::http_post_json(am.port, "/api/v2/alerts", &whole_job),
        Some(200)
    );
    wait_until("the whole job to be held back", &mut [&mut am.proc], || {
        (state("healthy-shard").as_deref() == Some("suppressed")
            && state("other-region").as_deref() == Some("suppressed"))
        .then_some(())
    });
    assert_eq!(state("other-job").as_deref(), Some("active"));
    assert_eq!(state("EcrExposureExporterDown").as_deref(), Some("active"));
}
