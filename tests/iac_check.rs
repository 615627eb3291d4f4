//! The IaC gate end to end: the built binary's `check` on the Terraform plans and
//! CloudFormation templates under tests/fixtures/iac, asserting the exact verdict, line and
//! missing tags of every resource, and the exit status.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ecr-exposure-exporter");

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/iac/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The trust zone the fixtures are written for.
const ZONE: [&str; 6] = [
    "--account",
    "111111111111",
    "--region",
    "eu-west-1",
    "--trusted-org",
    "o-abcdef1234",
];

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let out = Command::new(BIN)
        .arg("check")
        .args(args)
        .output()
        .expect("run the binary");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8(out.stdout).expect("utf-8"),
        stderr: String::from_utf8(out.stderr).expect("utf-8"),
    }
}

/// `resource -> record` from `--format json` output.
fn records(r: &Run) -> BTreeMap<String, Value> {
    r.stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            (v["resource"].as_str().expect("resource").to_string(), v)
        })
        .collect()
}

/// Compact verdict: `public/read`, `cross_account/write`, `not_exposed`, `no_policy`,
/// `unknown`, `invalid:<code>`.
fn verdict(rec: &Value) -> String {
    match rec["policy_state"].as_str().expect("policy_state") {
        "none" => "no_policy".to_string(),
        "unknown" => {
            assert_eq!(rec["error"]["code"], "unknown_before_deploy");
            assert!(rec["public"].is_null() && rec["cross_account"].is_null());
            "unknown".to_string()
        }
        "invalid" => format!("invalid:{}", rec["error"]["code"].as_str().unwrap()),
        "ok" => {
            let access = rec["access"].as_str().unwrap();
            if rec["public"] == true {
                format!("public/{access}")
            } else if rec["cross_account"] == true {
                format!("cross_account/{access}")
            } else {
                assert_eq!(access, "none");
                "not_exposed".to_string()
            }
        }
        other => panic!("policy_state {other}"),
    }
}

