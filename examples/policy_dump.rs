//! Differential dump of the policy engine: one line per (input, subject, trust zone) with the
//! full result as JSON (verdict with grants, explanations and notes, or the error with its
//! code, path and message).
//!
//! `scripts/policy-diff.sh` builds this same file against two versions of the crate and
//! compares the outputs line by line, which is how a rewrite of `analysis::policy` proves it
//! changed nothing (or exactly the listed things). The public API it calls (`analyze`,
//! `Subject`, `Trust`) is the one both versions share.
//!
//! Usage: `policy_dump [--generate N] [--seed S] [FILE_OR_DIR ...]`. Directories are read one
//! level deep in name order; generated policies come from a small grammar of the principals,
//! actions, resources and condition keys the spec names, with a share of them mutated into
//! malformed text so that error codes and paths are compared too.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use ecr_exposure_exporter::analysis::policy::{RegistryScope, Subject, Trust, analyze};

const REPO_ARN: &str = "arn:aws:ecr:us-east-1:111111111111:repository/app";

fn main() {
    let mut generate = 0usize;
    let mut seed = 1u64;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--generate" => generate = args.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            "--seed" => seed = args.next().and_then(|v| v.parse().ok()).unwrap_or(1),
            _ => paths.push(PathBuf::from(a)),
        }
    }
    let mut inputs: Vec<(String, String)> = Vec::new();
    for p in &paths {
        read_inputs(p, &mut inputs);
    }
    let mut rng = Rng(seed);
    for i in 0..generate {
        inputs.push((format!("gen/{i}"), generate_policy(&mut rng)));
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let tags = BTreeMap::from([("env".to_string(), "prod".to_string())]);
    let subjects: [(&str, Subject<'_>); 4] = [
        (
            "repo+tags",
            Subject::Repository {
                arn: REPO_ARN,
                tags: Some(&tags),
            },
        ),
        (
            "repo",
            Subject::Repository {
                arn: REPO_ARN,
                tags: None,
            },
        ),
        (
            "registry-v1",
            Subject::Registry {
                account_id: "111111111111",
                region: "us-east-1",
                scope: RegistryScope::V1,
            },
        ),
        (
            "registry-v2",
            Subject::Registry {
                account_id: "111111111111",
                region: "us-east-1",
                scope: RegistryScope::V2,
            },
        ),
    ];
    let trusts = [
        (
            "zone",
            Trust {
                owner_account: "111111111111".into(),
                trusted_accounts: BTreeSet::from(["222222222222".to_string()]),
                trusted_orgs: BTreeSet::from(["o-trusted123".to_string()]),
            },
        ),
        (
            "owner",
            Trust {
                owner_account: "111111111111".into(),
                ..Trust::default()
            },
        ),
    ];
    for (name, text) in &inputs {
        for (sname, subject) in &subjects {
            for (tname, trust) in &trusts {
                let result = match analyze(text, subject, trust) {
                    Ok(v) => serde_json::json!({ "ok": v }),
                    Err(e) => serde_json::json!({ "err": e }),
                };
                let _ = writeln!(out, "{name}\t{sname}\t{tname}\t{result}");
            }
        }
    }
    let _ = out.flush();
}

fn read_inputs(path: &Path, inputs: &mut Vec<(String, String)>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => {
                eprintln!("policy_dump: cannot read {}: {e}", path.display());
                std::process::exit(2);
            }
        };
        entries.sort();
        for e in entries.iter().filter(|e| e.is_file()) {
            read_file(e, inputs);
        }
    } else {
        read_file(path, inputs);
    }
}

fn read_file(path: &Path, inputs: &mut Vec<(String, String)>) {
    match std::fs::read(path) {
        // Inputs that are not UTF-8 never reach `analyze` (it takes &str); skip them alike
        // on both sides.
        Ok(bytes) => {
            if let Ok(text) = String::from_utf8(bytes) {
                inputs.push((path.display().to_string(), text));
            }
        }
        Err(e) => {
            eprintln!("policy_dump: cannot read {}: {e}", path.display());
            std::process::exit(2);
        }
    }
}

