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
