//! Wording: grants with their explanations, notes, and the `too_complex` refusal.
//!
//! Owns every sentence the verdict carries; must not change what is reachable.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::super::actions::{self, ActionNames, ActionSet};
use super::super::condition::{CClause, Context, Key, ReqVal};
use super::super::parse::{BaseOp, Policy, Principal, Quantifier};
use super::super::{Access, Audience, ErrorCode, Grant, PolicyError, RegistryScope, Verdict};
use super::compile::{CStmt, PItem};
use super::context::ProbeContext;
use super::harvest::has_fixed_after;
use super::probe::{GrantAcc, Outcome};
use super::world::{Membership, Net, World};
use super::{AccountIx, Class, EVAL_BUDGET, Probe, StmtIx};

/// Most grants listed per verdict: a longer list is unreadable and costs time per input.
const MAX_GRANTS: usize = 256;

/// Everything the wording needs to know about one evaluation.
pub(super) struct Explainer<'e, 'a> {
    pub policy: &'a Policy<'a>,
    pub names: &'e ActionNames,
    pub stmts: &'e [CStmt<'a>],
    pub world: &'e World<'a>,
    pub counted: &'e ActionSet,
    pub registry: Option<RegistryScope>,
}

impl Explainer<'_, '_> {
    /// The verdict for a probing outcome, or `too_complex` if it was cut short before the
    /// worst (public, admin) was established. `overflow`: the probe set is incomplete.
    pub fn verdict(&self, out: Outcome, overflow: bool) -> Result<Verdict, PolicyError> {
        if out.truncated && !(out.public && out.access == Access::Admin) {
            let message = if overflow {
                "the policy names more distinct accounts, organizations, networks or principals than the analyzer probes; refusing to guess".to_string()
            } else {
                format!(
                    "the policy needs more than {EVAL_BUDGET} units of evaluation work to judge; refusing to guess"
                )
            };
            return Err(PolicyError {
                code: ErrorCode::TooComplex,
                path: String::new(),
                message,
            });
        }
        let total = out.grants.len();
        let grants = self.grants(out.grants.into_iter().take(MAX_GRANTS));
        let mut notes = self.notes();
        if total > MAX_GRANTS {
            notes.push(format!(
                "{} further exposing grants are not listed (at most {MAX_GRANTS} are); the verdict counts them all",
                total - MAX_GRANTS
            ));
        }
        if out.truncated {
            notes.push(
                "analysis stopped early: the policy is already public with admin access".into(),
            );
        }
        Ok(Verdict {
            public: out.public,
            cross_account: out.cross,
            access: out.access,
            network_restricted: out.net_restricted && !out.public,
            grants,
            notes,
        })
    }

    /// One grant per (statement, class), in that order, leaving out a non-public class whose
    /// actions the public one of the same statement already lists.
    fn grants(&self, accs: impl Iterator<Item = ((StmtIx, Class), GrantAcc)>) -> Vec<Grant> {
        let mut by_stmt: BTreeMap<StmtIx, Vec<(Class, GrantAcc)>> = BTreeMap::new();
        for ((i, class), acc) in accs {
            by_stmt.entry(i).or_default().push((class, acc));
        }
        // What each Deny's principal names, worded once on first use.
        let mut deny_words: Vec<Option<String>> = vec![None; self.stmts.len()];
        let mut out = Vec::new();
        for (i, group) in by_stmt {
            let mut public = ActionSet::default();
            for (_, acc) in group.iter().filter(|(c, _)| *c == Class::Public) {
                public.union_with(&acc.actions);
            }
            for (class, acc) in &group {
                let mut beyond_public = acc.actions.clone();
                beyond_public.subtract(&public);
                if *class != Class::Public && beyond_public.is_empty() {
                    continue;
                }
                out.push(self.grant(i, *class, acc, &mut deny_words));
            }
        }
        out
    }

    fn grant(
        &self,
        i: StmtIx,
        class: Class,
        acc: &GrantAcc,
        deny_words: &mut [Option<String>],
    ) -> Grant {
        Grant {
            statement: i.0,
            sid: self.policy.statements[i.0]
                .sid
                .as_ref()
                .map(|s| s.to_string()),
            audience: self.audience(class),
            actions: self.names.sorted_names(&acc.actions),
            access: actions::max_level(&acc.actions),
            public: class == Class::Public,
            network_restricted: class == Class::NetRestricted,
            explanation: self.explain(i, class, acc, deny_words),
        }
    }

