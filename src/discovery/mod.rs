//! Discovery: which targets (account x region) to scan, and with which credentials.
//!
//! Accounts come from the ambient credentials (`current`), the static list, or AWS
//! Organizations (`ListAccounts`, ACTIVE only; OU include/exclude by walking
//! `ListChildren` + `ListAccountsForParent` below each OU; `DescribeOrganization` for the
//! organization id). Every account other than the one the exporter runs in is reached by
//! assuming a role (session name `ecr-exposure-exporter`); the session is cached and renewed
//! before expiry by [`crate::aws`]. Regions come from each account's Account API
//! `ListRegions` (ENABLED and ENABLED_BY_DEFAULT), narrowed by `regions` and `exclude_regions`.
//!
//! An account whose role cannot be assumed, or whose regions cannot be listed, yields failed
//! targets: it is reported, never silently dropped. Makes AWS calls only through [`Aws`].

pub mod shard;

use std::collections::BTreeSet;

use aws_sdk_account::types::RegionOptStatus;
use aws_sdk_organizations::types::{AccountState, AccountStatus, ChildType};
use futures::StreamExt;

use crate::analysis::AnalysisSettings;
use crate::aws::{AccountCredentials, ApiErrorCode, Aws, CallError};
use crate::config::{AccountSelector, Config, DiscoveryMode, RegionSelection};
use crate::facts::{TargetError, TargetErrorCode, TargetId};
use crate::model::Region;

/// Region of a failed target when the account's regions could not be learnt.
pub const ALL_REGIONS: &str = "*";

/// One target to scan, with the credentials of its account.
#[derive(Debug, Clone)]
pub struct Target {
    pub id: TargetId,
    pub credentials: AccountCredentials,
}

/// What discovery found: targets, failed targets, and what widens the trust zone.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// The account of the ambient credentials.
    pub caller_account: String,
    /// With organizations discovery: the organization id.
    pub organization_id: Option<String>,
    /// With organizations discovery: every account listed in the organization.
    pub organization_accounts: BTreeSet<String>,
    /// Targets to scan, sorted.
    pub targets: Vec<Target>,
    /// Targets that failed before collection (role or region discovery), sorted.
    pub failures: Vec<(TargetId, TargetError)>,
}

impl Discovery {
    /// The configuration's trust and tag rules plus, with `trust.organization_accounts`,
    /// the discovered organization id and member accounts.
    pub fn analysis_settings(&self, config: &Config) -> AnalysisSettings {
        let mut s = AnalysisSettings::from_config(config);
        if config.trust.organization_accounts {
            if let Some(org) = &self.organization_id {
                s.trusted_orgs.insert(org.clone());
            }
            s.trusted_accounts
                .extend(self.organization_accounts.iter().cloned());
        }
        s
    }
}

fn target_error(code: TargetErrorCode, context: &str, err: &CallError) -> TargetError {
    TargetError {
        code,
        message: format!("{context}: {}", err.message),
    }
}

/// Code of a whole-target failure from a call's error class.
pub fn code_for(class: ApiErrorCode) -> TargetErrorCode {
    match class {
        ApiErrorCode::AccessDenied => TargetErrorCode::AccessDenied,
        ApiErrorCode::Throttling => TargetErrorCode::Throttled,
        ApiErrorCode::Timeout => TargetErrorCode::Timeout,
        ApiErrorCode::NotFound | ApiErrorCode::Other => TargetErrorCode::Error,
    }
}

