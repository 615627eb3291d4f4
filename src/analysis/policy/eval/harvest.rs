//! The policy's own literals, the raw material of the probes (spec §6): accounts and account
//! patterns, principal and source ARN patterns, organization ids and paths, user ids,
//! networks and service names.
//!
//! Owns what is collected from which statements and the caps on it, and the small helpers
//! that make a literal concrete or pick a value no literal names ([`instantiate_org`],
//! [`in_account`], [`pick_fresh`]), shared by [`super::world`] and [`super::identity`]; must
//! not build the probe world itself. Literals are borrowed from the parsed policy wherever
//! they are used as written.

use std::borrow::Cow;

use ipnet::IpNet;

use super::super::condition::{Key, Val, parse_net};
use super::super::glob;
use super::super::parse::{Policy, Principal, Statement};
use super::super::principal::{self, is_account_id};
use super::MAX_HARVEST_LEN;
use super::compile::{CStmt, PItem};

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

/// Literals collected from the policy, each list sorted and deduplicated once its pass ends.
#[derive(Default)]
pub(super) struct Harvest<'a> {
    pub acct_lits: Vec<&'a str>,
    pub acct_pats: Vec<&'a str>,
    pub principal_arn_pats: Vec<&'a str>,
    pub src_arn_pats: Vec<&'a str>,
    pub org_ids: Vec<Cow<'a, str>>,
    pub org_pats: Vec<&'a str>,
    /// (organization id, path), both instantiated.
    pub org_paths: Vec<(String, String)>,
    pub userid_pats: Vec<&'a str>,
    pub cidrs: Vec<IpNet>,
    pub vpces: Vec<Cow<'a, str>>,
    pub vpce_pats: Vec<&'a str>,
    pub vpcs: Vec<Cow<'a, str>>,
    pub vpc_pats: Vec<&'a str>,
    /// Names of `Service` principals.
    pub svc_names: Vec<&'a str>,
    /// Literal values of `aws:PrincipalServiceName(sList)` conditions.
    pub svc_name_lits: Vec<&'a str>,
    /// (account, ARN) of principals naming one identity.
    pub specifics: Vec<(&'a str, &'a str)>,
    pub uses_network: bool,
    pub uses_identity: bool,
    pub uses_source: bool,
    /// A live statement reads the caller's organization (id or paths).
    pub uses_org: bool,
    /// A live statement reads the calling service's source organization.
    pub uses_src_org: bool,
    pub wildcard_principal: bool,
    /// Some kind of literal hit its cap: probes may be missing.
    pub overflow: bool,
}

fn push_capped<T>(v: &mut Vec<T>, x: T) {
    if v.len() < RAW_CAP {
        v.push(x);
    }
}

/// Sort, deduplicate and cap; true if the cap cut something off.
fn settle<T: Ord>(v: &mut Vec<T>, cap: usize) -> bool {
    v.sort_unstable();
    v.dedup();
    let over = v.len() > cap;
    v.truncate(cap);
    over
}

/// Whether pattern `p` fixes some character at or after byte `prefix`.
pub(super) fn has_fixed_after(p: &str, prefix: usize) -> bool {
    p.char_indices()
        .any(|(i, c)| i >= prefix && c != '*' && c != '?')
}

/// First candidate equal to no literal and matched by no pattern that pins a character
/// beyond `free_prefix` (an outsider cannot pick such a value).
pub(super) fn pick_fresh<L: AsRef<str>>(
    cands: &[&'static str],
    lits: &[L],
    pats: &[&str],
    free_prefix: usize,
) -> &'static str {
    let taken = |c: &str| {
        lits.iter().any(|l| l.as_ref().eq_ignore_ascii_case(c))
            || pats
                .iter()
                .any(|p| has_fixed_after(p, free_prefix) && glob::matches(p, c))
    };
    cands
        .iter()
        .copied()
        .find(|c| !taken(c))
        .unwrap_or(cands[cands.len() - 1])
}

/// An ARN pattern moved into account `a`, its remaining wildcards filled: a concrete ARN the
/// probe of that account can carry.
pub(super) fn in_account(parts: &[&str; 6], a: &str) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum::<usize>() + 12);
    for (k, part) in parts.iter().enumerate() {
        if k > 0 {
            out.push(':');
        }
        if k == 4 {
            out.push_str(a);
        } else {
            glob::instantiate_into(&mut out, part, "x", 'x');
        }
    }
    out
}

/// Organization ids are `o-` and 10 to 32 lower-case letters or digits (spec §12.5).
pub(super) fn valid_org(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("o-") else {
        return false;
    };
    (10..=32).contains(&rest.len())
        && rest
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Every run of exactly 12 digits in `s`.
fn digit_runs<'a>(s: &'a str, out: &mut Vec<&'a str>) {
    let runs = s.split(|c: char| !c.is_ascii_digit());
    for run in runs.filter(|r| r.len() == 12) {
        push_capped(out, run);
    }
}

