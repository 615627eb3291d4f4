//! `scan --once` against moto: the seeded organization gives exactly the expected findings,
//! and failures (throttling, a role that cannot be assumed, a region that cannot be listed,
//! a denied tagging API) stay local to their target.
//!
//! The estate is `tests/support/seed.py --scenario test`: accounts mgmt (123456789012), dev,
//! prod, sandbox (retired is SUSPENDED), regions us-east-1 and eu-west-1, eight repositories
//! per target (one per case) plus prod/us-east-1 `legacy-secret` whose policy is unreadable.

mod support;

use serde_json::{Value, json};
use support::{Moto, ScanOutput};

const ORG_CONFIG: &str = "accounts:\n  discovery: organizations\n";

/// What one repository case must give: (policy_state, public, cross_account, access,
/// network_restricted, missing_tags, iac_managed, error code).
struct Expect {
    name: &'static str,
    state: &'static str,
    public: Value,
    cross: Value,
    access: Value,
    network: Value,
    missing: &'static [&'static str],
    iac: bool,
    error: Option<&'static str>,
}

fn cases() -> Vec<Expect> {
    let b = Value::Bool;
    let s = |x: &str| Value::String(x.to_string());
    vec![
        Expect {
            name: "web-public",
            state: "ok",
            public: b(true),
            cross: b(true),
            access: s("read"),
            network: b(false),
            missing: &[],
            iac: false,
            error: None,
        },
        Expect {
            name: "ci-public-push",
            state: "ok",
            public: b(true),
            cross: b(true),
            access: s("write"),
            network: b(false),
            missing: &["owner"],
            iac: false,
            error: None,
        },
        Expect {
            name: "partner-pull",
            state: "ok",
            public: b(false),
            cross: b(true),
            access: s("read"),
            network: b(false),
            missing: &[],
            iac: true,
            error: None,
        },
        Expect {
            name: "org-shared",
            state: "ok",
            public: b(false),
            cross: b(false),
            access: s("none"),
            network: b(false),
            missing: &["owner"],
            iac: false,
            error: None,
        },
        Expect {
            name: "member-pull",
            state: "ok",
            public: b(false),
            cross: b(false),
            access: s("none"),
            network: b(false),
            missing: &[],
            iac: false,
            error: None,
        },
        Expect {
            name: "private-none",
            state: "none",
            public: b(false),
            cross: b(false),
            access: s("none"),
            network: b(false),
            missing: &["owner"],
            iac: false,
            error: None,
        },
        Expect {
            name: "broken-policy",
            state: "invalid",
            public: Value::Null,
            cross: Value::Null,
            access: Value::Null,
            network: Value::Null,
            missing: &[],
            iac: false,
            error: Some("unknown_key"),
        },
        Expect {
            name: "admin-open",
            state: "ok",
            public: b(false),
            cross: b(true),
            access: s("admin"),
            network: b(true),
            missing: &[],
            iac: false,
            error: None,
        },
    ]
}

fn check_case(out: &ScanOutput, account: &str, region: &str, e: &Expect) {
    let r = out.repository(account, region, e.name);
    let at = format!("{account}/{region}/{}", e.name);
    assert_eq!(r["policy_state"], e.state, "{at} policy_state: {r}");
    assert_eq!(r["public"], e.public, "{at} public: {r}");
    assert_eq!(r["cross_account"], e.cross, "{at} cross_account: {r}");
    assert_eq!(r["access"], e.access, "{at} access: {r}");
    assert_eq!(
        r["network_restricted"], e.network,
        "{at} network_restricted: {r}"
    );
    assert_eq!(
        r["missing_tags"],
        json!(e.missing),
        "{at} missing_tags: {r}"
    );
    assert_eq!(r["iac_managed"], e.iac, "{at} iac_managed: {r}");
    assert_eq!(r["tags_source"], "tagging_api", "{at} tags_source: {r}");
    assert_eq!(
        r["arn"],
        format!("arn:aws:ecr:{region}:{account}:repository/{}", e.name),
        "{at} arn"
    );
    match e.error {
        None => assert_eq!(r["error"], Value::Null, "{at} error: {r}"),
        Some(code) => assert_eq!(r["error"]["code"], code, "{at} error: {r}"),
    }
    let exposed = e.public == Value::Bool(true) || e.cross == Value::Bool(true);
    assert_eq!(
        !r["grants"].as_array().expect("grants").is_empty(),
        exposed,
        "{at} grants: {r}"
    );
}

