//! IaC inputs in the `check` command: one [`CheckRecord`] per ECR resource of a Terraform
//! plan or CloudFormation template (the policy-file fields plus `resource`, `file`, `line`,
//! `missing_tags`), and the SARIF findings of any record, policy file or resource.
//!
//! A resource whose policy is known only at deploy gets `error.code = "unknown_before_deploy"`
//! and null verdict fields (never "not exposed"); `check` counts it as exposed (exit 1)
//! unless `--fail-on never`. A file that cannot be read as the IaC it claims to be gets one
//! record with the reader's error code (exit 2), like an invalid policy.

use serde::Serialize;

use super::gate::{self, GateSettings, Judgement, Outcome};
use super::sarif::{Finding, Rule};
use super::{IacError, IacResource, InputType, ResolveContext, ResourceKind};
use crate::check::{CheckRecord, RecordError};

/// Error code of a policy that cannot be known before deploy.
pub const UNKNOWN_CODE: &str = "unknown_before_deploy";

/// The IaC part of a record (flattened into the JSON object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IacFields {
    /// Terraform address or CloudFormation logical id.
    pub resource: String,
    pub resource_type: String,
    pub kind: ResourceKind,
    /// File as given (same as `source`), for tools that key on `file`.
    pub file: String,
    pub line: Option<usize>,
    /// `none` (no policy), `ok`, `unknown` (known only at deploy) or `invalid`.
    pub policy_state: &'static str,
    /// Required tags absent or empty (`tags.required`, default `owner`).
    pub missing_tags: Vec<String>,
    /// Why the required-tag check could not be made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags_unknown: Option<String>,
}

/// All records of one IaC file (none when it holds no ECR resource).
pub fn records(
    source: &str,
    text: &str,
    input: InputType,
    ctx: &ResolveContext,
    settings: &GateSettings,
) -> Vec<CheckRecord> {
    match super::extract(input, text, ctx) {
        Ok(resources) => resources
            .iter()
            .map(|res| record(source, res, gate::judge(res, settings)))
            .collect(),
        Err(e) => vec![file_error(source, &e)],
    }
}

fn file_error(source: &str, e: &IacError) -> CheckRecord {
    CheckRecord::failed(source, e.code, e.message.clone())
}

/// The record of one judged resource.
pub fn record(source: &str, res: &IacResource, j: Judgement) -> CheckRecord {
    let mut notes = j.notes;
    let (state, public, cross, access, net, error, grants) = match j.outcome {
        Outcome::None => (
            "none",
            Some(false),
            Some(false),
            Some(crate::analysis::policy::Access::None),
            Some(false),
            None,
            Vec::new(),
        ),
        Outcome::Ok(v) => {
            notes.extend(v.notes);
            (
                "ok",
                Some(v.public),
                Some(v.cross_account),
                Some(v.access),
                Some(v.network_restricted),
                None,
                v.grants,
            )
        }
        Outcome::Unknown { path, reason } => (
            "unknown",
            None,
            None,
            None,
            None,
            Some(RecordError {
                code: UNKNOWN_CODE.to_string(),
                message: format!("{reason} (at {path})"),
            }),
            Vec::new(),
        ),
        Outcome::Invalid(e) => (
            "invalid",
            None,
            None,
            None,
            None,
            Some(RecordError {
                code: e.code.as_str().to_string(),
                message: if e.path.is_empty() {
                    e.message
                } else {
                    format!("{} (at {})", e.message, e.path)
                },
            }),
            Vec::new(),
        ),
    };
    CheckRecord {
        source: source.to_string(),
        public,
        cross_account: cross,
        access,
        network_restricted: net,
        error,
        grants,
        notes,
        iac: Some(IacFields {
            resource: res.resource.clone(),
            resource_type: res.resource_type.clone(),
            kind: res.kind,
            file: source.to_string(),
            line: res.line,
            policy_state: state,
            missing_tags: j.missing_tags,
            tags_unknown: j.tags_unknown,
        }),
    }
}

/// Whether the record's policy is known only at deploy.
pub fn is_unknown(rec: &CheckRecord) -> bool {
    rec.error.as_ref().is_some_and(|e| e.code == UNKNOWN_CODE)
}

/// SARIF findings of one record. `registry` marks plain policy files checked with `--registry`.
pub fn sarif_findings(rec: &CheckRecord, registry: bool) -> Vec<Finding> {
    let iac = rec.iac.as_ref();
    let resource = iac.map(|i| i.resource.clone());
    let prefix = resource
        .as_deref()
        .map(|r| format!("{r}: "))
        .unwrap_or_default();
    let finding = |rule: Rule, message: String| Finding {
        rule,
        message,
        file: rec.source.clone(),
        line: iac.and_then(|i| i.line),
        resource: resource.clone(),
    };
    let registry = registry || iac.is_some_and(|i| i.kind == ResourceKind::RegistryPolicy);
    let mut out = Vec::new();
    if let Some(e) = &rec.error {
        let rule = if is_unknown(rec) {
            Rule::PolicyUnknown
        } else {
            Rule::PolicyInvalid
        };
        out.push(finding(rule, format!("{prefix}{}: {}", e.code, e.message)));
    } else if rec.public == Some(true) || rec.cross_account == Some(true) {
        let rule = if registry {
            Rule::RegistryExposure
        } else if rec.public == Some(true) {
            Rule::PublicExposure
        } else {
            Rule::CrossAccountExposure
        };
        let verdict = Outcome::Ok(crate::analysis::policy::Verdict {
            public: rec.public == Some(true),
            cross_account: rec.cross_account == Some(true),
            access: rec.access.unwrap_or_default(),
            network_restricted: rec.network_restricted == Some(true),
            grants: rec.grants.clone(),
            notes: Vec::new(),
        });
        let mut msg = format!("{prefix}{}", gate::summary(&verdict));
        if let Outcome::Ok(v) = &verdict {
            for g in gate::grant_lines(v) {
                msg.push_str(". ");
                msg.push_str(&g);
            }
        }
        out.push(finding(rule, msg));
    }
    for tag in iac.map(|i| i.missing_tags.as_slice()).unwrap_or_default() {
        out.push(finding(
            Rule::MissingTag,
            format!("{prefix}required tag `{tag}` is missing or empty"),
        ));
    }
    out
}

