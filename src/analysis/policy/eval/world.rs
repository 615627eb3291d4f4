//! The probe world (spec §6): the accounts, identities, organizations, networks, services
//! and source ARNs that outsider probes are made of, built from the harvest.
//!
//! Owns the probe values and their caps; must not evaluate statements (that is
//! [`super::context`]) or enumerate probes (that is [`super::probe`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::super::Trust;
use super::super::glob;
use super::super::principal::{self, is_account_id};
use super::compile::Target;
use super::harvest::{Harvest, has_fixed_after, in_account, instantiate_org, pick_fresh};
use super::identity::{Ident, IdentityPlan};
use super::{AccountIx, OrgIx};

const MAX_ACCOUNTS: usize = 4096;
/// Most organizations, the outsider's own included.
const MAX_ORGS: usize = 16;
const MAX_NETS: usize = 24;
const MAX_SERVICES: usize = 32;
const MAX_SRC_ARNS: usize = 8;

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
const FRESH_ORGS: [&str; 3] = ["o-q7zk3probe", "o-v8yj2fresh", "o-u9xh1other"];
const FRESH_VPCES: [&str; 2] = ["vpce-0q7zk3probe0000001", "vpce-0v8yj2fresh0000002"];
const FRESH_VPCS: [&str; 2] = ["vpc-0q7zk3probe00001", "vpc-0v8yj2fresh00002"];
/// The path below an organization id that probe members sit at.
const ORG_PATH_TAIL: &str = "/r-q7zk/ou-q7zk-probe000/";
/// Public addresses an outsider may call from (the first outside every CIDR the policy names).
const GENERIC_V4: [Ipv4Addr; 10] = [
    Ipv4Addr::new(52, 94, 76, 10),
    Ipv4Addr::new(3, 120, 1, 1),
    Ipv4Addr::new(18, 200, 2, 2),
    Ipv4Addr::new(99, 80, 3, 3),
    Ipv4Addr::new(130, 176, 4, 4),
    Ipv4Addr::new(160, 1, 5, 5),
    Ipv4Addr::new(203, 0, 113, 9),
    Ipv4Addr::new(44, 1, 1, 1),
    Ipv4Addr::new(220, 1, 1, 1),
    Ipv4Addr::new(250, 1, 1, 1),
];
/// IPv6 addresses an outsider may call from.
const GENERIC_V6: [Ipv6Addr; 4] = [
    Ipv6Addr::new(0x2600, 0x1f18, 0, 0, 0, 0, 0, 1),
    Ipv6Addr::new(0x2a05, 0xd018, 0, 0, 0, 0, 0, 1),
    Ipv6Addr::new(0x2406, 0xda00, 0, 0, 0, 0, 0, 1),
    Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 1),
];

/// A probe account: the fresh outsider or an untrusted account the policy names.
#[derive(Debug)]
pub(super) struct Account<'a> {
    pub id: Cow<'a, str>,
    /// Never empty: the root comes first.
    pub idents: Vec<Ident>,
    /// Source ARNs of service probes acting for this account (empty when no live statement
    /// reads source keys, except for the fresh account).
    pub src_arns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Org {
    pub id: String,
    pub path: String,
}

/// The organization a probe is a member of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Membership {
    Outside,
    /// An organization the outsider created.
    Own,
    /// An untrusted organization the policy names.
    Named(OrgIx),
}

/// Where a direct probe calls from.
#[derive(Debug, Clone)]
pub(super) enum Net<'a> {
    Ip {
        addr: IpAddr,
        text: String,
    },
    /// Through a VPC endpoint: `aws:SourceIp` is absent.
    Endpoint {
        vpce: Cow<'a, str>,
        vpc: Cow<'a, str>,
    },
}

impl Net<'_> {
    fn ip(addr: IpAddr) -> Self {
        Net::Ip {
            addr,
            text: addr.to_string(),
        }
    }
}

/// Which network a probe uses: one an arbitrary outsider controls, or one the policy names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum NetIx {
    Public(usize),
    Named(usize),
}

