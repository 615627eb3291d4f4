//! Raw configuration: exactly what serde reads from the file and the environment.
//!
//! Every struct denies unknown keys so that a typo is an error, not a silently ignored
//! setting. Defaults live here; meaning and validation live in [`super`].

use serde::{Deserialize, Serialize};

/// An account id as written: YAML and environment values read unquoted digits as numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawId {
    Number(u64),
    Text(String),
}

impl RawId {
    /// The text form; numbers lose leading zeros, which validation then reports.
    pub fn as_text(&self) -> String {
        match self {
            RawId::Number(n) => n.to_string(),
            RawId::Text(s) => s.clone(),
        }
    }
}

/// `regions: all` or a list of region names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawRegions {
    Word(String),
    List(Vec<String>),
}

impl Default for RawRegions {
    fn default() -> Self {
        RawRegions::Word("all".to_string())
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub aws: RawAws,
    pub regions: RawRegions,
    pub exclude_regions: Vec<String>,
    pub accounts: RawAccounts,
    pub trust: RawTrust,
    pub tags: RawTags,
    pub scan: RawScan,
    pub state: RawState,
    pub sharding: RawSharding,
    pub events: RawEvents,
    pub exceptions: Vec<RawException>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAws {
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    pub max_attempts: u32,
    pub max_concurrency: usize,
    pub per_target_concurrency: usize,
    pub initial_backoff: String,
    pub max_backoff: String,
    pub connect_timeout: String,
    pub read_timeout: String,
    pub operation_timeout: String,
}

impl Default for RawAws {
    fn default() -> Self {
        RawAws {
            endpoint_url: None,
            region: None,
            max_attempts: 5,
            max_concurrency: 32,
            per_target_concurrency: 8,
            initial_backoff: "1s".to_string(),
            max_backoff: "20s".to_string(),
            connect_timeout: "5s".to_string(),
            read_timeout: "30s".to_string(),
            operation_timeout: "120s".to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAccounts {
    pub discovery: String,
    #[serde(rename = "static")]
    pub static_accounts: Vec<RawStaticAccount>,
    pub role_name: String,
    pub external_id: Option<String>,
    pub include: Vec<RawId>,
    pub exclude: Vec<RawId>,
}

impl Default for RawAccounts {
    fn default() -> Self {
        RawAccounts {
            discovery: "current".to_string(),
            static_accounts: Vec::new(),
            role_name: "OrganizationAccountAccessRole".to_string(),
            external_id: None,
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStaticAccount {
    pub id: RawId,
    #[serde(default)]
    pub role_arn: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTrust {
    pub accounts: Vec<RawId>,
    pub organizations: Vec<String>,
    pub organization_accounts: bool,
}

impl Default for RawTrust {
    fn default() -> Self {
        RawTrust {
            accounts: Vec::new(),
            organizations: Vec::new(),
            organization_accounts: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTags {
    pub required: Vec<String>,
    pub iac: Vec<String>,
    pub source: String,
}

impl Default for RawTags {
    fn default() -> Self {
        RawTags {
            required: vec!["owner".to_string()],
            iac: vec![
                "aws:cloudformation:stack-name".to_string(),
                "managed-by".to_string(),
            ],
            source: "tagging_api".to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawScan {
    pub interval: String,
    /// `None`: follows the interval (a tenth of it, at most 30s), see `validate::scan`.
    pub jitter: Option<String>,
    pub timeout: String,
    pub target_concurrency: usize,
}

impl Default for RawScan {
    fn default() -> Self {
        RawScan {
            interval: "15m".to_string(),
            jitter: None,
            timeout: "10m".to_string(),
            target_concurrency: 8,
        }
    }
}

/// `sharding`: this replica's part of the accounts (see `discovery::shard`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSharding {
    pub total_shards: u32,
    pub shard: Option<u32>,
    /// Take the shard from the StatefulSet ordinal in `POD_NAME` (`name-<n>`).
    pub shard_from_pod_name: bool,
}

impl Default for RawSharding {
    fn default() -> Self {
        RawSharding {
            total_shards: 1,
            shard: None,
            shard_from_pod_name: false,
        }
    }
}

/// `events`: the SQS queue of ECR change events (docs/events.md); off without a queue URL.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawEvents {
    pub sqs_queue_url: Option<String>,
    pub max_batch: i64,
    pub wait_time: String,
    pub visibility_timeout: Option<String>,
    pub max_receives: u32,
}

impl Default for RawEvents {
    fn default() -> Self {
        RawEvents {
            sqs_queue_url: None,
            max_batch: 10,
            wait_time: "20s".to_string(),
            visibility_timeout: None,
            max_receives: 5,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawState {
    /// `file` or `s3`.
    pub backend: String,
    pub path: Option<String>,
    pub s3: RawStateS3,
}

impl Default for RawState {
    fn default() -> Self {
        RawState {
            backend: "file".to_string(),
            path: None,
            s3: RawStateS3::default(),
        }
    }
}

/// `state.s3`: where the S3 backend keeps one object per account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStateS3 {
    pub bucket: Option<String>,
    pub prefix: String,
    pub region: Option<String>,
}

impl Default for RawStateS3 {
    fn default() -> Self {
        RawStateS3 {
            bucket: None,
            prefix: "ecr-exposure-exporter/".to_string(),
            region: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawException {
    #[serde(default)]
    pub account_id: Option<RawId>,
    #[serde(default)]
    pub region: Option<String>,
    pub repository: String,
    pub finding: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub expires: Option<String>,
}
