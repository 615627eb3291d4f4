//! SARIF 2.1.0 rendering of `check` findings, for code-scanning dashboards (GitHub code
//! scanning and others) that show them on the line of the template or plan.
//!
//! One rule per finding kind, each with help text and the runbook anchor that the daemon's
//! alerts link to, so that a finding before deploy and an alert after deploy lead to the same
//! page. Results carry a physical location (file and, when known, line) and the resource as a
//! logical location. Validated against the OASIS schema in `tests/iac_sarif.rs`.
//!
//! [`findings`] turns one record into its results; [`render`] makes the log of all of them.

use serde_json::{Value, json};

use super::words::{Style, grant_line, headline};
use crate::check::judge::Outcome;
use crate::check::record::CheckRecord;
use crate::iac::ResourceKind;

/// Kinds of finding, one SARIF rule each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    PublicExposure,
    CrossAccountExposure,
    RegistryExposure,
    PolicyUnknown,
    PolicyInvalid,
    MissingTag,
}

impl Rule {
    pub const ALL: [Rule; 6] = [
        Rule::PublicExposure,
        Rule::CrossAccountExposure,
        Rule::RegistryExposure,
        Rule::PolicyUnknown,
        Rule::PolicyInvalid,
        Rule::MissingTag,
    ];

    /// Stable rule id (the same words as the daemon's `finding` label where one exists).
    pub fn id(self) -> &'static str {
        match self {
            Rule::PublicExposure => "public_exposure",
            Rule::CrossAccountExposure => "cross_account_exposure",
            Rule::RegistryExposure => "registry_exposure",
            Rule::PolicyUnknown => "policy_unknown",
            Rule::PolicyInvalid => "policy_invalid",
            Rule::MissingTag => "missing_tag",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Rule::PublicExposure => "EcrRepositoryPublic",
            Rule::CrossAccountExposure => "EcrRepositoryCrossAccount",
            Rule::RegistryExposure => "EcrRegistryPolicyExposed",
            Rule::PolicyUnknown => "EcrPolicyUnknownBeforeDeploy",
            Rule::PolicyInvalid => "EcrPolicyInvalid",
            Rule::MissingTag => "EcrRepositoryMissingTag",
        }
    }

    /// SARIF level: exposure to anyone and unjudgeable policies fail a gate.
    pub fn level(self) -> &'static str {
        match self {
            Rule::PublicExposure | Rule::RegistryExposure | Rule::PolicyInvalid => "error",
            Rule::CrossAccountExposure | Rule::PolicyUnknown => "warning",
            Rule::MissingTag => "note",
        }
    }

    /// GitHub code scanning's numeric severity (0-10) for security rules.
    fn security_severity(self) -> &'static str {
        match self {
            Rule::PublicExposure | Rule::RegistryExposure => "9.1",
            Rule::CrossAccountExposure => "6.5",
            Rule::PolicyInvalid => "5.0",
            Rule::PolicyUnknown => "4.0",
            Rule::MissingTag => "2.0",
        }
    }

    /// Anchor in `docs/runbooks.md`: the runbook of the daemon alert for the same finding.
    pub fn runbook(self) -> &'static str {
        match self {
            Rule::PublicExposure => "docs/runbooks.md#ecrexposurerepositorypublic",
            Rule::CrossAccountExposure => "docs/runbooks.md#ecrexposurerepositorycrossaccount",
            Rule::RegistryExposure => "docs/runbooks.md#ecrexposureregistrypublic",
            Rule::PolicyUnknown | Rule::PolicyInvalid => {
                "docs/runbooks.md#ecrexposurepolicyunknown"
            }
            Rule::MissingTag => "docs/runbooks.md#ecrexposurerepositorymissingownertag",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Rule::PublicExposure => {
                "ECR repository policy lets any AWS account reach the repository"
            }
            Rule::CrossAccountExposure => {
                "ECR repository policy grants access to a principal outside the trust zone"
            }
            Rule::RegistryExposure => {
                "ECR registry policy exposes the repositories of the region outside the trust zone"
            }
            Rule::PolicyUnknown => "ECR policy cannot be judged before deploy",
            Rule::PolicyInvalid => "ECR policy is malformed",
            Rule::MissingTag => "ECR repository lacks a required tag",
        }
    }

    fn help(self) -> &'static str {
        match self {
            Rule::PublicExposure => {
                "An Allow statement reaches callers in any AWS account, and no condition or Deny stops a \
                 stranger (\"*\" means every authenticated principal of every account, which anyone can \
                 create). Restrict Principal to trusted accounts, or add an aws:PrincipalOrgID condition \
                 on your organization."
            }
            Rule::CrossAccountExposure => {
                "An Allow statement reaches a named account, organization or AWS service acting for an \
                 account that is not in the trust zone (--account, --trusted-account, --trusted-org). \
                 Remove the grant, or add the account to the trusted set if it is yours."
            }
            Rule::RegistryExposure => {
                "A registry policy applies to every repository of the region, present and future. A grant \
                 to outsiders there exposes all of them. Limit it to replication and pull-through cache \
                 actions for trusted accounts."
            }
            Rule::PolicyUnknown => {
                "The policy depends on a value known only at deploy time (a Terraform value unknown until \
                 apply, or a CloudFormation parameter, resource attribute or condition), so it cannot be \
                 shown safe before deploy. Make the value static, or run the gate with the value supplied \
                 (--account), or review the element named in the message."
            }
            Rule::PolicyInvalid => {
                "The policy text does not parse under the strict IAM grammar (duplicate keys, unknown \
                 operators, wrong element names...). AWS would reject it or read it differently from a \
                 reviewer; fix the element named in the message."
            }
            Rule::MissingTag => {
                "A required tag (tags.required in the configuration, default owner) is absent or empty, \
                 so exposure alerts for this repository cannot be routed to its owner. Add the tag."
            }
        }
    }
}

