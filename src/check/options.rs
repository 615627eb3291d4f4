//! `check` flags -> validated [`CheckOptions`], and every default an input leaves open.
//!
//! Owns the usage errors (exit status 2) and the choice, per input, of the [`Subject`] a
//! policy is judged on: which owner account, which region, which repository ARN, each
//! assumption said in a note. Nothing else in `check` picks a default.
//!
//! Policy files (`check_policy_text`):
//! - owner: `--account`, else the account of `--repository-arn`, else a synthetic 12-digit
//!   id that the input does not contain (every account the policy names is then outside
//!   the trust zone; the output says so);
//! - repository: `--repository-arn`, else `arn:aws:ecr:us-east-1:OWNER:repository/checked`;
//! - with `--registry`, region: that of `--repository-arn`, else the first well-formed ECR
//!   ARN region in the policy, else `us-east-1`; scope `--registry-scope` (default v2).
//!
//! IaC resources:
//! - owner: `--account` (or `--repository-arn`'s), else the account of an ARN the plan
//!   already knows, else a synthetic id the policy does not name;
//! - region: `--region`, else the plan's provider region, else the region of the ARN the
//!   plan knows, else the region right after the policy's first `:ecr:`, else `us-east-1`;
//! - repository: the ARN the plan knows, else one built from the name (or a placeholder
//!   when the name is known only at deploy).
//!
//! The two kinds of input drew synthetic owners from different sequences and sniffed
//! regions slightly differently before this module merged them; both variants are kept
//! ([`OwnerScheme`], [`Sniff`]) so that every output stays what it was.

use std::collections::BTreeSet;

use super::judge::{Attached, Subject};
use crate::analysis::policy::{RegistryScope, Trust};
use crate::cli::{CheckArgs, CheckFormat, FailOn, InputType, ScopeArg};
use crate::iac::{IacResource, ResolveContext, ResourceKind, intrinsics::partition};
use crate::model::{is_account_id as is_account, is_org_id as is_org, is_region_name};

/// Repository name used when no `--repository-arn` is given.
pub const DEFAULT_REPOSITORY_NAME: &str = "checked";
/// Region used when nothing else names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Synthetic owner candidates for policy files: the first one absent from the input is used.
const POLICY_FILE_OWNERS: [&str; 6] = [
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

/// Validated `check` options: everything the per-input steps need.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// `--account`, else the account of `--repository-arn`; `None`: a synthetic owner
    /// named nowhere in the input, chosen per input.
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

/// The owner given on the command line and the region of `--repository-arn`.
fn owner_and_arn_region(args: &CheckArgs) -> Result<(Option<String>, Option<String>), UsageError> {
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
        owner = owner.or(Some(account));
    }
    Ok((owner, arn_region))
}

