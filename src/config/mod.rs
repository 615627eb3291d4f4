//! Configuration: built-in defaults < YAML or TOML file < `ECR_EXPOSURE_*` environment,
//! turned into one validated [`Config`] before anything else sees it.
//!
//! Environment variables use `__` between nesting levels: `ECR_EXPOSURE_AWS__ENDPOINT_URL`
//! sets `aws.endpoint_url`, `ECR_EXPOSURE_SCAN__INTERVAL=1m` sets `scan.interval`, and list
//! values are written in brackets (`ECR_EXPOSURE_TAGS__REQUIRED=[owner,team]`).
//! `ECR_EXPOSURE_CONFIG_FILE` names the file and is not a key.
//!
//! Owns parsing and validation only: no AWS calls, no I/O besides reading the file. Sits
//! just above [`crate::model`] and imports nothing else from the crate: the layers below the
//! configuration (discovery, analysis, the commands) read it, never the other way round.
//!
//! Layout: [`raw`] (serde types and defaults) -> `validate` (one function per section) ->
//! the types below; [`describe`] is the human summary `config check` prints.

mod describe;
pub mod raw;
#[cfg(test)]
mod tests;
mod validate;
mod yaml;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::model::Exception;
use crate::model::{AccountId, OrgId, Region};
pub use describe::describe;
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use raw::RawConfig;
use validate::validate;
use yaml::Yaml;

/// Session name of every assumed role, so that CloudTrail shows who read the policies.
pub const SESSION_NAME: &str = "ecr-exposure-exporter";

/// Environment prefix of configuration keys.
pub const ENV_PREFIX: &str = "ECR_EXPOSURE_";

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub aws: AwsConfig,
    pub regions: RegionSelection,
    /// Never scanned, even when enabled.
    pub exclude_regions: BTreeSet<Region>,
    pub accounts: AccountsConfig,
    pub trust: TrustConfig,
    pub tags: TagsConfig,
    pub scan: ScanConfig,
    pub state: StateConfig,
    /// Which accounts this replica scans.
    pub sharding: ShardingConfig,
    /// Event-driven rescans from an SQS queue; `None` when off (the default).
    pub events: Option<EventsConfig>,
    pub exceptions: Vec<Exception>,
    /// The file the configuration came from, for `config check` and logs.
    pub source: Option<PathBuf>,
}

/// How every AWS call is made.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsConfig {
    /// Emulators and VPC endpoints; `AWS_ENDPOINT_URL` is honoured when this is unset.
    pub endpoint_url: Option<String>,
    /// Region for the global calls (STS, Organizations, Account); the ambient region or
    /// `us-east-1` when unset.
    pub region: Option<Region>,
    /// SDK attempts per call (standard retry mode, jittered exponential backoff).
    pub max_attempts: u32,
    /// AWS calls in flight over the whole process.
    pub max_concurrency: usize,
    /// Per-repository calls (GetRepositoryPolicy, ListTagsForResource) in flight per target.
    pub per_target_concurrency: usize,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// Whole call including retries.
    pub operation_timeout: Duration,
}

/// Which regions of each account are scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionSelection {
    /// Every region the account has enabled (Account API `ListRegions`).
    All,
    /// These regions, as far as the account has them enabled.
    List(Vec<Region>),
}

/// Where the accounts to scan come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoveryMode {
    /// The account of the ambient credentials.
    Current,
    /// The `accounts.static` list.
    Static,
    /// Every ACTIVE account of the organization (run with management or delegated credentials).
    Organizations,
}

impl DiscoveryMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DiscoveryMode::Current => "current",
            DiscoveryMode::Static => "static",
            DiscoveryMode::Organizations => "organizations",
        }
    }
}

/// One account of `accounts.static`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticAccount {
    pub id: AccountId,
    /// Overrides `arn:aws:iam::<id>:role/<role_name>`.
    pub role_arn: Option<String>,
    /// Overrides `accounts.external_id`.
    pub external_id: Option<String>,
}

