//! Infrastructure as code -> the ECR policies and repositories it would deploy.
//!
//! Owns reading Terraform plan JSON (`terraform show -json plan.out`) and CloudFormation
//! templates (JSON or YAML, with short- and long-form intrinsics) into a flat list of
//! [`IacResource`]s, each with its policy text (or why it cannot be known before deploy),
//! its tags and where it is written.
//!
//! It does NOT judge policies, check tags or render anything: the `check` command
//! ([`crate::check`]) does that with the engine the daemon uses, so a template gets the
//! verdict its deployed repository would get. Nothing here imports `check`. Pure code: no
//! I/O, no clock; the caller reads the files.
//!
//! What cannot be resolved statically is never guessed: a Terraform value that is unknown
//! until apply, or a CloudFormation intrinsic that depends on a parameter, a resource
//! attribute or a condition, makes the policy [`PolicySource::Unknown`] with the path of
//! the element and the reason. Unknown is a finding of its own, never "safe".

pub mod cloudformation;
pub mod intrinsics;
pub mod terraform;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Largest IaC file accepted: plans of big estates run to megabytes, but not to this.
pub const MAX_INPUT_BYTES: usize = 64 * 1024 * 1024;

/// What a file is, decided from its content (or forced with `--input-type`, which is why
/// it is a command-line value too: one enum for the flag and the detector). `Policy` is a
/// bare policy document (repository or registry policy JSON). Variants carry no doc
/// comments on purpose: clap would print them in `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum InputType {
    Policy,
    TerraformPlan,
    Cloudformation,
}

/// What a resource is, which decides how its policy is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// `aws_ecr_repository_policy`: a policy attached to a repository by name.
    RepositoryPolicy,
    /// `aws_ecr_registry_policy`, `AWS::ECR::RegistryPolicy`: the registry-wide policy (spec §10).
    RegistryPolicy,
    /// `aws_ecr_repository`, `AWS::ECR::Repository`: tags, and in CloudFormation its inline policy.
    Repository,
}

impl ResourceKind {
    /// Stable label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::RepositoryPolicy => "repository_policy",
            ResourceKind::RegistryPolicy => "registry_policy",
            ResourceKind::Repository => "repository",
        }
    }
}

/// The policy a resource would deploy, as far as it can be known before deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PolicySource {
    /// The resource sets no policy (a repository without `RepositoryPolicyText`, or a
    /// Terraform `aws_ecr_repository`, whose policy is a separate resource).
    Absent,
    /// Policy text as it would be deployed; the engine parses it strictly.
    Text { text: String },
    /// Known only at deploy time. `path` names the element (Terraform attribute address or
    /// template element path); `reason` says why in plain words.
    Unknown { path: String, reason: String },
}

/// Tags as far as they are known before deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TagsSource {
    /// The resource kind has no tags of its own (policy resources).
    NotApplicable,
    /// Keys are known; a value unknown until apply is kept as [`UNKNOWN_TAG_VALUE`] so that
    /// the key counts as present.
    Known { tags: BTreeMap<String, String> },
    /// The whole tag set is unknown until deploy: the required-tag check cannot be made.
    Unknown { path: String, reason: String },
}

/// Placeholder value for a tag whose key is planned but whose value is computed at apply.
pub const UNKNOWN_TAG_VALUE: &str = "(known after apply)";

/// One ECR resource found in an IaC file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IacResource {
    /// Terraform address (`module.app.aws_ecr_repository_policy.this["api"]`) or
    /// CloudFormation logical id: what a reviewer searches for.
    pub resource: String,
    /// Resource type as written (`aws_ecr_repository_policy`, `AWS::ECR::Repository`).
    pub resource_type: String,
    pub kind: ResourceKind,
    /// Line (1-based) where the resource is written, when it could be found.
    pub line: Option<usize>,
    pub policy: PolicySource,
    pub tags: TagsSource,
    /// Repository name, when the resource names one and it is known before deploy.
    pub repository_name: Option<String>,
    /// Repository ARN, when the plan already knows it (an existing repository).
    pub repository_arn: Option<String>,
    /// Region the resource is deployed in, when the file says (Terraform provider config).
    pub region: Option<String>,
    /// Assumptions made while reading the resource, for the explanation.
    pub notes: Vec<String>,
}

/// What the caller knows that a template leaves to deploy time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolveContext {
    /// Account the stack or plan deploys into (`AWS::AccountId`).
    pub account: Option<String>,
    /// Region it deploys into (`AWS::Region`).
    pub region: Option<String>,
}

/// A file that is not what it claims to be, or that cannot be read as such.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct IacError {
    /// Stable code: `invalid_json`, `invalid_yaml`, `invalid_structure`, `too_large`, `duplicate_key`.
    pub code: &'static str,
    pub message: String,
}

impl IacError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        IacError {
            code,
            message: message.into(),
        }
    }
}

/// Decide what `content` is. Never fails: what is neither a plan nor a template is treated
/// as a policy, and the policy parser then says precisely what is wrong with it.
pub fn detect(content: &str) -> InputType {
    let trimmed = content.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') {
        // Cheap checks on the top-level object only; a policy never has these keys.
        match serde_json::from_str::<serde_json::Value>(trimmed) {
            Ok(serde_json::Value::Object(map)) => {
                if map.contains_key("format_version")
                    && (map.contains_key("planned_values") || map.contains_key("resource_changes"))
                {
                    return InputType::TerraformPlan;
                }
                if looks_like_template(
                    map.get("AWSTemplateFormatVersion").is_some(),
                    map.get("Resources"),
                ) {
                    return InputType::Cloudformation;
                }
                InputType::Policy
            }
            _ => InputType::Policy,
        }
    } else {
        // Not JSON: a YAML template, or garbage the policy parser will reject.
        match cloudformation::parse_yaml(trimmed) {
            Ok(serde_json::Value::Object(map))
                if looks_like_template(
                    map.get("AWSTemplateFormatVersion").is_some(),
                    map.get("Resources"),
                ) =>
            {
                InputType::Cloudformation
            }
            _ => InputType::Policy,
        }
    }
}

