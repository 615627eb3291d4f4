//! Command line: raw flags, turned into each command's arguments before anything else runs.
//!
//! `serve` is the default command, so the Prometheus-style flags (`--web.listen-address`, ...)
//! work without naming it, as with every other exporter.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Default listen port: 9847, outside the ranges claimed on the Prometheus default-port
/// allocations page at the time of writing.
pub const DEFAULT_LISTEN_ADDRESS: &str = "0.0.0.0:9847";

#[derive(Debug, Parser)]
#[command(
    name = "ecr-exposure-exporter",
    version = crate::VERSION_LONG,
    about = "Finds AWS ECR repositories exposed by their resource policies and exports it to Prometheus",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags of the default `serve` command.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the exporter daemon (the default).
    Serve(ServeArgs),
    /// Run one scan cycle and print the findings.
    Scan(ScanArgs),
    /// Check policy documents or IaC files offline (CI gate).
    Check(CheckArgs),
    /// Configuration tools.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration and print what it would scan.
    Check {
        /// Configuration file (YAML or TOML); defaults only when absent.
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    #[default]
    Logfmt,
    Json,
}

#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Configuration file (YAML or TOML).
    #[arg(long = "config.file", env = "ECR_EXPOSURE_CONFIG_FILE")]
    pub config_file: Option<PathBuf>,
    /// Address to listen on for the web interface and telemetry.
    #[arg(long = "web.listen-address", default_value = DEFAULT_LISTEN_ADDRESS)]
    pub listen_address: String,
    /// Path under which to expose metrics.
    #[arg(long = "web.telemetry-path", default_value = "/metrics")]
    pub telemetry_path: String,
    /// Web configuration file (exporter-toolkit format): TLS and basic auth.
    #[arg(long = "web.config.file")]
    pub web_config_file: Option<PathBuf>,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Args, Clone)]
pub struct LogArgs {
    /// Only log messages with the given severity or above (error, warn, info, debug, trace).
    #[arg(
        id = "log_level",
        long = "log.level",
        default_value = "info",
        global = true
    )]
    pub level: String,
    /// Output format of log messages.
    #[arg(id = "log_format", long = "log.format", value_enum, default_value_t = LogFormat::Logfmt, global = true)]
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ScanFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args, Clone)]
pub struct ScanArgs {
    /// Run exactly one cycle and exit (required: the daemon is `serve`).
    #[arg(long, required = true)]
    pub once: bool,
    /// Configuration file (YAML or TOML).
    #[arg(
        long = "config",
        alias = "config.file",
        env = "ECR_EXPOSURE_CONFIG_FILE"
    )]
    pub config: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ScanFormat::Text)]
    pub format: ScanFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum CheckFormat {
    #[default]
    Text,
    Json,
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum FailOn {
    #[default]
    Public,
    CrossAccount,
    Never,
}

/// `--input-type`: the detector's own enum, so the flag and detection cannot drift apart.
pub use crate::iac::InputType;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScopeArg {
    V1,
    V2,
}

#[derive(Debug, Args, Clone)]
pub struct CheckArgs {
    /// Account that owns the policy (default: the account of --repository-arn).
    #[arg(long)]
    pub account: Option<String>,
    /// Trusted account id (repeatable).
    #[arg(long = "trusted-account")]
    pub trusted_accounts: Vec<String>,
    /// Trusted organization id (repeatable).
    #[arg(long = "trusted-org")]
    pub trusted_orgs: Vec<String>,
    /// ARN of the repository the policy is attached to.
    #[arg(long = "repository-arn")]
    pub repository_arn: Option<String>,
    /// Treat inputs as registry policies.
    #[arg(long)]
    pub registry: bool,
    /// Registry policy scope (with --registry).
    #[arg(long = "registry-scope", value_enum, requires = "registry")]
    pub registry_scope: Option<ScopeArg>,
    /// Input type; detected from the content when absent.
    #[arg(long = "input-type", value_enum)]
    pub input_type: Option<InputType>,
    /// Region the IaC deploys into (CloudFormation `AWS::Region`; a Terraform plan's own
    /// provider region is used when absent).
    #[arg(long)]
    pub region: Option<String>,
    /// Configuration file for trust and tag settings (`--config.file` also works, the spelling
    /// of `serve`).
    #[arg(long, alias = "config.file")]
    pub config: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
    #[arg(long = "fail-on", value_enum, default_value_t = FailOn::Public)]
    pub fail_on: FailOn,
    /// Files to check; `-` reads standard input.
    #[arg(required = true)]
    pub files: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_takes_the_config_file_as_config_file() {
        let cli = Cli::try_parse_from(["x", "--config.file", "c.yaml"]).unwrap();
        assert_eq!(cli.serve.config_file, Some(PathBuf::from("c.yaml")));
        let cli = Cli::try_parse_from(["x", "scan", "--once", "--config.file", "c.yaml"]).unwrap();
        let Some(Command::Scan(scan)) = cli.command else {
            panic!("scan")
        };
        assert_eq!(scan.config, Some(PathBuf::from("c.yaml")));
        let cli = Cli::try_parse_from(["x", "check", "--config.file", "c.yaml", "p.json"]).unwrap();
        let Some(Command::Check(check)) = cli.command else {
            panic!("check")
        };
        assert_eq!(check.config, Some(PathBuf::from("c.yaml")));
    }
}