/// An include/exclude entry: one account, or every account under an OU (recursively).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum AccountSelector {
    Account(AccountId),
    /// `ou-...`; only Organizations can tell whether it exists.
    OrganizationalUnit(String),
}

impl fmt::Display for AccountSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountSelector::Account(id) => f.write_str(id.as_str()),
            AccountSelector::OrganizationalUnit(id) => f.write_str(id),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountsConfig {
    pub discovery: DiscoveryMode,
    pub static_accounts: Vec<StaticAccount>,
    pub role_name: String,
    pub external_id: Option<String>,
    /// Empty means every ACTIVE account.
    pub include: Vec<AccountSelector>,
    pub exclude: Vec<AccountSelector>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustConfig {
    pub accounts: BTreeSet<AccountId>,
    pub organizations: BTreeSet<OrgId>,
    /// With organizations discovery, trust every member account and the organization id.
    pub organization_accounts: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagsConfig {
    /// The first key is the owner tag.
    pub required: Vec<String>,
    pub iac: Vec<String>,
    pub source: TagSource,
}

/// Where repository tags are read (`tags.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TagSource {
    /// The tagging API's `GetResources`, falling back to `ListTagsForResource` when denied.
    #[default]
    TaggingApi,
    /// `ListTagsForResource` per repository: for accounts where the tagging API is not
    /// allowed or does not list every repository.
    ListTagsForResource,
}

/// The daemon's schedule; `scan --once` uses `timeout` and `target_concurrency`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanConfig {
    pub interval: Duration,
    pub jitter: Duration,
    /// Deadline of one whole cycle.
    pub timeout: Duration,
    /// Targets scanned at once.
    pub target_concurrency: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardingConfig {
    /// Replicas sharing the accounts; 1 scans everything.
    pub total_shards: u32,
    pub shard: ShardSelection,
}

/// How a replica knows its shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardSelection {
    /// Nothing chosen: valid only with one shard, which is then shard 0.
    Unset,
    /// A fixed shard number, below `total_shards`.
    Fixed(u32),
    /// The ordinal at the end of `POD_NAME`, so one StatefulSet manifest serves every replica.
    PodName,
}

impl ShardingConfig {
    /// Apply the `--shard`, `--total-shards` and `--shard-from-pod-name` flags, which win
    /// over the file and the environment, and check the result as the file's values are.
    pub fn with_flags(
        &self,
        shard: Option<u32>,
        total_shards: Option<u32>,
        from_pod_name: bool,
    ) -> Result<ShardingConfig, ConfigError> {
        let selection = match (shard, from_pod_name) {
            (Some(_), true) => {
                return Err(ConfigError::one(
                    "--shard",
                    "give either --shard or --shard-from-pod-name, not both",
                ));
            }
            (Some(n), false) => ShardSelection::Fixed(n),
            (None, true) => ShardSelection::PodName,
            (None, false) => self.shard,
        };
        let total = total_shards.unwrap_or(self.total_shards);
        validate::sharding_of(total, selection).map_err(|problems| ConfigError { problems })
    }

