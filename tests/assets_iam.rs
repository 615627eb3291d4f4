//! The IAM documents in `config/iam/` are valid policy JSON, read-only, and cover every AWS call
//! the code makes: the calls are collected from the source (`send("service", "Operation", ..)`,
//! the one place that counts AWS calls), so a new call without its permission fails here. The one
//! exception to read-only is the optional event-queue statement (docs/events.md): exactly
//! `sqs:ReceiveMessage`, `sqs:DeleteMessage` and `sqs:GetQueueAttributes` on one named queue,
//! the queue that deploy/events/ creates. The other is the optional S3 state statement
//! (docs/state.md): exactly `s3:GetObject` and `s3:PutObject` on the objects under one prefix.

#[path = "assets/common.rs"]
mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{files_ending, repo_path};

/// The Sid of the exporter policy's optional statement for the S3 state backend.
const STATE_SID: &str = "PersistStateInS3";

/// The Sid of the exporter policy's optional statement for the event queue.
const QUEUE_SID: &str = "ConsumeEcrEventQueue";
/// What the exporter does with the queue: long-poll, delete after the rescan, read its settings.
const QUEUE_ACTIONS: [&str; 3] = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
];

fn load(name: &str) -> serde_json::Value {
    let path = repo_path("config/iam").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
}

fn statements(doc: &serde_json::Value) -> Vec<&serde_json::Value> {
    match &doc["Statement"] {
        serde_json::Value::Array(a) => a.iter().collect(),
        s @ serde_json::Value::Object(_) => vec![s],
        other => panic!("Statement is {other}"),
    }
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|s| s.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// Actions that `Allow` statements grant.
fn allowed_actions(doc: &serde_json::Value) -> BTreeSet<String> {
    statements(doc)
        .into_iter()
        .filter(|s| s["Effect"] == "Allow")
        .flat_map(|s| strings(&s["Action"]))
        .collect()
}

/// IAM actions for the AWS calls in `src/`, as `service:Operation`.
fn actions_called_by_the_code() -> BTreeSet<String> {
    let re = regex_lite::Regex::new(r#"send(?:_uncapped)?\(\s*"([a-z0-9_-]+)",\s*"([A-Za-z]+)""#)
        .unwrap();
    let mut found = BTreeSet::new();
    let mut stack = vec![repo_path("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for c in re.captures_iter(&text) {
                    let service = match &c[1] {
                        "tagging" => "tag",
                        other => other,
                    };
                    found.insert(format!("{service}:{}", &c[2]));
                }
            }
        }
    }
    // Needs no permission: AWS allows it to every principal.
    found.remove("sts:GetCallerIdentity");
    found
}

#[test]
fn every_document_is_a_valid_policy() {
    let files = files_ending(&repo_path("config/iam"), ".json");
    assert!(files.len() >= 4, "{files:?}");
    for file in files {
        let name = file.file_name().unwrap().to_str().unwrap().to_string();
        let doc = load(&name);
        assert_eq!(doc["Version"], "2012-10-17", "{name}: Version");
        let st = statements(&doc);
        assert!(!st.is_empty(), "{name}: no statements");
        for s in st {
            assert!(
                s["Effect"] == "Allow" || s["Effect"] == "Deny",
                "{name}: Effect {}",
                s["Effect"]
            );
            assert!(
                !strings(&s["Action"]).is_empty(),
                "{name}: statement without Action"
            );
            for action in strings(&s["Action"]) {
                assert!(
                    action
                        .split_once(':')
                        .is_some_and(|(svc, op)| !svc.is_empty() && !op.is_empty()),
                    "{name}: action {action} is not service:Operation"
                );
            }
        }
    }
}

