//! The evaluator: existential probing over outsider request contexts (spec §6).
//!
//! Owns the verdict. The policy's own literals give a finite set of outsider probes
//! (accounts, identities, organizations, networks, service-mediated calls); each probe is a
//! concrete IAM request context in which every Allow and Deny is evaluated. An action is
//! reachable by a probe iff some Allow applies and no Deny does; `public` is decided by the
//! probes of an account the policy names nowhere, calling from a network it controls.
//!
//! Cost control: action sets are bit masks computed once, statements are indexed by the
//! accounts their principals name, dimensions the policy never mentions (networks,
//! organizations, identities, source keys) collapse to one value, statements that can never
//! apply are found before the probes are built and give them no literals, and the total work is
//! bounded ([`EVAL_BUDGET`]); a policy that exceeds it is reported as `too_complex`.
//! Allocation is kept per policy rather than per string: literals are borrowed from the
//! parsed policy, every string a probe carries lives in one buffer ([`World::text`]), and
//! what the evaluation builds comes from one arena released at once, since in the daemon's
//! hot path allocation was most of the cost of a verdict. The verdict itself and a few rarer
//! structures (long-list indexes, policy-variable templates, pattern instances) stay on the
//! heap.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv6Addr};

use bumpalo::Bump;
use bumpalo::collections::{CollectIn, String as BString, Vec as BVec};
use ipnet::IpNet;

use super::actions::{self, ActionNames};
use super::condition::{CClause, Context, Key, ReqVal, Val, parse_net};
use super::glob;
use super::parse::{BaseOp, Policy, Principal, Quantifier, Statement};
use super::principal::{self, PrincipalKind, is_account_id};
use super::swar;
use super::{
    Access, Audience, ErrorCode, Grant, PolicyError, RegistryScope, Subject, Trust, Verdict,
};

/// Upper bound on evaluation work per policy, in units of one statement or one condition
/// value compared (plus one per 64 bytes of value), so adversarial input stops after a few
/// milliseconds: over every saved fuzzing input the slowest verdict took 8.4 ms. The largest
/// need of any ECR-size policy (10,240 characters) seen in fuzzing was under 70,000 units.
pub const EVAL_BUDGET: usize = 150_000;
/// First arena chunk: enough for a typical policy's whole evaluation.
const ARENA_BYTES: usize = 16 * 1024;
/// Largest arena kept on a thread between verdicts.
const ARENA_KEEP_BYTES: usize = 256 * 1024;
/// Most probes generated for one policy.
const MAX_PROBES: usize = 50_000;
const NONE: u16 = u16::MAX;
/// Index of the fresh outsider account (named nowhere in the policy) among the probe accounts.
const FRESH: u16 = 0;
/// Most grants listed per verdict: a longer list is unreadable and costs time per input.
const MAX_GRANTS: usize = 256;
/// Grant accumulators found by linear scan below this count, by hash index above it.
const SMALL_ACCS: usize = 32;
const MAX_ACCOUNTS: usize = 4096;
const MAX_IDENTS_PER_ACCOUNT: usize = 6;
const MAX_ORGS: usize = 16;
const MAX_NETS: usize = 24;
const MAX_SERVICES: usize = 32;
const MAX_SRC_ARNS: usize = 8;
const MAX_RESOURCES: usize = 16;
const MAX_HARVEST_LEN: usize = 512;

/// A string stored in [`World::text`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

/// Append-only string buffer handing out [`Span`]s.
#[derive(Debug)]
struct Text<'a>(BString<'a>);

impl Text<'_> {
    /// Appends the concatenation of `parts`.
    fn put(&mut self, parts: &[&str]) -> Span {
        let start = self.0.len() as u32;
        for p in parts {
            self.0.push_str(p);
        }
        Span {
            start,
            end: self.0.len() as u32,
        }
    }

    fn get(&self, s: Span) -> &str {
        &self.0[s.start as usize..s.end as usize]
    }

    fn mark(&self) -> u32 {
        self.0.len() as u32
    }

    /// Forgets everything appended since `mark` (a value that turned out to be a duplicate).
    fn rollback(&mut self, mark: u32) {
        self.0.truncate(mark as usize);
    }
}

/// A copy of a probe account id (always 12 ASCII digits), so that the buffer it came from
/// can grow while it is in use.
fn account_bytes(text: &Text<'_>, s: Span) -> [u8; 12] {
    let b = text.get(s).as_bytes();
    match b.first_chunk::<12>() {
        Some(a) => *a,
        None => {
            let mut out = [b'0'; 12];
            out[..b.len()].copy_from_slice(b);
            out
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Ident {
    arn: Span,
    sts: Option<Span>,
    userid: Span,
    username: Option<Span>,
}

#[derive(Debug, Clone, Copy)]
struct Org {
    id: Span,
    path: Span,
}

#[derive(Debug, Clone, Copy, Default)]
struct Net {
    /// Parsed form of `ip`.
    addr: Option<IpAddr>,
    ip: Option<Span>,
    vpce: Option<Span>,
    vpc: Option<Span>,
}

/// Who a probe stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Class {
    /// An account named nowhere, calling from a network it controls.
    Public,
    /// The same outsider, calling from a network the policy names.
    NetRestricted,
    /// A member of an organization named in the policy and not trusted.
    Org(u16),
    /// An untrusted account named in the policy.
    Account(u16),
    /// An AWS service acting for an untrusted account.
    Service(u16),
}

#[derive(Debug, Clone, Copy)]
struct Probe {
    service: bool,
    class: Class,
    /// Caller account (direct) or source account (service).
    account: u16,
    ident: u16,
    org: u16,
    net: u16,
    svc: u16,
    src_arn: u16,
}

/// One principal entry; account indices are [`NONE`] until the probe accounts are known.
#[derive(Debug, Clone)]
enum PItem<'a> {
    Everyone(&'static str),
    Account(u16, &'a str),
    /// (account index, account id, ARN as written).
    Specific(u16, &'a str, &'a str),
    Service(&'a str),
    Nobody(&'static str),
}

#[derive(Debug)]
struct CStmt<'a> {
    allow: bool,
    not_principal: bool,
    items: BVec<'a, PItem<'a>>,
    /// Sorted accounts named whole by `items` (binary-searched: long principal lists).
    whole: BVec<'a, u16>,
    /// Indices of the `items` that are not whole accounts.
    others: BVec<'a, u32>,
    mask: u64,
    /// Bit r set: the statement applies to resource candidate r.
    res: u64,
    clauses: BVec<'a, CClause<'a>>,
    /// Work units one evaluation of this statement costs (see [`EVAL_BUDGET`]).
    cost: usize,
    /// Index of the first `Everyone` entry and of the first `Service` entry (`u32::MAX`: none).
    first_everyone: u32,
    first_service: u32,
    /// (account, index of the first `Account` or `Specific` entry in it), sorted by account.
    first_of_account: BVec<'a, (u16, u32)>,
}

#[derive(Debug)]
struct World<'a> {
    /// Every string the probes carry.
    text: Text<'a>,
    accounts: BVec<'a, Span>,
    /// Identities of all accounts; account `a` owns `idents[ident_at[a]..ident_at[a + 1]]`.
    idents: BVec<'a, Ident>,
    ident_at: BVec<'a, u32>,
    orgs: BVec<'a, Org>,
    nets: BVec<'a, Net>,
    services: BVec<'a, &'a str>,
    /// Source ARNs of service probes; account `a` owns `src_arns[src_at[a]..src_at[a + 1]]`.
    src_arns: BVec<'a, Span>,
    src_at: BVec<'a, u32>,
    region: &'a str,
    resource_account: &'a str,
    tags: Option<&'a BTreeMap<String, String>>,
    resources: BVec<'a, Cow<'a, str>>,
}

impl World<'_> {
    fn s(&self, s: Span) -> &str {
        self.text.get(s)
    }

    fn account(&self, a: u16) -> &str {
        self.text.get(self.accounts[a as usize])
    }

    fn n_idents(&self, a: u16) -> u16 {
        (self.ident_at[a as usize + 1] - self.ident_at[a as usize]) as u16
    }

    fn ident(&self, a: u16, i: u16) -> &Ident {
        &self.idents[self.ident_at[a as usize] as usize + i as usize]
    }

    fn n_src_arns(&self, a: u16) -> u16 {
        (self.src_at[a as usize + 1] - self.src_at[a as usize]) as u16
    }

    fn src_arn(&self, a: u16, k: u16) -> &str {
        self.text
            .get(self.src_arns[self.src_at[a as usize] as usize + k as usize])
    }

    fn org_id(&self, o: u16) -> &str {
        self.text.get(self.orgs[o as usize].id)
    }

    fn principal_matches(&self, s: &CStmt, p: &Probe) -> bool {
        let any = (!p.service && s.whole.binary_search(&p.account).is_ok())
            || s.others.iter().any(|&k| match &s.items[k as usize] {
                PItem::Everyone(_) => true,
                PItem::Account(a, _) => !p.service && *a == p.account,
                PItem::Specific(a, _, arn) => {
                    !p.service && *a == p.account && {
                        let id = self.ident(p.account, p.ident);
                        self.s(id.arn) == *arn || id.sts.is_some_and(|s| self.s(s) == *arn)
                    }
                }
                PItem::Service(name) => {
                    p.service
                        && (*name == "*"
                            || self.services[p.svc as usize].eq_ignore_ascii_case(name))
                }
                PItem::Nobody(_) => false,
            });
        any != s.not_principal
    }

    /// Whether a statement that reads no probe field but the organization (an org-restricted
    /// grant, the most common condition) fails for every organization a probe can carry,
    /// calling directly or as a service: then no probe needs to check it. Statements that
    /// read other fields are left to the probes.
    fn never_applies(&self, s: &CStmt) -> bool {
        if stmt_dims(s) & !DIM_ORG != 0 {
            return false;
        }
        let orgs = std::iter::once(NONE).chain(0..self.orgs.len() as u16);
        for org in orgs {
            for service in [false, true] {
                let p = Probe {
                    service,
                    org,
                    ..base_probe()
                };
                if self.principal_matches(s, &p) && self.conditions_hold(s, &p) {
                    return false;
                }
            }
        }
        true
    }

    fn conditions_hold(&self, s: &CStmt, p: &Probe) -> bool {
        let ctx = PCtx { w: self, p: *p };
        s.clauses.iter().all(|c| c.eval(&ctx, s.allow))
    }
}

/// The public outsider calling directly from the first network, outside any
/// organization: the probe others are varied from.
fn base_probe() -> Probe {
    Probe {
        service: false,
        class: Class::Public,
        account: FRESH,
        ident: 0,
        org: NONE,
        net: 0,
        svc: 0,
        src_arn: 0,
    }
}

struct PCtx<'w, 'a> {
    w: &'w World<'a>,
    p: Probe,
}

impl Context for PCtx<'_, '_> {
    fn get(&self, key: Key, tag: &str) -> ReqVal<'_> {
        let w = self.w;
        let p = &self.p;
        let org = (p.org != NONE).then(|| &w.orgs[p.org as usize]);
        match key {
            Key::Free | Key::Username => ReqVal::Free,
            Key::RequestedRegion => ReqVal::One(w.region),
            Key::ResourceAccount => ReqVal::One(w.resource_account),
            Key::ResourceTag => match w.tags {
                None => ReqVal::TagUnknown,
                Some(tags) => match tags.get(tag).or_else(|| {
                    tags.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(tag))
                        .map(|(_, v)| v)
                }) {
                    Some(v) => ReqVal::One(v),
                    None => ReqVal::Missing,
                },
            },
            Key::PrincipalIsAwsService => ReqVal::One(if p.service { "true" } else { "false" }),
            Key::SourceIp => match w.nets[p.net as usize].ip {
                Some(ip) => ReqVal::One(w.s(ip)),
                None => ReqVal::Missing,
            },
            _ if p.service => match key {
                Key::SourceAccount | Key::SourceOwner => ReqVal::One(w.account(p.account)),
                Key::SourceArn => ReqVal::One(w.src_arn(p.account, p.src_arn)),
                Key::SourceOrgId => org.map_or(ReqVal::Missing, |o| ReqVal::One(w.s(o.id))),
                Key::SourceOrgPaths => org.map_or(ReqVal::Missing, |o| ReqVal::One(w.s(o.path))),
                Key::PrincipalServiceName | Key::PrincipalServiceNamesList => {
                    ReqVal::One(w.services[p.svc as usize])
                }
                _ => ReqVal::Missing,
            },
            _ => {
                // Read only by the keys that need it: liveness evaluates org-only
                // statements in a world that has no networks yet.
                let net = || &w.nets[p.net as usize];
                let opt = |s: Option<Span>| s.map_or(ReqVal::Missing, |s| ReqVal::One(w.s(s)));
                match key {
                    Key::PrincipalAccount => ReqVal::One(w.account(p.account)),
                    Key::PrincipalArn => ReqVal::One(w.s(w.ident(p.account, p.ident).arn)),
                    Key::UserId => ReqVal::One(w.s(w.ident(p.account, p.ident).userid)),
                    Key::PrincipalOrgId => org.map_or(ReqVal::Missing, |o| ReqVal::One(w.s(o.id))),
                    Key::PrincipalOrgPaths => {
                        org.map_or(ReqVal::Missing, |o| ReqVal::One(w.s(o.path)))
                    }
                    Key::SourceVpc => opt(net().vpc),
                    Key::SourceVpce => opt(net().vpce),
                    _ => ReqVal::Missing,
                }
            }
        }
    }

    fn source_ip(&self) -> Option<IpAddr> {
        self.w.nets[self.p.net as usize].addr
    }

    fn var(&self, key: Key, tag: &str) -> Option<&str> {
        if key == Key::Username && !self.p.service {
            let id = self.w.ident(self.p.account, self.p.ident);
            return id.username.map(|u| self.w.s(u));
        }
        match self.get(key, tag) {
            ReqVal::One(s) => Some(s),
            _ => None,
        }
    }
}

