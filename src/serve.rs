//! The daemon: scheduled scan cycles, the finding lifecycle, snapshot swaps and the HTTP server.
//!
//! Order of work after each cycle, chosen so that a `kill -9` at any moment loses at most that
//! cycle's changes and never counts an opening twice:
//! 1. analyse the outcomes and apply them to the tracker (in memory);
//! 2. persist the state file atomically;
//! 3. only then move the opened/resolved counters and the remediation histogram;
//! 4. swap the new snapshot in for `/metrics` and `/findings`.
//!
//! Scheduling: a first cycle at start, then one every `scan.interval` plus a random jitter in
//! `[0, scan.jitter]`, measured from the start of the previous tick. A tick that finds the
//! previous cycle still running is skipped, counted and logged. On SIGTERM/SIGINT the server
//! stops accepting, a running cycle is cancelled (its results are not applied), the state is
//! written once more and the process exits 0 within [`SHUTDOWN_DEADLINE`].

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::analysis::AnalysisSettings;
use crate::cli::ServeArgs;
use crate::facts::TargetOutcome;
use crate::http::{self, App, WebConfig};
use crate::metrics::{ApiStatsSource, Metrics, SnapshotCollector};
use crate::snapshot::SnapshotCell;
use crate::state::{
    self, Clock, ExceptionRule, Exceptions, Loaded, ScanResult, SystemClock, Tracker,
};

/// Everything must be down this long after the signal.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);
/// Part of the deadline that open HTTP connections get to finish.
const HTTP_DRAIN: Duration = Duration::from_secs(5);

/// What one cycle produced: per-target outcomes and the trust/tag settings to analyse them with
/// (discovery may add organization members to the trust zone, so they can change per cycle).
#[derive(Debug, Clone)]
pub struct CycleOutput {
    pub outcomes: Vec<TargetOutcome>,
    pub settings: AnalysisSettings,
}

/// A boxed cycle future.
pub type CycleFuture = Pin<Box<dyn Future<Output = CycleOutput> + Send>>;
/// Runs one full cycle over every target (the collection layer); called once per tick.
pub type CycleFn = Arc<dyn Fn() -> CycleFuture + Send + Sync>;

/// The daemon's validated settings (from the configuration and the flags).
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    pub interval: Duration,
    pub jitter: Duration,
    pub state_path: PathBuf,
    pub exceptions: Vec<ExceptionRule>,
    /// Required tag keys (the first is the owner tag); for the zero-valued tag counts.
    pub required_tags: Vec<String>,
    pub telemetry_path: String,
}

/// The pieces the daemon is made of, built before the listener starts.
pub struct Daemon {
    pub options: DaemonOptions,
    pub cycle: CycleFn,
    pub api_stats: Option<ApiStatsSource>,
    pub clock: Arc<dyn Clock>,
    pub web: Arc<WebConfig>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Run until `shutdown` resolves. Testable: pass a listener on `127.0.0.1:0` and any future.
pub async fn run_daemon(daemon: Daemon, listener: TcpListener, shutdown: impl Future<Output = ()>) {
    let Daemon {
        options,
        cycle,
        api_stats,
        clock,
        web,
    } = daemon;
    let exceptions = Arc::new(Exceptions::new(options.exceptions.clone()));
    let mut tracker = Tracker::new(exceptions.clone());

    let cell = Arc::new(SnapshotCell::default());
    let metrics = Arc::new(Metrics::new(SnapshotCollector {
        cell: cell.clone(),
        clock: clock.clone(),
        exceptions: exceptions.clone(),
        required_tags: options.required_tags.clone(),
        api_stats,
    }));

    match state::store::load(&options.state_path, clock.now()) {
        Loaded::Fresh => {
            tracing::info!(path = %options.state_path.display(), "no state file yet; starting fresh")
        }
        Loaded::Restored(s) => {
            let n = s.findings.len();
            tracker.restore(s);
            tracing::info!(path = %options.state_path.display(), open_findings = n, "state restored");
        }
        Loaded::Corrupt { error, moved_to } => {
            metrics.counters().state_load_failed();
            tracing::warn!(
                path = %options.state_path.display(),
                moved_to = %moved_to.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "(could not move)".into()),
                error = %error,
                "state file unreadable; moved aside, starting fresh (first-seen times restart now)"
            );
        }
    }
    // Restored findings are served before the first cycle completes; readiness still waits.
    let mut initial = tracker.snapshot();
    initial.cycle = None;
    cell.store(initial);

