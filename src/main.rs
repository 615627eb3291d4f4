//! Thin entry point: parse flags, start logging, run the chosen command, map to an exit code.

use std::process::ExitCode;

use clap::Parser;
use ecr_exposure_exporter::cli::{Cli, Command, ConfigCommand, LogArgs, LogFormat};
use ecr_exposure_exporter::{check, config, scan, serve};

fn init_logging(log: &LogArgs) {
    let filter = tracing_subscriber::EnvFilter::try_new(&log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match log.format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Logfmt => builder.with_ansi(false).init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log = match &cli.command {
        Some(Command::Serve(args)) => args.log.clone(),
        _ => cli.serve.log.clone(),
    };
    init_logging(&log);
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