/// Literals collected from the policy, the raw material of the probes (borrowed from the
/// policy text wherever they are used as written).
struct Harvest<'a> {
    acct_lits: BVec<'a, &'a str>,
    acct_pats: BVec<'a, &'a str>,
    principal_arn_pats: BVec<'a, &'a str>,
    src_arn_pats: BVec<'a, &'a str>,
    org_ids: BVec<'a, Cow<'a, str>>,
    org_pats: BVec<'a, &'a str>,
    org_paths: BVec<'a, (String, String)>,
    userid_pats: BVec<'a, &'a str>,
    cidrs: BVec<'a, IpNet>,
    vpces: BVec<'a, Cow<'a, str>>,
    vpce_pats: BVec<'a, &'a str>,
    vpcs: BVec<'a, Cow<'a, str>>,
    vpc_pats: BVec<'a, &'a str>,
    svc_names: BVec<'a, &'a str>,
    svc_name_lits: BVec<'a, &'a str>,
    specifics: BVec<'a, (&'a str, &'a str)>,
    uses_network: bool,
    uses_identity: bool,
    uses_source: bool,
    /// A live statement reads the caller's organization (id or paths).
    uses_org: bool,
    /// A live statement reads the calling service's source organization.
    uses_src_org: bool,
    wildcard_principal: bool,
    /// Some kind of literal hit [`HARVEST_CAP`]: probes may be missing.
    overflow: bool,
}

impl<'a> Harvest<'a> {
    fn new_in(bump: &'a Bump) -> Self {
        Harvest {
            acct_lits: BVec::new_in(bump),
            acct_pats: BVec::new_in(bump),
            principal_arn_pats: BVec::new_in(bump),
            src_arn_pats: BVec::new_in(bump),
            org_ids: BVec::new_in(bump),
            org_pats: BVec::new_in(bump),
            org_paths: BVec::new_in(bump),
            userid_pats: BVec::new_in(bump),
            cidrs: BVec::new_in(bump),
            vpces: BVec::new_in(bump),
            vpce_pats: BVec::new_in(bump),
            vpcs: BVec::new_in(bump),
            vpc_pats: BVec::new_in(bump),
            svc_names: BVec::new_in(bump),
            svc_name_lits: BVec::new_in(bump),
            specifics: BVec::new_in(bump),
            uses_network: false,
            uses_identity: false,
            uses_source: false,
            uses_org: false,
            uses_src_org: false,
            wildcard_principal: false,
            overflow: false,
        }
    }
}

/// Most distinct literals of one kind that become probes; more marks the harvest as
/// overflowing (the verdict is then refused unless already public with admin access).
const HARVEST_CAP: usize = 256;
/// The same for accounts and principal patterns, which are cheap to probe (statements are
/// indexed by account).
const HARVEST_CAP_ACCOUNTS: usize = 4096;
/// Raw (not yet deduplicated) literals kept of one kind.
const RAW_CAP: usize = 65_536;
/// Values of one condition clause that become network or organization probes: one value
/// satisfies the clause; a few more leave room for Denies that name some of them.
const PER_CLAUSE: usize = 8;

fn push_unique<T>(v: &mut BVec<'_, T>, s: T) {
    if v.len() < RAW_CAP {
        v.push(s);
    }
}

/// Push if absent (small lists only).
fn push_new<'a>(v: &mut BVec<'_, &'a str>, s: &'a str) {
    if !v.contains(&s) {
        v.push(s);
    }
}

/// Sort, deduplicate and cap; true if the cap cut something off.
fn settle<T: Ord>(v: &mut BVec<'_, T>, cap: usize) -> bool {
    if v.len() < 2 {
        return v.len() > cap;
    }
    v.sort_unstable();
    v.dedup();
    if v.len() > cap {
        v.truncate(cap);
        true
    } else {
        false
    }
}

fn digit_runs<'a>(s: &'a str, out: &mut BVec<'_, &'a str>) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // Eight bytes without a digit are passed in one step (most of an ARN or id): a byte
        // is a digit iff its value xor '0' is below 10.
        if let Some(w) = swar::word(b, i) {
            if swar::below(w ^ (swar::LANES * u64::from(b'0')), 10) == 0 {
                i += 8;
                continue;
            }
        }
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i - start == 12 {
                push_unique(out, &s[start..i]);
            }
        } else {
            i += 1;
        }
    }
}

fn has_fixed_after(p: &str, prefix: usize) -> bool {
    p.char_indices()
        .any(|(i, c)| i >= prefix && c != '*' && c != '?')
}

fn valid_org(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("o-") else {
        return false;
    };
    (10..=32).contains(&rest.len())
        && rest
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn note_account_value<'a>(h: &mut Harvest<'a>, v: &'a str) {
    if glob::is_pattern(v) {
        if v.bytes()
            .all(|b| b.is_ascii_digit() || b == b'*' || b == b'?')
            && has_fixed_after(v, 0)
        {
            push_unique(&mut h.acct_pats, v);
        }
    } else if is_account_id(v) {
        push_unique(&mut h.acct_lits, v);
    }
}

fn note_org_value<'a>(h: &mut Harvest<'a>, v: &'a str) {
    if glob::is_pattern(v) {
        if has_fixed_after(v, 2) {
            push_unique(&mut h.org_pats, v);
        }
    } else if v.bytes().any(|b| b.is_ascii_uppercase()) {
        let l = v.to_ascii_lowercase();
        if valid_org(&l) {
            push_unique(&mut h.org_ids, Cow::Owned(l));
        }
    } else if valid_org(v) {
        push_unique(&mut h.org_ids, Cow::Borrowed(v));
    }
}

fn instantiate_org(p: &str) -> Option<String> {
    let fixed = p.chars().filter(|c| *c != '*').count();
    let fill = "x".repeat(12usize.saturating_sub(fixed).max(1));
    let mut first = true;
    let mut out = String::new();
    for c in p.chars() {
        match c {
            '*' if first => {
                out.push_str(&fill);
                first = false;
            }
            '*' => {}
            '?' => out.push('x'),
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    valid_org(&out).then_some(out)
}

/// A network id as a probe value: written as is, or a pattern instantiated.
fn note_net_id<'a>(
    ids: &mut BVec<'_, Cow<'a, str>>,
    pats: &mut BVec<'_, &'a str>,
    v: &'a str,
    free_prefix: usize,
) {
    if glob::is_pattern(v) {
        if has_fixed_after(v, free_prefix) {
            push_unique(pats, v);
            push_unique(ids, Cow::Owned(glob::instantiate(v, "x", 'x')));
        }
    } else {
        push_unique(ids, Cow::Borrowed(v));
    }
}

/// Which literals one harvest pass collects.
#[derive(Clone, Copy)]
enum Pass<'l> {
    /// Organization ids and paths, from every statement: the organizations a probe can
    /// carry must be known before liveness (an org-only statement is judged against them).
    Orgs,
    /// Everything else, from the live statements only: a statement that never applies
    /// cannot tell two probes apart, so its literals would only add probes.
    Probes(&'l [bool]),
}

/// Collects literals into `h` (one [`Pass`]), then sorts, deduplicates and caps them.
fn harvest<'a>(h: &mut Harvest<'a>, policy: &'a Policy<'a>, stmts: &[CStmt<'a>], pass: Pass<'_>) {
    for (i, (st, cs)) in policy.statements.iter().zip(stmts).enumerate() {
        let probes = match pass {
            Pass::Orgs => false,
            Pass::Probes(live) if live[i] => true,
            Pass::Probes(_) => continue,
        };
        if probes {
            harvest_principal(h, st, cs);
        }
        for c in &cs.clauses {
            if probes {
                match c.key {
                    Key::SourceIp | Key::SourceVpc | Key::SourceVpce => h.uses_network = true,
                    Key::PrincipalArn | Key::UserId | Key::Username => h.uses_identity = true,
                    Key::SourceAccount | Key::SourceOwner | Key::SourceArn => h.uses_source = true,
                    Key::PrincipalOrgId | Key::PrincipalOrgPaths => h.uses_org = true,
                    Key::SourceOrgId | Key::SourceOrgPaths => h.uses_src_org = true,
                    _ => {}
                }
            }
            let org_key = matches!(
                c.key,
                Key::PrincipalOrgId
                    | Key::SourceOrgId
                    | Key::PrincipalOrgPaths
                    | Key::SourceOrgPaths
            );
            if !probes && !org_key {
                continue;
            }
            let raw: &'a [Cow<'a, str>] = c.raw;
            for (vi, v) in raw.iter().enumerate() {
                let v: &'a str = v;
                if v.len() > MAX_HARVEST_LEN {
                    continue;
                }
                let represent = vi < PER_CLAUSE;
                if !probes {
                    if represent {
                        harvest_org_value(h, c.key, v);
                    }
                    continue;
                }
                digit_runs(v, &mut h.acct_lits);
                match c.key {
                    Key::PrincipalAccount | Key::SourceAccount | Key::SourceOwner => {
                        note_account_value(h, v)
                    }
                    Key::PrincipalArn | Key::SourceArn => {
                        if let Some(parts) = principal::arn_parts(v) {
                            note_account_value(h, parts[4]);
                        }
                        if c.key == Key::PrincipalArn {
                            push_unique(&mut h.principal_arn_pats, v);
                        } else {
                            push_unique(&mut h.src_arn_pats, v);
                        }
                    }
                    Key::UserId => push_unique(&mut h.userid_pats, v),
                    Key::SourceIp if represent => {
                        // IP operators compiled the value already.
                        let n = match c.vals.get(vi) {
                            Some(Val::Ip(n)) => *n,
                            _ => parse_net(v),
                        };
                        if let Some(n) = n {
                            push_unique(&mut h.cidrs, n);
                        }
                    }
                    Key::SourceVpce if represent => {
                        note_net_id(&mut h.vpces, &mut h.vpce_pats, v, 5)
                    }
                    Key::SourceVpc if represent => note_net_id(&mut h.vpcs, &mut h.vpc_pats, v, 4),
                    Key::PrincipalServiceName | Key::PrincipalServiceNamesList
                        if !glob::is_pattern(v) =>
                    {
                        push_unique(&mut h.svc_name_lits, v);
                    }
                    _ => {}
                }
            }
        }
    }
    let mut over = false;
    match pass {
        Pass::Orgs => {
            over |= settle(&mut h.org_ids, HARVEST_CAP);
            over |= settle(&mut h.org_pats, HARVEST_CAP);
            over |= settle(&mut h.org_paths, HARVEST_CAP);
        }
        Pass::Probes(_) => {
            over |= settle(&mut h.acct_lits, HARVEST_CAP_ACCOUNTS);
            over |= settle(&mut h.acct_pats, HARVEST_CAP);
            over |= settle(&mut h.principal_arn_pats, 4 * HARVEST_CAP_ACCOUNTS);
            over |= settle(&mut h.src_arn_pats, HARVEST_CAP);
            over |= settle(&mut h.userid_pats, 4 * HARVEST_CAP_ACCOUNTS);
            over |= settle(&mut h.cidrs, HARVEST_CAP);
            over |= settle(&mut h.vpces, HARVEST_CAP);
            over |= settle(&mut h.vpce_pats, HARVEST_CAP);
            over |= settle(&mut h.vpcs, HARVEST_CAP);
            over |= settle(&mut h.vpc_pats, HARVEST_CAP);
            over |= settle(&mut h.svc_names, HARVEST_CAP);
            over |= settle(&mut h.svc_name_lits, HARVEST_CAP);
            over |= settle(&mut h.specifics, HARVEST_CAP_ACCOUNTS);
        }
    }
    h.overflow |= over;
}

