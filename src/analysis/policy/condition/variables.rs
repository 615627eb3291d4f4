//! Policy variables in condition values (spec §5.1, §12.9): `${aws:username}`, with a
//! default (`${aws:SourceAccount, '111122223333'}`) or as an escaped character (`${*}`).
//!
//! Owns the template form of a value and its substitution in one request context; the
//! comparison itself stays with the operator in the parent module. Only 2012-10-17 policies
//! have variables: the caller decides when to parse.

use super::super::glob::{self, Tok};
use super::{Context, Key};

/// One piece of a value with policy variables.
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

/// The parts of a condition value, or `None` when nothing in it is a variable (no `${`, or
/// only unterminated ones): such a value is compared as written.
pub fn parse(s: &str) -> Option<Vec<Part>> {
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
    if parts.iter().all(|p| matches!(p, Part::Lit(_))) {
        return None;
    }
    Some(parts)
}

/// A value with its variables substituted, in the form its operator compares.
pub enum Substituted {
    /// For `StringLike`/`StringNotLike`: `*` and `?` of the policy text are wildcards, those
    /// a variable or an escape brings in are literal characters.
    Pattern(Vec<Tok>),
    /// For every other operator: the text.
    Text(String),
}

/// The value for `ctx`, as a pattern when `as_pattern`; `None` when a variable has no value
/// there and no default.
pub fn substitute<C: Context>(parts: &[Part], ctx: &C, as_pattern: bool) -> Option<Substituted> {
    let mut toks: Vec<Tok> = Vec::new();
    let mut text = String::new();
    for part in parts {
        match part {
            Part::Lit(l) if as_pattern => toks.extend(l.bytes().map(glob::byte_tok)),
            Part::Lit(l) => text.push_str(l),
            Part::Char(c) if as_pattern => toks.push(Tok::Byte(*c)),
            Part::Char(c) => text.push(*c as char),
            Part::Var { key, tag, default } => {
                let val = ctx.var(*key, tag).or(default.as_deref())?;
                if as_pattern {
                    toks.extend(val.bytes().map(Tok::Byte));
                } else {
                    text.push_str(val);
                }
            }
        }
    }
    Some(if as_pattern {
        Substituted::Pattern(toks)
    } else {
        Substituted::Text(text)
    })
}

fn tag_of(name: &str) -> String {
    name.split_once('/')
        .map(|(_, t)| t.to_string())
        .unwrap_or_default()
}
