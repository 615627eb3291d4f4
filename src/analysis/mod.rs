//! Facts -> findings. Pure: no I/O, no clock, no async.
//!
//! Turns what collection observed in one target ([`TargetFacts`]) into per-repository and
//! per-registry reports (the JSON records of `scan --once` and `/findings`) and into the
//! finding set that the state layer tracks over time.
//!
//! Reads the validated [`Config`] for its settings and [`crate::facts`] for its input; never
//! imports a layer that runs after it (state, snapshot, http, the commands).

pub mod policy;
pub mod tags;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::facts::{
    PolicyFetch, RegistryFacts, RepositoryFacts, TagsSource, TargetFacts, TargetId, UnknownReason,
};
use policy::{Grant, Subject, Trust, Verdict};

pub use crate::model::{Access, FindingKey, FindingKind, FindingSubject, RegistryScope, Scope};

/// Trust zone and tag rules, as validated from the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnalysisSettings {
    /// Trusted accounts besides each target's own account.
    pub trusted_accounts: BTreeSet<String>,
    pub trusted_orgs: BTreeSet<String>,
    /// Required tag keys; the first one is the owner tag.
    pub required_tags: Vec<String>,
    /// Tag keys that mark a repository as managed by infrastructure as code.
    pub iac_tags: Vec<String>,
}

impl AnalysisSettings {
    /// The trust zone and tag rules from the configuration alone; discovery adds the
    /// organization and its members (see `discovery::Discovery::analysis_settings`).
    pub fn from_config(config: &Config) -> Self {
        AnalysisSettings {
            trusted_accounts: config
                .trust
                .accounts
                .iter()
                .map(|a| a.to_string())
                .collect(),
            trusted_orgs: config
                .trust
                .organizations
                .iter()
                .map(|o| o.to_string())
                .collect(),
            required_tags: config.tags.required.clone(),
            iac_tags: config.tags.iac.clone(),
        }
    }

    /// The trust zone for resources owned by `account_id`.
    pub fn trust_for(&self, account_id: &str) -> Trust {
        Trust {
            owner_account: account_id.to_string(),
            trusted_accounts: self.trusted_accounts.clone(),
            trusted_orgs: self.trusted_orgs.clone(),
        }
    }
}

/// What became of a policy: absent, analysed, unreadable, or unparseable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyState {
    None,
    Ok,
    Unknown,
    Invalid,
}

/// A machine-readable error: bounded `code`, human `message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    pub code: String,
    pub message: String,
}

/// The analysed policy: verdict fields are `None` when the state is unknown or invalid,
/// so that nobody can read "not exposed" into a policy we could not judge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyReport {
    pub policy_state: PolicyState,
    pub public: Option<bool>,
    pub cross_account: Option<bool>,
    pub access: Option<Access>,
    pub network_restricted: Option<bool>,
    pub grants: Vec<Grant>,
    pub error: Option<ErrorInfo>,
    /// Bounded reason for unknown/invalid states (metric label), not serialised.
    #[serde(skip)]
    pub unknown_reason: Option<UnknownReason>,
}

impl PolicyReport {
    fn from_fetch(fetch: &PolicyFetch, subject: &Subject<'_>, trust: &Trust) -> Self {
        match fetch {
            PolicyFetch::None => Self::from_verdict(PolicyState::None, Verdict::default()),
            PolicyFetch::Text { text } => match policy::analyze(text, subject, trust) {
                Ok(verdict) => Self::from_verdict(PolicyState::Ok, verdict),
                Err(err) => Self::failed(
                    PolicyState::Invalid,
                    UnknownReason::InvalidPolicy,
                    err.code.as_str().to_string(),
                    err.to_string(),
                ),
            },
            PolicyFetch::Unreadable { reason, message } => Self::failed(
                PolicyState::Unknown,
                *reason,
                reason.as_label().to_string(),
                message.clone(),
            ),
        }
    }

    fn from_verdict(state: PolicyState, v: Verdict) -> Self {
        PolicyReport {
            policy_state: state,
            public: Some(v.public),
            cross_account: Some(v.cross_account),
            access: Some(v.access),
            network_restricted: Some(v.network_restricted),
            grants: v.grants,
            error: None,
            unknown_reason: None,
        }
    }

    fn failed(state: PolicyState, reason: UnknownReason, code: String, message: String) -> Self {
        PolicyReport {
            policy_state: state,
            public: None,
            cross_account: None,
            access: None,
            network_restricted: None,
            grants: Vec::new(),
            error: Some(ErrorInfo { code, message }),
            unknown_reason: Some(reason),
        }
    }

    /// The exposure scope, if any: public wins over cross-account.
    pub fn scope(&self) -> Option<Scope> {
        if self.public == Some(true) {
            Some(Scope::Public)
        } else if self.cross_account == Some(true) {
            Some(Scope::CrossAccount)
        } else {
            None
        }
    }
}

/// One repository, analysed: the `kind: repository` record of `scan --once` and `/findings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryReport {
    pub account_id: String,
    pub region: String,
    pub repository: String,
    pub arn: String,
    pub created_at: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub tags_source: TagsSource,
    #[serde(flatten)]
    pub policy: PolicyReport,
    pub missing_tags: Vec<String>,
    pub iac_managed: bool,
    pub managed_by: Option<String>,
    /// Value of the first required tag, for routing.
    pub owner: Option<String>,
}

