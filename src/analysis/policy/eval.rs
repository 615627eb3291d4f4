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
//! organizations, identities, source keys) collapse to one value, and the total work is
//! bounded ([`EVAL_BUDGET`]); a policy that exceeds it is reported as `too_complex`.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;

use super::actions::{self, ActionNames};
use super::condition::{CClause, Context, Key, ReqVal};
use super::glob;
use super::parse::{BaseOp, Policy, Principal, Quantifier};
use super::principal::{self, PrincipalKind, is_account_id};
use super::{
    Access, Audience, ErrorCode, Grant, PolicyError, RegistryScope, Subject, Trust, Verdict,
};

/// Upper bound on evaluation work per policy, in statement-plus-condition-value units
/// (keeps adversarial input to a few milliseconds).
pub const EVAL_BUDGET: usize = 2_000_000;
/// Most probes generated for one policy.
const MAX_PROBES: usize = 50_000;
const NONE: u16 = u16::MAX;
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

#[derive(Debug, Clone)]
struct Ident {
    arn: String,
    sts: Option<String>,
    userid: String,
    username: Option<String>,
}

#[derive(Debug, Clone)]
struct Org {
    id: String,
    path: String,
}

#[derive(Debug, Clone, Default)]
struct Net {
    /// Parsed form of `ip`.
    addr: Option<IpAddr>,
    ip: Option<String>,
    vpce: Option<String>,
    vpc: Option<String>,
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

#[derive(Debug, Clone)]
enum PItem {
    Everyone(&'static str),
    Account(u16, String),
    Specific(u16, String),
    Service(String),
    Nobody(&'static str),
}

#[derive(Debug)]
struct CStmt<'a> {
    allow: bool,
    not_principal: bool,
    items: Vec<PItem>,
    /// Sorted accounts named whole by `items` (binary-searched: long principal lists).
    whole: Vec<u16>,
    /// Indices of the `items` that are not whole accounts.
    others: Vec<u32>,
    mask: u64,
    /// Bit r set: the statement applies to resource candidate r.
    res: u64,
    clauses: Vec<CClause<'a>>,
}

struct World<'s> {
    accounts: Vec<String>,
    /// Identities of each account.
    idents: Vec<Vec<Ident>>,
    orgs: Vec<Org>,
    nets: Vec<Net>,
    services: Vec<String>,
    src_arns: Vec<Vec<String>>,
    region: String,
    resource_account: String,
    tags: Option<&'s BTreeMap<String, String>>,
    resources: Vec<String>,
}

struct PCtx<'w, 's> {
    w: &'w World<'s>,
    p: Probe,
}

impl Context for PCtx<'_, '_> {
    fn get(&self, key: Key, tag: &str) -> ReqVal<'_> {
        let w = self.w;
        let p = &self.p;
        let org = (p.org != NONE).then(|| &w.orgs[p.org as usize]);
        match key {
            Key::Free | Key::Username => ReqVal::Free,
            Key::RequestedRegion => ReqVal::One(&w.region),
            Key::ResourceAccount => ReqVal::One(&w.resource_account),
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
            Key::SourceIp => match &w.nets[p.net as usize].ip {
                Some(ip) => ReqVal::One(ip),
                None => ReqVal::Missing,
            },
            _ if p.service => match key {
                Key::SourceAccount | Key::SourceOwner => {
                    ReqVal::One(&w.accounts[p.account as usize])
                }
                Key::SourceArn => ReqVal::One(&w.src_arns[p.account as usize][p.src_arn as usize]),
                Key::SourceOrgId => org.map_or(ReqVal::Missing, |o| ReqVal::One(&o.id)),
                Key::SourceOrgPaths => org.map_or(ReqVal::Missing, |o| ReqVal::One(&o.path)),
                Key::PrincipalServiceName | Key::PrincipalServiceNamesList => {
                    ReqVal::One(&w.services[p.svc as usize])
                }
                _ => ReqVal::Missing,
            },
            _ => {
                let id = &w.idents[p.account as usize][p.ident as usize];
                let net = &w.nets[p.net as usize];
                match key {
                    Key::PrincipalAccount => ReqVal::One(&w.accounts[p.account as usize]),
                    Key::PrincipalArn => ReqVal::One(&id.arn),
                    Key::UserId => ReqVal::One(&id.userid),
                    Key::PrincipalOrgId => org.map_or(ReqVal::Missing, |o| ReqVal::One(&o.id)),
                    Key::PrincipalOrgPaths => org.map_or(ReqVal::Missing, |o| ReqVal::One(&o.path)),
                    Key::SourceVpc => net.vpc.as_deref().map_or(ReqVal::Missing, ReqVal::One),
                    Key::SourceVpce => net.vpce.as_deref().map_or(ReqVal::Missing, ReqVal::One),
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
            let id = &self.w.idents[self.p.account as usize][self.p.ident as usize];
            return id.username.as_deref();
        }
        match self.get(key, tag) {
            ReqVal::One(s) => Some(s),
            _ => None,
        }
    }
}

/// Literals collected from the policy, the raw material of the probes.
#[derive(Default)]
struct Harvest {
    acct_lits: Vec<String>,
    acct_pats: Vec<String>,
    principal_arn_pats: Vec<String>,
    src_arn_pats: Vec<String>,
    org_ids: Vec<String>,
    org_pats: Vec<String>,
    org_paths: Vec<(String, String)>,
    userid_pats: Vec<String>,
    cidrs: Vec<IpNet>,
    vpces: Vec<String>,
    vpce_pats: Vec<String>,
    vpcs: Vec<String>,
    vpc_pats: Vec<String>,
    svc_names: Vec<String>,
    svc_name_lits: Vec<String>,
    specifics: Vec<(String, String)>,
    uses_network: bool,
    uses_org: bool,
    uses_src_org: bool,
    uses_identity: bool,
    uses_source: bool,
    wildcard_principal: bool,
    /// Some kind of literal hit [`HARVEST_CAP`]: probes may be missing.
    overflow: bool,
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

fn push_unique(v: &mut Vec<String>, s: &str) {
    if v.len() < RAW_CAP {
        v.push(s.to_string());
    }
}

/// Push if absent (small lists only).
fn push_new(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

/// Sort, deduplicate and cap; true if the cap cut something off.
fn settle<T: Ord>(v: &mut Vec<T>, cap: usize) -> bool {
    v.sort_unstable();
    v.dedup();
    if v.len() > cap {
        v.truncate(cap);
        true
    } else {
        false
    }
}

fn digit_runs(s: &str, out: &mut Vec<String>) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
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

fn note_account_value(h: &mut Harvest, v: &str) {
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

fn note_org_value(h: &mut Harvest, v: &str) {
    if glob::is_pattern(v) {
        if has_fixed_after(v, 2) {
            push_unique(&mut h.org_pats, v);
        }
    } else {
        let l = v.to_ascii_lowercase();
        if valid_org(&l) {
            push_unique(&mut h.org_ids, &l);
        }
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

fn harvest(
    policy: &Policy<'_>,
    clauses: &[Vec<CClause<'_>>],
    kinds: &[Vec<PrincipalKind>],
) -> Harvest {
    let mut h = Harvest::default();
    for ((st, cls), kinds) in policy.statements.iter().zip(clauses).zip(kinds) {
        if st.not_principal {
            h.wildcard_principal = true;
        }
        match &st.principal {
            Principal::Star => h.wildcard_principal = true,
            Principal::Map(items) => {
                for ((_, s), kind) in items.iter().zip(kinds) {
                    if s.len() <= MAX_HARVEST_LEN {
                        digit_runs(s, &mut h.acct_lits);
                    }
                    match kind {
                        PrincipalKind::Everyone { .. } => h.wildcard_principal = true,
                        PrincipalKind::Service { name } => push_unique(&mut h.svc_names, name),
                        PrincipalKind::Specific { account, arn } if h.specifics.len() < RAW_CAP => {
                            h.specifics.push((account.clone(), arn.clone()));
                        }
                        _ => {}
                    }
                }
            }
        }
        for c in cls {
            match c.key {
                Key::SourceIp | Key::SourceVpc | Key::SourceVpce => h.uses_network = true,
                Key::PrincipalOrgId | Key::PrincipalOrgPaths => h.uses_org = true,
                Key::SourceOrgId | Key::SourceOrgPaths => h.uses_src_org = true,
                Key::PrincipalArn | Key::UserId | Key::Username => h.uses_identity = true,
                Key::SourceAccount | Key::SourceOwner | Key::SourceArn => h.uses_source = true,
                _ => {}
            }
            for (vi, v) in c.raw.iter().enumerate() {
                if v.len() > MAX_HARVEST_LEN {
                    continue;
                }
                digit_runs(v, &mut h.acct_lits);
                let represent = vi < PER_CLAUSE;
                match c.key {
                    Key::PrincipalAccount | Key::SourceAccount | Key::SourceOwner => {
                        note_account_value(&mut h, v)
                    }
                    Key::PrincipalArn | Key::SourceArn => {
                        if let Some(parts) = principal::arn_parts(v) {
                            note_account_value(&mut h, parts[4]);
                        }
                        if c.key == Key::PrincipalArn {
                            push_unique(&mut h.principal_arn_pats, v);
                        } else {
                            push_unique(&mut h.src_arn_pats, v);
                        }
                    }
                    Key::PrincipalOrgId | Key::SourceOrgId if represent => {
                        note_org_value(&mut h, v)
                    }
                    Key::PrincipalOrgPaths | Key::SourceOrgPaths if represent => {
                        let id = v.split('/').next().unwrap_or("");
                        note_org_value(&mut h, id);
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
                            if h.org_paths.len() < RAW_CAP {
                                h.org_paths.push((org, path));
                            }
                        }
                    }
                    Key::UserId => push_unique(&mut h.userid_pats, v),
                    Key::SourceIp if represent => {
                        if let Some(n) = v
                            .parse::<IpNet>()
                            .ok()
                            .or_else(|| v.parse::<IpAddr>().ok().map(IpNet::from))
                        {
                            if h.cidrs.len() < RAW_CAP {
                                h.cidrs.push(n);
                            }
                        }
                    }
                    Key::SourceVpce if represent => {
                        if glob::is_pattern(v) {
                            if has_fixed_after(v, 5) {
                                push_unique(&mut h.vpce_pats, v);
                                push_unique(&mut h.vpces, &glob::instantiate(v, "x", 'x'));
                            }
                        } else {
                            push_unique(&mut h.vpces, v);
                        }
                    }
                    Key::SourceVpc if represent => {
                        if glob::is_pattern(v) {
                            if has_fixed_after(v, 4) {
                                push_unique(&mut h.vpc_pats, v);
                                push_unique(&mut h.vpcs, &glob::instantiate(v, "x", 'x'));
                            }
                        } else {
                            push_unique(&mut h.vpcs, v);
                        }
                    }
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
    over |= settle(&mut h.acct_lits, HARVEST_CAP_ACCOUNTS);
    over |= settle(&mut h.acct_pats, HARVEST_CAP);
    over |= settle(&mut h.principal_arn_pats, 4 * HARVEST_CAP_ACCOUNTS);
    over |= settle(&mut h.src_arn_pats, HARVEST_CAP);
    over |= settle(&mut h.org_ids, HARVEST_CAP);
    over |= settle(&mut h.org_pats, HARVEST_CAP);
    over |= settle(&mut h.org_paths, HARVEST_CAP);
    over |= settle(&mut h.userid_pats, 4 * HARVEST_CAP_ACCOUNTS);
    over |= settle(&mut h.cidrs, HARVEST_CAP);
    over |= settle(&mut h.vpces, HARVEST_CAP);
    over |= settle(&mut h.vpce_pats, HARVEST_CAP);
    over |= settle(&mut h.vpcs, HARVEST_CAP);
    over |= settle(&mut h.vpc_pats, HARVEST_CAP);
    over |= settle(&mut h.svc_names, HARVEST_CAP);
    over |= settle(&mut h.svc_name_lits, HARVEST_CAP);
    over |= settle(&mut h.specifics, HARVEST_CAP_ACCOUNTS);
    h.overflow = over;
    h
}

/// First candidate equal to no literal and matched by no pattern that pins a character
/// beyond `free_prefix` (an outsider cannot pick such a value).
fn pick_fresh(cands: &[&str], lits: &[String], pats: &[String], free_prefix: usize) -> String {
    for c in cands {
        if lits.iter().any(|l| l.eq_ignore_ascii_case(c)) {
            continue;
        }
        if pats
            .iter()
            .any(|p| has_fixed_after(p, free_prefix) && glob::matches(p.as_bytes(), c.as_bytes()))
        {
            continue;
        }
        return (*c).to_string();
    }
    cands[cands.len() - 1].to_string()
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
const GENERIC_V4: [&str; 10] = [
    "52.94.76.10",
    "3.120.1.1",
    "18.200.2.2",
    "99.80.3.3",
    "130.176.4.4",
    "160.1.5.5",
    "203.0.113.9",
    "44.1.1.1",
    "220.1.1.1",
    "250.1.1.1",
];
const GENERIC_V6: [&str; 4] = ["2600:1f18::1", "2a05:d018::1", "2406:da00::1", "3fff::1"];

fn is_wide(n: &IpNet) -> bool {
    match n {
        IpNet::V4(n) => n.prefix_len() < 8,
        IpNet::V6(n) => n.prefix_len() < 32,
    }
}

/// An address inside a wide CIDR, in a /8 (/32) block that no narrow CIDR touches.
fn inside_wide(wide: &IpNet, narrow: &[IpNet]) -> Option<String> {
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
                    return Some(addr.to_string());
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
                    return Some(addr.to_string());
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

/// The evaluation of one policy: compiled statements, probe world and results.
pub(crate) struct Evaluation<'p, 's> {
    policy: &'p Policy<'p>,
    names: ActionNames,
    stmts: Vec<CStmt<'p>>,
    world: World<'s>,
    counted: u64,
    /// Number of public-class network kinds; the rest are policy networks.
    pub_nets: usize,
    fresh: u16,
    registry: Option<RegistryScope>,
    /// The probe set is incomplete (too many literals or accounts).
    overflow: bool,
    /// Indices of the Deny statements (explanations visit them per grant).
    denies: Vec<usize>,
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
    let ev = Evaluation::build(policy, subject, trust);
    ev.run()
}

impl<'p, 's> Evaluation<'p, 's> {
    fn build(policy: &'p Policy<'p>, subject: &Subject<'s>, trust: &'p Trust) -> Self {
        // Actions.
        let mut names = ActionNames::default();
        for st in &policy.statements {
            for a in &st.actions {
                names.note_pattern(a);
            }
        }
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
        let clauses: Vec<Vec<CClause<'p>>> = policy
            .statements
            .iter()
            .map(|st| {
                st.conditions
                    .iter()
                    .map(|c| CClause::compile(c, policy.version))
                    .collect()
            })
            .collect();
        let kinds: Vec<Vec<PrincipalKind>> = policy
            .statements
            .iter()
            .map(|st| match &st.principal {
                Principal::Star => Vec::new(),
                Principal::Map(m) => m.iter().map(|(t, s)| principal::classify(*t, s)).collect(),
            })
            .collect();
        let h = harvest(policy, &clauses, &kinds);
        let mut overflow = h.overflow;

        // Resource candidates.
        let (region, resource_account, tags, resources) = match subject {
            Subject::Repository { arn, tags } => {
                let parts = principal::arn_parts(arn);
                let region = parts.map(|p| p[3].to_string()).unwrap_or_default();
                let acct = parts
                    .map(|p| p[4].to_string())
                    .filter(|a| !a.is_empty())
                    .unwrap_or_else(|| trust.owner_account.clone());
                (region, acct, *tags, vec![(*arn).to_string()])
            }
            Subject::Registry {
                account_id, region, ..
            } => {
                let prefix = format!(
                    "arn:{}:ecr:{region}:{account_id}:repository/",
                    partition_of(region)
                );
                let mut res = vec![format!("{prefix}probe-any-repository")];
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
                            if inst.len() > prefix.len() && inst.starts_with(&prefix) {
                                push_new(&mut res, &inst);
                            }
                        }
                    }
                }
                (region.to_string(), account_id.to_string(), None, res)
            }
        };

        // Accounts: the fresh outsider first, then named untrusted ones.
        let mut accounts = Vec::new();
        let mut taken = h.acct_lits.clone();
        taken.push(trust.owner_account.clone());
        taken.extend(trust.trusted_accounts.iter().cloned());
        let fresh = pick_fresh(&FRESH_ACCOUNTS, &taken, &h.acct_pats, 0);
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        seen.insert(fresh.clone());
        accounts.push(fresh);
        let is_trusted = |a: &str| is_trusted_account(trust, a);
        for a in &h.acct_lits {
            if accounts.len() >= MAX_ACCOUNTS {
                break;
            }
            if !is_trusted(a) && seen.insert(a.clone()) {
                accounts.push(a.clone());
            }
        }
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
                    if seen.insert(inst.clone()) {
                        accounts.push(inst);
                    }
                    break;
                }
            }
        }

        // Identities per account.
        let role_id = pick_fresh(&FRESH_ROLE_IDS, &[], &uid_parts(&h.userid_pats), 4);
        let user_id = pick_fresh(&FRESH_USER_IDS, &[], &uid_parts(&h.userid_pats), 4);
        let mut specifics_by: HashMap<&str, Vec<&str>> = HashMap::new();
        for (acct, arn) in &h.specifics {
            specifics_by.entry(acct.as_str()).or_default().push(arn);
        }
        // PrincipalArn patterns: by fixed account, or tried against every account.
        let mut arn_pats_by: HashMap<&str, Vec<[&str; 6]>> = HashMap::new();
        let mut arn_pats_any: Vec<[&str; 6]> = Vec::new();
        for p in &h.principal_arn_pats {
            if let Some(parts) = principal::arn_parts(p) {
                if glob::is_pattern(parts[4]) {
                    arn_pats_any.push(parts);
                } else {
                    arn_pats_by.entry(parts[4]).or_default().push(parts);
                }
            }
        }
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
        let mut idents = Vec::with_capacity(accounts.len());
        for a in &accounts {
            let mut ids = vec![Ident {
                arn: format!("arn:aws:iam::{a}:root"),
                sts: None,
                userid: a.clone(),
                username: None,
            }];
            let add = |ids: &mut Vec<Ident>, id: Ident| {
                if ids.len() < MAX_IDENTS_PER_ACCOUNT
                    && !ids.iter().any(|x| x.arn == id.arn && x.userid == id.userid)
                {
                    ids.push(id);
                }
            };
            for arn in specifics_by.get(a.as_str()).into_iter().flatten() {
                add(&mut ids, ident_for_arn(arn, &role_id, &user_id));
            }
            if h.uses_identity {
                add(
                    &mut ids,
                    Ident {
                        arn: format!("arn:aws:iam::{a}:role/x"),
                        sts: Some(format!("arn:aws:sts::{a}:assumed-role/x/x")),
                        userid: format!("{role_id}:x"),
                        username: None,
                    },
                );
                add(
                    &mut ids,
                    Ident {
                        arn: format!("arn:aws:iam::{a}:user/x"),
                        sts: None,
                        userid: user_id.clone(),
                        username: Some("x".into()),
                    },
                );
                let fixed = arn_pats_by.get(a.as_str()).into_iter().flatten();
                for parts in fixed.chain(arn_pats_any.iter()) {
                    if ids.len() >= MAX_IDENTS_PER_ACCOUNT {
                        break;
                    }
                    if !glob::matches(parts[4].as_bytes(), a.as_bytes()) {
                        continue;
                    }
                    let arn = glob::instantiate(
                        &format!(
                            "{}:{}:{}:{}:{a}:{}",
                            parts[0], parts[1], parts[2], parts[3], parts[5]
                        ),
                        "x",
                        'x',
                    );
                    add(&mut ids, ident_for_arn(&arn, &role_id, &user_id));
                }
                for s in &sessions {
                    add(
                        &mut ids,
                        Ident {
                            arn: format!("arn:aws:iam::{a}:role/x"),
                            sts: Some(format!("arn:aws:sts::{a}:assumed-role/x/{s}")),
                            userid: format!("{role_id}:{s}"),
                            username: None,
                        },
                    );
                }
            }
            idents.push(ids);
        }

        // Organizations: [0] is the outsider's own.
        let mut orgs = Vec::new();
        let own = pick_fresh(&FRESH_ORGS, &h.org_ids, &h.org_pats, 2);
        orgs.push(Org {
            path: format!("{own}/r-q7zk/ou-q7zk-probe000/"),
            id: own,
        });
        for o in &h.org_ids {
            if orgs.len() >= MAX_ORGS {
                break;
            }
            if !trust.trusted_orgs.contains(o) && !orgs.iter().any(|x| x.id == *o) {
                orgs.push(Org {
                    id: o.clone(),
                    path: format!("{o}/r-q7zk/ou-q7zk-probe000/"),
                });
            }
        }
        for p in &h.org_pats {
            if orgs.len() >= MAX_ORGS {
                break;
            }
            if let Some(o) = instantiate_org(p) {
                if !trust.trusted_orgs.contains(&o) && !orgs.iter().any(|x| x.id == o) {
                    orgs.push(Org {
                        path: format!("{o}/r-q7zk/ou-q7zk-probe000/"),
                        id: o,
                    });
                }
            }
        }
        for (o, path) in &h.org_paths {
            if orgs.len() >= MAX_ORGS {
                break;
            }
            if !trust.trusted_orgs.contains(o) && !orgs.iter().any(|x| x.path == *path) {
                orgs.push(Org {
                    id: o.clone(),
                    path: path.clone(),
                });
            }
        }

        // Networks: [0] a generic public IPv4 address; public kinds first.
        let in_any = |ip: &str| {
            ip.parse::<IpAddr>()
                .map(|a| h.cidrs.iter().any(|n| n.contains(&a)))
                .unwrap_or(false)
        };
        let generic4 = GENERIC_V4
            .iter()
            .find(|ip| !in_any(ip))
            .unwrap_or(&GENERIC_V4[0]);
        let mut nets = vec![Net {
            ip: Some((*generic4).to_string()),
            ..Net::default()
        }];
        let mut pol_nets = Vec::new();
        if h.uses_network {
            if !h.cidrs.is_empty() {
                let generic6 = GENERIC_V6
                    .iter()
                    .find(|ip| !in_any(ip))
                    .unwrap_or(&GENERIC_V6[0]);
                nets.push(Net {
                    ip: Some((*generic6).to_string()),
                    ..Net::default()
                });
            }
            let narrow: Vec<IpNet> = h.cidrs.iter().filter(|n| !is_wide(n)).cloned().collect();
            for w in h.cidrs.iter().filter(|n| is_wide(n)) {
                if nets.len() >= MAX_NETS / 2 {
                    break;
                }
                if let Some(ip) = inside_wide(w, &narrow) {
                    if !nets.iter().any(|n| n.ip.as_deref() == Some(&ip)) {
                        nets.push(Net {
                            ip: Some(ip),
                            ..Net::default()
                        });
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
                vpce: Some(own_vpce.clone()),
                vpc: Some(own_vpc.clone()),
                addr: None,
            });
            for n in &narrow {
                if pol_nets.len() >= MAX_NETS / 2 {
                    break;
                }
                pol_nets.push(Net {
                    ip: Some(n.network().to_string()),
                    ..Net::default()
                });
            }
            let mut vpces = h.vpces.clone();
            vpces.push(own_vpce.clone());
            let mut vpcs = h.vpcs.clone();
            vpcs.push(own_vpc.clone());
            'v: for e in &vpces {
                for c in &vpcs {
                    if *e == own_vpce && *c == own_vpc {
                        continue;
                    }
                    if pol_nets.len() >= MAX_NETS {
                        break 'v;
                    }
                    pol_nets.push(Net {
                        ip: None,
                        vpce: Some(e.clone()),
                        vpc: Some(c.clone()),
                        addr: None,
                    });
                }
            }
        }
        let pub_nets = nets.len();
        nets.extend(pol_nets);
        for n in &mut nets {
            n.addr = n.ip.as_deref().and_then(|ip| ip.parse().ok());
        }

        // Services.
        let mut services: Vec<String> = Vec::new();
        for s in &h.svc_names {
            if services.len() < MAX_SERVICES {
                push_new(&mut services, s);
            }
        }
        if h.wildcard_principal {
            push_new(&mut services, "*");
            for s in &h.svc_name_lits {
                if services.len() < MAX_SERVICES {
                    push_new(&mut services, s);
                }
            }
        }
        let src_arns: Vec<Vec<String>> = accounts
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if i > 0 && !h.uses_source {
                    return Vec::new();
                }
                let mut v = vec![format!(
                    "arn:aws:service:{}:{a}:resource/x",
                    if region.is_empty() {
                        "us-east-1"
                    } else {
                        &region
                    }
                )];
                for p in &h.src_arn_pats {
                    if v.len() >= MAX_SRC_ARNS {
                        break;
                    }
                    if let Some(parts) = principal::arn_parts(p) {
                        let s = glob::instantiate(
                            &format!(
                                "{}:{}:{}:{}:{a}:{}",
                                parts[0], parts[1], parts[2], parts[3], parts[5]
                            ),
                            "x",
                            'x',
                        );
                        push_new(&mut v, &s);
                    }
                }
                v
            })
            .collect();

        overflow |= accounts.len() >= MAX_ACCOUNTS;
        let world = World {
            accounts,
            idents,
            orgs,
            nets,
            services,
            src_arns,
            region,
            resource_account,
            tags,
            resources,
        };

        // Statements.
        let acct_map: HashMap<&str, u16> = world
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.as_str(), i as u16))
            .collect();
        let acct_index = |a: &str| -> u16 { acct_map.get(a).copied().unwrap_or(NONE) };
        let mut mask_cache: HashMap<String, u64> = HashMap::new();
        let stmts: Vec<CStmt<'p>> = policy
            .statements
            .iter()
            .zip(clauses)
            .zip(kinds)
            .map(|((st, clauses), kinds)| {
                let items = match &st.principal {
                    Principal::Star => vec![PItem::Everyone(
                        "principal \"*\" is every authenticated AWS principal in every account",
                    )],
                    Principal::Map(_) => kinds
                        .into_iter()
                        .map(|kind| match kind {
                            PrincipalKind::Everyone { why } => PItem::Everyone(why),
                            PrincipalKind::Account { account } => {
                                PItem::Account(acct_index(&account), account)
                            }
                            PrincipalKind::Specific { account, arn } => {
                                PItem::Specific(acct_index(&account), arn)
                            }
                            PrincipalKind::Service { name } => PItem::Service(name),
                            PrincipalKind::Nobody { why } => PItem::Nobody(why),
                        })
                        .collect(),
                };
                let mut mask = 0u64;
                for a in &st.actions {
                    mask |= if a.len() > 1 && glob::is_pattern(a) {
                        match mask_cache.get(&**a) {
                            Some(m) => *m,
                            None => {
                                let m = names.mask_of(a);
                                mask_cache.insert(a.to_string(), m);
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
                for (r, arn) in world.resources.iter().enumerate() {
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
                let mut whole: Vec<u16> = Vec::new();
                let mut others: Vec<u32> = Vec::new();
                for (k, it) in items.iter().enumerate() {
                    match it {
                        PItem::Account(a, _) => {
                            if *a != NONE {
                                whole.push(*a);
                            }
                        }
                        PItem::Nobody(_) => {}
                        _ => others.push(k as u32),
                    }
                }
                whole.sort_unstable();
                whole.dedup();
                CStmt {
                    allow: st.allow,
                    not_principal: st.not_principal,
                    whole,
                    others,
                    items,
                    mask,
                    res,
                    clauses,
                }
            })
            .collect();

        let denies = stmts
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.allow)
            .map(|(i, _)| i)
            .collect();
        Evaluation {
            denies,
            policy,
            names,
            stmts,
            world,
            counted,
            pub_nets,
            fresh: 0,
            registry,
            overflow,
        }
    }

    fn principal_matches(&self, s: &CStmt, p: &Probe) -> bool {
        let any = (!p.service && s.whole.binary_search(&p.account).is_ok())
            || s.others.iter().any(|&k| match &s.items[k as usize] {
                PItem::Everyone(_) => true,
                PItem::Account(a, _) => !p.service && *a == p.account,
                PItem::Specific(a, arn) => {
                    !p.service && *a == p.account && {
                        let id = &self.world.idents[p.account as usize][p.ident as usize];
                        id.arn == *arn || id.sts.as_deref() == Some(arn.as_str())
                    }
                }
                PItem::Service(name) => {
                    p.service
                        && (name == "*"
                            || self.world.services[p.svc as usize].eq_ignore_ascii_case(name))
                }
                PItem::Nobody(_) => false,
            });
        any != s.not_principal
    }

    fn conditions_hold(&self, s: &CStmt, p: &Probe) -> bool {
        let ctx = PCtx {
            w: &self.world,
            p: *p,
        };
        s.clauses.iter().all(|c| c.eval(&ctx, s.allow))
    }

    fn probes(&self, h_orgs: bool) -> Vec<Probe> {
        let w = &self.world;
        let mut out = Vec::with_capacity(64);
        let pub_orgs: Vec<u16> = if h_orgs { vec![NONE, 0] } else { vec![NONE] };
        let pol_orgs: Vec<u16> = (1..w.orgs.len() as u16).collect();
        let all_nets: Vec<u16> = (0..w.nets.len() as u16).collect();
        let pub_nets: Vec<u16> = (0..self.pub_nets as u16).collect();
        let pol_nets: Vec<u16> = (self.pub_nets as u16..w.nets.len() as u16).collect();
        let base = Probe {
            service: false,
            class: Class::Public,
            account: self.fresh,
            ident: 0,
            org: NONE,
            net: 0,
            svc: 0,
            src_arn: 0,
        };
        let f = self.fresh as usize;
        for (classes, orgs, nets) in [
            (Class::Public, &pub_orgs, &pub_nets),
            (Class::NetRestricted, &pub_orgs, &pol_nets),
        ] {
            for ident in 0..w.idents[f].len() as u16 {
                for &org in orgs.iter() {
                    for &net in nets.iter() {
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
        for &org in &pol_orgs {
            for ident in 0..w.idents[f].len() as u16 {
                for &net in &all_nets {
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
        let mut acct_orgs = pub_orgs.clone();
        acct_orgs.extend(&pol_orgs);
        for a in 1..w.accounts.len() as u16 {
            for ident in 0..w.idents[a as usize].len() as u16 {
                for &org in &acct_orgs {
                    for &net in &all_nets {
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

    fn service_probes(&self, uses_source: bool, uses_src_org: bool) -> Vec<Probe> {
        let w = &self.world;
        let mut out = Vec::with_capacity(16);
        let accts: Vec<u16> = if uses_source {
            (0..w.accounts.len() as u16).collect()
        } else {
            vec![self.fresh]
        };
        let orgs: Vec<u16> = if uses_src_org {
            std::iter::once(NONE)
                .chain(0..w.orgs.len() as u16)
                .collect()
        } else {
            vec![NONE]
        };
        for svc in 0..w.services.len() as u16 {
            for &a in &accts {
                for src_arn in 0..w.src_arns[a as usize].len() as u16 {
                    for &org in &orgs {
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
        let h_flags = {
            let mut org = false;
            let mut src = false;
            let mut src_org = false;
            for s in &self.stmts {
                for c in &s.clauses {
                    match c.key {
                        Key::PrincipalOrgId | Key::PrincipalOrgPaths => org = true,
                        Key::SourceAccount | Key::SourceOwner | Key::SourceArn => src = true,
                        Key::SourceOrgId | Key::SourceOrgPaths => src_org = true,
                        _ => {}
                    }
                }
            }
            (org, src, src_org)
        };
        let mut probes = self.probes(h_flags.0);
        probes.extend(self.service_probes(h_flags.1, h_flags.2));
        let mut truncated = self.overflow;
        if probes.len() > MAX_PROBES {
            probes.truncate(MAX_PROBES);
            truncated = true;
        }

        // Statement index: always-candidates, per-account (with "the whole account is named"),
        // services. A statement whose condition pins aws:PrincipalAccount/PrincipalArn to
        // fixed accounts is indexed under those accounts only: the key is present on every
        // direct call and absent on service calls, so no other probe can satisfy it.
        let n_acc = self.world.accounts.len();
        let mut always: Vec<u32> = Vec::new();
        let mut by_account: Vec<Vec<(u32, bool)>> = vec![Vec::new(); n_acc];
        let mut service_only: Vec<u32> = Vec::new();
        let mut acct_map: Option<HashMap<&str, u16>> = None;
        let cost: Vec<usize> = self
            .stmts
            .iter()
            .map(|s| 1 + s.clauses.iter().map(|c| c.vals.len()).sum::<usize>())
            .collect();
        for (i, s) in self.stmts.iter().enumerate() {
            if s.mask == 0 && s.allow {
                continue;
            }
            if s.res == 0 {
                continue;
            }
            if let Some(pinned) = pinned_accounts(s) {
                let map = acct_map.get_or_insert_with(|| {
                    self.world
                        .accounts
                        .iter()
                        .enumerate()
                        .map(|(i, a)| (a.as_str(), i as u16))
                        .collect()
                });
                let mut idx: Vec<u16> = pinned.iter().filter_map(|a| map.get(a).copied()).collect();
                idx.sort_unstable();
                idx.dedup();
                for a in idx {
                    by_account[a as usize].push((i as u32, false));
                }
                continue;
            }
            let wide = s.not_principal || s.items.iter().any(|it| matches!(it, PItem::Everyone(_)));
            if wide {
                always.push(i as u32);
                continue;
            }
            let mut accts: Vec<(u16, bool)> = Vec::new();
            let mut svc = false;
            for it in &s.items {
                match it {
                    PItem::Account(a, _) | PItem::Specific(a, _) if *a != NONE => {
                        let whole = matches!(it, PItem::Account(..));
                        match accts.iter_mut().find(|(x, _)| x == a) {
                            Some(e) => e.1 |= whole,
                            None => accts.push((*a, whole)),
                        }
                    }
                    PItem::Service(_) => svc = true,
                    _ => {}
                }
            }
            for (a, whole) in accts {
                by_account[a as usize].push((i as u32, whole));
            }
            if svc {
                service_only.push(i as u32);
            }
        }
        let empty: Vec<(u32, bool)> = Vec::new();

        let nres = self.world.resources.len();
        let mut applies: Vec<u32> = Vec::with_capacity(self.stmts.len());
        let mut accs: Vec<GrantAcc> = Vec::with_capacity(8);
        let mut acc_index: HashMap<(usize, Class), usize> = HashMap::new();
        let mut work = 0usize;
        let mut public = false;
        let mut cross = false;
        let mut net_restricted = false;
        let mut access = Access::None;
        let mut exposed_all = 0u64;
        for p in &probes {
            applies.clear();
            for &i in &always {
                let s = &self.stmts[i as usize];
                work += cost[i as usize] + s.others.len();
                if self.principal_matches(s, p) && self.conditions_hold(s, p) {
                    applies.push(i);
                }
            }
            if p.service {
                for &i in &service_only {
                    let s = &self.stmts[i as usize];
                    work += cost[i as usize] + s.others.len();
                    if self.principal_matches(s, p) && self.conditions_hold(s, p) {
                        applies.push(i);
                    }
                }
            } else {
                for &(i, whole) in by_account.get(p.account as usize).unwrap_or(&empty) {
                    let s = &self.stmts[i as usize];
                    work += cost[i as usize];
                    let principal = whole || {
                        work += s.others.len();
                        self.principal_matches(s, p)
                    };
                    if principal && self.conditions_hold(s, p) {
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
                org_id: self.world.orgs[o as usize].id.clone(),
            },
            Class::Account(a) => Audience::Account {
                account_id: self.world.accounts[a as usize].clone(),
            },
            Class::Service(s) => Audience::Service {
                service: self.world.services[s as usize].clone(),
            },
        }
    }

    fn grants(&self, mut accs: Vec<GrantAcc>) -> Vec<Grant> {
        // The same for every grant: computed once.
        let deny_words: Vec<String> = if accs.is_empty() {
            Vec::new()
        } else {
            self.stmts
                .iter()
                .map(|d| {
                    if d.allow {
                        String::new()
                    } else {
                        self.deny_principal_words(d)
                    }
                })
                .collect()
        };
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
                out.push(self.grant(a, &deny_words));
            }
            i = j;
        }
        out
    }

    fn grant(&self, a: &GrantAcc, deny_words: &[String]) -> Grant {
        let st = &self.policy.statements[a.stmt];
        let mut actions = Vec::with_capacity(a.mask.count_ones() as usize);
        let mut m = a.mask;
        while m != 0 {
            let b = m.trailing_zeros();
            actions.push(self.names.name(b));
            m &= m - 1;
        }
        actions.sort();
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
        match self.policy.statements[i].sid.as_deref() {
            Some(sid) if !sid.is_empty() => format!("statement {i} ({sid})"),
            _ => format!("statement {i}"),
        }
    }

    fn describe_probe(&self, p: &Probe) -> String {
        let w = &self.world;
        if p.service {
            let svc = &w.services[p.svc as usize];
            let svc = if svc == "*" {
                "any AWS service".to_string()
            } else {
                svc.clone()
            };
            return format!(
                "{svc} acting for a resource of untrusted account {}",
                self.account_label(p.account)
            );
        }
        let mut s = format!("a principal of account {}", self.account_label(p.account));
        match p.org {
            NONE => s.push_str(", outside any organization"),
            0 => s.push_str(", in an organization it created"),
            o => {
                s.push_str(", in untrusted organization ");
                s.push_str(&w.orgs[o as usize].id);
            }
        }
        let net = &w.nets[p.net as usize];
        if let Some(ip) = &net.ip {
            s.push_str(", calling from ");
            s.push_str(ip);
        } else if let (Some(e), Some(c)) = (&net.vpce, &net.vpc) {
            s.push_str(", calling through VPC endpoint ");
            s.push_str(e);
            s.push_str(" in ");
            s.push_str(c);
        }
        s
    }

    fn account_label(&self, a: u16) -> String {
        if a == self.fresh {
            format!(
                "{} (stands for any account the policy does not name)",
                self.world.accounts[a as usize]
            )
        } else {
            self.world.accounts[a as usize].clone()
        }
    }

    fn explain(&self, a: &GrantAcc, deny_words: &[String]) -> Vec<String> {
        let mut out = Vec::with_capacity(4 + self.stmts[a.stmt].clauses.len() + self.denies.len());
        let st = &self.stmts[a.stmt];
        let p = &a.witness;
        let label = self.stmt_label(a.stmt);
        // Who.
        match a.class {
            Class::Public => out.push(format!(
                "{label} reaches any AWS account: anyone can open an account that the policy does not name"
            )),
            Class::NetRestricted => out.push(format!(
                "{label} reaches any AWS account, but only from a network the policy names (aws:SourceIp/SourceVpc/SourceVpce); network is not trust, so it is cross-account, not public"
            )),
            Class::Org(o) => out.push(format!(
                "{label} reaches members of organization {}, which is not a trusted organization",
                self.world.orgs[o as usize].id
            )),
            Class::Account(acc) => out.push(format!(
                "{label} reaches account {}, which is not in the trust zone",
                self.world.accounts[acc as usize]
            )),
            Class::Service(_) => out.push(format!(
                "{label} reaches an AWS service acting for an account outside the trust zone (confused deputy): nothing pins aws:SourceAccount/SourceArn/SourceOwner to trusted accounts"
            )),
        }
        if st.not_principal {
            out.push("NotPrincipal with Allow matches every principal that is not listed".into());
        } else {
            for it in &st.items {
                let hit = match it {
                    PItem::Everyone(why) => Some((*why).to_string()),
                    PItem::Account(acc, _) if *acc == p.account && !p.service => Some(format!(
                        "the principal names account {}, that is every principal in it",
                        self.world.accounts[*acc as usize]
                    )),
                    PItem::Specific(acc, s) if *acc == p.account && !p.service => Some(format!(
                        "principal {s} is in account {}",
                        self.world.accounts[*acc as usize]
                    )),
                    PItem::Service(name) if p.service => {
                        Some(format!("principal is the service {name}"))
                    }
                    _ => None,
                };
                if let Some(h) = hit {
                    out.push(h);
                    break;
                }
            }
        }
        let ctx = PCtx {
            w: &self.world,
            p: *p,
        };
        for c in &st.clauses {
            out.push(describe_clause(c, &ctx, true));
        }
        out.push(format!("for example: {}", self.describe_probe(p)));
        // Denies that could have covered these actions.
        let bit = 1u64 << a.res;
        for &i in &self.denies {
            let d = &self.stmts[i];
            if d.allow || d.mask & (st.mask & self.counted) == 0 {
                continue;
            }
            let dl = self.stmt_label(i);
            if d.res & bit == 0 {
                out.push(format!(
                    "Deny {dl} does not apply: its Resource does not match"
                ));
                continue;
            }
            if !self.principal_matches(d, p) {
                out.push(format!("Deny {dl} {}", deny_words[i]));
                continue;
            }
            if let Some(c) = d.clauses.iter().find(|c| !c.eval(&ctx, false)) {
                out.push(format!(
                    "Deny {dl} does not apply: {}",
                    describe_clause(c, &ctx, false)
                ));
                continue;
            }
            let removed = d.mask & st.mask & self.counted;
            let n = removed.count_ones();
            out.push(format!(
                "Deny {dl} applies and removes {n} of the statement's actions"
            ));
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
                PItem::Specific(_, s) => names.push(s.clone()),
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
            for a in &st.actions {
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

fn uid_parts(pats: &[String]) -> Vec<String> {
    pats.iter()
        .map(|p| p.split(':').next().unwrap_or("").to_string())
        .collect()
}

fn ident_for_arn(arn: &str, role_id: &str, user_id: &str) -> Ident {
    let parts = principal::arn_parts(arn).unwrap_or(["", "", "", "", "", ""]);
    let res = parts[5];
    let account = parts[4];
    if let Some(rest) = res.strip_prefix("assumed-role/") {
        let (role, session) = rest.split_once('/').unwrap_or((rest, "x"));
        return Ident {
            arn: format!("arn:{}:iam::{account}:role/{role}", parts[1]),
            sts: Some(arn.to_string()),
            userid: format!("{role_id}:{session}"),
            username: None,
        };
    }
    if let Some(rest) = res.strip_prefix("user/") {
        let name = rest.rsplit('/').next().unwrap_or(rest);
        return Ident {
            arn: arn.to_string(),
            sts: None,
            userid: user_id.to_string(),
            username: Some(name.to_string()),
        };
    }
    if res == "root" {
        return Ident {
            arn: arn.to_string(),
            sts: None,
            userid: account.to_string(),
            username: None,
        };
    }
    let session = "x";
    let sts = res.strip_prefix("role/").map(|r| {
        let name = r.rsplit('/').next().unwrap_or(r);
        format!(
            "arn:{}:sts::{account}:assumed-role/{name}/{session}",
            parts[1]
        )
    });
    Ident {
        arn: arn.to_string(),
        sts,
        userid: format!("{role_id}:{session}"),
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

/// Plain words for one clause's value in a context; `allow` is the statement's effect.
fn describe_clause<C: Context>(c: &CClause<'_>, ctx: &C, allow: bool) -> String {
    use std::fmt::Write as _;
    // One buffer for the whole sentence: explanations are built for every exposing grant.
    let mut out = String::with_capacity(192);
    out.push_str(c.op_name);
    out.push(' ');
    out.push_str(c.key_name);
    out.push(' ');
    if c.raw.len() == 1 {
        out.push('"');
        out.push_str(&c.raw[0]);
        out.push('"');
    } else {
        out.push('[');
        for (i, v) in c.raw.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push('"');
            out.push_str(v);
            out.push('"');
        }
        out.push(']');
    }
    match ctx.get(c.key, c.tag) {
        ReqVal::Free => {
            if allow {
                let _ = write!(
                    out,
                    ": the caller controls {} (or it says nothing about identity), so it does not restrict",
                    c.key_name
                );
            } else {
                let _ = write!(
                    out,
                    ": the caller controls {}, so it can avoid this Deny",
                    c.key_name
                );
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
            let _ = write!(
                out,
                ": {} is \"{v}\" for this caller, so the condition is {r}",
                c.key_name
            );
        }
    }
    out
}