/// splitmix64: deterministic across platforms and versions, so both sides see the same inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const PRINCIPALS: &[&str] = &[
    r#""*""#,
    r#"{"AWS":"*"}"#,
    r#"{"AWS":["*"]}"#,
    r#"{"AWS":"arn:aws:iam::333333333333:root"}"#,
    r#"{"AWS":"333333333333"}"#,
    r#"{"AWS":"222222222222"}"#,
    r#"{"AWS":"111111111111"}"#,
    r#"{"AWS":["111111111111","444444444444"]}"#,
    r#"{"AWS":"arn:aws:iam::333333333333:role/ci"}"#,
    r#"{"AWS":"arn:aws:iam::222222222222:user/bob"}"#,
    r#"{"AWS":"arn:aws:sts::333333333333:assumed-role/ci/session"}"#,
    r#"{"AWS":"arn:aws:iam::*:root"}"#,
    r#"{"AWS":"AIDAEXAMPLEUNIQUEID1"}"#,
    r#"{"Service":"codebuild.amazonaws.com"}"#,
    r#"{"Service":["lambda.amazonaws.com","ecs-tasks.amazonaws.com"]}"#,
    r#"{"Federated":"cognito-identity.amazonaws.com"}"#,
    r#"{"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}"#,
    r#"{"AWS":"arn:aws:iam::333333333333:role/*"}"#,
];

const ACTIONS: &[&str] = &[
    r#""ecr:*""#,
    r#""*""#,
    r#""ecr:BatchGetImage""#,
    r#"["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"]"#,
    r#""ecr:Put*""#,
    r#""ecr:PutImage""#,
    r#"["ecr:InitiateLayerUpload","ecr:UploadLayerPart","ecr:CompleteLayerUpload"]"#,
    r#""ecr:SetRepositoryPolicy""#,
    r#""ecr:DeleteRepository""#,
    r#""ecr:Describe*""#,
    r#""ecr:ReplicateImage""#,
    r#""ecr:CreateRepository""#,
    r#""ecr:BatchImportUpstreamImage""#,
    r#""ecr:SomethingNew""#,
    r#""ecr:get*""#,
    r#""ecr:?utImage""#,
    r#""s3:GetObject""#,
];

const RESOURCES: &[&str] = &[
    r#""*""#,
    r#""arn:aws:ecr:us-east-1:111111111111:repository/app""#,
    r#""arn:aws:ecr:us-east-1:111111111111:repository/other""#,
    r#""arn:aws:ecr:*:111111111111:repository/*""#,
    r#""arn:aws:ecr:us-east-1:111111111111:repository/ap?""#,
    r#""arn:aws:ecr:us-west-2:111111111111:repository/app""#,
    r#"["arn:aws:ecr:us-east-1:111111111111:repository/x","arn:aws:ecr:us-east-1:111111111111:repository/a*"]"#,
];

const CONDITIONS: &[&str] = &[
    r#""StringEquals":{"aws:PrincipalOrgID":"o-trusted123"}"#,
    r#""StringEquals":{"aws:PrincipalOrgID":"o-other99999"}"#,
    r#""StringLike":{"aws:PrincipalOrgID":"o-*"}"#,
    r#""ForAnyValue:StringLike":{"aws:PrincipalOrgPaths":"o-trusted123/*"}"#,
    r#""StringEquals":{"aws:SourceAccount":"111111111111"}"#,
    r#""StringEquals":{"aws:SourceAccount":"333333333333"}"#,
    r#""StringEquals":{"aws:PrincipalAccount":["111111111111","222222222222"]}"#,
    r#""StringNotEquals":{"aws:PrincipalAccount":"111111111111"}"#,
    r#""StringEquals":{"aws:SourceVpce":"vpce-0123456789abcdef0"}"#,
    r#""StringEquals":{"aws:SourceVpc":"vpc-0123abcd"}"#,
    r#""IpAddress":{"aws:SourceIp":"10.0.0.0/8"}"#,
    r#""IpAddress":{"aws:SourceIp":["0.0.0.0/0","::/0"]}"#,
    r#""NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}"#,
    r#""Bool":{"aws:SecureTransport":"true"}"#,
    r#""StringEquals":{"aws:username":"bob"}"#,
    r#""ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111111111111:role/*"}"#,
    r#""ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::333333333333:*"}"#,
    r#""StringEqualsIfExists":{"aws:SourceAccount":"111111111111"}"#,
    r#""Null":{"aws:SourceVpce":"false"}"#,
    r#""Null":{"aws:PrincipalOrgID":"true"}"#,
    r#""DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}"#,
    r#""StringEquals":{"aws:ResourceTag/env":"prod"}"#,
    r#""StringEquals":{"aws:PrincipalTag/team":"platform"}"#,
    r#""ArnLike":{"aws:SourceArn":"arn:aws:codebuild:us-east-1:111111111111:project/*"}"#,
    r#""Bool":{"aws:PrincipalIsAWSService":"true"}"#,
    r#""StringEquals":{"aws:PrincipalServiceName":"codebuild.amazonaws.com"}"#,
    r#""StringEquals":{"aws:SourceOrgID":"o-trusted123"}"#,
    r#""Bool":{"aws:ViaAWSService":"true"}"#,
    r#""ForAnyValue:StringEquals":{"aws:CalledVia":"cloudformation.amazonaws.com"}"#,
    r#""StringLike":{"aws:userid":"AIDA*"}"#,
    r#""NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}"#,
    r#""StringEquals":{"ecr:ResourceTag/team":"a"}"#,
    r#""StringEquals":{"aws:SomeUnknownKey":"x"}"#,
];