    fn audience(&self, c: Class) -> Audience {
        let w = self.world;
        match c {
            Class::Public | Class::NetRestricted => Audience::Everyone,
            Class::Org(o) => Audience::Organization {
                org_id: w.orgs[o.0].id.clone(),
            },
            Class::Account(a) => Audience::Account {
                account_id: w.account(a).id.to_string(),
            },
            Class::Service(s) => Audience::Service {
                service: w.services[s.0].to_string(),
            },
        }
    }

    /// "statement N (Sid)".
    fn label(&self, i: StmtIx) -> String {
        match self.policy.statements[i.0].sid.as_deref() {
            Some(sid) if !sid.is_empty() => format!("statement {} ({sid})", i.0),
            _ => format!("statement {}", i.0),
        }
    }

    fn account_label(&self, a: AccountIx) -> String {
        let id = &self.world.account(a).id;
        if a == AccountIx::FRESH {
            format!("{id} (stands for any account the policy does not name)")
        } else {
            id.to_string()
        }
    }

    /// Who the probe is, after "for example: ".
    fn describe_probe(&self, p: &Probe) -> String {
        let w = self.world;
        let mut s = String::from("for example: ");
        if let Some(svc) = p.service {
            let svc = w.services[svc.0];
            let who = if svc == "*" { "any AWS service" } else { svc };
            let _ = write!(
                s,
                "{who} acting for a resource of untrusted account {}",
                self.account_label(p.account)
            );
            return s;
        }
        let _ = write!(
            s,
            "a principal of account {}",
            self.account_label(p.account)
        );
        match p.org {
            Membership::Outside => s.push_str(", outside any organization"),
            Membership::Own => s.push_str(", in an organization it created"),
            Membership::Named(o) => {
                let _ = write!(s, ", in untrusted organization {}", w.orgs[o.0].id);
            }
        }
        match w.net(p.net) {
            Some(Net::Ip { text, .. }) => {
                let _ = write!(s, ", calling from {text}");
            }
            Some(Net::Endpoint { vpce, vpc }) => {
                let _ = write!(s, ", calling through VPC endpoint {vpce} in {vpc}");
            }
            None => {}
        }
        s
    }

    /// Who the grant reaches, in a sentence that starts with the statement's label.
    fn who(&self, i: StmtIx, class: Class) -> String {
        let mut s = self.label(i);
        let _ = match class {
            Class::Public => write!(
                s,
                " reaches any AWS account: anyone can open an account that the policy does not name"
            ),
            Class::NetRestricted => write!(
                s,
                " reaches any AWS account, but only from a network the policy names (aws:SourceIp/SourceVpc/SourceVpce); network is not trust, so it is cross-account, not public"
            ),
            Class::Org(o) => write!(
                s,
                " reaches members of organization {}, which is not a trusted organization",
                self.world.orgs[o.0].id
            ),
            Class::Account(a) => write!(
                s,
                " reaches account {}, which is not in the trust zone",
                self.world.account(a).id
            ),
            Class::Service(_) => write!(
                s,
                " reaches an AWS service acting for an account outside the trust zone (confused deputy): nothing pins aws:SourceAccount/SourceArn/SourceOwner to trusted accounts"
            ),
        };
        s
    }

    /// The first principal entry that matches the witness, in words, found without scanning
    /// every entry (principal lists run to thousands of accounts).
    fn matched_principal(&self, st: &CStmt<'_>, p: &Probe) -> Option<String> {
        if st.not_principal {
            return Some(
                "NotPrincipal with Allow matches every principal that is not listed".into(),
            );
        }
        let by_kind = match p.service {
            Some(_) => st.first_service,
            None => st
                .first_of_account
                .binary_search_by_key(&p.account, |e| e.0)
                .ok()
                .map(|k| st.first_of_account[k].1),
        };
        let first = [st.first_everyone, by_kind].into_iter().flatten().min()?;
        let account = || &self.world.account(p.account).id;
        match (&st.items[first], p.service) {
            (PItem::Everyone(why), _) => Some((*why).to_string()),
            (PItem::Account(Some(a), _), None) if *a == p.account => Some(format!(
                "the principal names account {}, that is every principal in it",
                account()
            )),
            (PItem::Specific(Some(a), _, arn), None) if *a == p.account => {
                Some(format!("principal {arn} is in account {}", account()))
            }
            (PItem::Service(name), Some(_)) => Some(format!("principal is the service {name}")),
            _ => None,
        }
    }

