//! The Kubernetes manifests (`deploy/kubernetes/`) hang together (selectors, ports, service
//! account, job name), and the PrometheusRule is exactly the generated copy of
//! `alerts/ecr-exposure.rules.yml` (scripts/gen-prometheusrule.py --check), so the two cannot drift.

#[path = "assets/common.rs"]
mod common;

use std::process::Command;

use common::{python, repo_path, run, run_ok, tool};
use serde_norway::Value;

fn manifest(name: &str) -> Value {
    let path = repo_path("deploy/kubernetes").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{name} is not YAML: {e}"))
}

fn labels_match(selector: &Value, labels: &Value) -> bool {
    let selector = selector.as_mapping().expect("selector map");
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

#[test]
fn prometheusrule_is_generated_from_the_rules_file() {
    let out = run(Command::new(python())
        .arg(repo_path("scripts/gen-prometheusrule.py"))
        .arg("--check"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Same groups, compared as data, and the spec passes promtool.
    let rule = manifest("prometheusrule.yaml");
    assert_eq!(rule["kind"], "PrometheusRule");
    let source: Value = serde_norway::from_str(
        &std::fs::read_to_string(repo_path("alerts/ecr-exposure.rules.yml")).unwrap(),
    )
    .unwrap();
    assert_eq!(rule["spec"]["groups"], source["groups"]);
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.rules.yml");
    std::fs::write(&spec, serde_norway::to_string(&rule["spec"]).unwrap()).unwrap();
    run_ok(
        Command::new(tool("promtool"))
            .args(["check", "rules", "--lint=all", "--lint-fatal"])
            .arg(&spec),
    );
}

/// A stale copy is detected: the check runs against a modified rules file in a scratch tree.
#[test]
fn a_stale_prometheusrule_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["alerts", "deploy/kubernetes", "scripts"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    let rules = std::fs::read_to_string(repo_path("alerts/ecr-exposure.rules.yml")).unwrap();
    std::fs::write(
        dir.path().join("alerts/ecr-exposure.rules.yml"),
        rules.replacen("severity: critical", "severity: page", 1),
    )
    .unwrap();
    for file in [
        "deploy/kubernetes/prometheusrule.yaml",
        "scripts/gen-prometheusrule.py",
    ] {
        std::fs::copy(repo_path(file), dir.path().join(file)).unwrap();
    }
    let out = run(Command::new(python())
        .arg(dir.path().join("scripts/gen-prometheusrule.py"))
        .arg("--check"));
    assert!(!out.status.success(), "stale PrometheusRule not detected");
}

#[test]
fn manifests_fit_together() {
    let kustomization = manifest("kustomization.yaml");
    for resource in kustomization["resources"].as_sequence().unwrap() {
        let name = resource.as_str().unwrap();
        manifest(name); // exists and parses
    }

    let sa = manifest("serviceaccount.yaml");
    let deployment = manifest("deployment.yaml");
    let service = manifest("service.yaml");
    let monitor = manifest("servicemonitor.yaml");

    assert!(
        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
            .as_str()
            .is_some_and(|a| a.starts_with("arn:aws:iam::")),
        "ServiceAccount without an IRSA role annotation"
    );
    let pod = &deployment["spec"]["template"];
    assert_eq!(pod["spec"]["serviceAccountName"], sa["metadata"]["name"]);
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
    assert!(labels_match(
        &deployment["spec"]["selector"]["matchLabels"],
        &pod["metadata"]["labels"]
    ));

    // Service -> pods, by label and by named port.
    assert!(labels_match(
        &service["spec"]["selector"],
        &pod["metadata"]["labels"]
    ));
    let container = &pod["spec"]["containers"][0];
    let container_ports: Vec<&Value> = container["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| &p["name"])
        .collect();
    let service_port = &service["spec"]["ports"][0];
    assert!(container_ports.contains(&&service_port["targetPort"]));
    assert_eq!(service_port["port"], 9847);
    assert!(
        container["args"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|a| a.as_str().is_some_and(|a| a.starts_with("--config.file="))),
        "the container does not read the ConfigMap's configuration"
    );

    // ServiceMonitor -> Service; the job label it produces is what the alert rules select.
    assert!(labels_match(
        &monitor["spec"]["selector"]["matchLabels"],
        &service["metadata"]["labels"]
    ));
    assert_eq!(
        monitor["spec"]["endpoints"][0]["port"],
        service_port["name"]
    );
    let job_label = monitor["spec"]["jobLabel"].as_str().unwrap();
    let job = &service["metadata"]["labels"][job_label];
    assert_eq!(job, "ecr-exposure-exporter");
    let rules = std::fs::read_to_string(repo_path("alerts/ecr-exposure.rules.yml")).unwrap();
    assert!(rules.contains(&format!("up{{job=\"{}\"}}", job.as_str().unwrap())));

    // The sidecar patch adds the same image, on loopback.
    let patch = manifest("sidecar-patch.yaml");
    let sidecar = &patch["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(sidecar["image"], container["image"]);
    assert!(
        sidecar["args"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|a| a == "--web.listen-address=127.0.0.1:9847")
    );
}

/// The ConfigMap's configuration is one the exporter accepts (`config check`).
#[test]
fn configmap_configuration_passes_config_check() {
    let cm = manifest("configmap.yaml");
    let text = cm["data"]["config.yaml"]
        .as_str()
        .expect("data.config.yaml");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, text).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecr-exposure-exporter"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ECR_EXPOSURE_") {
            cmd.env_remove(k);
        }
    }
    let out = run_ok(cmd.args(["config", "check"]).arg(&path));
    assert!(out.contains("configuration OK"), "{out}");
}
