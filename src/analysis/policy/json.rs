//! The crate's one strict JSON reader (spec §2.1, §2.2, §2.11), built on `serde_json`.
//!
//! Owns only syntax: RFC 8259 as serde_json reads it, plus what IAM needs on top. Duplicate
//! keys at any level are errors (IAM forbids them, and last-wins parsing would flip
//! Allow/Deny); nesting is capped before the reader descends into a too-deep container;
//! every error names the element it happened in (`Statement[1].Effect`). Strings without
//! escapes borrow from the input, and numbers keep their source text, which is the decimal
//! string the condition normalisation wants. It must not know the policy grammar: the
//! policy parser and the CloudFormation JSON reader both sit on it.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::{ErrorCode, PolicyError};

/// Deepest nesting accepted in a policy; a real policy needs 5 levels.
pub(crate) const MAX_DEPTH: usize = 64;
/// Objects up to this many members find a duplicate key by comparing with each member.
const LINEAR_KEYS: usize = 16;

/// A parsed JSON value; objects keep their key order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    /// The number as written (`1.50` stays `1.50`).
    Num(&'a str),
    Str(Cow<'a, str>),
    Arr(Vec<Json<'a>>),
    Obj(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl Json<'_> {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Num(_) => "a number",
            Json::Str(_) => "a string",
            Json::Arr(_) => "an array",
            Json::Obj(_) => "an object",
        }
    }

    /// The same document as a `serde_json::Value`, for readers (CloudFormation) that work on
    /// serde's tree but must refuse what this reader refuses.
    pub(crate) fn into_value(self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(b),
            // The text was accepted as a number by serde_json, so it reads back as one.
            Json::Num(n) => serde_json::from_str(n).unwrap_or(Value::Null),
            Json::Str(s) => Value::String(s.into_owned()),
            Json::Arr(items) => Value::Array(items.into_iter().map(Json::into_value).collect()),
            Json::Obj(members) => Value::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (k.into_owned(), v.into_value()))
                    .collect(),
            ),
        }
    }
}

/// Why a document was refused.
#[derive(Debug)]
pub(crate) struct ReadError {
    /// `InvalidJson` (serde_json's syntax check), `DuplicateKey` or `TooDeep`.
    pub(crate) code: ErrorCode,
    /// Element the error happened in, `Statement[1].Effect`; empty for the root.
    pub(crate) path: String,
    /// The error as serde_json reports it; its `Display` ends with the line and column.
    pub(crate) serde: serde_json::Error,
    /// The reader's own refusal (duplicate key, depth), without position.
    refusal: Option<String>,
}

/// Parse a policy document: nesting capped at [`MAX_DEPTH`], errors as the policy parser
/// reports them.
pub(crate) fn parse(src: &str) -> Result<Json<'_>, PolicyError> {
    read(src, MAX_DEPTH).map_err(|e| e.into_policy_error(src, MAX_DEPTH))
}

/// Read `src` as one JSON document whose containers nest at most `max_depth` deep.
pub(crate) fn read(src: &str, max_depth: usize) -> Result<Json<'_>, ReadError> {
    let ctx = Ctx::new(max_depth, None);
    let mut de = serde_json::Deserializer::from_str(src);
    let res = Node::root(&ctx)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    match res {
        Ok(mut root) => {
            if ctx.numbers.get() > 0 {
                fill_numbers(&mut root, &mut number_texts(src));
            }
            Ok(root)
        }
        Err(serde) => {
            let refusal = ctx.refusal.take();
            let mut segs = ctx.segs.take();
            if refusal.is_none() && !segs.is_empty() && leading_zero(src, &serde) {
                // `01` is the number `0` followed by a stray `1`, which is outside the value.
                segs.remove(0);
            }
            Err(ReadError {
                code: refusal.as_ref().map_or(ErrorCode::InvalidJson, |r| r.code),
                path: join_path(&segs),
                serde,
                refusal: refusal.map(|r| r.what),
            })
        }
    }
}

/// serde_json rejects a digit after a leading zero as part of the number; it is the only
/// "invalid number" that points at a digit.
fn leading_zero(src: &str, e: &serde_json::Error) -> bool {
    if !e.to_string().starts_with("invalid number") {
        return false;
    }
    // serde_json's column counts bytes and points just past the offending one.
    let line_start: usize = src
        .split_inclusive('\n')
        .take(e.line().saturating_sub(1))
        .map(str::len)
        .sum();
    let at = line_start + e.column();
    let b = src.as_bytes();
    at >= 2 && b.get(at - 1).is_some_and(u8::is_ascii_digit) && b.get(at - 2) == Some(&b'0')
}

