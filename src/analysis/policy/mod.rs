//! Strict parser and evaluator for ECR repository and registry policies.
//!
//! Owns the verdict: given policy text, the repository (or registry) it is attached to and
//! the trust zone, decide whether anyone outside the trust zone can reach a
//! repository-scoped ECR action, how (public or cross-account) and at which level.
//! The normative specification is `shared/docs/policy-semantics.md`.
//!
//! Pure code: no I/O, no clock, no globals. The same text always gives the same verdict,
//! in the daemon, in `scan --once` and in the offline `check` gate.
//!
//! Layout: `json` (the strict reader on serde_json: duplicate keys, depth cap, element paths;
//! also behind the CloudFormation JSON reader) -> `grammar` (one walk over that tree:
//! structure, error codes and element paths) -> `parse` (the parsed `Policy` types, the
//! size cap and the entry point) -> `eval` (probing evaluator, grants, explanations),
//! with `actions` (the action table), `principal` (principal forms),
//! `condition` (keys and operators) and `glob` (wildcards) beneath it.
//!
//! Conventions: error paths name `Statement` when the policy has one statement object and
//! `Statement[i]` when `Statement` is an array; `Grant::statement` is the zero-based index in
//! both cases. The verdict's `network_restricted` is true when nothing is public and some
//! grant is reachable by an arbitrary outsider only from a network the policy names.

pub mod actions;
mod condition;
mod eval;
mod glob;
mod grammar;
pub(crate) mod json;
pub mod parse;
mod principal;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use parse::{MAX_POLICY_BYTES, Policy as ParsedPolicy};

// The exposure words are domain vocabulary, shared with state, metrics and the records.
pub use crate::model::{Access, RegistryScope};

/// Who is inside the trust zone. The owner account is always trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trust {
    /// Account that owns the repository or registry.
    pub owner_account: String,
    /// Further trusted 12-digit account ids.
    pub trusted_accounts: BTreeSet<String>,
    /// Trusted organization ids (`o-...`), proven by `aws:PrincipalOrgID`/`OrgPaths` conditions.
    pub trusted_orgs: BTreeSet<String>,
}

/// What the policy is attached to: the resource the evaluator matches `Resource` against.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A repository policy; `tags` are known in the daemon and unknown (`None`) offline.
    Repository {
        arn: &'a str,
        tags: Option<&'a BTreeMap<String, String>>,
    },
    /// A registry policy of one account and region.
    Registry {
        account_id: &'a str,
        region: &'a str,
        scope: RegistryScope,
    },
}

/// The verdict for one policy (spec §1 outputs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Verdict {
    pub public: bool,
    pub cross_account: bool,
    pub access: Access,
    /// Only a fixed SourceIp/SourceVpc/SourceVpce keeps some grant from being public.
    pub network_restricted: bool,
    /// One entry per exposing grant, in statement order.
    pub grants: Vec<Grant>,
    /// Remarks that do not change the verdict but that a reader should know (unrecognised
    /// principals, statements whose Resource does not match, tag-dependent conditions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One exposing grant and why nothing in the policy stops it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Zero-based index into `Statement`.
    pub statement: usize,
    pub sid: Option<String>,
    pub audience: Audience,
    /// ECR actions reachable through this statement, `ecr:Name` form, sorted.
    pub actions: Vec<Cow<'static, str>>,
    pub access: Access,
    pub public: bool,
    pub network_restricted: bool,
    /// Plain-language reasons, e.g. why a condition does not restrict.
    pub explanation: Vec<String>,
}

impl Grant {
    /// The actions for a one-line message (`check` text, the IaC gate): the first six,
    /// then how many more, since an admin grant lists dozens.
    pub fn action_summary(&self) -> String {
        const SHOWN: usize = 6;
        if self.actions.len() <= SHOWN + 1 {
            return self.actions.join(", ");
        }
        format!(
            "{}, and {} more",
            self.actions[..SHOWN].join(", "),
            self.actions.len() - SHOWN
        )
    }
}

/// Who outside the trust zone the grant reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Audience {
    /// Any authenticated principal in any account.
    Everyone,
    /// A named account outside the trust zone.
    Account { account_id: String },
    /// Members of an organization outside the trust zone.
    Organization { org_id: String },
    /// An AWS service acting for accounts outside the trust zone.
    Service { service: String },
}

/// Why a policy could not be analysed; `code` is a bounded, stable identifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message} (at {path})")]
pub struct PolicyError {
    pub code: ErrorCode,
    /// Path of the offending element, e.g. `Statement[2].Condition.StringLike`; empty for the root.
    pub path: String,
    pub message: String,
}

/// Stable parse/validation error codes (metric- and JSON-safe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidJson,
    DuplicateKey,
    TooLarge,
    TooDeep,
    InvalidStructure,
    UnknownKey,
    MissingKey,
    InvalidVersion,
    InvalidEffect,
    InvalidPrincipal,
    InvalidAction,
    InvalidResource,
    InvalidCondition,
    UnknownOperator,
    /// The policy would need more evaluation work than the per-policy budget allows.
    TooComplex,
}

impl ErrorCode {
    /// Stable label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::DuplicateKey => "duplicate_key",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::TooDeep => "too_deep",
            ErrorCode::InvalidStructure => "invalid_structure",
            ErrorCode::UnknownKey => "unknown_key",
            ErrorCode::MissingKey => "missing_key",
            ErrorCode::InvalidVersion => "invalid_version",
            ErrorCode::InvalidEffect => "invalid_effect",
            ErrorCode::InvalidPrincipal => "invalid_principal",
            ErrorCode::InvalidAction => "invalid_action",
            ErrorCode::InvalidResource => "invalid_resource",
            ErrorCode::InvalidCondition => "invalid_condition",
            ErrorCode::UnknownOperator => "unknown_operator",
            ErrorCode::TooComplex => "too_complex",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parse and evaluate `text` for `subject` against the trust zone.
///
/// Never panics on any input; malformed policies return a [`PolicyError`].
pub fn analyze(text: &str, subject: &Subject<'_>, trust: &Trust) -> Result<Verdict, PolicyError> {
    let policy = parse(text)?;
    evaluate(&policy, subject, trust)
}

/// Strict parse only (spec §2): split from [`evaluate`] so that each can be timed and fuzzed
/// alone, and so that one parsed policy can be judged against several subjects.
pub fn parse(text: &str) -> Result<ParsedPolicy<'_>, PolicyError> {
    parse::parse(text)
}

/// Verdict for an already parsed policy. Errs only with [`ErrorCode::TooComplex`].
pub fn evaluate(
    policy: &ParsedPolicy<'_>,
    subject: &Subject<'_>,
    trust: &Trust,
) -> Result<Verdict, PolicyError> {
    eval::evaluate(policy, subject, trust)
}

#[cfg(test)]
mod tests;
