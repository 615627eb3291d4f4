//! The daemon: scheduled scans, state, snapshot swaps and the HTTP server.

use crate::cli::ServeArgs;

/// Run the exporter until SIGTERM/SIGINT; returns the process exit code.
pub fn run(args: ServeArgs) -> u8 {
    let _ = args;
    eprintln!("serve: not built yet");
    2
}
