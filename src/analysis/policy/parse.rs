//! Policy grammar (spec §2, §12.10): JSON tree -> validated [`Policy`].
//!
//! Owns the structural rules: allowed and required elements (case-sensitive names), Version,
//! Effect, exactly-one rules, Principal forms, Action/Resource shapes and the Condition
//! operator grammar. Every error names the offending element by path: `Statement` when the
//! policy has a single statement object, `Statement[i]` when `Statement` is an array.

use std::borrow::Cow;

use super::json::{self, Json};
use super::{ErrorCode, PolicyError};

/// Largest accepted policy text, in UTF-8 bytes (spec §2.1).
pub const MAX_POLICY_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `2008-10-17` or absent: policy variables are literal text.
    V2008,
    V2012,
}

/// A validated policy; strings borrow from the input where it had no escapes.
#[derive(Debug, Clone)]
pub struct Policy<'a> {
    pub version: Version,
    pub statements: Vec<Statement<'a>>,
    /// `Statement` was a single object rather than an array.
    pub single: bool,
}

#[derive(Debug, Clone)]
pub struct Statement<'a> {
    pub sid: Option<Cow<'a, str>>,
    pub allow: bool,
    pub not_principal: bool,
    pub principal: Principal<'a>,
    pub not_action: bool,
    pub actions: Vec<Cow<'a, str>>,
    /// `(is NotResource, patterns)`; `None` when neither element is present.
    pub resources: Option<(bool, Vec<Cow<'a, str>>)>,
    pub conditions: Vec<Clause<'a>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalType {
    Aws,
    Service,
    Federated,
    CanonicalUser,
}

