//! The event consumer's metrics (docs/events.md): registered only when `events.sqs_queue_url`
//! is set, so a replica without events exports none of them (the event alerts rely on that).
//!
//! Label values are `&'static str` from the consumer's bounded enums; this module does not
//! know them (it sits below the events module) beyond creating the zero series it is given.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Detection-latency buckets (seconds): from a CloudTrail event to /metrics takes seconds
/// when events flow, up to minutes when EventBridge or a retry is slow.
pub const DETECTION_LATENCY_BUCKETS: [f64; 10] =
    [1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventNameLabel {
    event_name: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

/// Counters, the latency histogram and the last-receive time of the event consumer.
#[derive(Debug, Clone)]
pub struct EventMetrics {
    received: Family<EventNameLabel, Counter>,
    ignored: Family<ReasonLabel, Counter>,
    rescans: Family<ResultLabel, Counter>,
    abandoned: Counter,
    latency: Histogram,
    queue_errors: Counter,
    /// Unix seconds (f64 bits) of the last successful receive; 0 = none yet (no series).
    last_receive: Arc<AtomicU64>,
}

impl Default for EventMetrics {
    fn default() -> Self {
        EventMetrics {
            received: Family::default(),
            ignored: Family::default(),
            rescans: Family::default(),
            abandoned: Counter::default(),
            latency: Histogram::new(DETECTION_LATENCY_BUCKETS),
            queue_errors: Counter::default(),
            last_receive: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl EventMetrics {
    /// Metrics whose `ignored` and `rescans` series start at 0 for the given label values
    /// (so `rate()` sees the first one); `received` starts empty (the alerts expect that).
    pub fn new(ignored_reasons: &[&'static str], rescan_results: &[&'static str]) -> Self {
        let m = EventMetrics::default();
        for &reason in ignored_reasons {
            drop(m.ignored.get_or_create(&ReasonLabel { reason }));
        }
        for &result in rescan_results {
            drop(m.rescans.get_or_create(&ResultLabel { result }));
        }
        m
    }

    /// Register into `registry` (the daemon's, or a test's own).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "ecr_exposure_events_received",
            "ECR change events received from the SQS queue, by CloudTrail eventName",
            self.received.clone(),
        );
        registry.register(
            "ecr_exposure_events_ignored",
            "Queue messages not acted on (deleted), by reason",
            self.ignored.clone(),
        );
        registry.register(
            "ecr_exposure_event_rescans",
            "Rescans triggered by an event, by result (an error leaves the message for redelivery)",
            self.rescans.clone(),
        );
        registry.register(
            "ecr_exposure_events_abandoned",
            "Messages deleted after events.max_receives failed rescans (the next full scan covers them)",
            self.abandoned.clone(),
        );
        registry.register(
            "ecr_exposure_detection_latency_seconds",
            "Time from an event's CloudTrail eventTime to its rescan being visible on /metrics",
            self.latency.clone(),
        );
        registry.register(
            "ecr_exposure_event_queue_errors",
            "Failed SQS ReceiveMessage and DeleteMessage calls",
            self.queue_errors.clone(),
        );
        registry.register_collector(Box::new(LastReceive(self.last_receive.clone())));
    }

    pub fn received(&self, event_name: &'static str) {
        self.received
            .get_or_create(&EventNameLabel { event_name })
            .inc();
    }

    pub fn ignored(&self, reason: &'static str) {
        self.ignored.get_or_create(&ReasonLabel { reason }).inc();
    }

    pub fn rescan(&self, result: &'static str) {
        self.rescans.get_or_create(&ResultLabel { result }).inc();
    }

    pub fn abandoned(&self) {
        self.abandoned.inc();
    }

    /// One detection, `seconds` from the event to the snapshot swap.
    pub fn detected(&self, seconds: f64) {
        self.latency.observe(seconds.max(0.0));
    }

    pub fn queue_error(&self) {
        self.queue_errors.inc();
    }

    /// A successful `ReceiveMessage` at `unix_seconds`.
    pub fn received_from_queue(&self, unix_seconds: f64) {
        self.last_receive
            .store(unix_seconds.to_bits(), Ordering::Relaxed);
    }
}

/// `ecr_exposure_event_queue_last_receive_timestamp_seconds`, once there was a receive.
#[derive(Debug)]
struct LastReceive(Arc<AtomicU64>);

impl Collector for LastReceive {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let bits = self.0.load(Ordering::Relaxed);
        if bits == 0 {
            return Ok(());
        }
        let mut me = enc.encode_descriptor(
            "ecr_exposure_event_queue_last_receive_timestamp_seconds",
            "Time of the last successful SQS ReceiveMessage call (an empty long poll counts).",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(f64::from_bits(bits)).encode(me.encode_family(&[("", ""); 0])?)
    }
}
