//! What a statement says about one probe: the probe as an IAM request context, principal
//! matching, and which statements can apply at all (liveness).
//!
//! Owns the mapping from condition keys to probe fields; must not enumerate probes.

use std::net::IpAddr;

use super::super::actions::ActionSet;
use super::super::condition::{CClause, Context, Key, ReqVal, Val};
use super::compile::{CStmt, PItem};
use super::identity::UserName;
use super::world::{Membership, Net, World};
use super::{OrgIx, Probe, SvcIx};

/// One probe in its world, as the request context conditions are evaluated in.
pub(super) struct ProbeContext<'w, 'a> {
    pub world: &'w World<'a>,
    pub probe: Probe,
}

impl ProbeContext<'_, '_> {
    fn one(s: Option<&str>) -> ReqVal<'_> {
        s.map_or(ReqVal::Missing, ReqVal::One)
    }

    fn resource_tag(&self, tag: &str) -> ReqVal<'_> {
        let Some(tags) = self.world.tags else {
            return ReqVal::TagUnknown;
        };
        let value = tags.get(tag).or_else(|| {
            tags.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(tag))
                .map(|(_, v)| v)
        });
        Self::one(value.map(String::as_str))
    }

    /// Keys of a service-mediated request (spec §12.1).
    fn service_key(&self, key: Key, svc: usize) -> ReqVal<'_> {
        let w = self.world;
        let p = &self.probe;
        let org = w.org(p.org);
        let account = w.accounts.get(p.account.0);
        match key {
            Key::SourceAccount | Key::SourceOwner => Self::one(account.map(|a| &*a.id)),
            Key::SourceArn => Self::one(
                account
                    .and_then(|a| a.src_arns.get(p.src_arn))
                    .map(String::as_str),
            ),
            Key::SourceOrgId => Self::one(org.map(|o| o.id.as_str())),
            Key::SourceOrgPaths => Self::one(org.map(|o| o.path.as_str())),
            Key::PrincipalServiceName | Key::PrincipalServiceNamesList => {
                Self::one(w.services.get(svc).copied())
            }
            _ => ReqVal::Missing,
        }
    }

    /// Keys of a direct call.
    fn direct_key(&self, key: Key) -> ReqVal<'_> {
        let w = self.world;
        let p = &self.probe;
        let account = w.accounts.get(p.account.0);
        let ident = account.and_then(|a| a.idents.get(p.ident));
        let org = w.org(p.org);
        let endpoint = match w.net(p.net) {
            Some(Net::Endpoint { vpce, vpc }) => Some((&**vpce, &**vpc)),
            _ => None,
        };
        match key {
            Key::PrincipalAccount => Self::one(account.map(|a| &*a.id)),
            Key::PrincipalArn => Self::one(ident.map(|i| i.arn.as_str())),
            Key::UserId => Self::one(ident.map(|i| i.userid.as_str())),
            Key::Username => match ident.map(|i| &i.username) {
                Some(UserName::Chosen(_)) => ReqVal::Free,
                Some(UserName::Fixed(name)) => ReqVal::One(name),
                Some(UserName::NotAUser) | None => ReqVal::Missing,
            },
            Key::PrincipalOrgId => Self::one(org.map(|o| o.id.as_str())),
            Key::PrincipalOrgPaths => Self::one(org.map(|o| o.path.as_str())),
            Key::SourceVpc => Self::one(endpoint.map(|e| e.1)),
            Key::SourceVpce => Self::one(endpoint.map(|e| e.0)),
            _ => ReqVal::Missing,
        }
    }
}

impl Context for ProbeContext<'_, '_> {
    fn get(&self, key: Key, tag: &str) -> ReqVal<'_> {
        let w = self.world;
        let p = &self.probe;
        match key {
            Key::Free => ReqVal::Free,
            Key::RequestedRegion => ReqVal::One(w.region),
            Key::ResourceAccount => ReqVal::One(w.resource_account),
            Key::ResourceTag => self.resource_tag(tag),
            Key::PrincipalIsAwsService => {
                ReqVal::One(if p.service.is_some() { "true" } else { "false" })
            }
            Key::SourceIp => match w.net(p.net) {
                Some(Net::Ip { text, .. }) => ReqVal::One(text),
                _ => ReqVal::Missing,
            },
            _ => match p.service {
                Some(svc) => self.service_key(key, svc.0),
                None => self.direct_key(key),
            },
        }
    }

    fn source_ip(&self) -> Option<IpAddr> {
        match self.world.net(self.probe.net) {
            Some(Net::Ip { addr, .. }) => Some(*addr),
            _ => None,
        }
    }

    fn var(&self, key: Key, tag: &str) -> Option<&str> {
        let p = &self.probe;
        if key == Key::Username && p.service.is_none() {
            let account = self.world.accounts.get(p.account.0)?;
            return account.idents.get(p.ident)?.username.name();
        }
        match self.get(key, tag) {
            ReqVal::One(s) => Some(s),
            _ => None,
        }
    }
}

