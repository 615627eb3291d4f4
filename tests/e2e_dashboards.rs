//! Every panel query of every dashboard in `dashboards/`, with the variables substituted as
//! Grafana does for "All", returns data from a real Prometheus that scrapes the exporter scanning
//! the moto `demo` estate (an organization, 4 active accounts x 2 regions, the eight policy
//! cases of tests/support/seed.py) and evaluates the shipped recording rules. One exposure is
//! fixed during the test, and its event delivered through moto's EventBridge and SQS, so that the
//! remediation (MTTR), resolved-findings and event panels have data.
//! The variables' own queries (`label_values(...)`) are checked as the series selectors they are.

#[path = "assets/common.rs"]
mod common;
#[path = "assets/stack.rs"]
mod stack;
#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use common::{dashboard_queries, repo_path, substitute_variables};
use stack::{DEADLINE, Exporter, Prometheus, moto_op, wait_until};
use support::Moto;

const MGMT: &str = "123456789012";

#[test]
fn every_panel_query_returns_data() {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start();
    moto.seed("demo", &[]);
    let setup: serde_json::Value =
        serde_json::from_str(&moto.events_fixture(&["setup", "--queue", "dashboard-events"]))
            .unwrap();
    let queue = setup["queue_url"].as_str().unwrap();
    let config = moto.write_config(
        dir.path(),
        &format!(
            "regions: [us-east-1, eu-west-1]\naccounts:\n  discovery: organizations\ntags:\n  required: [owner]\nscan:\n  interval: 2s\n  jitter: 0s\n  timeout: 60s\nstate:\n  path: {}\nevents:\n  sqs_queue_url: \"{queue}\"\n  wait_time: 1s\n",
            dir.path().join("state.json").display()
        ),
    );
    let mut exporter = Exporter::start(&moto, &config, dir.path());
    let mut prom = Prometheus::start(
        dir.path(),
        exporter.port,
        &[repo_path("alerts/ecr-exposure.rules.yml")],
        None,
    );
    let api = prom.api();
    let started = Instant::now();

    // The estate is scanned: public web repository of the management account in us-east-1.
    let web = format!(
        "ecr_exposure_repository_exposed{{account_id=\"{MGMT}\", region=\"us-east-1\", repository=\"web-public\", scope=\"public\"}}"
    );
    wait_until(
        "the demo estate's public repository in Prometheus",
        &mut [&mut exporter.proc, &mut prom.proc],
        || Some(api.query(&web)).filter(|r| !r.is_empty()),
    );
    eprintln!("estate scraped after {:?}", started.elapsed());

    // Fix it: the finding resolves, which feeds the remediation histogram and resolved counter;
    // the change's event feeds the event and detection-latency panels.
    moto_op(&moto, MGMT, &["delete-policy", "web-public"]);
    moto.events_fixture(&[
        "put-event",
        "--name",
        "DeleteRepositoryPolicy",
        "--repo",
        "web-public",
    ]);
    wait_until(
        "a resolved public_exposure finding",
        &mut [&mut exporter.proc, &mut prom.proc],
        || {
            Some(api.query(
                "increase(ecr_exposure_findings_resolved_total{finding=\"public_exposure\"}[5m]) > 0",
            ))
            .filter(|r| !r.is_empty())
        },
    );
    eprintln!("remediation observed after {:?}", started.elapsed());

    // Variables: label_values(<selector>, label) must find values.
    for selector in [
        "ecr_exposure_repositories",
        "ecr_exposure_repositories{account_id=~\".*\"}",
    ] {
        let result = api.query(selector);
        assert!(
            result.len() >= 8,
            "variable query {selector} finds {} series, want the 8 targets",
            result.len()
        );
    }

    // Every panel query, polled until it returns data or the deadline passes (rates need a few
    // scrapes); the failure lists every query still empty.
    let queries = dashboard_queries();
    assert!(queries.len() >= 30, "only {} panel queries", queries.len());
    let mut pending: Vec<_> = queries
        .iter()
        .map(|q| (q, substitute_variables(&q.expr, "10s")))
        .collect();
    let t0 = Instant::now();
    loop {
        pending.retain(|(_, expr)| api.query(expr).is_empty());
        if pending.is_empty() {
            break;
        }
        exporter.proc.assert_running();
        prom.proc.assert_running();
        if t0.elapsed() > DEADLINE {
            let empty: Vec<String> = pending
                .iter()
                .map(|(q, expr)| format!("{} / {} / {}: {expr}", q.dashboard, q.panel, q.ref_id))
                .collect();
            panic!(
                "{} panel queries return no data:\n{}\n{}",
                empty.len(),
                empty.join("\n"),
                exporter.proc.tail()
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    // Data is not enough for the KPIs: their values must mean what the panels say.
    let value = |expr: &str| -> Option<f64> {
        let r = api.query(expr);
        r.first()?["value"][1].as_str()?.parse().ok()
    };
    let mttr = wait_until(
        "a finite MTTR for public exposures",
        &mut [&mut exporter.proc, &mut prom.proc],
        || {
            value("finding:ecr_exposure_finding_remediation_seconds:mean7d{finding=\"public_exposure\"}")
                .filter(|v| v.is_finite())
        },
    );
    assert!(
        mttr > 0.0 && mttr < 600.0,
        "MTTR {mttr} s for a finding fixed seconds after it opened"
    );
    for kpi in [
        ":ecr_exposure_repositories_owner_tagged:ratio",
        ":ecr_exposure_repositories_iac_managed:ratio",
    ] {
        let v = wait_until(kpi, &mut [&mut exporter.proc, &mut prom.proc], || {
            value(kpi)
        });
        assert!(
            v > 0.0 && v < 1.0,
            "{kpi} = {v}: the demo estate is partly tagged and managed"
        );
    }
    let public = value(&substitute_variables(
        &queries
            .iter()
            .find(|q| q.panel == "Public repositories")
            .unwrap()
            .expr,
        "10s",
    ))
    .unwrap();
    assert!(public >= 1.0, "Public repositories stat = {public}");
    eprintln!(
        "all {} panel queries returned data after {:?} ({:?} in all)",
        queries.len(),
        t0.elapsed(),
        started.elapsed()
    );
}
