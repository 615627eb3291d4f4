//! Configuration: built-in defaults < YAML or TOML file < `ECR_EXPOSURE_*` environment,
//! turned into validated types before anything else sees them.

use std::path::Path;

/// `config check [FILE]`: validate and print what would be scanned; returns the exit code.
pub fn check_command(file: Option<&Path>) -> u8 {
    let _ = file;
    eprintln!("config check: not built yet");
    2
}