    fn explain(
        &self,
        i: StmtIx,
        class: Class,
        acc: &GrantAcc,
        deny_words: &mut [Option<String>],
    ) -> Vec<String> {
        let st = &self.stmts[i.0];
        let p = &acc.witness;
        let mut out = vec![self.who(i, class)];
        out.extend(self.matched_principal(st, p));
        let ctx = ProbeContext {
            world: self.world,
            probe: *p,
        };
        out.extend(st.clauses.iter().map(|c| describe_clause(c, &ctx, true)));
        out.push(self.describe_probe(p));
        // Denies that could have covered these actions.
        let mut covered = st.actions.clone();
        covered.intersect_with(self.counted);
        for (d_ix, d) in self.stmts.iter().enumerate() {
            if d.allow || !d.actions.intersects(&covered) {
                continue;
            }
            let label = self.label(StmtIx(d_ix));
            let line = if !d.resources[acc.resource] {
                format!("Deny {label} does not apply: its Resource does not match")
            } else if !self.world.principal_matches(d, p) {
                let words = deny_words[d_ix].get_or_insert_with(|| deny_principal_words(d));
                format!("Deny {label} {words}")
            } else if let Some(c) = d.clauses.iter().find(|c| !c.eval(&ctx, false)) {
                format!(
                    "Deny {label} does not apply: {}",
                    describe_clause(c, &ctx, false)
                )
            } else {
                let mut removed = d.actions.clone();
                removed.intersect_with(&covered);
                format!(
                    "Deny {label} applies and removes {} of the statement's actions",
                    removed.len()
                )
            };
            out.push(line);
        }
        out
    }

    fn notes(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, st) in self.policy.statements.iter().enumerate() {
            let cs = &self.stmts[i];
            // Worded only when a note needs it: most statements have none.
            let label = || self.label(StmtIx(i));
            if let Principal::Map(m) = &st.principal {
                for ((t, s), it) in m.iter().zip(&cs.items) {
                    if let PItem::Nobody(why) = it {
                        out.push(format!("{}: {} {s:?}: {why}", label(), t.as_str()));
                    }
                }
            }
            if cs.allow {
                out.extend(unique_id_notes(cs, label));
            }
            if !cs.applies_to_some_resource() {
                let element = if matches!(st.resources, Some((true, _))) {
                    "NotResource"
                } else {
                    "Resource"
                };
                out.push(format!(
                    "{}: its {element} names no repository of the target, so it does not apply",
                    label()
                ));
            }
            if self.world.tags.is_none() && cs.clauses.iter().any(|c| c.key == Key::ResourceTag) {
                out.push(format!(
                    "{}: depends on repository tags, which are unknown here: an Allow on them counts as satisfiable, a Deny as not applying",
                    label()
                ));
            }
            for a in st.actions.iter().filter(|a| self.is_unknown_action(a)) {
                out.push(format!(
                    "{}: unknown ECR action {a} counted as write",
                    label()
                ));
            }
        }
        if self.registry == Some(RegistryScope::V1) {
            out.push("registry scope V1: only ecr:ReplicateImage, ecr:BatchImportUpstreamImage and ecr:CreateRepository count".into());
        }
        out
    }

    /// A concrete `ecr:` name missing from the action table.
    fn is_unknown_action(&self, a: &str) -> bool {
        let name = match a.get(..4) {
            Some(prefix) if a.len() > 4 && prefix.eq_ignore_ascii_case("ecr:") => &a[4..],
            _ => return false,
        };
        !a.contains(['*', '?'])
            && self
                .names
                .unknown
                .iter()
                .any(|u| u.eq_ignore_ascii_case(name))
    }
}

/// Allow conditions on `aws:userid` fixed to a unique id no outsider can obtain (§12.6).
fn unique_id_notes(cs: &CStmt<'_>, label: impl Fn() -> String) -> Vec<String> {
    let mut out = Vec::new();
    for c in &cs.clauses {
        if c.key != Key::UserId || c.base.negated() || c.quant == Quantifier::ForAllValues {
            continue;
        }
        for v in c.raw.iter() {
            let uid = v.split(':').next().unwrap_or("");
            if v.contains(':') && has_fixed_after(uid, 4) && !uid.contains(['*', '?']) {
                out.push(format!(
                    "{}: aws:userid {v:?} depends on the unique id {uid}, which no outsider can obtain",
                    label()
                ));
            }
        }
    }
    out
}

