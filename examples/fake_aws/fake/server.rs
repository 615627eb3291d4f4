//! The HTTP side: a hyper HTTP/1.1 server on 127.0.0.1 that decodes AWS calls, counts them,
//! applies the injected latency / throttling / failures, and answers from the estate; plus
//! the plain-HTTP control endpoints (unsigned requests):
//!
//! - `GET /counters`: `{"calls": {"ecr:GetRepositoryPolicy": n, ...}, "throttled": {...},
//!   "failed": {...}, "total": n}`
//! - `POST /reset`: zero the counters
//! - `GET /estate?shards=M`: the estate's summary and the lower bound of calls for M shards
//! - `GET /faults`, `POST /faults` `{"latency_ms": 30, "throttle_rate": 0.01, "error_rate": 0,
//!   "throttle_first": 0}` (any subset)

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use super::bound::lower_bound;
use super::estate::Estate;
use super::faults::{Counters, Faults, Verdict};
use super::services::answer;
use super::wire::{self, Reply};

/// The fake's whole state, shared by every connection.
#[derive(Debug)]
pub struct Fake {
    pub estate: Estate,
    faults: RwLock<Faults>,
    pub counters: Counters,
}

impl Fake {
    pub fn new(estate: Estate, faults: Faults) -> Arc<Fake> {
        Arc::new(Fake {
            estate,
            faults: RwLock::new(faults),
            counters: Counters::default(),
        })
    }

    pub fn faults(&self) -> Faults {
        *self.faults.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_faults(&self, f: Faults) {
        *self.faults.write().unwrap_or_else(|p| p.into_inner()) = f;
    }
}

fn respond(status: u16, content_type: &str, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    if let Ok(v) = content_type.parse() {
        resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    resp
}

fn control_json(v: &Value) -> Response<Full<Bytes>> {
    respond(200, "application/json", Bytes::from(v.to_string()))
}

fn control(
    fake: &Fake,
    method: &hyper::Method,
    path: &str,
    query: &str,
    body: &[u8],
) -> Response<Full<Bytes>> {
    match (method.as_str(), path) {
        ("GET", "/counters") => control_json(&fake.counters.to_json()),
        ("POST", "/reset") => {
            fake.counters.reset();
            control_json(&json!({"ok": true}))
        }
        ("GET", "/estate") => {
            let shards = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("shards="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            let mut summary = fake.estate.summary();
            summary["shards"] = shards.into();
            summary["lower_bound"] = json!(lower_bound(&fake.estate, shards));
            control_json(&summary)
        }
        ("GET", "/faults") => control_json(&fake.faults().to_json()),
        ("POST", "/faults") => {
            let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let mut f = fake.faults();
            f.update(&req);
            fake.set_faults(f);
            control_json(&f.to_json())
        }
        _ => respond(
            404,
            "text/plain",
            Bytes::from_static(b"unknown control path\n"),
        ),
    }
}

/// One HTTP request: a control call, or an AWS call with its faults.
async fn handle(
    fake: Arc<Fake>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(respond(
                400,
                "text/plain",
                Bytes::from_static(b"bad body\n"),
            ));
        }
    };
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let path = parts.uri.path();
    let Some(call) = wire::decode(header("authorization"), header("x-amz-target"), path, &body)
    else {
        let query = parts.uri.query().unwrap_or("");
        return Ok(control(&fake, &parts.method, path, query, &body));
    };
    let faults = fake.faults();
    let verdict = fake
        .counters
        .record(&call.key(), |seq, nth| faults.verdict(seq, nth));
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    let reply: Reply = match verdict {
        Verdict::Throttle => wire::throttled(&call),
        Verdict::Fail => wire::internal(&call),
        Verdict::Answer => answer(&fake.estate, &call),
    };
    let mut resp = respond(reply.status, reply.content_type, reply.body);
    let headers = resp.headers_mut();
    headers.insert(
        "x-amzn-requestid",
        hyper::header::HeaderValue::from_static("fake-request"),
    );
    if let Some(t) = reply.error_type.and_then(|t| t.parse().ok()) {
        headers.insert("x-amzn-errortype", t);
    }
    Ok(resp)
}

/// Accept connections until the listener fails; each connection is its own task.
pub async fn serve(listener: tokio::net::TcpListener, fake: Arc<Fake>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors or similar: back off instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        fake.counters.connection();
        let fake = fake.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| handle(fake.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// A fake serving from its own thread and runtime; stopped on drop.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    pub fake: Arc<Fake>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Start `fake` on a free 127.0.0.1 port with `threads` runtime workers.
pub fn spawn(fake: Arc<Fake>, threads: usize) -> std::io::Result<Running> {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = fake.clone();
    let thread = std::thread::spawn(move || {
        runtime.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                return;
            };
            tokio::select! {
                _ = serve(listener, served) => {}
                _ = stopped => {}
            }
        });
        runtime.shutdown_background();
    });
    Ok(Running {
        addr,
        fake,
        stop: Some(stop),
        thread: Some(thread),
    })
}
