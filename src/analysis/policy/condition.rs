//! Condition keys and operators (spec §5.1, §5.2, §12.1-§12.10).
//!
//! Owns the compiled form of a condition clause and its value for one concrete request
//! context: IAM's missing-key rules, `IfExists`, `ForAllValues:`/`ForAnyValue:`, negated
//! operators, wildcards only where IAM has them, CIDR containment and policy variables
//! (2012-10-17 only). Keys the outsider chooses freely are "free": they satisfy an Allow and
//! keep a Deny from applying.

use std::borrow::Cow;
use std::net::IpAddr;

use ipnet::IpNet;

use super::glob;
use super::parse::{BaseOp, Clause, Quantifier, Version};
use super::principal::split6;
use variables::{Part, Substituted};

mod variables;

/// Condition keys the evaluator knows; everything else is [`Key::Free`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    PrincipalAccount,
    PrincipalArn,
    PrincipalOrgId,
    PrincipalOrgPaths,
    UserId,
    /// Carried by IAM users only; an outsider's own user picks it freely.
    Username,
    SourceIp,
    SourceVpc,
    SourceVpce,
    SourceAccount,
    SourceOwner,
    SourceArn,
    SourceOrgId,
    SourceOrgPaths,
    PrincipalIsAwsService,
    PrincipalServiceName,
    PrincipalServiceNamesList,
    RequestedRegion,
    ResourceAccount,
    ResourceTag,
    Free,
}

const KEYS: [(&str, Key); 19] = [
    ("aws:PrincipalAccount", Key::PrincipalAccount),
    ("aws:PrincipalArn", Key::PrincipalArn),
    ("aws:PrincipalOrgID", Key::PrincipalOrgId),
    ("aws:PrincipalOrgPaths", Key::PrincipalOrgPaths),
    ("aws:userid", Key::UserId),
    ("aws:username", Key::Username),
    ("aws:SourceIp", Key::SourceIp),
    ("aws:SourceVpc", Key::SourceVpc),
    ("aws:SourceVpce", Key::SourceVpce),
    ("aws:SourceAccount", Key::SourceAccount),
    ("aws:SourceOwner", Key::SourceOwner),
    ("aws:SourceArn", Key::SourceArn),
    ("aws:SourceOrgID", Key::SourceOrgId),
    ("aws:SourceOrgPaths", Key::SourceOrgPaths),
    ("aws:PrincipalIsAWSService", Key::PrincipalIsAwsService),
    ("aws:PrincipalServiceName", Key::PrincipalServiceName),
    (
        "aws:PrincipalServiceNamesList",
        Key::PrincipalServiceNamesList,
    ),
    ("aws:RequestedRegion", Key::RequestedRegion),
    ("aws:ResourceAccount", Key::ResourceAccount),
];

impl Key {
    /// Classify a key name (case-insensitive, spec §2.10).
    pub fn of(name: &str) -> Key {
        if let Some((_, k)) = KEYS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return *k;
        }
        let tag_prefix = |p: &str| {
            name.len() > p.len()
                && name
                    .get(..p.len())
                    .is_some_and(|h| h.eq_ignore_ascii_case(p))
        };
        if tag_prefix("aws:ResourceTag/") || tag_prefix("ecr:ResourceTag/") {
            return Key::ResourceTag;
        }
        Key::Free
    }
}

/// The value of a key in one request context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReqVal<'x> {
    Missing,
    /// Chosen by the caller.
    Free,
    /// A repository tag the analyzer does not know (offline).
    TagUnknown,
    One(&'x str),
}

