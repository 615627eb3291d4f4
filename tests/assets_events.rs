//! The event set-up of `deploy/events/` (docs/events.md): the CloudFormation templates pass
//! cfn-lint (PyPI, in the test venv), and both flavours, CloudFormation and Terraform, configure
//! the same pipeline: member accounts forward exactly the eight ECR CloudTrail events the exporter
//! acts on from their default bus to the central bus (through a role allowed nothing but
//! `events:PutEvents` on it), the organization may put events on that bus, its rule delivers to
//! the queue the exporter long-polls, and only EventBridge, for that rule, may send to the queue
//! and its dead-letter queue. The templates are read by tests/assets/events_templates.py
//! (cfn-lint's YAML loader, python-hcl2).
//!
//! The CloudFormation templates are also deployed into moto's emulator (in process, through
//! tests/assets/events_route.py): CloudTrail-shaped events put on a member account's default bus
//! go through the member rule, the central bus and its rule into the queue, exactly the eight
//! the exporter acts on and no look-alike. (Moto skips the bus and queue policies; those are
//! checked as data.)
//!
//! Terraform itself is not run: `terraform validate` needs the AWS provider from the Terraform
//! registry, which these machines cannot reach; the Terraform files are parsed and compared with
//! the CloudFormation templates instead.

#[path = "assets/common.rs"]
mod common;

use std::path::Path;
use std::process::Command;

use common::{files_ending, python, repo_path, run, venv_tool};
use serde_json::{Value, json};

/// The CloudTrail management events the exporter rescans on (issue 15).
const EVENT_NAMES: [&str; 8] = [
    "SetRepositoryPolicy",
    "DeleteRepositoryPolicy",
    "CreateRepository",
    "DeleteRepository",
    "TagResource",
    "UntagResource",
    "PutRegistryPolicy",
    "DeleteRegistryPolicy",
];

fn cfn_lint(files: &[std::path::PathBuf]) -> std::process::Output {
    run(Command::new(venv_tool("cfn-lint")).args(files))
}

/// The facts the templates under `dir` (a copy of deploy/events) configure.
fn facts(dir: &Path) -> Result<Value, String> {
    let out = run(Command::new(python())
        .arg(repo_path("tests/assets/events_templates.py"))
        .arg(dir));
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("not JSON: {e}"))
}

