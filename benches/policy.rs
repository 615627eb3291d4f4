//! Policy engine throughput: verdicts per second for small, typical and large policies, each
//! beside `serde_json::from_str::<Value>` on the same bytes (the parse floor). Issue 2 targets
//! at least 350,000 typical verdicts/s on one core and within 5x of the floor. "Typical" comes
//! in three forms: four statements as ECR returns them (pretty-printed), the same minified,
//! and a compact two-statement policy. `scripts/python-baseline/run.sh` times the Python
//! analyzers the target was set against on these same bytes.
//!
//! Run: `cargo bench --bench policy -- --warm-up-time 1 --measurement-time 3`.
//!
//! With `POLICY_TIME_DIRS=dir1:dir2` set (for example the fuzz corpus and seeds), it instead
//! times every file there alone, in this optimised build, and prints the slowest: issue 2
//! wants no input above 10 ms.

use std::collections::BTreeSet;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group};
use ecr_exposure_exporter::analysis::policy::{Subject, Trust, analyze, evaluate, parse};

const REPO: &str = "arn:aws:ecr:us-east-1:111111111111:repository/app";

/// One statement: public pull.
const SMALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"pull","Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}"#;

/// Four statements with conditions, in ECR's own pretty-printed form: org-restricted pull,
/// a CI role in a partner account, a service with a SourceAccount pin, and a TLS Deny.
const TYPICAL: &str = r#"{
  "Version" : "2012-10-17",
  "Statement" : [ {
    "Sid" : "OrgPull",
    "Effect" : "Allow",
    "Principal" : "*",
    "Action" : [ "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability" ],
    "Condition" : {
      "StringEquals" : {
        "aws:PrincipalOrgID" : "o-trusted123"
      }
    }
  }, {
    "Sid" : "PartnerPush",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : [ "arn:aws:iam::333333333333:role/ci", "arn:aws:iam::222222222222:root" ]
    },
    "Action" : [ "ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:BatchCheckLayerAvailability" ],
    "Condition" : {
      "IpAddress" : {
        "aws:SourceIp" : [ "203.0.113.0/24", "198.51.100.0/24" ]
      }
    }
  }, {
    "Sid" : "LambdaPull",
    "Effect" : "Allow",
    "Principal" : {
      "Service" : "lambda.amazonaws.com"
    },
    "Action" : [ "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer" ],
    "Condition" : {
      "StringLike" : {
        "aws:sourceArn" : "arn:aws:lambda:us-east-1:111111111111:function:*"
      }
    }
  }, {
    "Sid" : "DenyInsecure",
    "Effect" : "Deny",
    "Principal" : "*",
    "Action" : "ecr:*",
    "Condition" : {
      "Bool" : {
        "aws:SecureTransport" : "false"
      }
    }
  } ]
}"#;

/// Two statements with conditions, compact (as IaC templates and `check` inputs are).
const TYPICAL_COMPACT: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"OrgPull","Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],"Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-trusted123"}}},{"Sid":"DenyInsecure","Effect":"Deny","Principal":"*","Action":"ecr:*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;

/// 100 statements: one account per statement, alternating conditions, plus a few Denies.
fn large() -> String {
    let mut stmts = Vec::with_capacity(100);
    for i in 0..100u64 {
        let account = 300_000_000_000u64 + i * 7919;
        let s = match i % 4 {
            0 => format!(
                r#"{{"Sid":"s{i}","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}}"#
            ),
            1 => format!(
                r#"{{"Sid":"s{i}","Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage","Condition":{{"StringEquals":{{"aws:PrincipalAccount":"{account}"}}}}}}"#
            ),
            2 => format!(
                r#"{{"Sid":"s{i}","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:role/ci-{i}"}},"Action":"ecr:Put*","Condition":{{"IpAddress":{{"aws:SourceIp":"10.{}.0.0/16"}}}}}}"#,
                i % 250
            ),
            _ => format!(
                r#"{{"Sid":"s{i}","Effect":"Deny","Principal":{{"AWS":"{account}"}},"Action":["ecr:Delete*","ecr:Set*"]}}"#
            ),
        };
        stmts.push(s);
    }
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        stmts.join(",")
    )
}

