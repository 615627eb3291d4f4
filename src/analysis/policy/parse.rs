//! Policy grammar (spec §2, §12.10): JSON tree -> validated [`Policy`].
//!
//! Owns the structural rules: allowed and required elements (case-sensitive names), Version,
//! Effect, exactly-one rules, Principal forms, Action/Resource shapes and the Condition
//! operator grammar. Every error names the offending element by path: `Statement` when the
//! policy has a single statement object, `Statement[i]` when `Statement` is an array.
//!
//! Two readers share this grammar: a single pass that builds [`Policy`] straight from the
//! text (the hot path: valid policies, read once per scan) and the JSON-tree path, which also
//! reports every error. The single pass declines anything it does not accept and the tree path
//! rereads the text, so errors are produced in one place only. A grammar change must be made
//! in both; `single_pass_agrees_with_the_tree_path` compares them on the test policies and on
//! every one-byte edit of them.

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
    let base = match base {
        "StringEquals" => BaseOp::StringEquals,
        "StringNotEquals" => BaseOp::StringNotEquals,
        "StringEqualsIgnoreCase" => BaseOp::StringEqualsIgnoreCase,
        "StringNotEqualsIgnoreCase" => BaseOp::StringNotEqualsIgnoreCase,
        "StringLike" => BaseOp::StringLike,
        "StringNotLike" => BaseOp::StringNotLike,
        "NumericEquals" => BaseOp::NumericEquals,
        "NumericNotEquals" => BaseOp::NumericNotEquals,
        "NumericLessThan" => BaseOp::NumericLessThan,
        "NumericLessThanEquals" => BaseOp::NumericLessThanEquals,
        "NumericGreaterThan" => BaseOp::NumericGreaterThan,
        "NumericGreaterThanEquals" => BaseOp::NumericGreaterThanEquals,
        "DateEquals" => BaseOp::DateEquals,
        "DateNotEquals" => BaseOp::DateNotEquals,
        "DateLessThan" => BaseOp::DateLessThan,
        "DateLessThanEquals" => BaseOp::DateLessThanEquals,
        "DateGreaterThan" => BaseOp::DateGreaterThan,
        "DateGreaterThanEquals" => BaseOp::DateGreaterThanEquals,
        "Bool" => BaseOp::Bool,
        "BinaryEquals" => BaseOp::BinaryEquals,
        "IpAddress" => BaseOp::IpAddress,
        "NotIpAddress" => BaseOp::NotIpAddress,
        "ArnEquals" => BaseOp::ArnEquals,
        "ArnLike" => BaseOp::ArnLike,
        "ArnNotEquals" => BaseOp::ArnNotEquals,
        "ArnNotLike" => BaseOp::ArnNotLike,
        "Null" => BaseOp::Null,
        _ => return None,
    };
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
    match Fast::new(text).policy() {
        Some(policy) => Ok(policy),
        None => tree(text),
    }
}

/// The reference path: the whole document as a [`Json`] tree, then the grammar over it.
/// Its checks run in a fixed order, which is what decides the error reported for a policy
/// with several problems.
fn tree(text: &str) -> Result<Policy<'_>, PolicyError> {
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

/// Single-pass parser for the common case: a valid policy, read straight into [`Policy`]
/// without the intermediate [`Json`] tree, its allocations or a second walk.
///
/// It accepts exactly what the tree path accepts and builds the same `Policy`, but gives up
/// (`None`) at the first thing it does not like, and `parse` then runs the tree path on the
/// same text. That keeps every error's code, path and precedence (JSON errors before
/// grammar errors, member checks before required-element checks, ...) in one place instead
/// of re-deriving that order here. Nesting is bounded by the grammar (at most 6 levels), so
/// the depth cap can never be what rejects a policy this path accepts.
struct Fast<'a> {
    src: &'a str,
    b: &'a [u8],
    i: usize,
}

/// Most condition blocks have one or two keys; past this many, duplicate detection by
/// linear scan would go quadratic, so the tree path (which switches to a hash set) takes over.
const FAST_MAX_BLOCK_KEYS: usize = 16;

