//! Thin entry point: parse flags, start logging, run the chosen command, map to an exit code.

use std::process::ExitCode;

use clap::Parser;
use ecr_exposure_exporter::cli::{Cli, Command, ConfigCommand};
use ecr_exposure_exporter::{check, commands, config, logging, scan};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log = match &cli.command {
        Some(Command::Serve(args)) => args.log.clone(),
        _ => cli.serve.log.clone(),
    };
    logging::init(&log);
    let code = match cli.command {
        None => return finish(commands::serve::run(cli.serve)),
        Some(Command::Serve(args)) => return finish(commands::serve::run(args)),
        Some(Command::Scan(args)) => scan::run(&args),
        Some(Command::Check(args)) => check::run(&args),
        Some(Command::Config(ConfigCommand::Check { file })) => {
            config::check_command(file.as_deref())
        }
    };
    ExitCode::from(code)
}

/// A command's result as the exit code: an error is printed once and exits 2.
fn finish(result: anyhow::Result<ExitCode>) -> ExitCode {
    result.unwrap_or_else(|e| {
        eprintln!("ecr-exposure-exporter: {e:#}");
        ExitCode::from(2)
    })
}
