//! Probing: the probes of a world, which statements each one can meet, a memo of statement
//! outcomes, the work budget, and the grants found.
//!
//! Owns the order probes are tried in (the first probe to reach a grant is its witness) and
//! the budget accounting; must not word anything.

use std::collections::BTreeMap;

use super::super::Access;
use super::super::actions::{self, ActionSet};
use super::compile::{CStmt, PItem, pinned_accounts};
use super::context::Dims;
use super::world::{Membership, NetIx, World};
use super::{AccountIx, Class, EVAL_BUDGET, OrgIx, Probe, StmtIx, SvcIx};

/// Most probes generated for one policy.
const MAX_PROBES: usize = 50_000;
/// Outcomes remembered per statement: once they are all taken the statement is simply
/// evaluated (a bounded scan, never a growing one).
const MEMO_PER_STMT: usize = 16;

/// Probe fields some live statement reads, from the harvest: a field no live statement
/// reads gives every variant the outcome of the first, which is already the witness.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reads {
    /// The caller's organization.
    pub org: bool,
    /// The service's source account or ARN.
    pub source: bool,
    /// The service's source organization.
    pub src_org: bool,
}

/// What reaches one (statement, class): the union of its exposed actions and the first
/// probe that exposed any, with the resource candidate it did so on.
#[derive(Debug)]
pub(super) struct GrantAcc {
    pub actions: ActionSet,
    pub witness: Probe,
    pub resource: usize,
}

/// The result of probing, before any wording.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    pub public: bool,
    pub cross: bool,
    pub net_restricted: bool,
    pub access: Access,
    pub grants: BTreeMap<(StmtIx, Class), GrantAcc>,
    /// The probe set or the work was cut short.
    pub truncated: bool,
}

/// Which live statements a probe can meet: those that can match anyone, those indexed
/// under the probe's account, and for service probes those naming a service; each with
/// "names the probe's whole account" (only ever true under `by_account`).
struct StmtIndex {
    always: Vec<(StmtIx, bool)>,
    by_account: Vec<Vec<(StmtIx, bool)>>,
    service_only: Vec<(StmtIx, bool)>,
}

impl StmtIndex {
    fn new(stmts: &[CStmt<'_>], world: &World<'_>, live: &[bool]) -> Self {
        let mut ix = StmtIndex {
            always: Vec::new(),
            by_account: vec![Vec::new(); world.accounts.len()],
            service_only: Vec::new(),
        };
        for (i, s) in stmts.iter().enumerate() {
            if !live[i] {
                continue;
            }
            let i = StmtIx(i);
            // A statement whose condition pins aws:PrincipalAccount/PrincipalArn to fixed
            // accounts is indexed under those accounts only.
            if let Some(pinned) = pinned_accounts(s) {
                let mut accounts: Vec<AccountIx> = pinned
                    .into_iter()
                    .filter_map(|a| world.account_index(a))
                    .collect();
                accounts.sort_unstable();
                accounts.dedup();
                for a in accounts {
                    ix.by_account[a.0].push((i, false));
                }
                continue;
            }
            let wide = s.not_principal || s.items.iter().any(|it| matches!(it, PItem::Everyone(_)));
            if wide {
                ix.always.push((i, false));
                continue;
            }
            for &(a, _) in &s.first_of_account {
                ix.by_account[a.0].push((i, s.whole.binary_search(&a).is_ok()));
            }
            if s.first_service.is_some() {
                ix.service_only.push((i, false));
            }
        }
        ix
    }

    /// The statements a probe is checked against, with "names the probe's whole account".
    fn candidates(&self, p: &Probe) -> impl Iterator<Item = (StmtIx, bool)> + '_ {
        let specific = match p.service {
            Some(_) => &self.service_only,
            None => &self.by_account[p.account.0],
        };
        self.always.iter().chain(specific).copied()
    }
}