/// Find the targets. `Err` only when the account list itself cannot be had (the caller's
/// identity, or the organization's accounts): then there is nothing to scan at all.
pub async fn discover(aws: &Aws, config: &Config) -> Result<Discovery, TargetError> {
    let ambient = aws.ambient();
    let sts = aws.sts(&ambient);
    let who = aws
        .send("sts", "GetCallerIdentity", sts.get_caller_identity().send())
        .await
        .map_err(|e| {
            target_error(
                TargetErrorCode::DiscoveryFailed,
                "sts:GetCallerIdentity",
                &e,
            )
        })?;
    let caller = who.account().unwrap_or_default().to_string();
    if caller.is_empty() {
        return Err(TargetError {
            code: TargetErrorCode::DiscoveryFailed,
            message: "sts:GetCallerIdentity returned no account".into(),
        });
    }

    let accounts_cfg = &config.accounts;
    let mut organization_id = None;
    let mut organization_accounts = BTreeSet::new();
    // (account id, credentials)
    let mut accounts: Vec<(String, AccountCredentials)> = Vec::new();
    match accounts_cfg.discovery {
        DiscoveryMode::Current => accounts.push((caller.clone(), ambient.clone())),
        DiscoveryMode::Static => {
            for s in &accounts_cfg.static_accounts {
                let external = s
                    .external_id
                    .as_deref()
                    .or(accounts_cfg.external_id.as_deref());
                let creds = match &s.role_arn {
                    Some(arn) => aws.assume_role(arn, external),
                    None if s.id == caller => ambient.clone(),
                    None => aws.assume_role(
                        &format!("arn:aws:iam::{}:role/{}", s.id, accounts_cfg.role_name),
                        external,
                    ),
                };
                accounts.push((s.id.to_string(), creds));
            }
        }
        DiscoveryMode::Organizations => {
            let org = aws.organizations(&ambient);
            let described = aws
                .send(
                    "organizations",
                    "DescribeOrganization",
                    org.describe_organization().send(),
                )
                .await
                .map_err(|e| {
                    target_error(
                        TargetErrorCode::DiscoveryFailed,
                        "organizations:DescribeOrganization",
                        &e,
                    )
                })?;
            organization_id = described
                .organization()
                .and_then(|o| o.id())
                .map(str::to_string);
            let mut active = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let page = aws
                    .send(
                        "organizations",
                        "ListAccounts",
                        org.list_accounts().set_next_token(token.clone()).send(),
                    )
                    .await
                    .map_err(|e| {
                        target_error(
                            TargetErrorCode::DiscoveryFailed,
                            "organizations:ListAccounts",
                            &e,
                        )
                    })?;
                for a in page.accounts() {
                    let Some(id) = a.id() else { continue };
                    organization_accounts.insert(id.to_string());
                    #[allow(deprecated)]
                    let is_active = match a.state() {
                        Some(state) => *state == AccountState::Active,
                        None => a.status() == Some(&AccountStatus::Active),
                    };
                    if is_active {
                        active.push(id.to_string());
                    } else {
                        tracing::info!(account_id = id, "skipping account that is not ACTIVE");
                    }
                }
                token = page.next_token().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
            for id in active {
                let creds = if id == caller {
                    ambient.clone()
                } else {
                    aws.assume_role(
                        &format!("arn:aws:iam::{id}:role/{}", accounts_cfg.role_name),
                        accounts_cfg.external_id.as_deref(),
                    )
                };
                accounts.push((id, creds));
            }
        }
    }

    // include / exclude (OU ids expand to every account below them)
    let include = expand(aws, &ambient, &accounts_cfg.include).await?;
    let exclude = expand(aws, &ambient, &accounts_cfg.exclude).await?;
    accounts.retain(|(id, _)| {
        (accounts_cfg.include.is_empty() || include.contains(id)) && !exclude.contains(id)
    });

    // per account: credentials, then regions
    let per_account = futures::stream::iter(accounts)
        .map(|(id, creds)| account_targets(aws, config, id, creds))
        .buffer_unordered(config.scan.target_concurrency.max(1))
        .collect::<Vec<_>>()
        .await;

    let mut targets = Vec::new();
    let mut failures = Vec::new();
    for (account_id, creds, result) in per_account {
        match result {
            Ok(regions) => targets.extend(regions.into_iter().map(|region| Target {
                id: TargetId {
                    account_id: account_id.clone(),
                    region,
                },
                credentials: creds.clone(),
            })),
            Err((regions, err)) => failures.extend(regions.into_iter().map(|region| {
                (
                    TargetId {
                        account_id: account_id.clone(),
                        region,
                    },
                    err.clone(),
                )
            })),
        }
    }
    targets.sort_by(|a, b| a.id.cmp(&b.id));
    failures.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Discovery {
        caller_account: caller,
        organization_id,
        organization_accounts,
        targets,
        failures,
    })
}

/// Regions the configuration asks for, before the account is asked (used to name failed
/// targets when the account cannot be reached).
fn configured_regions(config: &Config) -> Vec<String> {
    match &config.regions {
        RegionSelection::All => vec![ALL_REGIONS.to_string()],
        RegionSelection::List(list) => list
            .iter()
            .filter(|r| !config.exclude_regions.contains(*r))
            .map(|r| r.to_string())
            .collect(),
    }
}

/// The regions to scan in one account, or the targets to mark failed and why.
async fn account_targets(
    aws: &Aws,
    config: &Config,
    account_id: String,
    creds: AccountCredentials,
) -> (String, AccountCredentials, AccountRegions) {
    let regions = account_regions(aws, config, &account_id, &creds).await;
    (account_id, creds, regions)
}

type AccountRegions = Result<Vec<String>, (Vec<String>, TargetError)>;

