//! The one record of `check`: what one policy file or one IaC resource came to.
//!
//! [`CheckRecord`] holds the typed [`Outcome`] and is serialised, by hand, into the JSON
//! object `check --format json` has always printed, one per line:
//!
//! `source, public, cross_account, access, network_restricted, error, grants, notes?`, and
//! for IaC resources `resource, resource_type, kind, file, line, policy_state,
//! missing_tags, tags_unknown?` (`?`: left out when empty).
//!
//! Verdict fields are `null` when the input could not be judged (invalid, or unknown before
//! deploy), so that no consumer can read "not exposed" into it. A resource without a policy
//! is `false`/`none`: nothing is exposed through it.
//!
//! It does NOT judge ([`super::judge`]) or render text or SARIF ([`super::render`]).

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::judge::{Outcome, Problem};
use crate::analysis::policy::{Access, Grant, Verdict};
use crate::iac::ResourceKind;

/// The result for one input: one JSON line, or one block of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRecord {
    /// File name as given, or `-` for standard input.
    pub source: String,
    pub outcome: Outcome,
    /// Assumptions made for this input (synthetic owner, region, what extraction could not
    /// read); the engine's own remarks follow them in the output ([`CheckRecord::notes`]).
    pub assumptions: Vec<String>,
    /// IaC inputs only: the resource, where it is written, its tags.
    pub iac: Option<IacFields>,
}

/// The IaC part of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IacFields {
    /// Terraform address or CloudFormation logical id.
    pub resource: String,
    pub resource_type: String,
    pub kind: ResourceKind,
    /// 1-based line where the resource is written, when it could be found.
    pub line: Option<usize>,
    /// Required tags absent or empty (`tags.required`, default `owner`).
    pub missing_tags: Vec<String>,
    /// Why the required-tag check could not be made.
    pub tags_unknown: Option<String>,
}

impl CheckRecord {
    /// A record for an input that could not be read or judged at all.
    pub fn failed(source: &str, problem: Problem) -> Self {
        CheckRecord {
            source: source.to_string(),
            outcome: Outcome::Invalid(problem),
            assumptions: Vec::new(),
            iac: None,
        }
    }

    /// The verdict, when the policy was judged.
    pub fn verdict(&self) -> Option<&Verdict> {
        match &self.outcome {
            Outcome::Ok(v) => Some(v),
            _ => None,
        }
    }

    /// Exposing grants, in statement order (none without a verdict).
    pub fn grants(&self) -> &[Grant] {
        self.verdict().map_or(&[], |v| v.grants.as_slice())
    }

    /// Every note: the assumptions, then the engine's remarks.
    pub fn notes(&self) -> impl Iterator<Item = &String> {
        self.assumptions
            .iter()
            .chain(self.verdict().into_iter().flat_map(|v| v.notes.iter()))
    }
}

/// `public`, `cross_account`, `access`, `network_restricted` of an outcome: the verdict's,
/// all `false`/`none` without a policy, all `null` when there is no verdict.
fn verdict_fields(outcome: &Outcome) -> (Option<bool>, Option<bool>, Option<Access>, Option<bool>) {
    match outcome {
        Outcome::Ok(v) => (
            Some(v.public),
            Some(v.cross_account),
            Some(v.access),
            Some(v.network_restricted),
        ),
        Outcome::None => (Some(false), Some(false), Some(Access::None), Some(false)),
        Outcome::Unknown { .. } | Outcome::Invalid(_) => (None, None, None, None),
    }
}

#[derive(serde::Serialize)]
struct ErrorJson<'a> {
    code: &'a str,
    message: &'a str,
}

impl Serialize for CheckRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (public, cross_account, access, network_restricted) = verdict_fields(&self.outcome);
        let error = self.outcome.error();
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("source", &self.source)?;
        map.serialize_entry("public", &public)?;
        map.serialize_entry("cross_account", &cross_account)?;
        map.serialize_entry("access", &access)?;
        map.serialize_entry("network_restricted", &network_restricted)?;
        map.serialize_entry(
            "error",
            &error.as_ref().map(|(code, message)| ErrorJson {
                code,
                message: message.as_ref(),
            }),
        )?;
        map.serialize_entry("grants", self.grants())?;
        let notes: Vec<&String> = self.notes().collect();
        if !notes.is_empty() {
            map.serialize_entry("notes", &notes)?;
        }
        if let Some(iac) = &self.iac {
            map.serialize_entry("resource", &iac.resource)?;
            map.serialize_entry("resource_type", &iac.resource_type)?;
            map.serialize_entry("kind", &iac.kind)?;
            // The same as `source`, for tools that key on `file`.
            map.serialize_entry("file", &self.source)?;
            map.serialize_entry("line", &iac.line)?;
            map.serialize_entry("policy_state", self.outcome.state())?;
            map.serialize_entry("missing_tags", &iac.missing_tags)?;
            if let Some(t) = &iac.tags_unknown {
                map.serialize_entry("tags_unknown", t)?;
            }
        }
        map.end()
    }
}