/// A request context: what a key holds.
pub trait Context {
    /// Value of a condition key (`tag` is the tag name for [`Key::ResourceTag`]).
    fn get(&self, key: Key, tag: &str) -> ReqVal<'_>;
    /// `aws:SourceIp` already parsed, when the context has it (saves parsing per clause).
    fn source_ip(&self) -> Option<IpAddr> {
        None
    }
    /// Value of a policy variable; free keys have no value here.
    fn var(&self, key: Key, tag: &str) -> Option<&str> {
        match self.get(key, tag) {
            ReqVal::One(s) => Some(s),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Val<'a> {
    Str(&'a str),
    /// An ARN pattern split into its six components (Arn operators).
    Arn([&'a str; 6]),
    Ip(Option<IpNet>),
    Num(Option<f64>),
    Tmpl(Vec<Part>),
}

/// A compiled `operator: {key: values}` clause.
#[derive(Debug, Clone)]
pub struct CClause<'a> {
    pub op_name: &'a str,
    pub base: BaseOp,
    pub quant: Quantifier,
    pub if_exists: bool,
    pub key_name: &'a str,
    pub key: Key,
    /// Tag name for [`Key::ResourceTag`].
    pub tag: &'a str,
    pub raw: &'a [Cow<'a, str>],
    /// `raw` compiled for the operator, value by value.
    pub vals: Vec<Val<'a>>,
    /// For long value lists on account-bearing keys: the values grouped by the account they
    /// pin (see [`AccountIndex`]).
    pub index: Option<AccountIndex<'a>>,
    /// For long lists that compare by plain equality: the values sorted, so that one
    /// comparison is a binary search (thousands of org or endpoint ids, or of principal ARNs,
    /// in one clause). See [`exact_values`].
    pub exact: Option<Vec<&'a str>>,
}

/// The values of one clause grouped by the account id they fix. A request value can match
/// only the values that fix its own account and those that fix none, so a long list (a Deny
/// with thousands of `ArnNotLike aws:PrincipalArn` entries, probed once per account it
/// names) costs a binary search per probe instead of a scan of the whole list.
#[derive(Debug, Clone)]
pub struct AccountIndex<'a> {
    /// (12-digit account as a number, value index), sorted: probes compare integers, not
    /// strings, in the binary search they make for every evaluation.
    pinned: Vec<(u64, u32)>,
    /// Values fixing an account text that is no 12-digit id sit in neither list: they can
    /// match only a request whose account is that same text, and such a request (never a
    /// probe's) is answered by a full scan.
    /// Values that do not fix an account: always checked.
    loose: Vec<u32>,
    _values: std::marker::PhantomData<&'a str>,
}

/// Value lists shorter than this are scanned: the index would not pay for itself.
const INDEX_MIN_VALUES: usize = 16;

/// A 12-digit account id as a number (ids keep their leading zeros apart: all are 12 long).
fn account_number(s: &str) -> Option<u64> {
    if s.len() != 12 {
        return None;
    }
    s.bytes().try_fold(0u64, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

fn has_wildcard(s: &str) -> bool {
    glob::is_pattern(s)
}

/// The account component a request value must have for this policy value to match it, if
/// the value fixes one (it need not be a valid account id: a literal that no account has
/// simply never becomes a candidate). Values that do not fix it stay in the scanned list.
fn pinned_account<'a>(key: Key, v: &Val<'a>) -> Option<&'a str> {
    let account_key = matches!(
        key,
        Key::PrincipalAccount | Key::SourceAccount | Key::SourceOwner
    );
    match v {
        Val::Str(v) if account_key => (!has_wildcard(v)).then_some(*v),
        // Arn operators compare each component alone: a literal account component pins.
        Val::Arn(parts) => (!has_wildcard(parts[4])).then_some(parts[4]),
        // Whole-string comparison: the account is pinned only when nothing before it can
        // stretch over a colon. A literal with fewer than five colons equals no ARN: it is
        // filed under the empty account, compared only with requests whose account is empty.
        Val::Str(v) => match split6(v) {
            Some(parts) => parts[..5]
                .iter()
                .all(|p| !has_wildcard(p))
                .then_some(parts[4]),
            None => (!has_wildcard(v)).then_some(""),
        },
        _ => None,
    }
}

impl<'a> AccountIndex<'a> {
    fn build(key: Key, base: BaseOp, vals: &[Val<'a>]) -> Option<Self> {
        if vals.len() < INDEX_MIN_VALUES
            || !matches!(
                key,
                Key::PrincipalAccount
                    | Key::SourceAccount
                    | Key::SourceOwner
                    | Key::PrincipalArn
                    | Key::SourceArn
            )
            || !matches!(
                base,
                BaseOp::StringEquals
                    | BaseOp::StringNotEquals
                    | BaseOp::StringLike
                    | BaseOp::StringNotLike
                    | BaseOp::ArnEquals
                    | BaseOp::ArnLike
                    | BaseOp::ArnNotEquals
                    | BaseOp::ArnNotLike
            )
        {
            return None;
        }
        let mut pinned = Vec::new();
        let mut loose = Vec::new();
        for (i, v) in vals.iter().enumerate() {
            match pinned_account(key, v) {
                Some(a) => {
                    if let Some(n) = account_number(a) {
                        pinned.push((n, i as u32));
                    }
                }
                None => loose.push(i as u32),
            }
        }
        pinned.sort_unstable();
        Some(AccountIndex {
            pinned,
            loose,
            _values: std::marker::PhantomData,
        })
    }

    /// Indices of the values a request value in `account` can match; `None` when the
    /// account is no 12-digit id (then every value must be tried).
    fn candidates(&self, account: &str) -> Option<impl Iterator<Item = usize> + '_> {
        let n = account_number(account)?;
        let lo = self.pinned.partition_point(|(a, _)| *a < n);
        let hi = self.pinned.partition_point(|(a, _)| *a <= n);
        Some(
            self.loose
                .iter()
                .chain(self.pinned[lo..hi].iter().map(|(_, i)| i))
                .map(|i| *i as usize),
        )
    }
}

/// A CIDR or a single address, as IAM reads `aws:SourceIp` values.
pub(super) fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

impl<'a> CClause<'a> {
    pub fn compile(c: &'a Clause<'a>, version: Version) -> CClause<'a> {
        let key = Key::of(&c.key);
        let base = c.op.base;
        let vals: Vec<Val<'a>> = c
            .values
            .iter()
            .map(|v| match base {
                BaseOp::IpAddress | BaseOp::NotIpAddress => Val::Ip(parse_net(v)),
                BaseOp::NumericEquals
                | BaseOp::NumericNotEquals
                | BaseOp::NumericLessThan
                | BaseOp::NumericLessThanEquals
                | BaseOp::NumericGreaterThan
                | BaseOp::NumericGreaterThanEquals => Val::Num(v.trim().parse::<f64>().ok()),
                _ => {
                    if version == Version::V2012 {
                        if let Some(t) = variables::parse(v) {
                            return Val::Tmpl(t);
                        }
                    }
                    match split6(v) {
                        Some(parts) if is_arn_op(base) => Val::Arn(parts),
                        _ => Val::Str(v),
                    }
                }
            })
            .collect();
        let index = AccountIndex::build(key, base, &vals);
        let exact = (vals.len() >= INDEX_MIN_VALUES)
            .then(|| exact_values(base, &vals, &c.values))
            .flatten()
            .map(|mut v| {
                v.sort_unstable();
                v
            });
        let mut clause = CClause {
            index,
            exact,
            op_name: &c.op_name,
            base,
            quant: c.op.quant,
            if_exists: c.op.if_exists,
            key_name: &c.key,
            key,
            tag: if key == Key::ResourceTag {
                c.key.split_once('/').map_or("", |(_, t)| t)
            } else {
                ""
            },
            raw: &c.values,
            vals,
        };
        // With both an account index and an exact set, evaluation takes the cheaper one (the
        // exact set on a tie).
        if clause.index.is_some() && clause.exact.is_some() {
            let with_exact = clause.eval_cost();
            let exact = clause.exact.take();
            if with_exact <= clause.eval_cost() {
                clause.exact = exact;
            }
        }
        clause
    }

    /// Upper bound on the work of one evaluation, in the evaluator's budget units: one per
    /// value compared plus one per 64 bytes of it; an index limits what is compared. Request
    /// values are assumed to carry a 12-digit account (every probe's does), so values filed
    /// under anything else never count.
    pub fn eval_cost(&self) -> usize {
        let unit = |i: usize| 1 + self.raw.get(i).map_or(0, |v| v.len() / 64);
        if let Some(set) = &self.exact {
            return 1 + set.len().ilog2() as usize;
        }
        if let Some(ix) = &self.index {
            let loose: usize = ix.loose.iter().map(|&i| unit(i as usize)).sum();
            let mut widest = 0usize;
            let mut k = 0;
            while k < ix.pinned.len() {
                let a = ix.pinned[k].0;
                let mut group = 0;
                while k < ix.pinned.len() && ix.pinned[k].0 == a {
                    group += unit(ix.pinned[k].1 as usize);
                    k += 1;
                }
                widest = widest.max(group);
            }
            return 1 + ix.pinned.len().max(1).ilog2() as usize + loose + widest;
        }
        (0..self.raw.len()).map(unit).sum()
    }

    /// Result when the key is absent from the request (spec §5.1).
    pub fn missing_result(&self) -> bool {
        if self.base == BaseOp::Null {
            return self.raw.iter().any(|v| v.eq_ignore_ascii_case("true"));
        }
        if self.if_exists {
            return true;
        }
        match self.quant {
            Quantifier::ForAllValues => return true,
            Quantifier::ForAnyValue => return false,
            Quantifier::Plain => {}
        }
        self.base.negated()
    }

    /// A positive Numeric/Date/IP comparison whose policy values all fail to parse is false
    /// whatever the request holds (spec §12.10).
    fn never_matches(&self) -> bool {
        if self.base.negated() {
            return false;
        }
        match self.base {
            BaseOp::IpAddress => self.vals.iter().all(|v| matches!(v, Val::Ip(None))),
            BaseOp::NumericEquals
            | BaseOp::NumericLessThan
            | BaseOp::NumericLessThanEquals
            | BaseOp::NumericGreaterThan
            | BaseOp::NumericGreaterThanEquals => {
                self.vals.iter().all(|v| matches!(v, Val::Num(None)))
            }
            BaseOp::DateEquals
            | BaseOp::DateLessThan
            | BaseOp::DateLessThanEquals
            | BaseOp::DateGreaterThan
            | BaseOp::DateGreaterThanEquals => self
                .vals
                .iter()
                .all(|v| matches!(v, Val::Str(s) if parse_date(s).is_none())),
            _ => false,
        }
    }

    /// Evaluate in a context; `allow` says which way free keys go.
    pub fn eval<C: Context>(&self, ctx: &C, allow: bool) -> bool {
        match ctx.get(self.key, self.tag) {
            ReqVal::Free | ReqVal::TagUnknown => {
                allow
                    && !(self.quant == Quantifier::Plain && !self.if_exists && self.never_matches())
            }
            ReqVal::Missing => self.missing_result(),
            ReqVal::One(s) => self.present_result(s, ctx),
        }
    }

    pub fn present_result<C: Context>(&self, s: &str, ctx: &C) -> bool {
        if self.base == BaseOp::Null {
            return self.raw.iter().any(|v| v.eq_ignore_ascii_case("false"));
        }
        let m = if matches!(self.base, BaseOp::IpAddress | BaseOp::NotIpAddress) {
            let ip = if self.key == Key::SourceIp {
                ctx.source_ip()
            } else {
                None
            }
            .or_else(|| s.parse::<IpAddr>().ok());
            match ip {
                Some(ip) => self
                    .vals
                    .iter()
                    .any(|v| matches!(v, Val::Ip(Some(n)) if n.contains(&ip))),
                None => false,
            }
        } else {
            // The request value split as an ARN is needed by ARN operators and the account
            // index only: most clauses (org ids, plain strings) never pay for it.
            let req = if is_arn_op(self.base) || self.index.is_some() {
                split6(s)
            } else {
                None
            };
            let one = |v: &Val<'_>| match (v, &req) {
                (Val::Arn(p), Some(r)) if is_arn_op(self.base) => {
                    // Account and resource first: they differ most often.
                    [4usize, 5, 2, 3, 1, 0]
                        .iter()
                        .all(|&i| glob::matches(p[i], r[i]))
                }
                (Val::Arn(_), None) if is_arn_op(self.base) => false,
                _ => positive(self.base, v, s, ctx),
            };
            if let Some(set) = &self.exact {
                let m = set.binary_search(&s).is_ok();
                return if self.base.negated() { !m } else { m };
            }
            let account = match self.key {
                Key::PrincipalAccount | Key::SourceAccount | Key::SourceOwner => Some(s),
                _ => req.map(|r| r[4]),
            };
            match self
                .index
                .as_ref()
                .zip(account)
                .and_then(|(ix, a)| ix.candidates(a))
            {
                Some(mut c) => c.any(|i| one(&self.vals[i])),
                None => self.vals.iter().any(one),
            }
        };
        if self.base.negated() { !m } else { m }
    }
}

