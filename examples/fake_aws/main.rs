//! A fast AWS fake for scale runs: STS, Organizations, Account, ECR and Resource Groups
//! Tagging over a generated estate (test and bench code, never shipped).
//!
//!   cargo run --release --example fake_aws -- --accounts 1000 --regions 4 --repos 25 \
//!       --latency-ms 30 --throttle-rate 0.01
//!
//! Prints `PORT <n>` once it listens on 127.0.0.1, then serves until killed. Point the
//! exporter (or any SDK) at it with `AWS_ENDPOINT_URL=http://127.0.0.1:<n>` and any
//! credentials: unknown access keys are the management account (the first account), and
//! AssumeRole into `arn:aws:iam::<account>:role/<any>` hands out keys for that account.
//! Control endpoints (`/counters`, `/reset`, `/estate`, `/faults`): see `fake/server.rs`.

mod fake;

use std::time::Duration;

use clap::Parser;

use fake::estate::{Estate, Shape};
use fake::faults::Faults;
use fake::server::{Fake, serve};

#[derive(Debug, Parser)]
#[command(about = "A fake of the AWS APIs ecr-exposure-exporter calls, over a generated estate")]
struct Args {
    /// TCP port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Accounts in the organization (the first is the management account).
    #[arg(long, default_value_t = 3)]
    accounts: usize,
    /// Explicit account ids, comma-separated, management first (overrides --accounts).
    #[arg(long, value_delimiter = ',')]
    account_ids: Vec<String>,
    /// Enabled regions per account (taken in a fixed order from a list of 17).
    #[arg(long, default_value_t = 2)]
    regions: usize,
    /// Explicit region names, comma-separated (overrides --regions).
    #[arg(long, value_delimiter = ',')]
    region_names: Vec<String>,
    /// Repositories per (account, region).
    #[arg(long, default_value_t = 10)]
    repos: usize,
    /// The management account id when --account-ids is not given.
    #[arg(long, default_value = fake::estate::DEFAULT_MANAGEMENT)]
    management_account: String,
    #[arg(long, default_value = "o-fake0000001")]
    organization_id: String,
    /// Share of repositories with a public policy.
    #[arg(long, default_value_t = 0.1)]
    public: f64,
    /// Share with a policy granting an account outside the organization.
    #[arg(long, default_value_t = 0.05)]
    cross_account: f64,
    /// Share whose GetRepositoryPolicy answers AccessDeniedException.
    #[arg(long, default_value_t = 0.02)]
    unreadable: f64,
    /// Share without any tag.
    #[arg(long, default_value_t = 0.2)]
    untagged: f64,
    /// Share of targets whose registry policy lets an outside account replicate.
    #[arg(long, default_value_t = 0.0)]
    registry_policy: f64,
    /// Added to every AWS answer.
    #[arg(long, default_value_t = 0.0)]
    latency_ms: f64,
    /// Share of AWS requests answered with the service's throttling error.
    #[arg(long, default_value_t = 0.0)]
    throttle_rate: f64,
    /// Share of AWS requests answered 500 InternalFailure.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Throttle the first N requests of every operation.
    #[arg(long, default_value_t = 0)]
    throttle_first: u64,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn shape(a: &Args) -> Shape {
    let mut s = Shape::generated(a.accounts, a.regions, a.repos, Some(&a.management_account));
    if !a.account_ids.is_empty() {
        s.accounts = a.account_ids.clone();
    }
    if !a.region_names.is_empty() {
        s.regions = a.region_names.clone();
    }
    s.public = a.public;
    s.cross_account = a.cross_account;
    s.unreadable = a.unreadable;
    s.untagged = a.untagged;
    s.registry_policy = a.registry_policy;
    s.organization_id = a.organization_id.clone();
    s
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let faults = Faults {
        latency: Duration::from_secs_f64(args.latency_ms.max(0.0) / 1000.0),
        throttle_rate: args.throttle_rate,
        error_rate: args.error_rate,
        throttle_first: args.throttle_first,
    };
    let fake = Fake::new(Estate::new(shape(&args)), faults);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
        println!("PORT {}", listener.local_addr()?.port());
        serve(listener, fake).await;
        Ok(())
    })
}