#[derive(Debug)]
pub(super) struct World<'a> {
    /// [`AccountIx::FRESH`] first, then the named accounts.
    pub accounts: Vec<Account<'a>>,
    /// Account indices sorted by account id, for lookups by id.
    by_id: Vec<AccountIx>,
    pub own_org: Org,
    /// Untrusted organizations the policy names.
    pub orgs: Vec<Org>,
    pub public_nets: Vec<Net<'a>>,
    pub named_nets: Vec<Net<'a>>,
    pub services: Vec<&'a str>,
    pub region: &'a str,
    pub resource_account: &'a str,
    pub tags: Option<&'a BTreeMap<String, String>>,
    /// The probe set is incomplete (too many accounts).
    pub overflow: bool,
}

impl<'a> World<'a> {
    /// A world with only its organizations, enough for liveness.
    pub fn with_orgs(h: &Harvest<'_>, target: &Target<'a>, trust: &Trust) -> Self {
        let own = pick_fresh(&FRESH_ORGS, &h.org_ids, &h.org_pats, 2);
        let own_org = Org {
            id: own.to_string(),
            path: format!("{own}{ORG_PATH_TAIL}"),
        };
        let mut orgs: Vec<Org> = Vec::new();
        let mut add = |id: &str, path: Option<&str>| {
            if 1 + orgs.len() >= MAX_ORGS || trust.trusted_orgs.contains(id) {
                return;
            }
            let mut all = std::iter::once(&own_org).chain(orgs.iter());
            let dup = match path {
                None => all.any(|x| x.id == id),
                Some(p) => all.any(|x| x.path == p),
            };
            if !dup {
                orgs.push(Org {
                    id: id.to_string(),
                    path: path.map_or_else(|| format!("{id}{ORG_PATH_TAIL}"), str::to_string),
                });
            }
        };
        for o in &h.org_ids {
            add(o, None);
        }
        for o in h.org_pats.iter().filter_map(|p| instantiate_org(p)) {
            add(&o, None);
        }
        for (o, path) in &h.org_paths {
            add(o, Some(path));
        }
        World {
            accounts: Vec::new(),
            by_id: Vec::new(),
            own_org,
            orgs,
            public_nets: Vec::new(),
            named_nets: Vec::new(),
            services: Vec::new(),
            region: target.region,
            resource_account: target.resource_account,
            tags: target.tags,
            overflow: false,
        }
    }

    /// Adds everything else the live statements' literals call for.
    pub fn populate(&mut self, h: &Harvest<'a>, trust: &Trust) {
        let ids = account_ids(h, trust);
        self.overflow = ids.len() >= MAX_ACCOUNTS;
        let plan = IdentityPlan::new(h);
        let src = SourceArns::new(h, self.region);
        self.accounts = ids
            .into_iter()
            .enumerate()
            .map(|(i, id)| Account {
                idents: plan.idents(&id),
                src_arns: if i == 0 || h.uses_source {
                    src.for_account(&id)
                } else {
                    Vec::new()
                },
                id,
            })
            .collect();
        let mut by_id: Vec<AccountIx> = (0..self.accounts.len()).map(AccountIx).collect();
        by_id.sort_unstable_by(|x, y| self.account(*x).id.cmp(&self.account(*y).id));
        self.by_id = by_id;
        (self.public_nets, self.named_nets) = networks(h);
        self.services = services(h);
    }

    pub fn account(&self, a: AccountIx) -> &Account<'a> {
        &self.accounts[a.0]
    }

    /// Index of an account id among the probe accounts.
    pub fn account_index(&self, id: &str) -> Option<AccountIx> {
        self.by_id
            .binary_search_by(|i| self.account(*i).id.as_ref().cmp(id))
            .ok()
            .map(|k| self.by_id[k])
    }

    pub fn org(&self, m: Membership) -> Option<&Org> {
        match m {
            Membership::Outside => None,
            Membership::Own => Some(&self.own_org),
            Membership::Named(o) => Some(&self.orgs[o.0]),
        }
    }

    pub fn net(&self, n: NetIx) -> Option<&Net<'a>> {
        match n {
            NetIx::Public(i) => self.public_nets.get(i),
            NetIx::Named(i) => self.named_nets.get(i),
        }
    }
}

