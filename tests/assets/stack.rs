//! The monitoring stack of the end-to-end tests, all on 127.0.0.1 and stopped on drop: the
//! exporter binary (against the moto harness of `tests/support/`), a real Prometheus and a real
//! Alertmanager from the Debian packages, and a webhook receiver that records what Alertmanager
//! posts.
//!
//! Fast settings (docs/testing.md): scrape and evaluation every 1 s, `--rules.alert.resend-delay=1s`,
//! Alertmanager `group_wait: 0s`, `group_interval: 1s`, no cluster port.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::common::{repo_path, tool};
use super::support::Moto;

/// How long any one expected event may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(90);

/// A free port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A child process, killed on drop; its output goes to a log file shown on failure.
#[derive(Debug)]
pub struct Proc {
    pub name: &'static str,
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    fn spawn(name: &'static str, mut cmd: Command, log: PathBuf) -> Proc {
        let file = std::fs::File::create(&log).expect("log file");
        let err = file.try_clone().expect("log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Proc { name, child, log }
    }

    /// The end of the log, for failure messages.
    pub fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(30);
        format!(
            "--- {} log (last lines)\n{}",
            self.name,
            lines[start..].join("\n")
        )
    }

    /// Fails the test if the process has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited early ({status})\n{}", self.name, self.tail());
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Minimal HTTP GET on loopback: (status, body). Enough for Prometheus' and the exporter's APIs.
pub fn http_get(port: u16, path_and_query: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    Some((
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_string()
        },
    ))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Percent-encodes a query parameter value.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Polls `check` every 500 ms until it returns `Some`, or fails with `what` after [`DEADLINE`].
pub fn wait_until<T>(
    what: &str,
    procs: &mut [&mut Proc],
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        for p in procs.iter_mut() {
            p.assert_running();
        }
        if start.elapsed() > DEADLINE {
            let logs: Vec<String> = procs.iter().map(|p| p.tail()).collect();
            panic!(
                "timed out after {DEADLINE:?} waiting for {what}\n{}",
                logs.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The exporter daemon scanning the moto harness.
#[derive(Debug)]
pub struct Exporter {
    pub proc: Proc,
    pub port: u16,
}

impl Exporter {
    pub fn start(moto: &Moto, config: &Path, dir: &Path) -> Exporter {
        Exporter::start_on(moto, config, dir, free_port())
    }

    /// On a given port (a replica restarted where Prometheus already scrapes), logging to
    /// `dir/exporter.log`.
    pub fn start_on(moto: &Moto, config: &Path, dir: &Path, port: u16) -> Exporter {
        let mut cmd = moto.exporter();
        cmd.arg("--config.file")
            .arg(config)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"));
        let proc = Proc::spawn("exporter", cmd, dir.join("exporter.log"));
        Exporter { proc, port }
    }
}

/// A real Prometheus scraping the exporter (job `ecr-exposure-exporter`) with the given rules.
#[derive(Debug)]
pub struct Prometheus {
    pub proc: Proc,
    pub port: u16,
}

impl Prometheus {
    pub fn start(
        dir: &Path,
        exporter_port: u16,
        rules: &[PathBuf],
        alertmanager_port: Option<u16>,
    ) -> Prometheus {
        Prometheus::start_scraping(dir, &[exporter_port], rules, alertmanager_port)
    }

    /// Scraping several replicas of the job (one target each).
    pub fn start_scraping(
        dir: &Path,
        exporter_ports: &[u16],
        rules: &[PathBuf],
        alertmanager_port: Option<u16>,
    ) -> Prometheus {
        let port = free_port();
        let targets: Vec<String> = exporter_ports
            .iter()
            .map(|p| format!("'127.0.0.1:{p}'"))
            .collect();
        let rule_files: Vec<String> = rules
            .iter()
            .map(|r| format!("  - {}", r.display()))
            .collect();
        let alerting = alertmanager_port
            .map(|p| format!("alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{p}']\n"))
            .unwrap_or_default();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n{alerting}rule_files:\n{}\nscrape_configs:\n  - job_name: ecr-exposure-exporter\n    static_configs:\n      - targets: [{}]\n",
            rule_files.join("\n"),
            targets.join(", ")
        );
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        let mut cmd = Command::new(tool("prometheus"));
        cmd.arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("prometheus-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--rules.alert.resend-delay=1s")
            .arg("--web.enable-lifecycle");
        let mut proc = Proc::spawn("prometheus", cmd, dir.join("prometheus.log"));
        wait_until("Prometheus to be ready", &mut [&mut proc], || {
            http_get(port, "/-/ready").filter(|(s, _)| *s == 200)
        });
        Prometheus { proc, port }
    }

    /// A handle for queries that does not borrow the process.
    pub fn api(&self) -> PromApi {
        PromApi { port: self.port }
    }
}

/// Prometheus' HTTP API.
#[derive(Debug, Clone, Copy)]
pub struct PromApi {
    pub port: u16,
}

impl PromApi {
    /// Instant query: the `data.result` vector (fails the test on a query error).
    pub fn query(&self, expr: &str) -> Vec<Value> {
        let (status, body) = http_get(self.port, &format!("/api/v1/query?query={}", encode(expr)))
            .unwrap_or((0, String::new()));
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        assert!(
            status == 200 && v["status"] == "success",
            "query failed ({status}): {expr}\n{body}"
        );
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }
}

/// A real Alertmanager with the given configuration.
#[derive(Debug)]
pub struct Alertmanager {
    pub proc: Proc,
    pub port: u16,
}

impl Alertmanager {
    pub fn start(dir: &Path, config: &str) -> Alertmanager {
        let port = free_port();
        let config_path = dir.join("alertmanager.yml");
        std::fs::write(&config_path, config).unwrap();
        let mut cmd = Command::new(tool("prometheus-alertmanager"));
        cmd.arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.path={}",
                dir.join("alertmanager-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=");
        let mut proc = Proc::spawn("alertmanager", cmd, dir.join("alertmanager.log"));
        wait_until("Alertmanager to be ready", &mut [&mut proc], || {
            http_get(port, "/-/ready").filter(|(s, _)| *s == 200)
        });
        Alertmanager { proc, port }
    }
}

/// One POST received by the webhook.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The URL path: which receiver of the Alertmanager configuration sent it.
    pub path: String,
    pub body: Value,
}

/// An HTTP server on 127.0.0.1 that records every JSON POST (Alertmanager's webhook payload).
#[derive(Debug, Clone)]
pub struct Webhook {
    pub port: u16,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
}

impl Webhook {
    pub fn start() -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind webhook");
        let port = listener.local_addr().unwrap().port();
        let deliveries = Arc::new(Mutex::new(Vec::new()));
        let sink = deliveries.clone();
        // The thread ends with the test process; the listener is only on loopback.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let sink = sink.clone();
                std::thread::spawn(move || serve_connection(stream, &sink));
            }
        });
        Webhook { port, deliveries }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().unwrap().clone()
    }
}

fn serve_connection(stream: TcpStream, sink: &Mutex<Vec<Delivery>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    // Keep-alive: Alertmanager reuses connections.
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_string();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if let Ok(json) = serde_json::from_slice::<Value>(&body) {
            sink.lock().unwrap().push(Delivery { path, body: json });
        }
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

/// Runs tests/assets/moto_ops.py against the harness (as account `account`, region us-east-1).
pub fn moto_op(moto: &Moto, account: &str, args: &[&str]) {
    let out = Command::new(super::support::python())
        .arg(repo_path("tests/assets/moto_ops.py"))
        .args([moto.endpoint.as_str(), account, "us-east-1"])
        .args(args)
        .envs(moto.env())
        .output()
        .expect("run moto_ops.py");
    assert!(
        out.status.success(),
        "moto_ops.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Minimal HTTP POST of a JSON body on loopback: the status code.
pub fn http_post_json(port: u16, path: &str, body: &Value) -> Option<u16> {
    let body = body.to_string();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    String::from_utf8_lossy(&raw)
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
