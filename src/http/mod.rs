//! HTTP: `/` landing page, the telemetry path, `/findings`, `/-/healthy`, `/-/ready`, with TLS
//! and basic auth from `--web.config.file` applied to every path.
//!
//! Handlers only read the current [`Snapshot`](crate::snapshot::Snapshot) and the counters:
//! nothing here waits on AWS. The server stops accepting when the shutdown future resolves and
//! lets open connections finish within a deadline (the mini-redis pattern: the signal is passed
//! in, so tests run the server on `127.0.0.1:0`).

pub mod findings;
pub mod webconfig;

use std::convert::Infallible;
use std::future::Future;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use time::format_description::well_known::Rfc3339;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::metrics::{Format, Metrics};
use crate::snapshot::SnapshotCell;
use crate::state::Clock;
pub use findings::FindingsFilter;
pub use webconfig::{WebConfig, WebConfigError, WebSettings};

/// How long a TLS handshake may take before the connection is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the handlers share.
#[derive(Debug)]
pub struct App {
    pub snapshot: Arc<SnapshotCell>,
    pub metrics: Arc<Metrics>,
    /// `--web.telemetry-path`.
    pub telemetry_path: String,
    pub clock: Arc<dyn Clock>,
    pub web: Arc<WebConfig>,
}

type Body = Full<Bytes>;

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Whether to answer with gzip, by the q-values of `Accept-Encoding` (RFC 9110 §12.5.3).
///
/// An explicit entry wins over `*` (`gzip;q=0, *` refuses gzip; `*;q=0` refuses every coding
/// not listed). gzip is chosen when its weight is positive and not below identity's; identity
/// not listed takes `*`'s weight, or none, so `gzip;q=0.5` alone still means gzip. Entries
/// with an unreadable q-value are ignored.
fn accepts_gzip(value: Option<&str>) -> bool {
    let Some(value) = value else { return false };
    let (mut gzip, mut identity, mut any) = (None, None, None);
    for part in value.split(',') {
        let mut it = part.split(';');
        let coding = it.next().unwrap_or("").trim();
        let Some(q) = qvalue(it) else { continue };
        let slot = if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            &mut gzip
        } else if coding.eq_ignore_ascii_case("identity") {
            &mut identity
        } else if coding == "*" {
            &mut any
        } else {
            continue;
        };
        slot.get_or_insert(q);
    }
    let gzip = gzip.or(any).unwrap_or(0);
    gzip > 0 && identity.or(any).is_none_or(|identity| gzip >= identity)
}

/// The weight of one `Accept-Encoding` entry in thousandths (default 1000); `None` when the
/// q parameter is not a qvalue (`0`..`1` with at most three decimals).
fn qvalue<'a>(params: impl Iterator<Item = &'a str>) -> Option<u16> {
    for p in params {
        let Some((name, q)) = p.split_once('=') else {
            continue;
        };
        if !name.trim().eq_ignore_ascii_case("q") {
            continue;
        }
        let q = q.trim();
        let (int, frac) = q.split_once('.').unwrap_or((q, ""));
        let digits_ok = frac.len() <= 3 && frac.bytes().all(|b| b.is_ascii_digit());
        let thousandths = match int {
            "0" if digits_ok => format!("{frac:0<3}").parse().ok()?,
            "1" if digits_ok && frac.bytes().all(|b| b == b'0') => 1000,
            _ => return None,
        };
        return Some(thousandths);
    }
    Some(1000)
}

fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 8),
        flate2::Compression::fast(),
    );
    enc.write_all(body).ok()?;
    enc.finish().ok()
}

/// Route one request (after authentication).
pub async fn handle(
    app: Arc<App>,
    settings: Arc<WebSettings>,
    req: Request<Incoming>,
) -> Response<Body> {
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !app.web.authorize(&settings, auth).await {
        let mut r = text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"ecr-exposure-exporter\""),
        );
        return r;
    }
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let mut resp = route(&app, &req).await;
    if head {
        *resp.body_mut() = Full::new(Bytes::new());
    }
    resp
}