impl World<'_> {
    /// Whether the statement's Principal (or NotPrincipal) covers the probe.
    pub fn principal_matches(&self, s: &CStmt<'_>, p: &Probe) -> bool {
        let direct = p.service.is_none();
        let named_whole = direct && s.whole.binary_search(&p.account).is_ok();
        let any = named_whole || s.others.iter().any(|&k| self.item_matches(&s.items[k], p));
        any != s.not_principal
    }

    fn item_matches(&self, item: &PItem<'_>, p: &Probe) -> bool {
        match (item, p.service) {
            (PItem::Everyone(_), _) => true,
            (PItem::Account(a, _), None) => *a == Some(p.account),
            (PItem::Specific(a, _, arn), None) => {
                *a == Some(p.account)
                    && self
                        .account(p.account)
                        .idents
                        .get(p.ident)
                        .is_some_and(|id| id.arn == *arn || id.sts.as_deref() == Some(*arn))
            }
            (PItem::Service(name), Some(svc)) => {
                *name == "*"
                    || self
                        .services
                        .get(svc.0)
                        .is_some_and(|s| s.eq_ignore_ascii_case(name))
            }
            _ => false,
        }
    }

    pub fn conditions_hold(&self, s: &CStmt<'_>, p: &Probe) -> bool {
        let ctx = ProbeContext {
            world: self,
            probe: *p,
        };
        s.clauses.iter().all(|c| c.eval(&ctx, s.allow))
    }

    /// Whether a statement that reads no probe field but the organization (an org-restricted
    /// grant, the most common condition) fails for every organization a probe can carry,
    /// calling directly or as a service: then no probe needs to check it. Statements that
    /// read other fields are left to the probes.
    fn never_applies(&self, s: &CStmt<'_>) -> bool {
        let dims = Dims::of(s);
        if dims
            != (Dims {
                org: dims.org,
                ..Dims::NONE
            })
        {
            return false;
        }
        let orgs = [Membership::Outside, Membership::Own]
            .into_iter()
            .chain((0..self.orgs.len()).map(|o| Membership::Named(OrgIx(o))));
        for org in orgs {
            for service in [None, Some(SvcIx(0))] {
                let p = Probe {
                    service,
                    org,
                    ..Probe::base()
                };
                if self.principal_matches(s, &p) && self.conditions_hold(s, &p) {
                    return false;
                }
            }
        }
        true
    }
}

/// Statements that can apply to some request; the rest are never checked, and their
/// literals make no probes. Needs only the organizations of `world` (an org-only statement
/// is judged against each of them).
pub(super) fn liveness(world: &World<'_>, stmts: &[CStmt<'_>], counted: &ActionSet) -> Vec<bool> {
    let any_probe = ProbeContext {
        world,
        probe: Probe::base(),
    };
    stmts
        .iter()
        .map(|s| {
            // A statement with no counted action changes nothing, Allow or Deny.
            s.actions.intersects(counted)
                && s.applies_to_some_resource()
                // A clause on a key no probe sets (one the caller picks, the region, the
                // tags) has the same outcome for every probe: false once means never (a Deny
                // whose TLS condition the caller can avoid).
                && !s
                    .clauses
                    .iter()
                    .any(|c| probe_independent(c) && !c.eval(&any_probe, s.allow))
                && !world.never_applies(s)
        })
        .collect()
}

/// Whether a clause reads nothing a probe sets, so that one evaluation answers for all:
/// its key is the caller's choice, the region, the resource account or a resource tag, and
/// no policy variable in its values reads the caller.
fn probe_independent(c: &CClause<'_>) -> bool {
    matches!(
        c.key,
        Key::Free | Key::RequestedRegion | Key::ResourceAccount | Key::ResourceTag
    ) && !has_variables(c)
}

fn has_variables(c: &CClause<'_>) -> bool {
    c.vals.iter().any(|v| matches!(v, Val::Tmpl(_)))
}

/// The probe fields a statement's outcome can depend on, through its principal and its
/// condition keys (whether the probe is a service always counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Dims {
    pub account: bool,
    pub ident: bool,
    pub org: bool,
    pub net: bool,
    pub service: bool,
    pub src_arn: bool,
}

impl Dims {
    const NONE: Dims = Dims {
        account: false,
        ident: false,
        org: false,
        net: false,
        service: false,
        src_arn: false,
    };
    const ALL: Dims = Dims {
        account: true,
        ident: true,
        org: true,
        net: true,
        service: true,
        src_arn: true,
    };

    /// Policy variables may read any key: all fields.
    pub fn of(s: &CStmt<'_>) -> Dims {
        let mut d = Dims::NONE;
        for it in &s.items {
            match it {
                PItem::Account(..) => d.account = true,
                PItem::Specific(..) => (d.account, d.ident) = (true, true),
                PItem::Service(_) => d.service = true,
                PItem::Everyone(_) | PItem::Nobody(_) => {}
            }
        }
        for c in &s.clauses {
            if has_variables(c) {
                return Dims::ALL;
            }
            match c.key {
                Key::PrincipalAccount | Key::SourceAccount | Key::SourceOwner => d.account = true,
                Key::PrincipalArn | Key::UserId | Key::Username => {
                    (d.account, d.ident) = (true, true)
                }
                Key::SourceArn => (d.account, d.src_arn) = (true, true),
                Key::PrincipalOrgId
                | Key::PrincipalOrgPaths
                | Key::SourceOrgId
                | Key::SourceOrgPaths => d.org = true,
                Key::SourceIp | Key::SourceVpc | Key::SourceVpce => d.net = true,
                Key::PrincipalServiceName | Key::PrincipalServiceNamesList => d.service = true,
                Key::Free
                | Key::ResourceTag
                | Key::RequestedRegion
                | Key::ResourceAccount
                | Key::PrincipalIsAwsService => {}
            }
        }
        d
    }
}