/// Accounts, services and named principals of one statement's principal.
fn harvest_principal<'a>(h: &mut Harvest<'a>, st: &'a Statement<'a>, cs: &CStmt<'a>) {
    if st.not_principal {
        h.wildcard_principal = true;
    }
    match &st.principal {
        Principal::Star => h.wildcard_principal = true,
        Principal::Map(items) => {
            for ((_, s), item) in items.iter().zip(&cs.items) {
                if s.len() <= MAX_HARVEST_LEN {
                    digit_runs(s, &mut h.acct_lits);
                }
                match *item {
                    PItem::Everyone(_) => h.wildcard_principal = true,
                    PItem::Service(name) => push_unique(&mut h.svc_names, name),
                    PItem::Specific(_, account, arn) => {
                        push_unique(&mut h.specifics, (account, arn));
                    }
                    _ => {}
                }
            }
        }
    }
}

/// One value of an organization key: an org id, or a path and the org it starts with.
fn harvest_org_value<'a>(h: &mut Harvest<'a>, key: Key, v: &'a str) {
    match key {
        Key::PrincipalOrgId | Key::SourceOrgId => note_org_value(h, v),
        Key::PrincipalOrgPaths | Key::SourceOrgPaths => {
            let id = v.split('/').next().unwrap_or("");
            note_org_value(h, id);
            let org = if glob::is_pattern(id) {
                instantiate_org(id)
            } else {
                Some(id.to_ascii_lowercase())
            };
            if let Some(org) = org.filter(|o| valid_org(o)) {
                let rest = &v[id.len()..];
                let mut path = org.clone();
                path.push_str(&glob::instantiate(rest, "x", 'x'));
                if !path.ends_with('/') {
                    path.push('/');
                }
                push_unique(&mut h.org_paths, (org, path));
            }
        }
        _ => {}
    }
}

/// First candidate equal to no literal and matched by no pattern that pins a character
/// beyond `free_prefix` (an outsider cannot pick such a value).
fn pick_fresh<L: AsRef<str>>(
    cands: &[&'static str],
    lits: &[L],
    pats: &[&str],
    free_prefix: usize,
) -> &'static str {
    for c in cands {
        if lits.iter().any(|l| l.as_ref().eq_ignore_ascii_case(c)) {
            continue;
        }
        if pats
            .iter()
            .any(|p| has_fixed_after(p, free_prefix) && glob::matches(p.as_bytes(), c.as_bytes()))
        {
            continue;
        }
        return c;
    }
    cands[cands.len() - 1]
}
const FRESH_ACCOUNTS: [&str; 8] = [
    "987654321098",
    "468013579246",
    "735190284613",
    "209384756102",
    "551627384950",
    "890123456781",
    "314159265358",
    "662607015000",
];
const FRESH_ROLE_IDS: [&str; 3] = [
    "AROAQ7ZK3PROBEX2W4N1",
    "AROAV8YJ2FRESHW3X5M0",
    "AROAU9XH1OTHERV4Y6L9",
];
const FRESH_USER_IDS: [&str; 3] = [
    "AIDAQ7ZK3PROBEX2W4N1",
    "AIDAV8YJ2FRESHW3X5M0",
    "AIDAU9XH1OTHERV4Y6L9",
];
const FRESH_ORGS: [&str; 3] = ["o-q7zk3probe", "o-v8yj2fresh", "o-u9xh1other"];
/// Public addresses an outsider may call from (the first outside every CIDR the policy names).
const GENERIC_V4: [[u8; 4]; 10] = [
    [52, 94, 76, 10],
    [3, 120, 1, 1],
    [18, 200, 2, 2],
    [99, 80, 3, 3],
    [130, 176, 4, 4],
    [160, 1, 5, 5],
    [203, 0, 113, 9],
    [44, 1, 1, 1],
    [220, 1, 1, 1],
    [250, 1, 1, 1],
];
/// IPv6 addresses an outsider may call from, with their canonical text.
const GENERIC_V6: [(Ipv6Addr, &str); 4] = [
    (
        Ipv6Addr::new(0x2600, 0x1f18, 0, 0, 0, 0, 0, 1),
        "2600:1f18::1",
    ),
    (
        Ipv6Addr::new(0x2a05, 0xd018, 0, 0, 0, 0, 0, 1),
        "2a05:d018::1",
    ),
    (
        Ipv6Addr::new(0x2406, 0xda00, 0, 0, 0, 0, 0, 1),
        "2406:da00::1",
    ),
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 1), "3fff::1"),
];

/// Appends the canonical text of an address (IPv4 by hand: probe networks are built for
/// every policy that names one, and `Display` costs several times more).
fn put_ip(text: &mut Text, addr: IpAddr) -> Span {
    let start = text.mark();
    match addr {
        IpAddr::V4(a) => {
            for (k, o) in a.octets().into_iter().enumerate() {
                if k > 0 {
                    text.0.push('.');
                }
                if o >= 100 {
                    text.0.push((b'0' + o / 100) as char);
                }
                if o >= 10 {
                    text.0.push((b'0' + o / 10 % 10) as char);
                }
                text.0.push((b'0' + o % 10) as char);
            }
        }
        IpAddr::V6(a) => {
            use std::fmt::Write;
            let _ = write!(text.0, "{a}");
        }
    }
    Span {
        start,
        end: text.mark(),
    }
}

/// A probe network calling from `addr`.
fn ip_net(text: &mut Text, addr: IpAddr) -> Net {
    Net {
        addr: Some(addr),
        ip: Some(put_ip(text, addr)),
        ..Net::default()
    }
}

fn is_wide(n: &IpNet) -> bool {
    match n {
        IpNet::V4(n) => n.prefix_len() < 8,
        IpNet::V6(n) => n.prefix_len() < 32,
    }
}

/// An address inside a wide CIDR, in a /8 (/32) block that no narrow CIDR touches.
fn inside_wide(wide: &IpNet, narrow: &[IpNet]) -> Option<IpAddr> {
    match wide {
        IpNet::V4(w) => {
            let base = u32::from(w.network());
            let blocks = 1u64 << (8 - w.prefix_len());
            for k in 0..blocks.min(256) {
                let block = base.wrapping_add((k as u32) << 24);
                let addr = std::net::Ipv4Addr::from(block | 0x000a_0b0c);
                let touched = narrow.iter().any(|n| match n {
                    IpNet::V4(n) => u32::from(n.network()) >> 24 == block >> 24,
                    IpNet::V6(_) => false,
                });
                if !touched {
                    return Some(IpAddr::from(addr));
                }
            }
            None
        }
        IpNet::V6(w) => {
            let base = u128::from(w.network());
            let blocks = 1u128 << (32 - w.prefix_len()).min(100);
            for k in 0..blocks.min(256) {
                let block = base.wrapping_add(k << 96);
                let addr = std::net::Ipv6Addr::from(block | 0xa0b);
                let touched = narrow.iter().any(|n| match n {
                    IpNet::V6(n) => u128::from(n.network()) >> 96 == block >> 96,
                    IpNet::V4(_) => false,
                });
                if !touched {
                    return Some(IpAddr::from(addr));
                }
            }
            None
        }
    }
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

/// The concatenation of `parts` in one allocation of the exact size: explanation sentences
/// are built for every exposing grant, and `format!` cost several times more per sentence.
fn cat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.push_str(p);
    }
    out
}

/// Decimal text of `n` in `buf` (statement indices in explanations).
fn decimal(n: usize, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

/// The evaluation of one policy: compiled statements, probe world and results.
pub(crate) struct Evaluation<'a> {
    policy: &'a Policy<'a>,
    names: ActionNames,
    stmts: BVec<'a, CStmt<'a>>,
    world: World<'a>,
    counted: u64,
    /// Number of public-class network kinds; the rest are policy networks.
    pub_nets: usize,
    registry: Option<RegistryScope>,
    /// The probe set is incomplete (too many literals or accounts).
    overflow: bool,
    /// Indices of the Deny statements (explanations visit them per grant).
    denies: BVec<'a, usize>,
    /// Account indices sorted by account id, for lookups by id.
    acct_order: BVec<'a, u16>,
    /// Statements that can apply to some request ([`liveness`]).
    live: BVec<'a, bool>,
    /// Probe fields some live statement reads: `(organization, service source account,
    /// service source organization)`, from the harvest.
    reads: (bool, bool, bool),
    /// The arena everything above lives in, for what `run` builds.
    bump: &'a Bump,
}

struct GrantAcc {
    stmt: usize,
    class: Class,
    mask: u64,
    witness: Probe,
    res: usize,
}

/// Evaluate a parsed policy.
pub(crate) fn evaluate(
    policy: &Policy<'_>,
    subject: &Subject<'_>,
    trust: &Trust,
) -> Result<Verdict, PolicyError> {
    // Everything the evaluation builds lives in one arena, released at once: allocation
    // and freeing were a quarter of the cost of a typical verdict. The arena is kept per
    // thread and reset, so a verdict does not allocate and fault in a fresh one.
    ARENA.with(|cell| match cell.try_borrow_mut() {
        Ok(mut bump) => {
            bump.reset();
            let out = Evaluation::build(policy, subject, trust, &bump).run();
            // A huge policy grows the arena; keep only a typical one between verdicts.
            if bump.allocated_bytes() > ARENA_KEEP_BYTES {
                *bump = Bump::with_capacity(ARENA_BYTES);
            }
            out
        }
        // Only if an evaluation ever ran inside another on this thread.
        Err(_) => {
            Evaluation::build(policy, subject, trust, &Bump::with_capacity(ARENA_BYTES)).run()
        }
    })
}

thread_local! {
    static ARENA: std::cell::RefCell<Bump> = std::cell::RefCell::new(Bump::with_capacity(ARENA_BYTES));
}

/// Resource candidates for the subject: the repository, or for a registry one ARN standing
/// for any repository plus one per repository pattern the policy names.
fn resource_candidates<'a>(
    policy: &'a Policy<'a>,
    subject: &Subject<'a>,
    bump: &'a Bump,
) -> (&'a str, Option<&'a str>, BVec<'a, Cow<'a, str>>) {
    match *subject {
        Subject::Repository { arn, .. } => {
            let parts = principal::arn_parts(arn);
            let region = parts.map_or("", |p| p[3]);
            let acct = parts.map(|p| p[4]).filter(|a| !a.is_empty());
            (region, acct, bumpalo::vec![in bump; Cow::Borrowed(arn)])
        }
        Subject::Registry {
            account_id, region, ..
        } => {
            let prefix = format!(
                "arn:{}:ecr:{region}:{account_id}:repository/",
                partition_of(region)
            );
            let mut res: BVec<'a, Cow<'a, str>> =
                bumpalo::vec![in bump; Cow::Owned(format!("{prefix}probe-any-repository"))];
            'outer: for st in &policy.statements {
                if let Some((_, pats)) = &st.resources {
                    for p in pats {
                        if res.len() >= MAX_RESOURCES {
                            break 'outer;
                        }
                        if p.len() > MAX_HARVEST_LEN {
                            continue;
                        }
                        let inst = glob::instantiate(p, "x", 'x');
                        if inst.len() > prefix.len()
                            && inst.starts_with(&prefix)
                            && !res.iter().any(|r| **r == *inst)
                        {
                            res.push(Cow::Owned(inst));
                        }
                    }
                }
            }
            (region, Some(account_id), res)
        }
    }
}

