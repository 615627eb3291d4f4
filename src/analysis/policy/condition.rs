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

use super::glob::{self, Tok};
use super::parse::{BaseOp, Clause, Quantifier, Version};
use super::principal::split6;

/// Condition keys the evaluator knows; everything else is [`Key::Free`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    PrincipalAccount,
    PrincipalArn,
    PrincipalOrgId,
    PrincipalOrgPaths,
    UserId,
    /// Chosen by the caller (its own user name): free as a condition key, known as a variable.
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
        let b = name.as_bytes();
        if b.len() > 16
            && (b[..16].eq_ignore_ascii_case(b"aws:resourcetag/")
                || b[..16].eq_ignore_ascii_case(b"ecr:resourcetag/"))
        {
            return Key::ResourceTag;
        }
        KEYS.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or(Key::Free, |(_, k)| *k)
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
pub enum Part {
    Lit(String),
    /// A literal `*`, `?` or `$` from `${*}`, `${?}`, `${$}`.
    Char(u8),
    Var {
        key: Key,
        tag: String,
        default: Option<String>,
    },
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
    pub vals: Vec<Val<'a>>,
}

fn tag_of(name: &str) -> String {
    name.split_once('/')
        .map(|(_, t)| t.to_string())
        .unwrap_or_default()
}

fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

fn parse_template(s: &str) -> Option<Vec<Part>> {
    if !s.contains("${") {
        return None;
    }
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        if i > 0 {
            parts.push(Part::Lit(rest[..i].to_string()));
        }
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            parts.push(Part::Lit(rest[i..].to_string()));
            rest = "";
            break;
        };
        let inner = after[..end].trim();
        match inner {
            "*" => parts.push(Part::Char(b'*')),
            "?" => parts.push(Part::Char(b'?')),
            "$" => parts.push(Part::Char(b'$')),
            _ => {
                let (name, default) = match inner.split_once(',') {
                    Some((n, d)) => {
                        let d = d.trim();
                        let d = d
                            .strip_prefix('\'')
                            .and_then(|d| d.strip_suffix('\''))
                            .unwrap_or(d);
                        (n.trim(), Some(d.to_string()))
                    }
                    None => (inner, None),
                };
                parts.push(Part::Var {
                    key: Key::of(name),
                    tag: tag_of(name),
                    default,
                });
            }
        }
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Lit(rest.to_string()));
    }
    Some(parts)
}

impl<'a> CClause<'a> {
    pub fn compile(c: &'a Clause<'a>, version: Version) -> CClause<'a> {
        let key = Key::of(&c.key);
        let base = c.op.base;
        let vals = c
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
                BaseOp::ArnEquals | BaseOp::ArnLike | BaseOp::ArnNotEquals | BaseOp::ArnNotLike
                    if !(version == Version::V2012 && v.contains("${")) =>
                {
                    match split6(v) {
                        Some(parts) => Val::Arn(parts),
                        None => Val::Str(v),
                    }
                }
                _ => {
                    if version == Version::V2012 {
                        if let Some(t) = parse_template(v) {
                            return Val::Tmpl(t);
                        }
                    }
                    Val::Str(v)
                }
            })
            .collect();
        CClause {
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
        }
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
        } else if is_arn_op(self.base) {
            let req = split6(s);
            self.vals.iter().any(|v| match (v, &req) {
                (Val::Arn(p), Some(r)) => {
                    // Account and resource first: they differ most often.
                    [4usize, 5, 2, 3, 1, 0]
                        .iter()
                        .all(|&i| glob::matches(p[i].as_bytes(), r[i].as_bytes()))
                }
                (Val::Arn(_), None) => false,
                _ => positive(self.base, v, s, ctx),
            })
        } else {
            self.vals.iter().any(|v| positive(self.base, v, s, ctx))
        };
        if self.base.negated() { !m } else { m }
    }
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
    if pat.split(':').count() < 6 {
        // Not an ARN pattern (e.g. "*"): IAM compares it as a whole.
        return glob::matches(pat.as_bytes(), s.as_bytes());
    }
    let mut pp = pat.splitn(6, ':');
    let mut sp = s.splitn(6, ':');
    for _ in 0..6 {
        match (pp.next(), sp.next()) {
            (Some(p), Some(v)) => {
                if !glob::matches(p.as_bytes(), v.as_bytes()) {
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
        Val::Arn(p) => split6(s).is_some_and(|r| {
            p.iter()
                .zip(r.iter())
                .all(|(p, r)| glob::matches(p.as_bytes(), r.as_bytes()))
        }),
        Val::Tmpl(parts) => {
            // Substitute; a variable without a value (and no default) matches nothing.
            let mut toks: Vec<Tok> = Vec::new();
            let mut text = String::new();
            for part in parts {
                match part {
                    Part::Lit(l) => {
                        text.push_str(l);
                        toks.extend(l.bytes().map(|b| match b {
                            b'*' => Tok::Star,
                            b'?' => Tok::One,
                            c => Tok::Byte(c),
                        }));
                    }
                    Part::Char(c) => {
                        text.push(*c as char);
                        toks.push(Tok::Byte(*c));
                    }
                    Part::Var { key, tag, default } => {
                        let val = ctx.var(*key, tag).or(default.as_deref());
                        let Some(val) = val else { return false };
                        text.push_str(val);
                        toks.extend(val.bytes().map(Tok::Byte));
                    }
                }
            }
            if is_glob_op(base) {
                glob::matches_toks(&toks, s.as_bytes(), false)
            } else {
                str_positive(base, &text, s)
            }
        }
    }
}

fn str_positive(base: BaseOp, p: &str, s: &str) -> bool {
    match base {
        BaseOp::StringEquals | BaseOp::StringNotEquals | BaseOp::BinaryEquals => p == s,
        BaseOp::StringEqualsIgnoreCase | BaseOp::StringNotEqualsIgnoreCase => {
            p.eq_ignore_ascii_case(s) || p.to_lowercase() == s.to_lowercase()
        }
        BaseOp::StringLike | BaseOp::StringNotLike => glob::matches(p.as_bytes(), s.as_bytes()),
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
}