    /// The shard number, when it does not depend on the pod.
    pub fn fixed_shard(&self) -> Option<u32> {
        match self.shard {
            ShardSelection::Fixed(n) => Some(n),
            ShardSelection::Unset => Some(0),
            ShardSelection::PodName => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateConfig {
    /// First-seen times survive restarts here (the file backend).
    pub path: PathBuf,
    pub backend: StateBackendConfig,
}

/// `state.backend`: where first-seen times are persisted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StateBackendConfig {
    /// One local file, `state.path`.
    #[default]
    File,
    /// One object per account in S3, so state follows an account across replicas.
    S3(S3StateConfig),
}

/// `state.s3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3StateConfig {
    pub bucket: String,
    /// Empty, or ends with `/`: objects are `<prefix><account_id>.json`.
    pub prefix: String,
    /// The bucket's region; `None`: the exporter's home region (`aws.region`).
    pub region: Option<Region>,
}

/// `events`: where ECR change events come from and how they are read (docs/events.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsConfig {
    pub sqs_queue_url: String,
    /// Region of the queue, from its URL (`sqs.<region>.amazonaws.com` and the other AWS
    /// forms); `None` for other hosts (emulators, proxies), which use `aws.region`.
    pub queue_region: Option<Region>,
    /// Messages per `ReceiveMessage`, 1 to 10 (the SQS limit).
    pub max_batch: i32,
    /// Long-poll wait of each `ReceiveMessage`, up to 20 s (the SQS limit).
    pub wait_time: Duration,
    /// Overrides the queue's visibility timeout for the messages received; `None` keeps the
    /// queue's own. A message whose rescan fails comes back after it.
    pub visibility_timeout: Option<Duration>,
    /// A message received this often (`ApproximateReceiveCount`) whose rescan keeps failing
    /// is deleted and counted: the next full scan covers its repository anyway.
    pub max_receives: u32,
}

/// One problem: the key path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Why a configuration was refused: every problem found, each naming its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.problems.iter().map(|p| p.to_string()).collect();
        f.write_str(&parts.join("; "))
    }
}

impl ConfigError {
    fn one(path: &str, message: impl Into<String>) -> Self {
        ConfigError {
            problems: vec![Problem {
                path: path.to_string(),
                message: message.into(),
            }],
        }
    }
}

impl Config {
    /// Load from the optional file and the process environment, then validate.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::one(
                    "",
                    format!("configuration file {} does not exist", path.display()),
                ));
            }
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            figment = match ext.as_str() {
                "yaml" | "yml" => figment.merge(Yaml::file_exact(path)),
                "toml" => figment.merge(Toml::file_exact(path)),
                _ => {
                    return Err(ConfigError::one(
                        "",
                        format!(
                            "configuration file {}: unknown format (use .yaml, .yml or .toml)",
                            path.display()
                        ),
                    ));
                }
            };
        }
        figment = figment.merge(
            Env::prefixed(ENV_PREFIX)
                .split("__")
                .ignore(&["config_file"]),
        );
        let raw: RawConfig = figment.extract().map_err(from_figment)?;
        let mut config = validate(raw)?;
        config.source = file.map(Path::to_path_buf);
        Ok(config)
    }

    /// Parse a YAML document alone (no environment): for tests and tools.
    pub fn from_yaml_str(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = Figment::new()
            .merge(Yaml::string(text))
            .extract()
            .map_err(from_figment)?;
        validate(raw)
    }
}

impl Default for Config {
    fn default() -> Self {
        validate(RawConfig::default()).expect("built-in defaults are valid")
    }
}

fn from_figment(err: figment::Error) -> ConfigError {
    use figment::error::Kind;
    let problems = err
        .into_iter()
        .map(|e| {
            let mut path = e.path.join(".");
            let message = match &e.kind {
                Kind::UnknownField(name, expected) => {
                    append_key(&mut path, &e.path, name);
                    format!("unknown key (expected one of: {})", expected.join(", "))
                }
                Kind::MissingField(name) => {
                    append_key(&mut path, &e.path, name);
                    "required key is missing".to_string()
                }
                other => other.to_string(),
            };
            let source = e
                .metadata
                .as_ref()
                .and_then(|m| m.source.as_ref())
                .map(|s| format!(" (from {s})"))
                .unwrap_or_default();
            Problem {
                path,
                message: format!("{message}{source}"),
            }
        })
        .collect();
    ConfigError { problems }
}

/// Figment sometimes already ends the path with the offending key.
fn append_key(path: &mut String, parts: &[String], name: &str) {
    if parts.last().map(String::as_str) != Some(name) {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(name);
    }
}
