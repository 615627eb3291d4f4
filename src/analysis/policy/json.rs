//! Strict RFC 8259 JSON reader for policy documents (spec §2.1, §2.2, §2.11).
//!
//! Owns only syntax: duplicate keys at any level are errors (IAM forbids them, and last-wins
//! parsing would flip Allow/Deny), nesting is capped before recursion can exhaust the stack,
//! escapes are decoded, and strings without escapes borrow from the input. Numbers keep their
//! source text, which is the decimal string the condition normalisation wants.

use std::borrow::Cow;

use super::{ErrorCode, PolicyError};

/// Deepest nesting accepted; a real policy needs 5 levels.
pub(crate) const MAX_DEPTH: usize = 64;

/// A parsed JSON value; objects keep their key order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
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
}

/// One step of an element path, collected while unwinding from an error.
enum Seg {
    Key(String),
    Index(usize),
}

struct Fail {
    code: ErrorCode,
    message: String,
    /// Innermost first.
    segs: Vec<Seg>,
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
            Seg::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

struct Reader<'a> {
    src: &'a str,
    b: &'a [u8],
    i: usize,
}

/// Index of the first non-whitespace byte at or after `i` (`b.len()` if none).
#[inline]
pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(&c) = b.get(i) {
        // Most gaps are empty or one space; one compare ends the loop on any token byte.
        if c > b' ' {
            break;
        }
        match c {
            b' ' | b'\t' | b'\r' => i += 1,
            // Pretty-printed policies indent after each newline: take those spaces eight at
            // a time.
            b'\n' => {
                i += 1;
                while let Some(w) = swar::word(b, i) {
                    let other = w ^ (swar::LANES * u64::from(b' '));
                    if other != 0 {
                        i += (other.trailing_zeros() / 8) as usize;
                        break;
                    }
                    i += 8;
                }
            }
            _ => break,
        }
    }
    i
}

/// Index of the first byte at or after `i` that ends a run of plain string content: a quote,
/// a backslash or a control byte (`b.len()` if none).
///
/// Looks at eight bytes per step (SWAR) because strings are most of a policy's bytes and the
/// crate forbids `unsafe` SIMD. Each mask may flag false bytes only above a true hit (the
/// subtraction borrows only out of a matching byte), so the lowest flagged byte is exact.
#[inline]
pub(crate) fn plain_run_end(b: &[u8], mut i: usize) -> usize {
    while let Some(x) = swar::word(b, i) {
        let hits = swar::equal(x, b'"') | swar::equal(x, b'\\') | swar::below(x, 0x20);
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// Reads the string whose opening quote is at `*i`, leaving `*i` after the closing quote;
/// `None` on any syntax error (the caller re-parses to report it).
pub(crate) fn string_at<'a>(src: &'a str, i: &mut usize) -> Option<Cow<'a, str>> {
    let mut r = Reader {
        src,
        b: src.as_bytes(),
        i: *i,
    };
    let s = r.string().ok()?;
    *i = r.i;
    Some(s)
}

/// Reads the number starting at `*i` as its source text; `None` on a syntax error.
pub(crate) fn number_at<'a>(src: &'a str, i: &mut usize) -> Option<&'a str> {
    let mut r = Reader {
        src,
        b: src.as_bytes(),
        i: *i,
    };
    let n = r.number().ok()?;
    *i = r.i;
    Some(n)
}

/// Parse `src` as one JSON document.
pub(crate) fn parse(src: &str) -> Result<Json<'_>, PolicyError> {
    let mut r = Reader {
        src,
        b: src.as_bytes(),
        i: 0,
    };
    let res = r.document();
    res.map_err(|f| PolicyError {
        code: f.code,
        path: join_path(&f.segs),
        message: f.message,
    })
}

impl<'a> Reader<'a> {
    fn fail<T>(&self, code: ErrorCode, what: &str) -> Result<T, Fail> {
        Err(Fail {
            code,
            message: format!("{what} at byte {}", self.i),
            segs: Vec::new(),
        })
    }

    fn ws(&mut self) {
        self.i = skip_ws(self.b, self.i);
    }

