//! Principal forms (spec §4, §7.3, §7.4, §12.8): what one `Principal` string names.

use super::parse::PrincipalType;
use super::swar;

/// What one principal entry matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind<'a> {
    /// Every authenticated principal (and AWS services): `"*"`, a wildcard inside an ARN
    /// (fail safe), a web identity provider.
    Everyone { why: &'static str },
    /// Every principal of the account (account id, root ARN, SAML/OIDC provider).
    Account { account: &'a str },
    /// One principal (role, user, session) of the account; `arn` as written.
    Specific { account: &'a str, arn: &'a str },
    /// An AWS service acting for some customer.
    Service { name: &'a str },
    /// Nobody; `why` explains (deleted principal, S3-only form, unrecognised).
    Nobody { why: &'static str },
}

pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `A` + three capital letters + 12 or more capitals or digits (spec §12.8).
pub fn is_unique_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 16
        && b[0] == b'A'
        && b[1..4].iter().all(|c| c.is_ascii_uppercase())
        && b[4..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// Classify one principal entry of type `t`.
pub fn classify(t: PrincipalType, s: &str) -> PrincipalKind<'_> {
    match t {
        PrincipalType::CanonicalUser => PrincipalKind::Nobody {
            why: "a CanonicalUser principal is S3-only and matches nobody in ECR",
        },
        PrincipalType::Service => PrincipalKind::Service { name: s },
        PrincipalType::Federated => {
            if let Some(parts) = arn_parts(s) {
                if super::glob::has_wildcard(s.as_bytes()) {
                    return PrincipalKind::Everyone {
                        why: "a wildcard inside a principal ARN is invalid in IAM; treated as everyone (fail safe)",
                    };
                }
                let res = parts[5];
                if parts[2] == "iam"
                    && (res.starts_with("saml-provider/") || res.starts_with("oidc-provider/"))
                    && is_account_id(parts[4])
                {
                    return PrincipalKind::Account { account: parts[4] };
                }
                return PrincipalKind::Nobody {
                    why: "unrecognised federated principal; it grants nobody",
                };
            }
            PrincipalKind::Everyone {
                why: "a web identity provider is not tied to any account; treated as everyone (fail safe)",
            }
        }
        PrincipalType::Aws => {
            if s == "*" {
                return PrincipalKind::Everyone {
                    why: "principal \"*\" is every authenticated AWS principal in every account",
                };
            }
            if is_account_id(s) {
                return PrincipalKind::Account { account: s };
            }
            if let Some(parts) = arn_parts(s) {
                if super::glob::has_wildcard(s.as_bytes()) {
                    return PrincipalKind::Everyone {
                        why: "a wildcard inside a principal ARN is invalid in IAM; treated as everyone (fail safe)",
                    };
                }
                let account = parts[4];
                if !is_account_id(account) {
                    return PrincipalKind::Nobody {
                        why: "unrecognised principal ARN (no account id); it grants nobody",
                    };
                }
                let res = parts[5];
                let ok = match parts[2] {
                    "iam" if res == "root" => {
                        return PrincipalKind::Account { account };
                    }
                    "iam" => res.starts_with("role/") || res.starts_with("user/"),
                    "sts" => res.starts_with("assumed-role/") || res.starts_with("federated-user/"),
                    _ => false,
                };
                if ok {
                    return PrincipalKind::Specific { account, arn: s };
                }
                return PrincipalKind::Nobody {
                    why: "unrecognised principal ARN; it grants nobody",
                };
            }
            if is_unique_id(s) {
                return PrincipalKind::Nobody {
                    why: "a unique id is what remains of a deleted principal; it matches nobody",
                };
            }
            PrincipalKind::Nobody {
                why: "unrecognised principal string; it grants nobody",
            }
        }
    }
}

/// The six `:`-separated fields of an ARN, if `s` is one.
pub fn arn_parts(s: &str) -> Option<[&str; 6]> {
    if !s.starts_with("arn:") {
        return None;
    }
    split6(s)
}

/// The first five `:`-separated fields and the rest (which may hold more colons), if `s` has
/// at least five colons. Colons are found eight bytes at a time: this runs for every
/// principal and ARN condition value, and a byte loop was a visible share of a verdict.
pub fn split6(s: &str) -> Option<[&str; 6]> {
    let b = s.as_bytes();
    // Positions of the first five colons.
    let mut at = [0usize; 5];
    let mut k = 0;
    let mut i = 0;
    'scan: {
        while let Some(w) = swar::word(b, i) {
            // Lanes above a colon may be flagged falsely: every candidate is checked.
            let mut m = swar::equal(w, b':');
            while m != 0 {
                let j = i + (m.trailing_zeros() / 8) as usize;
                m &= m - 1;
                if b[j] == b':' {
                    at[k] = j;
                    k += 1;
                    if k == 5 {
                        break 'scan;
                    }
                }
            }
            i += 8;
        }
        for (j, &c) in b.iter().enumerate().skip(i) {
            if c == b':' {
                at[k] = j;
                k += 1;
                if k == 5 {
                    break 'scan;
                }
            }
        }
        return None;
    }
    Some([
        &s[..at[0]],
        &s[at[0] + 1..at[1]],
        &s[at[1] + 1..at[2]],
        &s[at[2] + 1..at[3]],
        &s[at[3] + 1..at[4]],
        &s[at[4] + 1..],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use PrincipalType::*;

    #[test]
    fn split6_keeps_colons_in_the_last_field() {
        assert_eq!(
            split6("arn:aws:iam::1:role/a:b"),
            Some(["arn", "aws", "iam", "", "1", "role/a:b"])
        );
        assert_eq!(split6("a:b:c:d:e:"), Some(["a", "b", "c", "d", "e", ""]));
        assert_eq!(split6("a:b:c:d"), None);
        assert_eq!(arn_parts("xrn:aws:iam::1:root"), None);
        assert_eq!(arn_parts("arn:aws:iam::1:root").map(|p| p[4]), Some("1"));
    }

    proptest::proptest! {
        /// The word-at-a-time splitter finds the same fields as splitting on every colon.
        #[test]
        fn split6_agrees_with_a_plain_split(s in "[a:;b\u{e9}0-9]{0,40}") {
            let fields: Vec<&str> = s.splitn(6, ':').collect();
            let expected = (fields.len() == 6).then(|| {
                [fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]]
            });
            proptest::prop_assert_eq!(split6(&s), expected);
        }
    }

    #[test]
    fn forms() {
        assert!(matches!(classify(Aws, "*"), PrincipalKind::Everyone { .. }));
        assert_eq!(
            classify(Aws, "123456789012"),
            PrincipalKind::Account {
                account: "123456789012"
            }
        );
        assert_eq!(
            classify(Aws, "arn:aws:iam::123456789012:root"),
            PrincipalKind::Account {
                account: "123456789012"
            }
        );
        assert!(matches!(
            classify(Aws, "arn:aws:iam::123456789012:role/x"),
            PrincipalKind::Specific { .. }
        ));
        assert!(matches!(
            classify(Aws, "arn:aws:sts::123456789012:assumed-role/R/S"),
            PrincipalKind::Specific { .. }
        ));
        assert!(matches!(
            classify(Aws, "arn:aws:iam::*:root"),
            PrincipalKind::Everyone { .. }
        ));
        assert!(matches!(
            classify(Aws, "AROAEXAMPLEID1234567"),
            PrincipalKind::Nobody { .. }
        ));
        assert!(matches!(
            classify(Aws, "12345"),
            PrincipalKind::Nobody { .. }
        ));
        assert!(matches!(
            classify(Aws, "arn:aws:iam::123456789012:group/g"),
            PrincipalKind::Nobody { .. }
        ));
        assert_eq!(
            classify(Federated, "arn:aws:iam::123456789012:saml-provider/idp"),
            PrincipalKind::Account {
                account: "123456789012"
            }
        );
        assert_eq!(
            classify(Federated, "arn:aws:iam::123456789012:oidc-provider/x"),
            PrincipalKind::Account {
                account: "123456789012"
            }
        );
        assert!(matches!(
            classify(Federated, "cognito-identity.amazonaws.com"),
            PrincipalKind::Everyone { .. }
        ));
        assert!(matches!(
            classify(CanonicalUser, "abc"),
            PrincipalKind::Nobody { .. }
        ));
        assert!(matches!(
            classify(Service, "codebuild.amazonaws.com"),
            PrincipalKind::Service { .. }
        ));
    }
}