/// The identities an outsider account can call as: its root, the principals the policy names
/// in it, and (when the policy looks at identity keys) a role session and a user whose names
/// it picks, plus instances of the policy's principal ARN patterns.
struct IdentityPlan<'h, 'a> {
    h: &'h Harvest<'a>,
    role_id: &'static str,
    user_id: &'static str,
    /// PrincipalArn patterns with a fixed account (sorted by it) and with a pattern account.
    arn_pats_fixed: Vec<[&'a str; 6]>,
    arn_pats_any: Vec<[&'a str; 6]>,
    sessions: Vec<String>,
}

impl IdentityPlan<'_, '_> {
    /// Builds an identity into `text` and keeps it unless the account has enough
    /// identities or an equal one; otherwise its strings are rolled back.
    fn add(
        &self,
        text: &mut Text<'_>,
        out: &mut BVec<'_, Ident>,
        first: usize,
        build: impl FnOnce(&mut Text<'_>) -> Ident,
    ) {
        let mark = text.mark();
        let id = build(text);
        let dup = out[first..].iter().any(|x| {
            text.get(x.arn) == text.get(id.arn) && text.get(x.userid) == text.get(id.userid)
        });
        if out.len() - first < MAX_IDENTS_PER_ACCOUNT && !dup {
            out.push(id);
        } else {
            text.rollback(mark);
        }
    }

    /// Role `x` of account `a` in session `session`.
    fn role_session(&self, text: &mut Text<'_>, a: &str, session: &str) -> Ident {
        Ident {
            arn: text.put(&["arn:aws:iam::", a, ":role/x"]),
            sts: Some(text.put(&["arn:aws:sts::", a, ":assumed-role/x/", session])),
            userid: text.put(&[self.role_id, ":", session]),
            username: None,
        }
    }

    fn push_for(&self, text: &mut Text<'_>, out: &mut BVec<'_, Ident>, acct: Span) {
        let first = out.len();
        let buf = account_bytes(text, acct);
        let a = std::str::from_utf8(&buf).unwrap_or("");
        let arn = text.put(&["arn:aws:iam::", a, ":root"]);
        out.push(Ident {
            arn,
            sts: None,
            userid: acct,
            username: None,
        });
        let h = self.h;
        let lo = h.specifics.partition_point(|(x, _)| *x < a);
        let hi = h.specifics.partition_point(|(x, _)| *x <= a);
        for &(_, arn) in &h.specifics[lo..hi] {
            if out.len() - first >= MAX_IDENTS_PER_ACCOUNT {
                break;
            }
            self.add(text, out, first, |t| {
                ident_for_arn(t, arn, self.role_id, self.user_id)
            });
        }
        if !h.uses_identity {
            return;
        }
        self.add(text, out, first, |t| self.role_session(t, a, "x"));
        self.add(text, out, first, |t| Ident {
            arn: t.put(&["arn:aws:iam::", a, ":user/x"]),
            sts: None,
            userid: t.put(&[self.user_id]),
            username: Some(t.put(&["x"])),
        });
        let lo = self.arn_pats_fixed.partition_point(|p| p[4] < a);
        let hi = self.arn_pats_fixed.partition_point(|p| p[4] <= a);
        for parts in self.arn_pats_fixed[lo..hi].iter().chain(&self.arn_pats_any) {
            if out.len() - first >= MAX_IDENTS_PER_ACCOUNT {
                break;
            }
            if !glob::matches(parts[4].as_bytes(), a.as_bytes()) {
                continue;
            }
            let arn = instantiate_in_account(parts, a);
            self.add(text, out, first, |t| {
                ident_for_arn(t, &arn, self.role_id, self.user_id)
            });
        }
        for s in &self.sessions {
            if out.len() - first >= MAX_IDENTS_PER_ACCOUNT {
                break;
            }
            self.add(text, out, first, |t| self.role_session(t, a, s));
        }
    }
}

impl<'a> Evaluation<'a> {
    fn build(
        policy: &'a Policy<'a>,
        subject: &Subject<'a>,
        trust: &'a Trust,
        bump: &'a Bump,
    ) -> Self {
        // Actions.
        // Concrete literals are resolved in one table lookup each, now; patterns once every
        // unknown name has its bit.
        let mut names = ActionNames::default();
        let mut concrete: BVec<'a, Option<u64>> = BVec::with_capacity_in(
            policy.statements.iter().map(|s| s.actions.len()).sum(),
            bump,
        );
        for st in &policy.statements {
            for a in &st.actions {
                concrete.push(names.concrete(a));
            }
        }
        let mut concrete = concrete.into_iter();
        let universe = names.universe();
        let (counted, registry) = match subject {
            Subject::Repository { .. } => (universe, None),
            Subject::Registry {
                scope: RegistryScope::V2,
                ..
            } => (universe, Some(RegistryScope::V2)),
            Subject::Registry {
                scope: RegistryScope::V1,
                ..
            } => (actions::v1_mask(), Some(RegistryScope::V1)),
        };
        let (region, resource_account, resources) = resource_candidates(policy, subject, bump);
        let resource_account = resource_account.unwrap_or(trust.owner_account.as_str());
        let tags = match *subject {
            Subject::Repository { tags, .. } => tags,
            Subject::Registry { .. } => None,
        };

        // Statements, with principal account indices filled in once the accounts are known.
        // Wildcard action patterns repeat across statements: their masks are cached.
        let mut mask_cache: BVec<'a, (&str, u64)> = BVec::new_in(bump);
        let mut mask_map: HashMap<&str, u64> = HashMap::new();
        let mut stmts: BVec<'a, CStmt<'a>> = BVec::with_capacity_in(policy.statements.len(), bump);
        for st in &policy.statements {
            let items: BVec<'a, PItem<'a>> = match &st.principal {
                Principal::Star => bumpalo::vec![in bump; PItem::Everyone(
                    "principal \"*\" is every authenticated AWS principal in every account",
                )],
                Principal::Map(m) => m
                    .iter()
                    .map(|(t, s)| match principal::classify(*t, s) {
                        PrincipalKind::Everyone { why } => PItem::Everyone(why),
                        PrincipalKind::Account { account } => PItem::Account(NONE, account),
                        PrincipalKind::Specific { account, arn } => {
                            PItem::Specific(NONE, account, arn)
                        }
                        PrincipalKind::Service { name } => PItem::Service(name),
                        PrincipalKind::Nobody { why } => PItem::Nobody(why),
                    })
                    .collect_in(bump),
            };
            let clauses: BVec<'a, CClause<'a>> = st
                .conditions
                .iter()
                .map(|c| CClause::compile(c, policy.version, bump))
                .collect_in(bump);
            let mut mask = 0u64;
            for a in &st.actions {
                let a: &'a str = a;
                if let Some(m) = concrete.next().flatten() {
                    mask |= m;
                    continue;
                }
                mask |= if a.len() > 1 && glob::is_pattern(a) {
                    let cached = if mask_cache.len() < 16 {
                        mask_cache.iter().find(|(p, _)| *p == a).map(|(_, m)| *m)
                    } else {
                        mask_map.get(a).copied()
                    };
                    match cached {
                        Some(m) => m,
                        None => {
                            let m = names.mask_of(a);
                            if mask_cache.len() < 16 {
                                mask_cache.push((a, m));
                                if mask_cache.len() == 16 {
                                    mask_map.extend(mask_cache.iter().copied());
                                }
                            } else {
                                mask_map.insert(a, m);
                            }
                            m
                        }
                    }
                } else {
                    names.mask_of(a)
                };
            }
            if st.not_action {
                mask = !mask & universe;
            }
            let mut res = 0u64;
            for (r, arn) in resources.iter().enumerate() {
                let applies = match &st.resources {
                    None => true,
                    Some((not, pats)) => {
                        let m = pats
                            .iter()
                            .any(|p| glob::matches(p.as_bytes(), arn.as_bytes()));
                        m != *not
                    }
                };
                if applies {
                    res |= 1 << r;
                }
            }
            let cost = 1 + clauses.iter().map(CClause::eval_cost).sum::<usize>();
            // What does not depend on the probe accounts is indexed now: liveness, judged
            // before the accounts exist, matches principals through it.
            let mut others = BVec::new_in(bump);
            let mut first_everyone = u32::MAX;
            let mut first_service = u32::MAX;
            for (k, it) in items.iter().enumerate() {
                let k = k as u32;
                match it {
                    PItem::Account(..) | PItem::Nobody(_) => continue,
                    PItem::Everyone(_) => first_everyone = first_everyone.min(k),
                    PItem::Service(_) => first_service = first_service.min(k),
                    PItem::Specific(..) => {}
                }
                others.push(k);
            }
            stmts.push(CStmt {
                allow: st.allow,
                not_principal: st.not_principal,
                items,
                whole: BVec::new_in(bump),
                others,
                mask,
                res,
                clauses,
                cost,
                first_everyone,
                first_service,
                first_of_account: BVec::new_in(bump),
            });
        }
        // Sized for typical policies (a few accounts, networks and source ARNs): growing it
        // cost more than the extra room.
        let mut text = Text(BString::with_capacity_in(1024, bump));
        let mut h = Harvest::new_in(bump);
        harvest(&mut h, policy, &stmts, Pass::Orgs);

        // Organizations: [0] is the outsider's own.
        let mut orgs: BVec<'a, Org> = BVec::with_capacity_in(4, bump);
        let own = pick_fresh(&FRESH_ORGS, &h.org_ids, &h.org_pats, 2);
        let own_id = text.put(&[own]);
        orgs.push(Org {
            id: own_id,
            path: text.put(&[own, "/r-q7zk/ou-q7zk-probe000/"]),
        });
        let add_org =
            |text: &mut Text<'a>, orgs: &mut BVec<'a, Org>, o: &str, path: Option<&str>| {
                if orgs.len() >= MAX_ORGS || trust.trusted_orgs.contains(o) {
                    return;
                }
                let dup = match path {
                    None => orgs.iter().any(|x| text.get(x.id) == o),
                    Some(p) => orgs.iter().any(|x| text.get(x.path) == p),
                };
                if !dup {
                    let id = text.put(&[o]);
                    let path = match path {
                        Some(p) => text.put(&[p]),
                        None => text.put(&[o, "/r-q7zk/ou-q7zk-probe000/"]),
                    };
                    orgs.push(Org { id, path });
                }
            };
        for o in &h.org_ids {
            add_org(&mut text, &mut orgs, o, None);
        }
        for p in &h.org_pats {
            if let Some(o) = instantiate_org(p) {
                add_org(&mut text, &mut orgs, &o, None);
            }
        }
        for (o, path) in &h.org_paths {
            add_org(&mut text, &mut orgs, o, Some(path));
        }

        // Which statements can apply at all, judged before the rest of the world is built
        // so that the literals of the others do not become probes.
        let org_world = World {
            text,
            accounts: BVec::new_in(bump),
            idents: BVec::new_in(bump),
            ident_at: BVec::new_in(bump),
            orgs,
            nets: BVec::new_in(bump),
            services: BVec::new_in(bump),
            src_arns: BVec::new_in(bump),
            src_at: BVec::new_in(bump),
            region,
            resource_account,
            tags,
            resources,
        };
        let live = liveness(&org_world, &stmts, counted, bump);
        let World {
            mut text,
            orgs,
            resources,
            ..
        } = org_world;
        harvest(&mut h, policy, &stmts, Pass::Probes(&live));
        let mut overflow = h.overflow;

        // Accounts: the fresh outsider first, then named untrusted ones.
        let is_trusted = |a: &str| is_trusted_account(trust, a);
        let fresh = FRESH_ACCOUNTS
            .iter()
            .copied()
            .find(|c| {
                !is_trusted(c)
                    && h.acct_lits.binary_search(c).is_err()
                    && !h
                        .acct_pats
                        .iter()
                        .any(|p| has_fixed_after(p, 0) && glob::matches(p.as_bytes(), c.as_bytes()))
            })
            .unwrap_or(FRESH_ACCOUNTS[FRESH_ACCOUNTS.len() - 1]);
        let mut accounts: BVec<'a, Span> = BVec::with_capacity_in(1 + h.acct_lits.len(), bump);
        accounts.push(text.put(&[fresh]));
        for &a in &h.acct_lits {
            if accounts.len() >= MAX_ACCOUNTS {
                break;
            }
            // Sorted and deduplicated by the harvest.
            if !is_trusted(a) && a != fresh {
                accounts.push(text.put(&[a]));
            }
        }
        let named = accounts.len();
        for p in &h.acct_pats {
            if accounts.len() >= MAX_ACCOUNTS {
                break;
            }
            for d in 0..10u8 {
                let fill = ((b'0' + d) as char).to_string();
                let stars = p.chars().filter(|c| *c == '*').count();
                let fixed = p.chars().filter(|c| *c != '*').count();
                let star_fill = if stars > 0 && fixed <= 12 {
                    fill.repeat((12 - fixed).div_ceil(stars))
                } else {
                    String::new()
                };
                let mut inst = glob::instantiate(p, &star_fill, (b'0' + d) as char);
                inst.truncate(12);
                if is_account_id(&inst)
                    && glob::matches(p.as_bytes(), inst.as_bytes())
                    && !is_trusted(&inst)
                {
                    let seen = inst == fresh
                        || h.acct_lits.binary_search(&inst.as_str()).is_ok()
                        || accounts[named..].iter().any(|s| text.get(*s) == inst);
                    if !seen {
                        accounts.push(text.put(&[&inst]));
                    }
                    break;
                }
            }
        }

        // Identities per account.
        let uid_pats: Vec<&str> = h
            .userid_pats
            .iter()
            .map(|p| p.split(':').next().unwrap_or(""))
            .collect();
        let role_id = pick_fresh::<&str>(&FRESH_ROLE_IDS, &[], &uid_pats, 4);
        let user_id = pick_fresh::<&str>(&FRESH_USER_IDS, &[], &uid_pats, 4);
        let mut arn_pats_fixed: Vec<[&str; 6]> = Vec::new();
        let mut arn_pats_any: Vec<[&str; 6]> = Vec::new();
        for p in &h.principal_arn_pats {
            if let Some(parts) = principal::arn_parts(p) {
                if glob::is_pattern(parts[4]) {
                    arn_pats_any.push(parts);
                } else {
                    arn_pats_fixed.push(parts);
                }
            }
        }
        arn_pats_fixed.sort_by_key(|p| p[4]);
        let sessions: Vec<String> = {
            let mut v: Vec<String> = h
                .userid_pats
                .iter()
                .filter_map(|u| u.split_once(':'))
                .filter(|(uid, _)| glob::matches(uid.as_bytes(), role_id.as_bytes()))
                .map(|(_, session)| glob::instantiate(session, "x", 'x'))
                .collect();
            v.sort_unstable();
            v.dedup();
            v.truncate(MAX_IDENTS_PER_ACCOUNT);
            v
        };
        let plan = IdentityPlan {
            h: &h,
            role_id,
            user_id,
            arn_pats_fixed,
            arn_pats_any,
            sessions,
        };
        let mut idents = BVec::with_capacity_in(2 * accounts.len(), bump);
        let mut ident_at = BVec::with_capacity_in(accounts.len() + 1, bump);
        for &a in &accounts {
            ident_at.push(idents.len() as u32);
            plan.push_for(&mut text, &mut idents, a);
        }
        ident_at.push(idents.len() as u32);

        // Networks: [0] a generic public IPv4 address; public kinds first.
        let in_any = |ip: IpAddr| h.cidrs.iter().any(|n| n.contains(&ip));
        let generic4 = GENERIC_V4
            .iter()
            .map(|o| IpAddr::from(*o))
            .find(|ip| !in_any(*ip))
            .unwrap_or(IpAddr::from(GENERIC_V4[0]));
        let mut nets = BVec::with_capacity_in(8, bump);
        nets.push(ip_net(&mut text, generic4));
        let mut pol_nets = BVec::new_in(bump);
        if h.uses_network {
            if !h.cidrs.is_empty() {
                let (addr, written) = GENERIC_V6
                    .iter()
                    .find(|(a, _)| !in_any(IpAddr::from(*a)))
                    .unwrap_or(&GENERIC_V6[0]);
                nets.push(Net {
                    addr: Some(IpAddr::from(*addr)),
                    ip: Some(text.put(&[written])),
                    ..Net::default()
                });
            }
            let narrow: BVec<'a, IpNet> = h
                .cidrs
                .iter()
                .filter(|n| !is_wide(n))
                .cloned()
                .collect_in(bump);
            for w in h.cidrs.iter().filter(|n| is_wide(n)) {
                if nets.len() >= MAX_NETS / 2 {
                    break;
                }
                if let Some(ip) = inside_wide(w, &narrow) {
                    if !nets.iter().any(|n| n.addr == Some(ip)) {
                        nets.push(ip_net(&mut text, ip));
                    }
                }
            }
            let own_vpce = pick_fresh(
                &["vpce-0q7zk3probe0000001", "vpce-0v8yj2fresh0000002"],
                &h.vpces,
                &h.vpce_pats,
                5,
            );
            let own_vpc = pick_fresh(
                &["vpc-0q7zk3probe00001", "vpc-0v8yj2fresh00002"],
                &h.vpcs,
                &h.vpc_pats,
                4,
            );
            nets.push(Net {
                ip: None,
                vpce: Some(text.put(&[own_vpce])),
                vpc: Some(text.put(&[own_vpc])),
                addr: None,
            });
            for n in &narrow {
                if pol_nets.len() >= MAX_NETS / 2 {
                    break;
                }
                pol_nets.push(ip_net(&mut text, n.network()));
            }
            let vpces = h.vpces.iter().map(|v| &**v).chain([own_vpce]);
            'v: for e in vpces {
                let vpcs = h.vpcs.iter().map(|v| &**v).chain([own_vpc]);
                for c in vpcs {
                    if e == own_vpce && c == own_vpc {
                        continue;
                    }
                    if pol_nets.len() >= MAX_NETS {
                        break 'v;
                    }
                    pol_nets.push(Net {
                        ip: None,
                        vpce: Some(text.put(&[e])),
                        vpc: Some(text.put(&[c])),
                        addr: None,
                    });
                }
            }
        }
        let pub_nets = nets.len();
        nets.extend(pol_nets);

        // Services.
        let mut services: BVec<'a, &'a str> = BVec::new_in(bump);
        for &s in &h.svc_names {
            if services.len() < MAX_SERVICES {
                push_new(&mut services, s);
            }
        }
        if h.wildcard_principal {
            push_new(&mut services, "*");
            for &s in &h.svc_name_lits {
                if services.len() < MAX_SERVICES {
                    push_new(&mut services, s);
                }
            }
        }
        let mut src_arns: BVec<'a, Span> = BVec::with_capacity_in(2 * accounts.len(), bump);
        let mut src_at: BVec<'a, u32> = BVec::with_capacity_in(accounts.len() + 1, bump);
        let src_region = if region.is_empty() {
            "us-east-1"
        } else {
            region
        };
        let src_pats: BVec<'a, [&str; 6]> = h
            .src_arn_pats
            .iter()
            .filter_map(|p| principal::arn_parts(p))
            .collect_in(bump);
        for (i, &acct) in accounts.iter().enumerate() {
            src_at.push(src_arns.len() as u32);
            if i > 0 && !h.uses_source {
                continue;
            }
            let buf = account_bytes(&text, acct);
            let a = std::str::from_utf8(&buf).unwrap_or("");
            let first = src_arns.len();
            src_arns.push(text.put(&["arn:aws:service:", src_region, ":", a, ":resource/x"]));
            for parts in &src_pats {
                if src_arns.len() - first >= MAX_SRC_ARNS {
                    break;
                }
                let mark = text.mark();
                let arn = put_in_account(&mut text, parts, a);
                if src_arns[first..]
                    .iter()
                    .any(|x| text.get(*x) == text.get(arn))
                {
                    text.rollback(mark);
                } else {
                    src_arns.push(arn);
                }
            }
        }
        src_at.push(src_arns.len() as u32);

        overflow |= accounts.len() >= MAX_ACCOUNTS;
        let world = World {
            text,
            accounts,
            idents,
            ident_at,
            orgs,
            nets,
            services,
            src_arns,
            src_at,
            region,
            resource_account,
            tags,
            resources,
        };

        // Principal account indices.
        let mut acct_order: BVec<'a, u16> = (0..world.accounts.len() as u16).collect_in(bump);
        acct_order.sort_unstable_by(|x, y| world.account(*x).cmp(world.account(*y)));
        let lookup = |a: &str| -> u16 {
            acct_order
                .binary_search_by(|i| world.account(*i).cmp(a))
                .map_or(NONE, |k| acct_order[k])
        };
        for s in &mut stmts {
            for it in &mut s.items {
                match it {
                    PItem::Account(idx, account) => *idx = lookup(account),
                    PItem::Specific(idx, account, _) => *idx = lookup(account),
                    _ => {}
                }
            }
            for (k, it) in s.items.iter().enumerate() {
                match it {
                    PItem::Account(a, _) if *a != NONE => {
                        s.whole.push(*a);
                        s.first_of_account.push((*a, k as u32));
                    }
                    PItem::Specific(a, _, _) if *a != NONE => {
                        s.first_of_account.push((*a, k as u32));
                    }
                    _ => {}
                }
            }
            // Stable sort keeps the first entry of each account first; dedup keeps it.
            s.first_of_account.sort_by_key(|e| e.0);
            s.first_of_account.dedup_by_key(|e| e.0);
            s.whole.sort_unstable();
            s.whole.dedup();
        }

        let denies = stmts
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.allow)
            .map(|(i, _)| i)
            .collect_in(bump);
        Evaluation {
            bump,
            denies,
            policy,
            names,
            stmts,
            world,
            counted,
            pub_nets,
            registry,
            overflow,
            acct_order,
            live,
            reads: (h.uses_org, h.uses_source, h.uses_src_org),
        }
    }