    fn document(&mut self) -> Result<Json<'a>, Fail> {
        self.ws();
        let v = self.value(0)?;
        self.ws();
        if self.i != self.b.len() {
            return self.fail(
                ErrorCode::InvalidJson,
                "unexpected text after the JSON value",
            );
        }
        Ok(v)
    }

    fn value(&mut self, depth: usize) -> Result<Json<'a>, Fail> {
        match self.b.get(self.i) {
            None => self.fail(ErrorCode::InvalidJson, "unexpected end of input"),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => Ok(Json::Num(self.number()?)),
            Some(_) => self.fail(ErrorCode::InvalidJson, "unexpected character"),
        }
    }

    fn literal(&mut self, word: &str, v: Json<'a>) -> Result<Json<'a>, Fail> {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            self.fail(ErrorCode::InvalidJson, "invalid literal")
        }
    }

    fn number(&mut self) -> Result<&'a str, Fail> {
        let start = self.i;
        let b = self.b;
        if b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                while matches!(b.get(self.i), Some(b'0'..=b'9')) {
                    self.i += 1;
                }
            }
            _ => return self.fail(ErrorCode::InvalidJson, "invalid number"),
        }
        if b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if !matches!(b.get(self.i), Some(b'0'..=b'9')) {
                return self.fail(ErrorCode::InvalidJson, "invalid number");
            }
            while matches!(b.get(self.i), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        if matches!(b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !matches!(b.get(self.i), Some(b'0'..=b'9')) {
                return self.fail(ErrorCode::InvalidJson, "invalid number");
            }
            while matches!(b.get(self.i), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        Ok(&self.src[start..self.i])
    }

    fn hex4(&mut self) -> Result<u32, Fail> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.b.get(self.i) {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return self.fail(ErrorCode::InvalidJson, "invalid \\u escape"),
            };
            v = v * 16 + u32::from(d);
            self.i += 1;
        }
        Ok(v)
    }

    /// Reads a string starting at the opening quote.
    fn string(&mut self) -> Result<Cow<'a, str>, Fail> {
        self.i += 1;
        let start = self.i;
        let b = self.b;
        self.i = plain_run_end(b, start);
        match b.get(self.i) {
            None => return self.fail(ErrorCode::InvalidJson, "unterminated string"),
            Some(b'"') => {
                let s = &self.src[start..self.i];
                self.i += 1;
                return Ok(Cow::Borrowed(s));
            }
            Some(b'\\') => {}
            Some(_) => return self.fail(ErrorCode::InvalidJson, "control character in string"),
        }
        let mut out = String::with_capacity(self.i - start + 16);
        out.push_str(&self.src[start..self.i]);
        loop {
            let run = self.i;
            self.i = plain_run_end(b, run);
            out.push_str(&self.src[run..self.i]);
            match b.get(self.i) {
                None => return self.fail(ErrorCode::InvalidJson, "unterminated string"),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = match b.get(self.i) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.i += 1;
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if b.get(self.i) != Some(&b'\\') || b.get(self.i + 1) != Some(&b'u')
                                {
                                    return self
                                        .fail(ErrorCode::InvalidJson, "unpaired surrogate escape");
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return self
                                        .fail(ErrorCode::InvalidJson, "unpaired surrogate escape");
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            match char::from_u32(code) {
                                Some(c) => {
                                    out.push(c);
                                    continue;
                                }
                                None => {
                                    return self
                                        .fail(ErrorCode::InvalidJson, "unpaired surrogate escape");
                                }
                            }
                        }
                        _ => return self.fail(ErrorCode::InvalidJson, "invalid escape"),
                    };
                    out.push(c);
                    self.i += 1;
                }
                Some(_) => return self.fail(ErrorCode::InvalidJson, "control character in string"),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json<'a>, Fail> {
        if depth > MAX_DEPTH {
            return self.fail(
                ErrorCode::TooDeep,
                &format!("nesting deeper than {MAX_DEPTH} levels"),
            );
        }
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(Json::Arr(items));
        }
        loop {
            self.ws();
            match self.value(depth) {
                Ok(v) => items.push(v),
                Err(mut f) => {
                    f.segs.push(Seg::Index(items.len()));
                    return Err(f);
                }
            }
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Json::Arr(items));
                }
                _ => return self.fail(ErrorCode::InvalidJson, "expected ',' or ']'"),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json<'a>, Fail> {
        if depth > MAX_DEPTH {
            return self.fail(
                ErrorCode::TooDeep,
                &format!("nesting deeper than {MAX_DEPTH} levels"),
            );
        }
        self.i += 1;
        let mut members: Vec<(Cow<'a, str>, Json<'a>)> = Vec::new();
        let mut seen: Option<std::collections::HashSet<Cow<'a, str>>> = None;
        self.ws();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(Json::Obj(members));
        }
        loop {
            self.ws();
            if self.b.get(self.i) != Some(&b'"') {
                return self.fail(ErrorCode::InvalidJson, "expected a string key");
            }
            let key = self.string()?;
            let dup = match &mut seen {
                Some(set) => !set.insert(key.clone()),
                None => {
                    let d = members.iter().any(|(k, _)| *k == key);
                    if members.len() >= 16 {
                        let mut set: std::collections::HashSet<Cow<'a, str>> =
                            members.iter().map(|(k, _)| k.clone()).collect();
                        set.insert(key.clone());
                        seen = Some(set);
                    }
                    d
                }
            };
            if dup {
                return Err(Fail {
                    code: ErrorCode::DuplicateKey,
                    message: format!("duplicate key {:?} at byte {}", key, self.i),
                    segs: vec![Seg::Key(key.into_owned())],
                });
            }
            self.ws();
            if self.b.get(self.i) != Some(&b':') {
                return self.fail(ErrorCode::InvalidJson, "expected ':'");
            }
            self.i += 1;
            self.ws();
            match self.value(depth) {
                Ok(v) => members.push((key, v)),
                Err(mut f) => {
                    f.segs.push(Seg::Key(key.into_owned()));
                    return Err(f);
                }
            }
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Json::Obj(members));
                }
                _ => return self.fail(ErrorCode::InvalidJson, "expected ',' or '}'"),
            }
        }
    }
}

