//! `check --format sarif`: the log validates against the OASIS SARIF 2.1.0 schema (vendored
//! in tests/fixtures, checked with Python `jsonschema` from the test venv), lists one rule per
//! finding kind with help and runbook, and puts each result on its file and line.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ecr-exposure-exporter");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> PathBuf {
    let candidate = std::env::var_os("ECR_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv/bin/python"));
    let ok = Command::new(&candidate)
        .args(["-c", "import jsonschema"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "no Python with jsonschema at {} (ECR_TEST_PYTHON): run scripts/test-deps.sh",
        candidate.display()
    );
    candidate
}

fn sarif(args: &[&str]) -> (i32, Value) {
    let out = Command::new(BIN)
        .arg("check")
        .args(args)
        .args(["--format", "sarif"])
        .current_dir(repo())
        .output()
        .expect("run the binary");
    let log = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), log)
}

/// Errors from validating `log` against the vendored schema; empty when valid.
fn schema_errors(log: &Value) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sarif");
    std::fs::write(&path, serde_json::to_vec_pretty(log).unwrap()).unwrap();
    let script = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
log = json.load(open(sys.argv[2]))
v = jsonschema.Draft4Validator(schema)
errs = sorted(v.iter_errors(log), key=lambda e: list(e.path))
for e in errs:
    print("/".join(map(str, e.path)), e.message[:300])
"#;
    let out = Command::new(python())
        .args(["-c", script])
        .arg(repo().join("tests/fixtures/sarif-schema-2.1.0.json"))
        .arg(&path)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "validator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const ALL: [&str; 7] = [
    "tests/fixtures/iac/tf-jsonencode-public.plan.json",
    "tests/fixtures/iac/tf-policy-document.plan.json",
    "tests/fixtures/iac/tf-modules.plan.json",
    "tests/fixtures/iac/tf-registry.plan.json",
    "tests/fixtures/iac/cfn-demo.json",
    "tests/fixtures/iac/cfn-invalid-policy.json",
    "tests/fixtures/iac/cfn-stack.yaml",
];

fn zone_and(files: &[&'static str]) -> Vec<&'static str> {
    let mut a = vec![
        "--account",
        "111111111111",
        "--region",
        "eu-west-1",
        "--trusted-org",
        "o-abcdef1234",
    ];
    a.extend_from_slice(files);
    a
}

#[test]
fn sarif_of_every_fixture_validates_against_the_schema() {
    let (code, log) = sarif(&zone_and(&ALL));
    assert_eq!(code, 2, "an invalid policy is among the fixtures");
    let errors = schema_errors(&log);
    assert!(errors.is_empty(), "SARIF schema errors:\n{errors}");
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "public_exposure",
            "cross_account_exposure",
            "registry_exposure",
            "policy_unknown",
            "policy_invalid",
            "missing_tag"
        ]
    );
    for rule in run["tool"]["driver"]["rules"].as_array().unwrap() {
        assert!(
            rule["help"]["text"]
                .as_str()
                .unwrap()
                .contains("docs/runbooks.md#ecrexposure"),
            "{rule}"
        );
    }
    // Every result is on a file of the repository, with a line.
    let results = run["results"].as_array().unwrap();
    let count = |rule: &str| results.iter().filter(|r| r["ruleId"] == rule).count();
    assert_eq!(count("public_exposure"), 3, "app, DemoRepo, PublicDemoRepo");
    assert_eq!(count("cross_account_exposure"), 2, "this[api], PartnerRepo");
    assert_eq!(
        count("registry_exposure"),
        2,
        "terraform and cloudformation registry policies"
    );
    assert_eq!(
        count("policy_unknown"),
        4,
        "this[web], PartnerRepo, RoleRepo, ConditionalRepo"
    );
    assert_eq!(count("policy_invalid"), 1, "BrokenRepo");
    assert_eq!(count("missing_tag"), 6);
    for r in results {
        let loc = &r["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"].as_str().unwrap();
        assert!(repo().join(uri).is_file(), "{uri}");
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1, "{r}");
    }
}

#[test]
fn sarif_result_points_at_the_resource_line() {
    let (code, log) = sarif(&zone_and(&["tests/fixtures/iac/cfn-demo.json"]));
    assert_eq!(code, 1);
    assert!(schema_errors(&log).is_empty());
    let results = log["runs"][0]["results"].as_array().unwrap();
    let demo = results
        .iter()
        .find(|r| r["ruleId"] == "public_exposure")
        .unwrap();
    assert_eq!(demo["level"], "error");
    assert_eq!(
        demo["locations"][0]["physicalLocation"]["region"]["startLine"],
        10
    );
    assert_eq!(
        demo["locations"][0]["logicalLocations"][0]["name"],
        "DemoRepo"
    );
    assert!(
        demo["message"]["text"]
            .as_str()
            .unwrap()
            .starts_with("DemoRepo: PUBLIC (admin access)")
    );
}

#[test]
fn sarif_for_plain_policy_files_and_clean_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("registry.json");
    std::fs::write(
        &policy,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"ecr:ReplicateImage","Resource":"*"}]}"#,
    )
    .unwrap();
    let (code, log) = sarif(&[
        "--account",
        "111111111111",
        "--registry",
        policy.to_str().unwrap(),
    ]);
    assert_eq!(
        code, 0,
        "cross-account is below the default --fail-on public"
    );
    assert!(schema_errors(&log).is_empty());
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["ruleId"], "registry_exposure");
    assert!(
        results[0]["locations"][0]["physicalLocation"]
            .get("region")
            .is_none()
    );
    // A clean plan gives a valid log with no results.
    let (code, log) = sarif(&zone_and(&[
        "tests/fixtures/iac/tf-policy-document.plan.json",
    ]));
    assert_eq!(code, 0);
    assert!(schema_errors(&log).is_empty());
    assert_eq!(log["runs"][0]["results"].as_array().unwrap().len(), 0);
}
