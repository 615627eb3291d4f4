//! ecr-exposure-exporter: finds AWS ECR repositories exposed by their resource policies and
//! makes that visible in Prometheus, Grafana and Alertmanager.
//!
//! # Layout
//!
//! Data flows one way, each step a module of its own:
//!
//! ```text
//! config -> discovery -> collect -> analysis -> state -> snapshot -> http / metrics
//!           \________ cycle ________/          daemon (schedule, apply) <- events (SQS)
//! ```
//!
//! The list is in import order: a module imports only modules above it
//! (`tests/import_graph.rs` checks the edges and that there is no cycle).
//!
//! - [`model`]: the ground floor: account, org and region ids, targets, scope, access,
//!   finding kinds and keys, target error codes, exceptions. Imports nothing from the crate.
//! - [`config`]: figment layering (defaults < file < `ECR_EXPOSURE_*` env), validated types.
//! - [`cli`]: command-line flags, turned into each command's arguments.
//! - [`aws`]: the one place that makes AWS calls: clients, retries, timeouts, counting, caps.
//! - [`facts`]: the plain-data hand-off between collection and analysis.
//! - [`analysis`]: pure: policy verdicts ([`analysis::policy`]), tags, reports, findings.
//! - [`discovery`]: targets = accounts x regions; AWS Organizations; assume-role credentials;
//!   [`discovery::shard`] picks the accounts of this replica.
//! - [`collect`]: one target -> [`facts::TargetFacts`], through the [`aws::ecr::EcrApi`] seam.
//! - [`cycle`]: discovery + fan-out + deadline; each target analysed as it completes.
//! - [`snapshot`]: the immutable result of the last cycle per target.
//! - [`state`]: finding lifecycle (first seen, resolved), exceptions, persistence.
//! - [`report`]: the JSON records shared by `scan --once` and `/findings`.
//! - [`metrics`]: prometheus-client collector over the snapshot, and the counters.
//! - [`http`]: `/`, `/metrics`, `/findings`, `/-/healthy`, `/-/ready`; TLS and basic auth.
//! - [`daemon`]: the scheduler and the application of a cycle's reports (persist, counters, swap),
//!   and of event rescans in the same loop.
//! - [`events`]: EventBridge/CloudTrail messages -> which repository or registry to rescan
//!   ([`events::envelope`], pure); the SQS consumer and the rescan reads, handed to the daemon.
//! - [`commands`]: `serve`, `scan --once` and `config check` (wiring and rendering only).
//! - [`iac`]: Terraform plans and CloudFormation templates -> policies to check (extraction only).
//! - [`check`]: the offline `check` command: judging, records, text/JSON/SARIF.
//! - [`logging`]: logfmt or JSON on stderr.

pub mod analysis;
pub mod aws;
pub mod check;
pub mod cli;
pub mod collect;
pub mod commands;
pub mod config;
pub mod cycle;
pub mod daemon;
pub mod discovery;
pub mod events;
pub mod facts;
pub mod http;
pub mod iac;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod report;
pub mod snapshot;
pub mod state;

/// Crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Version with the git revision, when the build knew it.
pub const VERSION_LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (revision ",
    env!("BUILD_GIT_REVISION"),
    ")"
);

/// Git revision the binary was built from (`unknown` outside a checkout).
pub const REVISION: &str = env!("BUILD_GIT_REVISION");