    /// Index of an account id among the probe accounts.
    fn account_index(&self, a: &str) -> Option<u16> {
        self.acct_order
            .binary_search_by(|i| self.world.account(*i).cmp(a))
            .ok()
            .map(|k| self.acct_order[k])
    }

    fn probes(&self, h_orgs: bool) -> BVec<'a, Probe> {
        let w = &self.world;
        let mut out = BVec::with_capacity_in(64, self.bump);
        let pub_orgs: &[u16] = if h_orgs { &[NONE, 0] } else { &[NONE] };
        let pol_orgs = 1..w.orgs.len() as u16;
        let all_nets = 0..w.nets.len() as u16;
        let pub_nets = 0..self.pub_nets as u16;
        let pol_nets = self.pub_nets as u16..w.nets.len() as u16;
        let base = base_probe();
        for (classes, nets) in [(Class::Public, pub_nets), (Class::NetRestricted, pol_nets)] {
            for ident in 0..w.n_idents(FRESH) {
                for &org in pub_orgs {
                    for net in nets.clone() {
                        if out.len() > MAX_PROBES {
                            return out;
                        }
                        out.push(Probe {
                            class: classes,
                            ident,
                            org,
                            net,
                            ..base
                        });
                    }
                }
            }
        }
        for org in pol_orgs.clone() {
            for ident in 0..w.n_idents(FRESH) {
                for net in all_nets.clone() {
                    if out.len() > MAX_PROBES {
                        return out;
                    }
                    out.push(Probe {
                        class: Class::Org(org),
                        ident,
                        org,
                        net,
                        ..base
                    });
                }
            }
        }
        for a in 1..w.accounts.len() as u16 {
            for ident in 0..w.n_idents(a) {
                for org in pub_orgs.iter().copied().chain(pol_orgs.clone()) {
                    for net in all_nets.clone() {
                        if out.len() > MAX_PROBES {
                            return out;
                        }
                        out.push(Probe {
                            class: Class::Account(a),
                            account: a,
                            ident,
                            org,
                            net,
                            ..base
                        });
                    }
                }
            }
        }
        out
    }

    fn service_probes(&self, uses_source: bool, uses_src_org: bool) -> BVec<'a, Probe> {
        let w = &self.world;
        let mut out = BVec::with_capacity_in(16, self.bump);
        let accts = if uses_source {
            0..w.accounts.len() as u16
        } else {
            FRESH..FRESH + 1
        };
        let orgs = if uses_src_org {
            0..w.orgs.len() as u16
        } else {
            0..0
        };
        for svc in 0..w.services.len() as u16 {
            for a in accts.clone() {
                for src_arn in 0..w.n_src_arns(a) {
                    for org in std::iter::once(NONE).chain(orgs.clone()) {
                        if out.len() > MAX_PROBES {
                            return out;
                        }
                        out.push(Probe {
                            service: true,
                            class: Class::Service(svc),
                            account: a,
                            ident: 0,
                            org,
                            net: 0,
                            svc,
                            src_arn,
                        });
                    }
                }
            }
        }
        out
    }

    fn run(self) -> Result<Verdict, PolicyError> {
        // Statement index: always-candidates, per-account (with "the whole account is named"),
        // services. A statement whose condition pins aws:PrincipalAccount/PrincipalArn to
        // fixed accounts is indexed under those accounts only: the key is present on every
        // direct call and absent on service calls, so no other probe can satisfy it.
        let n_acc = self.world.accounts.len();
        let bump = self.bump;
        let n_stmts = self.stmts.len();
        let mut always: BVec<'_, u32> = BVec::with_capacity_in(n_stmts, bump);
        // (account, statement, the statement names the whole account), grouped by account.
        let mut by_account: BVec<'_, (u16, u32, bool)> = BVec::with_capacity_in(2 * n_stmts, bump);
        let mut service_only: BVec<'_, u32> = BVec::with_capacity_in(n_stmts, bump);
        let live = &self.live;
        for (i, s) in self.stmts.iter().enumerate() {
            if !live[i] {
                continue;
            }
            if let Some(pinned) = pinned_accounts(s) {
                let mut idx: Vec<u16> = pinned
                    .into_iter()
                    .filter_map(|a| self.account_index(a))
                    .collect();
                idx.sort_unstable();
                idx.dedup();
                by_account.extend(idx.into_iter().map(|a| (a, i as u32, false)));
                continue;
            }
            let wide = s.not_principal || s.items.iter().any(|it| matches!(it, PItem::Everyone(_)));
            if wide {
                always.push(i as u32);
                continue;
            }
            // Every account an entry names, once, marked when an entry names it whole.
            for &(a, _) in &s.first_of_account {
                by_account.push((a, i as u32, s.whole.binary_search(&a).is_ok()));
            }
            if s.first_service != u32::MAX {
                service_only.push(i as u32);
            }
        }
        // Stable: statements stay in order within an account.
        by_account.sort_by_key(|e| e.0);
        let mut acct_at: BVec<'_, u32> = bumpalo::vec![in bump; 0; n_acc + 1];
        for e in &by_account {
            acct_at[e.0 as usize + 1] += 1;
        }
        for k in 0..n_acc {
            acct_at[k + 1] += acct_at[k];
        }
        let of_account = |a: u16| -> &[(u16, u32, bool)] {
            match (acct_at.get(a as usize), acct_at.get(a as usize + 1)) {
                (Some(&lo), Some(&hi)) => &by_account[lo as usize..hi as usize],
                _ => &[],
            }
        };

        // Probe variants exist for the fields live statements read: a field no live
        // statement reads gives every variant the outcome of the first, which is already
        // the witness.
        let (org, src, src_org) = self.reads;
        let mut probes = self.probes(org);
        let service = self.service_probes(src, src_org);
        probes.reserve_exact(service.len());
        probes.extend(service);
        let mut truncated = self.overflow;
        if probes.len() > MAX_PROBES {
            probes.truncate(MAX_PROBES);
            truncated = true;
        }

        let nres = self.world.resources.len();
        let mut applies: BVec<'_, u32> = BVec::with_capacity_in(self.stmts.len(), bump);
        let mut accs: BVec<'_, GrantAcc> = BVec::with_capacity_in(8, bump);
        let mut acc_index: HashMap<(usize, Class), usize> = HashMap::new();
        let mut work = 0usize;
        let mut public = false;
        let mut cross = false;
        let mut net_restricted = false;
        let mut access = Access::None;
        let mut exposed_all = 0u64;
        // A statement's outcome depends on a few probe fields only (those its principal and
        // condition keys read), and probes repeat them: remember the first outcomes per
        // statement instead of evaluating every (probe, statement) pair.
        // A probe's fields are packed once; a statement's key is that word masked down to
        // the fields it reads.
        let key_masks: BVec<'_, u64> = self
            .stmts
            .iter()
            .map(|s| key_mask(stmt_dims(s)))
            .collect_in(bump);
        let mut memo = Memo::new(self.stmts.len(), bump);
        for p in &probes {
            applies.clear();
            work += 1;
            let packed = probe_key(p);
            let mut check = |i: u32, whole: bool, work: &mut usize| -> bool {
                let s = &self.stmts[i as usize];
                let key = packed & key_masks[i as usize];
                if let Some(r) = memo.get(i, key) {
                    *work += 1;
                    return r;
                }
                *work += s.cost + if whole { 0 } else { s.others.len() };
                let r = (whole || self.world.principal_matches(s, p))
                    && self.world.conditions_hold(s, p);
                memo.put(i, key, r);
                r
            };
            for &i in &always {
                if check(i, false, &mut work) {
                    applies.push(i);
                }
            }
            if p.service {
                for &i in &service_only {
                    if check(i, false, &mut work) {
                        applies.push(i);
                    }
                }
            } else {
                for &(_, i, whole) in of_account(p.account) {
                    if check(i, whole, &mut work) {
                        applies.push(i);
                    }
                }
            }
            if work > EVAL_BUDGET {
                truncated = true;
                break;
            }
            if applies.is_empty() {
                continue;
            }
            for r in 0..nres {
                let bit = 1u64 << r;
                let mut denied = 0u64;
                let mut allowed = 0u64;
                for &i in &applies {
                    let s = &self.stmts[i as usize];
                    if s.res & bit == 0 {
                        continue;
                    }
                    if s.allow {
                        allowed |= s.mask;
                    } else {
                        denied |= s.mask;
                    }
                }
                let exposed = allowed & !denied & self.counted;
                if exposed == 0 {
                    continue;
                }
                exposed_all |= exposed;
                cross = true;
                access = access.max(actions::max_level(exposed));
                match p.class {
                    Class::Public => public = true,
                    Class::NetRestricted => net_restricted = true,
                    _ => {}
                }
                for &i in &applies {
                    let s = &self.stmts[i as usize];
                    if !s.allow || s.res & bit == 0 {
                        continue;
                    }
                    let m = s.mask & !denied & self.counted;
                    if m == 0 {
                        continue;
                    }
                    let key = (i as usize, p.class);
                    // Few grants: a linear scan beats hashing; many: the index takes over.
                    if accs.len() == SMALL_ACCS && acc_index.is_empty() {
                        for (k, a) in accs.iter().enumerate() {
                            acc_index.insert((a.stmt, a.class), k);
                        }
                    }
                    let found = if accs.len() < SMALL_ACCS {
                        accs.iter().position(|a| (a.stmt, a.class) == key)
                    } else {
                        acc_index.get(&key).copied()
                    };
                    match found {
                        Some(k) => accs[k].mask |= m,
                        None => {
                            if accs.len() >= SMALL_ACCS {
                                acc_index.insert(key, accs.len());
                            }
                            accs.push(GrantAcc {
                                stmt: i as usize,
                                class: p.class,
                                mask: m,
                                witness: *p,
                                res: r,
                            });
                        }
                    }
                }
            }
        }
        if truncated && !(public && access == Access::Admin) {
            return Err(PolicyError {
                code: ErrorCode::TooComplex,
                path: String::new(),
                message: if self.overflow {
                    "the policy names more distinct accounts, organizations, networks or principals than the analyzer probes; refusing to guess".to_string()
                } else {
                    format!(
                        "the policy needs more than {EVAL_BUDGET} units of evaluation work to judge; refusing to guess"
                    )
                },
            });
        }
        let _ = exposed_all;
        let total = accs.len();
        accs.sort_by_key(|a| (a.stmt, a.class));
        accs.truncate(MAX_GRANTS);
        let grants = self.grants(accs);
        let mut notes = self.notes();
        if total > MAX_GRANTS {
            notes.push(format!(
                "{} further exposing grants are not listed (at most {MAX_GRANTS} are); the verdict counts them all",
                total - MAX_GRANTS
            ));
        }
        if truncated {
            notes.push(
                "analysis stopped early: the policy is already public with admin access".into(),
            );
        }
        Ok(Verdict {
            public,
            cross_account: cross,
            access,
            network_restricted: net_restricted && !public,
            grants,
            notes,
        })
    }

    fn audience(&self, c: Class) -> Audience {
        match c {
            Class::Public | Class::NetRestricted => Audience::Everyone,
            Class::Org(o) => Audience::Organization {
                org_id: self.world.org_id(o).to_string(),
            },
            Class::Account(a) => Audience::Account {
                account_id: self.world.account(a).to_string(),
            },
            Class::Service(s) => Audience::Service {
                service: self.world.services[s as usize].to_string(),
            },
        }
    }

    fn grants(&self, mut accs: BVec<'_, GrantAcc>) -> Vec<Grant> {
        // The same for every grant: computed once.
        // What each Deny's principal names, worded once on first use (most grants never
        // need it: a Deny on "*" always matches the caller).
        let mut deny_words: BVec<'_, Option<String>> =
            bumpalo::vec![in self.bump; None; if accs.is_empty() { 0 } else { self.stmts.len() }];
        accs.sort_by_key(|a| (a.stmt, a.class));
        let mut out: Vec<Grant> = Vec::with_capacity(accs.len());
        let mut i = 0;
        while i < accs.len() {
            let stmt = accs[i].stmt;
            let mut j = i;
            while j < accs.len() && accs[j].stmt == stmt {
                j += 1;
            }
            let group = &accs[i..j];
            let public_mask = group
                .iter()
                .filter(|a| a.class == Class::Public)
                .fold(0u64, |m, a| m | a.mask);
            for a in group {
                if a.class != Class::Public && a.mask & !public_mask == 0 {
                    continue;
                }
                out.push(self.grant(a, &mut deny_words));
            }
            i = j;
        }
        out
    }

    fn grant(&self, a: &GrantAcc, deny_words: &mut [Option<String>]) -> Grant {
        let st = &self.policy.statements[a.stmt];
        let actions = self.names.sorted_names(a.mask);
        Grant {
            statement: a.stmt,
            sid: st.sid.as_ref().map(|s| s.to_string()),
            audience: self.audience(a.class),
            actions,
            access: actions::max_level(a.mask),
            public: a.class == Class::Public,
            network_restricted: a.class == Class::NetRestricted,
            explanation: self.explain(a, deny_words),
        }
    }

    fn stmt_label(&self, i: usize) -> String {
        let mut out = String::with_capacity(24);
        self.push_label(&mut out, i);
        out
    }

    /// Appends "statement N (Sid)": sentences are built in place, one allocation each.
    fn push_label(&self, out: &mut String, i: usize) {
        let mut buf = [0u8; 20];
        out.push_str("statement ");
        out.push_str(decimal(i, &mut buf));
        if let Some(sid) = self.policy.statements[i].sid.as_deref() {
            if !sid.is_empty() {
                out.push_str(" (");
                out.push_str(sid);
                out.push(')');
            }
        }
    }

    /// `prefix` followed by who the probe is.
    fn describe_probe(&self, p: &Probe, prefix: &str) -> String {
        let w = &self.world;
        let mut s = String::with_capacity(160);
        s.push_str(prefix);
        if p.service {
            let svc = w.services[p.svc as usize];
            s.push_str(if svc == "*" { "any AWS service" } else { svc });
            s.push_str(" acting for a resource of untrusted account ");
            self.push_account_label(&mut s, p.account);
            return s;
        }
        s.push_str("a principal of account ");
        self.push_account_label(&mut s, p.account);
        match p.org {
            NONE => s.push_str(", outside any organization"),
            0 => s.push_str(", in an organization it created"),
            o => {
                s.push_str(", in untrusted organization ");
                s.push_str(w.org_id(o));
            }
        }
        let net = &w.nets[p.net as usize];
        if let Some(ip) = net.ip {
            s.push_str(", calling from ");
            s.push_str(w.s(ip));
        } else if let (Some(e), Some(c)) = (net.vpce, net.vpc) {
            s.push_str(", calling through VPC endpoint ");
            s.push_str(w.s(e));
            s.push_str(" in ");
            s.push_str(w.s(c));
        }
        s
    }

    fn push_account_label(&self, out: &mut String, a: u16) {
        out.push_str(self.world.account(a));
        if a == FRESH {
            out.push_str(" (stands for any account the policy does not name)");
        }
    }

    fn explain(&self, a: &GrantAcc, deny_words: &mut [Option<String>]) -> Vec<String> {
        let mut out = Vec::with_capacity(4 + self.stmts[a.stmt].clauses.len() + self.denies.len());
        let st = &self.stmts[a.stmt];
        let p = &a.witness;
        // Who.
        let mut who = String::with_capacity(224);
        self.push_label(&mut who, a.stmt);
        match a.class {
            Class::Public => who.push_str(
                " reaches any AWS account: anyone can open an account that the policy does not name",
            ),
            Class::NetRestricted => who.push_str(
                " reaches any AWS account, but only from a network the policy names (aws:SourceIp/SourceVpc/SourceVpce); network is not trust, so it is cross-account, not public",
            ),
            Class::Org(o) => {
                who.push_str(" reaches members of organization ");
                who.push_str(self.world.org_id(o));
                who.push_str(", which is not a trusted organization");
            }
            Class::Account(acc) => {
                who.push_str(" reaches account ");
                who.push_str(self.world.account(acc));
                who.push_str(", which is not in the trust zone");
            }
            Class::Service(_) => who.push_str(
                " reaches an AWS service acting for an account outside the trust zone (confused deputy): nothing pins aws:SourceAccount/SourceArn/SourceOwner to trusted accounts",
            ),
        }
        out.push(who);
        if st.not_principal {
            out.push("NotPrincipal with Allow matches every principal that is not listed".into());
        } else {
            // The first principal entry that matches the witness, found without scanning
            // every entry (principal lists run to thousands of accounts).
            let mut first = st.first_everyone;
            if p.service {
                first = first.min(st.first_service);
            } else if let Ok(k) = st
                .first_of_account
                .binary_search_by_key(&p.account, |e| e.0)
            {
                first = first.min(st.first_of_account[k].1);
            }
            if let Some(it) = st.items.get(first as usize) {
                let hit = match it {
                    PItem::Everyone(why) => Some((*why).to_string()),
                    PItem::Account(acc, _) if *acc == p.account && !p.service => Some(cat(&[
                        "the principal names account ",
                        self.world.account(*acc),
                        ", that is every principal in it",
                    ])),
                    PItem::Specific(acc, _, s) if *acc == p.account && !p.service => Some(cat(&[
                        "principal ",
                        s,
                        " is in account ",
                        self.world.account(*acc),
                    ])),
                    PItem::Service(name) if p.service => {
                        Some(cat(&["principal is the service ", name]))
                    }
                    _ => None,
                };
                if let Some(h) = hit {
                    out.push(h);
                }
            }
        }
        let ctx = PCtx {
            w: &self.world,
            p: *p,
        };
        for c in &st.clauses {
            let mut line = String::with_capacity(192);
            describe_clause(&mut line, c, &ctx, true);
            out.push(line);
        }
        out.push(self.describe_probe(p, "for example: "));
        // Denies that could have covered these actions.
        let bit = 1u64 << a.res;
        for &i in &self.denies {
            let d = &self.stmts[i];
            if d.allow || d.mask & (st.mask & self.counted) == 0 {
                continue;
            }
            let mut line = String::with_capacity(160);
            line.push_str("Deny ");
            self.push_label(&mut line, i);
            if d.res & bit == 0 {
                line.push_str(" does not apply: its Resource does not match");
            } else if !self.world.principal_matches(d, p) {
                let words = deny_words[i].get_or_insert_with(|| self.deny_principal_words(d));
                line.push(' ');
                line.push_str(words);
            } else if let Some(c) = d.clauses.iter().find(|c| !c.eval(&ctx, false)) {
                line.push_str(" does not apply: ");
                describe_clause(&mut line, c, &ctx, false);
            } else {
                let removed = d.mask & st.mask & self.counted;
                let mut buf = [0u8; 20];
                line.push_str(" applies and removes ");
                line.push_str(decimal(removed.count_ones() as usize, &mut buf));
                line.push_str(" of the statement's actions");
            }
            out.push(line);
        }
        out
    }

    fn deny_principal_words(&self, d: &CStmt) -> String {
        const SHOWN: usize = 5;
        let mut names: Vec<String> = Vec::new();
        let mut more = 0usize;
        for it in &d.items {
            if names.len() >= SHOWN {
                if !matches!(it, PItem::Nobody(_)) {
                    more += 1;
                }
                continue;
            }
            match it {
                PItem::Account(_, s) => names.push(format!("account {s}")),
                PItem::Specific(_, _, s) => names.push(s.to_string()),
                PItem::Service(s) => names.push(format!("service {s}")),
                PItem::Everyone(_) => names.push("everyone".into()),
                PItem::Nobody(_) => {}
            }
        }
        if more > 0 {
            names.push(format!("{more} more"));
        }
        if d.not_principal {
            return format!(
                "exempts {} (NotPrincipal), which includes this caller",
                if names.is_empty() {
                    "nobody".to_string()
                } else {
                    names.join(", ")
                }
            );
        }
        if names.is_empty() {
            "names no principal that exists; it denies nobody".into()
        } else {
            format!("applies only to {}", names.join(", "))
        }
    }

    fn notes(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, st) in self.policy.statements.iter().enumerate() {
            if let Principal::Map(m) = &st.principal {
                for ((t, s), it) in m.iter().zip(&self.stmts[i].items) {
                    if let PItem::Nobody(why) = it {
                        out.push(format!(
                            "{}: {} {s:?}: {why}",
                            self.stmt_label(i),
                            t.as_str()
                        ));
                    }
                }
            }
            let cs = &self.stmts[i];
            if cs.allow {
                for c in &cs.clauses {
                    if c.key != Key::UserId
                        || c.base.negated()
                        || c.quant == Quantifier::ForAllValues
                    {
                        continue;
                    }
                    for v in c.raw.iter() {
                        let uid = v.split(':').next().unwrap_or("");
                        if v.contains(':') && has_fixed_after(uid, 4) && !uid.contains(['*', '?']) {
                            out.push(format!(
                                "{}: aws:userid {v:?} depends on the unique id {uid}, which no outsider can obtain",
                                self.stmt_label(i)
                            ));
                        }
                    }
                }
            }
            if cs.res == 0 {
                out.push(format!(
                    "{}: its {} names no repository of the target, so it does not apply",
                    self.stmt_label(i),
                    if matches!(st.resources, Some((true, _))) {
                        "NotResource"
                    } else {
                        "Resource"
                    }
                ));
            }
            if self.world.tags.is_none() && cs.clauses.iter().any(|c| c.key == Key::ResourceTag) {
                out.push(format!(
                    "{}: depends on repository tags, which are unknown here: an Allow on them counts as satisfiable, a Deny as not applying",
                    self.stmt_label(i)
                ));
            }
            // Unknown names are rare: the scan below is skipped without them.
            let actions: &[_] = if self.names.unknown.is_empty() {
                &[]
            } else {
                &st.actions
            };
            for a in actions {
                if !a.contains(['*', '?'])
                    && a.len() > 4
                    && a.as_bytes()[..4].eq_ignore_ascii_case(b"ecr:")
                    && self
                        .names
                        .unknown
                        .iter()
                        .any(|u| u.eq_ignore_ascii_case(&a[4..]))
                {
                    out.push(format!(
                        "{}: unknown ECR action {a} counted as write",
                        self.stmt_label(i)
                    ));
                }
            }
        }
        if let Some(scope) = self.registry {
            if scope == RegistryScope::V1 {
                out.push("registry scope V1: only ecr:ReplicateImage, ecr:BatchImportUpstreamImage and ecr:CreateRepository count".into());
            }
        }
        out
    }
}