impl<'a> Fast<'a> {
    fn new(src: &'a str) -> Self {
        Fast {
            src,
            b: src.as_bytes(),
            i: 0,
        }
    }

    /// Consumes `n` bytes and the whitespace after them. Every token is consumed this way,
    /// so the reader always stands on a non-whitespace byte and each gap is skipped once.
    #[inline]
    fn bump(&mut self, n: usize) {
        self.i = json::skip_ws(self.b, self.i + n);
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        if self.peek()? == c {
            self.bump(1);
            Some(())
        } else {
            None
        }
    }

    /// After a member or element: `true` for `,`, `false` for the closing `close`.
    #[inline]
    fn more(&mut self, close: u8) -> Option<bool> {
        let c = self.peek()?;
        if c == b',' || c == close {
            self.bump(1);
            Some(c == b',')
        } else {
            None
        }
    }

    /// Consumes `open`; `Some(false)` (and consumes `close`) if the container is empty.
    #[inline]
    fn open(&mut self, open: u8, close: u8) -> Option<bool> {
        self.eat(open)?;
        if self.peek()? == close {
            self.bump(1);
            Some(false)
        } else {
            Some(true)
        }
    }

    #[inline]
    fn string(&mut self) -> Option<Cow<'a, str>> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.i + 1;
        let end = json::plain_run_end(self.b, start);
        let s = if self.b.get(end) == Some(&b'"') {
            self.i = end + 1;
            Cow::Borrowed(self.src.get(start..end)?)
        } else {
            json::string_at(self.src, &mut self.i)?
        };
        self.bump(0);
        Some(s)
    }

    /// An object key and its colon.
    #[inline]
    fn key(&mut self) -> Option<Cow<'a, str>> {
        let k = self.string()?;
        self.eat(b':')?;
        Some(k)
    }

    fn policy(mut self) -> Option<Policy<'a>> {
        self.bump(0);
        if !self.open(b'{', b'}')? {
            return None;
        }
        let mut version = None;
        let mut id = false;
        let mut found = None;
        loop {
            let k = self.key()?;
            match &*k {
                "Version" if version.is_none() => {
                    version = Some(match &*self.string()? {
                        "2012-10-17" => Version::V2012,
                        "2008-10-17" => Version::V2008,
                        _ => return None,
                    });
                }
                "Id" if !id => {
                    self.string()?;
                    id = true;
                }
                "Statement" if found.is_none() => found = Some(self.statements()?),
                _ => return None,
            }
            if !self.more(b'}')? {
                break;
            }
        }
        if self.i != self.b.len() {
            return None;
        }
        let (single, statements) = found?;
        Some(Policy {
            version: version.unwrap_or(Version::V2008),
            statements,
            single,
        })
    }

    fn statements(&mut self) -> Option<(bool, Vec<Statement<'a>>)> {
        match self.peek()? {
            b'{' => Some((true, vec![self.statement()?])),
            b'[' => {
                if !self.open(b'[', b']')? {
                    return None;
                }
                let mut out = Vec::with_capacity(4);
                loop {
                    out.push(self.statement()?);
                    if !self.more(b']')? {
                        return Some((false, out));
                    }
                }
            }
            _ => None,
        }
    }

    fn statement(&mut self) -> Option<Statement<'a>> {
        if !self.open(b'{', b'}')? {
            return None;
        }
        let mut sid = None;
        let mut allow = None;
        let mut principal = None;
        let mut action = None;
        let mut resources = None;
        let mut conditions = None;
        loop {
            let k = self.key()?;
            match &*k {
                "Sid" if sid.is_none() => sid = Some(self.string()?),
                "Effect" if allow.is_none() => {
                    allow = Some(match &*self.string()? {
                        "Allow" => true,
                        "Deny" => false,
                        _ => return None,
                    });
                }
                "Principal" | "NotPrincipal" if principal.is_none() => {
                    principal = Some((k.len() != 9, self.principal()?));
                }
                "Action" | "NotAction" if action.is_none() => {
                    action = Some((k.len() != 6, self.strings()?));
                }
                "Resource" | "NotResource" if resources.is_none() => {
                    resources = Some((k.len() != 8, self.strings()?));
                }
                "Condition" if conditions.is_none() => conditions = Some(self.conditions()?),
                _ => return None,
            }
            if !self.more(b'}')? {
                break;
            }
        }
        let (not_principal, principal) = principal?;
        let (not_action, actions) = action?;
        Some(Statement {
            sid,
            allow: allow?,
            not_principal,
            principal,
            not_action,
            actions,
            resources,
            conditions: conditions.unwrap_or_default(),
        })
    }

    /// A string or a non-empty array of strings.
    fn strings(&mut self) -> Option<Vec<Cow<'a, str>>> {
        // Exact for a lone string; room for a typical action list otherwise, so that the
        // common cases allocate once and never grow.
        let mut out = Vec::with_capacity(if self.peek()? == b'"' { 1 } else { 8 });
        self.strings_into(&mut out, |s| s)?;
        Some(out)
    }

    fn strings_into<T>(
        &mut self,
        out: &mut Vec<T>,
        wrap: impl Fn(Cow<'a, str>) -> T,
    ) -> Option<()> {
        if self.peek()? != b'[' {
            out.push(wrap(self.string()?));
            return Some(());
        }
        if !self.open(b'[', b']')? {
            return None;
        }
        loop {
            out.push(wrap(self.string()?));
            if !self.more(b']')? {
                return Some(());
            }
        }
    }

    fn principal(&mut self) -> Option<Principal<'a>> {
        if self.peek()? == b'"' {
            return if self.string()? == "*" {
                Some(Principal::Star)
            } else {
                None
            };
        }
        if !self.open(b'{', b'}')? {
            return None;
        }
        let mut out = Vec::with_capacity(4);
        let mut seen = 0u8;
        loop {
            let t = match &*self.key()? {
                "AWS" => PrincipalType::Aws,
                "Service" => PrincipalType::Service,
                "Federated" => PrincipalType::Federated,
                "CanonicalUser" => PrincipalType::CanonicalUser,
                _ => return None,
            };
            let bit = 1u8 << (t as u8);
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            self.strings_into(&mut out, |s| (t, s))?;
            if !self.more(b'}')? {
                return Some(Principal::Map(out));
            }
        }
    }

    /// A condition value: string, number or boolean, as text.
    fn scalar(&mut self) -> Option<Cow<'a, str>> {
        match self.peek()? {
            b'"' => self.string(),
            b'-' | b'0'..=b'9' => {
                let n = json::number_at(self.src, &mut self.i)?;
                self.bump(0);
                Some(Cow::Borrowed(n))
            }
            b't' if self.b[self.i..].starts_with(b"true") => {
                self.bump(4);
                Some(Cow::Borrowed("true"))
            }
            b'f' if self.b[self.i..].starts_with(b"false") => {
                self.bump(5);
                Some(Cow::Borrowed("false"))
            }
            _ => None,
        }
    }

    fn conditions(&mut self) -> Option<Vec<Clause<'a>>> {
        if !self.open(b'{', b'}')? {
            return Some(Vec::new());
        }
        let mut out = Vec::with_capacity(4);
        // Operator names map one-to-one onto `Operator` values, so a set of those finds a
        // repeated (after unescaping) operator key without keeping the names.
        let mut seen_ops = [0u64; 3];
        loop {
            let op_name = self.key()?;
            let op = parse_operator(&op_name)?;
            let slot = (op.base as usize) * 6 + (op.quant as usize) * 2 + usize::from(op.if_exists);
            let bit = 1u64 << (slot % 64);
            if seen_ops[slot / 64] & bit != 0 {
                return None;
            }
            seen_ops[slot / 64] |= bit;
            if self.open(b'{', b'}')? {
                let first = out.len();
                loop {
                    let key = self.key()?;
                    if key.is_empty()
                        || out.len() - first >= FAST_MAX_BLOCK_KEYS
                        || out[first..].iter().any(|c: &Clause<'_>| c.key == key)
                    {
                        return None;
                    }
                    let values = if self.peek()? == b'[' {
                        let mut values = Vec::new();
                        if self.open(b'[', b']')? {
                            values.reserve(4);
                            loop {
                                values.push(self.scalar()?);
                                if !self.more(b']')? {
                                    break;
                                }
                            }
                        }
                        values
                    } else {
                        vec![self.scalar()?]
                    };
                    out.push(Clause {
                        op_name: op_name.clone(),
                        op,
                        key,
                        values,
                    });
                    if !self.more(b'}')? {
                        break;
                    }
                }
            }
            if !self.more(b'}')? {
                return Some(out);
            }
        }
    }
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

    /// Valid policies covering every element form the single-pass parser reads.
    fn corpus() -> Vec<String> {
        let mut v: Vec<String> = vec![
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"OrgPull","Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],"Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-trusted123"}}},{"Sid":"DenyInsecure","Effect":"Deny","Principal":"*","Action":"ecr:*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#.into(),
            "{\n  \"Version\" : \"2012-10-17\",\n  \"Statement\" : [ {\n    \"Sid\" : \"PartnerPush\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {\n      \"AWS\" : [ \"arn:aws:iam::333333333333:role/ci\", \"arn:aws:iam::222222222222:root\" ]\n    },\n    \"Action\" : [ \"ecr:PutImage\", \"ecr:UploadLayerPart\" ],\n    \"Condition\" : {\n      \"IpAddress\" : {\n        \"aws:SourceIp\" : [ \"203.0.113.0/24\", \"198.51.100.0/24\" ]\n      }\n    }\n  } ]\n}\n".into(),
            r#"{"Id":"x","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"111111111111","Service":["a.amazonaws.com"],"Federated":"f","CanonicalUser":["c","d"]},"NotAction":"ecr:Get*","NotResource":["arn:aws:ecr:*:*:repository/x"]}}"#.into(),
            r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":"*","Resource":"*","Condition":{"NumericLessThan":{"a:n":[-1.5e3,0,12]},"Bool":{"aws:SecureTransport":true,"b":[false,"x"]},"ForAllValues:StringLikeIfExists":{"k":[]},"Null":{},"ForAnyValue:ArnNotLike":{"k1":"v","k2":["v"],"K1":"w"}}},{"Effect":"Deny","Principal":"*","Action":[ "a" ],"Condition":{}}]}"#.into(),
            "\t\r\n {\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"\\u002a\",\"Action\":\"ecr:\\u0042atch*\",\"Sid\":\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t\"}} \n".into(),
            r#"{"Statement":[{"Eff\u0065ct":"Allow","Principal":{"AWS":"\u0031"},"Action":"ecr:Put*","Condition":{"String\u0045quals":{"aws:PrincipalAccount":["1","2"]}}}]}"#.into(),
        ];
        // Long strings and values crossing the eight-byte scan steps.
        let long = "arn:aws:iam::123456789012:role/".to_string() + &"r".repeat(300);
        v.push(format!(
            r#"{{"Statement":{{"Effect":"Allow","Principal":{{"AWS":"{long}"}},"Action":"*","Condition":{{"StringLike":{{"aws:userid":"{long}\u002a"}}}}}}}}"#
        ));
        v
    }

    fn outcome(r: &Result<Policy<'_>, PolicyError>) -> String {
        format!("{r:?}")
    }

    /// The single-pass parser either declines or agrees with the tree path, on valid
    /// policies and on every one-byte edit of them (most of which are errors).
    #[test]
    fn single_pass_agrees_with_the_tree_path() {
        let edits: &[&[u8]] = &[
            b"", b"\"", b"\\", b" ", b"}", b"]", b",", b"1", b"x", b"{", b"[",
        ];
        let mut accepted = 0;
        for text in corpus() {
            let fast = Fast::new(&text)
                .policy()
                .expect("a valid policy is read in one pass");
            assert_eq!(outcome(&Ok(fast)), outcome(&tree(&text)), "{text}");
            let b = text.as_bytes();
            for at in 0..b.len() {
                for edit in edits {
                    for keep in [0, 1] {
                        // Replace (keep = 0) or insert before (keep = 1) the byte at `at`.
                        let mut m = b[..at].to_vec();
                        m.extend_from_slice(edit);
                        m.extend_from_slice(&b[at + 1 - keep..]);
                        let Ok(m) = String::from_utf8(m) else {
                            continue;
                        };
                        let want = tree(&m);
                        if let Some(p) = Fast::new(&m).policy() {
                            accepted += 1;
                            assert!(want.is_ok(), "accepted {m:?}: {want:?}");
                            assert_eq!(outcome(&Ok(p)), outcome(&want), "{m:?}");
                        }
                        assert_eq!(outcome(&parse(&m)), outcome(&want), "{m:?}");
                    }
                }
            }
        }
        assert!(accepted > 1000, "{accepted}");
    }

    #[test]
    fn single_pass_declines_what_it_cannot_check_cheaply() {
        // A condition block with more keys than the linear duplicate scan handles is left to
        // the tree path, duplicate or not.
        let block = |n: usize, dup: bool| {
            let mut keys: Vec<String> = (0..n).map(|i| format!(r#""k{i}":"v""#)).collect();
            if dup {
                keys.push(r#""k3":"w""#.into());
            }
            format!(
                r#"{{"Statement":{{"Effect":"Allow","Principal":"*","Action":"*","Condition":{{"StringEquals":{{{}}}}}}}}}"#,
                keys.join(",")
            )
        };
        assert!(
            Fast::new(&block(FAST_MAX_BLOCK_KEYS, false))
                .policy()
                .is_some()
        );
        assert!(
            Fast::new(&block(FAST_MAX_BLOCK_KEYS + 1, false))
                .policy()
                .is_none()
        );
        assert_eq!(
            parse(&block(40, false)).unwrap().statements[0]
                .conditions
                .len(),
            40
        );
        assert_eq!(code_path(&block(40, true)).0, ErrorCode::DuplicateKey);
        assert_eq!(code_path(&block(5, true)).0, ErrorCode::DuplicateKey);
        // Repeated elements after unescaping, at each level.
        for (text, path) in [
            (
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*"},"St\u0061tement":[]}"#,
                "Statement",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*"},"\u0056ersion":"2012-10-17"}"#,
                "Version",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Eff\u0065ct":"Allow","Principal":"*","Action":"*"}}"#,
                "Statement.Effect",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"1","\u0041WS":"2"},"Action":"*"}}"#,
                "Statement.Principal.AWS",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"Bool":{"a":"true"},"B\u006fol":{}}}}"#,
                "Statement.Condition.Bool",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"Bool":{"a":"true","\u0061":"false"}}}}"#,
                "Statement.Condition.Bool.a",
            ),
        ] {
            assert!(Fast::new(text).policy().is_none(), "{text}");
            assert_eq!(
                code_path(text),
                (ErrorCode::DuplicateKey, path.to_string()),
                "{text}"
            );
        }
        // Different keys that only differ in case are not duplicates.
        let text = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"Bool":{"a":"true","A":"false"}}}}"#;
        assert_eq!(
            Fast::new(text).policy().unwrap().statements[0]
                .conditions
                .len(),
            2
        );
    }

    #[test]
    fn deep_and_large_inputs_fail_cleanly() {
        for deep in [
            "[".repeat(5000) + &"]".repeat(5000),
            "{\"a\":".repeat(5000) + "1" + &"}".repeat(5000),
            r#"{"Statement":"#.to_string() + &"[".repeat(5000) + &"]".repeat(5000) + "}",
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"Bool":{"a":"#.to_string()
                + &"[".repeat(5000)
                + &"]".repeat(5000)
                + "}}}}",
        ] {
            assert_eq!(code_path(&deep).0, ErrorCode::TooDeep);
        }
        let big = format!(
            r#"{{"Statement":{OK_STMT},"Id":"{}"}}"#,
            "x".repeat(1024 * 1024)
        );
        assert_eq!(code_path(&big), (ErrorCode::TooLarge, String::new()));
        // Just under the cap is still parsed, in one pass.
        let fits = format!(
            r#"{{"Statement":{OK_STMT},"Id":"{}"}}"#,
            "x".repeat(MAX_POLICY_BYTES - 100)
        );
        assert!(fits.len() <= MAX_POLICY_BYTES);
        assert!(Fast::new(&fits).policy().is_some());
    }
}
