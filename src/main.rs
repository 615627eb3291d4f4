//! Thin entry point: parse flags, start logging, run the chosen command, and print its error,
//! if any, the one way every command's errors are printed (see [`commands`]).

use std::process::ExitCode;

use clap::Parser;
use ecr_exposure_exporter::cli::{Cli, Command, ConfigCommand};
use ecr_exposure_exporter::{check, commands, logging, serve};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log = match &cli.command {
        Some(Command::Serve(args)) => args.log.clone(),
        _ => cli.serve.log.clone(),
    };
    logging::init(&log);
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ecr-exposure-exporter: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Dispatch; `serve` still reports through its own `u8` exit code.
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        None => Ok(ExitCode::from(serve::run(cli.serve))),
        Some(Command::Serve(args)) => Ok(ExitCode::from(serve::run(args))),
        Some(Command::Scan(args)) => commands::scan::run(&args),
        Some(Command::Check(args)) => check::run(&args),
        Some(Command::Config(ConfigCommand::Check { file })) => {
            commands::config_check::run(file.as_deref())
        }
    }
}