/// The values of a clause whose every comparison is plain string equality, or `None`.
///
/// `StringEquals` compares whole strings. `StringLike` and the ARN operators do too when no
/// value has a wildcard: an ARN literal equals a request ARN component by component exactly
/// when the two strings are equal (the sixth component keeps the rest, colons included), and
/// a value that is no ARN is compared whole. Templates and other compiled forms compare
/// otherwise.
fn exact_values<'a>(
    base: BaseOp,
    vals: &[Val<'a>],
    raw: &'a [Cow<'a, str>],
) -> Option<Vec<&'a str>> {
    let wildcards_matter = match base {
        BaseOp::StringEquals | BaseOp::StringNotEquals => false,
        BaseOp::StringLike | BaseOp::StringNotLike => true,
        b if is_arn_op(b) => true,
        _ => return None,
    };
    vals.iter()
        .zip(raw)
        .map(|(v, r)| {
            let plain = matches!(v, Val::Str(_) | Val::Arn(_));
            (plain && !(wildcards_matter && glob::is_pattern(r))).then_some(r.as_ref())
        })
        .collect()
}

fn is_glob_op(base: BaseOp) -> bool {
    matches!(base, BaseOp::StringLike | BaseOp::StringNotLike)
}

fn is_arn_op(base: BaseOp) -> bool {
    matches!(
        base,
        BaseOp::ArnEquals | BaseOp::ArnLike | BaseOp::ArnNotEquals | BaseOp::ArnNotLike
    )
}

