//! One scan cycle: discovery, then every target concurrently (bounded by
//! `scan.target_concurrency`) under the `scan.timeout` deadline, each target collected and
//! then handed to a per-target step as soon as it completes.
//!
//! The step of the daemon and of `scan --once` ([`run_reported`]) analyses the target and
//! keeps only its report, so the facts of a target (policy texts, tags) are dropped as it
//! completes: memory grows with the targets in flight, not with the organization.
//! [`run_cycle`] keeps the facts, for benchmarks that look at them. A failed discovery is one failed pseudo-target `*/*`.
//!
//! Owns the order of the steps and the deadline; collection ([`crate::collect`]) sees one
//! target, analysis ([`crate::analysis`]) one target's facts, and the state layer receives
//! reports only.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;

use crate::analysis::{AnalysisSettings, analyze_target};
use crate::aws::ecr::SdkEcr;
use crate::aws::{ApiCallStats, Aws};
use crate::collect::{CollectOptions, collect_target};
use crate::config::Config;
use crate::discovery::{self, Discovery, Target};
use crate::facts::{TargetError, TargetErrorCode, TargetId, TargetOutcome};
use crate::state::ScanResult;

/// Everything a cycle needs, built once and shared by `scan --once` and the daemon.
#[derive(Debug, Clone)]
pub struct ScanContext {
    pub config: Arc<Config>,
    /// Client factory and call gate; holds the call counters and the credentials cache,
    /// so keep one context for the life of the process.
    pub aws: Aws,
    /// What the last successful discovery reached (event rescans act on it); `None` until
    /// the first discovery completed.
    pub reach: Arc<tokio::sync::watch::Sender<Option<Arc<Reach>>>>,
}

/// What the last discovery found, kept for event rescans: which targets this replica scans
/// and with which credentials (the same cached assumed-role sessions as the scans), which
/// accounts exist at all (to tell another shard's account from an unknown one), and the
/// trust zone that analysis used.
#[derive(Debug, Clone)]
pub struct Reach {
    /// The targets this replica scans, with their account's credentials.
    pub targets: std::collections::BTreeMap<TargetId, crate::aws::AccountCredentials>,
    /// Targets discovery listed but could not reach (role or regions): a rescan fails.
    pub unreachable: std::collections::BTreeSet<TargetId>,
    /// Every account the configured discovery knows before sharding: the caller, the static
    /// list, the organization's members.
    pub known_accounts: std::collections::BTreeSet<String>,
    pub shard: discovery::ShardSpec,
    pub settings: Arc<AnalysisSettings>,
}

impl Reach {
    fn of(discovery: &Discovery, config: &Config, settings: &Arc<AnalysisSettings>) -> Reach {
        let mut known_accounts = discovery.organization_accounts.clone();
        known_accounts.insert(discovery.caller_account.clone());
        known_accounts.extend(
            config
                .accounts
                .static_accounts
                .iter()
                .map(|a| a.id.to_string()),
        );
        Reach {
            targets: discovery
                .targets
                .iter()
                .map(|t| (t.id.clone(), t.credentials.clone()))
                .collect(),
            unreachable: discovery.failures.iter().map(|(t, _)| t.clone()).collect(),
            known_accounts,
            shard: discovery.shard,
            settings: settings.clone(),
        }
    }
}

impl ScanContext {
    /// Build the AWS side from the configuration (reads the ambient environment; no calls).
    pub async fn new(config: Config) -> ScanContext {
        Self::with_stats(config, Arc::new(ApiCallStats::new())).await
    }

    /// As [`ScanContext::new`], counting into `stats` (the daemon's metrics read these).
    pub async fn with_stats(config: Config, stats: Arc<ApiCallStats>) -> ScanContext {
        let aws = Aws::new(&config.aws, stats).await;
        ScanContext {
            config: Arc::new(config),
            aws,
            reach: Arc::new(tokio::sync::watch::Sender::new(None)),
        }
    }

    pub fn stats(&self) -> &Arc<ApiCallStats> {
        self.aws.stats()
    }
}

/// The result of one cycle: one item per target, as the per-target step made it.
#[derive(Debug, Clone)]
pub struct Cycle<T = TargetOutcome> {
    /// One per target (scanned or failed), sorted by target.
    pub outcomes: Vec<T>,
    /// Trust zone and tag rules for analysing this cycle, including what discovery added.
    pub settings: Arc<AnalysisSettings>,
    /// The organization id, with organizations discovery.
    pub organization_id: Option<String>,
    pub duration_seconds: f64,
}

