//! Helpers for the daemon tests: the moto wrapper, the seeder, the exporter binary, polling.
//!
//! Everything runs on 127.0.0.1 with dummy credentials; every process a test starts is killed
//! when its handle drops, also on failure.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const MGMT: &str = "123456789012";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The test venv's Python (moto, boto3): `ECR_TEST_PYTHON`, else `<repo>/.venv/bin/python`.
pub fn python() -> PathBuf {
    let candidates = std::env::var_os("ECR_TEST_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::iter::once(repo_root().join(".venv/bin/python")));
    for p in candidates {
        let ok = Command::new(&p)
            .args(["-c", "import moto, boto3"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return p;
        }
    }
    panic!("no Python with moto and boto3: run scripts/test-deps.sh (or set ECR_TEST_PYTHON)");
}

/// promtool from the prometheus package; the test fails without it.
pub fn promtool() -> PathBuf {
    for p in ["promtool", "/usr/bin/promtool"] {
        if Command::new(p)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            return PathBuf::from(p);
        }
    }
    panic!("promtool not found: run scripts/test-deps.sh");
}

/// A child process killed on drop.
pub struct Proc {
    pub child: Child,
    pub name: &'static str,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The moto wrapper on a free port.
pub struct Moto {
    pub proc: Proc,
    pub port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        let mut child = Command::new(python())
            .arg(repo_root().join("tests/support/moto_wrapper.py"))
            .args(["--port", "0"])
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto wrapper");
        let stdout = child.stdout.take().expect("stdout");
        let proc = Proc {
            child,
            name: "moto",
        };
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("moto wrapper prints its port");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from moto wrapper: {line:?}"));
        Moto { proc, port }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Run the shared seeder (`demo` or `test` scenario).
    pub fn seed(&self, scenario: &str) {
        self.run_helper("seed.py", &["--scenario", scenario]);
    }

    /// Run the event fixture (`tests/support/events_fixture.py ARGS...`: queue and rule,
    /// policies, events); its output, trimmed.
    pub fn events_fixture(&self, args: &[&str]) -> String {
        let out = self.run_helper("events_fixture.py", args);
        String::from_utf8_lossy(&out).trim().to_string()
    }

    /// Run `tests/support/<script> --endpoint <moto> ARGS...`; its stdout (fails the test on a
    /// non-zero exit, with the script's stderr).
    fn run_helper(&self, script: &str, args: &[&str]) -> Vec<u8> {
        let out = Command::new(python())
            .arg(repo_root().join("tests/support").join(script))
            .args(["--endpoint", &self.endpoint()])
            .args(args)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap_or_else(|e| panic!("run {script}: {e}"));
        assert!(
            out.status.success(),
            "{script} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Set a repository policy through boto3 (as account `account`).
    pub fn set_repository_policy(&self, account: &str, region: &str, repo: &str, policy: &str) {
        let script = r#"
import sys, boto3
endpoint, account, region, repo, policy = sys.argv[1:6]
c = boto3.client("ecr", region_name=region, endpoint_url=endpoint,
                 aws_access_key_id="testing", aws_secret_access_key="testing")
c.meta.events.register("before-sign.*.*",
    lambda request, **_: request.headers.__setitem__("x-moto-account-id", account))
c.set_repository_policy(repositoryName=repo, policyText=policy)
"#;
        let out = Command::new(python())
            .args([
                "-c",
                script,
                &self.endpoint(),
                account,
                region,
                repo,
                policy,
            ])
            .output()
            .expect("run boto3");
        assert!(
            out.status.success(),
            "set_repository_policy failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Write a daemon configuration against `endpoint`.
pub fn write_config(
    dir: &Path,
    endpoint: &str,
    state_path: &Path,
    interval: &str,
    extra_yaml: &str,
) -> PathBuf {
    let path = dir.join("config.yaml");
    let text = format!(
        r#"aws:
  endpoint_url: "{endpoint}"
  region: us-east-1
  max_attempts: 2
  initial_backoff: 10ms
  max_backoff: 50ms
  connect_timeout: 2s
  read_timeout: 10s
  operation_timeout: 20s
regions: [us-east-1, eu-west-1]
accounts:
  discovery: organizations
tags:
  required: [owner]
scan:
  interval: {interval}
  jitter: 0s
  timeout: 60s
state:
  path: "{state}"
{extra_yaml}
"#,
        state = state_path.display()
    );
    std::fs::write(&path, text).expect("write config");
    path
}

/// The exporter binary, killed (SIGKILL) on drop unless it already exited.
pub struct Exporter {
    pub proc: Proc,
    pub port: u16,
    pub log: PathBuf,
}

impl Exporter {
    pub fn start(config: &Path, port: u16, log: &Path, extra_args: &[&str]) -> Exporter {
        let log_file = std::fs::File::create(log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_ecr-exposure-exporter"))
            .arg("--config.file")
            .arg(config)
            .arg("--web.listen-address")
            .arg(format!("127.0.0.1:{port}"))
            .args(extra_args)
            .env_remove("AWS_PROFILE")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("start exporter");
        Exporter {
            proc: Proc {
                child,
                name: "exporter",
            },
            port,
            log: log.to_path_buf(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Send a signal by number through kill(1) (no libc in the tests).
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.proc.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Wait for the process to exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(s) = self.proc.child.try_wait().expect("try_wait") {
                return s;
            }
            assert!(
                start.elapsed() < limit,
                "exporter did not exit within {limit:?}; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// GET with a short timeout; `None` when the server does not answer (yet).
pub async fn get(client: &reqwest::Client, url: &str) -> Option<(u16, String)> {
    let r = client
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    let status = r.status().as_u16();
    Some((status, r.text().await.ok()?))
}

/// Poll `url` until `pred` holds; panic with the last answer and the exporter log after `limit`.
pub async fn wait_for(
    client: &reqwest::Client,
    url: &str,
    limit: Duration,
    exporter: &Exporter,
    pred: impl Fn(u16, &str) -> bool,
) -> String {
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < limit {
        if let Some((s, body)) = get(client, url).await {
            if pred(s, &body) {
                return body;
            }
            last = Some((s, body));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "condition on {url} not met within {limit:?}; last answer: {last:?}\n--- exporter log:\n{}",
        exporter.log_text()
    );
}

/// The sample line of `metric` whose labels contain every `label="value"` in `labels`.
pub fn series<'a>(body: &'a str, metric: &str, labels: &[(&str, &str)]) -> Option<&'a str> {
    body.lines().find(|l| {
        l.strip_prefix(metric)
            .is_some_and(|rest| rest.starts_with('{'))
            && labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
    })
}

/// The numeric value of a sample line.
pub fn value(line: &str) -> f64 {
    line.rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}
