//! Test harness: moto (through `tests/support/moto_wrapper.py`) on a free 127.0.0.1 port,
//! seeded estates, fault injection, and configuration files pointing at it.
//!
//! ```ignore
//! #[path = "support/mod.rs"]   // or `mod support;` from a file directly under tests/
//! mod support;
//!
//! let moto = support::Moto::start();             // killed on drop
//! let manifest = moto.seed("test", &[]);         // see seed.py for the scenarios
//! moto.fault(serde_json::json!({"operation": "GetRepositoryPolicy",
//!                               "error": "ThrottlingException", "count": 3}));
//! let dir = tempfile::tempdir().unwrap();
//! let config = moto.write_config(dir.path(), "accounts:\n  discovery: organizations\n");
//! let out = moto.scan_json(&config);             // runs `scan --once --format json`
//! assert_eq!(out.code, 1);
//! let calls = moto.counts();                     // {"ecr:GetRepositoryPolicy": 68, ...}
//! ```
//!
//! - [`Moto::start`] needs the venv Python with moto: `ECR_TEST_PYTHON`, else
//!   `<repo>/.venv/bin/python`; without it the test fails and says to run
//!   `scripts/test-deps.sh` (never skips).
//! - [`Moto::env`] is the environment for anything that talks to it (the exporter binary):
//!   dummy credentials, `AWS_REGION`, IMDS off, no profile; nothing can reach real AWS.
//! - [`Moto::write_config`] writes `aws:` settings for the emulator (endpoint, 4 attempts with
//!   millisecond backoff, short timeouts) followed by your YAML, which must not contain `aws:`.
//! - Manifests are the seeder's JSON (`accounts`, `org_id`, `active_accounts`, `regions`, ...).

#![allow(dead_code)]

