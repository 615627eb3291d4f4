//! Judging extracted IaC resources with the daemon's engine: one [`Judgement`] per
//! resource (verdict or why none, missing required tags), and its SARIF findings.
//!
//! Choices made here, where a template leaves something open:
//! - Owner account: `--account`, else the account of an ARN the plan already knows, else an
//!   account the policy does not name (so every named account counts as outside; said in a note).
//! - Region of the subject ARN: `--region`, else the plan's provider region, else the region
//!   the policy's own ECR ARNs name, else `us-east-1` (said in a note).
//! - Repository tags are not passed to the engine: before deploy they are what the template
//!   says, but anyone allowed `ecr:TagResource` can change them afterwards, so conditions on
//!   tags are judged as unknown (spec §12.7, as for any offline check).

use serde::Serialize;

use super::{IacResource, PolicySource, ResourceKind, TagsSource, intrinsics::partition};
use crate::analysis::policy::{self, PolicyError, RegistryScope, Subject, Trust, Verdict};
use crate::analysis::tags;

/// What a gate run knows besides the files.
#[derive(Debug, Clone, Default)]
pub struct GateSettings {
    /// Trust zone; `owner_account` empty when `--account` was not given.
    pub trust: Trust,
    /// Required tag keys (`tags.required`, default `["owner"]`).
    pub required_tags: Vec<String>,
    /// Registry permission scope for registry policies (default V2, spec §10).
    pub registry_scope: RegistryScope,
    /// `--region`.
    pub region: Option<String>,
}

/// What the engine made of a resource's policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "policy_state", rename_all = "snake_case")]
pub enum Outcome {
    /// The resource sets no policy: nothing exposed through it.
    None,
    Ok(Verdict),
    /// Known only at deploy: never "not exposed".
    Unknown {
        path: String,
        reason: String,
    },
    Invalid(PolicyError),
}

impl Outcome {
    /// Whether the policy is exposed at or above the threshold (`cross_account` = true
    /// also counts public ones). Unknown counts as exposed: the gate cannot show it safe.
    pub fn fails(&self, cross_account: bool) -> bool {
        match self {
            Outcome::Ok(v) => v.public || (cross_account && v.cross_account),
            Outcome::Unknown { .. } => true,
            Outcome::None | Outcome::Invalid(_) => false,
        }
    }
}

/// One resource, judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub outcome: Outcome,
    /// Required tags absent or empty (repositories with known tags only).
    pub missing_tags: Vec<String>,
    /// Why the required-tag check could not be made, if it could not.
    pub tags_unknown: Option<String>,
    /// Assumptions (from extraction and from here), for the explanation.
    pub notes: Vec<String>,
}

/// Judge one resource with the same engine the daemon uses.
pub fn judge(res: &IacResource, settings: &GateSettings) -> Judgement {
    let mut notes = res.notes.clone();
    let (missing_tags, tags_unknown) = match &res.tags {
        TagsSource::Known { tags: t } => (tags::missing_tags(t, &settings.required_tags), None),
        TagsSource::Unknown { path, reason } => (Vec::new(), Some(format!("{path}: {reason}"))),
        TagsSource::NotApplicable => (Vec::new(), None),
    };
    let outcome = match &res.policy {
        PolicySource::Absent => Outcome::None,
        PolicySource::Unknown { path, reason } => Outcome::Unknown {
            path: path.clone(),
            reason: reason.clone(),
        },
        PolicySource::Text { text } => {
            let arn_account = res
                .repository_arn
                .as_deref()
                .and_then(|a| a.split(':').nth(4))
                .filter(|a| !a.is_empty());
            let mut trust = settings.trust.clone();
            if trust.owner_account.is_empty() {
                if let Some(acct) = arn_account {
                    trust.owner_account = acct.to_string();
                } else {
                    trust.owner_account = unnamed_account(text);
                    notes.push(format!(
                        "owner account not given (--account): assumed {}, an account the policy does not name, so every named account counts as outside",
                        trust.owner_account
                    ));
                }
            }
            let region = settings
                .region
                .clone()
                .or_else(|| res.region.clone())
                .or_else(|| {
                    res.repository_arn
                        .as_deref()
                        .and_then(|a| a.split(':').nth(3))
                        .filter(|r| !r.is_empty())
                        .map(str::to_string)
                })
                .or_else(|| region_named_in(text))
                .unwrap_or_else(|| {
                    notes.push(
                        "region not given (--region): assumed us-east-1 for Resource matching"
                            .to_string(),
                    );
                    "us-east-1".to_string()
                });
            let result = match res.kind {
                ResourceKind::RegistryPolicy => policy::analyze(
                    text,
                    &Subject::Registry {
                        account_id: &trust.owner_account,
                        region: &region,
                        scope: settings.registry_scope,
                    },
                    &trust,
                ),
                _ => {
                    let arn = res.repository_arn.clone().unwrap_or_else(|| {
                        let name = res.repository_name.clone().unwrap_or_else(|| {
                            notes.push(
                                "repository name known only at deploy: a Resource naming a repository cannot be matched".to_string(),
                            );
                            "name-unknown-before-deploy".to_string()
                        });
                        format!(
                            "arn:{}:ecr:{region}:{}:repository/{name}",
                            partition(Some(&region)),
                            trust.owner_account
                        )
                    });
                    policy::analyze(
                        text,
                        &Subject::Repository {
                            arn: &arn,
                            tags: None,
                        },
                        &trust,
                    )
                }
            };
            match result {
                Ok(v) => Outcome::Ok(v),
                Err(e) => Outcome::Invalid(e),
            }
        }
    };
    Judgement {
        outcome,
        missing_tags,
        tags_unknown,
        notes,
    }
}

