//! The hand-off between collection and analysis: what was observed in one target.
//!
//! Plain data, no AWS types, so that analysis stays pure and testable without the SDK,
//! and so that tests and benchmarks can build facts directly. Imports only [`crate::model`],
//! whose identifiers it re-exports for the modules that build facts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::RegistryScope;
pub use crate::model::{TargetErrorCode, TargetId};

/// Why a policy could not be read: bounded, used as the `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum UnknownReason {
    AccessDenied,
    InvalidPolicy,
    Throttled,
    Error,
}

impl UnknownReason {
    /// Stable label value (metrics.md `reason`).
    pub fn as_label(self) -> &'static str {
        match self {
            UnknownReason::AccessDenied => "access_denied",
            UnknownReason::InvalidPolicy => "invalid_policy",
            UnknownReason::Throttled => "throttled",
            UnknownReason::Error => "error",
        }
    }
}

/// What fetching a policy gave: text, no policy at all, or a reason we could not see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PolicyFetch {
    /// `RepositoryPolicyNotFound` / `RegistryPolicyNotFound`: only the owner has access.
    None,
    Text {
        text: String,
    },
    /// Could not be read: unknown, never "not exposed".
    Unreadable {
        reason: UnknownReason,
        message: String,
    },
}

/// Where a repository's tags came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TagsSource {
    #[default]
    TaggingApi,
    ListTagsForResource,
    /// Tags could not be read at all; tag findings are not raised on guesses.
    Unavailable,
}

/// One repository as collected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryFacts {
    pub name: String,
    pub arn: String,
    /// RFC 3339, as reported by DescribeRepositories.
    pub created_at: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub tags_source: TagsSource,
    pub policy: PolicyFetch,
}

/// The registry of one account and region as collected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryFacts {
    pub policy: PolicyFetch,
    pub scope: RegistryScope,
    /// False when `GetAccountSetting` could not be read and V2 was assumed (spec §10).
    pub scope_known: bool,
}

/// Everything one successful scan of a target observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetFacts {
    pub target: TargetId,
    pub repositories: Vec<RepositoryFacts>,
    pub registry: Option<RegistryFacts>,
}

/// Why a whole target could not be scanned: bounded `code` (a closed set), human `message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetError {
    pub code: TargetErrorCode,
    pub message: String,
}

/// The result of scanning one target in one cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetOutcome {
    pub target: TargetId,
    /// Facts on success; on failure the previous findings must be kept, never resolved.
    pub result: Result<TargetFacts, TargetError>,
    pub duration_seconds: f64,
}