/// The fresh outsider's account id, then the untrusted accounts the policy names and
/// instances of its account patterns.
fn account_ids<'a>(h: &Harvest<'a>, trust: &Trust) -> Vec<Cow<'a, str>> {
    let trusted = |a: &str| a == trust.owner_account || trust.trusted_accounts.contains(a);
    let fresh = FRESH_ACCOUNTS
        .iter()
        .copied()
        .find(|c| {
            !trusted(c)
                && h.acct_lits.binary_search(c).is_err()
                && !h
                    .acct_pats
                    .iter()
                    .any(|p| has_fixed_after(p, 0) && glob::matches(p, c))
        })
        .unwrap_or(FRESH_ACCOUNTS[FRESH_ACCOUNTS.len() - 1]);
    let mut ids: Vec<Cow<'a, str>> = vec![Cow::Borrowed(fresh)];
    // Sorted and deduplicated by the harvest.
    for &a in &h.acct_lits {
        if ids.len() >= MAX_ACCOUNTS {
            break;
        }
        if !trusted(a) && a != fresh {
            ids.push(Cow::Borrowed(a));
        }
    }
    let named = ids.len();
    for p in &h.acct_pats {
        if ids.len() >= MAX_ACCOUNTS {
            break;
        }
        let Some(inst) = account_instance(p, |inst| !trusted(inst)) else {
            continue;
        };
        let seen = inst == fresh
            || h.acct_lits.binary_search(&inst.as_str()).is_ok()
            || ids[named..].iter().any(|s| *s == inst);
        if !seen {
            ids.push(Cow::Owned(inst));
        }
    }
    ids
}

/// The first account id that an account pattern matches with its wildcards filled by one
/// digit (`0` first) and that `wanted` accepts.
fn account_instance(p: &str, wanted: impl Fn(&str) -> bool) -> Option<String> {
    let stars = p.chars().filter(|c| *c == '*').count();
    let fixed = p.chars().filter(|c| *c != '*').count();
    (b'0'..=b'9').map(char::from).find_map(|d| {
        let star_fill = if stars > 0 && fixed <= 12 {
            d.to_string().repeat((12 - fixed).div_ceil(stars))
        } else {
            String::new()
        };
        let mut inst = glob::instantiate(p, &star_fill, d);
        inst.truncate(12);
        (is_account_id(&inst) && glob::matches(p, &inst) && wanted(&inst)).then_some(inst)
    })
}

/// Source ARNs service probes carry: a generic resource of the account and the policy's
/// `aws:SourceArn` patterns moved into it.
struct SourceArns<'a> {
    region: &'a str,
    patterns: Vec<[&'a str; 6]>,
}

impl<'a> SourceArns<'a> {
    fn new(h: &Harvest<'a>, region: &'a str) -> Self {
        SourceArns {
            region: if region.is_empty() {
                "us-east-1"
            } else {
                region
            },
            patterns: h
                .src_arn_pats
                .iter()
                .filter_map(|p| principal::arn_parts(p))
                .collect(),
        }
    }

    fn for_account(&self, a: &str) -> Vec<String> {
        let mut out = vec![format!("arn:aws:service:{}:{a}:resource/x", self.region)];
        for parts in &self.patterns {
            if out.len() >= MAX_SRC_ARNS {
                break;
            }
            let arn = in_account(parts, a);
            if !out.contains(&arn) {
                out.push(arn);
            }
        }
        out
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
            (0..blocks.min(256))
                .map(|k| base.wrapping_add((k as u32) << 24))
                .find(|block| {
                    !narrow.iter().any(|n| match n {
                        IpNet::V4(n) => u32::from(n.network()) >> 24 == block >> 24,
                        IpNet::V6(_) => false,
                    })
                })
                .map(|block| IpAddr::from(Ipv4Addr::from(block | 0x000a_0b0c)))
        }
        IpNet::V6(w) => {
            let base = u128::from(w.network());
            let blocks = 1u128 << (32 - w.prefix_len()).min(100);
            (0..blocks.min(256))
                .map(|k| base.wrapping_add(k << 96))
                .find(|block| {
                    !narrow.iter().any(|n| match n {
                        IpNet::V6(n) => u128::from(n.network()) >> 96 == block >> 96,
                        IpNet::V4(_) => false,
                    })
                })
                .map(|block| IpAddr::from(Ipv6Addr::from(block | 0xa0b)))
        }
    }
}

