//! Metrics: the counters the daemon increments (registered once) and a [`collector`] that
//! encodes the current snapshot at scrape time; rendering in OpenMetrics or text 0.0.4.
//!
//! Names and labels are the public contract documented in `docs/metrics.md`; the finding
//! gauges are rebuilt from the immutable snapshot on every scrape, so a resolved finding's
//! series disappears without anyone having to remove it. Nothing here talks to AWS.

pub mod collector;
pub mod events;

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::model::{FindingKind, TargetId};
use crate::state::CycleChanges;

pub use collector::{ApiCallSample, ApiStatsSource, SnapshotCollector};
pub use events::EventMetrics;

/// Remediation-time buckets, 5 minutes to 30 days (seconds).
pub const REMEDIATION_BUCKETS: [f64; 13] = [
    300.0,       // 5m
    900.0,       // 15m
    1_800.0,     // 30m
    3_600.0,     // 1h
    10_800.0,    // 3h
    21_600.0,    // 6h
    43_200.0,    // 12h
    86_400.0,    // 1d
    172_800.0,   // 2d
    259_200.0,   // 3d
    604_800.0,   // 7d
    1_209_600.0, // 14d
    2_592_000.0, // 30d
];

/// `finding` label of the lifecycle counters.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FindingLabel {
    pub finding: &'static str,
}

/// `account_id`, `region` of the per-target counters.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetLabels {
    pub account_id: String,
    pub region: String,
}

fn remediation_histogram() -> Histogram {
    Histogram::new(REMEDIATION_BUCKETS)
}

/// The counters and histogram that live across cycles (they reset with the process, as
/// Prometheus expects; `increase()` handles that).
#[derive(Debug, Clone)]
pub struct Counters {
    scans: Family<TargetLabels, Counter>,
    scan_failures: Family<TargetLabels, Counter>,
    cycles_skipped: Counter,
    opened: Family<FindingLabel, Counter>,
    resolved: Family<FindingLabel, Counter>,
    remediation: Family<FindingLabel, Histogram, fn() -> Histogram>,
    state_load_failures: Counter,
    state_save_failures: Counter,
    state_write_conflicts: Counter,
    exceptions_expired: Counter,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            scans: Family::default(),
            scan_failures: Family::default(),
            cycles_skipped: Counter::default(),
            opened: Family::default(),
            resolved: Family::default(),
            remediation: Family::new_with_constructor(remediation_histogram),
            state_load_failures: Counter::default(),
            state_save_failures: Counter::default(),
            state_write_conflicts: Counter::default(),
            exceptions_expired: Counter::default(),
        }
    }
}

