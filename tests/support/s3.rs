//! Helpers for the S3 state-backend tests: the bucket seen through boto3
//! (`tests/support/s3_objects.py`), exporter daemons started with `state.backend: s3`, and the
//! first-seen times of `/findings` and of the state objects in one comparable form.
//!
//! Blocking (std only), so that sync tests can use them; every process is killed on drop.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Moto, exporter_bin, python, repo_root};

/// The prefix the tests use (the default one).
pub const PREFIX: &str = "ecr-exposure-exporter/";

/// (account, region, repository or "" for the registry, finding label) -> first-seen unix
/// seconds; a finding kind may occur more than once per subject (missing tags), hence a list.
pub type FirstSeen = BTreeMap<(String, String, String, String), Vec<i64>>;

/// boto3 on the bucket.
pub struct Bucket<'a> {
    pub moto: &'a Moto,
    pub name: String,
}

impl Bucket<'_> {
    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<Value, String> {
        let mut child = Command::new(python())
            .arg(repo_root().join("tests/support/s3_objects.py"))
            .arg(&self.moto.endpoint)
            .args(args)
            .envs(self.moto.env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run s3_objects.py");
        if let Some(mut input) = child.stdin.take() {
            input
                .write_all(stdin.unwrap_or_default())
                .expect("write stdin");
        }
        let out = child.wait_with_output().expect("s3_objects.py output");
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
    }

    pub fn create(&self) {
        self.run(&["mb", &self.name], None).expect("create bucket");
    }

    /// Keys under `prefix`; empty when the bucket does not exist.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        match self.run(&["ls", &self.name, prefix], None) {
            Ok(v) => serde_json::from_value(v).expect("key list"),
            Err(_) => Vec::new(),
        }
    }

    /// (ETag, parsed JSON body) of one object.
    pub fn get(&self, key: &str) -> (String, Value) {
        let v = self
            .run(&["get", &self.name, key], None)
            .unwrap_or_else(|e| panic!("get {key}: {e}"));
        let body = v["body"].as_str().expect("body");
        (
            v["etag"].as_str().expect("etag").to_string(),
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{key} is not JSON: {e}")),
        )
    }

    /// Unconditional put of raw bytes: the new ETag.
    pub fn put_raw(&self, key: &str, body: &[u8]) -> String {
        let v = self
            .run(&["put", &self.name, key], Some(body))
            .unwrap_or_else(|e| panic!("put {key}: {e}"));
        v["etag"].as_str().expect("etag").to_string()
    }

    /// The raw bytes of an object (as text).
    pub fn get_raw(&self, key: &str) -> String {
        let v = self
            .run(&["get", &self.name, key], None)
            .unwrap_or_else(|e| panic!("get {key}: {e}"));
        v["body"].as_str().expect("body").to_string()
    }

    /// Conditional put (If-Match `etag`): the new ETag.
    pub fn put_if_match(&self, key: &str, body: &Value, etag: &str) -> String {
        let v = self
            .run(
                &["put", &self.name, key, etag],
                Some(body.to_string().as_bytes()),
            )
            .unwrap_or_else(|e| panic!("put {key}: {e}"));
        v["etag"].as_str().expect("etag").to_string()
    }

    /// The state object of one account.
    pub fn account(&self, account: &str) -> (String, Value) {
        self.get(&format!("{PREFIX}{account}.json"))
    }
}

/// A daemon configuration against the emulator with the S3 backend.
pub fn write_config(moto: &Moto, dir: &Path, bucket: &str, interval: &str) -> PathBuf {
    let path = dir.join("config.yaml");
    let text = format!(
        "{aws}regions: [us-east-1, eu-west-1]\naccounts:\n  discovery: organizations\n\
         scan:\n  interval: {interval}\n  jitter: 0s\n  timeout: 60s\n\
         state:\n  backend: s3\n  path: {local}\n  s3:\n    bucket: {bucket}\n",
        aws = moto.aws_yaml(),
        local = dir.join("unused-local-state.json").display(),
    );
    std::fs::write(&path, text).expect("write config");
    path
}