/// The trust zone: `--config`'s, plus the `--trusted-*` flags.
fn trust_zone(
    args: &CheckArgs,
    mut accounts: BTreeSet<String>,
    mut orgs: BTreeSet<String>,
) -> Result<(BTreeSet<String>, BTreeSet<String>), UsageError> {
    for a in &args.trusted_accounts {
        if !is_account(a) {
            return Err(UsageError(format!(
                "--trusted-account {a:?} is not a 12-digit AWS account id"
            )));
        }
        accounts.insert(a.clone());
    }
    for o in &args.trusted_orgs {
        if !is_org(o) {
            return Err(UsageError(format!(
                "--trusted-org {o:?} is not an organization id (o- followed by 10 to 32 lower-case letters or digits)"
            )));
        }
        orgs.insert(o.clone());
    }
    Ok((accounts, orgs))
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
        let (owner, arn_region) = owner_and_arn_region(args)?;
        let (trusted_accounts, trusted_orgs) = trust_zone(
            args,
            settings.trusted_accounts.clone(),
            settings.trusted_orgs.clone(),
        )?;
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

    fn trust(&self, owner: String) -> Trust {
        Trust {
            owner_account: owner,
            trusted_accounts: self.trusted_accounts.clone(),
            trusted_orgs: self.trusted_orgs.clone(),
        }
    }

    /// What the IaC readers may substitute for `AWS::AccountId` and `AWS::Region`.
    pub fn resolve_context(&self) -> ResolveContext {
        ResolveContext {
            account: self.owner.clone(),
            region: self.region.clone(),
        }
    }

    /// Registry permission scope (spec §10): `--registry-scope` under `--registry`, else V2.
    fn registry_scope(&self) -> RegistryScope {
        match self.target {
            Target::Registry { scope, .. } => scope,
            Target::Repository { .. } => RegistryScope::V2,
        }
    }

    /// The subject of a plain policy file; each default taken is said in `notes`.
    pub fn policy_file_subject(&self, text: &str, notes: &mut Vec<String>) -> Subject {
        let owner = self.owner.clone().unwrap_or_else(|| {
            let o = synthetic_owner(text, OwnerScheme::PolicyFile);
            notes.push(format!(
                "no --account or --repository-arn: the owner is {o}, an account named nowhere in this input, so every account the policy names is outside the trust zone"
            ));
            o
        });
        let attached = match &self.target {
            Target::Repository { arn } => Attached::Repository {
                arn: arn.clone().unwrap_or_else(|| {
                    let a = format!(
                        "arn:aws:ecr:{DEFAULT_REGION}:{owner}:repository/{DEFAULT_REPOSITORY_NAME}"
                    );
                    notes.push(format!("no --repository-arn: judged as attached to {a}"));
                    a
                }),
            },
            Target::Registry { region, scope } => Attached::Registry {
                region: region.clone().unwrap_or_else(|| {
                    let r = ecr_arn_region(text, Sniff::FirstWellFormed)
                        .unwrap_or_else(|| DEFAULT_REGION.to_string());
                    notes.push(format!(
                        "registry region {r} (from the policy's ECR ARNs, else the default)"
                    ));
                    r
                }),
                scope: *scope,
            },
        };
        Subject {
            trust: self.trust(owner),
            attached,
        }
    }

    /// The subject of an IaC resource whose policy is `text`; each default taken is said
    /// in `notes`.
    pub fn resource_subject(
        &self,
        res: &IacResource,
        text: &str,
        notes: &mut Vec<String>,
    ) -> Subject {
        let known_arn = res.repository_arn.as_deref();
        let owner = self
            .owner
            .clone()
            .or_else(|| arn_field(known_arn, 4))
            .unwrap_or_else(|| {
                let o = synthetic_owner(text, OwnerScheme::IacResource);
                notes.push(format!(
                    "owner account not given (--account): assumed {o}, an account the policy does not name, so every named account counts as outside"
                ));
                o
            });
        let region = self
            .region
            .clone()
            .or_else(|| res.region.clone())
            .or_else(|| arn_field(known_arn, 3))
            .or_else(|| ecr_arn_region(text, Sniff::FirstMention))
            .unwrap_or_else(|| {
                notes.push(
                    "region not given (--region): assumed us-east-1 for Resource matching"
                        .to_string(),
                );
                DEFAULT_REGION.to_string()
            });
        let attached = match res.kind {
            ResourceKind::RegistryPolicy => Attached::Registry {
                region,
                scope: self.registry_scope(),
            },
            ResourceKind::RepositoryPolicy | ResourceKind::Repository => Attached::Repository {
                arn: res.repository_arn.clone().unwrap_or_else(|| {
                    let name = res.repository_name.clone().unwrap_or_else(|| {
                        notes.push(
                            "repository name known only at deploy: a Resource naming a repository cannot be matched".to_string(),
                        );
                        "name-unknown-before-deploy".to_string()
                    });
                    format!(
                        "arn:{}:ecr:{region}:{owner}:repository/{name}",
                        partition(Some(&region))
                    )
                }),
            },
        };
        Subject {
            trust: self.trust(owner),
            attached,
        }
    }
}

/// Field `n` (0-based, `:`-separated) of an ARN, when present and not empty.
fn arn_field(arn: Option<&str>, n: usize) -> Option<String> {
    arn.and_then(|a| a.split(':').nth(n))
        .filter(|f| !f.is_empty())
        .map(str::to_string)
}

/// The sequence a synthetic owner is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OwnerScheme {
    /// Six memorable ids (`000000000000`, `999999999999`, ...): what policy files got.
    PolicyFile,
    /// `000000000000` counting up: what IaC resources got.
    IacResource,
}

/// An account id that does not occur in `text`: the first candidate of `scheme` absent
/// from it (the first candidate when every one occurs).
fn synthetic_owner(text: &str, scheme: OwnerScheme) -> String {
    let mut candidates: Box<dyn Iterator<Item = String>> = match scheme {
        OwnerScheme::PolicyFile => Box::new(POLICY_FILE_OWNERS.iter().map(|s| s.to_string())),
        OwnerScheme::IacResource => Box::new((0u64..=999_999_999_999).map(|n| format!("{n:012}"))),
    };
    candidates
        .find(|id| !text.contains(id.as_str()))
        .unwrap_or_else(|| POLICY_FILE_OWNERS[0].to_string())
}

/// How a region is read from a policy's ECR ARNs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sniff {
    /// The first `:ecr:REGION:` (policy files: a wildcard or malformed one is skipped).
    FirstWellFormed,
    /// What follows the first `:ecr:`, no trailing `:` needed (IaC resources).
    FirstMention,
}