/// Statements that can apply to some request; the rest are never checked, and their
/// literals make no probes. Needs only the organizations of `world` (an org-only statement
/// is judged against each of them).
fn liveness<'b>(
    world: &World<'_>,
    stmts: &[CStmt<'_>],
    counted: u64,
    bump: &'b Bump,
) -> BVec<'b, bool> {
    let any_probe = PCtx {
        w: world,
        p: base_probe(),
    };
    stmts
        .iter()
        .map(|s| {
            // A statement with no counted action changes nothing, Allow or Deny.
            s.mask & counted != 0
                && s.res != 0
                // A clause on a key no probe sets (one the caller picks, the region, the
                // tags) has the same outcome for every probe: false once means never (a Deny
                // whose TLS condition the caller can avoid).
                && !s
                    .clauses
                    .iter()
                    .any(|c| probe_independent(c) && !c.eval(&any_probe, s.allow))
                && !world.never_applies(s)
        })
        .collect_in(bump)
}

/// Probe fields a statement's outcome can depend on (bits of [`stmt_dims`]).
const DIM_ACCOUNT: u8 = 1;
const DIM_IDENT: u8 = 2;
const DIM_ORG: u8 = 4;
const DIM_NET: u8 = 8;
const DIM_SVC: u8 = 16;
const DIM_SRC_ARN: u8 = 32;
const DIM_ALL: u8 = 63;

