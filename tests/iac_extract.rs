//! What the IaC reader finds in each fixture under tests/fixtures/iac: every ECR resource,
//! its line, its policy (text, or unknown with the element path) and its tags.
//! The verdicts on these resources are asserted through the binary in `iac_check.rs`.

use std::collections::BTreeMap;

use ecr_exposure_exporter::iac::{
    self, InputType, PolicySource, ResolveContext, ResourceKind, TagsSource, UNKNOWN_TAG_VALUE,
};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/iac/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn ctx(account: Option<&str>, region: Option<&str>) -> ResolveContext {
    ResolveContext {
        account: account.map(str::to_string),
        region: region.map(str::to_string),
    }
}

fn extract(name: &str, c: &ResolveContext) -> Vec<iac::IacResource> {
    let text = fixture(name);
    let input = iac::detect(&text);
    iac::extract(input, &text, c).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn policy_json(r: &iac::IacResource) -> serde_json::Value {
    match &r.policy {
        PolicySource::Text { text } => serde_json::from_str(text).expect("policy text is JSON"),
        other => panic!("{}: expected text, got {other:?}", r.resource),
    }
}

fn unknown(r: &iac::IacResource) -> (&str, &str) {
    match &r.policy {
        PolicySource::Unknown { path, reason } => (path, reason),
        other => panic!("{}: expected unknown, got {other:?}", r.resource),
    }
}

fn tags(pairs: &[(&str, &str)]) -> TagsSource {
    TagsSource::Known {
        tags: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    }
}

#[test]
fn every_fixture_is_detected_by_content() {
    for (name, want) in [
        ("tf-jsonencode-public.plan.json", InputType::TerraformPlan),
        ("tf-policy-document.plan.json", InputType::TerraformPlan),
        ("tf-modules.plan.json", InputType::TerraformPlan),
        ("tf-registry.plan.json", InputType::TerraformPlan),
        ("cfn-demo.json", InputType::Cloudformation),
        ("cfn-invalid-policy.json", InputType::Cloudformation),
        ("cfn-stack.yaml", InputType::Cloudformation),
    ] {
        assert_eq!(iac::detect(&fixture(name)), want, "{name}");
    }
}

#[test]
fn compact_plan_with_jsonencoded_policy() {
    let res = extract("tf-jsonencode-public.plan.json", &ctx(None, None));
    let names: Vec<_> = res
        .iter()
        .map(|r| (r.resource.as_str(), r.kind, r.line))
        .collect();
    // `terraform show -json` prints one line: every resource is on line 1.
    assert_eq!(
        names,
        vec![
            ("aws_ecr_repository.app", ResourceKind::Repository, Some(1)),
            (
                "aws_ecr_repository_policy.app",
                ResourceKind::RepositoryPolicy,
                Some(1)
            ),
        ]
    );
    assert_eq!(res[0].tags, tags(&[("owner", "team-payments")]));
    assert_eq!(res[1].repository_name.as_deref(), Some("app"));
    assert_eq!(res[1].region.as_deref(), Some("eu-west-1"));
    assert_eq!(
        policy_json(&res[1])["Statement"][0]["Principal"]["AWS"],
        "*"
    );
}

#[test]
fn policy_document_data_source_rendered_into_the_plan() {
    let res = extract("tf-policy-document.plan.json", &ctx(None, None));
    assert_eq!(res.len(), 2);
    let policy = &res[1];
    assert_eq!(policy.resource, "aws_ecr_repository_policy.base");
    assert_eq!(
        policy_json(policy)["Statement"][0]["Condition"]["StringEquals"]["aws:PrincipalOrgID"],
        "o-abcdef1234"
    );
    // The repository exists already (no-op): its ARN links to the policy.
    assert_eq!(
        policy.repository_arn.as_deref(),
        Some("arn:aws:ecr:eu-west-1:111111111111:repository/base-images")
    );
    // The first `"address": "aws_ecr_repository_policy.base"` (in planned_values).
    assert_eq!(policy.line, Some(35));
}

#[test]
fn modules_for_each_count_unknown_and_destroyed() {
    let res = extract("tf-modules.plan.json", &ctx(None, None));
    let addresses: Vec<_> = res.iter().map(|r| r.resource.as_str()).collect();
    assert_eq!(
        addresses,
        vec![
            "module.app.aws_ecr_repository.this[\"api\"]",
            "module.app.aws_ecr_repository.this[\"web\"]",
            "module.app.aws_ecr_repository_policy.this[\"api\"]",
            "module.app.aws_ecr_repository_policy.this[\"web\"]",
            "module.app.module.batch.aws_ecr_repository.jobs[0]",
            "module.app.module.batch.aws_ecr_repository.jobs[1]",
            "module.app.module.batch.aws_ecr_repository_policy.jobs[0]",
        ],
        "the destroyed aws_ecr_repository.tools deploys nothing"
    );
    let lines: Vec<_> = res.iter().map(|r| r.line.expect("line")).collect();
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "{lines:?}");
    let (path, reason) = unknown(&res[3]);
    assert_eq!(
        path,
        "module.app.aws_ecr_repository_policy.this[\"web\"].policy"
    );
    assert!(reason.contains("after apply"), "{reason}");
    assert_eq!(res[1].tags, tags(&[("env", "prod")]));
    assert_eq!(res[4].tags, tags(&[]));
    assert_eq!(res[5].tags, tags(&[("owner", "")]));
    assert_eq!(
        policy_json(&res[2])["Statement"][0]["Principal"]["AWS"],
        "arn:aws:iam::222222222222:root"
    );
}