/// An organization pattern made concrete: the first `*` stretched so the id stays valid.
pub(super) fn instantiate_org(p: &str) -> Option<String> {
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

/// Which literals one harvest pass collects.
#[derive(Clone, Copy)]
pub(super) enum Pass<'l> {
    /// Organization ids and paths, from every statement: the organizations a probe can
    /// carry must be known before liveness (an org-only statement is judged against them).
    Orgs,
    /// Everything else, from the live statements only: a statement that never applies
    /// cannot tell two probes apart, so its literals would only add probes.
    Probes(&'l [bool]),
}

impl<'a> Harvest<'a> {
    /// Collects one [`Pass`] of literals, then sorts, deduplicates and caps them.
    pub fn collect(&mut self, policy: &'a Policy<'a>, stmts: &[CStmt<'a>], pass: Pass<'_>) {
        for (i, (st, cs)) in policy.statements.iter().zip(stmts).enumerate() {
            match pass {
                Pass::Orgs => self.org_literals(cs),
                Pass::Probes(live) if live[i] => {
                    self.principal(st, cs);
                    self.probe_literals(cs);
                }
                Pass::Probes(_) => {}
            }
        }
        let over = match pass {
            Pass::Orgs => self.settle_orgs(),
            Pass::Probes(_) => self.settle_probes(),
        };
        self.overflow |= over;
    }

    fn settle_orgs(&mut self) -> bool {
        let mut over = settle(&mut self.org_ids, HARVEST_CAP);
        over |= settle(&mut self.org_pats, HARVEST_CAP);
        over |= settle(&mut self.org_paths, HARVEST_CAP);
        over
    }

    fn settle_probes(&mut self) -> bool {
        let mut over = settle(&mut self.acct_lits, HARVEST_CAP_ACCOUNTS);
        over |= settle(&mut self.acct_pats, HARVEST_CAP);
        over |= settle(&mut self.principal_arn_pats, 4 * HARVEST_CAP_ACCOUNTS);
        over |= settle(&mut self.src_arn_pats, HARVEST_CAP);
        over |= settle(&mut self.userid_pats, 4 * HARVEST_CAP_ACCOUNTS);
        over |= settle(&mut self.cidrs, HARVEST_CAP);
        over |= settle(&mut self.vpces, HARVEST_CAP);
        over |= settle(&mut self.vpce_pats, HARVEST_CAP);
        over |= settle(&mut self.vpcs, HARVEST_CAP);
        over |= settle(&mut self.vpc_pats, HARVEST_CAP);
        over |= settle(&mut self.svc_names, HARVEST_CAP);
        over |= settle(&mut self.svc_name_lits, HARVEST_CAP);
        over |= settle(&mut self.specifics, HARVEST_CAP_ACCOUNTS);
        over
    }

    /// The first values of each organization clause of a statement, live or not.
    fn org_literals(&mut self, cs: &CStmt<'a>) {
        for c in &cs.clauses {
            let raw: &'a [Cow<'a, str>] = c.raw;
            for v in raw.iter().take(PER_CLAUSE) {
                if v.len() <= MAX_HARVEST_LEN {
                    self.org_value(c.key, v);
                }
            }
        }
    }

    /// One value of an organization key: an org id, or a path and the org it starts with.
    fn org_value(&mut self, key: Key, v: &'a str) {
        match key {
            Key::PrincipalOrgId | Key::SourceOrgId => self.org_id(v),
            Key::PrincipalOrgPaths | Key::SourceOrgPaths => {
                let id = v.split('/').next().unwrap_or("");
                self.org_id(id);
                let org = if glob::is_pattern(id) {
                    instantiate_org(id)
                } else {
                    Some(id.to_ascii_lowercase())
                };
                if let Some(org) = org.filter(|o| valid_org(o)) {
                    let rest = glob::instantiate(&v[id.len()..], "x", 'x');
                    let mut path = format!("{org}{rest}");
                    if !path.ends_with('/') {
                        path.push('/');
                    }
                    push_capped(&mut self.org_paths, (org, path));
                }
            }
            _ => {}
        }
    }

    fn org_id(&mut self, v: &'a str) {
        if glob::is_pattern(v) {
            if has_fixed_after(v, 2) {
                push_capped(&mut self.org_pats, v);
            }
        } else if v.bytes().any(|b| b.is_ascii_uppercase()) {
            let lower = v.to_ascii_lowercase();
            if valid_org(&lower) {
                push_capped(&mut self.org_ids, Cow::Owned(lower));
            }
        } else if valid_org(v) {
            push_capped(&mut self.org_ids, Cow::Borrowed(v));
        }
    }

    /// Accounts, services and named principals of one statement's principal.
    fn principal(&mut self, st: &'a Statement<'a>, cs: &CStmt<'a>) {
        if st.not_principal {
            self.wildcard_principal = true;
        }
        let Principal::Map(entries) = &st.principal else {
            self.wildcard_principal = true;
            return;
        };
        for ((_, s), item) in entries.iter().zip(&cs.items) {
            if s.len() <= MAX_HARVEST_LEN {
                digit_runs(s, &mut self.acct_lits);
            }
            match *item {
                PItem::Everyone(_) => self.wildcard_principal = true,
                PItem::Service(name) => push_capped(&mut self.svc_names, name),
                PItem::Specific(_, account, arn) => {
                    push_capped(&mut self.specifics, (account, arn))
                }
                _ => {}
            }
        }
    }

    /// The condition literals of a live statement, and which probe fields it reads.
    fn probe_literals(&mut self, cs: &CStmt<'a>) {
        for c in &cs.clauses {
            match c.key {
                Key::SourceIp | Key::SourceVpc | Key::SourceVpce => self.uses_network = true,
                Key::PrincipalArn | Key::UserId | Key::Username => self.uses_identity = true,
                Key::SourceAccount | Key::SourceOwner | Key::SourceArn => self.uses_source = true,
                Key::PrincipalOrgId | Key::PrincipalOrgPaths => self.uses_org = true,
                Key::SourceOrgId | Key::SourceOrgPaths => self.uses_src_org = true,
                _ => {}
            }
            let raw: &'a [Cow<'a, str>] = c.raw;
            for (vi, v) in raw.iter().enumerate() {
                if v.len() <= MAX_HARVEST_LEN {
                    self.probe_value(c.key, c.vals.get(vi), v, vi < PER_CLAUSE);
                }
            }
        }
    }

    /// One condition value; `first` says it is among the first [`PER_CLAUSE`] of its clause
    /// (only those become network probes).
    fn probe_value(&mut self, key: Key, compiled: Option<&Val<'a>>, v: &'a str, first: bool) {
        digit_runs(v, &mut self.acct_lits);
        match key {
            Key::PrincipalAccount | Key::SourceAccount | Key::SourceOwner => self.account_value(v),
            Key::PrincipalArn | Key::SourceArn => {
                if let Some(parts) = principal::arn_parts(v) {
                    self.account_value(parts[4]);
                }
                if key == Key::PrincipalArn {
                    push_capped(&mut self.principal_arn_pats, v);
                } else {
                    push_capped(&mut self.src_arn_pats, v);
                }
            }
            Key::UserId => push_capped(&mut self.userid_pats, v),
            Key::SourceIp if first => {
                // IP operators compiled the value already.
                let net = match compiled {
                    Some(Val::Ip(n)) => *n,
                    _ => parse_net(v),
                };
                if let Some(n) = net {
                    push_capped(&mut self.cidrs, n);
                }
            }
            Key::SourceVpce if first => net_id(&mut self.vpces, &mut self.vpce_pats, v, 5),
            Key::SourceVpc if first => net_id(&mut self.vpcs, &mut self.vpc_pats, v, 4),
            Key::PrincipalServiceName | Key::PrincipalServiceNamesList if !glob::is_pattern(v) => {
                push_capped(&mut self.svc_name_lits, v);
            }
            _ => {}
        }
    }

    fn account_value(&mut self, v: &'a str) {
        if glob::is_pattern(v) {
            if v.bytes()
                .all(|b| b.is_ascii_digit() || b == b'*' || b == b'?')
                && has_fixed_after(v, 0)
            {
                push_capped(&mut self.acct_pats, v);
            }
        } else if is_account_id(v) {
            push_capped(&mut self.acct_lits, v);
        }
    }
}

/// A network id as a probe value: written as is, or a pattern instantiated.
fn net_id<'a>(
    ids: &mut Vec<Cow<'a, str>>,
    pats: &mut Vec<&'a str>,
    v: &'a str,
    free_prefix: usize,
) {
    if glob::is_pattern(v) {
        if has_fixed_after(v, free_prefix) {
            push_capped(pats, v);
            push_capped(ids, Cow::Owned(glob::instantiate(v, "x", 'x')));
        }
    } else {
        push_capped(ids, Cow::Borrowed(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_runs_are_exactly_twelve_digits() {
        let mut out = Vec::new();
        digit_runs(
            "arn:aws:iam::123456789012:role/a1234567890123b999999999999",
            &mut out,
        );
        assert_eq!(out, ["123456789012", "999999999999"]);
    }

    #[test]
    fn organization_patterns_become_valid_ids() {
        assert_eq!(instantiate_org("o-abc*").as_deref(), Some("o-abcxxxxxxx"));
        assert_eq!(
            instantiate_org("O-ABC?????????").as_deref(),
            Some("o-abcxxxxxxxxx")
        );
        assert!(instantiate_org("x-*").is_none());
    }
}
