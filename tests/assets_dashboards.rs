//! The Grafana dashboards (`dashboards/*.json`) use only keys the Grafana 11 schema knows
//! (grafana-foundation-sdk round trip, tests/assets/dashboard_roundtrip.py), follow the
//! conventions (fixed uid, tags, `$datasource`, `$account`, `$region`), and every panel query
//! parses as PromQL once the variables are substituted. That each query returns data from a real
//! Prometheus scraping the exporter is tests/e2e_dashboards.rs.

#[path = "assets/common.rs"]
mod common;

use std::process::Command;

use common::{
    dashboard_queries, files_ending, python, repo_path, run, run_ok, substitute_variables, tool,
};

fn roundtrip(files: &[std::path::PathBuf]) -> std::process::Output {
    run(Command::new(python())
        .arg(repo_path("tests/assets/dashboard_roundtrip.py"))
        .args(files))
}

#[test]
fn dashboards_have_no_unknown_keys_and_follow_conventions() {
    let files = files_ending(&repo_path("dashboards"), ".json");
    assert_eq!(files.len(), 3, "overview, KPIs, exporter health: {files:?}");
    let out = roundtrip(&files);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "dashboard check failed (if grafana_foundation_sdk is missing, run scripts/test-deps.sh):\n{stdout}\n{stderr}"
    );
    assert_eq!(stdout.matches(": ok (").count(), 3, "{stdout}");
}

/// A misspelled key at the panel level and inside a query, and a panel off `$datasource`, are
/// each reported: the check can fail.
#[test]
fn a_misspelled_key_is_reported() {
    let text = std::fs::read_to_string(repo_path("dashboards/ecr-exposure-overview.json")).unwrap();
    let mut dash: serde_json::Value = serde_json::from_str(&text).unwrap();
    let panel = dash["panels"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p["type"] == "stat")
        .unwrap();
    panel["fieldConfg"] = serde_json::json!({});
    panel["targets"][0]["legendFormt"] = serde_json::json!("x");
    panel["datasource"]["uid"] = serde_json::json!("some-fixed-uid");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(&path, serde_json::to_string_pretty(&dash).unwrap()).unwrap();
    let out = roundtrip(&[path]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "typos accepted:\n{stdout}");
    assert!(stdout.contains("fieldConfg"), "{stdout}");
    assert!(stdout.contains("legendFormt"), "{stdout}");
    assert!(stdout.contains("datasource is not"), "{stdout}");
}

/// Every panel query, variables substituted, is valid PromQL: promtool parses them as recording
/// rules in a scratch rules file.
#[test]
fn every_panel_query_parses() {
    let queries = dashboard_queries();
    assert!(queries.len() >= 30, "only {} queries found", queries.len());
    let rules = serde_json::json!({
        "groups": [{
            "name": "dashboard-queries",
            "rules": queries.iter().enumerate().map(|(i, q)| serde_json::json!({
                "record": format!("dashboard:query_{i}:parse_check"),
                "expr": substitute_variables(&q.expr, "1m"),
            })).collect::<Vec<_>>(),
        }]
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queries.rules.yml");
    // JSON is YAML.
    std::fs::write(&path, serde_json::to_string_pretty(&rules).unwrap()).unwrap();
    run_ok(
        Command::new(tool("promtool"))
            .args(["check", "rules"])
            .arg(&path),
    );
}