/// The direct probes, in witness order: the public outsider from its own networks, then
/// from the policy's networks, then members of the policy's organizations, then the named
/// accounts.
fn direct_probes<'w>(w: &'w World<'_>, reads_org: bool) -> impl Iterator<Item = Probe> + 'w {
    let own_orgs: &'static [Membership] = if reads_org {
        &[Membership::Outside, Membership::Own]
    } else {
        &[Membership::Outside]
    };
    let named_orgs = move || (0..w.orgs.len()).map(|o| Membership::Named(OrgIx(o)));
    let public_nets = move || (0..w.public_nets.len()).map(NetIx::Public);
    let named_nets = move || (0..w.named_nets.len()).map(NetIx::Named);
    let all_nets = move || public_nets().chain(named_nets());
    let fresh_idents = move || 0..w.account(AccountIx::FRESH).idents.len();
    let probe = |class, account, ident, org, net| Probe {
        class,
        account,
        ident,
        org,
        net,
        ..Probe::base()
    };
    let fresh = AccountIx::FRESH;
    let public = fresh_idents().flat_map(move |i| {
        own_orgs
            .iter()
            .flat_map(move |&o| public_nets().map(move |n| probe(Class::Public, fresh, i, o, n)))
    });
    let restricted = fresh_idents().flat_map(move |i| {
        own_orgs.iter().flat_map(move |&o| {
            named_nets().map(move |n| probe(Class::NetRestricted, fresh, i, o, n))
        })
    });
    let orgs = (0..w.orgs.len()).flat_map(move |o| {
        fresh_idents().flat_map(move |i| {
            all_nets().map(move |n| {
                let org = Membership::Named(OrgIx(o));
                probe(Class::Org(OrgIx(o)), fresh, i, org, n)
            })
        })
    });
    let accounts = (1..w.accounts.len()).map(AccountIx).flat_map(move |a| {
        (0..w.account(a).idents.len()).flat_map(move |i| {
            own_orgs
                .iter()
                .copied()
                .chain(named_orgs())
                .flat_map(move |o| all_nets().map(move |n| probe(Class::Account(a), a, i, o, n)))
        })
    });
    public.chain(restricted).chain(orgs).chain(accounts)
}

/// Service-mediated probes: every service, acting for the fresh account (or every account
/// when a live statement reads source keys), for each of its source ARNs and organizations.
fn service_probes<'w>(w: &'w World<'_>, reads: Reads) -> impl Iterator<Item = Probe> + 'w {
    let accounts = if reads.source { w.accounts.len() } else { 1 };
    let orgs = move || {
        let named = (0..w.orgs.len()).map(|o| Membership::Named(OrgIx(o)));
        let members = [Membership::Own].into_iter().chain(named);
        let members = members.take(if reads.src_org { usize::MAX } else { 0 });
        std::iter::once(Membership::Outside).chain(members)
    };
    (0..w.services.len()).map(SvcIx).flat_map(move |svc| {
        (0..accounts).map(AccountIx).flat_map(move |a| {
            (0..w.account(a).src_arns.len()).flat_map(move |src_arn| {
                orgs().map(move |org| Probe {
                    class: Class::Service(svc),
                    service: Some(svc),
                    account: a,
                    org,
                    src_arn,
                    ..Probe::base()
                })
            })
        })
    })
}

/// The probe fields one statement reads; the others are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ProbeKey {
    service: bool,
    account: Option<AccountIx>,
    ident: Option<usize>,
    org: Option<Membership>,
    net: Option<NetIx>,
    svc: Option<SvcIx>,
    src_arn: Option<usize>,
}

impl ProbeKey {
    fn new(p: &Probe, d: Dims) -> Self {
        ProbeKey {
            service: p.service.is_some(),
            account: d.account.then_some(p.account),
            ident: d.ident.then_some(p.ident),
            org: d.org.then_some(p.org),
            net: d.net.then_some(p.net),
            svc: if d.service { p.service } else { None },
            src_arn: d.src_arn.then_some(p.src_arn),
        }
    }
}

/// The first [`MEMO_PER_STMT`] outcomes of each statement, by the probe fields it reads:
/// a short list per statement, scanned in order (cheaper than hashing a key for so few).
struct Memo {
    outcomes: Vec<Vec<(ProbeKey, bool)>>,
}

impl Memo {
    fn new(statements: usize) -> Self {
        Memo {
            outcomes: vec![Vec::new(); statements],
        }
    }