fn looks_like_template(has_version: bool, resources: Option<&serde_json::Value>) -> bool {
    let typed = resources.and_then(|r| r.as_object()).is_some_and(|r| {
        r.values().any(|res| {
            res.get("Type")
                .and_then(|t| t.as_str())
                .is_some_and(|t| t.starts_with("AWS::"))
        })
    });
    typed || (has_version && resources.is_some_and(|r| r.is_object()))
}

/// Extract the ECR resources of an IaC file. `Policy` inputs have no resources: the caller
/// checks them as they are.
pub fn extract(
    input: InputType,
    content: &str,
    ctx: &ResolveContext,
) -> Result<Vec<IacResource>, IacError> {
    if content.len() > MAX_INPUT_BYTES {
        return Err(IacError::new(
            "too_large",
            format!(
                "input is {} bytes, more than the {} accepted",
                content.len(),
                MAX_INPUT_BYTES
            ),
        ));
    }
    let content = content.trim_start_matches('\u{feff}');
    match input {
        InputType::Policy => Ok(Vec::new()),
        InputType::TerraformPlan => terraform::extract(content, ctx),
        InputType::Cloudformation => cloudformation::extract(content, ctx),
    }
}

/// 1-based line of byte offset `pos` in `text`.
pub(crate) fn line_of(text: &str, pos: usize) -> usize {
    text.as_bytes()[..pos.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// First position at or after `from` where JSON key `key` (encoded) is followed by `:`.
/// A plain text scan: documented as such, good enough to point a reviewer at the resource.
pub(crate) fn find_json_key(text: &str, key: &str, from: usize) -> Option<usize> {
    let encoded = serde_json::to_string(key).ok()?;
    let mut start = from.min(text.len());
    while let Some(off) = text.get(start..)?.find(&encoded) {
        let pos = start + off;
        let rest = text[pos + encoded.len()..].trim_start();
        if rest.starts_with(':') {
            return Some(pos);
        }
        start = pos + encoded.len();
    }
    None
}

/// First position where the JSON string `value` (encoded) is the value of key `key`.
pub(crate) fn find_json_key_value(text: &str, key: &str, value: &str) -> Option<usize> {
    let encoded_key = serde_json::to_string(key).ok()?;
    let encoded = serde_json::to_string(value).ok()?;
    let mut start = 0;
    while let Some(off) = text.get(start..)?.find(&encoded) {
        let pos = start + off;
        let before = text[..pos].trim_end();
        if let Some(b) = before.strip_suffix(':') {
            if b.trim_end().ends_with(&encoded_key) {
                return Some(pos);
            }
        }
        start = pos + encoded.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_input_type() {
        let plan = r#"{"format_version":"1.2","planned_values":{"root_module":{}}}"#;
        assert_eq!(detect(plan), InputType::TerraformPlan);
        let plan2 = r#"{"format_version":"1.2","resource_changes":[]}"#;
        assert_eq!(detect(plan2), InputType::TerraformPlan);
        let cfn = r#"{"Resources":{"R":{"Type":"AWS::ECR::Repository"}}}"#;
        assert_eq!(detect(cfn), InputType::Cloudformation);
        let cfn_empty = r#"{"AWSTemplateFormatVersion":"2010-09-09","Resources":{}}"#;
        assert_eq!(detect(cfn_empty), InputType::Cloudformation);
        let yaml = "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  R:\n    Type: AWS::ECR::Repository\n    Properties:\n      RepositoryName: !Sub '${AWS::StackName}-x'\n";
        assert_eq!(detect(yaml), InputType::Cloudformation);
        let policy = r#"{"Version":"2012-10-17","Statement":[]}"#;
        assert_eq!(detect(policy), InputType::Policy);
        assert_eq!(detect("not json"), InputType::Policy);
        assert_eq!(detect(""), InputType::Policy);
        assert_eq!(detect("{\"Resources\": 1"), InputType::Policy);
        // A policy that happens to carry a `Resources` key is not a template.
        assert_eq!(
            detect(r#"{"Statement":[],"Resources":{"a":1}}"#),
            InputType::Policy
        );
    }

    #[test]
    fn json_key_scan_finds_keys_not_values() {
        let text = "{\n  \"a\": \"Repo\",\n  \"Repo\" : {}\n}";
        let pos = find_json_key(text, "Repo", 0).unwrap();
        assert_eq!(line_of(text, pos), 3);
        let pos = find_json_key_value(text, "a", "Repo").unwrap();
        assert_eq!(line_of(text, pos), 2);
        assert_eq!(find_json_key(text, "missing", 0), None);
    }

    #[test]
    fn oversized_input_is_refused() {
        let big = " ".repeat(MAX_INPUT_BYTES + 1);
        let err = extract(InputType::TerraformPlan, &big, &ResolveContext::default()).unwrap_err();
        assert_eq!(err.code, "too_large");
    }
}
