//! The fast AWS fake (`examples/fake_aws`) against moto: the same small organization built
//! in both gives the same findings through `scan --once --format json`; and against the
//! exporter's real clients: throttling it injects is retried (every throttled request costs
//! exactly one more call), and a clean scan makes exactly the lower bound of calls.

#[path = "support/mod.rs"]
mod support;

#[path = "../examples/fake_aws/fake/mod.rs"]
mod fake;

use std::process::Command;

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use serde_json::{Value, json};

use fake::estate::{Estate, Policy, Shape};
use fake::faults::Faults;
use fake::server::{Fake, Running, spawn};

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

async fn sdk_config(endpoint: &str, region: &str, creds: Credentials) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .load()
        .await
}

fn testing() -> Credentials {
    Credentials::new("testing", "testing", None, None, "test")
}

/// Create an organization with two members in moto; (organization id, account ids).
async fn moto_organization(endpoint: &str) -> (String, Vec<String>) {
    let cfg = sdk_config(endpoint, "us-east-1", testing()).await;
    let org = aws_sdk_organizations::Client::new(&cfg);
    let created = org
        .create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .expect("create organization");
    let org_id = created
        .organization()
        .and_then(|o| o.id())
        .expect("organization id")
        .to_string();
    let mut accounts = vec![fake::estate::DEFAULT_MANAGEMENT.to_string()];
    for name in ["dev", "prod"] {
        let out = org
            .create_account()
            .account_name(name)
            .email(format!("{name}@example.com"))
            .send()
            .await
            .expect("create account");
        let id = out
            .create_account_status()
            .and_then(|s| s.account_id())
            .expect("account id");
        accounts.push(id.to_string());
    }
    (org_id, accounts)
}

/// Credentials for `account` in moto (moto maps assumed keys to the role's account).
async fn moto_credentials(endpoint: &str, account: &str) -> Credentials {
    if account == fake::estate::DEFAULT_MANAGEMENT {
        return testing();
    }
    let cfg = sdk_config(endpoint, "us-east-1", testing()).await;
    let out = aws_sdk_sts::Client::new(&cfg)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/seed"))
        .role_session_name("seed")
        .send()
        .await
        .expect("assume role in moto");
    let c = out.credentials().expect("credentials");
    Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "seed",
    )
}

/// Build the fake's estate in moto: repositories, tags, policies, registry policies, and an
/// AccessDenied fault for each unreadable repository.
async fn seed_moto(moto: &support::Moto, estate: &Estate) {
    moto.control(
        "/_regions",
        &json!({"regions": [
            {"RegionName": REGIONS[0], "RegionOptStatus": "ENABLED_BY_DEFAULT"},
            {"RegionName": REGIONS[1], "RegionOptStatus": "ENABLED"},
            {"RegionName": fake::estate::DISABLED_REGION, "RegionOptStatus": "DISABLED"},
        ]}),
    );
    for (a, account) in estate.shape.accounts.iter().enumerate() {
        let creds = moto_credentials(&moto.endpoint, account).await;
        for (r, region) in estate.shape.regions.iter().enumerate() {
            let ecr =
                aws_sdk_ecr::Client::new(&sdk_config(&moto.endpoint, region, creds.clone()).await);
            for k in 0..estate.shape.repos {
                let repo = estate.repo(a, r, k);
                let tags = repo
                    .tags
                    .iter()
                    .map(|(k, v)| {
                        aws_sdk_ecr::types::Tag::builder()
                            .key(k)
                            .value(v)
                            .build()
                            .expect("tag")
                    })
                    .collect::<Vec<_>>();
                ecr.create_repository()
                    .repository_name(&repo.name)
                    .set_tags((!tags.is_empty()).then_some(tags))
                    .send()
                    .await
                    .expect("create repository");
                match &repo.policy {
                    Policy::None => {}
                    Policy::Text(text) => {
                        ecr.set_repository_policy()
                            .repository_name(&repo.name)
                            .policy_text(text)
                            .send()
                            .await
                            .expect("set repository policy");
                    }
                    Policy::Denied => moto.fault(json!({
                        "operation": "GetRepositoryPolicy", "account": account,
                        "region": region, "repository": repo.name,
                        "error": "AccessDeniedException", "count": 1_000_000,
                    })),
                }
            }
            if let Some(text) = estate.registry_policy(a, r) {
                ecr.put_registry_policy()
                    .policy_text(text)
                    .send()
                    .await
                    .expect("put registry policy");
            }
        }
    }
}

/// Records without what legitimately differs between two runs (durations, creation times)
/// or between emulators (the text of an AccessDenied message: its AWS code is kept), sorted.
fn normalized(records: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if let Some(o) = r.as_object_mut() {
                o.remove("duration_seconds");
                o.remove("created_at");
            }
            if let Some(msg) = r["error"]["message"].as_str() {
                let code = msg.split(':').next().unwrap_or(msg).to_string();
                r["error"]["message"] = Value::String(code);
            }
            r.to_string()
        })
        .collect();
    out.sort();
    out
}

