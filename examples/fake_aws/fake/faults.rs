//! Injected behaviour (latency, throttling, server errors) and the per-operation counters.
//!
//! Decisions are drawn from a hash of a global request sequence number, so a run with the
//! same requests in the same order throttles the same ones; rates hold over any window.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What every AWS request suffers; changed at run time through `POST /faults`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// Added before every answer (the answer itself is computed at once).
    pub latency: Duration,
    /// Share of requests answered with the service's throttling error.
    pub throttle_rate: f64,
    /// Share of requests answered 500 InternalFailure.
    pub error_rate: f64,
    /// The first this many requests of every operation are throttled (a deterministic way
    /// to see that each service's throttling error is retried).
    pub throttle_first: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency: Duration::ZERO,
            throttle_rate: 0.0,
            error_rate: 0.0,
            throttle_first: 0,
        }
    }
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Answer,
    Throttle,
    Fail,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl Faults {
    /// The verdict for the `seq`-th request, the `nth` (from 0) of its operation.
    pub fn verdict(&self, seq: u64, nth: u64) -> Verdict {
        if nth < self.throttle_first {
            return Verdict::Throttle;
        }
        let u = (splitmix(seq) >> 11) as f64 / (1u64 << 53) as f64;
        if u < self.throttle_rate {
            Verdict::Throttle
        } else if u < self.throttle_rate + self.error_rate {
            Verdict::Fail
        } else {
            Verdict::Answer
        }
    }

    /// Apply a `POST /faults` body: any of `latency_ms`, `throttle_rate`, `error_rate`.
    pub fn update(&mut self, body: &serde_json::Value) {
        if let Some(ms) = body["latency_ms"].as_f64() {
            self.latency = Duration::from_secs_f64(ms.max(0.0) / 1000.0);
        }
        if let Some(r) = body["throttle_rate"].as_f64() {
            self.throttle_rate = r.clamp(0.0, 1.0);
        }
        if let Some(r) = body["error_rate"].as_f64() {
            self.error_rate = r.clamp(0.0, 1.0);
        }
        if let Some(n) = body["throttle_first"].as_u64() {
            self.throttle_first = n;
        }
    }

    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "latency_ms": self.latency.as_secs_f64() * 1000.0,
            "throttle_rate": self.throttle_rate,
            "error_rate": self.error_rate,
            "throttle_first": self.throttle_first,
        })
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Count {
    calls: u64,
    throttled: u64,
    failed: u64,
}

/// Requests per `service:Operation`: every one seen, and the injected faults among them.
#[derive(Debug, Default)]
pub struct Counters {
    seq: AtomicU64,
    by_op: Mutex<BTreeMap<String, Count>>,
    /// TCP connections accepted: a client that shares one pool opens few.
    connections: AtomicU64,
}

impl Counters {
    /// Count a request and decide its fate from its global sequence number and its rank
    /// within its operation (see [`Faults::verdict`]).
    pub fn record(&self, op: &str, verdict_of: impl FnOnce(u64, u64) -> Verdict) -> Verdict {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut map = self.by_op.lock().unwrap_or_else(|p| p.into_inner());
        let c = match map.get_mut(op) {
            Some(c) => c,
            None => map.entry(op.to_string()).or_default(),
        };
        let verdict = verdict_of(seq, c.calls);
        c.calls += 1;
        match verdict {
            Verdict::Throttle => c.throttled += 1,
            Verdict::Fail => c.failed += 1,
            Verdict::Answer => {}
        }
        verdict
    }

    pub fn reset(&self) {
        self.by_op.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.connections.store(0, Ordering::Relaxed);
    }

    /// Count an accepted connection.
    pub fn connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    /// `{"calls": {op: n}, "throttled": {op: n}, "failed": {op: n}, "total": n,
    /// "connections": n}`.
    pub fn to_json(&self) -> serde_json::Value {
        let map = self.by_op.lock().unwrap_or_else(|p| p.into_inner());
        let pick = |f: fn(&Count) -> u64| -> serde_json::Map<String, serde_json::Value> {
            map.iter()
                .filter(|(_, c)| f(c) > 0)
                .map(|(k, c)| (k.clone(), f(c).into()))
                .collect()
        };
        let total: u64 = map.values().map(|c| c.calls).sum();
        serde_json::json!({
            "calls": pick(|c| c.calls),
            "throttled": pick(|c| c.throttled),
            "failed": pick(|c| c.failed),
            "total": total,
            "connections": self.connections.load(Ordering::Relaxed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_hold_over_many_requests() {
        let f = Faults {
            throttle_rate: 0.01,
            error_rate: 0.02,
            ..Faults::default()
        };
        let (mut t, mut e) = (0, 0);
        for seq in 0..100_000 {
            match f.verdict(seq, 1) {
                Verdict::Throttle => t += 1,
                Verdict::Fail => e += 1,
                Verdict::Answer => {}
            }
        }
        assert!((900..1100).contains(&t), "{t}");
        assert!((1800..2200).contains(&e), "{e}");
    }
}