/// The probe fields a statement reads, through its principal and its condition keys (the
/// direct/service flag always counts). Policy variables may read any key: all fields.
fn stmt_dims(s: &CStmt<'_>) -> u8 {
    let mut d = 0u8;
    for it in &s.items {
        d |= match it {
            PItem::Account(..) => DIM_ACCOUNT,
            PItem::Specific(..) => DIM_ACCOUNT | DIM_IDENT,
            PItem::Service(_) => DIM_SVC,
            PItem::Everyone(_) | PItem::Nobody(_) => 0,
        };
    }
    for c in &s.clauses {
        if c.vals.iter().any(|v| matches!(v, Val::Tmpl(_))) {
            return DIM_ALL;
        }
        d |= match c.key {
            Key::PrincipalAccount | Key::SourceAccount | Key::SourceOwner => DIM_ACCOUNT,
            Key::PrincipalArn | Key::UserId => DIM_ACCOUNT | DIM_IDENT,
            Key::SourceArn => DIM_ACCOUNT | DIM_SRC_ARN,
            Key::PrincipalOrgId
            | Key::PrincipalOrgPaths
            | Key::SourceOrgId
            | Key::SourceOrgPaths => DIM_ORG,
            Key::SourceIp | Key::SourceVpc | Key::SourceVpce => DIM_NET,
            Key::PrincipalServiceName | Key::PrincipalServiceNamesList => DIM_SVC,
            Key::Free
            | Key::Username
            | Key::ResourceTag
            | Key::RequestedRegion
            | Key::ResourceAccount
            | Key::PrincipalIsAwsService => 0,
        };
    }
    d
}

/// Whether a clause reads nothing a probe sets, so that one evaluation answers for all:
/// its key is the caller's choice, the region, the resource account or a resource tag, and
/// no policy variable in its values reads the caller.
fn probe_independent(c: &CClause<'_>) -> bool {
    matches!(
        c.key,
        Key::Free | Key::Username | Key::RequestedRegion | Key::ResourceAccount | Key::ResourceTag
    ) && !c.vals.iter().any(|v| matches!(v, Val::Tmpl(_)))
}

/// Where each probe field sits in a memo key: (dimension, shift, width mask). Widths follow
/// the caps: at most 6 identities per account, fewer than 256 networks and services, 8
/// source ARNs; bit 0 is the direct/service flag, read by every statement.
const KEY_FIELDS: [(u8, u32, u64); 6] = [
    (DIM_ACCOUNT, 1, 0xFFFF),
    (DIM_IDENT, 17, 0xF),
    (DIM_ORG, 21, 0xFFFF),
    (DIM_NET, 37, 0xFF),
    (DIM_SVC, 45, 0xFF),
    (DIM_SRC_ARN, 53, 0xF),
];

/// Every field of a probe packed into one word (57 bits, laid out by [`KEY_FIELDS`]).
fn probe_key(p: &Probe) -> u64 {
    let fields = [p.account, p.ident, p.org, p.net, p.svc, p.src_arn];
    KEY_FIELDS
        .iter()
        .zip(fields)
        .fold(u64::from(p.service), |k, (&(_, shift, width), v)| {
            k | (u64::from(v) & width) << shift
        })
}