fn start_fake(shape: Shape, faults: Faults) -> Running {
    spawn(Fake::new(Estate::new(shape), faults), 2).expect("start the fake")
}

/// `scan --once --format json` against the fake, with `attempts` per call and millisecond
/// backoff; the environment is the emulator one (dummy credentials, nothing reaches AWS).
fn scan_fake(fake: &Running, attempts: u32) -> support::ScanOutput {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.yaml");
    std::fs::write(
        &path,
        format!(
            "aws:\n  endpoint_url: {}\n  region: us-east-1\n  max_attempts: {attempts}\n  initial_backoff: 2ms\n  max_backoff: 20ms\n  connect_timeout: 2s\n  read_timeout: 20s\n  operation_timeout: 60s\naccounts:\n  discovery: organizations\n",
            fake.endpoint()
        ),
    )
    .expect("config");
    let mut cmd = Command::new(support::exporter_bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("ECR_EXPOSURE_") || k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .envs([
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ])
        .env("AWS_ENDPOINT_URL", fake.endpoint())
        .args(["scan", "--once", "--format", "json", "--config"])
        .arg(&path)
        .output()
        .expect("run the exporter");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    support::ScanOutput {
        code: out.status.code().unwrap_or(-1),
        records: stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect(),
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

fn small_shape(org_id: &str, accounts: Vec<String>) -> Shape {
    let mut shape = Shape::generated(accounts.len(), 2, 12, None);
    shape.accounts = accounts;
    shape.regions = REGIONS.iter().map(|s| s.to_string()).collect();
    shape.public = 0.2;
    shape.cross_account = 0.15;
    shape.unreadable = 0.1;
    shape.untagged = 0.25;
    shape.registry_policy = 0.34;
    shape.organization_id = org_id.to_string();
    shape
}

#[test]
fn the_fake_and_moto_give_the_same_findings() {
    let moto = support::Moto::start();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (org_id, accounts) = runtime.block_on(moto_organization(&moto.endpoint));
    let shape = small_shape(&org_id, accounts);
    let estate = Estate::new(shape.clone());
    let cases = estate.summary()["cases"].clone();
    for case in [
        "public",
        "cross_account",
        "unreadable",
        "member",
        "no_policy",
        "untagged",
    ] {
        assert!(
            cases[case].as_u64() > Some(0),
            "no {case} repository: {cases}"
        );
    }
    assert!(cases["registry_policies"].as_u64() > Some(0), "{cases}");
    runtime.block_on(seed_moto(&moto, &estate));

    let dir = tempfile::tempdir().expect("tempdir");
    let config = moto.write_config(dir.path(), "accounts:\n  discovery: organizations\n");
    let before = moto.counts();
    let from_moto = moto.scan_json(&config);
    let moto_calls: std::collections::BTreeMap<String, u64> = moto
        .counts()
        .into_iter()
        .map(|(op, n)| (op.clone(), n - before.get(&op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    let fake = start_fake(shape, Faults::default());
    let from_fake = scan_fake(&fake, 4);
    // The same calls too: both page, deny and answer alike.
    assert_eq!(
        json!(moto_calls),
        fake.fake.counters.to_json()["calls"],
        "calls per operation (moto, then fake)"
    );

    assert_eq!(from_moto.code, 1, "moto: {}", from_moto.stderr);
    assert_eq!(from_fake.code, 1, "fake: {}", from_fake.stderr);
    assert_eq!(from_fake.kind("repository").len(), 72);
    // A denied call is logged as one readable line: the service's code and message, not the
    // SDK's debug dump of the raw response.
    for (who, out) in [("moto", &from_moto), ("fake", &from_fake)] {
        let denied: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.contains("AWS call failed") && l.contains("access_denied"))
            .collect();
        assert!(
            !denied.is_empty(),
            "{who}: no denied call logged:\n{}",
            out.stderr
        );
        for line in denied {
            assert!(
                line.contains("aws_code=AccessDeniedException"),
                "{who}: {line}"
            );
            assert!(
                !line.contains("raw: Response") && line.len() < 600,
                "{who}: {line}"
            );
        }
    }
    let exposed = from_fake
        .kind("repository")
        .iter()
        .filter(|r| r["public"] == true || r["cross_account"] == true)
        .count();
    assert!(exposed > 0 && exposed < 72, "{exposed} exposed");
    let (m, f) = (
        normalized(&from_moto.records),
        normalized(&from_fake.records),
    );
    for (a, b) in m.iter().zip(&f) {
        assert_eq!(a, b, "first difference (moto, then fake)");
    }
    assert_eq!(m.len(), f.len(), "record counts differ");
}

#[test]
fn every_account_and_region_shares_one_connection_pool() {
    // 16 accounts x 2 regions: 32 targets, each with its own ECR and tagging clients, each
    // account with its STS and Account clients. Clients share the process's HTTP client, so
    // connections follow the calls in flight (`aws.max_concurrency`, 32, plus the uncapped
    // AssumeRole calls of discovery), not the clients made; a pool per client (the SDK's
    // default) opened at least one connection per client: 96 here.
    let mut accounts = vec![fake::estate::DEFAULT_MANAGEMENT.to_string()];
    accounts.extend((1..16).map(|i| format!("{}", 210_000_000_000u64 + i)));
    let shape = small_shape("o-fake0000002", accounts);
    let running = start_fake(shape, Faults::default());
    let out = scan_fake(&running, 4);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.kind("target").len(), 32);
    let counters = running.fake.counters.to_json();
    let connections = counters["connections"].as_u64().expect("connections");
    let calls = counters["total"].as_u64().expect("total");
    println!("{connections} connections for {calls} calls over 32 targets");
    assert!(
        connections <= 48,
        "{connections} connections for {calls} calls over 32 targets"
    );
}

#[test]
fn injected_throttling_is_retried_and_calls_meet_the_lower_bound() {
    // A clean scan: exactly the lower bound.
    let shape = small_shape(
        "o-fake0000001",
        vec![
            fake::estate::DEFAULT_MANAGEMENT.into(),
            "210987654321".into(),
            "333333333333".into(),
        ],
    );
    let estate = Estate::new(shape.clone());
    let bound = fake::bound::lower_bound(&estate, 1);
    let running = start_fake(shape, Faults::default());
    let clean = scan_fake(&running, 4);
    assert_eq!(clean.code, 1, "{}", clean.stderr);
    let counts = running.fake.counters.to_json();
    let want: Value = json!(bound);
    assert_eq!(
        counts["calls"], want,
        "a clean scan makes exactly the lower bound"
    );

    // 20% throttled (each service's own throttling error): all retried, nothing lost
    // (12 attempts: a call throttled 12 times in a row has odds of 4e-9).
    running.fake.counters.reset();
    running.fake.set_faults(Faults {
        throttle_rate: 0.2,
        ..Faults::default()
    });
    let throttled = scan_fake(&running, 12);
    let counts = running.fake.counters.to_json();
    let total_throttled: u64 = counts["throttled"]
        .as_object()
        .expect("throttled")
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert!(total_throttled > 20, "{counts}");
    assert_eq!(
        normalized(&throttled.records),
        normalized(&clean.records),
        "throttling changed the findings: {}",
        throttled.stderr
    );
    for (op, n) in &bound {
        let calls = counts["calls"][op].as_u64().unwrap_or(0);
        let extra = counts["throttled"][op].as_u64().unwrap_or(0);
        assert_eq!(calls, n + extra, "{op}: {counts}");
    }
}

#[test]
fn every_services_throttling_error_is_retried() {
    // The first two requests of every operation are throttled: STS (query, `Throttling`),
    // Organizations (`TooManyRequestsException`), Account (rest-json, 429), ECR and Tagging
    // (JSON 1.1, `ThrottlingException`). Each costs exactly one more request, nothing fails.
    let shape = Shape::generated(2, 2, 4, None);
    let bound = fake::bound::lower_bound(&Estate::new(shape.clone()), 1);
    let running = start_fake(
        shape,
        Faults {
            throttle_first: 2,
            ..Faults::default()
        },
    );
    let out = scan_fake(&running, 4);
    let counts = running.fake.counters.to_json();
    assert!(
        out.kind("target").iter().all(|t| t["status"] == "ok"),
        "{}",
        out.stdout
    );
    assert!(
        out.kind("repository")
            .iter()
            .all(|r| r["error"]["code"] != "throttled"),
        "{}",
        out.stdout
    );
    assert_eq!(bound.len(), 10, "{bound:?}");
    for (op, n) in &bound {
        assert_eq!(counts["throttled"][op], 2, "{op}: {counts}");
        assert_eq!(counts["calls"][op], n + 2, "{op}: {counts}");
    }
}

#[test]
fn a_server_error_is_retried_too() {
    let shape = Shape::generated(2, 1, 5, None);
    let bound = fake::bound::lower_bound(&Estate::new(shape.clone()), 1);
    let running = start_fake(
        shape,
        Faults {
            error_rate: 0.2,
            ..Faults::default()
        },
    );
    let out = scan_fake(&running, 12);
    let counts = running.fake.counters.to_json();
    assert!(
        counts["failed"].as_object().is_some_and(|m| !m.is_empty()),
        "{counts}"
    );
    assert!(
        out.kind("target").iter().all(|t| t["status"] == "ok"),
        "{}",
        out.stdout
    );
    for (op, n) in &bound {
        let calls = counts["calls"][op].as_u64().unwrap_or(0);
        let extra = counts["failed"][op].as_u64().unwrap_or(0);
        assert_eq!(calls, n + extra, "{op}: {counts}");
    }
}
