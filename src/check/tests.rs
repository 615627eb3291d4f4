//! The per-input steps end to end, in-process: records, their JSON bytes, text and SARIF.

use std::collections::BTreeSet;

use super::render::sarif::{Rule, findings};
use super::render::{json, text};
use super::*;
use crate::analysis::policy::RegistryScope;

fn opts() -> CheckOptions {
    CheckOptions {
        owner: Some("111111111111".into()),
        trusted_accounts: BTreeSet::new(),
        trusted_orgs: BTreeSet::new(),
        target: Target::Repository { arn: None },
        format: CheckFormat::Json,
        fail_on: FailOn::Public,
        input_type: None,
        region: None,
        required_tags: vec!["owner".into()],
    }
}

fn iac_opts() -> CheckOptions {
    CheckOptions {
        region: Some("eu-west-1".into()),
        ..opts()
    }
}

fn yaml_records(yaml: &str) -> Vec<CheckRecord> {
    let o = CheckOptions {
        input_type: Some(InputType::Cloudformation),
        ..iac_opts()
    };
    check_input("t.yaml", yaml, &o)
}

#[test]
fn record_shape_and_thresholds() {
    let rec = check_policy_text(
        "p.json",
        r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"ecr:ListImages"}}"#,
        &opts(),
    );
    assert!(matches!(&rec.outcome, Outcome::Ok(v) if v.cross_account));
    assert!(!rec.outcome.fails(FailOn::Public));
    assert!(rec.outcome.fails(FailOn::CrossAccount));
    assert!(!rec.outcome.fails(FailOn::Never));
    let v: serde_json::Value = serde_json::from_str(&json::line(&rec).unwrap()).unwrap();
    assert_eq!(v["access"], "read");
    assert!(v["error"].is_null());
    let bad = check_policy_text("b.json", "{", &opts());
    let v: serde_json::Value = serde_json::from_str(&json::line(&bad).unwrap()).unwrap();
    assert!(v["public"].is_null());
    assert_eq!(v["error"]["code"], "invalid_json");
    assert!(text::render(&bad).contains("INVALID (invalid_json)"));
}

/// The exact bytes of each kind of JSON line: key order, nulls, left-out keys.
#[test]
fn json_lines_are_byte_for_byte_the_documented_shape() {
    let clean = check_policy_text(
        "p.json",
        r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"ecr:*"}]}"#,
        &opts(),
    );
    assert_eq!(
        json::line(&clean).unwrap(),
        r#"{"source":"p.json","public":false,"cross_account":false,"access":"none","network_restricted":false,"error":null,"grants":[],"notes":["no --repository-arn: judged as attached to arn:aws:ecr:us-east-1:111111111111:repository/checked"]}"#
    );
    let unreadable = CheckRecord::failed("x", Problem::new("unreadable", "cannot read x"));
    assert_eq!(
        json::line(&unreadable).unwrap(),
        r#"{"source":"x","public":null,"cross_account":null,"access":null,"network_restricted":null,"error":{"code":"unreadable","message":"cannot read x"},"grants":[]}"#
    );
    let recs = yaml_records(
        "Resources:\n  Bare:\n    Type: AWS::ECR::Repository\n    Properties:\n      RepositoryName: b\n      Tags: [{Key: owner, Value: me}]\n  Unk:\n    Type: AWS::ECR::RegistryPolicy\n    Properties:\n      PolicyText: !GetAtt X.Y\n",
    );
    assert_eq!(
        json::line(&recs[0]).unwrap(),
        r#"{"source":"t.yaml","public":false,"cross_account":false,"access":"none","network_restricted":false,"error":null,"grants":[],"resource":"Bare","resource_type":"AWS::ECR::Repository","kind":"repository","file":"t.yaml","line":2,"policy_state":"none","missing_tags":[]}"#
    );
    let unknown = json::line(&recs[1]).unwrap();
    assert!(
        unknown.starts_with(r#"{"source":"t.yaml","public":null,"cross_account":null,"access":null,"network_restricted":null,"error":{"code":"unknown_before_deploy","message":"#),
        "{unknown}"
    );
    assert!(
        unknown.ends_with(r#","resource":"Unk","resource_type":"AWS::ECR::RegistryPolicy","kind":"registry_policy","file":"t.yaml","line":7,"policy_state":"unknown","missing_tags":[]}"#),
        "{unknown}"
    );
}

#[test]
fn synthetic_owner_is_named_nowhere() {
    let mut o = opts();
    o.owner = None;
    let rec = check_policy_text(
        "-",
        r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"000000000000"},"Action":"ecr:ListImages"}}"#,
        &o,
    );
    assert!(matches!(&rec.outcome, Outcome::Ok(v) if v.cross_account));
    assert!(rec.assumptions[0].contains("999999999999"), "{rec:?}");
}