/// The public networks (the first is a generic IPv4 address) and the networks the policy
/// names.
fn networks<'a>(h: &Harvest<'a>) -> (Vec<Net<'a>>, Vec<Net<'a>>) {
    let in_any = |ip: IpAddr| h.cidrs.iter().any(|n| n.contains(&ip));
    let generic4 = GENERIC_V4
        .into_iter()
        .map(IpAddr::from)
        .find(|ip| !in_any(*ip))
        .unwrap_or(IpAddr::from(GENERIC_V4[0]));
    let mut public = vec![Net::ip(generic4)];
    let mut named = Vec::new();
    if !h.uses_network {
        return (public, named);
    }
    if !h.cidrs.is_empty() {
        let v6 = GENERIC_V6
            .into_iter()
            .map(IpAddr::from)
            .find(|ip| !in_any(*ip))
            .unwrap_or(IpAddr::from(GENERIC_V6[0]));
        public.push(Net::ip(v6));
    }
    let narrow: Vec<IpNet> = h.cidrs.iter().filter(|n| !is_wide(n)).cloned().collect();
    for w in h.cidrs.iter().filter(|n| is_wide(n)) {
        if public.len() >= MAX_NETS / 2 {
            break;
        }
        if let Some(ip) = inside_wide(w, &narrow) {
            if !public
                .iter()
                .any(|n| matches!(n, Net::Ip { addr, .. } if *addr == ip))
            {
                public.push(Net::ip(ip));
            }
        }
    }
    let own_vpce = pick_fresh(&FRESH_VPCES, &h.vpces, &h.vpce_pats, 5);
    let own_vpc = pick_fresh(&FRESH_VPCS, &h.vpcs, &h.vpc_pats, 4);
    public.push(Net::Endpoint {
        vpce: Cow::Borrowed(own_vpce),
        vpc: Cow::Borrowed(own_vpc),
    });
    for n in narrow.iter().take(MAX_NETS / 2) {
        named.push(Net::ip(n.network()));
    }
    let vpces = h.vpces.iter().map(|v| &**v).chain([own_vpce]);
    let pairs = vpces.flat_map(|e| {
        let vpcs = h.vpcs.iter().map(|v| &**v).chain([own_vpc]);
        vpcs.map(move |c| (e, c))
    });
    for (e, c) in pairs.filter(|&(e, c)| !(e == own_vpce && c == own_vpc)) {
        if named.len() >= MAX_NETS {
            break;
        }
        named.push(Net::Endpoint {
            vpce: Cow::Owned(e.to_string()),
            vpc: Cow::Owned(c.to_string()),
        });
    }
    (public, named)
}

/// Services the policy names, and any service when a principal is a wildcard.
fn services<'a>(h: &Harvest<'a>) -> Vec<&'a str> {
    let mut out: Vec<&'a str> = Vec::new();
    let push_new = |out: &mut Vec<&'a str>, s: &'a str| {
        if !out.contains(&s) {
            out.push(s);
        }
    };
    for &s in &h.svc_names {
        if out.len() < MAX_SERVICES {
            push_new(&mut out, s);
        }
    }
    if h.wildcard_principal {
        push_new(&mut out, "*");
        for &s in &h.svc_name_lits {
            if out.len() < MAX_SERVICES {
                push_new(&mut out, s);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_patterns_become_matching_ids() {
        let any = |_: &str| true;
        assert_eq!(
            account_instance("1111111111??", any).as_deref(),
            Some("111111111100")
        );
        assert_eq!(account_instance("1*", any).as_deref(), Some("100000000000"));
        assert_eq!(account_instance("12345", any).as_deref(), None);
        let not_zero = |a: &str| a != "111111111100";
        assert_eq!(
            account_instance("1111111111??", not_zero).as_deref(),
            Some("111111111111")
        );
    }

    #[test]
    fn wide_cidrs_get_an_address_no_narrow_one_covers() {
        let wide: IpNet = "0.0.0.0/1".parse().expect("cidr");
        let narrow: Vec<IpNet> = vec!["0.1.0.0/16".parse().expect("cidr")];
        assert_eq!(
            inside_wide(&wide, &narrow),
            Some(IpAddr::from(Ipv4Addr::new(1, 10, 11, 12)))
        );
    }
}