    let token = CancellationToken::new();
    let app = Arc::new(App {
        snapshot: cell.clone(),
        metrics: metrics.clone(),
        telemetry_path: options.telemetry_path.clone(),
        clock: clock.clone(),
        web,
    });
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(address = %addr, telemetry_path = %options.telemetry_path, "listening");
    }
    let http_task = tokio::spawn(http::serve(
        listener,
        app,
        token.clone().cancelled_owned(),
        HTTP_DRAIN,
    ));

    let scheduler = Scheduler {
        options,
        cycle,
        clock,
        cell,
        metrics,
        exceptions,
    };
    let shutdown_token = token.clone();
    let signal_task = async move {
        shutdown.await;
        tracing::info!("shutdown requested");
        shutdown_token.cancel();
    };
    let ((), (tracker, path, clock)) =
        tokio::join!(signal_task, scheduler.run(tracker, token.clone()));
    // Persist once more: covers a failed save of the last cycle.
    if let Err(e) = state::store::save(&path, &tracker.to_state(clock.now())) {
        tracing::warn!(path = %path.display(), error = %e, "could not write the state file at shutdown");
    }
    let _ = http_task.await;
    tracing::info!("stopped");
}

struct Scheduler {
    options: DaemonOptions,
    cycle: CycleFn,
    clock: Arc<dyn Clock>,
    cell: Arc<SnapshotCell>,
    metrics: Arc<Metrics>,
    exceptions: Arc<Exceptions>,
}

fn jitter(max: Duration) -> Duration {
    let ms = max.as_millis().min(u128::from(u64::MAX)) as u64;
    if ms == 0 {
        Duration::ZERO
    } else {
        Duration::from_millis(rand::random_range(0..=ms))
    }
}

