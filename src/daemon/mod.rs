//! The daemon: scheduled scan cycles, the finding lifecycle, snapshot swaps and the HTTP server.
//!
//! Order of work after each cycle, chosen so that a `kill -9` at any moment loses at most that
//! cycle's changes and never counts an opening twice ([`apply`]):
//! 1. the cycle hands over one analysed report per target (analysis runs in the cycle, each
//!    target as it completes, see [`crate::cycle`]); they are applied to the tracker (in memory);
//! 2. persist the state: the state file atomically, or the changed accounts' S3 objects
//!    (which the S3 backend reads, for accounts new to the process, before step 1);
//! 3. only then move the opened/resolved counters and the remediation histogram;
//! 4. swap the new snapshot in for `/metrics` and `/findings`.
//!
//! Event rescans ([`rescan`]) come from the event consumer over a channel and are applied by
//! the scheduler's own loop, between cycles, in the same order (tracker, state file,
//! counters, swap), so a rescan and a cycle never race for the tracker; a rescan applied
//! while a cycle runs is replayed onto that cycle's reports, so the cycle's older read of the
//! same repository does not undo it.
//!
//! Scheduling ([`scheduler`]): a first cycle at start, then one every `scan.interval` plus a
//! random jitter in `[0, scan.jitter]`, measured from the start of the previous tick. A tick
//! that finds the previous cycle still running is skipped, counted and logged. On shutdown the
//! server stops accepting, a running cycle is cancelled (its results are not applied), the
//! state is written once more and [`run_daemon`] returns. Process wiring (configuration,
//! signals, the deadline watchdog) is [`crate::commands::serve`]'s, not this module's.

mod apply;
mod rescan;
mod scheduler;

pub use rescan::{EventHooks, RescanReply, RescanRequest};

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::http::{self, App, WebConfig};
use crate::metrics::{ApiStatsSource, Metrics, SnapshotCollector};
use crate::snapshot::SnapshotCell;
use crate::state::{
    self, Clock, ExceptionRule, Exceptions, Loaded, ScanResult, StateBackend, Tracker,
};

/// Everything must be down this long after the signal.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);
/// Part of the deadline that open HTTP connections get to finish.
const HTTP_DRAIN: Duration = Duration::from_secs(5);

/// A boxed cycle future: one analysed result per target.
pub type CycleFuture = Pin<Box<dyn Future<Output = Vec<ScanResult>> + Send>>;

/// Where the daemon's cycles come from: the collection layer in production, a fake in tests.
///
/// A trait rather than a closure so that a test double can carry its own controls
/// (gates, counters) and production code names what it plugs in.
pub trait CycleSource: Send + Sync + 'static {
    /// One full cycle over every target, analysed. Called once per tick, never twice at
    /// once; the future is dropped (cancelled) at shutdown.
    fn run_cycle(&self) -> CycleFuture;
}

/// The daemon's validated settings (from the configuration and the flags).
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    pub interval: Duration,
    pub jitter: Duration,
    /// Where first-seen times are persisted (`state.backend`).
    pub state: StateBackend,
    pub exceptions: Vec<ExceptionRule>,
    /// Required tag keys (the first is the owner tag); for the zero-valued tag counts.
    pub required_tags: Vec<String>,
    pub telemetry_path: String,
    /// This replica's shard (exported as `ecr_exposure_shard_info`).
    pub shard: crate::discovery::ShardSpec,
}

/// The pieces the daemon is made of, built before the listener starts.
pub struct Daemon {
    pub options: DaemonOptions,
    pub cycle: Arc<dyn CycleSource>,
    pub api_stats: Option<ApiStatsSource>,
    pub clock: Arc<dyn Clock>,
    pub web: Arc<WebConfig>,
    /// Event-driven rescans (`events.sqs_queue_url`): their metrics and the channel the
    /// consumer sends its rescans on; `None` when events are off.
    pub events: Option<EventHooks>,
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
        events,
    } = daemon;
    let exceptions = Arc::new(Exceptions::new(options.exceptions.clone()));
    let cell = Arc::new(SnapshotCell::default());
    let mut metrics = Metrics::new(SnapshotCollector {
        cell: cell.clone(),
        clock: clock.clone(),
        exceptions: exceptions.clone(),
        required_tags: options.required_tags.clone(),
        api_stats,
        shard: options.shard,
    });
    let mut rescans = None;
    if let Some(hooks) = events {
        metrics = metrics.with_events(&hooks.metrics);
        rescans = Some(hooks.requests);
    }
    let metrics = Arc::new(metrics);
    let tracker = restore(&options, &exceptions, &metrics, clock.as_ref());
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

    let backend = options.state.clone();
    let scheduler = scheduler::Scheduler::new(
        options,
        cycle,
        clock.clone(),
        cell,
        metrics.clone(),
        exceptions,
    )
    .with_rescans(rescans);
    let shutdown_token = token.clone();
    let signal_task = async move {
        shutdown.await;
        tracing::info!("shutdown requested");
        shutdown_token.cancel();
    };
    let ((), tracker) = tokio::join!(signal_task, scheduler.run(tracker, token.clone()));
    // Persist once more: covers a failed save of the last cycle.
    apply::save_at_shutdown(&backend, tracker, clock.as_ref(), &metrics).await;
    let _ = http_task.await;
    tracing::info!("stopped");
}

/// The tracker with the state file's findings, or fresh (a corrupt file is moved aside and
/// counted).
fn restore(
    options: &DaemonOptions,
    exceptions: &Arc<Exceptions>,
    metrics: &Metrics,
    clock: &dyn Clock,
) -> Tracker {
    let mut tracker = Tracker::new(exceptions.clone());
    let path = match &options.state {
        StateBackend::File(path) => path,
        StateBackend::S3(store) => {
            tracing::info!(location = %store.location(), "state in S3: each account's object is read when the account is first scanned");
            return tracker;
        }
    };
    match state::store::load(path, clock.now()) {
        Loaded::Fresh => {
            tracing::info!(path = %path.display(), "no state file yet; starting fresh")
        }
        Loaded::Restored(s) => {
            let n = s.findings.len();
            tracker.restore(s);
            tracing::info!(path = %path.display(), open_findings = n, "state restored");
        }
        Loaded::Corrupt { error, moved_to } => {
            metrics.counters().state_load_failed();
            tracing::warn!(
                path = %path.display(),
                moved_to = %moved_to.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "(could not move)".into()),
                error = %error,
                "state file unreadable; moved aside, starting fresh (first-seen times restart now)"
            );
        }
    }
    tracker
}

#[cfg(test)]
mod tests;