/// ARN match: each of the six components separately, with wildcards.
pub fn arn_match(pat: &str, s: &str) -> bool {
    if pat.bytes().filter(|&b| b == b':').count() < 5 {
        // Not an ARN pattern (e.g. "*"): IAM compares it as a whole.
        return glob::matches(pat, s);
    }
    let mut pp = pat.splitn(6, ':');
    let mut sp = s.splitn(6, ':');
    for _ in 0..6 {
        match (pp.next(), sp.next()) {
            (Some(p), Some(v)) => {
                if !glob::matches(p, v) {
                    return false;
                }
            }
            _ => return false,
        }
    }
    true
}

fn num_cmp(base: BaseOp, a: f64, b: f64) -> bool {
    match base {
        BaseOp::NumericEquals | BaseOp::NumericNotEquals => a == b,
        BaseOp::NumericLessThan => a < b,
        BaseOp::NumericLessThanEquals => a <= b,
        BaseOp::NumericGreaterThan => a > b,
        BaseOp::NumericGreaterThanEquals => a >= b,
        _ => false,
    }
}

fn parse_date(s: &str) -> Option<i128> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(i128::from(n) * 1_000_000_000);
    }
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp_nanos())
        .or_else(|| {
            time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
                .ok()
                .map(|d| d.midnight().assume_utc().unix_timestamp_nanos())
        })
}