fn generate_policy(rng: &mut Rng) -> String {
    let statements = 1 + rng.below(4);
    let mut body = Vec::with_capacity(statements);
    for i in 0..statements {
        body.push(generate_statement(rng, i));
    }
    let stmt = if statements == 1 && rng.chance(20) {
        body.remove(0)
    } else {
        format!("[{}]", body.join(","))
    };
    let version = match rng.below(10) {
        0 => String::new(),
        1 => r#""Version":"2008-10-17","#.to_string(),
        _ => r#""Version":"2012-10-17","#.to_string(),
    };
    let text = format!("{{{version}\"Statement\":{stmt}}}");
    if rng.chance(6) {
        mutate(rng, &text)
    } else {
        text
    }
}

fn generate_statement(rng: &mut Rng, i: usize) -> String {
    let mut parts = Vec::new();
    if rng.chance(30) {
        parts.push(format!("\"Sid\":\"S{i}\""));
    }
    let effect = if rng.chance(25) { "Deny" } else { "Allow" };
    parts.push(format!("\"Effect\":\"{effect}\""));
    let pkey = if rng.chance(8) {
        "NotPrincipal"
    } else {
        "Principal"
    };
    parts.push(format!("\"{pkey}\":{}", rng.pick(PRINCIPALS)));
    let akey = if rng.chance(8) { "NotAction" } else { "Action" };
    parts.push(format!("\"{akey}\":{}", rng.pick(ACTIONS)));
    if rng.chance(40) {
        let rkey = if rng.chance(10) {
            "NotResource"
        } else {
            "Resource"
        };
        parts.push(format!("\"{rkey}\":{}", rng.pick(RESOURCES)));
    }
    if rng.chance(55) {
        let clauses = 1 + rng.below(3);
        let mut seen = BTreeSet::new();
        let mut by_op: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for _ in 0..clauses {
            let c = rng.pick(CONDITIONS);
            if !seen.insert(c) {
                continue;
            }
            // `"Op":{"key":value}` -> group keys under one operator object.
            // Operators and keys contain ':' themselves: split where a quoted name ends.
            let Some(end) = c.find("\":") else { continue };
            let (op, rest) = (&c[..=end], &c[end + 2..]);
            let inner = rest.trim_start_matches('{').trim_end_matches('}');
            let entry = by_op.entry(op.to_string()).or_default();
            let key = inner.find("\":").map_or(inner, |k| &inner[..=k]);
            if entry.iter().any(|e| e.starts_with(key)) {
                continue;
            }
            entry.push(inner.to_string());
        }
        let ops: Vec<String> = by_op
            .into_iter()
            .map(|(op, keys)| format!("{op}:{{{}}}", keys.join(",")))
            .collect();
        parts.push(format!("\"Condition\":{{{}}}", ops.join(",")));
    }
    format!("{{{}}}", parts.join(","))
}

/// Damage a valid policy the ways real mistakes do, so error codes and paths are compared too.
fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    match rng.below(6) {
        0 => {
            let at = rng.below(chars.len());
            chars.truncate(at);
        }
        1 => {
            let at = rng.below(chars.len());
            chars.remove(at);
        }
        2 => return text.replacen("\"Effect\"", "\"Effect\":\"Allow\",\"Effect\"", 1),
        3 => return text.replacen("\"Action\"", "\"Actions\"", 1),
        4 => return text.replacen("Allow", "allow", 1),
        _ => return text.replacen(":\"*\"", ":[[\"*\"]]", 1),
    }
    chars.into_iter().collect()
}
