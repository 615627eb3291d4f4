//! End-to-end verdicts on whole policies (the big table lives in `tests/policy_cases.rs`).

use super::*;

const OWNER: &str = "111111111111";
const PARTNER: &str = "222222222222";
const STRANGER: &str = "333333333333";
const ARN: &str = "arn:aws:ecr:us-east-1:111111111111:repository/app";

fn trust() -> Trust {
    Trust {
        owner_account: OWNER.into(),
        trusted_accounts: [PARTNER.to_string()].into(),
        trusted_orgs: ["o-trusted0001".to_string()].into(),
    }
}

fn repo() -> Subject<'static> {
    Subject::Repository {
        arn: ARN,
        tags: None,
    }
}

fn verdict(stmts: &str) -> Verdict {
    let text = format!(r#"{{"Version":"2012-10-17","Statement":[{stmts}]}}"#);
    analyze(&text, &repo(), &trust()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// (public, cross, access, network_restricted)
fn v(stmts: &str) -> (bool, bool, Access, bool) {
    let v = verdict(stmts);
    (v.public, v.cross_account, v.access, v.network_restricted)
}

const NONE: (bool, bool, Access, bool) = (false, false, Access::None, false);

#[test]
fn public_star_pull() {
    assert_eq!(
        v(
            r#"{"Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}"#
        ),
        (true, true, Access::Read, false)
    );
    let vd = verdict(r#"{"Sid":"pull","Effect":"Allow","Principal":{"AWS":"*"},"Action":"ecr:*"}"#);
    assert_eq!(vd.access, Access::Admin);
    assert_eq!(vd.grants.len(), 1);
    assert_eq!(vd.grants[0].audience, Audience::Everyone);
    assert_eq!(vd.grants[0].sid.as_deref(), Some("pull"));
    assert!(vd.grants[0].public);
    assert_eq!(vd.grants[0].actions.len(), 35);
}

#[test]
fn trusted_and_untrusted_accounts() {
    assert_eq!(
        v(
            r#"{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::222222222222:root","111111111111"]},"Action":"ecr:*"}"#
        ),
        NONE
    );
    let vd = verdict(
        r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::333333333333:role/ci"},"Action":"ecr:PutImage"}"#,
    );
    assert_eq!(
        (vd.public, vd.cross_account, vd.access),
        (false, true, Access::Write)
    );
    assert_eq!(
        vd.grants[0].audience,
        Audience::Account {
            account_id: STRANGER.into()
        }
    );
}

#[test]
fn org_conditions() {
    let star = r#""Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage""#;
    assert_eq!(
        v(&format!(
            r#"{{{star},"Condition":{{"StringEquals":{{"aws:PrincipalOrgID":"o-trusted0001"}}}}}}"#
        )),
        NONE
    );
    // The vacuous-truth trap.
    let vd = verdict(&format!(
        r#"{{{star},"Condition":{{"ForAllValues:StringEquals":{{"aws:PrincipalOrgID":"o-trusted0001"}}}}}}"#
    ));
    assert!(vd.public);
    assert!(
        vd.grants[0]
            .explanation
            .iter()
            .any(|e| e.contains("ForAllValues on single-valued key aws:PrincipalOrgID is true for callers outside any organization")),
        "{:#?}",
        vd.grants[0].explanation
    );
    assert!(
        v(&format!(r#"{{{star},"Condition":{{"StringEqualsIfExists":{{"aws:PrincipalOrgID":"o-trusted0001"}}}}}}"#)).0);
    assert!(
        v(&format!(
            r#"{{{star},"Condition":{{"StringLike":{{"aws:PrincipalOrgID":"o-*"}}}}}}"#
        ))
        .0
    );
    let vd = verdict(&format!(
        r#"{{{star},"Condition":{{"StringEquals":{{"aws:PrincipalOrgID":"o-untrusted01"}}}}}}"#
    ));
    assert_eq!((vd.public, vd.cross_account), (false, true));
    assert_eq!(
        vd.grants[0].audience,
        Audience::Organization {
            org_id: "o-untrusted01".into()
        }
    );
    // Not a real org id under a case-sensitive operator: nobody.
    assert_eq!(
        v(&format!(
            r#"{{{star},"Condition":{{"StringEquals":{{"aws:PrincipalOrgID":"O-UNTRUSTED01"}}}}}}"#
        )),
        NONE
    );
    assert_eq!(
        v(&format!(
            r#"{{{star},"Condition":{{"StringEqualsIgnoreCase":{{"aws:PrincipalOrgID":"O-TRUSTED0001"}}}}}}"#
        )),
        NONE
    );
    assert_eq!(
        v(&format!(
            r#"{{{star},"Condition":{{"ForAnyValue:StringLike":{{"aws:PrincipalOrgPaths":"o-trusted0001/*"}}}}}}"#
        )),
        NONE
    );
}

#[test]
fn deny_semantics() {
    let allow = r#"{"Effect":"Allow","Principal":"*","Action":"ecr:*"}"#;
    assert_eq!(
        v(&format!(
            r#"{allow},{{"Effect":"Deny","Principal":"*","Action":"ecr:*","Condition":{{"StringNotEquals":{{"aws:PrincipalOrgID":"o-trusted0001"}}}}}}"#
        )),
        NONE
    );
    assert!(
        v(&format!(
            r#"{allow},{{"Effect":"Deny","Principal":"*","Action":"ecr:*","Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}}"#
        ))
        .0);
    assert!(
        v(&format!(
            r#"{allow},{{"Effect":"Deny","Principal":"*","Action":"ecr:*","Condition":{{"Null":{{"aws:PrincipalOrgID":"true"}}}}}}"#
        ))
        .0);
    let vd = verdict(&format!(
        r#"{allow},{{"Effect":"Deny","Principal":{{"AWS":"333333333333"}},"Action":"ecr:*"}}"#
    ));
    assert!(vd.public);
    assert!(
        vd.grants[0]
            .explanation
            .iter()
            .any(|e| e.contains("applies only to account 333333333333")),
        "{:#?}",
        vd.grants[0].explanation
    );
    // Partial deny lowers access.
    assert_eq!(
        v(&format!(
            r#"{allow},{{"Effect":"Deny","Principal":"*","Action":["ecr:Set*","ecr:Delete*"]}}"#
        )),
        (true, true, Access::Write, false)
    );
    // NotPrincipal Deny exempting trusted accounts denies all outsiders.
    assert_eq!(
        v(&format!(
            r#"{allow},{{"Effect":"Deny","NotPrincipal":{{"AWS":["111111111111","222222222222"]}},"Action":"ecr:*"}}"#
        )),
        NONE
    );
}

#[test]
fn network_restriction() {
    let vd = verdict(
        r#"{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}"#,
    );
    assert_eq!(
        (vd.public, vd.cross_account, vd.network_restricted),
        (false, true, true)
    );
    assert!(vd.grants[0].network_restricted);
    assert!(
        v(r#"{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage","Condition":{"IpAddress":{"aws:SourceIp":["0.0.0.0/1","128.0.0.0/1"]}}}"#).0);
    assert!(
        v(r#"{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage","Condition":{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}}"#).0);
    assert_eq!(
        v(
            r#"{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage","Condition":{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"},"StringEqualsIfExists":{"aws:SourceVpc":"vpc-1234"}}}"#
        ),
        (false, true, Access::Read, true)
    );
    assert!(
        v(r#"{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage","Condition":{"StringLike":{"aws:SourceVpce":"vpce-*"}}}"#).0);
    assert_eq!(
        v(
            r#"{"Effect":"Allow","Principal":"*","Action":"ecr:*"},{"Effect":"Deny","Principal":"*","Action":"ecr:*","Condition":{"NotIpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}"#
        ),
        (false, true, Access::Admin, true)
    );
}

#[test]
fn services_and_source_keys() {
    assert_eq!(
        v(
            r#"{"Effect":"Allow","Principal":{"Service":"codebuild.amazonaws.com"},"Action":"ecr:BatchGetImage"}"#
        ),
        (false, true, Access::Read, false)
    );
    assert_eq!(
        v(
            r#"{"Effect":"Allow","Principal":{"Service":"codebuild.amazonaws.com"},"Action":"ecr:BatchGetImage","Condition":{"StringEquals":{"aws:SourceAccount":"111111111111"}}}"#
        ),
        NONE
    );
    assert_eq!(
        v(
            r#"{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage","Condition":{"StringEquals":{"aws:SourceAccount":"333333333333"}}}"#
        ),
        (false, true, Access::Read, false)
    );
    assert!(
        v(r#"{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage","Condition":{"StringEqualsIfExists":{"aws:SourceAccount":"111111111111"}}}"#).0);
    assert_eq!(
        v(
            r#"{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:codebuild:*:111111111111:project/*"}}}"#
        ),
        NONE
    );
}

#[test]
fn principal_keys_and_patterns() {
    let star = r#""Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage""#;
    assert!(
        v(&format!(r#"{{{star},"Condition":{{"ArnLike":{{"aws:PrincipalArn":"arn:aws:iam::*:role/ci"}}}}}}"#)).0);
    assert_eq!(
        v(&format!(
            r#"{{{star},"Condition":{{"ArnLike":{{"aws:PrincipalArn":"arn:aws:iam::111111111111:role/*"}}}}}}"#
        )),
        NONE
    );
    assert_eq!(
        v(&format!(
            r#"{{{star},"Condition":{{"StringLike":{{"aws:PrincipalAccount":"1111111111??"}}}}}}"#
        )),
        (false, true, Access::Read, false)
    );
    assert_eq!(
        v(&format!(
            r#"{{{star},"Condition":{{"StringLike":{{"aws:userid":"AROAEXAMPLEID1234:*"}}}}}}"#
        )),
        NONE
    );
    assert!(
        v(&format!(
            r#"{{{star},"Condition":{{"StringLike":{{"aws:userid":"*:alice"}}}}}}"#
        ))
        .0
    );
    assert!(
        v(&format!(
            r#"{{{star},"Condition":{{"StringEquals":{{"aws:username":"alice"}}}}}}"#
        ))
        .0
    );
    // Wildcard ARN principal: fail safe.
    assert!(v(r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::*:root"},"Action":"ecr:ListImages"}"#).0);
    // Deleted principal: nobody.
    assert_eq!(
        v(r#"{"Effect":"Allow","Principal":{"AWS":"AROAEXAMPLEID12345678"},"Action":"ecr:*"}"#),
        NONE
    );
    // Allow NotPrincipal: everyone else.
    assert!(
        v(r#"{"Effect":"Allow","NotPrincipal":{"AWS":"111111111111"},"Action":"ecr:ListImages"}"#)
            .0
    );
    // Web identity: everyone; SAML provider: its account.
    assert!(v(r#"{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"ecr:ListImages"}"#).0);
    assert_eq!(
        v(
            r#"{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::333333333333:saml-provider/x"},"Action":"ecr:ListImages"}"#
        ),
        (false, true, Access::Read, false)
    );
}

#[test]
fn actions_and_resources() {
    assert_eq!(
        v(r#"{"Effect":"Allow","Principal":"*","Action":"ecr:GetAuthorizationToken"}"#),
        NONE
    );
    assert_eq!(
        v(r#"{"Effect":"Allow","Principal":"*","NotAction":"ecr:*"}"#),
        NONE
    );
    assert_eq!(
        v(r#"{"Effect":"Allow","Principal":"*","NotAction":"ecr:Delete*"}"#).2,
        Access::Admin
    );
    assert_eq!(
        v(
            r#"{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage","Resource":"arn:aws:ecr:us-east-1:111111111111:repository/other"}"#
        ),
        NONE
    );
    assert!(v(r#"{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage","Resource":"arn:aws:ecr:*:111111111111:repository/a*"}"#).0);
    assert_eq!(
        v(r#"{"Effect":"Allow","Principal":"*","Action":"ecr:BrandNew"}"#).2,
        Access::Write
    );
    assert_eq!(
        v(
            r#"{"Effect":"Allow","Principal":"*","Action":"ecr:*","Condition":{"StringEquals":{"aws:RequestedRegion":"eu-west-1"}}}"#
        ),
        NONE
    );
    assert!(
        v(r#"{"Effect":"Allow","Principal":"*","Action":"ecr:*","Condition":{"StringEquals":{"aws:ResourceAccount":"111111111111"}}}"#).0);
}

#[test]
fn tags_known_and_unknown() {
    let text = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage","Condition":{"StringEquals":{"aws:ResourceTag/public":"yes"}}}]}"#;
    let offline = analyze(text, &repo(), &trust()).unwrap();
    assert!(offline.public);
    assert!(offline.notes.iter().any(|n| n.contains("tags")));
    let tags: BTreeMap<String, String> = [("public".to_string(), "no".to_string())].into();
    let known = Subject::Repository {
        arn: ARN,
        tags: Some(&tags),
    };
    assert!(!analyze(text, &known, &trust()).unwrap().cross_account);
}

#[test]
fn registry_scopes() {
    let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:CreateRepository"],"Resource":"arn:aws:ecr:us-east-1:111111111111:repository/*"}]}"#;
    let reg = |scope| Subject::Registry {
        account_id: OWNER,
        region: "us-east-1",
        scope,
    };
    let v2 = analyze(text, &reg(RegistryScope::V2), &trust()).unwrap();
    assert_eq!((v2.public, v2.access), (true, Access::Write));
    assert_eq!(v2.grants[0].actions.len(), 2);
    let v1 = analyze(text, &reg(RegistryScope::V1), &trust()).unwrap();
    assert_eq!((v1.public, v1.access), (true, Access::Write));
    assert_eq!(v1.grants[0].actions, vec!["ecr:CreateRepository"]);
    let pull_only =
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}]}"#;
    assert!(
        !analyze(pull_only, &reg(RegistryScope::V1), &trust())
            .unwrap()
            .cross_account
    );
    // A Deny on one repository leaves the others exposed.
    let partial = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*"},{"Effect":"Deny","Principal":"*","Action":"ecr:*","Resource":"arn:aws:ecr:us-east-1:111111111111:repository/secret"}]}"#;
    assert!(
        analyze(partial, &reg(RegistryScope::V2), &trust())
            .unwrap()
            .public
    );
}

#[test]
fn policy_variables_by_version() {
    let stmt = r#"{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage","Condition":{"StringEquals":{"aws:PrincipalArn":"arn:aws:iam::${aws:PrincipalAccount}:root"}}}"#;
    let v12 = analyze(
        &format!(r#"{{"Version":"2012-10-17","Statement":[{stmt}]}}"#),
        &repo(),
        &trust(),
    )
    .unwrap();
    assert!(v12.public);
    let v08 = analyze(&format!(r#"{{"Statement":[{stmt}]}}"#), &repo(), &trust()).unwrap();
    assert!(!v08.cross_account);
}

#[test]
fn hostile_inputs_fail_cleanly() {
    let big = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"ecr:*","Sid":"{}"}}]}}"#,
        "x".repeat(1 << 20)
    );
    assert_eq!(
        analyze(&big, &repo(), &trust()).unwrap_err().code,
        ErrorCode::TooLarge
    );
    let deep = "[".repeat(5000);
    assert_eq!(
        analyze(&deep, &repo(), &trust()).unwrap_err().code,
        ErrorCode::TooDeep
    );
    // Many literals: still answers (or refuses with too_complex), never hangs or panics.
    let mut stmts = Vec::new();
    for i in 0..400 {
        stmts.push(format!(
            r#"{{"Effect":"Allow","Principal":"*","Action":"ecr:ListImages","Condition":{{"StringEquals":{{"aws:PrincipalAccount":"{:012}","aws:PrincipalOrgID":"o-abcdefgh{:02}"}},"IpAddress":{{"aws:SourceIp":"10.{}.0.0/16"}}}}}}"#,
            400_000_000_000u64 + i,
            i % 100,
            i % 250
        ));
    }
    let text = format!(r#"{{"Statement":[{}]}}"#, stmts.join(","));
    match analyze(&text, &repo(), &trust()) {
        Ok(v) => assert!(v.cross_account && !v.public),
        Err(e) => assert_eq!(e.code, ErrorCode::TooComplex),
    }
}

#[test]
fn statement_order_and_formatting_do_not_change_the_verdict() {
    let stmts = [
        r#"{"Effect":"Allow","Principal":"*","Action":"ecr:*","Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","0.0.0.0/2"]}}}"#,
        r#"{"Effect":"Deny","Principal":"*","Action":"ecr:Delete*","Condition":{"StringNotEquals":{"aws:PrincipalOrgID":"o-trusted0001"}}}"#,
        r#"{"Effect":"Allow","Principal":{"AWS":["333333333333","arn:aws:iam::444444444444:role/x"]},"Action":"ecr:PutImage"}"#,
        r#"{"Effect":"Allow","Principal":{"Service":"codebuild.amazonaws.com"},"Action":"ecr:BatchGetImage","Condition":{"StringLike":{"aws:SourceAccount":"55555555555?"}}}"#,
        r#"{"Effect":"Deny","Principal":{"AWS":"444444444444"},"Action":"ecr:*"}"#,
    ];
    let fields = |v: &Verdict| (v.public, v.cross_account, v.access, v.network_restricted);
    let forward = verdict(&stmts.join(","));
    let mut rev = stmts.to_vec();
    rev.reverse();
    assert_eq!(fields(&forward), fields(&verdict(&rev.join(","))));
    let pretty = format!(
        "{{\n  \"Version\" : \"2012-10-17\",\n  \"Statement\" : [ {} ]\n}}",
        stmts.join(" ,\n ").replace("\":", "\" : ")
    );
    let re = analyze(&pretty, &repo(), &trust()).unwrap();
    assert_eq!(fields(&forward), fields(&re));
    assert_eq!(fields(&forward), (true, true, Access::Admin, false));
}

/// A statement that can never apply (no ECR action, or a Deny whose condition the caller
/// avoids) gives the probe world nothing: its thousands of accounts used to overflow it, so a
/// plainly public policy came back `too_complex`.
#[test]
fn dead_statements_add_no_probes() {
    let many: Vec<String> = (0..5_000u64)
        .map(|i| format!("\"{}\"", 400_000_000_000 + i * 7))
        .collect();
    let many = many.join(",");
    let public_pull = r#"{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}"#;
    let not_ecr =
        format!(r#"{{"Effect":"Allow","Principal":{{"AWS":[{many}]}},"Action":"s3:GetObject"}}"#);
    let avoidable_deny = format!(
        r#"{{"Effect":"Deny","Principal":{{"AWS":[{many}]}},"Action":"ecr:*","Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}}"#
    );
    for dead in [&not_ecr, &avoidable_deny] {
        assert_eq!(
            v(&format!("{public_pull},{dead}")),
            (true, true, Access::Read, false),
            "{}",
            &dead[..80]
        );
    }
    // The same accounts on a live statement still overflow the world: refused, not guessed.
    let live = format!(
        r#"{{"Effect":"Allow","Principal":{{"AWS":[{many}]}},"Action":"ecr:BatchGetImage"}}"#
    );
    let text = format!(r#"{{"Version":"2012-10-17","Statement":[{public_pull},{live}]}}"#);
    let err = analyze(&text, &repo(), &trust()).expect_err("too many accounts to probe");
    assert_eq!(err.code, ErrorCode::TooComplex);
}
