//! IAM wildcard matching: `*` is any run of characters, `?` exactly one character.
//!
//! Linear-backtracking matcher with a length pre-check, so a long adversarial pattern
//! against a short value costs one pass. Tokens rather than raw bytes are used for values
//! produced by policy-variable substitution, where `${*}` is a literal star.

/// One pattern element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    Byte(u8),
    Star,
    One,
}

/// Length of the UTF-8 character that starts with byte `b` (`?` matches one character).
fn char_len(b: u8) -> usize {
    match b {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

/// The matcher over `plen` tokens given by `tok`, against `s`; `ci` compares ASCII letters
/// case-insensitively.
fn run<F: Fn(usize) -> Tok>(plen: usize, tok: F, s: &[u8], ci: bool) -> bool {
    // A pattern needs at least one byte per non-star element.
    let need = (0..plen).filter(|&i| tok(i) != Tok::Star).count();
    if need > s.len() {
        return false;
    }
    let (mut p, mut t) = (0usize, 0usize);
    // The last star seen: its position and where its run of matched text ends.
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
        // Mismatch: let the last star take one more character, or fail.
        let Some((sp, st)) = star else {
            return false;
        };
        let nt = st + char_len(s[st]);
        star = Some((sp, nt));
        p = sp + 1;
        t = nt;
    }
    if t > s.len() {
        return false;
    }
    while p < plen && tok(p) == Tok::Star {
        p += 1;
    }
    p == plen
}

/// A pattern byte as a token: `*` and `?` are wildcards.
pub fn byte_tok(b: u8) -> Tok {
    match b {
        b'*' => Tok::Star,
        b'?' => Tok::One,
        c => Tok::Byte(c),
    }
}

/// Case-sensitive wildcard match.
pub fn matches(pat: &str, s: &str) -> bool {
    if !is_pattern(pat) {
        return pat == s;
    }
    let (p, s) = (pat.as_bytes(), s.as_bytes());
    run(p.len(), |i| byte_tok(p[i]), s, false)
}

/// ASCII-case-insensitive wildcard match (action names).
pub fn matches_ci(pat: &str, s: &str) -> bool {
    let p = pat.as_bytes();
    run(p.len(), |i| byte_tok(p[i]), s.as_bytes(), true)
}

/// Match with explicit tokens (literal stars from policy variables).
pub fn matches_toks(pat: &[Tok], s: &[u8], ci: bool) -> bool {
    run(pat.len(), |i| pat[i], s, ci)
}

/// A concrete string the pattern matches: `*` becomes `star`, `?` becomes `one`.
pub fn instantiate(pat: &str, star: &str, one: char) -> String {
    let mut out = String::with_capacity(pat.len() + 4);
    instantiate_into(&mut out, pat, star, one);
    out
}

/// [`instantiate`], appended to `out` (for ARNs assembled from several parts).
pub fn instantiate_into(out: &mut String, pat: &str, star: &str, one: char) {
    // Copy the runs between wildcards whole.
    let mut rest = pat;
    while let Some(at) = rest.find(['*', '?']) {
        out.push_str(&rest[..at]);
        if rest.as_bytes()[at] == b'*' {
            out.push_str(star);
        } else {
            out.push(one);
        }
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

/// True if the pattern has a wildcard.
pub fn is_pattern(s: &str) -> bool {
    s.bytes().any(|b| b == b'*' || b == b'?')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches("*", ""));
        assert!(matches("*", "abc"));
        assert!(matches("a*c", "abbbc"));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "ac"));
        assert!(matches("a?c", "aéc"));
        assert!(!matches("abc", "ABC"));
        assert!(matches("*b*b*", "abxb"));
        assert!(!matches("*b*b*", "ab"));
        assert!(matches(
            "arn:aws:iam::*:root",
            "arn:aws:iam::123456789012:root"
        ));
        assert!(matches_ci("ecr:get*", "ecr:GetDownloadUrlForLayer"));
        let long = "*a".repeat(50_000);
        assert!(!matches(&long, "aaaa"));
    }

    #[test]
    fn instances_match_their_pattern() {
        for p in ["a*b?c", "*", "???", "arn:aws:iam::*:role/x?", "é*?"] {
            assert!(matches(p, &instantiate(p, "x", 'y')), "{p}");
        }
        assert_eq!(instantiate("a*b?c", "XX", '0'), "aXXb0c");
    }

    #[test]
    fn literal_star_tokens() {
        let toks = [Tok::Byte(b'a'), Tok::Byte(b'*')];
        assert!(matches_toks(&toks, b"a*", false));
        assert!(!matches_toks(&toks, b"ab", false));
    }
}
