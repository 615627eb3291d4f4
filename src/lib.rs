//! ecr-exposure-exporter: finds AWS ECR repositories exposed by their resource policies and
//! makes that visible in Prometheus, Grafana and Alertmanager.
//!
//! # Layout
//!
//! Data flows one way; each step is a module of its own:
//!
//! ```text
//! config -> discovery -> collect -> analysis -> state -> snapshot -> http / metrics
//!           \________ cycle ________/          daemon (schedule, apply)
//! ```
//!
//! - [`cli`]: command-line flags, turned into each command's arguments.
//! - [`config`]: figment layering (defaults < file < `ECR_EXPOSURE_*` env), validated types.
//! - [`discovery`]: targets = accounts x regions; AWS Organizations; assume-role credentials.
//! - [`aws`]: the one place that makes AWS calls: clients, retries, timeouts, counting, caps.
//! - [`collect`]: one target -> [`facts::TargetFacts`], through the [`aws::ecr::EcrApi`] seam.
//! - [`cycle`]: discovery + fan-out + deadline; each target analysed as it completes.
//! - [`facts`]: the plain-data hand-off between collection and analysis.
//! - [`analysis`]: pure: policy verdicts ([`analysis::policy`]), tags, findings.
//! - [`state`]: finding lifecycle (first seen, resolved), exceptions, persistence.
//! - [`snapshot`]: the immutable result of the last cycle per target.
//! - [`metrics`]: prometheus-client collector over the snapshot, and the counters.
//! - [`http`]: `/`, `/metrics`, `/findings`, `/-/healthy`, `/-/ready`; TLS and basic auth.
//! - [`iac`]: Terraform plans and CloudFormation templates -> policies to check.
//! - [`daemon`]: the scheduler and the application of a cycle's reports (persist, counters, swap).
//! - [`check`], [`scan`], [`commands`] (`serve`): the commands; [`logging`]: logfmt or JSON on stderr.

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
pub mod facts;
pub mod http;
pub mod iac;
pub mod logging;
pub mod metrics;
pub mod scan;
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