/// One result: what, where, and the message (verdict and explanation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: Rule,
    /// Human message: the verdict and why.
    pub message: String,
    /// File as given on the command line (`-` for standard input).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Address or logical id; `None` for a plain policy file.
    pub resource: Option<String>,
}

/// SARIF findings of one record: at most one for its verdict (exposure, unknown or
/// invalid), then one per missing required tag. `registry` marks plain policy files
/// checked with `--registry`.
pub fn findings(rec: &CheckRecord, registry: bool) -> Vec<Finding> {
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
    if let Some((code, message)) = rec.outcome.error() {
        let rule = match rec.outcome {
            Outcome::Unknown { .. } => Rule::PolicyUnknown,
            _ => Rule::PolicyInvalid,
        };
        out.push(finding(rule, format!("{prefix}{code}: {message}")));
    } else if let Some(v) = rec.verdict().filter(|v| v.public || v.cross_account) {
        let rule = if registry {
            Rule::RegistryExposure
        } else if v.public {
            Rule::PublicExposure
        } else {
            Rule::CrossAccountExposure
        };
        let mut msg = format!("{prefix}{}", headline(&rec.outcome, Style::Sarif));
        for g in &v.grants {
            msg.push_str(". ");
            msg.push_str(&grant_line(g, true));
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

/// The SARIF log for `findings` (one run, every rule listed whether or not it fired).
pub fn render(findings: &[Finding], tool_version: &str) -> Value {
    let rules: Vec<Value> = Rule::ALL
        .iter()
        .map(|r| {
            json!({
                "id": r.id(),
                "name": r.name(),
                "shortDescription": {"text": r.short()},
                "fullDescription": {"text": r.help()},
                "help": {
                    "text": format!("{} Runbook: {}", r.help(), r.runbook()),
                    "markdown": format!("{}\n\nRunbook: [{}]({})", r.help(), r.runbook(), r.runbook()),
                },
                "defaultConfiguration": {"level": r.level()},
                "properties": {
                    "tags": ["security", "ecr", "iac"],
                    "security-severity": r.security_severity(),
                    "runbook": r.runbook(),
                },
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let mut physical = json!({
                "artifactLocation": {"uri": file_uri(&f.file)},
            });
            if let Some(line) = f.line.filter(|&l| l >= 1) {
                physical["region"] = json!({"startLine": line});
            }
            let mut location = json!({"physicalLocation": physical});
            if let Some(res) = &f.resource {
                location["logicalLocations"] = json!([{"name": res, "kind": "resource"}]);
            }
            let rule_index = Rule::ALL.iter().position(|r| *r == f.rule).unwrap_or(0);
            json!({
                "ruleId": f.rule.id(),
                "ruleIndex": rule_index,
                "level": f.rule.level(),
                "message": {"text": f.message},
                "locations": [location],
                "partialFingerprints": {
                    "ecrExposureResource/v1": format!("{}:{}:{}", f.rule.id(), f.file, f.resource.as_deref().unwrap_or("")),
                },
            })
        })
        .collect();
    json!({
        "$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "ecr-exposure-exporter",
                "version": tool_version,
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

/// A relative URI reference for a path as given: `/` separators, reserved and non-ASCII
/// bytes percent-encoded, so code scanning can match it to the repository file.
fn file_uri(path: &str) -> String {
    if path == "-" {
        return "stdin".to_string();
    }
    let path = path.replace('\\', "/");
    let path = path.strip_prefix("./").unwrap_or(&path);
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_point_at_rule_file_and_line() {
        let log = render(
            &[Finding {
                rule: Rule::MissingTag,
                message: "missing owner".into(),
                file: "./infra/my plan.json".into(),
                line: Some(12),
                resource: Some("aws_ecr_repository.a".into()),
            }],
            "0.1.0",
        );
        let result = &log["runs"][0]["results"][0];
        assert_eq!(result["ruleId"], "missing_tag");
        assert_eq!(
            log["runs"][0]["tool"]["driver"]["rules"]
                [result["ruleIndex"].as_u64().unwrap() as usize]["id"],
            "missing_tag"
        );
        let loc = &result["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "infra/my%20plan.json");
        assert_eq!(loc["region"]["startLine"], 12);
        assert_eq!(
            log["runs"][0]["tool"]["driver"]["rules"]
                .as_array()
                .unwrap()
                .len(),
            6
        );
    }

    #[test]
    fn unknown_line_has_no_region() {
        let log = render(
            &[Finding {
                rule: Rule::PublicExposure,
                message: "public".into(),
                file: "-".into(),
                line: None,
                resource: None,
            }],
            "0.1.0",
        );
        let loc = &log["runs"][0]["results"][0]["locations"][0];
        assert!(loc["physicalLocation"].get("region").is_none());
        assert!(loc.get("logicalLocations").is_none());
        assert_eq!(loc["physicalLocation"]["artifactLocation"]["uri"], "stdin");
    }
}