fn ids(manifest: &Value, who: &str) -> String {
    manifest["accounts"][who]
        .as_str()
        .expect("account id")
        .to_string()
}

#[test]
fn scenario_gives_exact_findings() {
    let moto = Moto::start();
    let m = moto.seed("test", &[]);
    let dir = tempfile::tempdir().unwrap();
    let config = moto.write_config(dir.path(), ORG_CONFIG);
    let started = std::time::Instant::now();
    let out = moto.scan_json(&config);
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(
        out.code, 1,
        "findings and no failure => exit 1; stderr:\n{}",
        out.stderr
    );

    let active: Vec<String> = ["mgmt", "dev", "prod", "sandbox"]
        .iter()
        .map(|w| ids(&m, w))
        .collect();
    let regions = ["eu-west-1", "us-east-1"];

    // targets: 4 ACTIVE accounts x 2 enabled regions; not the SUSPENDED account, not ap-east-1
    let targets = out.kind("target");
    assert_eq!(targets.len(), 8, "{:#?}", targets);
    for t in &targets {
        assert_eq!(t["status"], "ok", "{t}");
        assert_eq!(t["error"], Value::Null, "{t}");
        assert!(
            active.contains(&t["account_id"].as_str().unwrap().to_string()),
            "{t}"
        );
        assert!(regions.contains(&t["region"].as_str().unwrap()), "{t}");
        // Each target made calls to the emulator, inside the process the test timed.
        let d = t["duration_seconds"].as_f64().expect("duration_seconds");
        assert!(
            d > 0.0 && d < wall,
            "duration {d}s outside (0, {wall}s): {t}"
        );
    }
    let retired = ids(&m, "retired");
    assert!(
        out.records
            .iter()
            .all(|r| r["account_id"] != retired.as_str())
    );

    // every case in every target
    let prod = ids(&m, "prod");
    for account in &active {
        for region in regions {
            let n = if *account == prod && region == "us-east-1" {
                9
            } else {
                8
            };
            assert_eq!(out.target(account, region)["repositories"], n);
            for e in cases() {
                check_case(&out, account, region, &e);
            }
        }
    }
    assert_eq!(out.kind("repository").len(), 65);

    // tags: joined from GetResources; never-tagged => no tags; empty owner counts as missing
    let mgmt = ids(&m, "mgmt");
    let r = out.repository(&mgmt, "us-east-1", "web-public");
    assert_eq!(r["tags"], json!({"owner": "team-web"}));
    assert_eq!(r["owner"], "team-web");
    assert_eq!(
        out.repository(&mgmt, "us-east-1", "private-none")["tags"],
        json!({})
    );
    assert_eq!(
        out.repository(&mgmt, "eu-west-1", "ci-public-push")["tags"],
        json!({"owner": ""})
    );
    assert_eq!(
        out.repository(&mgmt, "eu-west-1", "partner-pull")["managed_by"],
        "terraform"
    );

    // the unreadable policy is unknown, never "not exposed"
    let legacy = out.repository(&prod, "us-east-1", "legacy-secret");
    assert_eq!(legacy["policy_state"], "unknown", "{legacy}");
    assert_eq!(legacy["public"], Value::Null);
    assert_eq!(legacy["error"]["code"], "access_denied", "{legacy}");
    assert_eq!(legacy["missing_tags"], json!([]));

    // registries: one cross-account (write) policy in mgmt/us-east-1; dev/eu-west-1 is V1
    let registries = out.kind("registry");
    assert_eq!(registries.len(), 8);
    let dev = ids(&m, "dev");
    for reg in registries {
        let account = reg["account_id"].as_str().unwrap();
        let region = reg["region"].as_str().unwrap();
        let want_scope = if account == dev && region == "eu-west-1" {
            "v1"
        } else {
            "v2"
        };
        assert_eq!(reg["scope"], want_scope, "{reg}");
        assert_eq!(reg["scope_known"], true, "{reg}");
        if account == mgmt && region == "us-east-1" {
            assert_eq!(reg["policy_state"], "ok", "{reg}");
            assert_eq!(reg["public"], false, "{reg}");
            assert_eq!(reg["cross_account"], true, "{reg}");
            assert_eq!(reg["access"], "write", "{reg}");
        } else {
            assert_eq!(reg["policy_state"], "none", "{reg}");
            assert_eq!(reg["cross_account"], false, "{reg}");
        }
    }

    // the trust zone comes from discovery: without organization_accounts, the org-restricted
    // and member grants reach outside it
    let config = moto.write_config(
        dir.path(),
        "accounts:\n  discovery: organizations\ntrust:\n  organization_accounts: false\n",
    );
    let out = moto.scan_json(&config);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r = out.repository(&mgmt, "us-east-1", "member-pull");
    assert_eq!(
        (r["public"].clone(), r["cross_account"].clone()),
        (json!(false), json!(true)),
        "{r}"
    );
    let r = out.repository(&mgmt, "us-east-1", "org-shared");
    assert_eq!(
        (r["public"].clone(), r["cross_account"].clone()),
        (json!(false), json!(true)),
        "{r}"
    );
}