/// The registry of one target, analysed: the `kind: registry` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryReport {
    pub account_id: String,
    pub region: String,
    pub scope: RegistryScope,
    pub scope_known: bool,
    #[serde(flatten)]
    pub policy: PolicyReport,
}

/// All reports of one successfully scanned target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetReport {
    pub target: TargetId,
    pub repositories: Vec<RepositoryReport>,
    pub registry: Option<RegistryReport>,
}

/// Analyse one target's facts. Deterministic: same facts and settings, same report.
pub fn analyze_target(facts: &TargetFacts, settings: &AnalysisSettings) -> TargetReport {
    let trust = settings.trust_for(&facts.target.account_id);
    let repositories = facts
        .repositories
        .iter()
        .map(|repo| analyze_repository(&facts.target, repo, settings, &trust))
        .collect();
    let registry = facts
        .registry
        .as_ref()
        .map(|reg| analyze_registry(&facts.target, reg, &trust));
    TargetReport {
        target: facts.target.clone(),
        repositories,
        registry,
    }
}

fn analyze_repository(
    target: &TargetId,
    repo: &RepositoryFacts,
    settings: &AnalysisSettings,
    trust: &Trust,
) -> RepositoryReport {
    let tags_known = repo.tags_source != TagsSource::Unavailable;
    let subject = Subject::Repository {
        arn: &repo.arn,
        tags: tags_known.then_some(&repo.tags),
    };
    let managed_by = tags::managed_by(&repo.tags, &settings.iac_tags);
    RepositoryReport {
        account_id: target.account_id.clone(),
        region: target.region.clone(),
        repository: repo.name.clone(),
        arn: repo.arn.clone(),
        created_at: repo.created_at.clone(),
        tags: repo.tags.clone(),
        tags_source: repo.tags_source,
        policy: PolicyReport::from_fetch(&repo.policy, &subject, trust),
        missing_tags: if tags_known {
            tags::missing_tags(&repo.tags, &settings.required_tags)
        } else {
            Vec::new()
        },
        iac_managed: managed_by.is_some(),
        managed_by,
        owner: tags::owner(&repo.tags, &settings.required_tags),
    }
}

fn analyze_registry(target: &TargetId, reg: &RegistryFacts, trust: &Trust) -> RegistryReport {
    let subject = Subject::Registry {
        account_id: &target.account_id,
        region: &target.region,
        scope: reg.scope,
    };
    RegistryReport {
        account_id: target.account_id.clone(),
        region: target.region.clone(),
        scope: reg.scope,
        scope_known: reg.scope_known,
        policy: PolicyReport::from_fetch(&reg.policy, &subject, trust),
    }
}

/// One open finding as of a scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub key: FindingKey,
    /// Access level for exposure findings.
    pub access: Option<Access>,
    /// Reason for policy-unknown findings.
    pub reason: Option<UnknownReason>,
}

impl TargetReport {
    /// The open findings of this target, sorted by key.
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        let key = |repository: &str, kind, detail: &str| FindingKey {
            account_id: self.target.account_id.clone(),
            region: self.target.region.clone(),
            repository: repository.to_string(),
            kind,
            detail: detail.to_string(),
        };
        for repo in &self.repositories {
            if let Some(scope) = repo.policy.scope() {
                let kind = match scope {
                    Scope::Public => FindingKind::PublicExposure,
                    Scope::CrossAccount => FindingKind::CrossAccountExposure,
                };
                out.push(Finding {
                    key: key(&repo.repository, kind, ""),
                    access: repo.policy.access,
                    reason: None,
                });
            }
            if let Some(reason) = repo.policy.unknown_reason {
                out.push(Finding {
                    key: key(&repo.repository, FindingKind::PolicyUnknown, ""),
                    access: None,
                    reason: Some(reason),
                });
            }
            for tag in &repo.missing_tags {
                out.push(Finding {
                    key: key(&repo.repository, FindingKind::MissingTag, tag),
                    access: None,
                    reason: None,
                });
            }
        }
        if let Some(reg) = &self.registry {
            if let Some(scope) = reg.policy.scope() {
                out.push(Finding {
                    key: key("", FindingKind::RegistryExposure, scope.as_label()),
                    access: reg.policy.access,
                    reason: None,
                });
            }
            if let Some(reason) = reg.policy.unknown_reason {
                out.push(Finding {
                    key: key("", FindingKind::PolicyUnknown, "registry"),
                    access: None,
                    reason: Some(reason),
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_carry_trust_and_tags_from_the_config() {
        let c = Config::from_yaml_str(
            "trust:\n  accounts: [\"111122223333\"]\n  organizations: [o-abcdefghij]\ntags:\n  required: [owner, team]\n",
        )
        .unwrap();
        let s = AnalysisSettings::from_config(&c);
        assert!(s.trusted_accounts.contains("111122223333"));
        assert!(s.trusted_orgs.contains("o-abcdefghij"));
        assert_eq!(s.required_tags, vec!["owner", "team"]);
    }
}
