//! The commands: process wiring and rendering only. Each returns
//! `anyhow::Result<ExitCode>`; `main` prints an error once and exits 2 for it.

pub mod serve;
