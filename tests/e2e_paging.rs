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
//! the SQS queue). Every wait is bounded (90 s); the timings printed are observations, not
//! assertions.

#[path = "assets/common.rs"]
mod common;
#[path = "assets/stack.rs"]
mod stack;
#[path = "support/mod.rs"]
mod support;

use std::time::Instant;

use serde_json::Value;

use common::repo_path;
use stack::{Alertmanager, Delivery, Exporter, Prometheus, Webhook, moto_op, wait_until};
use support::Moto;

const ACCOUNT: &str = "123456789012";
const REPO: &str = "payments-api";

/// The example Alertmanager configuration with webhooks to `hook` and test timers.
fn alertmanager_config(hook: &Webhook) -> String {
    let text = std::fs::read_to_string(repo_path("config/alertmanager.example.yml")).unwrap();
    let mut config: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let route = &mut config["route"];
    route["group_wait"] = "0s".into();
    route["group_interval"] = "1s".into();
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

/// Inhibition in the example configuration, on a real Alertmanager: while
/// EcrExposureExporterDown fires for a job, that job's repository alerts are held back (another
/// job's are not), and a failing scan holds back the staleness alert of the same target.
#[test]
fn exporter_down_inhibits_its_repository_pages() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Webhook::start();
    let mut am = Alertmanager::start(dir.path(), &alertmanager_config(&hook));
    let alert =
        |labels: Value| serde_json::json!({"labels": labels, "annotations": {"summary": "test"}});
    let alerts = serde_json::json!([
        alert(
            serde_json::json!({"alertname": "EcrExposureExporterDown", "severity": "critical",
            "job": "ecr-exposure-exporter", "instance": "127.0.0.1:9847"})
        ),
        alert(
            serde_json::json!({"alertname": "EcrExposureRepositoryPublic", "severity": "critical",
            "job": "ecr-exposure-exporter", "account_id": ACCOUNT, "region": "us-east-1",
            "repository": "held-back", "access": "read", "owner_tag": "team-payments"})
        ),
        alert(
            serde_json::json!({"alertname": "EcrExposureRepositoryPublic", "severity": "critical",
            "job": "other-exporter", "account_id": ACCOUNT, "region": "us-east-1",
            "repository": "other-job", "access": "read", "owner_tag": "team-payments"})
        ),
        alert(
            serde_json::json!({"alertname": "EcrExposureScanFailing", "severity": "warning",
            "job": "other-exporter", "account_id": ACCOUNT, "region": "eu-west-1"})
        ),
        alert(
            serde_json::json!({"alertname": "EcrExposureScanStale", "severity": "warning",
            "job": "other-exporter", "account_id": ACCOUNT, "region": "eu-west-1"})
        ),
    ]);
    let state = |repository_or_name: &str| -> Option<String> {
        let (_, body) = stack::http_get(am.port, "/api/v2/alerts")?;
        let list: Value = serde_json::from_str(&body).ok()?;
        list.as_array()?
            .iter()
            .find(|a| {
                a["labels"]["repository"] == repository_or_name
                    || a["labels"]["alertname"] == repository_or_name
            })
            .and_then(|a| a["status"]["state"].as_str().map(String::from))
    };
    // Inhibiting alerts first, as in production (ExporterDown needs 5 minutes of down):
    // Alertmanager indexes inhibitors asynchronously, so a target in the same batch could pass.
    let list = alerts.as_array().unwrap();
    let sources = Value::Array(vec![list[0].clone(), list[3].clone()]);
    let targets = Value::Array(vec![list[1].clone(), list[2].clone(), list[4].clone()]);
    assert_eq!(
        stack::http_post_json(am.port, "/api/v2/alerts", &sources),
        Some(200)
    );
    wait_until(
        "the inhibiting alerts to be active",
        &mut [&mut am.proc],
        || {
            (state("EcrExposureExporterDown").as_deref() == Some("active")
                && state("EcrExposureScanFailing").as_deref() == Some("active"))
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
            && state("EcrExposureScanStale").as_deref() == Some("suppressed"))
        .then_some(())
    });
    assert_eq!(state("other-job").as_deref(), Some("active"));
    assert_eq!(state("EcrExposureScanFailing").as_deref(), Some("active"));

    // Deliveries: the other job's page arrives, the held-back one never does.
    wait_until("the other job's page", &mut [&mut am.proc], || {
        alerts_in(
            &hook.deliveries(),
            "/security-pager",
            "EcrExposureRepositoryPublic",
            "firing",
        )
        .into_iter()
        .find(|a| a["labels"]["repository"] == "other-job")
    });
    wait_until("the ExporterDown page", &mut [&mut am.proc], || {
        alerts_in(
            &hook.deliveries(),
            "/security-pager",
            "EcrExposureExporterDown",
            "firing",
        )
        .into_iter()
        .next()
    });
    let delivered = hook.deliveries();
    assert!(
        alerts_in(
            &delivered,
            "/security-pager",
            "EcrExposureRepositoryPublic",
            "firing"
        )
        .iter()
        .all(|a| a["labels"]["repository"] != "held-back"),
        "an inhibited page was delivered"
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
}
