//! Principal forms (spec §4, §7.3, §7.4, §12.8): what one `Principal` string names.

use super::glob;
use super::parse::PrincipalType;

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
                if glob::is_pattern(s) {
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
                if glob::is_pattern(s) {
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
/// at least five colons.
pub fn split6(s: &str) -> Option<[&str; 6]> {
    let mut fields = s.splitn(6, ':');
    let mut out = [""; 6];
    for f in &mut out {
        *f = fields.next()?;
    }
    Some(out)
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