fn trust() -> Trust {
    Trust {
        owner_account: "111111111111".to_string(),
        trusted_accounts: BTreeSet::from(["222222222222".to_string()]),
        trusted_orgs: BTreeSet::from(["o-trusted123".to_string()]),
    }
}

fn bench_policies(c: &mut Criterion) {
    let trust = trust();
    let subject = Subject::Repository {
        arn: REPO,
        tags: None,
    };
    let large = large();
    // The same four statements as `typical`, minified (as `check` reads them from IaC). A
    // `Value` is written with its keys sorted, so the key order differs from `typical`.
    let typical_min = serde_json::to_string(
        &serde_json::from_str::<serde_json::Value>(TYPICAL).expect("TYPICAL is JSON"),
    )
    .expect("re-serialises");
    let inputs = [
        ("small", SMALL),
        ("typical", TYPICAL),
        ("typical_minified", typical_min.as_str()),
        ("typical_compact", TYPICAL_COMPACT),
        ("large", large.as_str()),
    ];
    for (name, text) in inputs {
        // A benchmark of the error path would be meaningless: the inputs must analyse.
        if let Err(e) = analyze(text, &subject, &trust) {
            panic!("bench policy {name} rejected by the engine: {e}");
        }
        let mut group = c.benchmark_group(format!("policy/{name}"));
        group.throughput(Throughput::Elements(1));
        group.bench_function("verdict", |b| {
            b.iter(|| analyze(black_box(text), black_box(&subject), black_box(&trust)))
        });
        // The two halves of `analyze`, timed alone.
        group.bench_function("parse_only", |b| b.iter(|| parse(black_box(text))));
        let parsed = parse(text).expect("parsed above");
        group.bench_function("evaluate_only", |b| {
            b.iter(|| evaluate(black_box(&parsed), black_box(&subject), black_box(&trust)))
        });
        group.bench_function("serde_json_value_floor", |b| {
            b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(text)))
        });
        group.finish();
    }
}

/// Times each file under the given directories (best of 5 runs, per subject) and prints the
/// slowest ones; a report, not an assertion.
fn time_files(dirs: &std::ffi::OsStr) {
    use std::time::{Duration, Instant};
    let trust = trust();
    let repo = Subject::Repository {
        arn: REPO,
        tags: None,
    };
    let registry = Subject::Registry {
        account_id: "111111111111",
        region: "us-east-1",
        scope: ecr_exposure_exporter::analysis::policy::RegistryScope::V2,
    };
    let mut times: Vec<(Duration, String)> = Vec::new();
    let outcome = |r: &Result<_, ecr_exposure_exporter::analysis::policy::PolicyError>| match r {
        Ok(ecr_exposure_exporter::analysis::policy::Verdict {
            public,
            cross_account,
            access,
            ..
        }) => format!(
            "public={public} cross={cross_account} {}",
            access.as_label()
        ),
        Err(e) => e.code.as_str().to_string(),
    };
    for dir in std::env::split_paths(dirs) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!("cannot read {}", dir.display());
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let Ok(text) = std::str::from_utf8(&bytes) else {
                continue;
            };
            for subject in [&repo, &registry] {
                let best = (0..5)
                    .map(|_| {
                        let start = Instant::now();
                        let _ = black_box(analyze(black_box(text), subject, &trust));
                        start.elapsed()
                    })
                    .min()
                    .unwrap_or_default();
                let result = analyze(text, subject, &trust);
                times.push((
                    best,
                    format!(
                        "{:>7} B  {:<28} {}",
                        bytes.len(),
                        outcome(&result),
                        path.display()
                    ),
                ));
            }
        }
    }
    times.sort();
    let over = times
        .iter()
        .filter(|(d, _)| *d > Duration::from_millis(10))
        .count();
    println!(
        "{} analyses timed; {} above 10 ms; slowest:",
        times.len(),
        over
    );
    for (d, p) in times.iter().rev().take(15) {
        println!("  {d:>12?}  {p}");
    }
}

criterion_group!(benches, bench_policies);

fn main() {
    if let Some(dirs) = std::env::var_os("POLICY_TIME_DIRS") {
        time_files(&dirs);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