impl ReadError {
    /// Policy errors give byte offsets for the reader's own refusals (the convention of the
    /// policy error messages) and serde_json's line and column for syntax errors.
    fn into_policy_error(self, src: &str, max_depth: usize) -> PolicyError {
        let message = match &self.refusal {
            Some(what) => format!("{what} at byte {}", refusal_offset(src, max_depth)),
            None => self.serde.to_string(),
        };
        PolicyError {
            code: self.code,
            path: self.path,
            message,
        }
    }
}

/// Byte offset of the refusal in `src`: after a duplicate key's closing quote, at a too-deep
/// container's opening bracket.
///
/// serde_json tells a visitor nothing about positions, so this reads the document again
/// through a reader that hands serde_json one byte at a time and counts them; the visitor
/// notes the count when it refuses. Only refused documents pay for this second read.
fn refusal_offset(src: &str, max_depth: usize) -> usize {
    let consumed = Cell::new(0);
    let ctx = Ctx::new(max_depth, Some(&consumed));
    let reader = Counted {
        rest: src.as_bytes(),
        consumed: &consumed,
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let _ = Node::root(&ctx).deserialize(&mut de);
    ctx.refusal.take().and_then(|r| r.at).unwrap_or_default()
}

struct Counted<'s, 'c> {
    rest: &'s [u8],
    consumed: &'c Cell<usize>,
}

impl std::io::Read for Counted<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // One byte per call, so the count is exactly what serde_json has taken.
        let n = buf.len().min(self.rest.len()).min(1);
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        self.consumed.set(self.consumed.get() + n);
        Ok(n)
    }
}

/// One step of an element path, collected while unwinding from an error.
#[derive(Debug)]
enum Seg {
    Key(String),
    Index(usize),
}

fn join_path(segs: &[Seg]) -> String {
    let mut out = String::new();
    for seg in segs.iter().rev() {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

struct Refusal {
    code: ErrorCode,
    what: String,
    at: Option<usize>,
}

/// State shared by every level of one read. serde_json errors are opaque, so the path and
/// the reason for a refusal travel beside them.
struct Ctx<'c> {
    max_depth: usize,
    /// Path segments, innermost first.
    segs: RefCell<Vec<Seg>>,
    refusal: RefCell<Option<Refusal>>,
    numbers: Cell<usize>,
    /// Bytes taken so far, on the read that locates a refusal.
    consumed: Option<&'c Cell<usize>>,
}

impl<'c> Ctx<'c> {
    fn new(max_depth: usize, consumed: Option<&'c Cell<usize>>) -> Self {
        Ctx {
            max_depth,
            segs: RefCell::new(Vec::new()),
            refusal: RefCell::new(None),
            numbers: Cell::new(0),
            consumed,
        }
    }

    /// Records a refusal `back` bytes before the reader's position and returns the error
    /// that unwinds serde_json.
    fn refuse<E: de::Error>(&self, code: ErrorCode, what: String, back: usize) -> E {
        let at = self.consumed.map(|c| c.get().saturating_sub(back));
        let err = E::custom(&what);
        *self.refusal.borrow_mut() = Some(Refusal { code, what, at });
        err
    }

    fn push(&self, seg: Seg) {
        self.segs.borrow_mut().push(seg);
    }
}

/// Reads one value whose containers would sit at nesting level `depth`.
#[derive(Clone, Copy)]
struct Node<'x, 'c> {
    ctx: &'x Ctx<'c>,
    depth: usize,
}

impl<'x, 'c> Node<'x, 'c> {
    fn root(ctx: &'x Ctx<'c>) -> Self {
        Node { ctx, depth: 1 }
    }

    fn child<'e>(&self, entered: &'e Cell<bool>) -> Child<'x, 'c, 'e> {
        Child {
            node: Node {
                ctx: self.ctx,
                depth: self.depth + 1,
            },
            entered,
        }
    }

    /// The depth cap, checked as soon as a container opens and before any of its contents
    /// is read.
    fn open<E: de::Error>(&self) -> Result<(), E> {
        if self.depth > self.ctx.max_depth {
            let what = format!("nesting deeper than {} levels", self.ctx.max_depth);
            // serde_json has just taken the opening bracket.
            return Err(self.ctx.refuse(ErrorCode::TooDeep, what, 1));
        }
        Ok(())
    }

    fn number<E>(&self) -> Result<Json<'static>, E> {
        // The text is filled in once the whole document is read (`fill_numbers`).
        self.ctx.numbers.set(self.ctx.numbers.get() + 1);
        Ok(Json::Num(""))
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_, '_> {
    type Value = Json<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Json<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