/// Text block for one IaC record: `file:line resource (type): VERDICT`, then the details.
pub fn render_text(rec: &CheckRecord) -> Option<String> {
    let iac = rec.iac.as_ref()?;
    let at = match iac.line {
        Some(l) => format!("{}:{l}", rec.source),
        None => rec.source.clone(),
    };
    let verdict = match (&rec.error, rec.public, rec.cross_account, rec.access) {
        (Some(e), ..) if is_unknown(rec) => format!("UNKNOWN before deploy: {}", e.message),
        (Some(e), ..) => format!("INVALID ({}): {}", e.code, e.message),
        (None, Some(true), _, Some(a)) => format!("PUBLIC, {} access", a.as_label()),
        (None, _, Some(true), Some(a)) => format!("CROSS-ACCOUNT, {} access", a.as_label()),
        _ if iac.policy_state == "none" => "no policy: not exposed".to_string(),
        _ => "not exposed outside the trust zone".to_string(),
    };
    let mut out = format!("{at} {} ({}): {verdict}\n", iac.resource, iac.resource_type);
    for g in &rec.grants {
        let mut brief = g.clone();
        brief.explanation.clear();
        let v = crate::analysis::policy::Verdict {
            grants: vec![brief],
            ..Default::default()
        };
        for line in gate::grant_lines(&v) {
            out.push_str(&format!("  - {line}\n"));
        }
        for e in &g.explanation {
            out.push_str(&format!("      {e}\n"));
        }
    }
    if !iac.missing_tags.is_empty() {
        out.push_str(&format!(
            "  missing required tags: {}\n",
            iac.missing_tags.join(", ")
        ));
    }
    if let Some(t) = &iac.tags_unknown {
        out.push_str(&format!("  tags unknown: {t}\n"));
    }
    for n in &rec.notes {
        out.push_str(&format!("  note: {n}\n"));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::policy::{RegistryScope, Trust};

    fn records_of(yaml: &str) -> Vec<CheckRecord> {
        let settings = GateSettings {
            trust: Trust {
                owner_account: "111111111111".into(),
                ..Trust::default()
            },
            required_tags: vec!["owner".into()],
            registry_scope: RegistryScope::V2,
            region: Some("eu-west-1".into()),
        };
        let ctx = ResolveContext {
            account: Some("111111111111".into()),
            region: Some("eu-west-1".into()),
        };
        records("t.yaml", yaml, InputType::Cloudformation, &ctx, &settings)
    }

    #[test]
    fn records_rules_and_text() {
        let recs = records_of(
            "Resources:\n  Pub:\n    Type: AWS::ECR::Repository\n    Properties:\n      RepositoryPolicyText:\n        Statement:\n          - {Effect: Allow, Principal: '*', Action: 'ecr:ListImages'}\n  Unk:\n    Type: AWS::ECR::RegistryPolicy\n    Properties:\n      PolicyText: !GetAtt X.Y\n",
        );
        assert_eq!(recs.len(), 2);
        let rules = |r: &CheckRecord| {
            sarif_findings(r, false)
                .into_iter()
                .map(|f| (f.rule, f.line))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            rules(&recs[0]),
            vec![(Rule::PublicExposure, Some(2)), (Rule::MissingTag, Some(2))]
        );
        assert!(is_unknown(&recs[1]));
        assert_eq!(rules(&recs[1]), vec![(Rule::PolicyUnknown, Some(8))]);
        let text = render_text(&recs[0]).unwrap();
        assert!(
            text.starts_with("t.yaml:2 Pub (AWS::ECR::Repository): PUBLIC, read access\n"),
            "{text}"
        );
        let json = serde_json::to_value(&recs[1]).unwrap();
        assert_eq!(json["policy_state"], "unknown");
        assert_eq!(json["kind"], "registry_policy");
        assert!(json["public"].is_null());
    }

    #[test]
    fn unreadable_file_is_one_error_record() {
        let recs = records_of("Resources: [");
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].error.as_ref().unwrap().code, "invalid_yaml");
        assert!(recs[0].iac.is_none());
        assert_eq!(sarif_findings(&recs[0], false)[0].rule, Rule::PolicyInvalid);
        assert!(render_text(&recs[0]).is_none());
    }
}
