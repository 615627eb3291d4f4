//! Thin entry point: parse flags, start logging, run the chosen command, map to an exit code.

use std::process::ExitCode;

use clap::Parser;
use ecr_exposure_exporter::cli::{Cli, Command, ConfigCommand, LogFormat};
use ecr_exposure_exporter::{check, config, logging, scan, serve};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log = match &cli.command {
        Some(Command::Serve(args)) => args.log.clone(),
        _ => cli.serve.log.clone(),
    };
    let format = match log.format {
        LogFormat::Logfmt => logging::Format::Logfmt,
        LogFormat::Json => logging::Format::Json,
    };
    logging::init(&log.level, format);
    let code = match cli.command {
        None => serve::run(cli.serve),
        Some(Command::Serve(args)) => serve::run(args),
        Some(Command::Scan(args)) => scan::run(&args),
        Some(Command::Check(args)) => check::run(&args),
        Some(Command::Config(ConfigCommand::Check { file })) => {
            config::check_command(file.as_deref())
        }
    };
    ExitCode::from(code)
}