#[test]
fn exporter_and_member_policies_cover_every_call_in_the_code() {
    let called = actions_called_by_the_code();
    for must in [
        "ecr:DescribeRepositories",
        "ecr:GetRepositoryPolicy",
        "sts:AssumeRole",
        "s3:PutObject",
    ] {
        assert!(
            called.contains(must),
            "the source scan did not find {must}: has the call-counting API changed? found {called:?}"
        );
    }
    let exporter = allowed_actions(&load("exporter-policy.json"));
    let missing: Vec<_> = called.difference(&exporter).collect();
    assert!(missing.is_empty(), "exporter-policy.json lacks {missing:?}");

    // The member role does what one account's scan does: no organization listing, no role hops,
    // and no event queue (it lives in the exporter's own account, read with the exporter's role).
    let member = allowed_actions(&load("member-role-policy.json"));
    let per_account: BTreeSet<String> = called
        .iter()
        .filter(|a| {
            !a.starts_with("organizations:")
                && !a.starts_with("sts:")
                && !a.starts_with("sqs:")
                && !a.starts_with("s3:")
        })
        .cloned()
        .collect();
    let missing: Vec<_> = per_account.difference(&member).collect();
    assert!(
        missing.is_empty(),
        "member-role-policy.json lacks {missing:?}"
    );
}

#[test]
fn exporter_and_member_policies_are_read_only() {
    for name in ["exporter-policy.json", "member-role-policy.json"] {
        let doc = load(name);
        // The event-queue and state statements are held to their own, narrower tests below.
        let actions: BTreeSet<String> = statements(&doc)
            .into_iter()
            .filter(|s| s["Effect"] == "Allow" && s["Sid"] != QUEUE_SID && s["Sid"] != STATE_SID)
            .flat_map(|s| strings(&s["Action"]))
            .collect();
        for action in actions {
            let op = action.split_once(':').map_or("", |(_, op)| op);
            let read = ["Describe", "Get", "List", "BatchGet"]
                .iter()
                .any(|verb| op.starts_with(verb));
            assert!(
                read || action == "sts:AssumeRole",
                "{name} grants {action}, which is not read-only"
            );
            assert!(!op.contains('*'), "{name}: wildcard action {action}");
        }
    }
}

/// The queue statement is optional and separate (Sid `ConsumeEcrEventQueue`), grants exactly the
/// three SQS actions the exporter needs on one queue named by its full ARN, and that queue is the
/// one the shipped CloudFormation and Terraform create by default; no other statement, and
/// nothing in the member role, grants any SQS action.
#[test]
fn the_event_queue_statement_is_exactly_three_sqs_actions_on_one_queue() {
    let exporter = load("exporter-policy.json");
    let queue_statements: Vec<&serde_json::Value> = statements(&exporter)
        .into_iter()
        .filter(|s| s["Sid"] == QUEUE_SID)
        .collect();
    assert_eq!(queue_statements.len(), 1, "one {QUEUE_SID} statement");
    let st = queue_statements[0];
    assert_eq!(st["Effect"], "Allow");
    let mut actions = strings(&st["Action"]);
    actions.sort();
    let mut want: Vec<String> = QUEUE_ACTIONS.iter().map(|a| a.to_string()).collect();
    want.sort();
    assert_eq!(actions, want, "{QUEUE_SID} actions");
    let resources = strings(&st["Resource"]);
    assert_eq!(resources.len(), 1, "one queue: {resources:?}");
    let arn = &resources[0];
    let parts: Vec<&str> = arn.split(':').collect();
    assert!(
        parts.len() == 6 && parts[..3] == ["arn", "aws", "sqs"] && !arn.contains('*'),
        "not one queue's ARN: {arn}"
    );
    let queue_name = parts[5];

    for (name, doc) in [
        ("exporter-policy.json", &exporter),
        ("member-role-policy.json", &load("member-role-policy.json")),
    ] {
        for s in statements(doc) {
            if s["Sid"] == QUEUE_SID && name == "exporter-policy.json" {
                continue;
            }
            let sqs: Vec<String> = strings(&s["Action"])
                .into_iter()
                .filter(|a| a.starts_with("sqs:"))
                .collect();
            assert!(sqs.is_empty(), "{name} grants {sqs:?} outside {QUEUE_SID}");
        }
    }

    // The queue the shipped event set-up creates by default has that name.
    let cfn =
        std::fs::read_to_string(repo_path("deploy/events/cloudformation/central.yaml")).unwrap();
    let tf =
        std::fs::read_to_string(repo_path("deploy/events/terraform/central/variables.tf")).unwrap();
    let cfn_default = cfn
        .split("  QueueName:\n")
        .nth(1)
        .and_then(|rest| {
            rest.lines()
                .find_map(|l| l.trim().strip_prefix("Default: "))
        })
        .expect("QueueName default in central.yaml");
    assert_eq!(cfn_default, queue_name, "central.yaml QueueName default");
    let tf_default = tf
        .split("variable \"queue_name\"")
        .nth(1)
        .and_then(|rest| {
            rest.lines()
                .find_map(|l| l.trim().strip_prefix("default     = "))
        })
        .expect("queue_name default in variables.tf");
    assert_eq!(
        tf_default.trim_matches('"'),
        queue_name,
        "variables.tf queue_name default"
    );
}

