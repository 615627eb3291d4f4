//! The example Alertmanager configuration (`config/alertmanager.example.yml`) is valid and routes
//! the exporter's alerts as documented: by severity first, then by `owner_tag`.

#[path = "assets/common.rs"]
mod common;

use std::process::Command;

use common::{repo_path, run, run_ok, tool};

const CONFIG: &str = "config/alertmanager.example.yml";

#[test]
fn example_config_passes_amtool_check_config() {
    let out = run_ok(
        Command::new(tool("amtool"))
            .arg("check-config")
            .arg(repo_path(CONFIG)),
    );
    assert!(out.contains("SUCCESS"), "unexpected amtool output:\n{out}");
}

/// Runs `amtool config routes test` for one label set and returns the receivers it resolves to.
fn receivers_for(labels: &[&str]) -> Vec<String> {
    let out = run(Command::new(tool("amtool"))
        .args(["config", "routes", "test", "--config.file"])
        .arg(repo_path(CONFIG))
        .args(labels));
    assert!(
        out.status.success(),
        "amtool failed for {labels:?}: {out:?}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut receivers: Vec<String> = stdout
        .trim()
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    receivers.sort();
    receivers
}

#[test]
fn alerts_route_by_severity_and_owner() {
    // (labels of an alert, receivers it must reach, sorted)
    let cases: &[(&[&str], &[&str])] = &[
        // A public repository of a known team pages security and tells the team.
        (
            &[
                "alertname=EcrExposureRepositoryPublic",
                "severity=critical",
                "owner_tag=team-payments",
            ],
            &["security-pager", "team-payments"],
        ),
        // Another owner goes to the owner router, still paging security.
        (
            &[
                "alertname=EcrExposureRepositoryPublicWritable",
                "severity=critical",
                "owner_tag=team-web",
            ],
            &["owner-router", "security-pager"],
        ),
        // A critical without owner (registry, exporter down) pages security only.
        (
            &["alertname=EcrExposureRegistryPublic", "severity=critical"],
            &["security-pager"],
        ),
        (
            &["alertname=EcrExposureExporterDown", "severity=critical"],
            &["security-pager"],
        ),
        // Warnings go to the owner when there is one, to the security channel when not.
        (
            &[
                "alertname=EcrExposureRepositoryCrossAccount",
                "severity=warning",
                "owner_tag=team-payments",
            ],
            &["team-payments"],
        ),
        (
            &[
                "alertname=EcrExposurePolicyUnknown",
                "severity=warning",
                "owner_tag=team-web",
            ],
            &["owner-router"],
        ),
        (
            &["alertname=EcrExposureScanFailing", "severity=warning"],
            &["security-team"],
        ),
        (
            &["alertname=EcrExposureFindingOverdue", "severity=warning"],
            &["security-team"],
        ),
        // A missing shard blinds the exporter to its accounts: it pages like ExporterDown; the
        // event pipeline's alerts are warnings (full scans still run) for the security channel.
        (
            &["alertname=EcrExposureShardMissing", "severity=critical"],
            &["security-pager"],
        ),
        (
            &[
                "alertname=EcrExposureEventsNotDelivered",
                "severity=warning",
            ],
            &["security-team"],
        ),
        // The inhibition source is never delivered anywhere.
        (
            &[
                "alertname=EcrExposureFindingsUnreported",
                "severity=none",
                "account_id=111111111111",
            ],
            &["null"],
        ),
        // Missing owner tags: a ticket, never a page.
        (
            &[
                "alertname=EcrExposureRepositoryMissingOwnerTag",
                "severity=info",
            ],
            &["platform-tickets"],
        ),
    ];
    for (labels, want) in cases {
        assert_eq!(
            receivers_for(labels),
            want.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "routing of {labels:?}"
        );
    }
}

/// `--verify.receivers` makes amtool exit non-zero on a mismatch: the check above can fail.
#[test]
fn amtool_route_verification_can_fail() {
    let out = run(Command::new(tool("amtool"))
        .args(["config", "routes", "test", "--config.file"])
        .arg(repo_path(CONFIG))
        .args(["--verify.receivers=team-payments", "severity=info"]));
    assert!(!out.status.success(), "amtool accepted a wrong receiver");
}
