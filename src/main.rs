//! Thin entry point: parse flags, start logging, run the chosen command, map to an exit code.

use std::process::ExitCode;

use clap::Parser;
use ecr_exposure_exporter::cli::{Cli, Command, ConfigCommand};
use ecr_exposure_exporter::{check, config, logging, scan, serve};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log = match &cli.command {
        Some(Command::Serve(args)) => args.log.clone(),
        _ => cli.serve.log.clone(),
    };
    logging::init(&log);
    let code = match cli.command {
        None => serve::run(cli.serve),
        Some(Command::Serve(args)) => serve::run(args),
        Some(Command::Scan(args)) => scan::run(&args),
        Some(Command::Check(args)) => match check::run(&args) {
            Ok(code) => return code,
            Err(e) => {
                eprintln!("{e:#}");
                2
            }
        },
        Some(Command::Config(ConfigCommand::Check { file })) => {
            config::check_command(file.as_deref())
        }
    };
    ExitCode::from(code)
}
