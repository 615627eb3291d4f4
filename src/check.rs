//! The `check` command: offline verdicts on policy documents, the CI gate.
//!
//! Inputs are detected by content (or `--input-type`): a policy document gets one record;
//! a Terraform plan or CloudFormation template gets one record per ECR resource, built by
//! [`crate::iac`] with the same engine (fields `resource`, `file`, `line`, `missing_tags`
//! added). `--format sarif` prints one SARIF 2.1.0 log for all inputs ([`crate::iac::sarif`]).
//!
//! Owns turning raw `check` flags into validated [`CheckOptions`], one [`CheckRecord`] per
//! input (`check_policy_text`), the renderers (`render_text`, `render_json`) and the exit
//! status: 0 nothing at or above `--fail-on`, 1 some input exposed, 2 usage error or some
//! input invalid. The verdicts come from [`crate::analysis::policy::analyze`], the same
//! engine the daemon uses.
//!
//! Defaults, for inputs that do not say where the policy lives:
//! - the owner account is `--account`, else the account of `--repository-arn`, else a
//!   synthetic 12-digit id that the input does not contain (every account the policy names
//!   is then outside the trust zone; the output says so);
//! - the repository is `--repository-arn`, else `arn:aws:ecr:us-east-1:OWNER:repository/checked`;
//! - with `--registry`, the region is that of `--repository-arn`, else the first ECR ARN
//!   region in the policy, else `us-east-1`; the scope is `--registry-scope` (default v2).

use std::collections::BTreeSet;
use std::io::{Read, Write};

use serde::Serialize;

use crate::analysis::policy::{
    self, Access, Grant, MAX_POLICY_BYTES, RegistryScope, Subject, Trust,
};
use crate::cli::{CheckArgs, CheckFormat, FailOn, InputType, ScopeArg};
use crate::model::{is_account_id as is_account, is_org_id as is_org, is_region_name};

/// Repository name used when no `--repository-arn` is given.
pub const DEFAULT_REPOSITORY_NAME: &str = "checked";
/// Region used when nothing else names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Synthetic owner candidates: the first one absent from the input text is used.
const SYNTHETIC_OWNERS: [&str; 6] = [
    "000000000000",
    "999999999999",
    "000000000001",
    "999999999998",
    "101010101010",
    "909090909090",
];

/// What the policies are attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Repository {
        /// `None`: `arn:aws:ecr:us-east-1:OWNER:repository/checked`.
        arn: Option<String>,
    },
    Registry {
        /// `None`: from the policy's own ECR ARNs, else us-east-1.
        region: Option<String>,
        scope: RegistryScope,
    },
}

/// Validated `check` options: everything `check_policy_text` needs.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// `None`: a synthetic owner named nowhere in the input.
    pub owner: Option<String>,
    pub trusted_accounts: BTreeSet<String>,
    pub trusted_orgs: BTreeSet<String>,
    pub target: Target,
    pub format: CheckFormat,
    pub fail_on: FailOn,
    /// `--input-type`; `None`: detected per input from its content.
    pub input_type: Option<InputType>,
    /// `--region`: `AWS::Region` for templates, the subject region for IaC resources.
    pub region: Option<String>,
    /// Required tag keys for IaC repositories (`tags.required` of `--config`, default `owner`).
    pub required_tags: Vec<String>,
}

/// A usage error: bad flag values (exit status 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// `(region, account)` of an ECR repository ARN.
fn parse_repository_arn(arn: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6
        || parts[0] != "arn"
        || parts[1].is_empty()
        || parts[2] != "ecr"
        || parts[3].is_empty()
        || !is_account(parts[4])
    {
        return None;
    }
    let name = parts[5].strip_prefix("repository/")?;
    if name.is_empty() {
        return None;
    }
    Some((parts[3].to_string(), parts[4].to_string()))
}