impl Counters {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "ecr_exposure_scans",
            "Scan attempts per target (account and region)",
            self.scans.clone(),
        );
        registry.register(
            "ecr_exposure_scan_failures",
            "Failed scans per target; the target keeps its previous findings",
            self.scan_failures.clone(),
        );
        registry.register(
            "ecr_exposure_scan_cycles_skipped",
            "Scheduled cycles skipped because the previous cycle was still running",
            self.cycles_skipped.clone(),
        );
        registry.register(
            "ecr_exposure_findings_opened",
            "Findings seen for the first time (an opening persisted before a restart is not counted again)",
            self.opened.clone(),
        );
        registry.register(
            "ecr_exposure_findings_resolved",
            "Findings that a successful scan of their target no longer sees",
            self.resolved.clone(),
        );
        registry.register(
            "ecr_exposure_finding_remediation_seconds",
            "Time from first seen to resolved, observed when a finding resolves",
            self.remediation.clone(),
        );
        registry.register(
            "ecr_exposure_state_load_failures",
            "State files that could not be read at start and were moved aside (the daemon started fresh); with the S3 backend, account objects that could not be parsed and were copied aside (that account started fresh)",
            self.state_load_failures.clone(),
        );
        registry.register(
            "ecr_exposure_state_save_failures",
            "Failed writes of the state file (first-seen times since the last good write would be lost on restart); with the S3 backend, account objects that could not be read or written (kept in memory, retried next cycle)",
            self.state_save_failures.clone(),
        );
        registry.register(
            "ecr_exposure_state_write_conflicts",
            "Conditional writes of an account's state object (S3 backend) that found it changed by another writer; the versions were merged and the write retried",
            self.state_write_conflicts.clone(),
        );
        registry.register(
            "ecr_exposure_exceptions_expired",
            "Exceptions that expired while the daemon ran; their findings count again",
            self.exceptions_expired.clone(),
        );
        // Every finding kind exists from the start, so increase() and rate() see a 0 first.
        for kind in FindingKind::ALL {
            let l = FindingLabel {
                finding: kind.as_label(),
            };
            drop(self.opened.get_or_create(&l));
            drop(self.resolved.get_or_create(&l));
            drop(self.remediation.get_or_create(&l));
        }
    }

    /// Count one cycle's changes. Call only after the state holding them was persisted.
    pub fn record_cycle(&self, changes: &CycleChanges) {
        for (target, ok) in &changes.scans {
            let l = target_labels(target);
            self.scans.get_or_create(&l).inc();
            if !ok {
                self.scan_failures.get_or_create(&l).inc();
            }
        }
        for key in &changes.opened {
            self.opened
                .get_or_create(&FindingLabel {
                    finding: key.kind.as_label(),
                })
                .inc();
        }
        for (key, seconds) in &changes.resolved {
            let l = FindingLabel {
                finding: key.kind.as_label(),
            };
            self.resolved.get_or_create(&l).inc();
            self.remediation.get_or_create(&l).observe(*seconds);
        }
    }

    pub fn cycle_skipped(&self) {
        self.cycles_skipped.inc();
    }

    pub fn state_load_failed(&self) {
        self.state_load_failures.inc();
    }

    pub fn state_save_failed(&self) {
        self.state_save_failures.inc();
    }

    pub fn state_write_conflict(&self) {
        self.state_write_conflicts.inc();
    }

    pub fn exception_expired(&self) {
        self.exceptions_expired.inc();
    }

    /// Read back (tests, landing page).
    pub fn cycles_skipped_count(&self) -> u64 {
        self.cycles_skipped.get()
    }
}

fn target_labels(t: &TargetId) -> TargetLabels {
    TargetLabels {
        account_id: t.account_id.clone(),
        region: t.region.clone(),
    }
}

/// Exposition format chosen by content negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    /// Prometheus text format 0.0.4: what older scrapers, curl and `promtool check metrics` read.
    Text,
}

impl Format {
    /// OpenMetrics when the scraper lists it in `Accept` (Prometheus does), text otherwise.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let wants_om = accept.is_some_and(|a| {
            a.split(',').any(|part| {
                let mut params = part.split(';');
                let media = params.next().unwrap_or("").trim();
                let q_zero = params.any(|p| {
                    let p = p.trim();
                    p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
                });
                media.eq_ignore_ascii_case("application/openmetrics-text") && !q_zero
            })
        });
        if wants_om {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        }
    }
}

/// The registry: counters plus the snapshot collector. Shared read-only (`Arc`), no mutex:
/// counters are atomics and the collector reads an `Arc` snapshot.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    counters: Counters,
    /// Size of the last rendering: the next buffer is allocated at once instead of doubling
    /// its way up (which would briefly hold 1.5x the output).
    last_size: std::sync::atomic::AtomicUsize,
}

impl Metrics {
    pub fn new(collector: SnapshotCollector) -> Self {
        let mut registry = Registry::default();
        let counters = Counters::default();
        counters.register(&mut registry);
        registry.register_collector(Box::new(collector));
        Metrics {
            registry,
            counters,
            last_size: std::sync::atomic::AtomicUsize::new(64 * 1024),
        }
    }

    /// Add the event consumer's metrics (only when events are on).
    pub fn with_events(mut self, events: &EventMetrics) -> Self {
        events.register(&mut self.registry);
        self
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Encode everything in `format`.
    pub fn render(&self, format: Format) -> String {
        use std::sync::atomic::Ordering;
        let hint = self.last_size.load(Ordering::Relaxed);
        let mut out = String::with_capacity(hint + hint / 8);
        let result = match format {
            Format::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut out, &self.registry)
            }
            Format::Text => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
            }
        };
        if let Err(e) = result {
            // Writing into a String cannot fail; an encoder error is a bug in a label set.
            tracing::error!(error = %e, "encoding metrics failed");
        }
        self.last_size.store(out.len(), Ordering::Relaxed);
        out
    }
}

/// Shared handle used by the HTTP layer and the scheduler.
pub type SharedMetrics = Arc<Metrics>;

#[cfg(test)]
mod tests;
