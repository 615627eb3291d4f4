//! The `check` command as a user runs it: the built binary on temp files and stdin.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_ecr-exposure-exporter");

const PUBLIC: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"pull","Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}"#;
const CROSS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"ecr:PutImage"}]}"#;
const PRIVATE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"ecr:*"}]}"#;
const INVALID: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Effect":"Deny","Principal":"*","Action":"ecr:*"}]}"#;

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        Files {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }
    fn put(&self, name: &str, text: &str) -> String {
        let p: PathBuf = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write temp file");
        p.to_string_lossy().into_owned()
    }
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("check")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn binary");
    {
        let mut sin = child.stdin.take().expect("stdin");
        if let Some(s) = stdin {
            // The binary may exit before reading (usage errors): a broken pipe is fine.
            let _ = sin.write_all(s.as_bytes());
        }
    }
    child.wait_with_output().expect("wait")
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn json_lines_have_the_documented_shape() {
    let f = Files::new();
    let a = f.put("public.json", PUBLIC);
    let b = f.put("private.json", PRIVATE);
    let out = run(
        &["--format", "json", "--account", "111122223333", &a, &b],
        None,
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    for key in [
        "source",
        "public",
        "cross_account",
        "access",
        "network_restricted",
        "error",
        "grants",
    ] {
        assert!(lines[0].get(key).is_some(), "missing {key}: {}", lines[0]);
    }
    assert_eq!(lines[0]["source"], a.as_str());
    assert_eq!(lines[0]["public"], true);
    assert_eq!(lines[0]["cross_account"], true);
    assert_eq!(lines[0]["access"], "read");
    assert_eq!(lines[0]["network_restricted"], false);
    assert!(lines[0]["error"].is_null());
    let g = &lines[0]["grants"][0];
    assert_eq!(g["statement"], 0);
    assert_eq!(g["sid"], "pull");
    assert_eq!(g["audience"]["kind"], "everyone");
    assert!(!g["explanation"].as_array().unwrap().is_empty());
    assert_eq!(lines[1]["public"], false);
    assert_eq!(lines[1]["cross_account"], false);
    assert_eq!(lines[1]["access"], "none");
    assert_eq!(lines[1]["grants"].as_array().unwrap().len(), 0);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn exit_codes_follow_fail_on() {
    let f = Files::new();
    let public = f.put("public.json", PUBLIC);
    let cross = f.put("cross.json", CROSS);
    let private = f.put("private.json", PRIVATE);
    let acct = ["--account", "111122223333"];
    let code = |extra: &[&str], file: &str| {
        let mut args: Vec<&str> = acct.to_vec();
        args.extend_from_slice(extra);
        args.push(file);
        run(&args, None).status.code()
    };
    assert_eq!(code(&[], &private), Some(0));
    assert_eq!(code(&[], &public), Some(1));
    // Default threshold is public: cross-account alone passes.
    assert_eq!(code(&[], &cross), Some(0));
    assert_eq!(code(&["--fail-on", "cross-account"], &cross), Some(1));
    assert_eq!(code(&["--fail-on", "cross-account"], &private), Some(0));
    assert_eq!(code(&["--fail-on", "never"], &public), Some(0));
    // Trusting the named account clears it.
    assert_eq!(
        code(
            &[
                "--fail-on",
                "cross-account",
                "--trusted-account",
                "444455556666"
            ],
            &cross
        ),
        Some(0)
    );
}

#[test]
fn invalid_input_and_usage_errors_exit_2() {
    let f = Files::new();
    let bad = f.put("bad.json", INVALID);
    let public = f.put("public.json", PUBLIC);
    let out = run(&["--format", "json", &public, &bad], None);
    assert_eq!(out.status.code(), Some(2));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    assert!(lines[1]["public"].is_null());
    assert!(lines[1]["cross_account"].is_null());
    assert!(lines[1]["access"].is_null());
    assert_eq!(lines[1]["error"]["code"], "duplicate_key");
    assert!(
        lines[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Statement[0].Effect")
    );

    let missing = f.dir.path().join("nope.json");
    let out = run(&["--format", "json", missing.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json_lines(&out)[0]["error"]["code"], "unreadable");

    for args in [
        vec!["--account", "12345", &public],
        vec!["--trusted-account", "abc", &public],
        vec!["--trusted-org", "org-1", &public],
        vec!["--repository-arn", "arn:aws:s3:::bucket", &public],
        vec!["--region", "mars-1", &public],
    ] {
        let out = run(&args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?} printed no reason");
    }
    // clap's own usage errors are exit 2 as well.
    assert_eq!(run(&[], None).status.code(), Some(2));
}

#[test]
fn stdin_and_text_output() {
    let out = run(&["--account", "111122223333", "-"], Some(PUBLIC));
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap();
    assert!(first.starts_with("-: PUBLIC, read access"), "{text}");
    assert!(text.contains("grant 1: statement 0 (pull)"), "{text}");
    assert!(text.contains("principal \"*\""), "{text}");
}

#[test]
fn owner_named_nowhere_is_said() {
    // The policy names 000000000000, so the synthetic owner must be another id.
    let policy = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"000000000000"},"Action":"ecr:ListImages"}]}"#;
    let out = run(
        &["--format", "json", "--fail-on", "cross-account", "-"],
        Some(policy),
    );
    assert_eq!(out.status.code(), Some(1));
    let line = &json_lines(&out)[0];
    assert_eq!(line["cross_account"], true);
    let notes = line["notes"].to_string();
    assert!(notes.contains("named nowhere"), "{notes}");
    assert!(!notes.contains("owner is 000000000000"), "{notes}");
    // With --repository-arn the owner is that ARN's account.
    let out = run(
        &[
            "--format",
            "json",
            "--fail-on",
            "cross-account",
            "--repository-arn",
            "arn:aws:ecr:eu-west-1:000000000000:repository/app",
            "-",
        ],
        Some(policy),
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json_lines(&out)[0]["cross_account"], false);
}

#[test]
fn registry_mode_and_scopes() {
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:CreateRepository","ecr:ReplicateImage"],"Resource":"arn:aws:ecr:eu-central-1:111122223333:repository/*"}]}"#;
    let out = run(
        &[
            "--format",
            "json",
            "--account",
            "111122223333",
            "--registry",
            "-",
        ],
        Some(policy),
    );
    let line = &json_lines(&out)[0];
    assert_eq!(line["public"], true);
    assert_eq!(
        line["grants"][0]["actions"].as_array().unwrap().len(),
        3,
        "{line}"
    );
    let out = run(
        &[
            "--format",
            "json",
            "--account",
            "111122223333",
            "--registry",
            "--registry-scope",
            "v1",
            "-",
        ],
        Some(policy),
    );
    let line = &json_lines(&out)[0];
    assert_eq!(line["public"], true);
    assert_eq!(line["access"], "write");
    assert_eq!(
        line["grants"][0]["actions"],
        serde_json::json!(["ecr:CreateRepository", "ecr:ReplicateImage"])
    );
    // Pull-only under V1 governs nothing.
    let pull = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}]}"#;
    let out = run(
        &[
            "--account",
            "111122223333",
            "--registry",
            "--registry-scope",
            "v1",
            "-",
        ],
        Some(pull),
    );
    assert_eq!(out.status.code(), Some(0));
    // --registry-scope needs --registry.
    assert_eq!(
        run(&["--registry-scope", "v1", "-"], Some(pull))
            .status
            .code(),
        Some(2)
    );
}
