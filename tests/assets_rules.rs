//! The alerting and recording rules (`alerts/`) pass promtool's lint and their unit tests, and
//! the unit tests cover every alert, both firing and not firing.

#[path = "assets/common.rs"]
mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::{files_ending, repo_path, run, run_ok, tool};

const RULES: &str = "alerts/ecr-exposure.rules.yml";

#[test]
fn rules_pass_promtool_lint() {
    let out = run_ok(
        Command::new(tool("promtool"))
            .args(["check", "rules", "--lint=all", "--lint-fatal"])
            .arg(repo_path(RULES)),
    );
    assert!(
        out.contains("SUCCESS"),
        "unexpected promtool output:\n{out}"
    );
}

#[test]
fn rule_unit_tests_pass() {
    let tests = files_ending(&repo_path("alerts/tests"), ".test.yml");
    assert!(!tests.is_empty(), "no alerts/tests/*.test.yml suites");
    let out = run_ok(
        Command::new(tool("promtool"))
            .args(["test", "rules"])
            .args(&tests)
            .current_dir(repo_path("alerts/tests")),
    );
    assert!(
        !out.contains("FAILED"),
        "promtool reported a failure:\n{out}"
    );
}

/// A broken expectation must make promtool fail: guards against a suite that cannot fail
/// (for example one whose rule_files path points nowhere).
#[test]
fn a_wrong_expectation_fails() {
    let suite = std::fs::read_to_string(repo_path("alerts/tests/findings.test.yml")).unwrap();
    let broken = suite.replacen("owner_tag: team-web", "owner_tag: team-nobody", 1);
    assert_ne!(suite, broken, "fixture text to break not found");
    let rules = repo_path(RULES);
    let broken = broken.replace(
        "../ecr-exposure.rules.yml",
        rules.to_str().expect("utf-8 path"),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.test.yml");
    std::fs::write(&path, broken).unwrap();
    let out = run(Command::new(tool("promtool"))
        .args(["test", "rules"])
        .arg(&path));
    assert!(
        !out.status.success(),
        "promtool accepted a wrong expectation"
    );
}

/// Every alert of the rules file appears in the suites with an empty `exp_alerts` (not firing)
/// and with a non-empty one (firing).
#[test]
fn every_alert_is_tested_firing_and_not_firing() {
    let rules: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(repo_path(RULES)).unwrap()).unwrap();
    let mut alerts = BTreeSet::new();
    for group in rules["groups"].as_sequence().expect("groups") {
        for rule in group["rules"].as_sequence().expect("rules") {
            if let Some(name) = rule["alert"].as_str() {
                alerts.insert(name.to_string());
                for key in ["summary", "description", "runbook_url"] {
                    assert!(
                        rule["annotations"][key]
                            .as_str()
                            .is_some_and(|s| !s.is_empty()),
                        "{name} has no {key}"
                    );
                }
                let severity = rule["labels"]["severity"].as_str().unwrap_or_default();
                // `none` marks the one alert that only inhibits (routed to the null receiver).
                let allowed: &[&str] = if name == "EcrExposureFindingsUnreported" {
                    &["none"]
                } else {
                    &["critical", "warning", "info"]
                };
                assert!(
                    allowed.contains(&severity),
                    "{name} has severity {severity:?}"
                );
                let url = rule["annotations"]["runbook_url"].as_str().unwrap();
                assert!(
                    url.ends_with(&format!("docs/runbooks.md#{}", name.to_lowercase())),
                    "{name}: runbook_url {url} does not point at its runbook section"
                );
            }
        }
    }
    // metrics.md's 10, plus 3 for sharding (issue 14), 3 for event delivery (issue 15) and
    // the inhibition source that keeps one stopped shard from silencing the others.
    assert_eq!(alerts.len(), 17, "17 shipped alerts: {alerts:?}");

    let mut firing = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for suite in files_ending(&repo_path("alerts/tests"), ".test.yml") {
        let doc: serde_norway::Value =
            serde_norway::from_str(&std::fs::read_to_string(&suite).unwrap()).unwrap();
        for test in doc["tests"].as_sequence().into_iter().flatten() {
            for case in test["alert_rule_test"].as_sequence().into_iter().flatten() {
                let name = case["alertname"].as_str().unwrap_or_default().to_string();
                let fires = case["exp_alerts"]
                    .as_sequence()
                    .is_some_and(|a| !a.is_empty());
                if fires {
                    firing.insert(name);
                } else {
                    silent.insert(name);
                }
            }
        }
    }
    let not_firing: Vec<_> = alerts.difference(&firing).collect();
    let not_silent: Vec<_> = alerts.difference(&silent).collect();
    assert!(
        not_firing.is_empty(),
        "alerts never tested firing: {not_firing:?}"
    );
    assert!(
        not_silent.is_empty(),
        "alerts never tested silent: {not_silent:?}"
    );
}

/// Every alert's runbook_url anchor exists in docs/runbooks.md (a `## <AlertName>` heading,
/// whose GitHub anchor is the name in lower case), and each section says how to confirm, fix
/// and verify.
#[test]
fn every_alert_has_a_runbook_section() {
    let rules = std::fs::read_to_string(repo_path(RULES)).unwrap();
    let runbooks = std::fs::read_to_string(repo_path("docs/runbooks.md")).unwrap();
    let sections: Vec<&str> = runbooks.split("\n## ").skip(1).collect();
    let mut seen = 0;
    for line in rules.lines() {
        let Some(name) = line.trim().strip_prefix("- alert: ") else {
            continue;
        };
        seen += 1;
        let section = sections
            .iter()
            .find(|s| s.lines().next() == Some(name))
            .unwrap_or_else(|| panic!("docs/runbooks.md has no `## {name}` section"));
        for part in [
            "**Meaning.**",
            "**Impact.**",
            "**Confirm.**",
            "**Fix.**",
            "**Verify.**",
        ] {
            assert!(section.contains(part), "runbook of {name} lacks {part}");
        }
    }
    assert_eq!(seen, 17);
}