impl Cycle<TargetOutcome> {
    /// Whether any target failed.
    pub fn any_failed(&self) -> bool {
        self.outcomes.iter().any(|o| o.result.is_err())
    }
}

/// One cycle keeping every target's facts (benchmarks).
pub async fn run_cycle(ctx: &ScanContext) -> Cycle {
    run_cycle_with(ctx, |outcome, _| std::future::ready(outcome)).await
}

/// One cycle for the daemon and `scan --once`: each target is analysed as it completes and only its report is
/// kept (its facts are dropped there).
pub async fn run_reported(ctx: &ScanContext) -> Cycle<ScanResult> {
    run_cycle_with(ctx, |outcome, settings| report(outcome, settings.clone())).await
}

/// Analyse one collected target off the async threads: the state layer's input.
pub async fn report(outcome: TargetOutcome, settings: Arc<AnalysisSettings>) -> ScanResult {
    let TargetOutcome {
        target,
        result,
        duration_seconds,
    } = outcome;
    let result = match result {
        Ok(facts) => {
            match tokio::task::spawn_blocking(move || analyze_target(&facts, &settings)).await {
                Ok(report) => Ok(report),
                // A panic in analysis is a bug: let it fail the cycle, as it always did.
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => Err(TargetError {
                    code: TargetErrorCode::Error,
                    message: "analysis was cancelled".into(),
                }),
            }
        }
        Err(e) => Err(e),
    };
    ScanResult {
        target,
        duration_seconds,
        result,
    }
}

/// Run one cycle: discovery, then every target through collection and `per_target`.
pub async fn run_cycle_with<T, F, Fut>(ctx: &ScanContext, per_target: F) -> Cycle<T>
where
    F: Fn(TargetOutcome, &Arc<AnalysisSettings>) -> Fut,
    Fut: Future<Output = T>,
{
    let started = Instant::now();
    let config = &ctx.config;
    let deadline = tokio::time::Instant::now() + config.scan.timeout;
    let discovery = match discover(ctx, deadline).await {
        Ok(d) => d,
        Err(err) => {
            tracing::error!(code = %err.code, error = %err.message, "discovery failed; nothing scanned");
            let settings = Arc::new(AnalysisSettings::from_config(config));
            let outcome = TargetOutcome {
                target: TargetId {
                    account_id: discovery::ALL_REGIONS.to_string(),
                    region: discovery::ALL_REGIONS.to_string(),
                },
                result: Err(err),
                duration_seconds: started.elapsed().as_secs_f64(),
            };
            let only = per_target(outcome, &settings).await;
            return Cycle {
                outcomes: vec![only],
                settings,
                organization_id: None,
                duration_seconds: started.elapsed().as_secs_f64(),
            };
        }
    };
    let settings = Arc::new(discovery.analysis_settings(config));
    ctx.reach
        .send_replace(Some(Arc::new(Reach::of(&discovery, config, &settings))));
    let Discovery {
        organization_id,
        targets,
        failures,
        ..
    } = discovery;
    tracing::info!(
        targets = targets.len(),
        failed = failures.len(),
        "discovery done"
    );
    let options = CollectOptions::from_config(config);
    let collect = |target: Target| scan_one(ctx, options, target, deadline);
    let step = |outcome| per_target(outcome, &settings);
    let mut outcomes = fan_out(
        targets,
        config.scan.target_concurrency,
        |t: &Target| t.id.clone(),
        collect,
        step,
    )
    .await;
    for (target, err) in failures {
        let outcome = TargetOutcome {
            target: target.clone(),
            result: Err(err),
            duration_seconds: 0.0,
        };
        outcomes.push((target, per_target(outcome, &settings).await));
    }
    outcomes.sort_by(|a, b| a.0.cmp(&b.0));
    Cycle {
        outcomes: outcomes.into_iter().map(|(_, t)| t).collect(),
        settings,
        organization_id,
        duration_seconds: started.elapsed().as_secs_f64(),
    }
}

async fn discover(
    ctx: &ScanContext,
    deadline: tokio::time::Instant,
) -> Result<Discovery, TargetError> {
    match tokio::time::timeout_at(deadline, discovery::discover(&ctx.aws, &ctx.config)).await {
        Ok(result) => result,
        Err(_) => Err(TargetError {
            code: TargetErrorCode::Timeout,
            message: "discovery did not finish within scan.timeout".into(),
        }),
    }
}