/// A container's element or member value; notes whether serde_json got as far as reading
/// it, which decides whether an error is in that element (and its path names it).
struct Child<'x, 'c, 'e> {
    node: Node<'x, 'c>,
    entered: &'e Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for Child<'_, '_, '_> {
    type Value = Json<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Json<'de>, D::Error> {
        self.entered.set(true);
        d.deserialize_any(self.node)
    }
}

impl<'de> Visitor<'de> for Node<'_, '_> {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Json<'de>, E> {
        self.number()
    }
    fn visit_u64<E>(self, _: u64) -> Result<Json<'de>, E> {
        self.number()
    }
    fn visit_f64<E>(self, _: f64) -> Result<Json<'de>, E> {
        self.number()
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        self.open()?;
        let mut items = Vec::new();
        loop {
            let entered = Cell::new(false);
            match seq.next_element_seed(self.child(&entered)) {
                Ok(Some(v)) => items.push(v),
                Ok(None) => return Ok(Json::Arr(items)),
                Err(e) => {
                    if entered.get() || element_missing(&e, items.is_empty()) {
                        self.ctx.push(Seg::Index(items.len()));
                    }
                    return Err(e);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        self.open()?;
        let mut members: Vec<(Cow<'de, str>, Json<'de>)> = Vec::new();
        // Policy objects have a handful of keys, compared directly; a large object gets a
        // set, so duplicate detection stays linear.
        let mut seen: Option<HashSet<Cow<'de, str>>> = None;
        while let Some(key) = map.next_key_seed(Key)? {
            let duplicate = if members.len() < LINEAR_KEYS {
                members.iter().any(|(k, _)| *k == key)
            } else {
                let set = seen.get_or_insert_with(|| members.iter().map(|m| m.0.clone()).collect());
                !set.insert(key.clone())
            };
            if duplicate {
                let what = format!("duplicate key {key:?}");
                self.ctx.push(Seg::Key(key.into_owned()));
                // serde_json stops right after the key's closing quote.
                return Err(self.ctx.refuse(ErrorCode::DuplicateKey, what, 0));
            }
            let entered = Cell::new(false);
            match map.next_value_seed(self.child(&entered)) {
                Ok(v) => members.push((key, v)),
                Err(e) => {
                    if entered.get() {
                        self.ctx.push(Seg::Key(key.into_owned()));
                    }
                    return Err(e);
                }
            }
        }
        Ok(Json::Obj(members))
    }
}

/// serde_json finds `[1,]`, `[1,` and a lone `[` at the end of the input before it hands
/// the element to its reader; the path still names that element, the one that is missing.
fn element_missing(e: &impl fmt::Display, first: bool) -> bool {
    // Before the first element the only such error is the end of the input.
    let m = e.to_string();
    first || m.starts_with("trailing comma") || m.starts_with("EOF while parsing a value")
}

/// An object key, borrowed when it has no escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(s))
    }
    fn visit_str<E>(self, s: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s))
    }
}

/// Puts each number's source text into its placeholder, in document order.
fn fill_numbers<'a>(v: &mut Json<'a>, texts: &mut impl Iterator<Item = &'a str>) {
    match v {
        Json::Num(n) => *n = texts.next().unwrap_or_default(),
        Json::Arr(items) => items.iter_mut().for_each(|i| fill_numbers(i, texts)),
        Json::Obj(members) => members.iter_mut().for_each(|(_, m)| fill_numbers(m, texts)),
        _ => {}
    }
}

/// The source text of each number in `src`, in document order.
///
/// Runs only on a document serde_json has accepted, where outside strings a `-` or a digit
/// can only start a number (keys are strings; `true`, `false` and `null` have neither).
fn number_texts(src: &str) -> impl Iterator<Item = &str> {
    let b = src.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while let Some(&c) = b.get(i) {
            match c {
                b'"' => {
                    i += 1;
                    // Skip to the closing quote; an escape takes the byte after it along.
                    while let Some(&s) = b.get(i) {
                        i += if s == b'\\' { 2 } else { 1 };
                        if s == b'"' {
                            break;
                        }
                    }
                }
                b'-' | b'0'..=b'9' => {
                    let start = i;
                    while b.get(i).is_some_and(|c| {
                        matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                    }) {
                        i += 1;
                    }
                    return src.get(start..i);
                }
                _ => i += 1,
            }
        }
        None
    })
}

#[cfg(test)]
mod tests;