impl CheckOptions {
    /// Validate raw flags (low-level args -> high-level options).
    pub fn from_args(args: &CheckArgs) -> Result<Self, UsageError> {
        // --config gives the trust zone and tags.required; the flags add to its trust zone.
        let config = match &args.config {
            Some(path) => crate::config::Config::load(Some(path))
                .map_err(|e| UsageError(format!("--config {}: {e}", path.display())))?,
            None => crate::config::Config::default(),
        };
        let settings = crate::analysis::AnalysisSettings::from_config(&config);
        if let Some(r) = &args.region {
            if !is_region_name(r) {
                return Err(UsageError(format!(
                    "--region {r:?} is not an AWS region name"
                )));
            }
        }
        let mut owner = None;
        if let Some(a) = &args.account {
            if !is_account(a) {
                return Err(UsageError(format!(
                    "--account {a:?} is not a 12-digit AWS account id"
                )));
            }
            owner = Some(a.clone());
        }
        let mut arn_region = None;
        if let Some(arn) = &args.repository_arn {
            let Some((region, account)) = parse_repository_arn(arn) else {
                return Err(UsageError(format!(
                    "--repository-arn {arn:?} is not an ECR repository ARN (arn:aws:ecr:REGION:ACCOUNT:repository/NAME)"
                )));
            };
            arn_region = Some(region);
            if owner.is_none() {
                owner = Some(account);
            }
        }
        let mut trusted_accounts = settings.trusted_accounts.clone();
        for a in &args.trusted_accounts {
            if !is_account(a) {
                return Err(UsageError(format!(
                    "--trusted-account {a:?} is not a 12-digit AWS account id"
                )));
            }
            trusted_accounts.insert(a.clone());
        }
        let mut trusted_orgs = settings.trusted_orgs.clone();
        for o in &args.trusted_orgs {
            if !is_org(o) {
                return Err(UsageError(format!(
                    "--trusted-org {o:?} is not an organization id (o- followed by 10 to 32 lower-case letters or digits)"
                )));
            }
            trusted_orgs.insert(o.clone());
        }
        let target = if args.registry {
            Target::Registry {
                region: arn_region,
                scope: match args.registry_scope {
                    Some(ScopeArg::V1) => RegistryScope::V1,
                    Some(ScopeArg::V2) | None => RegistryScope::V2,
                },
            }
        } else {
            Target::Repository {
                arn: args.repository_arn.clone(),
            }
        };
        Ok(CheckOptions {
            owner,
            trusted_accounts,
            trusted_orgs,
            target,
            format: args.format,
            fail_on: args.fail_on,
            input_type: args.input_type,
            region: args.region.clone(),
            required_tags: settings.required_tags,
        })
    }
}

/// The error part of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordError {
    pub code: String,
    pub message: String,
}

/// The result for one input: one JSON line, or one block of text.
///
/// Verdict fields are `None` (JSON `null`) when the input could not be judged, so that no
/// consumer can read "not exposed" into an invalid policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckRecord {
    /// File name as given, or `-` for standard input.
    pub source: String,
    pub public: Option<bool>,
    pub cross_account: Option<bool>,
    pub access: Option<Access>,
    pub network_restricted: Option<bool>,
    pub error: Option<RecordError>,
    pub grants: Vec<Grant>,
    /// Assumptions made for this input (synthetic owner, region) and engine remarks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// IaC inputs only: the resource, where it is written, missing tags (flattened).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub iac: Option<crate::iac::report::IacFields>,
}

impl CheckRecord {
    /// A record for an input that could not be judged: verdict fields null, error set.
    pub(crate) fn failed(source: &str, code: &str, message: String) -> Self {
        CheckRecord {
            source: source.to_string(),
            public: None,
            cross_account: None,
            access: None,
            network_restricted: None,
            error: Some(RecordError {
                code: code.to_string(),
                message,
            }),
            grants: Vec::new(),
            notes: Vec::new(),
            iac: None,
        }
    }

    /// True when the record is at or above the `--fail-on` threshold.
    pub fn fails(&self, fail_on: FailOn) -> bool {
        match fail_on {
            FailOn::Public => self.public == Some(true),
            FailOn::CrossAccount => self.public == Some(true) || self.cross_account == Some(true),
            FailOn::Never => false,
        }
    }
}

