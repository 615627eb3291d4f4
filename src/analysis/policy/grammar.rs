//! The policy grammar (spec §2, §12.10) as one walk over the strict JSON tree.
//!
//! Owns the structural rules: allowed and required elements (case-sensitive names), Version,
//! Effect, exactly-one rules, Principal forms, Action/Resource shapes and the Condition
//! grammar, and the error code and element path of each violation. The checks run in a fixed
//! order (members in document order, then required elements, then each element's shape),
//! which decides the error reported for a policy with several problems. Syntax is not its
//! business: [`super::json`] has refused malformed JSON, duplicates and deep nesting.

use std::borrow::Cow;

use super::json::Json;
use super::parse::{Clause, Policy, Principal, PrincipalType, Statement, Version, parse_operator};
use super::{ErrorCode, PolicyError};

/// An element path built on the stack while walking and rendered only for an error
/// (`Statement[2].Condition.StringLike`).
#[derive(Clone, Copy)]
struct Path<'x> {
    parent: Option<&'x Path<'x>>,
    key: &'x str,
    index: Option<usize>,
}

impl<'x> Path<'x> {
    fn root(key: &'x str) -> Self {
        Path {
            parent: None,
            key,
            index: None,
        }
    }
    fn key(&'x self, key: &'x str) -> Path<'x> {
        Path {
            parent: Some(self),
            key,
            index: None,
        }
    }
    fn idx(&'x self, i: usize) -> Path<'x> {
        Path {
            parent: Some(self),
            key: "",
            index: Some(i),
        }
    }
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(p) = self.parent {
            p.fmt(f)?;
        }
        match self.index {
            Some(i) => write!(f, "[{i}]"),
            None if self.parent.is_some() => write!(f, ".{}", self.key),
            None => f.write_str(self.key),
        }
    }
}

impl From<Path<'_>> for String {
    fn from(p: Path<'_>) -> String {
        p.to_string()
    }
}

impl From<&Path<'_>> for String {
    fn from(p: &Path<'_>) -> String {
        p.to_string()
    }
}

fn err(code: ErrorCode, path: impl Into<String>, message: impl Into<String>) -> PolicyError {
    PolicyError {
        code,
        path: path.into(),
        message: message.into(),
    }
}

/// The whole document: top-level members, then each statement.
pub(super) fn policy(root: Json<'_>) -> Result<Policy<'_>, PolicyError> {
    let Json::Obj(members) = root else {
        return Err(err(
            ErrorCode::InvalidStructure,
            "",
            format!("a policy must be a JSON object, not {}", root.kind()),
        ));
    };
    let (version, statement) = top_level(members)?;
    let Some(statement) = statement else {
        return Err(err(
            ErrorCode::MissingKey,
            "Statement",
            "the policy has no Statement",
        ));
    };
    let (single, raw) = match statement {
        Json::Obj(_) => (true, vec![statement]),
        Json::Arr(items) if !items.is_empty() => (false, items),
        Json::Arr(_) => {
            return Err(err(
                ErrorCode::InvalidStructure,
                "Statement",
                "Statement must not be an empty array",
            ));
        }
        other => {
            return Err(err(
                ErrorCode::InvalidStructure,
                "Statement",
                format!(
                    "Statement must be an object or an array of objects, not {}",
                    other.kind()
                ),
            ));
        }
    };
    let mut statements = Vec::with_capacity(raw.len());
    let top = Path::root("Statement");
    for (i, s) in raw.into_iter().enumerate() {
        let path = if single { top } else { top.idx(i) };
        statements.push(statement_of(s, &path)?);
    }
    Ok(Policy {
        version,
        statements,
        single,
    })
}

/// `Version`, `Id` and `Statement`, in document order; anything else is an unknown element.
fn top_level<'a>(
    members: Vec<(Cow<'a, str>, Json<'a>)>,
) -> Result<(Version, Option<Json<'a>>), PolicyError> {
    let mut version = Version::V2008;
    let mut statement = None;
    for (k, v) in members {
        match &*k {
            "Version" => {
                version = match &v {
                    Json::Str(s) if s == "2012-10-17" => Version::V2012,
                    Json::Str(s) if s == "2008-10-17" => Version::V2008,
                    _ => {
                        return Err(err(
                            ErrorCode::InvalidVersion,
                            "Version",
                            "Version must be \"2012-10-17\" or \"2008-10-17\"",
                        ));
                    }
                }
            }
            "Id" => {
                if !matches!(v, Json::Str(_)) {
                    return Err(err(
                        ErrorCode::InvalidStructure,
                        "Id",
                        "Id must be a string",
                    ));
                }
            }
            "Statement" => statement = Some(v),
            other => {
                return Err(err(
                    ErrorCode::UnknownKey,
                    other,
                    format!(
                        "unknown top-level element {other:?} (allowed: Version, Id, Statement; names are case-sensitive)"
                    ),
                ));
            }
        }
    }
    Ok((version, statement))
}

