//! IAM wildcard matching: `*` is any run of characters, `?` exactly one character.
//!
//! Linear-backtracking matcher with a length pre-check, so a long adversarial pattern
//! against a short value costs one pass. Tokens rather than raw bytes are used for values
//! produced by policy-variable substitution, where `${*}` is a literal star.

use super::swar;

/// One pattern element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    Byte(u8),
    Star,
    One,
}

#[inline]
fn char_len(b: u8) -> usize {
    match b {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

#[inline]
fn run<F: Fn(usize) -> Tok>(plen: usize, tok: F, s: &[u8], ci: bool) -> bool {
    // A pattern needs at least one byte per non-star element.
    let mut need = 0usize;
    for i in 0..plen {
        if tok(i) != Tok::Star {
            need += 1;
        }
    }
    if need > s.len() {
        return false;
    }
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < s.len() {
        if p < plen {
            match tok(p) {
                Tok::Star => {
                    star = Some((p, t));
                    p += 1;
                    continue;
                }
                Tok::One => {
                    p += 1;
                    t += char_len(s[t]);
                    continue;
                }
                Tok::Byte(c) => {
                    let eq = if ci {
                        c.eq_ignore_ascii_case(&s[t])
                    } else {
                        c == s[t]
                    };
                    if eq {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, st)) => {
                let nt = st + char_len(s[st]);
                star = Some((sp, nt));
                p = sp + 1;
                t = nt;
            }
            None => return false,
        }
    }
    if t > s.len() {
        return false;
    }
    while p < plen && tok(p) == Tok::Star {
        p += 1;
    }
    p == plen
}

#[inline]
fn byte_tok(b: u8) -> Tok {
    match b {
        b'*' => Tok::Star,
        b'?' => Tok::One,
        c => Tok::Byte(c),
    }
}

/// Case-sensitive wildcard match.
///
/// The literal text before the first wildcard and after the last is compared as whole
/// slices first: most patterns in policies are an ARN or id with one trailing or inner
/// `*`, and this settles them without the byte-at-a-time matcher.
pub fn matches(pat: &[u8], s: &[u8]) -> bool {
    let is_wild = |b: &u8| *b == b'*' || *b == b'?';
    let Some(first) = first_wildcard(pat) else {
        return pat == s;
    };
    if s.len() < first || pat[..first] != s[..first] {
        return false;
    }
    // A match consumes the literal tail byte for byte at the end of `s`.
    let tail = pat
        .iter()
        .rposition(is_wild)
        .map_or(0, |l| pat.len() - l - 1);
    if s.len() - first < tail || pat[pat.len() - tail..] != s[s.len() - tail..] {
        return false;
    }
    let (pat, s) = (&pat[first..], &s[first..]);
    run(pat.len(), |i| byte_tok(pat[i]), s, false)
}

/// ASCII-case-insensitive wildcard match (action names).
pub fn matches_ci(pat: &[u8], s: &[u8]) -> bool {
    run(pat.len(), |i| byte_tok(pat[i]), s, true)
}

/// Match with explicit tokens (literal stars from policy variables).
pub fn matches_toks(pat: &[Tok], s: &[u8], ci: bool) -> bool {
    run(pat.len(), |i| pat[i], s, ci)
}

/// A concrete string the pattern matches: `*` becomes `star`, `?` becomes `one`.
pub fn instantiate(pat: &str, star: &str, one: char) -> String {
    let mut out = String::with_capacity(pat.len() + 4);
    instantiate_with(pat, star, one, |piece| out.push_str(piece));
    out
}

/// [`instantiate`] handing out pieces to `push` (literal runs whole, not char by char), so
/// that a caller can write into its own buffer.
pub fn instantiate_with(pat: &str, star: &str, one: char, mut push: impl FnMut(&str)) {
    let mut buf = [0u8; 4];
    let one: &str = one.encode_utf8(&mut buf);
    let mut rest = pat;
    while let Some(i) = first_wildcard(rest.as_bytes()) {
        push(&rest[..i]);
        push(if rest.as_bytes()[i] == b'*' {
            star
        } else {
            one
        });
        rest = &rest[i + 1..];
    }
    push(rest);
}

/// True if the pattern has a wildcard.
pub fn is_pattern(s: &str) -> bool {
    has_wildcard(s.as_bytes())
}

/// Whether `b` holds a `*` or `?`, eight bytes at a time: every action literal and most
/// condition values are asked this once per verdict.
pub fn has_wildcard(b: &[u8]) -> bool {
    first_wildcard(b).is_some()
}

/// Index of the first `*` or `?` in `b`, eight bytes at a time. In each word the lowest
/// flagged byte is always a true hit (only bytes above a hit can be flagged falsely).
pub fn first_wildcard(b: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(w) = swar::word(b, at) {
        let m = swar::equal(w, b'*') | swar::equal(w, b'?');
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    b[at..]
        .iter()
        .position(|c| *c == b'*' || *c == b'?')
        .map(|k| at + k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        let m = |p: &str, s: &str| matches(p.as_bytes(), s.as_bytes());
        assert!(m("*", ""));
        assert!(m("*", "abc"));
        assert!(m("a*c", "abbbc"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("a?c", "aéc"));
        assert!(!m("abc", "ABC"));
        assert!(m("*b*b*", "abxb"));
        assert!(!m("*b*b*", "ab"));
        assert!(m("arn:aws:iam::*:root", "arn:aws:iam::123456789012:root"));
        assert!(matches_ci(b"ecr:get*", b"ecr:GetDownloadUrlForLayer"));
        let long = "*a".repeat(50_000);
        assert!(!m(&long, "aaaa"));
    }

    proptest::proptest! {
        /// The word-at-a-time wildcard test agrees with a byte scan.
        #[test]
        fn wildcard_search_agrees_with_a_byte_scan(s in "[ab*?\u{e9}:+>)]{0,30}") {
            let plain = s.bytes().position(|c| c == b'*' || c == b'?');
            proptest::prop_assert_eq!(first_wildcard(s.as_bytes()), plain);
            proptest::prop_assert_eq!(has_wildcard(s.as_bytes()), plain.is_some());
        }

        /// The literal prefix and suffix shortcut never changes an answer of the matcher.
        #[test]
        fn shortcut_agrees_with_the_plain_matcher(
            pat in "[ab*?\u{e9}:]{0,10}",
            s in "[ab\u{e9}:]{0,12}",
        ) {
            let (p, t) = (pat.as_bytes(), s.as_bytes());
            let plain = run(p.len(), |i| byte_tok(p[i]), t, false);
            proptest::prop_assert_eq!(matches(p, t), plain, "{:?} vs {:?}", pat, s);
        }
    }

    #[test]
    fn literal_star_tokens() {
        let toks = [Tok::Byte(b'a'), Tok::Byte(b'*')];
        assert!(matches_toks(&toks, b"a*", false));
        assert!(!matches_toks(&toks, b"ab", false));
    }
}