/// Every item through `collect` then `step`, `concurrency` at a time; each item's step runs
/// as soon as its own collection completes, so nothing waits for the slowest target.
async fn fan_out<I, K, T, O, C, CF, S, SF>(
    items: Vec<I>,
    concurrency: usize,
    key: impl Fn(&I) -> K,
    collect: C,
    step: S,
) -> Vec<(K, T)>
where
    C: Fn(I) -> CF,
    CF: Future<Output = O>,
    S: Fn(O) -> SF,
    SF: Future<Output = T>,
{
    let (collect, step, key) = (&collect, &step, &key);
    futures::stream::iter(items)
        .map(|item| async move {
            let k = key(&item);
            let collected = collect(item).await;
            (k, step(collected).await)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}

async fn scan_one(
    ctx: &ScanContext,
    options: CollectOptions,
    target: Target,
    deadline: tokio::time::Instant,
) -> TargetOutcome {
    let t0 = Instant::now();
    let api = SdkEcr::new(&ctx.aws, &target.credentials, &target.id.region);
    let result =
        match tokio::time::timeout_at(deadline, collect_target(&api, &options, &target.id)).await {
            Ok(r) => r,
            Err(_) => Err(TargetError {
                code: TargetErrorCode::Timeout,
                message: "target did not finish within scan.timeout".into(),
            }),
        };
    if let Err(e) = &result {
        tracing::warn!(target = %target.id, code = %e.code, error = %e.message, "target scan failed");
    }
    TargetOutcome {
        target: target.id,
        result,
        duration_seconds: t0.elapsed().as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    /// Each item's step runs while later items are still being collected: the second item's
    /// collection only finishes once the first item's step has run. Collecting everything
    /// before the first step (holding every target's facts) would never finish.
    #[tokio::test]
    async fn each_item_is_stepped_as_soon_as_it_is_collected() {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let order = Mutex::new(Vec::new());
        let run = fan_out(
            vec![1u32, 2],
            2,
            |i: &u32| *i,
            |i| {
                let mut rx = rx.clone();
                let order = &order;
                async move {
                    if i == 2 {
                        rx.wait_for(|stepped| *stepped).await.unwrap();
                    }
                    order.lock().unwrap().push(format!("collected {i}"));
                    i
                }
            },
            |i| {
                let tx = &tx;
                let order = &order;
                async move {
                    order.lock().unwrap().push(format!("stepped {i}"));
                    if i == 1 {
                        tx.send_replace(true);
                    }
                    i * 10
                }
            },
        );
        let mut out = tokio::time::timeout(Duration::from_secs(5), run)
            .await
            .expect("the first item's step did not wait for the second collection");
        out.sort();
        assert_eq!(out, vec![(1, 10), (2, 20)]);
        assert_eq!(
            *order.lock().unwrap(),
            ["collected 1", "stepped 1", "collected 2", "stepped 2"]
        );
    }

    #[tokio::test]
    async fn at_most_concurrency_items_are_in_flight() {
        let live = std::sync::atomic::AtomicUsize::new(0);
        let peak = std::sync::atomic::AtomicUsize::new(0);
        let out = fan_out(
            (0..20u32).collect(),
            3,
            |i: &u32| *i,
            |i| {
                let (live, peak) = (&live, &peak);
                async move {
                    let now = live.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    peak.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    i
                }
            },
            // the item is released (as facts are dropped) once its step is done
            |i| {
                let live = &live;
                async move {
                    live.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    i
                }
            },
        )
        .await;
        assert_eq!(out.len(), 20);
        assert_eq!(peak.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_report_keeps_a_failure_and_analyses_facts() {
        let target = TargetId {
            account_id: "111111111111".into(),
            region: "eu-west-1".into(),
        };
        let settings = Arc::new(AnalysisSettings::default());
        let failed = report(
            TargetOutcome {
                target: target.clone(),
                result: Err(TargetError {
                    code: TargetErrorCode::Throttled,
                    message: "m".into(),
                }),
                duration_seconds: 1.5,
            },
            settings.clone(),
        )
        .await;
        assert_eq!(failed.result.unwrap_err().code, "throttled");
        assert_eq!(failed.duration_seconds, 1.5);
        let ok = report(
            TargetOutcome {
                target: target.clone(),
                result: Ok(crate::facts::TargetFacts {
                    target: target.clone(),
                    repositories: Vec::new(),
                    registry: None,
                }),
                duration_seconds: 0.5,
            },
            settings,
        )
        .await;
        assert_eq!(ok.target, target);
        assert!(ok.result.unwrap().repositories.is_empty());
    }
}