/// The region named by the policy's ECR ARNs, read as `sniff` says.
fn ecr_arn_region(text: &str, sniff: Sniff) -> Option<String> {
    let mut rest = text;
    while let Some(i) = rest.find(":ecr:") {
        let after = &rest[i + ":ecr:".len()..];
        let len = after
            .bytes()
            .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            .count();
        let region = &after[..len];
        match sniff {
            Sniff::FirstMention => return (!region.is_empty()).then(|| region.to_string()),
            Sniff::FirstWellFormed if !region.is_empty() && after[len..].starts_with(':') => {
                return Some(region.to_string());
            }
            Sniff::FirstWellFormed => rest = after,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iac::{PolicySource, TagsSource};

    fn opts(owner: Option<&str>) -> CheckOptions {
        CheckOptions {
            owner: owner.map(str::to_string),
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

    fn resource(kind: ResourceKind) -> IacResource {
        IacResource {
            resource: "r".into(),
            resource_type: "t".into(),
            kind,
            line: None,
            policy: PolicySource::Absent,
            tags: TagsSource::NotApplicable,
            repository_name: None,
            repository_arn: None,
            region: None,
            notes: vec![],
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(
            parse_repository_arn("arn:aws:ecr:eu-west-1:123456789012:repository/a/b"),
            Some(("eu-west-1".into(), "123456789012".into()))
        );
        assert_eq!(parse_repository_arn("arn:aws:s3:::bucket"), None);
        assert!(is_org("o-abcdefghij"));
        assert!(!is_org("o-ABCDEFGHIJ"));
        assert!(!is_org("o-short"));
    }

    #[test]
    fn synthetic_owner_schemes() {
        use OwnerScheme::*;
        assert_eq!(synthetic_owner("{}", PolicyFile), "000000000000");
        assert_eq!(synthetic_owner("000000000000", PolicyFile), "999999999999");
        assert_eq!(
            synthetic_owner(&POLICY_FILE_OWNERS.join(","), PolicyFile),
            "000000000000"
        );
        assert_eq!(synthetic_owner("{}", IacResource), "000000000000");
        assert_eq!(synthetic_owner("000000000000", IacResource), "000000000001");
    }

    #[test]
    fn region_sniffing_variants() {
        use Sniff::*;
        let wild = r#""arn:aws:ecr:*:1:repository/*","arn:aws:ecr:ap-south-1:1:repository/*""#;
        assert_eq!(
            ecr_arn_region(wild, FirstWellFormed).as_deref(),
            Some("ap-south-1")
        );
        assert_eq!(ecr_arn_region(wild, FirstMention), None);
        let bare = r#""x:ecr:eu-central-1""#;
        assert_eq!(ecr_arn_region(bare, FirstWellFormed), None);
        assert_eq!(
            ecr_arn_region(bare, FirstMention).as_deref(),
            Some("eu-central-1")
        );
        assert_eq!(ecr_arn_region("{}", FirstMention), None);
    }

    #[test]
    fn policy_file_defaults_are_noted() {
        let mut notes = vec![];
        let s = opts(None).policy_file_subject("{}", &mut notes);
        assert_eq!(s.trust.owner_account, "000000000000");
        assert_eq!(
            s.attached,
            Attached::Repository {
                arn: "arn:aws:ecr:us-east-1:000000000000:repository/checked".into()
            }
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
        let mut o = opts(Some("111111111111"));
        o.target = Target::Registry {
            region: None,
            scope: RegistryScope::V1,
        };
        let mut notes = vec![];
        let s = o.policy_file_subject(r#""arn:aws:ecr:eu-west-3:1:repository/x""#, &mut notes);
        assert_eq!(
            s.attached,
            Attached::Registry {
                region: "eu-west-3".into(),
                scope: RegistryScope::V1
            }
        );
        assert_eq!(
            notes,
            vec!["registry region eu-west-3 (from the policy's ECR ARNs, else the default)"]
        );
    }

    #[test]
    fn resource_defaults_follow_the_plan_then_the_text() {
        let mut res = resource(ResourceKind::RepositoryPolicy);
        res.repository_arn = Some("arn:aws:ecr:eu-west-1:222222222222:repository/app".into());
        let mut notes = vec![];
        let s = opts(None).resource_subject(&res, "{}", &mut notes);
        assert_eq!(s.trust.owner_account, "222222222222");
        assert!(notes.is_empty(), "{notes:?}");
        let mut res = resource(ResourceKind::Repository);
        res.repository_name = Some("app".into());
        res.region = Some("cn-north-1".into());
        let s = opts(Some("111111111111")).resource_subject(&res, "{}", &mut notes);
        assert_eq!(
            s.attached,
            Attached::Repository {
                arn: "arn:aws-cn:ecr:cn-north-1:111111111111:repository/app".into()
            }
        );
        assert!(notes.is_empty(), "{notes:?}");
        let res = resource(ResourceKind::RegistryPolicy);
        let s = opts(None).resource_subject(&res, "000000000000", &mut notes);
        assert_eq!(s.trust.owner_account, "000000000001");
        assert_eq!(
            s.attached,
            Attached::Registry {
                region: "us-east-1".into(),
                scope: RegistryScope::V2
            }
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
    }
}