fn date_cmp(base: BaseOp, a: &str, b: &str) -> bool {
    let (Some(a), Some(b)) = (parse_date(a), parse_date(b)) else {
        return false;
    };
    match base {
        BaseOp::DateEquals | BaseOp::DateNotEquals => a == b,
        BaseOp::DateLessThan => a < b,
        BaseOp::DateLessThanEquals => a <= b,
        BaseOp::DateGreaterThan => a > b,
        BaseOp::DateGreaterThanEquals => a >= b,
        _ => false,
    }
}

/// Does request value `s` match policy value `v` under the positive form of `base`?
fn positive<C: Context>(base: BaseOp, v: &Val<'_>, s: &str, ctx: &C) -> bool {
    match v {
        Val::Ip(net) => match (net, s.parse::<IpAddr>()) {
            (Some(n), Ok(ip)) => n.contains(&ip),
            _ => false,
        },
        Val::Num(n) => match (n, s.trim().parse::<f64>()) {
            (Some(b), Ok(a)) => num_cmp(base, a, *b),
            _ => false,
        },
        Val::Str(p) => str_positive(base, p, s),
        Val::Arn(p) => {
            split6(s).is_some_and(|r| p.iter().zip(r.iter()).all(|(p, r)| glob::matches(p, r)))
        }
        Val::Tmpl(parts) => match variables::substitute(parts, ctx, is_glob_op(base)) {
            Some(Substituted::Pattern(toks)) => glob::matches_toks(&toks, s.as_bytes(), false),
            Some(Substituted::Text(text)) => str_positive(base, &text, s),
            // A variable without a value (and no default) matches nothing.
            None => false,
        },
    }
}