fn missing(rec: &Value) -> Vec<String> {
    rec["missing_tags"]
        .as_array()
        .expect("missing_tags")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Check one fixture: `(resource, verdict, missing tags)` in file order, and the exit code.
fn expect(file: &str, extra: &[&str], want: &[(&str, &str, &[&str])], code: i32) {
    let path = fixture(file);
    let mut args: Vec<&str> = ZONE.to_vec();
    args.extend_from_slice(extra);
    args.extend(["--format", "json", path.as_str()]);
    let r = run(&args);
    let recs = records(&r);
    let got: Vec<(String, String, Vec<String>)> = {
        let mut v: Vec<&Value> = recs.values().collect();
        v.sort_by_key(|r| r["line"].as_u64().unwrap_or(u64::MAX));
        let mut out: Vec<_> = v
            .iter()
            .map(|r| {
                (
                    r["resource"].as_str().unwrap().to_string(),
                    verdict(r),
                    missing(r),
                )
            })
            .collect();
        // Stable order for resources on the same line (one-line plans).
        out.sort_by_key(|(res, ..)| want.iter().position(|w| w.0 == res).unwrap_or(usize::MAX));
        out
    };
    let want: Vec<(String, String, Vec<String>)> = want
        .iter()
        .map(|(r, v, m)| {
            (
                r.to_string(),
                v.to_string(),
                m.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(
        got, want,
        "{file}\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    assert_eq!(r.code, code, "{file} exit code; stderr: {}", r.stderr);
    for rec in recs.values() {
        assert_eq!(rec["source"], path.as_str());
        assert_eq!(rec["file"], path.as_str());
    }
}

#[test]
fn terraform_jsonencoded_wildcard_is_public() {
    expect(
        "tf-jsonencode-public.plan.json",
        &[],
        &[
            ("aws_ecr_repository.app", "no_policy", &[]),
            ("aws_ecr_repository_policy.app", "public/read", &[]),
        ],
        1,
    );
}

#[test]
fn terraform_policy_document_restricted_to_the_org_passes() {
    expect(
        "tf-policy-document.plan.json",
        &["--fail-on", "cross-account"],
        &[
            ("aws_ecr_repository.base", "no_policy", &[]),
            ("aws_ecr_repository_policy.base", "not_exposed", &[]),
        ],
        0,
    );
}

const MODULES: &[(&str, &str, &[&str])] = &[
    (
        "module.app.aws_ecr_repository.this[\"api\"]",
        "no_policy",
        &[],
    ),
    (
        "module.app.aws_ecr_repository.this[\"web\"]",
        "no_policy",
        &["owner"],
    ),
    (
        "module.app.aws_ecr_repository_policy.this[\"api\"]",
        "cross_account/read",
        &[],
    ),
    (
        "module.app.aws_ecr_repository_policy.this[\"web\"]",
        "unknown",
        &[],
    ),
    (
        "module.app.module.batch.aws_ecr_repository.jobs[0]",
        "no_policy",
        &["owner"],
    ),
    (
        "module.app.module.batch.aws_ecr_repository.jobs[1]",
        "no_policy",
        &["owner"],
    ),
    (
        "module.app.module.batch.aws_ecr_repository_policy.jobs[0]",
        "not_exposed",
        &[],
    ),
];

#[test]
fn terraform_modules_unknown_until_apply_fails_the_gate() {
    // Nothing public, but a policy known only after apply cannot pass.
    expect("tf-modules.plan.json", &[], MODULES, 1);
    // --fail-on never reports it all and passes.
    expect("tf-modules.plan.json", &["--fail-on", "never"], MODULES, 0);
}

#[test]
fn terraform_unknown_policy_names_the_attribute() {
    let path = fixture("tf-modules.plan.json");
    let mut args = ZONE.to_vec();
    args.extend(["--format", "json", path.as_str()]);
    let recs = records(&run(&args));
    let web = &recs["module.app.aws_ecr_repository_policy.this[\"web\"]"];
    let msg = web["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("module.app.aws_ecr_repository_policy.this[\"web\"].policy"),
        "{msg}"
    );
    // The line of `"address": "module.app.aws_ecr_repository_policy.this[\"web\"]"` in
    // planned_values (the first mention; resource_changes repeats it further down).
    assert_eq!(web["line"], 84);
    assert_eq!(web["kind"], "repository_policy");
    assert_eq!(web["resource_type"], "aws_ecr_repository_policy");
}

#[test]
fn terraform_registry_policy() {
    expect(
        "tf-registry.plan.json",
        &[],
        &[("aws_ecr_registry_policy.this", "public/write", &[])],
        1,
    );
}

#[test]
fn cloudformation_json() {
    expect(
        "cfn-demo.json",
        &[],
        &[
            ("DemoRepo", "public/admin", &["owner"]),
            ("OwnRepo", "not_exposed", &[]),
            ("PartnerRepo", "cross_account/read", &[]),
        ],
        1,
    );
}

#[test]
fn cloudformation_without_account_is_unknown_not_safe() {
    let path = fixture("cfn-demo.json");
    let r = run(&["--format", "json", &path]);
    let recs = records(&r);
    assert_eq!(verdict(&recs["OwnRepo"]), "unknown");
    assert!(
        recs["OwnRepo"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("AWS::AccountId"),
    );
    // The others do not depend on the account and keep their verdicts.
    assert_eq!(verdict(&recs["DemoRepo"]), "public/admin");
    assert_eq!(r.code, 1);
}

#[test]
fn cloudformation_duplicate_key_policy_is_invalid() {
    expect(
        "cfn-invalid-policy.json",
        &[],
        &[("BrokenRepo", "invalid:duplicate_key", &[])],
        2,
    );
}

#[test]
fn cloudformation_yaml_short_forms() {
    expect(
        "cfn-stack.yaml",
        &[],
        &[
            ("ApiRepo", "not_exposed", &[]),
            ("PartnerRepo", "unknown", &[]),
            ("RoleRepo", "unknown", &["owner"]),
            ("ConditionalRepo", "unknown", &[]),
            ("PublicDemoRepo", "public/read", &["owner"]),
            ("Registry", "cross_account/write", &[]),
        ],
        1,
    );
}

#[test]
fn yaml_lines_point_at_the_logical_ids() {
    let path = fixture("cfn-stack.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut args = ZONE.to_vec();
    args.extend(["--format", "json", path.as_str()]);
    for (id, rec) in records(&run(&args)) {
        let line = rec["line"].as_u64().expect("line") as usize;
        assert_eq!(text.lines().nth(line - 1).unwrap().trim(), format!("{id}:"));
    }
}

#[test]
fn config_file_sets_required_tags() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "tags:\n  required: [owner, team]\n").unwrap();
    expect(
        "cfn-demo.json",
        &["--config", config.to_str().unwrap()],
        &[
            ("DemoRepo", "public/admin", &["owner", "team"]),
            ("OwnRepo", "not_exposed", &["team"]),
            ("PartnerRepo", "cross_account/read", &["team"]),
        ],
        1,
    );
}

#[test]
fn input_type_overrides_detection() {
    // Forced to be read as a policy, a plan is an invalid policy.
    let path = fixture("tf-registry.plan.json");
    let r = run(&["--input-type", "policy", "--format", "json", &path]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert!(v["error"]["code"].is_string());
    assert!(v.get("resource").is_none());
    // Forced to be a plan, a template is not one.
    let path = fixture("cfn-demo.json");
    let r = run(&["--input-type", "terraform-plan", "--format", "json", &path]);
    assert_eq!(r.code, 2);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["error"]["code"], "invalid_structure");
}

#[test]
fn text_output_names_file_line_and_resource() {
    let path = fixture("cfn-demo.json");
    let mut args = ZONE.to_vec();
    args.push(path.as_str());
    let r = run(&args);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains(&format!(
            "{path}:10 DemoRepo (AWS::ECR::Repository): PUBLIC, admin access"
        )),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("missing required tags: owner"));
    assert!(r.stdout.contains("ForAllValues"), "explanation shown");
}

#[test]
fn plain_policies_still_work_next_to_iac() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}]}"#,
    )
    .unwrap();
    let plan = fixture("tf-policy-document.plan.json");
    let r = run(&[
        "--account",
        "111111111111",
        "--format",
        "json",
        policy.to_str().unwrap(),
        &plan,
    ]);
    assert_eq!(r.code, 1);
    let lines: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["public"], true);
    assert!(
        lines[0].get("resource").is_none(),
        "policy records keep their shape"
    );
    assert_eq!(lines[2]["resource"], "aws_ecr_repository_policy.base");
}