/// A 12-digit account id that does not occur in `text`.
fn unnamed_account(text: &str) -> String {
    (0u64..)
        .map(|n| format!("{n:012}"))
        .find(|id| !text.contains(id.as_str()))
        .unwrap_or_else(|| "000000000000".to_string())
}

/// The region of the first ECR ARN in the policy text, if any.
fn region_named_in(text: &str) -> Option<String> {
    let start = text.find(":ecr:")? + 5;
    let region: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
        .collect();
    (!region.is_empty()).then_some(region)
}

/// One line saying what the outcome is, for text output and SARIF messages.
pub fn summary(outcome: &Outcome) -> String {
    match outcome {
        Outcome::None => "no policy: not exposed".to_string(),
        Outcome::Ok(v) if v.public => format!("PUBLIC ({} access)", v.access.as_label()),
        Outcome::Ok(v) if v.cross_account => {
            format!("CROSS-ACCOUNT ({} access)", v.access.as_label())
        }
        Outcome::Ok(_) => "not exposed".to_string(),
        Outcome::Unknown { path, reason } => format!("UNKNOWN before deploy: {path}: {reason}"),
        Outcome::Invalid(e) => format!("INVALID policy: {e}"),
    }
}

/// Why each exposing grant exposes, one line per grant.
pub fn grant_lines(v: &Verdict) -> Vec<String> {
    v.grants
        .iter()
        .map(|g| {
            let who = match &g.audience {
                policy::Audience::Everyone => "any AWS account".to_string(),
                policy::Audience::Account { account_id } => format!("account {account_id}"),
                policy::Audience::Organization { org_id } => format!("organization {org_id}"),
                policy::Audience::Service { service } => {
                    format!("{service} acting for other accounts")
                }
            };
            let sid = g
                .sid
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            let mut line = format!(
                "Statement[{}]{sid}: {who} can {} [{}]",
                g.statement,
                g.action_summary(),
                g.access.as_label()
            );
            if !g.explanation.is_empty() {
                line.push_str(": ");
                line.push_str(&g.explanation.join("; "));
            }
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iac::{ResolveContext, cloudformation};

    fn settings(account: &str) -> GateSettings {
        GateSettings {
            trust: Trust {
                owner_account: account.to_string(),
                ..Trust::default()
            },
            required_tags: vec!["owner".to_string()],
            registry_scope: RegistryScope::V2,
            region: Some("eu-west-1".to_string()),
        }
    }

    #[test]
    fn intrinsic_resolved_principal_gets_the_engine_verdict() {
        let yaml = "Resources:\n  R:\n    Type: AWS::ECR::Repository\n    Properties:\n      RepositoryName: r\n      RepositoryPolicyText:\n        Statement:\n          - Effect: Allow\n            Principal: {AWS: !Sub 'arn:aws:iam::${AWS::AccountId}:root'}\n            Action: ecr:*\n";
        let ctx = ResolveContext {
            account: Some("111111111111".into()),
            region: None,
        };
        let res = cloudformation::extract(yaml, &ctx).unwrap();
        let own = judge(&res[0], &settings("111111111111"));
        assert!(
            matches!(&own.outcome, Outcome::Ok(v) if !v.public && !v.cross_account),
            "{own:?}"
        );
        assert_eq!(own.missing_tags, vec!["owner".to_string()]);
        // The same template judged for another owner: the principal is outside.
        let other = judge(&res[0], &settings("999999999999"));
        assert!(
            matches!(&other.outcome, Outcome::Ok(v) if !v.public && v.cross_account),
            "{other:?}"
        );
        assert!(other.outcome.fails(true) && !other.outcome.fails(false));
    }

    #[test]
    fn unknown_policies_fail_and_are_reported() {
        let res = IacResource {
            resource: "a".into(),
            resource_type: "aws_ecr_repository_policy".into(),
            kind: ResourceKind::RepositoryPolicy,
            line: None,
            policy: PolicySource::Unknown {
                path: "a.policy".into(),
                reason: "after apply".into(),
            },
            tags: TagsSource::NotApplicable,
            repository_name: None,
            repository_arn: None,
            region: None,
            notes: vec![],
        };
        let j = judge(&res, &settings(""));
        assert!(j.outcome.fails(false));
        assert!(summary(&j.outcome).starts_with("UNKNOWN before deploy: a.policy"));
    }

    #[test]
    fn owner_defaults_to_an_unnamed_account() {
        assert_eq!(unnamed_account("{}"), "000000000000");
        assert_eq!(unnamed_account("000000000000"), "000000000001");
        assert_eq!(
            region_named_in("\"arn:aws:ecr:eu-central-1:1:repository/*\"").as_deref(),
            Some("eu-central-1")
        );
        assert_eq!(region_named_in("{}"), None);
    }
}
