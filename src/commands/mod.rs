//! The commands: wiring and rendering only, over the layers below.
//!
//! Convention: every command is `run(args) -> anyhow::Result<std::process::ExitCode>`.
//! `Ok(code)` is a result the command decided (0 clean, 1 findings, 2 a failed target or a
//! failed gate, as each command documents); `Err` is a failure to do the work at all (bad
//! configuration, an unusable runtime or listener). A command never prints its own error:
//! `main` prints every `Err` once, as `ecr-exposure-exporter: {err:#}` (the context chain on
//! one line), and exits 2. Add context where the error starts (`.context("invalid
//! configuration")`), not at the print.

pub mod config_check;
pub mod scan;
pub mod serve;

use anyhow::Context as _;

use crate::cli::ShardArgs;
use crate::config::{Config, ShardSelection};
use crate::discovery::ShardSpec;

/// Apply the shard flags to the configuration and settle the shard now (reading `POD_NAME`
/// when asked), so a bad setting stops the command at start instead of failing each cycle.
pub fn settle_shard(config: &mut Config, flags: &ShardArgs) -> anyhow::Result<ShardSpec> {
    let sharding = config
        .sharding
        .with_flags(flags.shard, flags.total_shards, flags.shard_from_pod_name)
        .context("invalid sharding")?;
    let pod_name = std::env::var("POD_NAME").ok();
    let spec = ShardSpec::for_config(&sharding, pod_name.as_deref()).context("invalid sharding")?;
    config.sharding = sharding;
    config.sharding.shard = ShardSelection::Fixed(spec.shard());
    Ok(spec)
}