pub mod s3;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// The repository root (where Cargo.toml is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv Python that has moto and boto3.
pub fn python() -> PathBuf {
    let candidate = std::env::var_os("ECR_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    let ok = Command::new(&candidate)
        .args(["-c", "import moto, boto3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "no Python with moto at {} (set ECR_TEST_PYTHON): run scripts/test-deps.sh",
        candidate.display()
    );
    candidate
}

/// The path of the exporter binary built for this test run.
pub fn exporter_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ecr-exposure-exporter"))
}

/// Output of one `scan --once` run.
#[derive(Debug)]
pub struct ScanOutput {
    pub code: i32,
    /// The JSON records (one per stdout line) when run with `--format json`.
    pub records: Vec<Value>,
    pub stdout: String,
    pub stderr: String,
}

impl ScanOutput {
    /// Records of one kind (`repository`, `registry`, `target`).
    pub fn kind(&self, kind: &str) -> Vec<&Value> {
        self.records.iter().filter(|r| r["kind"] == kind).collect()
    }

    /// The record of one repository.
    pub fn repository(&self, account: &str, region: &str, name: &str) -> &Value {
        self.records
            .iter()
            .find(|r| {
                r["kind"] == "repository"
                    && r["account_id"] == account
                    && r["region"] == region
                    && r["repository"] == name
            })
            .unwrap_or_else(|| panic!("no repository {account}/{region}/{name} in the output"))
    }

    /// The target record of one (account, region).
    pub fn target(&self, account: &str, region: &str) -> &Value {
        self.records
            .iter()
            .find(|r| r["kind"] == "target" && r["account_id"] == account && r["region"] == region)
            .unwrap_or_else(|| panic!("no target {account}/{region} in the output"))
    }
}

/// A running moto wrapper; stopped on drop.
#[derive(Debug)]
pub struct Moto {
    pub port: u16,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    child: Child,
}

impl Moto {
    /// Start the wrapper on a free port and wait until it listens.
    pub fn start() -> Moto {
        let py = python();
        let script = repo_root().join("tests/support/moto_wrapper.py");
        let mut child = Command::new(py)
            .arg(script)
            .arg("--port")
            .arg("0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tests/support/moto_wrapper.py");
        let stdout = child.stdout.take().expect("wrapper stdout");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line).unwrap_or(0);
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse::<u16>().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "moto wrapper did not start (read {read} bytes: {line:?}); run scripts/test-deps.sh"
            );
        };
        let moto = Moto {
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
        };
        moto.control("/_reset", &serde_json::json!({}));
        moto
    }

    /// POST a JSON body to a control endpoint (`/_faults`, `/_regions`, ...); the JSON answer.
    pub fn control(&self, path: &str, body: &Value) -> Value {
        let (status, text) = self.http("POST", path, &body.to_string());
        assert_eq!(status, 200, "moto wrapper {path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Inject a fault; see moto_wrapper.py for the fields.
    pub fn fault(&self, spec: Value) {
        self.control("/_faults", &spec);
    }

    /// Requests seen per `service:Operation` since start or the last [`Moto::reset_counts`].
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let (status, text) = self.http("GET", "/_counts", "");
        assert_eq!(status, 200, "moto wrapper /_counts: {text}");
        serde_json::from_str(&text).expect("counts JSON")
    }

    /// Clear counts and faults (not moto's data).
    pub fn reset_counts(&self) {
        self.control("/_reset", &serde_json::json!({}));
    }

    /// Run a helper script of tests/support against this emulator; its stdout.
    fn run_helper(&self, script: &str, args: &[&str]) -> Vec<u8> {
        let out = Command::new(python())
            .arg(repo_root().join("tests/support").join(script))
            .args(["--endpoint", &self.endpoint])
            .args(args)
            .envs(self.env())
            .output()
            .unwrap_or_else(|e| panic!("run {script}: {e}"));
        assert!(
            out.status.success(),
            "{script} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Run the seeder (`tests/support/seed.py --scenario NAME ARGS...`); its manifest.
    pub fn seed(&self, scenario: &str, args: &[&str]) -> Value {
        let args = [&["--scenario", scenario], args].concat();
        serde_json::from_slice(&self.run_helper("seed.py", &args)).expect("seed.py manifest JSON")
    }

    /// Run the event fixture (`tests/support/events_fixture.py ARGS...`: queue and rule,
    /// policies, events); its output, trimmed.
    pub fn events_fixture(&self, args: &[&str]) -> String {
        let out = self.run_helper("events_fixture.py", args);
        String::from_utf8_lossy(&out).trim().to_string()
    }

    /// Environment for processes that talk to the emulator (never to real AWS).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_SESSION_TOKEN", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// The `aws:` block for this emulator: fast retries, short timeouts.
    pub fn aws_yaml(&self) -> String {
        format!(
            "aws:\n  endpoint_url: {}\n  region: us-east-1\n  max_attempts: 4\n  initial_backoff: 5ms\n  max_backoff: 50ms\n  connect_timeout: 2s\n  read_timeout: 20s\n  operation_timeout: 60s\n",
            self.endpoint
        )
    }

    /// Write `config.yaml` in `dir`: [`Moto::aws_yaml`] then `extra` (without `aws:`).
    pub fn write_config(&self, dir: &Path, extra: &str) -> PathBuf {
        assert!(
            !extra.lines().any(|l| l.starts_with("aws:")),
            "write_config adds aws: itself; use aws_yaml() to build your own"
        );
        let path = dir.join("config.yaml");
        std::fs::write(&path, format!("{}{}", self.aws_yaml(), extra)).expect("write config");
        path
    }

    /// A `Command` for the exporter binary with [`Moto::env`] set and `ECR_EXPOSURE_*` cleared.
    pub fn exporter(&self) -> Command {
        let mut cmd = Command::new(exporter_bin());
        for (k, _) in std::env::vars() {
            if k.starts_with("ECR_EXPOSURE_") || k == "AWS_PROFILE" {
                cmd.env_remove(k);
            }
        }
        cmd.envs(self.env());
        cmd
    }

    /// Run `scan --once --format json --config FILE`.
    pub fn scan_json(&self, config: &Path) -> ScanOutput {
        self.scan_json_with(config, &[], &[])
    }

    /// As [`Moto::scan_json`], with more flags and environment variables.
    pub fn scan_json_with(&self, config: &Path, args: &[&str], env: &[(&str, &str)]) -> ScanOutput {
        let out = self
            .exporter()
            .args(["scan", "--once", "--format", "json", "--config"])
            .arg(config)
            .args(args)
            .envs(env.iter().copied())
            .output()
            .expect("run the exporter");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let records = stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
            .collect();
        ScanOutput {
            code: out.status.code().unwrap_or(-1),
            records,
            stdout,
            stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        }
    }

    fn http(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("write request");
        let mut raw = String::new();
        stream.read_to_string(&mut raw).expect("read response");
        let status = raw
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = raw
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