/// The state statement is optional and separate (Sid `PersistStateInS3`): exactly
/// `s3:GetObject` and `s3:PutObject`, on the objects under one bucket and prefix (no listing,
/// no delete, no bucket-wide or account-wide wildcard); nothing else grants S3 actions.
#[test]
fn the_state_statement_is_get_and_put_under_one_prefix() {
    let exporter = load("exporter-policy.json");
    let state: Vec<&serde_json::Value> = statements(&exporter)
        .into_iter()
        .filter(|s| s["Sid"] == STATE_SID)
        .collect();
    assert_eq!(state.len(), 1, "one {STATE_SID} statement");
    assert_eq!(state[0]["Effect"], "Allow");
    let mut actions = strings(&state[0]["Action"]);
    actions.sort();
    assert_eq!(actions, ["s3:GetObject", "s3:PutObject"]);
    let resources = strings(&state[0]["Resource"]);
    assert_eq!(resources.len(), 1, "{resources:?}");
    let object = resources[0]
        .strip_prefix("arn:aws:s3:::")
        .and_then(|r| r.strip_suffix("/*"))
        .unwrap_or_else(|| panic!("not the objects under a prefix: {}", resources[0]));
    let (bucket, prefix) = object.split_once('/').expect("bucket/prefix");
    assert!(
        !bucket.is_empty() && !prefix.is_empty() && !object.contains('*'),
        "one bucket and prefix: {object}"
    );
    for (name, doc) in [
        ("exporter-policy.json", &exporter),
        ("member-role-policy.json", &load("member-role-policy.json")),
    ] {
        for s in statements(doc)
            .into_iter()
            .filter(|s| s["Sid"] != STATE_SID)
        {
            let s3: Vec<String> = strings(&s["Action"])
                .into_iter()
                .filter(|a| a.starts_with("s3:"))
                .collect();
            assert!(s3.is_empty(), "{name} grants {s3:?} outside {STATE_SID}");
        }
    }
}

#[test]
fn member_trust_policy_requires_the_external_id() {
    let doc = load("member-role-trust-policy.json");
    for s in statements(&doc) {
        assert_eq!(strings(&s["Action"]), vec!["sts:AssumeRole".to_string()]);
        assert!(
            s["Condition"]["StringEquals"]["sts:ExternalId"].is_string(),
            "trust without sts:ExternalId: {s}"
        );
        let principal = strings(&s["Principal"]["AWS"]);
        assert!(
            principal
                .iter()
                .all(|p| p.starts_with("arn:aws:iam::") && p != "*"),
            "trust principal must be the exporter's role: {principal:?}"
        );
    }
}

#[test]
fn scp_denies_policy_changes_to_all_but_the_pipeline() {
    let doc = load("scp-deny-policy-changes.json");
    let deny: Vec<_> = statements(&doc)
        .into_iter()
        .filter(|s| s["Effect"] == "Deny")
        .collect();
    let denied: BTreeSet<String> = deny.iter().flat_map(|s| strings(&s["Action"])).collect();
    for action in ["ecr:SetRepositoryPolicy", "ecr:PutRegistryPolicy"] {
        assert!(denied.contains(action), "SCP does not deny {action}");
    }
    for s in deny {
        let exempt = strings(&s["Condition"]["ArnNotLike"]["aws:PrincipalArn"]);
        assert!(
            exempt
                .iter()
                .any(|a| a.ends_with(":role/ecr-policy-pipeline")),
            "the pipeline role is not exempt: {s}"
        );
    }
}

#[test]
fn readme_lists_every_document() {
    let readme = std::fs::read_to_string(repo_path("config/iam/README.md")).unwrap();
    for file in files_ending(Path::new(&repo_path("config/iam")), ".json") {
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(
            readme.contains(name),
            "config/iam/README.md does not mention {name}"
        );
    }
}