impl Scheduler {
    async fn run(
        self,
        mut tracker: Tracker,
        token: CancellationToken,
    ) -> (Tracker, PathBuf, Arc<dyn Clock>) {
        let mut running: Option<(tokio::task::JoinHandle<CycleOutput>, Instant)> = None;
        let mut next_tick = tokio::time::Instant::now();
        self.log_expired_exceptions(&tracker);
        loop {
            let next_expiry = self.exceptions.next_expiry(self.clock.now()).map(|at| {
                let wait = (at - self.clock.now()).try_into().unwrap_or(Duration::ZERO);
                tokio::time::Instant::now() + wait
            });
            tokio::select! {
                () = token.cancelled() => break,
                () = tokio::time::sleep_until(next_tick) => {
                    next_tick += self.options.interval + jitter(self.options.jitter);
                    if running.is_some() {
                        self.metrics.counters().cycle_skipped();
                        tracing::warn!("previous scan cycle still running; skipping this tick");
                    } else {
                        tracing::debug!("scan cycle starting");
                        running = Some((tokio::spawn((self.cycle)()), Instant::now()));
                    }
                }
                joined = async { (&mut running.as_mut().expect("guarded").0).await }, if running.is_some() => {
                    let (_, started) = running.take().expect("guarded");
                    match joined {
                        Ok(output) => {
                            tracker = self.apply(tracker, output, started.elapsed().as_secs_f64()).await;
                        }
                        Err(e) => tracing::error!(error = %e, "scan cycle task failed; keeping the previous snapshot"),
                    }
                }
                () = async {
                    match next_expiry {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => {
                    self.log_expired_exceptions(&tracker);
                }
            }
        }
        if let Some((handle, _)) = running.take() {
            tracing::info!("cancelling the running scan cycle; its results are not applied");
            handle.abort();
        }
        (tracker, self.options.state_path.clone(), self.clock.clone())
    }

    fn log_expired_exceptions(&self, tracker: &Tracker) {
        let now = self.clock.now();
        for rule in self.exceptions.take_newly_expired(now) {
            let covered = tracker
                .snapshot()
                .targets
                .values()
                .flat_map(|t| t.findings.iter())
                .filter(|f| rule.covers(&f.finding.key))
                .count();
            self.metrics.counters().exception_expired();
            tracing::warn!(
                account_id = rule.account_id.as_ref().map_or("*", |a| a.as_str()),
                region = rule.region.as_ref().map_or("*", |r| r.as_str()),
                repository = %rule.repository,
                finding = rule.finding.as_label(),
                reason = %rule.reason,
                expires = %rule.expires,
                covered_findings = covered,
                "exception expired; the findings it covered count again"
            );
        }
    }

    async fn apply(&self, tracker: Tracker, output: CycleOutput, duration: f64) -> Tracker {
        let now = self.clock.now();
        let path = self.options.state_path.clone();
        // Analysis and the state write are CPU and disk work: off the async threads.
        let joined = tokio::task::spawn_blocking(move || {
            let mut tracker = tracker;
            let results: Vec<ScanResult> = output
                .outcomes
                .iter()
                .map(|o| ScanResult::from_outcome(o, &output.settings))
                .collect();
            let changes = tracker.apply_cycle(results, now, duration);
            let saved = state::store::save(&path, &tracker.to_state(now));
            (tracker, changes, saved)
        })
        .await;
        let (tracker, changes, saved) = match joined {
            Ok(x) => x,
            Err(e) => {
                // Cannot happen short of a panic in analysis; the tracker moved into the task.
                tracing::error!(error = %e, "applying the cycle failed");
                std::process::abort();
            }
        };
        if let Err(e) = saved {
            self.metrics.counters().state_save_failed();
            tracing::warn!(path = %self.options.state_path.display(), error = %e, "could not write the state file; first-seen times of this cycle would be lost on restart");
        }
        // Counters move only after the state holding these changes is on disk.
        self.metrics.counters().record_cycle(&changes);
        for key in &changes.opened {
            tracing::debug!(account_id = %key.account_id, region = %key.region, repository = %key.repository, finding = key.kind.as_label(), detail = %key.detail, "finding opened");
        }
        for (key, seconds) in &changes.resolved {
            tracing::debug!(account_id = %key.account_id, region = %key.region, repository = %key.repository, finding = key.kind.as_label(), detail = %key.detail, remediation_seconds = seconds, "finding resolved");
        }
        if !changes.forgotten.is_empty() {
            tracing::warn!(
                findings = changes.forgotten.len(),
                "targets no longer discovered were forgotten with their findings (not counted as resolved)"
            );
        }
        for (target, ok) in &changes.scans {
            if !ok {
                tracing::warn!(target = %target, "scan of target failed; keeping its previous findings");
            }
        }
        let failed = changes.scans.iter().filter(|(_, ok)| !ok).count();
        tracing::info!(
            targets = changes.scans.len(),
            failed,
            opened = changes.opened.len(),
            resolved = changes.resolved.len(),
            open_findings = tracker.open_findings(),
            duration_seconds = duration,
            "scan cycle completed"
        );
        self.cell.store(tracker.snapshot());
        tracker
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Run the exporter until SIGTERM/SIGINT; returns the process exit code
/// (0 after a clean shutdown, 2 on bad configuration or an unusable listen address).
pub fn run(args: ServeArgs) -> u8 {
    let config = match crate::config::Config::load(args.config_file.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ecr-exposure-exporter: invalid configuration: {e}");
            return 2;
        }
    };
    let web = match &args.web_config_file {
        None => WebConfig::none(),
        Some(p) => match WebConfig::load(p) {
            Ok(w) => w,
            Err(e) => {
                eprintln!("ecr-exposure-exporter: invalid web configuration: {e}");
                return 2;
            }
        },
    };
    if !args.telemetry_path.starts_with('/') {
        eprintln!("ecr-exposure-exporter: --web.telemetry-path must start with '/'");
        return 2;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ecr-exposure-exporter: cannot start the runtime: {e}");
            return 2;
        }
    };
    runtime.block_on(async move {
        // Go exporters accept ":9847" for every interface; so do we.
        let addr = if args.listen_address.starts_with(':') {
            format!("0.0.0.0{}", args.listen_address)
        } else {
            args.listen_address.clone()
        };
        let listener = match TcpListener::bind(addr.as_str()).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("ecr-exposure-exporter: cannot listen on {addr}: {e}");
                return 2;
            }
        };
        let (cycle, api_stats) = match cycle_for(&config).await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("ecr-exposure-exporter: {e}");
                return 2;
            }
        };
        let options = DaemonOptions {
            interval: config.scan.interval,
            jitter: config.scan.jitter,
            state_path: config.state.path.clone(),
            exceptions: config.exceptions.clone(),
            required_tags: config.tags.required.clone(),
            telemetry_path: args.telemetry_path.clone(),
        };
        tracing::info!(
            version = crate::VERSION,
            revision = crate::REVISION,
            interval = %humantime::format_duration(options.interval),
            state = %options.state_path.display(),
            "starting ecr-exposure-exporter"
        );
        let daemon = Daemon {
            options,
            cycle,
            api_stats,
            clock: Arc::new(SystemClock),
            web: Arc::new(web),
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = tx.send(());
            // Watchdog: whatever hangs, the process is gone within the deadline.
            tokio::time::sleep(SHUTDOWN_DEADLINE).await;
            tracing::error!(
                deadline_seconds = SHUTDOWN_DEADLINE.as_secs(),
                "shutdown did not finish before the deadline; exiting"
            );
            std::process::exit(1);
        });
        run_daemon(daemon, listener, async move {
            let _ = rx.await;
        })
        .await;
        0
    })
}

