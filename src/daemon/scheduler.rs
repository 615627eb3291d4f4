//! The scheduler: ticks every `scan.interval` plus jitter, skips (and counts) a tick that finds
//! the previous cycle still running, wakes when an exception expires, and cancels a running
//! cycle at shutdown without applying it. Between cycles (and while one collects) it applies
//! the event rescans the consumer sends, so the tracker has one writer; rescans applied while a
//! cycle runs are replayed onto that cycle's reports.
//!
//! Owns timing and ordering only: what a cycle does is the [`CycleSource`]'s, what its results
//! and the rescans change is [`Applier`]'s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::apply::Applier;
use super::rescan::RescanRequest;
use super::{CycleSource, DaemonOptions};
use crate::metrics::Metrics;
use crate::snapshot::SnapshotCell;
use crate::state::{Clock, Exceptions, Rescanned, ScanResult, Tracker};

/// Rescans applied together at most (one state write, one swap).
const MAX_RESCANS_PER_APPLY: usize = 64;

pub(super) struct Scheduler {
    interval: Duration,
    jitter: Duration,
    cycle: Arc<dyn CycleSource>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    exceptions: Arc<Exceptions>,
    applier: Applier,
    /// Event rescans to apply between cycles (`None`: events off).
    rescans: Option<mpsc::Receiver<RescanRequest>>,
}

/// Patch a cycle's reports with the rescans applied while it ran, oldest first: the cycle may
/// have read a repository before its event's rescan did, and must not undo the newer read
/// (which would resolve, then reopen, and count, a finding twice). A rescan older than the
/// cycle's read is corrected by the next event or cycle.
fn replay(results: &mut [ScanResult], rescans: Vec<Rescanned>) {
    for rescan in rescans {
        for r in results.iter_mut().filter(|r| r.target == rescan.target) {
            if let Ok(report) = &mut r.result {
                rescan.part.patch(report);
            }
        }
    }
}

/// A random delay in `[0, max]`, in whole milliseconds.
fn jitter(max: Duration) -> Duration {
    let ms = max.as_millis().min(u128::from(u64::MAX)) as u64;
    if ms == 0 {
        Duration::ZERO
    } else {
        Duration::from_millis(rand::random_range(0..=ms))
    }
}

impl Scheduler {
    pub fn new(
        options: DaemonOptions,
        cycle: Arc<dyn CycleSource>,
        clock: Arc<dyn Clock>,
        cell: Arc<SnapshotCell>,
        metrics: Arc<Metrics>,
        exceptions: Arc<Exceptions>,
    ) -> Scheduler {
        Scheduler {
            interval: options.interval,
            jitter: options.jitter,
            cycle,
            clock: clock.clone(),
            metrics: metrics.clone(),
            exceptions,
            applier: Applier {
                state: options.state,
                clock,
                cell,
                metrics,
            },
            rescans: None,
        }
    }

    /// Also apply the rescans that arrive on `rescans`.
    pub fn with_rescans(mut self, rescans: Option<mpsc::Receiver<RescanRequest>>) -> Self {
        self.rescans = rescans;
        self
    }

    /// Run until `token` is cancelled; returns the tracker to persist one last time.
    pub async fn run(mut self, mut tracker: Tracker, token: CancellationToken) -> Tracker {
        let mut running: Option<(JoinHandle<Vec<ScanResult>>, Instant)> = None;
        let mut rescans = self.rescans.take();
        // Rescans applied while the running cycle collects: replayed onto its reports.
        let mut during_cycle: Vec<Rescanned> = Vec::new();
        let mut next_tick = tokio::time::Instant::now();
        self.log_expired_exceptions(&tracker);
        loop {
            let next_expiry = self.next_expiry();
            tokio::select! {
                () = token.cancelled() => break,
                () = tokio::time::sleep_until(next_tick) => {
                    next_tick += self.interval + jitter(self.jitter);
                    if running.is_some() {
                        self.metrics.counters().cycle_skipped();
                        tracing::warn!("previous scan cycle still running; skipping this tick");
                    } else {
                        tracing::debug!("scan cycle starting");
                        during_cycle.clear();
                        running = Some((tokio::spawn(self.cycle.run_cycle()), Instant::now()));
                    }
                }
                joined = async { (&mut running.as_mut().expect("guarded").0).await }, if running.is_some() => {
                    let (_, started) = running.take().expect("guarded");
                    match joined {
                        Ok(mut results) => {
                            let duration = started.elapsed().as_secs_f64();
                            replay(&mut results, std::mem::take(&mut during_cycle));
                            tracker = self.applier.apply(tracker, results, duration).await;
                        }
                        Err(e) => tracing::error!(error = %e, "scan cycle task failed; keeping the previous snapshot"),
                    }
                }
                request = async { rescans.as_mut().expect("guarded").recv().await }, if rescans.is_some() => {
                    let Some(request) = request else {
                        rescans = None;
                        continue;
                    };
                    // Take the others that queued up meanwhile: one state write for all.
                    let mut requests = vec![request];
                    if let Some(rx) = rescans.as_mut() {
                        while requests.len() < MAX_RESCANS_PER_APPLY {
                            match rx.try_recv() {
                                Ok(r) => requests.push(r),
                                Err(_) => break,
                            }
                        }
                    }
                    tracker = self.apply_rescans(tracker, requests, running.is_some(), &mut during_cycle).await;
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
        tracker
    }

    /// Apply queued rescans and answer each; those applied while a cycle runs are kept to be
    /// replayed onto its reports.
    async fn apply_rescans(
        &self,
        tracker: Tracker,
        requests: Vec<RescanRequest>,
        cycle_running: bool,
        during_cycle: &mut Vec<Rescanned>,
    ) -> Tracker {
        let (rescans, replies): (Vec<Rescanned>, Vec<_>) =
            requests.into_iter().map(|r| (r.rescan, r.reply)).unzip();
        let kept = cycle_running.then(|| rescans.clone());
        let (tracker, answers) = self.applier.apply_rescans(tracker, rescans).await;
        if let Some(kept) = kept {
            during_cycle.extend(
                kept.into_iter()
                    .zip(&answers)
                    .filter(|(_, a)| a.is_ok())
                    .map(|(r, _)| r),
            );
        }
        for (reply, answer) in replies.into_iter().zip(answers) {
            // The consumer may have given up waiting (shutdown): nothing to do then.
            let _ = reply.send(answer);
        }
        tracker
    }

    /// When the next exception expires, on the timer's clock.
    fn next_expiry(&self) -> Option<tokio::time::Instant> {
        let now = self.clock.now();
        self.exceptions.next_expiry(now).map(|at| {
            let wait = (at - now).try_into().unwrap_or(Duration::ZERO);
            tokio::time::Instant::now() + wait
        })
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
}
