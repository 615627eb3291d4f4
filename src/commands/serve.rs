//! The `serve` command (the default): configuration, web configuration, the runtime, the
//! listener, signals and the shutdown watchdog, then [`run_daemon`] until SIGTERM/SIGINT.
//!
//! Wiring only: scheduling and cycle application are [`crate::daemon`]'s, the cycle itself
//! [`crate::cycle`]'s.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use tokio::net::TcpListener;

use crate::aws::sqs::SqsQueue;
use crate::cli::ServeArgs;
use crate::config::{Config, StateBackendConfig};
use crate::cycle::{self, ScanContext};
use crate::daemon::{
    CycleFuture, CycleSource, Daemon, DaemonOptions, EventHooks, SHUTDOWN_DEADLINE, run_daemon,
};
use crate::events::consumer;
use crate::events::rescan::AwsReader;
use crate::http::WebConfig;
use crate::metrics::{ApiCallSample, ApiStatsSource};
use crate::state::{S3Location, S3Store, StateBackend, SystemClock};

/// Run the exporter until SIGTERM/SIGINT: `Ok(0)` after a clean shutdown; `Err` (exit 2) on
/// bad configuration or an unusable listen address.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(args.config_file.as_deref())
        .map_err(|e| anyhow!("invalid configuration: {e}"))?;
    let shard = super::settle_shard(&mut config, &args.shard)?;
    tracing::info!(shard = %shard, "this replica's shard");
    let web = match &args.web_config_file {
        None => WebConfig::none(),
        Some(p) => WebConfig::load(p).map_err(|e| anyhow!("invalid web configuration: {e}"))?,
    };
    if !args.telemetry_path.starts_with('/') {
        return Err(anyhow!("--web.telemetry-path must start with '/'"));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(serve(args, config, web, shard))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(
    args: ServeArgs,
    config: Config,
    web: WebConfig,
    shard: crate::discovery::ShardSpec,
) -> anyhow::Result<()> {
    // Go exporters accept ":9847" for every interface; so do we.
    let addr = if args.listen_address.starts_with(':') {
        format!("0.0.0.0{}", args.listen_address)
    } else {
        args.listen_address.clone()
    };
    let listener = TcpListener::bind(addr.as_str())
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let ctx = Arc::new(ScanContext::new(config.clone()).await);
    let stats = ctx.stats().clone();
    let api_stats: ApiStatsSource = Arc::new(move || api_samples(&stats.snapshot()));
    let options = DaemonOptions {
        interval: config.scan.interval,
        jitter: config.scan.jitter,
        state: state_backend(&config, &ctx.aws),
        exceptions: config.exceptions.clone(),
        required_tags: config.tags.required.clone(),
        telemetry_path: args.telemetry_path.clone(),
        shard,
    };
    tracing::info!(
        version = crate::VERSION,
        revision = crate::REVISION,
        interval = %humantime::format_duration(options.interval),
        state = %options.state,
        "starting ecr-exposure-exporter"
    );
    let clock: Arc<dyn crate::state::Clock> = Arc::new(SystemClock);
    let consumer_stop = tokio_util::sync::CancellationToken::new();
    let events = config
        .events
        .as_ref()
        .map(|events| start_consumer(events, &ctx, &clock, consumer_stop.clone()));
    let daemon = Daemon {
        options,
        cycle: Arc::new(LiveCycle { ctx }),
        api_stats: Some(api_stats),
        clock,
        web: Arc::new(web),
        events,
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
    consumer_stop.cancel();
    Ok(())
}

/// The configured state backend; the S3 one shares the scan's AWS layer (endpoint, retries,
/// call counting) with the process's own credentials.
fn state_backend(config: &Config, aws: &crate::aws::Aws) -> StateBackend {
    match &config.state.backend {
        StateBackendConfig::File => StateBackend::File(config.state.path.clone()),
        StateBackendConfig::S3(s3) => {
            let client = aws.s3(s3.region.as_ref().map(|r| r.as_str()));
            let location = S3Location {
                bucket: s3.bucket.clone(),
                prefix: s3.prefix.clone(),
            };
            StateBackend::S3(Arc::new(S3Store::new(aws.clone(), client, location)))
        }
    }
}

/// Spawn the event consumer (`events.sqs_queue_url`); the daemon gets its metrics and the
/// receiving end of its rescans.
fn start_consumer(
    events: &crate::config::EventsConfig,
    ctx: &Arc<ScanContext>,
    clock: &Arc<dyn crate::state::Clock>,
    stop: tokio_util::sync::CancellationToken,
) -> EventHooks {
    let metrics = consumer::event_metrics();
    // A few batches of room: the consumer waits for each answer anyway.
    let (apply, requests) = tokio::sync::mpsc::channel(32);
    let queue = SqsQueue::new(
        &ctx.aws,
        &events.sqs_queue_url,
        events.queue_region.as_ref().map(|r| r.as_str()),
        events.max_batch,
        events.wait_time,
        events.visibility_timeout,
    );
    let consumer = consumer::Consumer {
        queue,
        reader: AwsReader { ctx: ctx.clone() },
        reach: ctx.reach.subscribe(),
        apply,
        metrics: metrics.clone(),
        clock: clock.clone(),
        max_receives: events.max_receives,
        concurrency: usize::try_from(events.max_batch).unwrap_or(1),
    };
    tracing::info!(queue_url = %events.sqs_queue_url, max_batch = events.max_batch, "event-driven rescans on");
    tokio::spawn(consumer.run(stop));
    EventHooks { metrics, requests }
}

/// The real cycles: one [`ScanContext`] for the life of the process (it holds the
/// credentials cache and the call counters).
struct LiveCycle {
    ctx: Arc<ScanContext>,
}

impl CycleSource for LiveCycle {
    fn run_cycle(&self) -> CycleFuture {
        let ctx = self.ctx.clone();
        Box::pin(async move { cycle::run_reported(&ctx).await.outcomes })
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

/// The collection layer's counters, in the collector's shape.
fn api_samples(snap: &crate::aws::ApiStatsSnapshot) -> Vec<ApiCallSample> {
    let mut out: Vec<ApiCallSample> = snap
        .calls
        .iter()
        .map(|c| ApiCallSample {
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
            None => out.push(ApiCallSample {
                service: e.service.to_string(),
                operation: e.operation.to_string(),
                requests: 0,
                errors: vec![code],
            }),
        }
    }
    out
}