/// A string or a non-empty array of strings (Action, Resource, principal values).
fn strings<'a>(
    v: Json<'a>,
    path: &Path<'_>,
    code: ErrorCode,
    what: &str,
) -> Result<Vec<Cow<'a, str>>, PolicyError> {
    match v {
        Json::Str(s) => Ok(vec![s]),
        Json::Arr(items) if !items.is_empty() => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                match item {
                    Json::Str(s) => out.push(s),
                    other => {
                        return Err(err(
                            code,
                            format!("{path}[{i}]"),
                            format!("{what} entries must be strings, not {}", other.kind()),
                        ));
                    }
                }
            }
            Ok(out)
        }
        Json::Arr(_) => Err(err(
            code,
            path,
            format!("{what} must not be an empty array"),
        )),
        other => Err(err(
            code,
            path,
            format!(
                "{what} must be a string or an array of strings, not {}",
                other.kind()
            ),
        )),
    }
}

/// A statement's elements as written, before their shapes are checked. Each pair holds
/// "was it the `Not` form" and the raw value.
#[derive(Default)]
struct Members<'a> {
    sid: Option<Cow<'a, str>>,
    allow: Option<bool>,
    principal: Option<(bool, Json<'a>)>,
    action: Option<(bool, Json<'a>)>,
    resource: Option<(bool, Json<'a>)>,
    condition: Option<Json<'a>>,
}

/// Sets one of an exclusive pair (`Principal`/`NotPrincipal`, ...); the second one met is
/// the error.
fn one_of<'a>(
    slot: &mut Option<(bool, Json<'a>)>,
    not: bool,
    v: Json<'a>,
    sub: Path<'_>,
    rule: &str,
) -> Result<(), PolicyError> {
    if slot.is_some() {
        return Err(err(ErrorCode::InvalidStructure, sub, rule));
    }
    *slot = Some((not, v));
    Ok(())
}

fn members_of<'a>(
    members: Vec<(Cow<'a, str>, Json<'a>)>,
    path: &Path<'_>,
) -> Result<Members<'a>, PolicyError> {
    let mut m = Members::default();
    for (k, v) in members {
        let key = &*k;
        let sub = path.key(key);
        match key {
            "Sid" => match v {
                Json::Str(s) => m.sid = Some(s),
                other => {
                    return Err(err(
                        ErrorCode::InvalidStructure,
                        sub,
                        format!("Sid must be a string, not {}", other.kind()),
                    ));
                }
            },
            "Effect" => match &v {
                Json::Str(s) if s == "Allow" => m.allow = Some(true),
                Json::Str(s) if s == "Deny" => m.allow = Some(false),
                _ => {
                    return Err(err(
                        ErrorCode::InvalidEffect,
                        sub,
                        "Effect must be exactly \"Allow\" or \"Deny\"",
                    ));
                }
            },
            "Principal" | "NotPrincipal" => one_of(
                &mut m.principal,
                key == "NotPrincipal",
                v,
                sub,
                "a statement has exactly one of Principal and NotPrincipal",
            )?,
            "Action" | "NotAction" => one_of(
                &mut m.action,
                key == "NotAction",
                v,
                sub,
                "a statement has exactly one of Action and NotAction",
            )?,
            "Resource" | "NotResource" => one_of(
                &mut m.resource,
                key == "NotResource",
                v,
                sub,
                "a statement has at most one of Resource and NotResource",
            )?,
            "Condition" => m.condition = Some(v),
            other => {
                return Err(err(
                    ErrorCode::UnknownKey,
                    sub,
                    format!(
                        "unknown statement element {other:?} (allowed: Sid, Effect, Principal, NotPrincipal, Action, NotAction, Resource, NotResource, Condition; names are case-sensitive)"
                    ),
                ));
            }
        }
    }
    Ok(m)
}

fn statement_of<'a>(v: Json<'a>, path: &Path<'_>) -> Result<Statement<'a>, PolicyError> {
    let Json::Obj(members) = v else {
        return Err(err(
            ErrorCode::InvalidStructure,
            path,
            format!("a statement must be an object, not {}", v.kind()),
        ));
    };
    let m = members_of(members, path)?;
    let Some(allow) = m.allow else {
        return Err(err(
            ErrorCode::MissingKey,
            path.key("Effect"),
            "the statement has no Effect",
        ));
    };
    let Some((not_principal, pv)) = m.principal else {
        return Err(err(
            ErrorCode::MissingKey,
            path.key("Principal"),
            "the statement has neither Principal nor NotPrincipal",
        ));
    };
    let ppath = path.key(if not_principal {
        "NotPrincipal"
    } else {
        "Principal"
    });
    let principal = principal_of(pv, &ppath)?;
    let Some((not_action, av)) = m.action else {
        return Err(err(
            ErrorCode::MissingKey,
            path.key("Action"),
            "the statement has neither Action nor NotAction",
        ));
    };
    let apath = path.key(if not_action { "NotAction" } else { "Action" });
    let actions = strings(av, &apath, ErrorCode::InvalidAction, "Action")?;
    let resources = match m.resource {
        None => None,
        Some((not, rv)) => {
            let rpath = path.key(if not { "NotResource" } else { "Resource" });
            Some((
                not,
                strings(rv, &rpath, ErrorCode::InvalidResource, "Resource")?,
            ))
        }
    };
    let conditions = match m.condition {
        None => Vec::new(),
        Some(c) => conditions_of(c, &path.key("Condition"))?,
    };
    Ok(Statement {
        sid: m.sid,
        allow,
        not_principal,
        principal,
        not_action,
        actions,
        resources,
        conditions,
    })
}

