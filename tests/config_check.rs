//! `config check`: good files pass and say what they would scan; bad ones name the key and the
//! reason and exit 2; `ECR_EXPOSURE_*` overrides the file; the shipped examples load.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecr-exposure-exporter"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ECR_EXPOSURE_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn check(file: Option<&Path>, env: &[(&str, &str)]) -> Run {
    let mut cmd = bin();
    cmd.args(["config", "check"]);
    if let Some(f) = file {
        cmd.arg(f);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("run the exporter");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config")
        .join(name)
}

#[test]
fn shipped_examples_are_valid() {
    let r = check(Some(&example("example.yaml")), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("discovery: current"), "{}", r.stdout);
    assert!(
        r.stdout.contains("regions: all enabled regions"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("configuration OK"));

    let r = check(Some(&example("example.toml")), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("discovery: organizations"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("exclude: ou-ab12-sandbox1"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("exceptions: 1"), "{}", r.stdout);
}

#[test]
fn no_file_means_defaults() {
    let r = check(None, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("configuration: built-in defaults"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("schedule: every 15m (jitter 30s)"),
        "{}",
        r.stdout
    );
}

#[test]
fn static_accounts_are_listed_with_their_roles() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "c.yaml",
        "accounts:\n  discovery: static\n  role_name: reader\n  static:\n    - id: \"111122223333\"\n    - id: \"444455556666\"\n      role_arn: arn:aws:iam::444455556666:role/custom\nregions: [eu-west-1]\n",
    );
    let r = check(Some(&f), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("account 111122223333 via arn:aws:iam::111122223333:role/reader"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("account 444455556666 via arn:aws:iam::444455556666:role/custom")
    );
    assert!(r.stdout.contains("regions: eu-west-1"));
}

#[test]
fn bad_values_name_the_key_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "bad.yaml",
        "accounts:\n  discovery: static\n  static:\n    - id: \"123456789012\"\n    - id: \"1234\"\nscan:\n  interval: 10s\n  jitter: 1m\nexceptions:\n  - repository: \"*\"\n    finding: public_exposure\n    reason: \"\"\n    expires: 2026-01-01\n",
    );
    let r = check(Some(&f), &[]);
    assert_eq!(r.code, 2);
    for want in [
        "accounts.static[1].id: \"1234\" is not a 12-digit account id",
        "scan.jitter: 1m must be shorter than scan.interval (10s)",
        "exceptions[0].reason: is required",
        "exceptions[0].expires: \"2026-01-01\" is not an RFC 3339 time",
    ] {
        assert!(
            r.stderr.contains(want),
            "missing {want:?} in:\n{}",
            r.stderr
        );
    }
    assert!(r.stdout.is_empty());
}

#[test]
fn unknown_keys_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "typo.yaml", "tags:\n  requried: [owner]\n");
    let r = check(Some(&f), &[]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("tags.requried: unknown key"),
        "{}",
        r.stderr
    );
    let f = write(dir.path(), "typo.toml", "[scan]\nintervall = \"5m\"\n");
    let r = check(Some(&f), &[]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("scan.intervall: unknown key"),
        "{}",
        r.stderr
    );
}

#[test]
fn missing_or_unknown_format_file_is_an_error() {
    let r = check(Some(Path::new("/nonexistent/config.yaml")), &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "c.json", "{}");
    let r = check(Some(&f), &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown format"), "{}", r.stderr);
}

#[test]
fn environment_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "c.yaml",
        "aws:\n  endpoint_url: http://file.invalid:1\nscan:\n  interval: 15m\n",
    );
    let r = check(
        Some(&f),
        &[
            ("ECR_EXPOSURE_AWS__ENDPOINT_URL", "http://127.0.0.1:4566"),
            ("ECR_EXPOSURE_SCAN__INTERVAL", "5m"),
            ("ECR_EXPOSURE_TAGS__REQUIRED", "[owner,team]"),
            ("ECR_EXPOSURE_TRUST__ACCOUNTS", "[\"111122223333\"]"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("endpoint http://127.0.0.1:4566"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("schedule: every 5m"), "{}", r.stdout);
    assert!(
        r.stdout.contains("tags: required owner, team"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("trust: accounts 111122223333"),
        "{}",
        r.stdout
    );

    let r = check(Some(&f), &[("ECR_EXPOSURE_SCAN__INTERVAL", "often")]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("scan.interval: \"often\""),
        "{}",
        r.stderr
    );
    let r = check(Some(&f), &[("ECR_EXPOSURE_SCAN__INTERVALL", "5m")]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("scan.intervall: unknown key"),
        "{}",
        r.stderr
    );
}

#[test]
fn scan_with_bad_config_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "bad.yaml", "regions: everywhere\n");
    let out = bin()
        .args(["scan", "--once", "--config"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("regions: \"everywhere\" must be \"all\"")
    );
}
