//! The scheduler: ticks every `scan.interval` plus jitter, skips (and counts) a tick that finds
//! the previous cycle still running, wakes when an exception expires, and cancels a running
//! cycle at shutdown without applying it.
//!
//! Owns timing only: what a cycle does is the [`CycleSource`]'s, what its results change is
//! [`Applier`]'s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::apply::Applier;
use super::{CycleSource, DaemonOptions};
use crate::metrics::Metrics;
use crate::snapshot::SnapshotCell;
use crate::state::{Clock, Exceptions, ScanResult, Tracker};

pub(super) struct Scheduler {
    interval: Duration,
    jitter: Duration,
    cycle: Arc<dyn CycleSource>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    exceptions: Arc<Exceptions>,
    applier: Applier,
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
        }
    }

    /// Run until `token` is cancelled; returns the tracker to persist one last time.
    pub async fn run(self, mut tracker: Tracker, token: CancellationToken) -> Tracker {
        let mut running: Option<(JoinHandle<Vec<ScanResult>>, Instant)> = None;
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
                        running = Some((tokio::spawn(self.cycle.run_cycle()), Instant::now()));
                    }
                }
                joined = async { (&mut running.as_mut().expect("guarded").0).await }, if running.is_some() => {
                    let (_, started) = running.take().expect("guarded");
                    match joined {
                        Ok(results) => {
                            let duration = started.elapsed().as_secs_f64();
                            tracker = self.applier.apply(tracker, results, duration).await;
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