async fn account_regions(
    aws: &Aws,
    config: &Config,
    account_id: &str,
    creds: &AccountCredentials,
) -> AccountRegions {
    if let Err(e) = creds.check().await {
        let role = creds.role_arn.as_deref().unwrap_or("ambient credentials");
        tracing::warn!(account_id, role, error = %e.message, "cannot assume role");
        return Err((
            configured_regions(config),
            target_error(
                TargetErrorCode::AssumeRoleFailed,
                &format!("sts:AssumeRole {role}"),
                &e,
            ),
        ));
    }
    let client = aws.account(creds);
    let mut enabled = Vec::new();
    let mut token: Option<String> = None;
    let listed = loop {
        let call = client
            .list_regions()
            .region_opt_status_contains(RegionOptStatus::Enabled)
            .region_opt_status_contains(RegionOptStatus::EnabledByDefault)
            .max_results(50)
            .set_next_token(token.clone())
            .send();
        match aws.send("account", "ListRegions", call).await {
            Ok(page) => {
                for r in page.regions() {
                    let on = matches!(
                        r.region_opt_status(),
                        Some(RegionOptStatus::Enabled | RegionOptStatus::EnabledByDefault)
                    );
                    if let (true, Some(name)) = (on, r.region_name()) {
                        enabled.push(name.to_string());
                    }
                }
                token = page.next_token().map(str::to_string);
                if token.is_none() {
                    break Ok(enabled);
                }
            }
            Err(e) => break Err(e),
        }
    };
    let regions = match (listed, &config.regions) {
        (Ok(enabled), RegionSelection::All) => enabled,
        (Ok(enabled), RegionSelection::List(list)) => {
            let is_enabled = |r: &&Region| enabled.iter().any(|e| e == r.as_str());
            for r in list.iter().filter(|r| !is_enabled(r)) {
                tracing::info!(account_id, region = %r, "region not enabled in the account; not scanned");
            }
            list.iter()
                .filter(is_enabled)
                .map(|r| r.to_string())
                .collect()
        }
        (Err(e), RegionSelection::List(list)) => {
            // The listed regions are still scanned; a disabled one then fails on its own.
            tracing::warn!(account_id, error = %e.message, "account:ListRegions failed; scanning the configured regions");
            list.iter().map(|r| r.to_string()).collect()
        }
        (Err(e), RegionSelection::All) => {
            return Err((
                vec![ALL_REGIONS.to_string()],
                target_error(
                    TargetErrorCode::RegionUnavailable,
                    "account:ListRegions",
                    &e,
                ),
            ));
        }
    };
    let mut regions: Vec<String> = regions
        .into_iter()
        .filter(|r| !config.exclude_regions.contains(r.as_str()))
        .collect();
    regions.sort();
    regions.dedup();
    Ok(regions)
}

/// Account ids named by the selectors; OU ids expand to every account below them.
async fn expand(
    aws: &Aws,
    ambient: &AccountCredentials,
    selectors: &[AccountSelector],
) -> Result<BTreeSet<String>, TargetError> {
    let mut out = BTreeSet::new();
    let mut ous = Vec::new();
    for s in selectors {
        match s {
            AccountSelector::Account(id) => {
                out.insert(id.to_string());
            }
            AccountSelector::OrganizationalUnit(ou) => ous.push(ou.clone()),
        }
    }
    if ous.is_empty() {
        return Ok(out);
    }
    let org = aws.organizations(ambient);
    let fail = |op: &str, e: &CallError| target_error(TargetErrorCode::DiscoveryFailed, op, e);
    while let Some(parent) = ous.pop() {
        let mut token: Option<String> = None;
        loop {
            let page = aws
                .send(
                    "organizations",
                    "ListAccountsForParent",
                    org.list_accounts_for_parent()
                        .parent_id(&parent)
                        .set_next_token(token.clone())
                        .send(),
                )
                .await
                .map_err(|e| fail("organizations:ListAccountsForParent", &e))?;
            out.extend(
                page.accounts()
                    .iter()
                    .filter_map(|a| a.id().map(str::to_string)),
            );
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        loop {
            let page = aws
                .send(
                    "organizations",
                    "ListChildren",
                    org.list_children()
                        .parent_id(&parent)
                        .child_type(ChildType::OrganizationalUnit)
                        .set_next_token(token.clone())
                        .send(),
                )
                .await
                .map_err(|e| fail("organizations:ListChildren", &e))?;
            ous.extend(
                page.children()
                    .iter()
                    .filter_map(|c| c.id().map(str::to_string)),
            );
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_accounts_name_configured_regions_or_all() {
        let all = Config::from_yaml_str("{}").unwrap();
        assert_eq!(configured_regions(&all), vec![ALL_REGIONS]);
        let list = Config::from_yaml_str(
            "regions: [us-east-1, eu-west-1, ap-east-1]\nexclude_regions: [ap-east-1]\n",
        )
        .unwrap();
        assert_eq!(configured_regions(&list), vec!["us-east-1", "eu-west-1"]);
    }

    #[test]
    fn organization_trust_is_added_only_when_configured() {
        let d = Discovery {
            caller_account: "123456789012".into(),
            organization_id: Some("o-abcdefghij".into()),
            organization_accounts: ["111122223333".to_string()].into_iter().collect(),
            targets: Vec::new(),
            failures: Vec::new(),
        };
        let on = Config::from_yaml_str("{}").unwrap();
        let s = d.analysis_settings(&on);
        assert!(s.trusted_orgs.contains("o-abcdefghij"));
        assert!(s.trusted_accounts.contains("111122223333"));
        let off = Config::from_yaml_str("trust:\n  organization_accounts: false\n").unwrap();
        let s = d.analysis_settings(&off);
        assert!(s.trusted_orgs.is_empty() && s.trusted_accounts.is_empty());
    }
}