/// What a Deny's principal names, when it does not match the witness.
fn deny_principal_words(d: &CStmt<'_>) -> String {
    const SHOWN: usize = 5;
    let named = d.items.iter().filter(|it| !matches!(it, PItem::Nobody(_)));
    let mut names: Vec<String> = named
        .clone()
        .take(SHOWN)
        .map(|it| match it {
            PItem::Account(_, s) => format!("account {s}"),
            PItem::Specific(_, _, s) => s.to_string(),
            PItem::Service(s) => format!("service {s}"),
            _ => "everyone".into(),
        })
        .collect();
    let more = named.count().saturating_sub(SHOWN);
    if more > 0 {
        names.push(format!("{more} more"));
    }
    if d.not_principal {
        let exempt = if names.is_empty() {
            "nobody".to_string()
        } else {
            names.join(", ")
        };
        return format!("exempts {exempt} (NotPrincipal), which includes this caller");
    }
    if names.is_empty() {
        "names no principal that exists; it denies nobody".into()
    } else {
        format!("applies only to {}", names.join(", "))
    }
}

/// When a key is absent for an outsider's request.
fn absent_when(key: Key) -> &'static str {
    match key {
        Key::PrincipalOrgId | Key::PrincipalOrgPaths => "callers outside any organization",
        Key::SourceIp => "calls through the caller's own VPC endpoint",
        Key::SourceVpc | Key::SourceVpce => "direct calls that do not use a VPC endpoint",
        Key::SourceAccount
        | Key::SourceOwner
        | Key::SourceArn
        | Key::SourceOrgId
        | Key::SourceOrgPaths => "direct calls, not made by a service for a resource",
        Key::PrincipalAccount | Key::PrincipalArn | Key::UserId => "calls made by an AWS service",
        Key::Username => "callers that are not IAM users (role sessions, root users, AWS services)",
        _ => "requests that do not carry it",
    }
}

fn single_valued(key: Key) -> bool {
    !matches!(
        key,
        Key::PrincipalOrgPaths | Key::SourceOrgPaths | Key::PrincipalServiceNamesList | Key::Free
    )
}

/// The clause's values as written: a reader needs the shape of a long list, not all of it.
fn write_values(out: &mut String, c: &CClause<'_>) {
    const SHOWN: usize = 8;
    if c.raw.len() == 1 {
        let _ = write!(out, "\"{}\"", c.raw[0]);
        return;
    }
    out.push('[');
    for (k, v) in c.raw.iter().take(SHOWN).enumerate() {
        let sep = if k == 0 { "" } else { ", " };
        let _ = write!(out, "{sep}\"{v}\"");
    }
    if c.raw.len() > SHOWN {
        let _ = write!(out, ", ... {} more", c.raw.len() - SHOWN);
    }
    out.push(']');
}

/// Plain words for one clause's value in a context; `allow` is the statement's effect.
fn describe_clause(c: &CClause<'_>, ctx: &ProbeContext<'_, '_>, allow: bool) -> String {
    let key = c.key_name;
    let mut out = format!("{} {key} ", c.op_name);
    write_values(&mut out, c);
    out.push_str(": ");
    let _ = match ctx.get(c.key, c.tag) {
        ReqVal::Free if allow => write!(
            out,
            "the caller controls {key} (or it says nothing about identity), so it does not restrict"
        ),
        ReqVal::Free => write!(out, "the caller controls {key}, so it can avoid this Deny"),
        ReqVal::TagUnknown if allow => {
            write!(
                out,
                "depends on repository tags, unknown here; counted as satisfiable"
            )
        }
        ReqVal::TagUnknown => write!(
            out,
            "depends on repository tags, unknown here; counted as not applying"
        ),
        ReqVal::Missing => {
            let when = absent_when(c.key);
            write!(out, "{key} is absent for {when}; {}", missing_rule(c, when))
        }
        ReqVal::One(v) => {
            let r = c.present_result(v, ctx);
            write!(
                out,
                "{key} is \"{v}\" for this caller, so the condition is {r}"
            )
        }
    };
    out
}

/// Why a clause has the value it has when its key is absent.
fn missing_rule(c: &CClause<'_>, when: &str) -> String {
    let op = c.op_name;
    if c.base == BaseOp::Null {
        format!("Null is {} when the key is absent", c.missing_result())
    } else if c.quant == Quantifier::ForAllValues {
        if single_valued(c.key) {
            format!(
                "ForAllValues on single-valued key {} is true for {when} (no values: vacuously true)",
                c.key_name
            )
        } else {
            "ForAllValues is vacuously true when the key is absent".to_string()
        }
    } else if c.quant == Quantifier::ForAnyValue {
        "ForAnyValue is false when the key is absent".to_string()
    } else if c.if_exists {
        format!("{op} is true when the key is absent")
    } else if c.base.negated() {
        format!("the negated operator {op} is true when the key is absent")
    } else {
        format!("{op} is false when the key is absent")
    }
}