#[test]
fn throttled_policy_reads_recover_through_retries() {
    let moto = Moto::start();
    let m = moto.seed("test", &[]);
    let mgmt = ids(&m, "mgmt");
    // 3 throttles never exhaust one call's 4 attempts, however they fall
    moto.fault(
        json!({"operation": "GetRepositoryPolicy", "account": mgmt, "region": "us-east-1",
                      "error": "ThrottlingException", "count": 3}),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = moto.write_config(dir.path(), ORG_CONFIG);
    let out = moto.scan_json(&config);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.kind("target").iter().all(|t| t["status"] == "ok"));
    for e in cases() {
        check_case(&out, &mgmt, "us-east-1", &e);
    }
    let unknown: Vec<&Value> = out
        .kind("repository")
        .into_iter()
        .filter(|r| r["policy_state"] == "unknown")
        .collect();
    assert_eq!(unknown.len(), 1, "only legacy-secret: {unknown:#?}");
    // 65 repositories, 3 retried requests
    assert_eq!(moto.counts()["ecr:GetRepositoryPolicy"], 68);
}

#[test]
fn denied_assume_role_fails_only_that_account() {
    let moto = Moto::start();
    let m = moto.seed("test", &[]);
    let dev = ids(&m, "dev");
    moto.fault(
        json!({"operation": "AssumeRole", "account": dev, "error": "AccessDenied",
                      "count": 1000}),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = moto.write_config(
        dir.path(),
        "accounts:\n  discovery: organizations\nregions: [us-east-1, eu-west-1]\n",
    );
    let out = moto.scan_json(&config);
    assert_eq!(out.code, 2, "a failed target => exit 2; {}", out.stderr);
    let targets = out.kind("target");
    assert_eq!(targets.len(), 8);
    for t in targets {
        if t["account_id"] == dev.as_str() {
            assert_eq!(t["status"], "failed", "{t}");
            assert_eq!(t["error"]["code"], "assume_role_failed", "{t}");
            assert!(
                t["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("AccessDenied"),
                "{t}"
            );
        } else {
            assert_eq!(t["status"], "ok", "{t}");
        }
    }
    assert!(
        !out.records
            .iter()
            .any(|r| r["kind"] == "repository" && r["account_id"] == dev.as_str())
    );
    for who in ["mgmt", "prod", "sandbox"] {
        let account = ids(&m, who);
        for e in cases() {
            check_case(&out, &account, "eu-west-1", &e);
        }
    }
}

#[test]
fn denied_assume_role_with_all_regions_is_one_failed_target() {
    let moto = Moto::start();
    let m = moto.seed("test", &[]);
    let dev = ids(&m, "dev");
    moto.fault(
        json!({"operation": "AssumeRole", "account": dev, "error": "AccessDenied",
                      "count": 1000}),
    );
    let dir = tempfile::tempdir().unwrap();
    let out = moto.scan_json(&moto.write_config(dir.path(), ORG_CONFIG));
    assert_eq!(out.code, 2, "{}", out.stderr);
    // its regions are unknown: one failed target for the account, region "*"
    let t = out.target(&dev, "*");
    assert_eq!(t["status"], "failed", "{t}");
    assert_eq!(t["error"]["code"], "assume_role_failed", "{t}");
    assert_eq!(out.kind("target").len(), 7);
}

#[test]
fn organizational_units_include_and_exclude_accounts() {
    let moto = Moto::start();
    let m = moto.seed("test", &[]);
    let workloads = m["ous"]["workloads"].as_str().unwrap().to_string();
    let sandbox = ids(&m, "sandbox");
    let dir = tempfile::tempdir().unwrap();
    // excluding the parent OU excludes the account in its child OU
    let config = moto.write_config(
        dir.path(),
        &format!("accounts:\n  discovery: organizations\n  exclude: [{workloads}]\n"),
    );
    let out = moto.scan_json(&config);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let accounts: std::collections::BTreeSet<&str> = out
        .kind("target")
        .iter()
        .map(|t| t["account_id"].as_str().unwrap())
        .collect();
    assert_eq!(accounts.len(), 3, "{accounts:?}");
    assert!(!accounts.contains(sandbox.as_str()));
    // including it scans only that account; this run finds moto through AWS_ENDPOINT_URL
    // alone (no aws.endpoint_url in the file)
    let aws = moto
        .aws_yaml()
        .replace(&format!("  endpoint_url: {}\n", moto.endpoint), "");
    assert!(!aws.contains("endpoint_url"));
    let config = dir.path().join("env-endpoint.yaml");
    std::fs::write(
        &config,
        format!("{aws}accounts:\n  discovery: organizations\n  include: [{workloads}]\n"),
    )
    .unwrap();
    let out = moto.scan_json(&config);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let targets = out.kind("target");
    assert_eq!(targets.len(), 2, "{targets:#?}");
    assert!(targets.iter().all(|t| t["account_id"] == sandbox.as_str()));
}

#[test]
fn failing_region_listing_fails_only_that_target() {
    let moto = Moto::start();
    let m = moto.seed("test", &[]);
    let prod = ids(&m, "prod");
    moto.fault(
        json!({"operation": "DescribeRepositories", "account": prod, "region": "eu-west-1",
                      "error": "AccessDeniedException", "count": 1000}),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = moto.write_config(dir.path(), ORG_CONFIG);
    let out = moto.scan_json(&config);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let t = out.target(&prod, "eu-west-1");
    assert_eq!(t["status"], "failed", "{t}");
    assert_eq!(t["error"]["code"], "access_denied", "{t}");
    assert_eq!(t["repositories"], 0);
    let failed = out
        .kind("target")
        .iter()
        .filter(|t| t["status"] == "failed")
        .count();
    assert_eq!(failed, 1);
    assert!(!out.records.iter().any(|r| r["kind"] != "target"
        && r["account_id"] == prod.as_str()
        && r["region"] == "eu-west-1"));
    for e in cases() {
        check_case(&out, &prod, "us-east-1", &e);
    }
    // the text format says the same, exposures first
    let text = moto
        .exporter()
        .args(["scan", "--once", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(text.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.starts_with("EXPOSED REPOSITORIES"), "{stdout}");
    assert!(stdout.contains("FAILED"), "{stdout}");
}

#[test]
fn denied_tagging_api_falls_back_to_list_tags_for_resource() {
    let moto = Moto::start();
    let m = moto.seed("test", &[]);
    let mgmt = ids(&m, "mgmt");
    moto.fault(
        json!({"operation": "GetResources", "account": mgmt, "region": "us-east-1",
                      "error": "AccessDeniedException", "count": 1000}),
    );
    moto.fault(
        json!({"operation": "GetAccountSetting", "account": mgmt, "region": "us-east-1",
                      "error": "AccessDeniedException", "count": 1000}),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = moto.write_config(dir.path(), ORG_CONFIG);
    let out = moto.scan_json(&config);
    assert_eq!(out.code, 1, "{}", out.stderr);
    for name in ["web-public", "private-none", "ci-public-push"] {
        let r = out.repository(&mgmt, "us-east-1", name);
        assert_eq!(r["tags_source"], "list_tags_for_resource", "{r}");
    }
    assert_eq!(
        out.repository(&mgmt, "us-east-1", "web-public")["tags"],
        json!({"owner": "team-web"})
    );
    assert_eq!(
        out.repository(&mgmt, "us-east-1", "private-none")["missing_tags"],
        json!(["owner"])
    );
    assert_eq!(
        out.repository(&mgmt, "eu-west-1", "web-public")["tags_source"],
        "tagging_api"
    );
    assert_eq!(moto.counts()["ecr:ListTagsForResource"], 8);
    // an unreadable registry scope is analysed as V2, and says so
    let reg = out
        .kind("registry")
        .into_iter()
        .find(|r| r["account_id"] == mgmt.as_str() && r["region"] == "us-east-1")
        .unwrap();
    assert_eq!(reg["scope"], "v2");
    assert_eq!(reg["scope_known"], false);
}
