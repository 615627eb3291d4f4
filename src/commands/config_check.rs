//! `config check [FILE]`: validate a configuration and print what it would scan.
//!
//! Exit status: 0 valid (the summary on stdout), 2 invalid (every problem, each naming its
//! key, through `main`'s one error line).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::config::{Config, describe};

/// Run `config check`.
pub fn run(file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = Config::load(file).context("invalid configuration")?;
    print!("{}", describe(&config));
    println!("configuration OK");
    Ok(ExitCode::SUCCESS)
}