impl PrincipalType {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalType::Aws => "AWS",
            PrincipalType::Service => "Service",
            PrincipalType::Federated => "Federated",
            PrincipalType::CanonicalUser => "CanonicalUser",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Principal<'a> {
    /// The bare string `"*"`.
    Star,
    Map(Vec<(PrincipalType, Cow<'a, str>)>),
}

/// Base condition operator (without prefix or `IfExists`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseOp {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

const OPS: [(&str, BaseOp); 27] = [
    ("StringEquals", BaseOp::StringEquals),
    ("StringNotEquals", BaseOp::StringNotEquals),
    ("StringEqualsIgnoreCase", BaseOp::StringEqualsIgnoreCase),
    (
        "StringNotEqualsIgnoreCase",
        BaseOp::StringNotEqualsIgnoreCase,
    ),
    ("StringLike", BaseOp::StringLike),
    ("StringNotLike", BaseOp::StringNotLike),
    ("NumericEquals", BaseOp::NumericEquals),
    ("NumericNotEquals", BaseOp::NumericNotEquals),
    ("NumericLessThan", BaseOp::NumericLessThan),
    ("NumericLessThanEquals", BaseOp::NumericLessThanEquals),
    ("NumericGreaterThan", BaseOp::NumericGreaterThan),
    ("NumericGreaterThanEquals", BaseOp::NumericGreaterThanEquals),
    ("DateEquals", BaseOp::DateEquals),
    ("DateNotEquals", BaseOp::DateNotEquals),
    ("DateLessThan", BaseOp::DateLessThan),
    ("DateLessThanEquals", BaseOp::DateLessThanEquals),
    ("DateGreaterThan", BaseOp::DateGreaterThan),
    ("DateGreaterThanEquals", BaseOp::DateGreaterThanEquals),
    ("Bool", BaseOp::Bool),
    ("BinaryEquals", BaseOp::BinaryEquals),
    ("IpAddress", BaseOp::IpAddress),
    ("NotIpAddress", BaseOp::NotIpAddress),
    ("ArnEquals", BaseOp::ArnEquals),
    ("ArnLike", BaseOp::ArnLike),
    ("ArnNotEquals", BaseOp::ArnNotEquals),
    ("ArnNotLike", BaseOp::ArnNotLike),
    ("Null", BaseOp::Null),
];

impl BaseOp {
    /// Negated operators are true when the key is missing (spec §5.1).
    pub fn negated(self) -> bool {
        matches!(
            self,
            BaseOp::StringNotEquals
                | BaseOp::StringNotEqualsIgnoreCase
                | BaseOp::StringNotLike
                | BaseOp::NumericNotEquals
                | BaseOp::DateNotEquals
                | BaseOp::NotIpAddress
                | BaseOp::ArnNotEquals
                | BaseOp::ArnNotLike
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    Plain,
    ForAllValues,
    ForAnyValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator {
    pub base: BaseOp,
    pub quant: Quantifier,
    pub if_exists: bool,
}

/// Parse an operator name (case-sensitive, spec §2.8).
pub fn parse_operator(name: &str) -> Option<Operator> {
    let (quant, rest) = if let Some(r) = name.strip_prefix("ForAllValues:") {
        (Quantifier::ForAllValues, r)
    } else if let Some(r) = name.strip_prefix("ForAnyValue:") {
        (Quantifier::ForAnyValue, r)
    } else {
        (Quantifier::Plain, name)
    };
    let (if_exists, base) = match rest.strip_suffix("IfExists") {
        Some(b) => (true, b),
        None => (false, rest),
    };
    let base = OPS.iter().find(|(n, _)| *n == base).map(|(_, op)| *op)?;
    if if_exists && base == BaseOp::Null {
        return None;
    }
    Some(Operator {
        base,
        quant,
        if_exists,
    })
}

/// One `operator: {key: values}` entry.
#[derive(Debug, Clone)]
pub struct Clause<'a> {
    /// Operator as written.
    pub op_name: Cow<'a, str>,
    pub op: Operator,
    /// Key as written (compare case-insensitively).
    pub key: Cow<'a, str>,
    /// Values normalised to strings; may be empty (matches nothing).
    pub values: Vec<Cow<'a, str>>,
}

/// An element path built on the stack while parsing and rendered only for an error
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

/// Parse and validate policy text.
pub fn parse(text: &str) -> Result<Policy<'_>, PolicyError> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(err(
            ErrorCode::TooLarge,
            "",
            format!(
                "policy is {} bytes, more than the {} byte limit",
                text.len(),
                MAX_POLICY_BYTES
            ),
        ));
    }
    let root = json::parse(text)?;
    let Json::Obj(members) = root else {
        return Err(err(
            ErrorCode::InvalidStructure,
            "",
            format!("a policy must be a JSON object, not {}", root.kind()),
        ));
    };
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

fn statement_of<'a>(v: Json<'a>, path: &Path<'_>) -> Result<Statement<'a>, PolicyError> {
    let Json::Obj(members) = v else {
        return Err(err(
            ErrorCode::InvalidStructure,
            path,
            format!("a statement must be an object, not {}", v.kind()),
        ));
    };
    let mut sid = None;
    let mut effect = None;
    let mut principal: Option<(bool, Json<'a>)> = None;
    let mut action: Option<(bool, Json<'a>)> = None;
    let mut resource: Option<(bool, Json<'a>)> = None;
    let mut condition = None;
    for (k, v) in members {
        let key = &*k;
        let sub = path.key(key);
        match key {
            "Sid" => match v {
                Json::Str(s) => sid = Some(s),
                other => {
                    return Err(err(
                        ErrorCode::InvalidStructure,
                        sub,
                        format!("Sid must be a string, not {}", other.kind()),
                    ));
                }
            },
            "Effect" => match &v {
                Json::Str(s) if s == "Allow" => effect = Some(true),
                Json::Str(s) if s == "Deny" => effect = Some(false),
                _ => {
                    return Err(err(
                        ErrorCode::InvalidEffect,
                        sub,
                        "Effect must be exactly \"Allow\" or \"Deny\"",
                    ));
                }
            },
            "Principal" | "NotPrincipal" => {
                if principal.is_some() {
                    return Err(err(
                        ErrorCode::InvalidStructure,
                        sub,
                        "a statement has exactly one of Principal and NotPrincipal",
                    ));
                }
                principal = Some((key == "NotPrincipal", v));
            }
            "Action" | "NotAction" => {
                if action.is_some() {
                    return Err(err(
                        ErrorCode::InvalidStructure,
                        sub,
                        "a statement has exactly one of Action and NotAction",
                    ));
                }
                action = Some((key == "NotAction", v));
            }
            "Resource" | "NotResource" => {
                if resource.is_some() {
                    return Err(err(
                        ErrorCode::InvalidStructure,
                        sub,
                        "a statement has at most one of Resource and NotResource",
                    ));
                }
                resource = Some((key == "NotResource", v));
            }
            "Condition" => condition = Some(v),
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
    let Some(allow) = effect else {
        return Err(err(
            ErrorCode::MissingKey,
            path.key("Effect"),
            "the statement has no Effect",
        ));
    };
    let Some((not_principal, pv)) = principal else {
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
    let Some((not_action, av)) = action else {
        return Err(err(
            ErrorCode::MissingKey,
            path.key("Action"),
            "the statement has neither Action nor NotAction",
        ));
    };
    let apath = path.key(if not_action { "NotAction" } else { "Action" });
    let actions = strings(av, &apath, ErrorCode::InvalidAction, "Action")?;
    let resources = match resource {
        None => None,
        Some((not, rv)) => {
            let rpath = path.key(if not { "NotResource" } else { "Resource" });
            Some((
                not,
                strings(rv, &rpath, ErrorCode::InvalidResource, "Resource")?,
            ))
        }
    };
    let conditions = match condition {
        None => Vec::new(),
        Some(c) => conditions_of(c, &path.key("Condition"))?,
    };
    Ok(Statement {
        sid,
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

fn scalar<'a>(v: Json<'a>) -> Option<Cow<'a, str>> {
    match v {
        Json::Str(s) => Some(s),
        Json::Num(n) => Some(Cow::Borrowed(n)),
        Json::Bool(true) => Some(Cow::Borrowed("true")),
        Json::Bool(false) => Some(Cow::Borrowed("false")),
        _ => None,
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
            let values = match vals {
                Json::Arr(items) => {
                    let mut vs = Vec::with_capacity(items.len());
                    for (i, item) in items.into_iter().enumerate() {
                        let kind = item.kind();
                        match scalar(item) {
                            Some(s) => vs.push(s),
                            None => {
                                return Err(err(
                                    ErrorCode::InvalidCondition,
                                    format!("{kpath}[{i}]"),
                                    format!(
                                        "condition values must be strings, numbers or booleans, not {kind}"
                                    ),
                                ));
                            }
                        }
                    }
                    vs
                }
                other => {
                    let kind = other.kind();
                    match scalar(other) {
                        Some(s) => vec![s],
                        None => {
                            return Err(err(
                                ErrorCode::InvalidCondition,
                                kpath,
                                format!(
                                    "condition values must be strings, numbers or booleans, not {kind}"
                                ),
                            ));
                        }
                    }
                }
            };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn code_path(text: &str) -> (ErrorCode, String) {
        let e = parse(text).unwrap_err();
        (e.code, e.path)
    }

    const OK_STMT: &str = r#"{"Effect":"Allow","Principal":"*","Action":"ecr:*"}"#;

    fn with_stmt(s: &str) -> String {
        format!(r#"{{"Version":"2012-10-17","Statement":[{OK_STMT},{s}]}}"#)
    }

    #[test]
    fn every_error_code_with_its_path() {
        use ErrorCode::*;
        let big = format!(
            r#"{{"Statement":{OK_STMT},"Id":"{}"}}"#,
            "x".repeat(MAX_POLICY_BYTES)
        );
        let cases: Vec<(String, ErrorCode, &str)> = vec![
            (big, TooLarge, ""),
            ("{".into(), InvalidJson, ""),
            (
                r#"{"Statement":[{"Effect":"Allow","Effect":"Deny"}]}"#.into(),
                DuplicateKey,
                "Statement[0].Effect",
            ),
            ("[]".into(), InvalidStructure, ""),
            (r#"{"statement":[]}"#.into(), UnknownKey, "statement"),
            (
                r#"{"Version":"2012-10-17"}"#.into(),
                MissingKey,
                "Statement",
            ),
            (
                format!(r#"{{"Version":"2012-10-18","Statement":{OK_STMT}}}"#),
                InvalidVersion,
                "Version",
            ),
            (r#"{"Statement":[]}"#.into(), InvalidStructure, "Statement"),
            (r#"{"Statement":"x"}"#.into(), InvalidStructure, "Statement"),
            (
                r#"{"Statement":[1]}"#.into(),
                InvalidStructure,
                "Statement[0]",
            ),
            (
                with_stmt(r#"{"Effect":"allow","Principal":"*","Action":"*"}"#),
                InvalidEffect,
                "Statement[1].Effect",
            ),
            (
                with_stmt(r#"{"Principal":"*","Action":"*"}"#),
                MissingKey,
                "Statement[1].Effect",
            ),
            (
                with_stmt(r#"{"Effect":"Allow","Action":"*"}"#),
                MissingKey,
                "Statement[1].Principal",
            ),
            (
                with_stmt(r#"{"Effect":"Allow","Principal":"*"}"#),
                MissingKey,
                "Statement[1].Action",
            ),
            (
                with_stmt(r#"{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"*"}"#),
                InvalidStructure,
                "Statement[1].NotPrincipal",
            ),
            (
                with_stmt(r#"{"Effect":"Allow","Principal":"*","Action":"*","NotAction":"*"}"#),
                InvalidStructure,
                "Statement[1].NotAction",
            ),
            (
                with_stmt(
                    r#"{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","NotResource":"*"}"#,
                ),
                InvalidStructure,
                "Statement[1].NotResource",
            ),
            (
                with_stmt(r#"{"Effect":"Allow","principal":"*","Action":"*"}"#),
                UnknownKey,
                "Statement[1].principal",
            ),
            (
                with_stmt(r#"{"Effect":"Allow","Principal":"123456789012","Action":"*"}"#),
                InvalidPrincipal,
                "Statement[1].Principal",
            ),
            (
                with_stmt(r#"{"Effect":"Allow","Principal":{},"Action":"*"}"#),
                InvalidPrincipal,
                "Statement[1].Principal",
            ),
            (
                with_stmt(r#"{"Effect":"Allow","Principal":{"aws":"*"},"Action":"*"}"#),
                InvalidPrincipal,
                "Statement[1].Principal.aws",
            ),
            (
                with_stmt(r#"{"Effect":"Allow","Principal":{"AWS":[]},"Action":"*"}"#),
                InvalidPrincipal,
                "Statement[1].Principal.AWS",
            ),
            (
                with_stmt(r#"{"Effect":"Allow","Principal":{"AWS":["*",1]},"Action":"*"}"#),
                InvalidPrincipal,
                "Statement[1].Principal.AWS[1]",
            ),
            (
                with_stmt(r#"{"Effect":"Allow","Principal":"*","Action":42}"#),
                InvalidAction,
                "Statement[1].Action",
            ),
            (
                with_stmt(r#"{"Effect":"Allow","Principal":"*","NotAction":[]}"#),
                InvalidAction,
                "Statement[1].NotAction",
            ),
            (
                with_stmt(r#"{"Effect":"Allow","Principal":"*","Action":"*","Resource":[true]}"#),
                InvalidResource,
                "Statement[1].Resource[0]",
            ),
            (
                with_stmt(r#"{"Effect":"Allow","Principal":"*","Action":"*","Condition":[]}"#),
                InvalidCondition,
                "Statement[1].Condition",
            ),
            (
                with_stmt(
                    r#"{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringLike":"x"}}"#,
                ),
                InvalidCondition,
                "Statement[1].Condition.StringLike",
            ),
            (
                with_stmt(
                    r#"{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringLike":{"aws:userid":{"a":1}}}}"#,
                ),
                InvalidCondition,
                "Statement[1].Condition.StringLike.aws:userid",
            ),
            (
                with_stmt(
                    r#"{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringLike":{"aws:userid":[null]}}}"#,
                ),
                InvalidCondition,
                "Statement[1].Condition.StringLike.aws:userid[0]",
            ),
            (
                with_stmt(
                    r#"{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEqualz":{"a":"b"}}}"#,
                ),
                UnknownOperator,
                "Statement[1].Condition.StringEqualz",
            ),
            (
                r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"*","Condition":{"NullIfExists":{"a":"true"}}}}"#.to_string(),
                UnknownOperator,
                "Statement.Condition.NullIfExists",
            ),
        ];
        let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        let (c, p) = code_path(&deep);
        assert_eq!(c, TooDeep);
        assert!(p.starts_with("[0][0]"), "{p}");
        for (text, code, path) in cases {
            let (c, p) = code_path(&text);
            assert_eq!(
                (c, p.as_str()),
                (code, path),
                "{}",
                &text[..text.len().min(120)]
            );
        }
    }

    #[test]
    fn operators() {
        let op = parse_operator("ForAllValues:StringEqualsIgnoreCaseIfExists").unwrap();
        assert_eq!(op.base, BaseOp::StringEqualsIgnoreCase);
        assert_eq!(op.quant, Quantifier::ForAllValues);
        assert!(op.if_exists);
        assert!(parse_operator("ForAnyValue:Null").is_some());
        assert!(parse_operator("stringequals").is_none());
        assert!(parse_operator("ForAllValues:").is_none());
        assert!(parse_operator("IfExists").is_none());
        assert!(parse_operator("ForSomeValues:StringEquals").is_none());
        assert!(parse_operator("NullIfExists").is_none());
    }

    #[test]
    fn normalises_scalars_and_escapes() {
        let p = parse(
            r#"{"Statement":{"Sid":"s","Effect":"Allow","Principal":{"AWS":"\u002a"},"Action":"ecr:*",
                "Condition":{"StringEquals":{"aws:PrincipalAccount":111111111111},"Bool":{"aws:SecureTransport":true},"StringLike":{"a":[]},"Null":{}}}}"#,
        )
        .unwrap();
        assert!(p.single);
        assert_eq!(p.version, Version::V2008);
        let s = &p.statements[0];
        let Principal::Map(m) = &s.principal else {
            panic!()
        };
        assert_eq!(m[0].1, "*");
        assert_eq!(s.conditions[0].values, vec!["111111111111"]);
        assert_eq!(s.conditions[1].values, vec!["true"]);
        assert!(s.conditions[2].values.is_empty());
        assert_eq!(s.conditions.len(), 3);
    }
}