fn str_positive(base: BaseOp, p: &str, s: &str) -> bool {
    match base {
        BaseOp::StringEquals | BaseOp::StringNotEquals | BaseOp::BinaryEquals => p == s,
        BaseOp::StringEqualsIgnoreCase | BaseOp::StringNotEqualsIgnoreCase => {
            p.eq_ignore_ascii_case(s) || p.to_lowercase() == s.to_lowercase()
        }
        BaseOp::StringLike | BaseOp::StringNotLike => glob::matches(p, s),
        BaseOp::Bool => p.eq_ignore_ascii_case(s),
        b if is_arn_op(b) => arn_match(p, s),
        BaseOp::DateEquals
        | BaseOp::DateNotEquals
        | BaseOp::DateLessThan
        | BaseOp::DateLessThanEquals
        | BaseOp::DateGreaterThan
        | BaseOp::DateGreaterThanEquals => date_cmp(base, s, p),
        // Numeric and IP values are compiled to their own forms; Null never gets here.
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::policy::parse::parse_operator;
    use std::borrow::Cow;

    #[test]
    fn source_ip_values_are_cidrs_or_addresses() {
        let net = |s: &str| parse_net(s).map(|n| n.to_string());
        assert_eq!(net("203.0.113.0/24").as_deref(), Some("203.0.113.0/24"));
        assert_eq!(net("10.1.2.3").as_deref(), Some("10.1.2.3/32"));
        assert_eq!(net("2600:1f18::/32").as_deref(), Some("2600:1f18::/32"));
        assert_eq!(net("256.1.1.1"), None);
        assert_eq!(net("1.2.3.4/33"), None);
    }

    struct Ctx(Vec<(Key, &'static str)>);
    impl Context for Ctx {
        fn get(&self, key: Key, _tag: &str) -> ReqVal<'_> {
            if key == Key::Free {
                return ReqVal::Free;
            }
            match self.0.iter().find(|(k, _)| *k == key) {
                Some((_, v)) => ReqVal::One(v),
                None => ReqVal::Missing,
            }
        }
    }

    fn with_clause<R>(
        op: &str,
        key: &str,
        vals: &[&str],
        v: Version,
        f: impl FnOnce(&CClause<'_>) -> R,
    ) -> R {
        let c = Clause {
            op_name: Cow::Owned(op.into()),
            op: parse_operator(op).unwrap(),
            key: Cow::Owned(key.into()),
            values: vals.iter().map(|s| Cow::Owned(s.to_string())).collect(),
        };
        f(&CClause::compile(&c, v))
    }

    fn ev(op: &str, key: &str, vals: &[&str], ctx: &Ctx) -> bool {
        with_clause(op, key, vals, Version::V2012, |c| c.eval(ctx, true))
    }

    #[test]
    fn missing_key_rules() {
        let none = Ctx(vec![]);
        let k = "aws:PrincipalOrgID";
        assert!(!ev("StringEquals", k, &["o-abcdefghij"], &none));
        assert!(ev("StringNotEquals", k, &["o-abcdefghij"], &none));
        assert!(ev("StringEqualsIfExists", k, &["o-abcdefghij"], &none));
        assert!(!ev("ForAnyValue:StringEquals", k, &["o-abcdefghij"], &none));
        assert!(ev("ForAllValues:StringEquals", k, &["o-abcdefghij"], &none));
        assert!(ev("Null", k, &["true"], &none));
        assert!(ev("Null", k, &["True"], &none));
        assert!(!ev("Null", k, &["false"], &none));
        assert!(ev("NotIpAddress", "aws:SourceIp", &["10.0.0.0/8"], &none));
        assert!(ev("ArnNotLike", "aws:PrincipalArn", &["arn:*"], &none));
    }

    #[test]
    fn present_key_rules() {
        let ctx = Ctx(vec![
            (Key::PrincipalOrgId, "o-abcdefghij"),
            (Key::SourceIp, "10.1.2.3"),
            (Key::PrincipalArn, "arn:aws:iam::111122223333:role/app"),
            (Key::PrincipalAccount, "111122223333"),
        ]);
        let k = "AWS:principalorgid";
        assert!(ev("StringEquals", k, &["o-abcdefghij"], &ctx));
        assert!(!ev("StringEquals", k, &["*"], &ctx));
        assert!(ev("StringLike", k, &["o-*"], &ctx));
        assert!(!ev("StringEquals", k, &["O-ABCDEFGHIJ"], &ctx));
        assert!(ev("StringEqualsIgnoreCase", k, &["O-ABCDEFGHIJ"], &ctx));
        assert!(!ev("StringNotEquals", k, &["o-abcdefghij"], &ctx));
        assert!(ev("StringNotEquals", k, &["o-other00000"], &ctx));
        assert!(!ev("Null", k, &["true"], &ctx));
        assert!(ev("Null", k, &["false"], &ctx));
        assert!(!ev("StringEquals", k, &[], &ctx));
        assert!(ev("IpAddress", "aws:SourceIp", &["10.0.0.0/8"], &ctx));
        assert!(ev("IpAddress", "aws:SourceIp", &["10.1.2.3"], &ctx));
        assert!(!ev("IpAddress", "aws:SourceIp", &["not-a-cidr"], &ctx));
        assert!(!ev("NotIpAddress", "aws:SourceIp", &["10.0.0.0/8"], &ctx));
        assert!(ev(
            "ArnLike",
            "aws:PrincipalArn",
            &["arn:aws:iam::*:role/*"],
            &ctx
        ));
        assert!(ev(
            "ArnEquals",
            "aws:PrincipalArn",
            &["arn:aws:iam::111122223333:role/a*"],
            &ctx
        ));
        assert!(!ev(
            "ArnLike",
            "aws:PrincipalArn",
            &["arn:aws:iam::*:root"],
            &ctx
        ));
        assert!(ev(
            "NumericEquals",
            "aws:PrincipalAccount",
            &["111122223333"],
            &ctx
        ));
        assert!(!ev("NumericEquals", "aws:PrincipalAccount", &["x"], &ctx));
        assert!(!ev("DateEquals", "aws:PrincipalAccount", &["x"], &ctx));
        // Free keys: satisfied in an Allow, not applying in a Deny.
        with_clause(
            "Bool",
            "aws:SecureTransport",
            &["false"],
            Version::V2012,
            |free| {
                assert!(free.eval(&ctx, true));
                assert!(!free.eval(&ctx, false));
            },
        );
    }

    /// The account index only skips values that cannot match: same answers as a full scan.
    #[test]
    fn account_index_agrees_with_a_full_scan() {
        let mut arns: Vec<String> = (0..40)
            .map(|i| format!("arn:aws:iam::{:012}:role/r{i}", 100_000_000_000u64 + i))
            .collect();
        arns.push("arn:aws:iam::*:role/any".into());
        arns.push("arn:*:iam::222222222222:role/star-partition".into());
        arns.push("arn:aws:iam::1111111111??:root".into());
        arns.push("not-an-arn".into());
        arns.push("arn:aws:iam::838:role/short-account".into());
        arns.push("arn:aws:iam:51".into());
        arns.push("arn:aws:iam::*".into());
        let accounts: Vec<String> = (0..40)
            .map(|i| format!("{:012}", 100_000_000_000u64 + i))
            .chain([
                "1111111111*".to_string(),
                "*".to_string(),
                "838".to_string(),
            ])
            .collect();
        let requests = [
            "arn:aws:iam::100000000007:role/r7",
            "arn:aws:iam::100000000007:role/other",
            "arn:aws:iam::333333333333:role/any",
            "arn:aws-cn:iam::222222222222:role/star-partition",
            "arn:aws:iam::111111111199:root",
            "not-an-arn",
            "100000000003",
            "111111111123",
            "838",
            "arn:aws:iam::838:role/short-account",
            "arn:aws:iam:::role/empty-account",
        ];
        let cases: [(&str, &str, &[String]); 6] = [
            ("ArnNotLike", "aws:PrincipalArn", &arns),
            ("ArnEquals", "aws:PrincipalArn", &arns),
            ("StringLike", "aws:PrincipalArn", &arns),
            ("StringNotEquals", "aws:PrincipalArn", &arns),
            ("StringEquals", "aws:PrincipalAccount", &accounts),
            ("StringNotLike", "aws:SourceAccount", &accounts),
        ];
        for (op, key, vals) in cases {
            let vals: Vec<&str> = vals.iter().map(String::as_str).collect();
            with_clause(op, key, &vals, Version::V2012, |c| {
                assert!(c.index.is_some(), "{op} {key} builds an index");
                let mut scan = c.clone();
                scan.index = None;
                for r in requests {
                    let k = Key::of(key);
                    let ctx = Ctx(vec![(k, r)]);
                    assert_eq!(c.eval(&ctx, true), scan.eval(&ctx, true), "{op} {key} {r}");
                }
            });
        }
    }

    #[test]
    fn exact_value_set_agrees_with_a_full_scan() {
        let orgs: Vec<String> = (0..40).map(|i| format!("o-{i:010}")).collect();
        let vals: Vec<&str> = orgs.iter().map(String::as_str).collect();
        for op in ["StringEquals", "StringNotEquals"] {
            with_clause(op, "aws:PrincipalOrgID", &vals, Version::V2012, |c| {
                assert!(c.exact.is_some());
                let mut scan = c.clone();
                scan.exact = None;
                for r in ["o-0000000007", "o-0000000040", "O-0000000007", ""] {
                    let ctx = Ctx(vec![(Key::PrincipalOrgId, r)]);
                    assert_eq!(c.eval(&ctx, true), scan.eval(&ctx, true), "{op} {r}");
                }
                assert!(c.eval_cost() < scan.eval_cost());
            });
        }
    }

    #[test]
    fn literal_arn_and_like_lists_are_exact_sets() {
        // Principal ARNs, some with colons in the resource, and values that are no ARN.
        let mut owned: Vec<String> = (0..30)
            .map(|i| format!("arn:aws:iam::3000000{i:05}:role/ci:{i}"))
            .collect();
        owned.extend((0..10).map(|i| format!("3000000{i:05}")));
        let vals: Vec<&str> = owned.iter().map(String::as_str).collect();
        let requests = [
            "arn:aws:iam::300000000007:role/ci:7",
            "arn:aws:iam::300000000007:role/ci:8",
            "arn:aws:iam::300000000007:role/CI:7",
            "300000000003",
            "arn:aws:iam::300000000003",
            "",
        ];
        for op in [
            "ArnEquals",
            "ArnLike",
            "ArnNotEquals",
            "ArnNotLike",
            "StringLike",
            "StringNotLike",
        ] {
            with_clause(op, "aws:PrincipalArn", &vals, Version::V2012, |c| {
                assert!(c.exact.is_some(), "{op}");
                let mut scan = c.clone();
                scan.exact = None;
                for r in requests {
                    let ctx = Ctx(vec![(Key::PrincipalArn, r)]);
                    assert_eq!(c.eval(&ctx, true), scan.eval(&ctx, true), "{op} {r}");
                }
            });
            // One wildcard anywhere, and the list is compared value by value.
            let mut wild = vals.clone();
            wild.push("arn:aws:iam::4000000000?0:role/x");
            with_clause(op, "aws:PrincipalArn", &wild, Version::V2012, |c| {
                assert!(c.exact.is_none(), "{op}");
            });
        }
        // Mostly accounts that are no 12-digit id (never a probe's): the account index
        // leaves four values to compare, fewer than a binary search costs, so it is kept and
        // the exact set dropped; verdicts agree with a full scan either way.
        let mut odd: Vec<String> = (0..20)
            .map(|i| format!("arn:aws:iam::acct{i}:role/x"))
            .collect();
        odd.extend((0..4).map(|i| format!("arn:aws:iam::30000000000{i}:role/x")));
        let odd: Vec<&str> = odd.iter().map(String::as_str).collect();
        with_clause("ArnLike", "aws:PrincipalArn", &odd, Version::V2012, |c| {
            assert!(c.index.is_some() && c.exact.is_none());
            let mut scan = c.clone();
            scan.index = None;
            for r in [
                "arn:aws:iam::300000000002:role/x",
                "arn:aws:iam::300000000009:role/x",
                "arn:aws:iam::acct3:role/x",
            ] {
                let ctx = Ctx(vec![(Key::PrincipalArn, r)]);
                assert_eq!(c.eval(&ctx, true), scan.eval(&ctx, true), "{r}");
            }
        });
        // Other operators keep their own comparisons.
        with_clause(
            "StringEqualsIgnoreCase",
            "aws:PrincipalArn",
            &vals,
            Version::V2012,
            |c| {
                assert!(c.exact.is_none());
            },
        );
    }

    #[test]
    fn policy_variables_only_under_2012() {
        let ctx = Ctx(vec![
            (Key::PrincipalAccount, "111122223333"),
            (Key::PrincipalArn, "arn:aws:iam::111122223333:root"),
        ]);
        let k = "aws:PrincipalArn";
        let v = &["arn:aws:iam::${aws:PrincipalAccount}:root"][..];
        assert!(with_clause("StringEquals", k, v, Version::V2012, |c| c.eval(&ctx, true)));
        assert!(!with_clause("StringEquals", k, v, Version::V2008, |c| c.eval(&ctx, true)));
        // Missing variable: that value matches nothing; a default fills in.
        let m = &["arn:aws:iam::${aws:SourceAccount}:root"][..];
        assert!(!with_clause("StringEquals", k, m, Version::V2012, |c| c.eval(&ctx, true)));
        let d = &["arn:aws:iam::${aws:SourceAccount, '111122223333'}:root"][..];
        assert!(with_clause("StringEquals", k, d, Version::V2012, |c| c.eval(&ctx, true)));
        // ${*} is a literal star, not a wildcard.
        let lit = &["arn:aws:iam::${*}:root"][..];
        assert!(!with_clause("StringLike", k, lit, Version::V2012, |c| c.eval(&ctx, true)));
        let glob = &["arn:aws:iam::*:root"][..];
        assert!(with_clause("StringLike", k, glob, Version::V2012, |c| c
            .eval(&ctx, true)));
    }

    #[test]
    fn an_unterminated_variable_is_plain_text() {
        // No `}` closes the `${`: the value is compared as written, like any literal, and an
        // ARN operator splits it once at compile time rather than on every comparison.
        let k = "aws:PrincipalArn";
        let v = &["arn:aws:iam::1111${22223333:role/*", "arn:aws:iam::${x"][..];
        for op in ["ArnLike", "ArnNotLike", "StringLike", "StringEquals"] {
            with_clause(op, k, v, Version::V2012, |c| {
                assert!(!c.vals.iter().any(|v| matches!(v, Val::Tmpl(_))), "{op}");
                let arn = c.vals.iter().filter(|v| matches!(v, Val::Arn(_))).count();
                assert_eq!(arn, if op.starts_with("Arn") { 1 } else { 0 }, "{op}");
            });
        }
        let yes = Ctx(vec![(
            Key::PrincipalArn,
            "arn:aws:iam::1111${22223333:role/ci",
        )]);
        let no = Ctx(vec![(
            Key::PrincipalArn,
            "arn:aws:iam::111122223333:role/ci",
        )]);
        let text = Ctx(vec![(Key::PrincipalArn, "arn:aws:iam::${x")]);
        for (op, ctx, want) in [
            ("ArnLike", &yes, true),
            ("ArnLike", &no, false),
            ("ArnNotLike", &no, true),
            ("StringLike", &yes, true),
            ("StringEquals", &text, true),
            ("StringEquals", &yes, false),
        ] {
            assert_eq!(
                with_clause(op, k, v, Version::V2012, |c| c.eval(ctx, true)),
                want,
                "{op}"
            );
        }
        // A closed variable is still substituted.
        let closed = &["arn:aws:iam::${aws:PrincipalAccount}:role/*"][..];
        with_clause("ArnLike", k, closed, Version::V2012, |c| {
            assert!(matches!(c.vals[0], Val::Tmpl(_)));
        });
    }
}