fn first_ecr_region(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(i) = rest.find(":ecr:") {
        let after = &rest[i + 5..];
        let region: String = after
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect();
        if !region.is_empty() && after[region.len()..].starts_with(':') {
            return Some(region);
        }
        rest = after;
    }
    None
}

/// Analyse one policy text and record the verdict (the per-input step of `check`).
pub fn check_policy_text(source: &str, text: &str, opts: &CheckOptions) -> CheckRecord {
    let mut notes = Vec::new();
    let owner = match &opts.owner {
        Some(o) => o.clone(),
        None => {
            let o = SYNTHETIC_OWNERS
                .iter()
                .find(|c| !text.contains(*c))
                .unwrap_or(&SYNTHETIC_OWNERS[0])
                .to_string();
            notes.push(format!(
                "no --account or --repository-arn: the owner is {o}, an account named nowhere in this input, so every account the policy names is outside the trust zone"
            ));
            o
        }
    };
    let trust = Trust {
        owner_account: owner.clone(),
        trusted_accounts: opts.trusted_accounts.clone(),
        trusted_orgs: opts.trusted_orgs.clone(),
    };
    let result = match &opts.target {
        Target::Repository { arn } => {
            let arn = match arn {
                Some(a) => a.clone(),
                None => {
                    let a = format!(
                        "arn:aws:ecr:{DEFAULT_REGION}:{owner}:repository/{DEFAULT_REPOSITORY_NAME}"
                    );
                    notes.push(format!("no --repository-arn: judged as attached to {a}"));
                    a
                }
            };
            let subject = Subject::Repository {
                arn: &arn,
                tags: None,
            };
            policy::analyze(text, &subject, &trust)
        }
        Target::Registry { region, scope } => {
            let region = match region {
                Some(r) => r.clone(),
                None => {
                    let r = first_ecr_region(text).unwrap_or_else(|| DEFAULT_REGION.to_string());
                    notes.push(format!(
                        "registry region {r} (from the policy's ECR ARNs, else the default)"
                    ));
                    r
                }
            };
            let subject = Subject::Registry {
                account_id: &owner,
                region: &region,
                scope: *scope,
            };
            policy::analyze(text, &subject, &trust)
        }
    };
    match result {
        Ok(v) => {
            notes.extend(v.notes);
            CheckRecord {
                source: source.to_string(),
                public: Some(v.public),
                cross_account: Some(v.cross_account),
                access: Some(v.access),
                network_restricted: Some(v.network_restricted),
                error: None,
                grants: v.grants,
                notes,
                iac: None,
            }
        }
        Err(e) => {
            let message = if e.path.is_empty() {
                e.message
            } else {
                format!("{} (at {})", e.message, e.path)
            };
            let mut r = CheckRecord::failed(source, e.code.as_str(), message);
            r.notes = notes;
            r
        }
    }
}

/// All records of one input: one for a policy document, one per ECR resource of a
/// Terraform plan or CloudFormation template.
pub fn check_input(source: &str, text: &str, opts: &CheckOptions) -> Vec<CheckRecord> {
    use crate::iac;
    let input = match opts.input_type {
        Some(InputType::Policy) => iac::InputType::Policy,
        Some(InputType::TerraformPlan) => iac::InputType::TerraformPlan,
        Some(InputType::Cloudformation) => iac::InputType::Cloudformation,
        None => iac::detect(text),
    };
    if input == iac::InputType::Policy {
        if text.len() > MAX_POLICY_BYTES {
            return vec![CheckRecord::failed(
                source,
                "too_large",
                format!("input is larger than the {MAX_POLICY_BYTES} byte limit"),
            )];
        }
        return vec![check_policy_text(source, text, opts)];
    }
    let ctx = iac::ResolveContext {
        account: opts.owner.clone(),
        region: opts.region.clone(),
    };
    let settings = iac::gate::GateSettings {
        trust: Trust {
            owner_account: opts.owner.clone().unwrap_or_default(),
            trusted_accounts: opts.trusted_accounts.clone(),
            trusted_orgs: opts.trusted_orgs.clone(),
        },
        required_tags: opts.required_tags.clone(),
        registry_scope: match opts.target {
            Target::Registry { scope, .. } => scope,
            Target::Repository { .. } => RegistryScope::V2,
        },
        region: opts.region.clone(),
    };
    iac::report::records(source, text, input, &ctx, &settings)
}