/// Build the per-tick cycle and the API call statistics from the configuration: one
/// [`ScanContext`](crate::collect::ScanContext) for the life of the process (it holds the
/// credentials cache and the call counters).
async fn cycle_for(
    config: &crate::config::Config,
) -> Result<(CycleFn, Option<ApiStatsSource>), String> {
    let ctx = Arc::new(crate::collect::ScanContext::new(config.clone()).await);
    let stats = ctx.stats().clone();
    let cycle: CycleFn = Arc::new(move || {
        let ctx = ctx.clone();
        Box::pin(async move {
            let cycle = crate::collect::run_cycle(&ctx).await;
            CycleOutput {
                outcomes: cycle.outcomes,
                settings: cycle.settings,
            }
        })
    });
    let api_stats: ApiStatsSource = Arc::new(move || api_samples(&stats.snapshot()));
    Ok((cycle, Some(api_stats)))
}

/// The collection layer's counters, in the collector's shape.
fn api_samples(snap: &crate::aws::ApiStatsSnapshot) -> Vec<crate::metrics::ApiCallSample> {
    let mut out: Vec<crate::metrics::ApiCallSample> = snap
        .calls
        .iter()
        .map(|c| crate::metrics::ApiCallSample {
            service: c.service.to_string(),
            operation: c.operation.to_string(),
            requests: c.count,
            errors: Vec::new(),
        })
        .collect();
    for e in &snap.errors {
        let code = (e.error_code.as_label().to_string(), e.count);
        match out
            .iter_mut()
            .find(|s| s.service == e.service && s.operation == e.operation)
        {
            Some(s) => s.errors.push(code),
            None => out.push(crate::metrics::ApiCallSample {
                service: e.service.to_string(),
                operation: e.operation.to_string(),
                requests: 0,
                errors: vec![code],
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests;