#[test]
fn registry_policy_plan() {
    let res = extract("tf-registry.plan.json", &ctx(None, None));
    assert_eq!(res.len(), 1);
    assert_eq!(res[0].kind, ResourceKind::RegistryPolicy);
    assert_eq!(res[0].region.as_deref(), Some("eu-west-1"));
    assert_eq!(
        policy_json(&res[0])["Statement"].as_array().unwrap().len(),
        2
    );
}

#[test]
fn cloudformation_json_resolves_against_the_account() {
    let res = extract("cfn-demo.json", &ctx(Some("111111111111"), None));
    let ids: Vec<_> = res.iter().map(|r| (r.resource.as_str(), r.line)).collect();
    assert_eq!(
        ids,
        vec![
            ("DemoRepo", Some(10)),
            ("OwnRepo", Some(30)),
            ("PartnerRepo", Some(48))
        ]
    );
    assert_eq!(res[0].tags, tags(&[]));
    assert_eq!(res[1].repository_name.as_deref(), Some("111111111111-own"));
    assert_eq!(
        policy_json(&res[1])["Statement"][0]["Principal"]["AWS"],
        "arn:aws:iam::111111111111:root"
    );
    assert_eq!(
        policy_json(&res[2])["Statement"][0]["Principal"]["AWS"],
        "arn:aws:iam::222222222222:root"
    );
    // Without --account the own-account principal cannot be known: unknown, never safe.
    let res = extract("cfn-demo.json", &ctx(None, None));
    let (path, reason) = unknown(&res[1]);
    assert_eq!(
        path,
        "Resources.OwnRepo.Properties.RepositoryPolicyText.Statement[0].Principal.AWS"
    );
    assert!(reason.contains("AWS::AccountId"), "{reason}");
}

#[test]
fn cloudformation_string_policy_is_passed_verbatim() {
    let res = extract("cfn-invalid-policy.json", &ctx(Some("111111111111"), None));
    assert_eq!(res.len(), 1);
    match &res[0].policy {
        // The duplicate Effect is left for the policy parser to refuse.
        PolicySource::Text { text } => {
            assert!(text.contains("\"Effect\":\"Deny\",\"Effect\":\"Allow\""))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn cloudformation_yaml_short_forms() {
    let c = ctx(Some("111111111111"), Some("eu-west-1"));
    let res = extract("cfn-stack.yaml", &c);
    let ids: Vec<_> = res.iter().map(|r| (r.resource.as_str(), r.kind)).collect();
    assert_eq!(
        ids,
        vec![
            ("ApiRepo", ResourceKind::Repository),
            ("PartnerRepo", ResourceKind::Repository),
            ("RoleRepo", ResourceKind::Repository),
            ("ConditionalRepo", ResourceKind::Repository),
            ("PublicDemoRepo", ResourceKind::Repository),
            ("Registry", ResourceKind::RegistryPolicy),
        ]
    );
    let text = fixture("cfn-stack.yaml");
    for r in &res {
        let line = r.line.expect("line");
        let at = text.lines().nth(line - 1).unwrap();
        assert_eq!(at.trim(), format!("{}:", r.resource), "line {line}");
    }
    // !Sub | JSON text: a string policy, resolved.
    assert_eq!(
        policy_json(&res[0])["Statement"][0]["Principal"]["AWS"],
        "arn:aws:iam::111111111111:root"
    );
    assert_eq!(res[0].repository_name.as_deref(), Some("111111111111-api"));
    assert_eq!(res[0].tags, tags(&[("owner", UNKNOWN_TAG_VALUE)]));
    let (path, reason) = unknown(&res[1]);
    assert_eq!(
        path,
        "Resources.PartnerRepo.Properties.RepositoryPolicyText.Statement[0].Principal.AWS"
    );
    assert!(
        reason.contains("parameter PartnerAccount") && reason.contains("Default"),
        "{reason}"
    );
    assert!(unknown(&res[2]).1.contains("Fn::GetAtt PullRole.Arn"));
    assert!(unknown(&res[3]).1.contains("Fn::If on condition IsProd"));
    assert_eq!(res[4].repository_name.as_deref(), Some("demo-public"));
    assert_eq!(policy_json(&res[4])["Statement"][0]["Principal"], "*");
    let registry = policy_json(&res[5]);
    assert_eq!(
        registry["Statement"][0]["Resource"],
        "arn:aws:ecr:eu-west-1:111111111111:repository/*"
    );
    assert_eq!(
        registry["Statement"][0]["Action"],
        serde_json::json!(["ecr:ReplicateImage", "ecr:CreateRepository"])
    );
    // Without --region the registry policy's Resource cannot be known.
    let res = extract("cfn-stack.yaml", &ctx(Some("111111111111"), None));
    assert!(unknown(&res[5]).1.contains("AWS::Region"));
}