/// Read one input (`-` is standard input), at most one byte past the policy size limit.
/// Errs with `(code, message)`.
fn read_input(source: &str) -> Result<String, (&'static str, String)> {
    let limit = (crate::iac::MAX_INPUT_BYTES + 1) as u64;
    let mut buf = Vec::new();
    let res = if source == "-" {
        std::io::stdin().lock().take(limit).read_to_end(&mut buf)
    } else {
        std::fs::File::open(source).and_then(|f| f.take(limit).read_to_end(&mut buf))
    };
    if let Err(e) = res {
        return Err(("unreadable", format!("cannot read {source}: {e}")));
    }
    if buf.len() > crate::iac::MAX_INPUT_BYTES {
        return Err((
            "too_large",
            format!(
                "input is larger than the {} byte limit",
                crate::iac::MAX_INPUT_BYTES
            ),
        ));
    }
    String::from_utf8(buf).map_err(|_| ("invalid_json", "input is not UTF-8 text".to_string()))
}

/// One JSON line per record.
pub fn render_json(rec: &CheckRecord) -> String {
    serde_json::to_string(rec).unwrap_or_else(|e| {
        format!(
            "{{\"source\":{:?},\"public\":null,\"cross_account\":null,\"access\":null,\"network_restricted\":null,\"error\":{{\"code\":\"internal\",\"message\":{:?}}},\"grants\":[]}}",
            rec.source,
            e.to_string()
        )
    })
}

fn audience_words(g: &Grant) -> String {
    use crate::analysis::policy::Audience;
    match &g.audience {
        Audience::Everyone if g.network_restricted => {
            "any AWS account, from the networks the policy names".into()
        }
        Audience::Everyone => "everyone (any AWS account)".into(),
        Audience::Account { account_id } => format!("untrusted account {account_id}"),
        Audience::Organization { org_id } => format!("untrusted organization {org_id}"),
        Audience::Service { service } if service == "*" => {
            "any AWS service acting for an untrusted account".into()
        }
        Audience::Service { service } => format!("{service} acting for an untrusted account"),
    }
}

/// Human-readable block: the verdict first, then each grant explained.
pub fn render_text(rec: &CheckRecord) -> String {
    let mut out = String::new();
    let verdict = match (&rec.error, rec.public, rec.cross_account, rec.access) {
        (Some(e), ..) => format!("INVALID ({}): {}", e.code, e.message),
        (None, Some(true), _, Some(a)) => format!("PUBLIC, {} access", a.as_label()),
        (None, _, Some(true), Some(a)) => format!(
            "CROSS-ACCOUNT, {} access{}",
            a.as_label(),
            if rec.network_restricted == Some(true) {
                " (network-restricted: not public only because of a fixed source network)"
            } else {
                ""
            }
        ),
        _ => "not exposed outside the trust zone".into(),
    };
    out.push_str(&format!("{}: {verdict}\n", rec.source));
    for (i, g) in rec.grants.iter().enumerate() {
        let sid = g
            .sid
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        out.push_str(&format!(
            "  grant {}: statement {}{sid} -> {}: {} [{}]\n",
            i + 1,
            g.statement,
            audience_words(g),
            g.access.as_label(),
            g.action_summary()
        ));
        for e in &g.explanation {
            out.push_str(&format!("    - {e}\n"));
        }
    }
    for n in &rec.notes {
        out.push_str(&format!("  note: {n}\n"));
    }
    out
}