/// Eight bytes at a time in plain integer arithmetic, for the string scans above (moved here
/// from the evaluator's former `swar.rs`, which nothing else uses any more).
mod swar {
    /// One in every byte lane.
    pub(super) const LANES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;

    /// The eight bytes of `b` from `i`, little-endian, if there are eight.
    #[inline]
    pub(super) fn word(b: &[u8], i: usize) -> Option<u64> {
        b.get(i..i + 8)?
            .first_chunk::<8>()
            .map(|w| u64::from_le_bytes(*w))
    }

    /// The high bit of each byte lane of `x` below `n` (`n` at most 128); the lowest set
    /// lane is always a true one.
    #[inline]
    pub(super) fn below(x: u64, n: u8) -> u64 {
        x.wrapping_sub(LANES * u64::from(n)) & !x & HIGH
    }

    /// The lanes of `x` equal to `c`, as [`below`] flags them.
    #[inline]
    pub(super) fn equal(x: u64, c: u8) -> u64 {
        below(x ^ (LANES * u64::from(c)), 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> PolicyError {
        parse(s).unwrap_err()
    }

    #[test]
    fn accepts_rfc8259_values() {
        let v = parse(r#" {"a": [1, -2.5e3, true, false, null, "x\u002a\ud83d\ude00"]} "#).unwrap();
        let Json::Obj(m) = v else { panic!() };
        let Json::Arr(items) = &m[0].1 else { panic!() };
        assert_eq!(items[1], Json::Num("-2.5e3"));
        assert_eq!(items[5], Json::Str(Cow::Owned("x*\u{1F600}".into())));
    }

    #[test]
    fn rejects_non_json() {
        for bad in [
            "",
            "{",
            "{\"a\":1,}",
            "[1,]",
            "{'a':1}",
            "{\"a\":1} x",
            "// c\n{}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":\"tab\there\"}",
            "\u{feff}{}",
            "NaN",
        ] {
            assert_eq!(err(bad).code, ErrorCode::InvalidJson, "{bad:?}");
        }
    }

    #[test]
    fn duplicate_keys_carry_their_path() {
        let e = err(r#"{"Statement":[{"Effect":"Allow"},{"Effect":"Allow","Effect":"Deny"}]}"#);
        assert_eq!(e.code, ErrorCode::DuplicateKey);
        assert_eq!(e.path, "Statement[1].Effect");
        // Escaped spellings are the same key.
        let e = err(r#"{"a":1,"\u0061":2}"#);
        assert_eq!(e.code, ErrorCode::DuplicateKey);
        // Many keys switch to the hash set.
        let mut s = String::from("{");
        for i in 0..40 {
            s.push_str(&format!("\"k{i}\":1,"));
        }
        s.push_str("\"k7\":2}");
        assert_eq!(err(&s).code, ErrorCode::DuplicateKey);
    }

    #[test]
    fn deep_nesting_fails_without_recursing_further() {
        let s = "[".repeat(5000) + &"]".repeat(5000);
        assert_eq!(err(&s).code, ErrorCode::TooDeep);
        let s = "{\"a\":".repeat(5000) + "1" + &"}".repeat(5000);
        assert_eq!(err(&s).code, ErrorCode::TooDeep);
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&ok).is_ok());
    }

    /// The byte-at-a-time definition the chunked scan must agree with.
    fn plain_run_end_slow(b: &[u8], mut i: usize) -> usize {
        while i < b.len() && !(b[i] == b'"' || b[i] == b'\\' || b[i] < 0x20) {
            i += 1;
        }
        i
    }

    #[test]
    fn chunked_scan_finds_the_first_stop_byte_anywhere() {
        // Every stop byte at every offset of a 24-byte run, with bytes around it that could
        // disturb the lane arithmetic (0x21 next to the 0x20 boundary, 0x7f/0x80, 0xff, 0x01
        // next to a borrow, 0x5b/0x5d next to the backslash) in front and behind.
        let fillers: [u8; 8] = [b'a', 0x21, 0x7f, 0x80, 0xff, 0x01, b'[', b']'];
        for stop in [b'"', b'\\', 0x00, 0x01, 0x1f] {
            for len in 0..24 {
                for &fill in &fillers {
                    for start in 0..3 {
                        let mut b = vec![fill; len];
                        b.push(stop);
                        b.extend_from_slice(&[fill, stop, b'"']);
                        let want = plain_run_end_slow(&b, start.min(b.len()));
                        assert_eq!(
                            plain_run_end(&b, start.min(b.len())),
                            want,
                            "stop {stop:#x} fill {fill:#x} len {len} start {start}"
                        );
                    }
                }
            }
        }
        // Only stops after the start count, and a run without stops ends at the input's end.
        let b = b"\"abcdefghijklmnopqrstuvwxyz";
        assert_eq!(plain_run_end(b, 1), b.len());
        assert_eq!(plain_run_end(b, 0), 0);
        assert_eq!(plain_run_end(b, b.len()), b.len());
    }

    #[test]
    fn escapes_and_controls_at_every_chunk_offset() {
        for pad in 0..20 {
            let p = "x".repeat(pad);
            for (esc, want) in [
                (r"\n", "\n"),
                (r"\\", "\\"),
                (r#"\""#, "\""),
                (r"\u0065", "e"),
                (r"\ud83d\ude00", "\u{1F600}"),
                (r"\u00e9", "\u{e9}"),
            ] {
                let text = format!(r#"["{p}{esc}{p}é{p}"]"#);
                let Json::Arr(items) = parse(&text).unwrap() else {
                    panic!()
                };
                assert_eq!(items[0], Json::Str(Cow::Owned(format!("{p}{want}{p}é{p}"))));
            }
            for ctl in ['\u{0}', '\u{1}', '\n', '\t', '\u{1f}'] {
                let text = format!(r#"["{p}{ctl}{p}"]"#);
                assert_eq!(err(&text).code, ErrorCode::InvalidJson, "{text:?}");
                let text = format!(r#"["{p}\n{p}{ctl}"]"#);
                assert_eq!(err(&text).code, ErrorCode::InvalidJson, "{text:?}");
            }
            // A string cut off at any offset, with or without a trailing backslash.
            assert_eq!(err(&format!(r#"["{p}"#)).code, ErrorCode::InvalidJson);
            assert_eq!(err(&format!(r#"["{p}\"#)).code, ErrorCode::InvalidJson);
            // Plain strings still borrow.
            let text = format!(r#"["{p}é{p}"]"#);
            let Json::Arr(items) = parse(&text).unwrap() else {
                panic!()
            };
            assert!(matches!(items[0], Json::Str(Cow::Borrowed(_))));
        }
        // High surrogate followed by something other than a low one.
        for bad in [r#"["\ud83d\u0041"]"#, r#"["\ud83dx"]"#, r#"["\ude00"]"#] {
            assert_eq!(err(bad).code, ErrorCode::InvalidJson, "{bad}");
        }
    }

    #[test]
    fn escaped_duplicate_keys_are_duplicates() {
        let e = err(r#"{"Effect":"Allow","Eff\u0065ct":"Deny"}"#);
        assert_eq!(
            (e.code, e.path.as_str()),
            (ErrorCode::DuplicateKey, "Effect")
        );
    }

    #[test]
    fn whitespace_runs_of_every_shape() {
        let units: [&[u8]; 6] = [b" ", b"\n", b"\t", b"\r", b"\n        ", b"\r\n    "];
        for seed in 0..2000usize {
            let mut b = Vec::new();
            let mut x = seed;
            for _ in 0..(seed % 7) {
                b.extend_from_slice(units[x % units.len()]);
                x = x / units.len() + seed % 13;
            }
            let ws = b.len();
            b.extend_from_slice(match seed % 4 {
                0 => b"",
                1 => b"\"x\"",
                2 => b"\x0b ",
                _ => b"\x0c        ",
            });
            assert_eq!(skip_ws(&b, 0), ws, "{b:?}");
        }
    }
}
