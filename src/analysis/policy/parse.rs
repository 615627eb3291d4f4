//! Policy types and the entry point of parsing (spec §2, §12.10): text -> validated [`Policy`].
//!
//! Owns the shape of a parsed policy (what the evaluator reads), the size cap and the
//! condition operator names. Reading goes through one path: [`super::json`] (syntax) then
//! [`super::grammar`] (structure, error codes and element paths). Every error names the
//! offending element by path: `Statement` when the policy has a single statement object,
//! `Statement[i]` when `Statement` is an array.

use std::borrow::Cow;

use super::{ErrorCode, PolicyError, grammar, json};
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

/// Parse and validate policy text.
pub fn parse(text: &str) -> Result<Policy<'_>, PolicyError> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(PolicyError {
            code: ErrorCode::TooLarge,
            path: String::new(),
            message: format!(
                "policy is {} bytes, more than the {} byte limit",
                text.len(),
                MAX_POLICY_BYTES
            ),
        });
    }
    grammar::policy(json::parse(text)?)
}

#[cfg(test)]
mod tests;