/// The bits of [`probe_key`]'s word that hold the fields selected by `dims`: masking a
/// probe's key with it gives the key a statement reading only those fields memoises by.
fn key_mask(dims: u8) -> u64 {
    KEY_FIELDS
        .iter()
        .filter(|(dim, ..)| dims & dim != 0)
        .fold(1, |m, &(_, shift, width)| m | width << shift)
}

/// The first [`Memo::PER_STMT`] outcomes of each statement, by probe key; once a
/// statement's slots are full it is simply evaluated (a bounded scan, never a growing one).
struct Memo<'b> {
    /// `key << 1 | outcome` per slot.
    slots: BVec<'b, u64>,
    len: BVec<'b, u8>,
}

impl<'b> Memo<'b> {
    const PER_STMT: usize = 16;

    fn new(stmts: usize, bump: &'b Bump) -> Self {
        Memo {
            slots: bumpalo::vec![in bump; 0; stmts * Self::PER_STMT],
            len: bumpalo::vec![in bump; 0; stmts],
        }
    }

    fn get(&self, stmt: u32, key: u64) -> Option<bool> {
        let n = self.len[stmt as usize] as usize;
        let base = stmt as usize * Self::PER_STMT;
        self.slots[base..base + n]
            .iter()
            .find(|e| **e >> 1 == key)
            .map(|e| e & 1 == 1)
    }

    fn put(&mut self, stmt: u32, key: u64, outcome: bool) {
        let n = self.len[stmt as usize] as usize;
        if n < Self::PER_STMT {
            self.slots[stmt as usize * Self::PER_STMT + n] = key << 1 | u64::from(outcome);
            self.len[stmt as usize] += 1;
        }
    }
}

/// Accounts a statement is pinned to by a positive, plain condition on
/// `aws:PrincipalAccount` or `aws:PrincipalArn` with fixed account ids; `None` if none is.
fn pinned_accounts<'a>(s: &'a CStmt<'_>) -> Option<Vec<&'a str>> {
    use super::condition::Val;
    'clauses: for c in &s.clauses {
        if c.if_exists || c.base.negated() || c.quant == Quantifier::ForAllValues {
            continue;
        }
        let arn_key = match c.key {
            Key::PrincipalAccount => false,
            Key::PrincipalArn => true,
            _ => continue,
        };
        let glob_whole = matches!(c.base, BaseOp::StringLike);
        if !matches!(
            c.base,
            BaseOp::StringEquals
                | BaseOp::StringEqualsIgnoreCase
                | BaseOp::StringLike
                | BaseOp::ArnEquals
                | BaseOp::ArnLike
        ) || (!arn_key && matches!(c.base, BaseOp::ArnEquals | BaseOp::ArnLike))
        {
            continue;
        }
        let mut out = Vec::with_capacity(c.vals.len());
        for v in &c.vals {
            if let Val::Arn(parts) = v {
                if parts.iter().take(5).any(|p| p.contains(['*', '?'])) || !is_account_id(parts[4])
                {
                    continue 'clauses;
                }
                out.push(parts[4]);
                continue;
            }
            let Val::Str(v) = v else { continue 'clauses };
            let acct = if arn_key {
                if glob_whole && glob::is_pattern(v) {
                    continue 'clauses;
                }
                match principal::arn_parts(v) {
                    Some(parts) if parts.iter().take(5).all(|p| !p.contains(['*', '?'])) => {
                        parts[4]
                    }
                    _ => continue 'clauses,
                }
            } else {
                v
            };
            if !is_account_id(acct) {
                continue 'clauses;
            }
            out.push(acct);
        }
        return Some(out);
    }
    None
}

/// An ARN pattern moved into account `a`, its remaining wildcards filled: a concrete ARN the
/// probe of that account can carry, handed out in pieces to `push`.
fn in_account(parts: &[&str; 6], a: &str, mut push: impl FnMut(&str)) {
    for (k, part) in parts.iter().enumerate() {
        if k > 0 {
            push(":");
        }
        if k == 4 {
            push(a);
        } else {
            glob::instantiate_with(part, "x", 'x', &mut push);
        }
    }
}

/// [`in_account`] written straight into the text buffer.
fn put_in_account(text: &mut Text<'_>, parts: &[&str; 6], a: &str) -> Span {
    let start = text.mark();
    in_account(parts, a, |piece| text.0.push_str(piece));
    Span {
        start,
        end: text.mark(),
    }
}

/// [`in_account`] as a string of its own.
fn instantiate_in_account(parts: &[&str; 6], a: &str) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum::<usize>() + a.len());
    in_account(parts, a, |piece| out.push_str(piece));
    out
}

/// The identity a principal ARN written in the policy stands for; its strings go to `text`.
fn ident_for_arn(text: &mut Text, arn: &str, role_id: &str, user_id: &str) -> Ident {
    let parts = principal::arn_parts(arn).unwrap_or(["", "", "", "", "", ""]);
    let res = parts[5];
    let account = parts[4];
    if let Some(rest) = res.strip_prefix("assumed-role/") {
        let (role, session) = rest.split_once('/').unwrap_or((rest, "x"));
        return Ident {
            arn: text.put(&["arn:", parts[1], ":iam::", account, ":role/", role]),
            sts: Some(text.put(&[arn])),
            userid: text.put(&[role_id, ":", session]),
            username: None,
        };
    }
    if let Some(rest) = res.strip_prefix("user/") {
        let name = rest.rsplit('/').next().unwrap_or(rest);
        return Ident {
            arn: text.put(&[arn]),
            sts: None,
            userid: text.put(&[user_id]),
            username: Some(text.put(&[name])),
        };
    }
    if res == "root" {
        return Ident {
            arn: text.put(&[arn]),
            sts: None,
            userid: text.put(&[account]),
            username: None,
        };
    }
    let session = "x";
    let arn_span = text.put(&[arn]);
    let sts = res.strip_prefix("role/").map(|r| {
        let name = r.rsplit('/').next().unwrap_or(r);
        text.put(&[
            "arn:",
            parts[1],
            ":sts::",
            account,
            ":assumed-role/",
            name,
            "/",
            session,
        ])
    });
    Ident {
        arn: arn_span,
        sts,
        userid: text.put(&[role_id, ":", session]),
        username: None,
    }
}

fn is_trusted_account(trust: &Trust, a: &str) -> bool {
    a == trust.owner_account || trust.trusted_accounts.contains(a)
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
        _ => "requests that do not carry it",
    }
}

fn single_valued(key: Key) -> bool {
    !matches!(
        key,
        Key::PrincipalOrgPaths | Key::SourceOrgPaths | Key::PrincipalServiceNamesList | Key::Free
    )
}

/// Appends plain words for one clause's value in a context; `allow` is the statement's
/// effect. Written into the caller's sentence: explanations are built for every exposing
/// grant.
fn describe_clause<C: Context>(out: &mut String, c: &CClause<'_>, ctx: &C, allow: bool) {
    use std::fmt::Write as _;
    out.push_str(c.op_name);
    out.push(' ');
    out.push_str(c.key_name);
    out.push(' ');
    if c.raw.len() == 1 {
        out.push('"');
        out.push_str(&c.raw[0]);
        out.push('"');
    } else {
        // A reader needs the shape of a long list, not all of it (and every exposing grant
        // repeats this sentence).
        const SHOWN: usize = 8;
        out.push('[');
        for (i, v) in c.raw.iter().take(SHOWN).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push('"');
            out.push_str(v);
            out.push('"');
        }
        if c.raw.len() > SHOWN {
            let mut buf = [0u8; 20];
            out.push_str(", ... ");
            out.push_str(decimal(c.raw.len() - SHOWN, &mut buf));
            out.push_str(" more");
        }
        out.push(']');
    }
    match ctx.get(c.key, c.tag) {
        ReqVal::Free => {
            out.push_str(": the caller controls ");
            out.push_str(c.key_name);
            if allow {
                out.push_str(" (or it says nothing about identity), so it does not restrict");
            } else {
                out.push_str(", so it can avoid this Deny");
            }
        }
        ReqVal::TagUnknown => {
            if allow {
                out.push_str(": depends on repository tags, unknown here; counted as satisfiable");
            } else {
                out.push_str(": depends on repository tags, unknown here; counted as not applying");
            }
        }
        ReqVal::Missing => {
            let r = c.missing_result();
            let when = absent_when(c.key);
            let _ = write!(out, ": {} is absent for {when}; ", c.key_name);
            if c.base == BaseOp::Null {
                let _ = write!(out, "Null is {r} when the key is absent");
            } else if c.quant == Quantifier::ForAllValues {
                if single_valued(c.key) {
                    let _ = write!(
                        out,
                        "ForAllValues on single-valued key {} is true for {when} (no values: vacuously true)",
                        c.key_name
                    );
                } else {
                    out.push_str("ForAllValues is vacuously true when the key is absent");
                }
            } else if c.quant == Quantifier::ForAnyValue {
                out.push_str("ForAnyValue is false when the key is absent");
            } else if c.if_exists {
                let _ = write!(out, "{} is true when the key is absent", c.op_name);
            } else if c.base.negated() {
                let _ = write!(
                    out,
                    "the negated operator {} is true when the key is absent",
                    c.op_name
                );
            } else {
                let _ = write!(out, "{} is false when the key is absent", c.op_name);
            }
        }
        ReqVal::One(v) => {
            let r = c.present_result(v, ctx);
            out.push_str(": ");
            out.push_str(c.key_name);
            out.push_str(" is \"");
            out.push_str(v);
            out.push_str("\" for this caller, so the condition is ");
            out.push_str(if r { "true" } else { "false" });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Skipping digit-free words finds the same 12-digit runs as looking at every byte.
        #[test]
        fn digit_runs_skip_nothing(
            parts in proptest::collection::vec("[0-9]{12}|9{12}|[0-9]{1,13}|[a:/]{1,9}", 0..6)
        ) {
            let s = parts.concat();
            let bump = Bump::new();
            let mut found = BVec::new_in(&bump);
            digit_runs(&s, &mut found);
            let mut expected = Vec::new();
            let b = s.as_bytes();
            let mut i = 0;
            while i < b.len() {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                if i - start == 12 {
                    expected.push(&s[start..i]);
                }
                i = i.max(start + 1);
            }
            proptest::prop_assert_eq!(found.as_slice(), expected.as_slice());
        }
    }

    #[test]
    fn probe_addresses_are_written_as_display_writes_them() {
        // Probe addresses appear in explanations and are compared as text by conditions:
        // the hand-written form must be the canonical one.
        let bump = Bump::new();
        let mut text = Text(BString::new_in(&bump));
        for v in [
            [0, 0, 0, 0],
            [9, 10, 99, 100],
            [199, 200, 249, 250],
            [255, 255, 255, 255],
            [10, 0, 1, 101],
        ] {
            let addr = IpAddr::from(v);
            let span = put_ip(&mut text, addr);
            assert_eq!(text.get(span), addr.to_string());
        }
        for (addr, written) in GENERIC_V6 {
            assert_eq!(written, addr.to_string());
            let span = put_ip(&mut text, IpAddr::from(addr));
            assert_eq!(text.get(span), written);
        }
    }

    /// The per-thread arena grows for a huge policy but does not stay that large.
    #[test]
    fn a_huge_policy_does_not_keep_a_huge_arena() {
        let stmts: Vec<String> = (0..1_400u64)
            .map(|i| {
                format!(
                    r#"{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:role/r{i}"}},"Action":"ecr:BatchGetImage","Condition":{{"IpAddress":{{"aws:SourceIp":"10.{}.0.0/16"}}}}}}"#,
                    300_000_000_000 + i * 7,
                    i % 250
                )
            })
            .collect();
        let text = format!(
            r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
            stmts.join(",")
        );
        let policy = super::super::parse::parse(&text).expect("valid");
        let trust = Trust {
            owner_account: "111111111111".into(),
            trusted_accounts: Default::default(),
            trusted_orgs: Default::default(),
        };
        let subject = Subject::Repository {
            arn: "arn:aws:ecr:us-east-1:111111111111:repository/app",
            tags: None,
        };
        let first = evaluate(&policy, &subject, &trust);
        let kept = ARENA.with(|a| a.borrow().allocated_bytes());
        assert!(kept <= ARENA_KEEP_BYTES, "kept {kept} bytes");
        // The replaced arena serves the next verdict just the same.
        assert_eq!(evaluate(&policy, &subject, &trust), first);
    }
}