fn principal_of<'a>(v: Json<'a>, path: &Path<'_>) -> Result<Principal<'a>, PolicyError> {
    match v {
        Json::Str(s) if s == "*" => Ok(Principal::Star),
        Json::Str(_) => Err(err(
            ErrorCode::InvalidPrincipal,
            path,
            "a string principal must be \"*\"; name accounts as {\"AWS\": ...}",
        )),
        Json::Obj(members) if !members.is_empty() => {
            let mut out = Vec::new();
            for (k, v) in members {
                let t = match &*k {
                    "AWS" => PrincipalType::Aws,
                    "Service" => PrincipalType::Service,
                    "Federated" => PrincipalType::Federated,
                    "CanonicalUser" => PrincipalType::CanonicalUser,
                    other => {
                        return Err(err(
                            ErrorCode::InvalidPrincipal,
                            format!("{path}.{other}"),
                            format!(
                                "unknown principal type {other:?} (allowed: AWS, Service, Federated, CanonicalUser)"
                            ),
                        ));
                    }
                };
                let sub = path.key(t.as_str());
                for s in strings(v, &sub, ErrorCode::InvalidPrincipal, "a principal")? {
                    out.push((t, s));
                }
            }
            Ok(Principal::Map(out))
        }
        Json::Obj(_) => Err(err(
            ErrorCode::InvalidPrincipal,
            path,
            "Principal must not be an empty object",
        )),
        other => Err(err(
            ErrorCode::InvalidPrincipal,
            path,
            format!("Principal must be \"*\" or an object, not {}", other.kind()),
        )),
    }
}

fn conditions_of<'a>(v: Json<'a>, path: &Path<'_>) -> Result<Vec<Clause<'a>>, PolicyError> {
    let Json::Obj(ops) = v else {
        return Err(err(
            ErrorCode::InvalidCondition,
            path,
            format!("Condition must be an object, not {}", v.kind()),
        ));
    };
    let mut out = Vec::new();
    for (op_name, block) in ops {
        let opath = path.key(&op_name);
        let Some(op) = parse_operator(&op_name) else {
            return Err(err(
                ErrorCode::UnknownOperator,
                opath,
                format!("unknown condition operator {op_name:?}"),
            ));
        };
        let Json::Obj(keys) = block else {
            return Err(err(
                ErrorCode::InvalidCondition,
                opath,
                format!(
                    "a condition operator maps to an object of keys, not {}",
                    block.kind()
                ),
            ));
        };
        for (key, vals) in keys {
            let kpath = opath.key(&key);
            if key.is_empty() {
                return Err(err(
                    ErrorCode::InvalidCondition,
                    kpath,
                    "empty condition key",
                ));
            }
            let values = condition_values(vals, &kpath)?;
            out.push(Clause {
                op_name: op_name.clone(),
                op,
                key,
                values,
            });
        }
    }
    Ok(out)
}

/// A scalar or an array of scalars, each as text (spec §2.9: numbers keep their decimal
/// text, booleans become `true`/`false`).
fn condition_values<'a>(v: Json<'a>, kpath: &Path<'_>) -> Result<Vec<Cow<'a, str>>, PolicyError> {
    let not_scalar = |path: String, kind: &str| {
        err(
            ErrorCode::InvalidCondition,
            path,
            format!("condition values must be strings, numbers or booleans, not {kind}"),
        )
    };
    match v {
        Json::Arr(items) => {
            let mut vs = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let kind = item.kind();
                match scalar(item) {
                    Some(s) => vs.push(s),
                    None => return Err(not_scalar(format!("{kpath}[{i}]"), kind)),
                }
            }
            Ok(vs)
        }
        other => {
            let kind = other.kind();
            scalar(other)
                .map(|s| vec![s])
                .ok_or_else(|| not_scalar(kpath.to_string(), kind))
        }
    }
}

fn scalar(v: Json<'_>) -> Option<Cow<'_, str>> {
    match v {
        Json::Str(s) => Some(s),
        Json::Num(n) => Some(Cow::Borrowed(n)),
        Json::Bool(true) => Some(Cow::Borrowed("true")),
        Json::Bool(false) => Some(Cow::Borrowed("false")),
        _ => None,
    }
}
