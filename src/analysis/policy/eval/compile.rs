//! Statements in the form the probes evaluate: action sets, principal entries, the resource
//! candidates each statement applies to, compiled condition clauses and their cost.
//!
//! Owns the subject's resource candidates and the link from principal entries to probe
//! accounts; must not look at probes or build probe values.

use std::borrow::Cow;
use std::collections::HashMap;

use smallvec::SmallVec;

use super::super::actions::{self, ActionNames, ActionSet};
use super::super::condition::{CClause, Key, Val};
use super::super::glob;
use super::super::parse::{BaseOp, Policy, Principal, Quantifier};
use super::super::principal::{self, PrincipalKind, is_account_id};
use super::super::{RegistryScope, Subject, Trust};
use super::world::World;
use super::{AccountIx, MAX_HARVEST_LEN};

/// Most resource candidates a registry subject is judged on.
const MAX_RESOURCES: usize = 16;

/// One principal entry; account indices are `None` until the probe accounts are known, and
/// stay `None` for an account no probe stands for.
#[derive(Debug, Clone)]
pub(super) enum PItem<'a> {
    Everyone(&'static str),
    /// (account index, account id).
    Account(Option<AccountIx>, &'a str),
    /// (account index, account id, ARN as written).
    Specific(Option<AccountIx>, &'a str, &'a str),
    Service(&'a str),
    Nobody(&'static str),
}

/// A compiled statement.
#[derive(Debug)]
pub(super) struct CStmt<'a> {
    pub allow: bool,
    pub not_principal: bool,
    pub items: Vec<PItem<'a>>,
    /// Sorted accounts named whole by `items` (binary-searched: long principal lists).
    pub whole: Vec<AccountIx>,
    /// Indices of the `items` that are not whole accounts or nobody.
    pub others: SmallVec<[usize; 4]>,
    pub actions: ActionSet,
    /// Per resource candidate: whether the statement's Resource covers it (a repository
    /// subject has one candidate; these small lists stay inline, one fewer allocation each).
    pub resources: SmallVec<[bool; 4]>,
    pub clauses: Vec<CClause<'a>>,
    /// Work units one evaluation of this statement costs (see [`super::EVAL_BUDGET`]).
    pub cost: usize,
    /// Index of the first `Everyone` entry and of the first `Service` entry.
    pub first_everyone: Option<usize>,
    pub first_service: Option<usize>,
    /// (account, index of the first `Account` or `Specific` entry in it), sorted by account.
    pub first_of_account: Vec<(AccountIx, usize)>,
}

impl CStmt<'_> {
    pub fn applies_to_some_resource(&self) -> bool {
        self.resources.iter().any(|r| *r)
    }
}

/// What the policy is judged against, from the subject and the trust zone.
pub(super) struct Target<'a> {
    pub region: &'a str,
    pub resource_account: &'a str,
    pub tags: Option<&'a std::collections::BTreeMap<String, String>>,
    /// The repository, or for a registry one ARN standing for any repository plus one per
    /// repository pattern the policy names.
    pub resources: Vec<Cow<'a, str>>,
    pub registry: Option<RegistryScope>,
}

fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

impl<'a> Target<'a> {
    pub fn new(policy: &'a Policy<'a>, subject: &Subject<'a>, trust: &'a Trust) -> Self {
        match *subject {
            Subject::Repository { arn, tags } => {
                let parts = principal::arn_parts(arn);
                let account = parts.map(|p| p[4]).filter(|a| !a.is_empty());
                Target {
                    region: parts.map_or("", |p| p[3]),
                    resource_account: account.unwrap_or(&trust.owner_account),
                    tags,
                    resources: vec![Cow::Borrowed(arn)],
                    registry: None,
                }
            }
            Subject::Registry {
                account_id,
                region,
                scope,
            } => Target {
                region,
                resource_account: account_id,
                tags: None,
                resources: registry_resources(policy, account_id, region),
                registry: Some(scope),
            },
        }
    }
}

fn registry_resources<'a>(policy: &Policy<'_>, account: &str, region: &str) -> Vec<Cow<'a, str>> {
    let prefix = format!(
        "arn:{}:ecr:{region}:{account}:repository/",
        partition_of(region)
    );
    let mut out: Vec<Cow<'a, str>> = vec![Cow::Owned(format!("{prefix}probe-any-repository"))];
    let patterns = policy
        .statements
        .iter()
        .filter_map(|st| st.resources.as_ref())
        .flat_map(|(_, pats)| pats);
    for p in patterns {
        if out.len() >= MAX_RESOURCES {
            break;
        }
        if p.len() > MAX_HARVEST_LEN {
            continue;
        }
        let inst = glob::instantiate(p, "x", 'x');
        if inst.len() > prefix.len() && inst.starts_with(&prefix) && !out.iter().any(|r| *r == inst)
        {
            out.push(Cow::Owned(inst));
        }
    }
    out
}

/// The compiled statements and the action names they use.
pub(super) struct Compiled<'a> {
    pub names: ActionNames,
    pub stmts: Vec<CStmt<'a>>,
    /// The actions that count for this subject.
    pub counted: ActionSet,
}