#[test]
fn records_rules_and_text() {
    let recs = yaml_records(
        "Resources:\n  Pub:\n    Type: AWS::ECR::Repository\n    Properties:\n      RepositoryPolicyText:\n        Statement:\n          - {Effect: Allow, Principal: '*', Action: 'ecr:ListImages'}\n  Unk:\n    Type: AWS::ECR::RegistryPolicy\n    Properties:\n      PolicyText: !GetAtt X.Y\n",
    );
    assert_eq!(recs.len(), 2);
    let rules = |r: &CheckRecord| {
        findings(r, false)
            .into_iter()
            .map(|f| (f.rule, f.line))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        rules(&recs[0]),
        vec![(Rule::PublicExposure, Some(2)), (Rule::MissingTag, Some(2))]
    );
    assert!(matches!(recs[1].outcome, Outcome::Unknown { .. }));
    assert!(recs[1].outcome.fails(FailOn::Public) && !recs[1].outcome.is_invalid());
    assert_eq!(rules(&recs[1]), vec![(Rule::PolicyUnknown, Some(8))]);
    let text = text::render(&recs[0]);
    assert!(
        text.starts_with("t.yaml:2 Pub (AWS::ECR::Repository): PUBLIC, read access\n"),
        "{text}"
    );
    assert!(
        text::render(&recs[1])
            .starts_with("t.yaml:8 Unk (AWS::ECR::RegistryPolicy): UNKNOWN before deploy: "),
        "{}",
        text::render(&recs[1])
    );
    let sarif = &findings(&recs[0], false)[0].message;
    assert!(
        sarif.starts_with(
            "Pub: PUBLIC (read access). Statement[0]: any AWS account can ecr:ListImages [read]: "
        ),
        "{sarif}"
    );
    let json = serde_json::to_value(&recs[1]).unwrap();
    assert_eq!(json["policy_state"], "unknown");
    assert_eq!(json["kind"], "registry_policy");
    assert!(json["public"].is_null());
}

#[test]
fn unreadable_file_is_one_error_record() {
    let recs = yaml_records("Resources: [");
    assert_eq!(recs.len(), 1);
    assert!(matches!(&recs[0].outcome, Outcome::Invalid(p) if p.code == "invalid_yaml"));
    assert!(recs[0].iac.is_none());
    assert_eq!(findings(&recs[0], false)[0].rule, Rule::PolicyInvalid);
    assert!(text::render(&recs[0]).starts_with("t.yaml: INVALID (invalid_yaml): "));
}

#[test]
fn intrinsic_resolved_principal_gets_the_engine_verdict() {
    let yaml = "Resources:\n  R:\n    Type: AWS::ECR::Repository\n    Properties:\n      RepositoryName: r\n      RepositoryPolicyText:\n        Statement:\n          - Effect: Allow\n            Principal: {AWS: !Sub 'arn:aws:iam::${AWS::AccountId}:root'}\n            Action: ecr:*\n";
    let own = &yaml_records(yaml)[0];
    assert!(
        matches!(&own.outcome, Outcome::Ok(v) if !v.public && !v.cross_account),
        "{own:?}"
    );
    assert_eq!(own.iac.as_ref().unwrap().missing_tags, vec!["owner"]);
    // The owner substituted for AWS::AccountId is the owner judged: a registry scope
    // flag does not change a repository's verdict.
    let o = CheckOptions {
        input_type: Some(InputType::Cloudformation),
        target: Target::Registry {
            region: None,
            scope: RegistryScope::V1,
        },
        ..iac_opts()
    };
    assert_eq!(check_input("t.yaml", yaml, &o)[0].outcome, own.outcome);
}

#[test]
fn network_restricted_remark_is_for_policy_files_only() {
    let policy = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"ecr:ListImages","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}"#;
    let file = text::render(&check_policy_text("p.json", policy, &opts()));
    assert!(
        file.starts_with("p.json: CROSS-ACCOUNT, read access (network-restricted: not public only because of a fixed source network)\n"),
        "{file}"
    );
    let yaml = format!(
        "Resources:\n  R:\n    Type: AWS::ECR::Repository\n    Properties:\n      RepositoryName: r\n      RepositoryPolicyText: '{policy}'\n"
    );
    let res = text::render(&yaml_records(&yaml)[0]);
    assert!(
        res.starts_with("t.yaml:2 R (AWS::ECR::Repository): CROSS-ACCOUNT, read access\n"),
        "{res}"
    );
}

fn check_args(argv: &[&str]) -> CheckArgs {
    use clap::Parser;
    let cli = crate::cli::Cli::try_parse_from(["exporter", "check"].iter().chain(argv))
        .expect("valid flags");
    match cli.command {
        Some(crate::cli::Command::Check(args)) => args,
        other => panic!("not check: {other:?}"),
    }
}

/// Usage errors come back as `Err` reading `check: REASON`, for `main` to print once; no
/// input is read first.
#[test]
fn usage_errors_are_errors_named_after_the_command() {
    for (argv, want) in [
        (
            &["--account", "12345", "/nonexistent"][..],
            "check: --account \"12345\" is not a 12-digit AWS account id",
        ),
        (
            &["-", "-"][..],
            "check: standard input (-) can be given only once",
        ),
        (
            &["--region", "mars-1", "/nonexistent"][..],
            "check: --region \"mars-1\" is not an AWS region name",
        ),
    ] {
        let err = run(&check_args(argv)).expect_err("usage error");
        assert_eq!(format!("{err:#}"), want);
    }
}
