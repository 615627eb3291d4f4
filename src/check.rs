//! The `check` command: offline verdicts on policy documents (and IaC files), the CI gate.
//!
//! Exit status: 0 nothing at or above `--fail-on`, 1 some input exposed, 2 usage error or
//! some input invalid.

use crate::cli::CheckArgs;

/// Run `check`; returns the process exit code.
pub fn run(args: &CheckArgs) -> u8 {
    let _ = args;
    eprintln!("check: not built yet");
    2
}