pub(super) fn compile<'a>(policy: &'a Policy<'a>, target: &Target<'a>) -> Compiled<'a> {
    // Concrete literals first, so that every unknown name has its bit before a pattern's
    // set is computed.
    let mut names = ActionNames::default();
    let mut concrete: std::vec::IntoIter<Option<ActionSet>> = policy
        .statements
        .iter()
        .flat_map(|st| &st.actions)
        .map(|a| names.concrete(a))
        .collect::<Vec<_>>()
        .into_iter();
    let universe = names.universe();
    let counted = match target.registry {
        Some(RegistryScope::V1) => actions::v1_mask(),
        _ => universe.clone(),
    };
    // Wildcard action patterns repeat across statements: their sets are computed once.
    let mut pattern_sets: HashMap<&str, ActionSet> = HashMap::new();
    let mut stmts = Vec::with_capacity(policy.statements.len());
    for st in &policy.statements {
        let mut set = ActionSet::default();
        for (a, known) in st.actions.iter().zip(concrete.by_ref()) {
            let a: &'a str = a;
            match known {
                Some(s) => set.union_with(&s),
                None if a.len() > 1 => {
                    set.union_with(pattern_sets.entry(a).or_insert_with(|| names.mask_of(a)))
                }
                None => set.union_with(&names.mask_of(a)),
            }
        }
        if st.not_action {
            let mut not = universe.clone();
            not.subtract(&set);
            set = not;
        }
        let items = principal_items(&st.principal);
        let clauses: Vec<CClause<'a>> = st
            .conditions
            .iter()
            .map(|c| CClause::compile(c, policy.version))
            .collect();
        let resources = target
            .resources
            .iter()
            .map(|arn| match &st.resources {
                None => true,
                Some((not, pats)) => pats.iter().any(|p| glob::matches(p, arn)) != *not,
            })
            .collect();
        stmts.push(CStmt {
            allow: st.allow,
            not_principal: st.not_principal,
            others: other_items(&items),
            first_everyone: items.iter().position(|it| matches!(it, PItem::Everyone(_))),
            first_service: items.iter().position(|it| matches!(it, PItem::Service(_))),
            items,
            whole: Vec::new(),
            actions: set,
            resources,
            cost: 1 + clauses.iter().map(CClause::eval_cost).sum::<usize>(),
            clauses,
            first_of_account: Vec::new(),
        });
    }
    Compiled {
        names,
        stmts,
        counted,
    }
}

fn principal_items<'a>(p: &'a Principal<'a>) -> Vec<PItem<'a>> {
    let Principal::Map(entries) = p else {
        return vec![PItem::Everyone(
            "principal \"*\" is every authenticated AWS principal in every account",
        )];
    };
    entries
        .iter()
        .map(|(t, s)| match principal::classify(*t, s) {
            PrincipalKind::Everyone { why } => PItem::Everyone(why),
            PrincipalKind::Account { account } => PItem::Account(None, account),
            PrincipalKind::Specific { account, arn } => PItem::Specific(None, account, arn),
            PrincipalKind::Service { name } => PItem::Service(name),
            PrincipalKind::Nobody { why } => PItem::Nobody(why),
        })
        .collect()
}

/// The entries not found through the account index: liveness, judged before the probe
/// accounts exist, matches principals through them.
fn other_items(items: &[PItem<'_>]) -> SmallVec<[usize; 4]> {
    items
        .iter()
        .enumerate()
        .filter(|(_, it)| !matches!(it, PItem::Account(..) | PItem::Nobody(_)))
        .map(|(k, _)| k)
        .collect()
}

/// Fills in the probe account of every principal entry, and the per-account indexes.
pub(super) fn link_accounts(stmts: &mut [CStmt<'_>], world: &World<'_>) {
    for s in stmts {
        for it in &mut s.items {
            match it {
                PItem::Account(ix, account) | PItem::Specific(ix, account, _) => {
                    *ix = world.account_index(account);
                }
                _ => {}
            }
        }
        for (k, it) in s.items.iter().enumerate() {
            match *it {
                PItem::Account(Some(a), _) => {
                    s.whole.push(a);
                    s.first_of_account.push((a, k));
                }
                PItem::Specific(Some(a), _, _) => s.first_of_account.push((a, k)),
                _ => {}
            }
        }
        // Stable sort keeps the first entry of each account first; dedup keeps it.
        s.first_of_account.sort_by_key(|e| e.0);
        s.first_of_account.dedup_by_key(|e| e.0);
        s.whole.sort_unstable();
        s.whole.dedup();
    }
}

/// Accounts a statement is pinned to by a positive, plain condition on
/// `aws:PrincipalAccount` or `aws:PrincipalArn` with fixed account ids; `None` if none is.
/// Such a statement can apply only to direct probes of those accounts: the key is present
/// on every direct call and absent on service calls.
pub(super) fn pinned_accounts<'s>(s: &'s CStmt<'_>) -> Option<Vec<&'s str>> {
    s.clauses.iter().find_map(pinning_clause_accounts)
}

fn pinning_clause_accounts<'s>(c: &'s CClause<'_>) -> Option<Vec<&'s str>> {
    if c.if_exists || c.base.negated() || c.quant == Quantifier::ForAllValues {
        return None;
    }
    let arn_key = match c.key {
        Key::PrincipalAccount => false,
        Key::PrincipalArn => true,
        _ => return None,
    };
    let arn_op = matches!(c.base, BaseOp::ArnEquals | BaseOp::ArnLike);
    let string_op = matches!(
        c.base,
        BaseOp::StringEquals | BaseOp::StringEqualsIgnoreCase | BaseOp::StringLike
    );
    if !(string_op || (arn_op && arn_key)) {
        return None;
    }
    let fixed = |parts: &[&str; 6]| parts.iter().take(5).all(|p| !glob::is_pattern(p));
    c.vals
        .iter()
        .map(|v| {
            let account = match v {
                Val::Arn(parts) => fixed(parts).then_some(parts[4])?,
                Val::Str(v) if !arn_key => v,
                Val::Str(v) => {
                    if c.base == BaseOp::StringLike && glob::is_pattern(v) {
                        return None;
                    }
                    let parts = principal::arn_parts(v).filter(fixed)?;
                    parts[4]
                }
                _ => return None,
            };
            is_account_id(account).then_some(account)
        })
        .collect()
}