/// One exporter daemon (`serve`), killed on drop.
pub struct Daemon {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Daemon {
    pub fn start(moto: &Moto, config: &Path, log: &Path, args: &[&str]) -> Daemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let mut cmd = Command::new(exporter_bin());
        for (k, _) in std::env::vars() {
            if k.starts_with("ECR_EXPOSURE_") || k == "AWS_PROFILE" || k == "POD_NAME" {
                cmd.env_remove(k);
            }
        }
        let child = cmd
            .envs(moto.env())
            .arg("--config.file")
            .arg(config)
            .arg("--web.listen-address")
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(log).expect("log")))
            .spawn()
            .expect("start the exporter");
        Daemon {
            child,
            port,
            log: log.to_path_buf(),
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET a path; `None` while the server does not answer.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut raw = String::new();
        s.read_to_string(&mut raw).ok()?;
        let status = raw.split_whitespace().nth(1)?.parse().ok()?;
        let (head, body) = raw.split_once("\r\n\r\n")?;
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_string()
        };
        Some((status, body))
    }

    /// Poll `path` until `pred` holds; panic with the log after `limit`.
    pub fn wait_for(
        &self,
        path: &str,
        limit: Duration,
        pred: impl Fn(u16, &str) -> bool,
    ) -> String {
        let start = Instant::now();
        let mut last = None;
        while start.elapsed() < limit {
            if let Some((status, body)) = self.get(path) {
                if pred(status, &body) {
                    return body;
                }
                last = Some((status, body));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "{path} on :{} not as expected within {limit:?}; last {last:?}\n--- log:\n{}",
            self.port,
            self.log_text()
        );
    }

    pub fn wait_ready(&self) {
        self.wait_for("/-/ready", Duration::from_secs(90), |s, _| s == 200);
    }

    pub fn metrics(&self) -> String {
        self.get("/metrics").map(|(_, b)| b).unwrap_or_default()
    }

    /// The open findings served on `/findings`.
    pub fn first_seen(&self) -> FirstSeen {
        let (status, body) = self.get("/findings").expect("/findings answers");
        assert_eq!(status, 200, "{body}");
        findings_first_seen(&body)
    }

    /// SIGTERM and wait for the exit (the daemon writes its state once more).
    pub fn terminate(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "exit {status}; log:\n{}", self.log_text());
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the exporter did not stop; log:\n{}", self.log_text());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].strip_prefix("\r\n").unwrap_or(&after[n..]);
    }
    out
}

/// The value of the sample `name{labels...}` (labels given as `k="v"` pairs, any order);
/// 0 when absent.
pub fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
        })
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// S3 calls of one operation the daemon counted.
pub fn s3_calls(metrics: &str, operation: &str) -> f64 {
    sample(
        metrics,
        "ecr_exposure_aws_api_requests_total",
        &[("service", "s3"), ("operation", operation)],
    )
}

fn rfc3339(s: &str) -> i64 {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{s:?}: {e}"))
        .unix_timestamp()
}

/// First-seen times of `/findings` (JSON lines).
pub fn findings_first_seen(body: &str) -> FirstSeen {
    let mut out = FirstSeen::new();
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        let r: Value = serde_json::from_str(line).expect("findings line");
        let subject = (
            r["account_id"].as_str().unwrap_or_default().to_string(),
            r["region"].as_str().unwrap_or_default().to_string(),
            r["repository"].as_str().unwrap_or_default().to_string(),
        );
        for f in r["findings"].as_array().into_iter().flatten() {
            let key = (
                subject.0.clone(),
                subject.1.clone(),
                subject.2.clone(),
                f["finding"].as_str().unwrap_or_default().to_string(),
            );
            out.entry(key)
                .or_default()
                .push(rfc3339(f["first_seen"].as_str().expect("first_seen")));
        }
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

/// First-seen times of state objects (their `findings`).
pub fn objects_first_seen<'a>(docs: impl IntoIterator<Item = &'a Value>) -> FirstSeen {
    let mut out = FirstSeen::new();
    for doc in docs {
        for f in doc["findings"].as_array().into_iter().flatten() {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            out.entry((s("account_id"), s("region"), s("repository"), s("kind")))
                .or_default()
                .push(f["first_seen"].as_i64().expect("first_seen"));
        }
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

/// Make a repository's policy public (as its account, through boto3).
pub fn make_public(moto: &Moto, account: &str, region: &str, repository: &str) {
    let script = r#"
import sys, boto3
endpoint, account, region, repo = sys.argv[1:5]
c = boto3.client("ecr", region_name=region, endpoint_url=endpoint,
                 aws_access_key_id="testing", aws_secret_access_key="testing")
c.meta.events.register("before-sign.*.*",
    lambda request, **_: request.headers.__setitem__("x-moto-account-id", account))
c.set_repository_policy(repositoryName=repo, policyText='{"Version":"2012-10-17","Statement":[{"Sid":"Pull","Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}')
"#;
    let out = Command::new(python())
        .args(["-c", script, &moto.endpoint, account, region, repository])
        .output()
        .expect("run boto3");
    assert!(
        out.status.success(),
        "set_repository_policy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