    fn get(&self, i: StmtIx, key: ProbeKey) -> Option<bool> {
        self.outcomes[i.0]
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, r)| *r)
    }

    fn put(&mut self, i: StmtIx, key: ProbeKey, outcome: bool) {
        let kept = &mut self.outcomes[i.0];
        if kept.len() < MEMO_PER_STMT {
            kept.push((key, outcome));
        }
    }
}

/// Probes the world and collects what reaches outsiders.
pub(super) fn run(
    stmts: &[CStmt<'_>],
    world: &World<'_>,
    live: &[bool],
    counted: &ActionSet,
    reads: Reads,
    overflow: bool,
) -> Outcome {
    let resources = stmts.first().map_or(0, |s| s.resources.len());
    let index = StmtIndex::new(stmts, world, live);
    let mut all = direct_probes(world, reads.org).chain(service_probes(world, reads));
    let probes: Vec<Probe> = all.by_ref().take(MAX_PROBES).collect();
    let mut out = Outcome {
        truncated: overflow || all.next().is_some(),
        ..Outcome::default()
    };
    let dims: Vec<Dims> = stmts.iter().map(Dims::of).collect();
    let mut memo = Memo::new(stmts.len());
    let mut tally = Tally::default();
    let mut applies: Vec<StmtIx> = Vec::with_capacity(stmts.len());
    let mut work = 0usize;
    for p in &probes {
        work += 1;
        applies.clear();
        for (i, whole) in index.candidates(p) {
            let s = &stmts[i.0];
            let key = ProbeKey::new(p, dims[i.0]);
            let applies_here = match memo.get(i, key) {
                Some(r) => {
                    work += 1;
                    r
                }
                None => {
                    work += s.cost + if whole { 0 } else { s.others.len() };
                    let r = (whole || world.principal_matches(s, p)) && world.conditions_hold(s, p);
                    memo.put(i, key, r);
                    r
                }
            };
            if applies_here {
                applies.push(i);
            }
        }
        if work > EVAL_BUDGET {
            out.truncated = true;
            break;
        }
        if applies.is_empty() {
            continue;
        }
        for r in 0..resources {
            tally.resource(&mut out, stmts, &applies, counted, p, r);
        }
    }
    out
}

/// Scratch sets for one probe and resource.
#[derive(Default)]
struct Tally {
    allowed: ActionSet,
    denied: ActionSet,
    exposed: ActionSet,
}

impl Tally {
    /// Records what the statements that apply to probe `p` expose on resource candidate `r`.
    fn resource(
        &mut self,
        out: &mut Outcome,
        stmts: &[CStmt<'_>],
        applies: &[StmtIx],
        counted: &ActionSet,
        p: &Probe,
        r: usize,
    ) {
        self.allowed.clear();
        self.denied.clear();
        let on_r = || {
            applies
                .iter()
                .map(|i| (*i, &stmts[i.0]))
                .filter(|(_, s)| s.resources[r])
        };
        for (_, s) in on_r() {
            if s.allow {
                self.allowed.union_with(&s.actions);
            } else {
                self.denied.union_with(&s.actions);
            }
        }
        exposed_into(&mut self.exposed, &self.allowed, counted, &self.denied);
        if self.exposed.is_empty() {
            return;
        }
        out.cross = true;
        // Admin is the top: once reached, no set can raise it.
        if out.access != Access::Admin {
            out.access = out.access.max(actions::max_level(&self.exposed));
        }
        match p.class {
            Class::Public => out.public = true,
            Class::NetRestricted => out.net_restricted = true,
            _ => {}
        }
        for (i, s) in on_r().filter(|(_, s)| s.allow) {
            exposed_into(&mut self.exposed, &s.actions, counted, &self.denied);
            if self.exposed.is_empty() {
                continue;
            }
            out.grants
                .entry((i, p.class))
                .and_modify(|g| g.actions.union_with(&self.exposed))
                .or_insert_with(|| GrantAcc {
                    actions: self.exposed.clone(),
                    witness: *p,
                    resource: r,
                });
        }
    }
}

/// `out = set & counted & !denied`, reusing `out`'s storage.
fn exposed_into(out: &mut ActionSet, set: &ActionSet, counted: &ActionSet, denied: &ActionSet) {
    out.clear();
    out.union_with(set);
    out.intersect_with(counted);
    out.subtract(denied);
}