/// Run `check`; returns the process exit code.
pub fn run(args: &CheckArgs) -> u8 {
    let opts = match CheckOptions::from_args(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("check: {e}");
            return 2;
        }
    };
    if args.files.iter().filter(|f| *f == "-").count() > 1 {
        eprintln!("check: standard input (-) can be given only once");
        return 2;
    }
    let mut invalid = false;
    let mut exposed = false;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let registry = matches!(opts.target, Target::Registry { .. });
    let mut sarif = Vec::new();
    for source in &args.files {
        let recs = match read_input(source) {
            Ok(text) => check_input(source, &text, &opts),
            Err((code, message)) => vec![CheckRecord::failed(source, code, message)],
        };
        if recs.is_empty() && opts.format == CheckFormat::Text {
            let _ = writeln!(out, "{source}: no ECR resources");
        }
        for rec in recs {
            // A policy known only at deploy is not invalid input, and never passes.
            let unknown = crate::iac::report::is_unknown(&rec);
            invalid |= rec.error.is_some() && !unknown;
            exposed |= rec.fails(opts.fail_on) || (unknown && opts.fail_on != FailOn::Never);
            let line = match opts.format {
                CheckFormat::Json => render_json(&rec) + "\n",
                CheckFormat::Sarif => {
                    sarif.extend(crate::iac::report::sarif_findings(&rec, registry));
                    continue;
                }
                CheckFormat::Text => {
                    crate::iac::report::render_text(&rec).unwrap_or_else(|| render_text(&rec))
                }
            };
            if out.write_all(line.as_bytes()).is_err() {
                return 2;
            }
        }
    }
    if opts.format == CheckFormat::Sarif {
        let log = crate::iac::sarif::render(&sarif, crate::VERSION);
        let text = serde_json::to_string_pretty(&log).unwrap_or_default();
        if writeln!(out, "{text}").is_err() {
            return 2;
        }
    }
    let _ = out.flush();
    if invalid {
        2
    } else if exposed {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> CheckOptions {
        CheckOptions {
            owner: Some("111111111111".into()),
            trusted_accounts: BTreeSet::new(),
            trusted_orgs: BTreeSet::new(),
            target: Target::Repository { arn: None },
            format: CheckFormat::Json,
            fail_on: FailOn::Public,
            input_type: None,
            region: None,
            required_tags: vec!["owner".into()],
        }
    }

    #[test]
    fn record_shape_and_thresholds() {
        let rec = check_policy_text(
            "p.json",
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"ecr:ListImages"}}"#,
            &opts(),
        );
        assert_eq!(rec.cross_account, Some(true));
        assert!(!rec.fails(FailOn::Public));
        assert!(rec.fails(FailOn::CrossAccount));
        assert!(!rec.fails(FailOn::Never));
        let v: serde_json::Value = serde_json::from_str(&render_json(&rec)).unwrap();
        assert_eq!(v["access"], "read");
        assert!(v["error"].is_null());
        let bad = check_policy_text("b.json", "{", &opts());
        let v: serde_json::Value = serde_json::from_str(&render_json(&bad)).unwrap();
        assert!(v["public"].is_null());
        assert_eq!(v["error"]["code"], "invalid_json");
        assert!(render_text(&bad).contains("INVALID (invalid_json)"));
    }

    #[test]
    fn synthetic_owner_is_named_nowhere() {
        let mut o = opts();
        o.owner = None;
        let rec = check_policy_text(
            "-",
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"000000000000"},"Action":"ecr:ListImages"}}"#,
            &o,
        );
        assert_eq!(rec.cross_account, Some(true));
        assert!(rec.notes[0].contains("999999999999"), "{:?}", rec.notes);
    }

    #[test]
    fn helpers() {
        assert_eq!(
            parse_repository_arn("arn:aws:ecr:eu-west-1:123456789012:repository/a/b"),
            Some(("eu-west-1".into(), "123456789012".into()))
        );
        assert_eq!(parse_repository_arn("arn:aws:s3:::bucket"), None);
        assert_eq!(
            first_ecr_region(r#""Resource":"arn:aws:ecr:ap-south-1:1:repository/*""#).as_deref(),
            Some("ap-south-1")
        );
        assert!(is_org("o-abcdefghij"));
        assert!(!is_org("o-ABCDEFGHIJ"));
        assert!(!is_org("o-short"));
    }
}