async fn route(app: &Arc<App>, req: &Request<Incoming>) -> Response<Body> {
    let path = req.uri().path();
    let header_str = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if path == app.telemetry_path {
        let format = Format::negotiate(header_str(header::ACCEPT));
        let gz = accepts_gzip(header_str(header::ACCEPT_ENCODING));
        let metrics = app.metrics.clone();
        // Rendering a large snapshot takes milliseconds of CPU: keep it off the I/O threads.
        let rendered = tokio::task::spawn_blocking(move || {
            let body = metrics.render(format).into_bytes();
            if gz {
                gzip(&body).map(|z| (z, true)).unwrap_or((body, false))
            } else {
                (body, false)
            }
        })
        .await;
        let Ok((body, compressed)) = rendered else {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "rendering failed\n");
        };
        let mut r = Response::new(Full::new(Bytes::from(body)));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        );
        r.headers_mut().insert(
            header::VARY,
            HeaderValue::from_static("Accept, Accept-Encoding"),
        );
        if compressed {
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        return r;
    }
    match path {
        "/" => landing(app),
        "/-/healthy" => text(StatusCode::OK, "Healthy\n"),
        "/-/ready" => {
            if app.snapshot.load().cycle.is_some() {
                text(StatusCode::OK, "Ready\n")
            } else {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Not ready: the first scan cycle has not completed\n",
                )
            }
        }
        "/findings" => match FindingsFilter::parse(req.uri().query()) {
            Err(msg) => text(StatusCode::BAD_REQUEST, format!("{msg}\n")),
            Ok(filter) => {
                let body = findings::render(&app.snapshot.load(), &filter, app.clock.now());
                let mut r = Response::new(Full::new(Bytes::from(body)));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-ndjson; charset=utf-8"),
                );
                r
            }
        },
        _ => text(StatusCode::NOT_FOUND, "Not Found\n"),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn landing(app: &App) -> Response<Body> {
    let snap = app.snapshot.load();
    let now = app.clock.now();
    let status = match &snap.cycle {
        None => "The first scan cycle is running; metrics appear when it completes.".to_string(),
        Some(c) => {
            let open: usize = snap.targets.values().map(|t| t.findings.len()).sum();
            let suppressed: usize = snap
                .targets
                .values()
                .flat_map(|t| t.findings.iter())
                .filter(|f| f.suppressed_at(now).is_some())
                .count();
            format!(
                "Cycle {} completed at {} in {:.1} s: {} target(s) scanned, {} failed; {} open finding(s), {} suppressed.",
                c.number,
                c.completed_at.format(&Rfc3339).unwrap_or_default(),
                c.duration_seconds,
                c.targets_ok + c.targets_failed,
                c.targets_failed,
                open,
                suppressed
            )
        }
    };
    let tp = html_escape(&app.telemetry_path);
    let body = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ECR Exposure Exporter</title></head>\n<body>\n<h1>ECR Exposure Exporter</h1>\n<p>Version {} (revision {})</p>\n<p>{}</p>\n<ul>\n<li><a href=\"{tp}\">Metrics</a></li>\n<li><a href=\"/findings\">Findings</a> (JSON lines; filter with <code>?account_id=&amp;region=&amp;scope=&amp;finding=</code>)</li>\n<li><a href=\"/-/healthy\">Health</a></li>\n<li><a href=\"/-/ready\">Readiness</a></li>\n</ul>\n</body></html>\n",
        html_escape(crate::VERSION),
        html_escape(crate::REVISION),
        html_escape(&status),
    );
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// Serve until `shutdown` resolves, then stop accepting and give open connections up to
/// `drain` to finish.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Usually EMFILE: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let settings = app.web.current();
        let app = app.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let svc_settings = settings.clone();
            let svc = service_fn(move |req| {
                let app = app.clone();
                let settings = svc_settings.clone();
                async move { Ok::<_, Infallible>(handle(app, settings, req).await) }
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            let result = match &settings.tls {
                Some(tls) => {
                    let acceptor = TlsAcceptor::from(tls.clone());
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    {
                        Ok(Ok(tls_stream)) => {
                            let conn = builder.serve_connection(TokioIo::new(tls_stream), svc);
                            watcher.watch(conn.into_owned()).await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    }
                }
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    watcher.watch(conn.into_owned()).await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(drain) => {
            tracing::warn!(deadline_seconds = drain.as_secs_f64(), "open connections did not finish before the deadline");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip(Some("gzip")));
        assert!(accepts_gzip(Some("deflate, gzip;q=1.0, *;q=0.5")));
        assert!(!accepts_gzip(Some("gzip;q=0")));
        assert!(!accepts_gzip(Some("identity")));
        assert!(!accepts_gzip(None));
    }

    #[test]
    fn gzip_q_values_follow_rfc_9110() {
        for (header, want) in [
            // An explicit refusal is not overridden by the wildcard, in either order.
            ("gzip;q=0, *", false),
            ("*, gzip;q=0", false),
            ("gzip; q=0.000, *;q=1", false),
            // The wildcard covers gzip when gzip is not listed...
            ("*", true),
            ("br, *;q=0.1", true),
            // ...and `*;q=0` refuses everything not listed.
            ("*;q=0", false),
            ("*;q=0, gzip", true),
            ("br;q=1, *;q=0", false),
            // Identity is compared by weight; ties go to gzip.
            ("gzip;q=0.5, identity", false),
            ("gzip;q=0.5, identity;q=0.5", true),
            ("gzip;q=0.5, identity;q=0.2", true),
            ("identity;q=0, gzip;q=0.001", true),
            ("gzip;q=0.5", true),
            ("gzip;q=0.4, *;q=0.5", false),
            // Case, spacing and the x-gzip alias.
            ("GZIP;Q=0.8", true),
            (" x-gzip ", true),
            // Unreadable q-values drop the entry.
            ("gzip;q=2", false),
            ("gzip;q=0.0001", false),
            ("gzip;q=abc, *", true),
            ("gzip;q=-1", false),
            ("", false),
        ] {
            assert_eq!(accepts_gzip(Some(header)), want, "{header:?}");
        }
        assert_eq!(qvalue(["q=0.25"].into_iter()), Some(250));
        assert_eq!(qvalue(["level=1", "q=1.000"].into_iter()), Some(1000));
        assert_eq!(qvalue([].into_iter()), Some(1000));
    }
}
