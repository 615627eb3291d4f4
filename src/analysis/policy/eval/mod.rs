//! The evaluator: existential probing over outsider request contexts (spec §6).
//!
//! Owns the verdict. The policy's own literals give a finite set of outsider probes
//! (accounts, identities, organizations, networks, service-mediated calls); each probe is a
//! concrete IAM request context in which every Allow and Deny is evaluated. An action is
//! reachable by a probe iff some Allow applies and no Deny does; `public` is decided by the
//! probes of an account the policy names nowhere, calling from a network it controls.
//!
//! Stages, one module each: [`compile`] (statements to action sets, principal entries,
//! resource candidates, clauses), [`harvest`] (the literals), [`world`] (probe values built
//! from them, with [`identity`] for each account's identities), [`context`] (a probe as a
//! request context; liveness), [`probe`] (enumeration, memo, work budget) and [`explain`]
//! (grants, sentences, notes).
//!
//! Cost control: statements are indexed by the accounts their principals name, dimensions
//! the policy never mentions (networks, organizations, identities, source keys) collapse to
//! one value, statements that can never apply are found before the probes are built and give
//! them no literals, and the total work is bounded ([`EVAL_BUDGET`]); a policy that exceeds
//! it is reported as `too_complex`.

mod compile;
mod context;
mod explain;
mod harvest;
mod identity;
mod probe;
mod world;

use super::parse::Policy;
use super::{PolicyError, Subject, Trust, Verdict};
use compile::{Compiled, Target};
use harvest::{Harvest, Pass};
use world::{Membership, NetIx, World};

/// Upper bound on evaluation work per policy, in units of one statement or one condition
/// value compared (plus one per 64 bytes of value), so adversarial input stops after a few
/// milliseconds: over every saved fuzzing input the slowest verdict took 8.4 ms. The largest
/// need of any ECR-size policy (10,240 characters) seen in fuzzing was under 70,000 units.
pub const EVAL_BUDGET: usize = 150_000;
/// Longest literal that becomes probe material.
const MAX_HARVEST_LEN: usize = 512;

/// Index of a statement in the policy (and in the compiled statements).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct StmtIx(usize);

/// Index of a probe account in [`World::accounts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct AccountIx(usize);

impl AccountIx {
    /// The fresh outsider: an account named nowhere in the policy.
    const FRESH: AccountIx = AccountIx(0);
}

/// Index of an untrusted organization the policy names, in [`World::orgs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct OrgIx(usize);

/// Index of a service in [`World::services`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct SvcIx(usize);

/// Who a probe stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Class {
    /// An account named nowhere, calling from a network it controls.
    Public,
    /// The same outsider, calling from a network the policy names.
    NetRestricted,
    /// A member of an organization named in the policy and not trusted.
    Org(OrgIx),
    /// An untrusted account named in the policy.
    Account(AccountIx),
    /// An AWS service acting for an untrusted account.
    Service(SvcIx),
}

/// One outsider request context, as indices into the [`World`].
#[derive(Debug, Clone, Copy)]
struct Probe {
    class: Class,
    /// `Some`: a service acting for a resource of `account`; `None`: a direct call.
    service: Option<SvcIx>,
    /// Caller account (direct) or source account (service).
    account: AccountIx,
    /// Index into the account's identities (0, its root, for service probes).
    ident: usize,
    org: Membership,
    /// Where a direct call comes from (the first public network for service probes).
    net: NetIx,
    /// Index into the account's source ARNs (0 for direct calls).
    src_arn: usize,
}

impl Probe {
    /// The public outsider calling directly from the first network, outside any
    /// organization: the probe others are varied from.
    fn base() -> Probe {
        Probe {
            class: Class::Public,
            service: None,
            account: AccountIx::FRESH,
            ident: 0,
            org: Membership::Outside,
            net: NetIx::Public(0),
            src_arn: 0,
        }
    }
}

/// Evaluate a parsed policy.
pub(crate) fn evaluate(
    policy: &Policy<'_>,
    subject: &Subject<'_>,
    trust: &Trust,
) -> Result<Verdict, PolicyError> {
    let target = Target::new(policy, subject, trust);
    let Compiled {
        names,
        mut stmts,
        counted,
    } = compile::compile(policy, &target);
    // Organizations first: liveness judges org-only statements against them, and the
    // literals of statements that never apply make no probes.
    let mut harvest = Harvest::default();
    harvest.collect(policy, &stmts, Pass::Orgs);
    let mut world = World::with_orgs(&harvest, &target, trust);
    let live = context::liveness(&world, &stmts, &counted);
    harvest.collect(policy, &stmts, Pass::Probes(&live));
    world.populate(&harvest, trust);
    compile::link_accounts(&mut stmts, &world);
    let overflow = harvest.overflow || world.overflow;
    let reads = probe::Reads {
        org: harvest.uses_org,
        source: harvest.uses_source,
        src_org: harvest.uses_src_org,
    };
    let outcome = probe::run(&stmts, &world, &live, &counted, reads, overflow);
    let explainer = explain::Explainer {
        policy,
        names: &names,
        stmts: &stmts,
        world: &world,
        counted: &counted,
        registry: target.registry,
    };
    explainer.verdict(outcome, overflow)
}

#[cfg(test)]
mod tests;