/// Everything wrong with the configured pipeline, empty when it is right.
fn problems(facts: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut want = |what: &str, got: &Value, expected: Value| {
        if *got != expected {
            problems.push(format!("{what}: got {got}, want {expected}"));
        }
    };
    let pattern = json!({
        "source": ["aws.ecr"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {"eventSource": ["ecr.amazonaws.com"], "eventName": EVENT_NAMES},
    });
    for flavour in ["cloudformation", "terraform"] {
        let central = &facts[flavour]["central"];
        let member = &facts[flavour]["member"];
        let stackset = &facts[flavour]["stackset"];
        let at = |part: &str| format!("{flavour} {part}");

        want(&at("central pattern"), &central["pattern"], pattern.clone());
        want(&at("central rule bus"), &central["rule_on"], json!("bus"));
        want(&at("central target"), &central["target"], json!("queue"));
        want(
            &at("central target dead letter"),
            &central["target_dead_letter"],
            json!("dlq"),
        );
        want(
            &at("queue"),
            &central["queue"],
            json!({"receive_wait_seconds": 20, "dead_letter": "dlq", "max_receive_count": 5, "sse": true}),
        );
        want(
            &at("queue policy"),
            &central["queue_policy"],
            json!({
                "queues": ["dlq", "queue"],
                "principal": {"Service": "events.amazonaws.com"},
                "action": "sqs:SendMessage",
                "source_arn": "rule",
            }),
        );
        want(
            &at("bus policy"),
            &central["bus_policy"],
            json!({"action": "events:PutEvents", "principal": "*", "condition": ["aws:PrincipalOrgID"]}),
        );

        want(&at("member pattern"), &member["pattern"], pattern.clone());
        want(&at("member rule bus"), &member["rule_on"], json!("default"));
        want(
            &at("member target"),
            &member["target"],
            json!("param:central_bus"),
        );
        want(
            &at("member target role"),
            &member["target_role"],
            json!("role"),
        );
        want(
            &at("member role trust"),
            &member["role_trust"],
            json!({"Service": "events.amazonaws.com"}),
        );
        want(
            &at("member role actions"),
            &member["role_actions"],
            json!(["events:PutEvents"]),
        );
        want(
            &at("member role resources"),
            &member["role_resources"],
            json!(["param:central_bus"]),
        );

        want(
            &at("stackset permission model"),
            &stackset["permission_model"],
            json!("SERVICE_MANAGED"),
        );
        want(
            &at("stackset auto deployment"),
            &stackset["auto_deployment"],
            json!(true),
        );
        want(
            &at("stackset capabilities"),
            &stackset["capabilities"],
            json!(["CAPABILITY_IAM"]),
        );
        want(
            &at("stackset parameters"),
            &stackset["parameters"],
            json!(["CentralEventBusArn"]),
        );
    }
    // The Terraform StackSet deploys the CloudFormation member template itself, not a copy.
    want(
        "terraform stackset template",
        &facts["terraform"]["stackset"]["template_body"],
        json!("${file(\"${path.module}/../../cloudformation/member.yaml\")}"),
    );
    problems
}

#[test]
fn cloudformation_templates_pass_cfn_lint() {
    let files = files_ending(&repo_path("deploy/events/cloudformation"), ".yaml");
    assert_eq!(files.len(), 3, "central, member, stackset: {files:?}");
    let out = cfn_lint(&files);
    assert!(
        out.status.success(),
        "cfn-lint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// cfn-lint can fail: a misspelled property and a reference to a missing attribute are each
/// reported.
#[test]
fn cfn_lint_rejects_a_broken_template() {
    let text =
        std::fs::read_to_string(repo_path("deploy/events/cloudformation/central.yaml")).unwrap();
    for (from, to) in [
        ("      EventPattern:", "      EventPatern:"),
        ("!GetAtt Queue.Arn", "!GetAtt Queue.Url"),
    ] {
        let broken = text.replacen(from, to, 1);
        assert_ne!(broken, text, "{from} not found");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("central.yaml");
        std::fs::write(&path, broken).unwrap();
        let out = cfn_lint(&[path]);
        assert!(!out.status.success(), "cfn-lint accepted {to}");
    }
}

#[test]
fn both_flavours_configure_the_same_event_pipeline() {
    let facts = facts(&repo_path("deploy/events")).unwrap_or_else(|e| panic!("{e}"));
    let problems = problems(&facts);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let member_template =
        repo_path("deploy/events/terraform/stackset").join("../../cloudformation/member.yaml");
    assert!(member_template.is_file(), "{}", member_template.display());
}

/// The comparison can fail: a Terraform member rule that forgets an event name, and a
/// CloudFormation queue policy without its rule condition, are each caught.
#[test]
fn a_drifted_template_is_caught() {
    let cases = [
        (
            "terraform/member/main.tf",
            "        \"DeleteRegistryPolicy\",\n",
            "",
            "terraform member pattern",
        ),
        (
            "cloudformation/central.yaml",
            "aws:SourceArn: !GetAtt EcrEventsToQueueRule.Arn",
            "aws:SourceArn: !GetAtt DeadLetterQueue.Arn",
            "cloudformation queue policy",
        ),
    ];
    for (file, from, to, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&repo_path("deploy/events"), dir.path());
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let broken = text.replacen(from, to, 1);
        assert_ne!(broken, text, "{from:?} not found in {file}");
        std::fs::write(&path, broken).unwrap();
        let facts = facts(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let found = problems(&facts);
        assert!(
            found.iter().any(|p| p.starts_with(expected)),
            "{file}: want a problem starting with {expected:?}, got {found:?}"
        );
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The eventNames that reach the queue when the templates under `dir` run in moto.
fn routed(dir: &Path) -> Vec<String> {
    let out = run(Command::new(python())
        .arg(repo_path("tests/assets/events_route.py"))
        .arg(dir));
    assert!(
        out.status.success(),
        "events_route.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(result["central"], "CREATE_COMPLETE", "{result}");
    assert_eq!(result["member"], "CREATE_COMPLETE", "{result}");
    result["delivered"]
        .as_array()
        .expect("delivered")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn the_templates_route_exactly_the_eight_events_into_the_queue() {
    let mut delivered = routed(&repo_path("deploy/events"));
    delivered.sort();
    let mut want: Vec<String> = EVENT_NAMES.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(delivered, want, "each of the eight once, no look-alike");
}

/// The routing check can fail: without TagResource in the central rule's pattern, a tag change
/// no longer reaches the queue.
#[test]
fn a_pattern_without_an_event_name_drops_it() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo_path("deploy/events"), dir.path());
    let path = dir.path().join("cloudformation/central.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let broken = text.replacen("            - TagResource\n", "", 1);
    assert_ne!(broken, text);
    std::fs::write(&path, broken).unwrap();
    let delivered = routed(dir.path());
    assert!(
        !delivered.iter().any(|e| e == "TagResource"),
        "{delivered:?}"
    );
    assert_eq!(delivered.len(), 7, "{delivered:?}");
}
