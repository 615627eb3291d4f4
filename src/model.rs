//! The ground floor: plain domain vocabulary that every other module imports.
//!
//! Owns the identifiers (account, organization, region, target), the exposure words (scope,
//! access, registry scope), the finding identity (kind, subject, key), the closed set of
//! whole-target failure codes, and accepted risks (exceptions and their suppressions). Each
//! rule about what a valid id looks like is written once here, so config, the `check` command
//! and the policy engine cannot disagree about it.
//!
//! Must not import anything from the crate, do I/O or read the clock: it is the one module
//! below all the others, so an arrow out of it would be a cycle.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A 12-digit AWS account id: the one definition the other checks call.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// An organization id: `o-` and 10 to 32 lower-case letters or digits.
pub fn is_org_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// Region names such as `us-east-1`, `eu-central-2`, `us-gov-west-1`: lower-case words and a
/// positive number, so that a typo is caught before a whole cycle is spent on it.
pub fn is_region_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok_and(|n| n > 0)
}

/// Which identifier failed to parse; the wording is what `config check` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Account,
    Organization,
    Region,
}

/// A value that is not a valid identifier of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct IdError {
    pub kind: IdKind,
    pub text: String,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            IdKind::Account => "a 12-digit account id",
            IdKind::Organization => {
                "an organization id (o- and 10 to 32 lower-case letters or digits)"
            }
            IdKind::Region => "a region name",
        };
        write!(f, "{:?} is not {what}", self.text)
    }
}

/// A validated identifier over a `String`; the macro keeps the three newtypes identical.
macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident, $kind:expr, $valid:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                if $valid(s) {
                    Ok($name(s.to_string()))
                } else {
                    Err(IdError {
                        kind: $kind,
                        text: s.to_string(),
                    })
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                if $valid(&s) {
                    Ok($name(s))
                } else {
                    Err(IdError { kind: $kind, text: s })
                }
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// Sets of ids can be queried with a plain `&str` (same order as `str`).
        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    };
}

id_newtype!(
    /// A 12-digit AWS account id, checked once where it enters (config, flags).
    AccountId,
    IdKind::Account,
    is_account_id
);
id_newtype!(
    /// An AWS Organizations id (`o-...`).
    OrgId,
    IdKind::Organization,
    is_org_id
);
id_newtype!(
    /// An AWS region name.
    Region,
    IdKind::Region,
    is_region_name
);

/// One (account, region) pair: the unit of scanning, failure and staleness.
///
/// Plain strings, not [`AccountId`]/[`Region`]: a failure that hides an account's regions is
/// reported with region `*`, and a failed discovery as `*/*`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TargetId {
    pub account_id: String,
    pub region: String,
}

impl fmt::Display for TargetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.account_id, self.region)
    }
}

/// Who an exposure reaches (metric label `scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Public,
    CrossAccount,
}

impl Scope {
    /// Stable label value.
    pub fn as_label(self) -> &'static str {
        match self {
            Scope::Public => "public",
            Scope::CrossAccount => "cross_account",
        }
    }

    /// Parse a label value back (`/findings?scope=`).
    pub fn from_label(s: &str) -> Option<Self> {
        [Scope::Public, Scope::CrossAccount]
            .into_iter()
            .find(|k| k.as_label() == s)
    }
}

/// Highest level of repository access reachable from outside the trust zone.
///
/// Ordered so that `max` gives the worst level; `None` iff nothing is exposed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    #[default]
    None,
    Read,
    Write,
    Admin,
}

impl Access {
    /// Stable label value for metrics and JSON.
    pub fn as_label(self) -> &'static str {
        match self {
            Access::None => "none",
            Access::Read => "read",
            Access::Write => "write",
            Access::Admin => "admin",
        }
    }
}

/// Registry permission scope: decides which actions a registry policy governs (spec §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RegistryScope {
    V1,
    #[default]
    V2,
}

impl RegistryScope {
    /// Stable label value for metrics and JSON.
    pub fn as_label(self) -> &'static str {
        match self {
            RegistryScope::V1 => "v1",
            RegistryScope::V2 => "v2",
        }
    }
}

/// Kind of finding (metric label `finding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    PublicExposure,
    CrossAccountExposure,
    RegistryExposure,
    PolicyUnknown,
    MissingTag,
}

impl FindingKind {
    pub const ALL: [FindingKind; 5] = [
        FindingKind::PublicExposure,
        FindingKind::CrossAccountExposure,
        FindingKind::RegistryExposure,
        FindingKind::PolicyUnknown,
        FindingKind::MissingTag,
    ];

    /// Stable label value.
    pub fn as_label(self) -> &'static str {
        match self {
            FindingKind::PublicExposure => "public_exposure",
            FindingKind::CrossAccountExposure => "cross_account_exposure",
            FindingKind::RegistryExposure => "registry_exposure",
            FindingKind::PolicyUnknown => "policy_unknown",
            FindingKind::MissingTag => "missing_tag",
        }
    }

    /// Parse a label value back (config exceptions, `/findings?finding=`).
    pub fn from_label(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_label() == s)
    }
}

/// What a finding is about: one repository, or the registry of its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingSubject<'a> {
    Repository(&'a str),
    Registry,
}

/// Identity of a finding across scans: what first-seen times are keyed by.
///
/// The field layout is the state file's (flattened into each persisted finding), so it stays
/// two strings; read them through [`FindingKey::subject`], [`FindingKey::tag_key`] and
/// [`FindingKey::scope`] rather than testing `repository.is_empty()` or `detail` by hand.
/// `repository` is empty for registry findings; `detail` is the tag key of a missing-tag
/// finding, the scope label of a registry exposure, `registry` for an unknown registry
/// policy, and empty otherwise.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FindingKey {
    pub account_id: String,
    pub region: String,
    pub repository: String,
    pub kind: FindingKind,
    pub detail: String,
}

impl FindingKey {
    /// The repository or the registry this finding is about.
    pub fn subject(&self) -> FindingSubject<'_> {
        if self.repository.is_empty() {
            FindingSubject::Registry
        } else {
            FindingSubject::Repository(&self.repository)
        }
    }

    /// The missing tag's key, for missing-tag findings only.
    pub fn tag_key(&self) -> Option<&str> {
        (self.kind == FindingKind::MissingTag).then_some(self.detail.as_str())
    }

    /// Who the exposure reaches, for exposure findings only.
    pub fn scope(&self) -> Option<Scope> {
        match self.kind {
            FindingKind::PublicExposure => Some(Scope::Public),
            FindingKind::CrossAccountExposure => Some(Scope::CrossAccount),
            FindingKind::RegistryExposure => Scope::from_label(&self.detail),
            FindingKind::PolicyUnknown | FindingKind::MissingTag => None,
        }
    }
}

/// Why a whole target could not be scanned: a closed set, used as a label and a JSON value.
///
/// A failure that hides the account's regions is reported once with region `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetErrorCode {
    AssumeRoleFailed,
    AccessDenied,
    Throttled,
    Timeout,
    RegionUnavailable,
    /// The whole discovery failed: target `*/*`.
    DiscoveryFailed,
    Error,
}

impl TargetErrorCode {
    pub const ALL: [TargetErrorCode; 7] = [
        TargetErrorCode::AssumeRoleFailed,
        TargetErrorCode::AccessDenied,
        TargetErrorCode::Throttled,
        TargetErrorCode::Timeout,
        TargetErrorCode::RegionUnavailable,
        TargetErrorCode::DiscoveryFailed,
        TargetErrorCode::Error,
    ];

    /// Stable label value (the JSON `error.code` and log field).
    pub fn as_label(self) -> &'static str {
        match self {
            TargetErrorCode::AssumeRoleFailed => "assume_role_failed",
            TargetErrorCode::AccessDenied => "access_denied",
            TargetErrorCode::Throttled => "throttled",
            TargetErrorCode::Timeout => "timeout",
            TargetErrorCode::RegionUnavailable => "region_unavailable",
            TargetErrorCode::DiscoveryFailed => "discovery_failed",
            TargetErrorCode::Error => "error",
        }
    }
}

impl fmt::Display for TargetErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_label())
    }
}

/// Tests and logs compare a code with its label.
impl PartialEq<&str> for TargetErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_label() == *other
    }
}

/// An accepted risk: covered findings are reported as suppressed until `expires`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    pub account_id: Option<AccountId>,
    pub region: Option<Region>,
    /// Glob over repository names: `*` any run, `?` one character (see [`glob_match`]).
    pub repository: String,
    pub finding: FindingKind,
    pub reason: String,
    pub expires: OffsetDateTime,
}

impl Exception {
    /// Whether this exception covers the finding (ignoring expiry: the caller decides when).
    pub fn covers(&self, key: &FindingKey) -> bool {
        key.kind == self.finding
            && self
                .account_id
                .as_ref()
                .is_none_or(|a| *a == key.account_id)
            && self.region.as_ref().is_none_or(|r| *r == key.region)
            && glob_match(&self.repository, &key.repository)
    }

    /// Whether the exception still applies at `now`.
    pub fn active_at(&self, now: OffsetDateTime) -> bool {
        now < self.expires
    }
}

/// Suppression of one finding: the latest expiry among the exceptions that cover it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    pub expires: OffsetDateTime,
    pub reason: String,
}

impl Suppression {
    /// Still in force at `now`?
    pub fn active_at(&self, now: OffsetDateTime) -> bool {
        now < self.expires
    }
}

/// `*` matches any run of characters, `?` exactly one; everything else literally, case
/// sensitive.
///
/// The policy engine has its own matcher (`analysis::policy::glob`) because policy values
/// need more: an ASCII-case-insensitive mode for action names and literal stars produced by
/// `${*}` variables. On plain `*`/`?` patterns the two agree (`?` is one character here and
/// one UTF-8 sequence there, which is the same thing); this one cannot call that one, as
/// nothing here imports the crate.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::format_description::well_known::Rfc3339;

    #[test]
    fn ids_parse_and_say_why_not() {
        assert_eq!(
            "111122223333".parse::<AccountId>().unwrap().as_str(),
            "111122223333"
        );
        assert_eq!(
            "1234".parse::<AccountId>().unwrap_err().to_string(),
            "\"1234\" is not a 12-digit account id"
        );
        assert!("o-abcdefghij".parse::<OrgId>().is_ok());
        assert!("o-ABCDEFGHIJ".parse::<OrgId>().is_err());
        assert!("o-short".parse::<OrgId>().is_err());
        assert!("eu-west-1".parse::<Region>().is_ok());
        assert!("us-gov-west-1".parse::<Region>().is_ok());
        for bad in ["EU", "eu-west", "eu-west-0", "eu--1", ""] {
            assert!(bad.parse::<Region>().is_err(), "{bad:?}");
        }
        assert_eq!(
            "EU".parse::<Region>().unwrap_err().to_string(),
            "\"EU\" is not a region name"
        );
    }

    #[test]
    fn ids_serialise_as_strings_and_validate_on_read() {
        let id: AccountId = "111122223333".parse().unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"111122223333\"");
        assert!(serde_json::from_str::<AccountId>("\"12\"").is_err());
        let set: std::collections::BTreeSet<AccountId> = [id].into();
        assert!(set.contains("111122223333"));
    }

    #[test]
    fn target_error_codes_have_stable_labels() {
        for code in TargetErrorCode::ALL {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::Value::from(code.as_label())
            );
            assert_eq!(code.to_string(), code.as_label());
        }
        assert_eq!(TargetErrorCode::AssumeRoleFailed, "assume_role_failed");
    }

    fn key(repository: &str, kind: FindingKind, detail: &str) -> FindingKey {
        FindingKey {
            account_id: "111122223333".into(),
            region: "eu-west-1".into(),
            repository: repository.into(),
            kind,
            detail: detail.into(),
        }
    }

    #[test]
    fn finding_keys_name_subject_tag_and_scope() {
        let tag = key("app", FindingKind::MissingTag, "owner");
        assert_eq!(tag.subject(), FindingSubject::Repository("app"));
        assert_eq!(tag.tag_key(), Some("owner"));
        assert_eq!(tag.scope(), None);
        let reg = key("", FindingKind::RegistryExposure, "cross_account");
        assert_eq!(reg.subject(), FindingSubject::Registry);
        assert_eq!(reg.tag_key(), None);
        assert_eq!(reg.scope(), Some(Scope::CrossAccount));
        assert_eq!(
            key("", FindingKind::PolicyUnknown, "registry").scope(),
            None
        );
        assert_eq!(
            key("a", FindingKind::PublicExposure, "").scope(),
            Some(Scope::Public)
        );
    }

    #[test]
    fn exception_covers_by_glob_account_region() {
        let e = Exception {
            account_id: Some("111122223333".parse().unwrap()),
            region: None,
            repository: "legacy-*".into(),
            finding: FindingKind::PublicExposure,
            reason: "vendor mirror".into(),
            expires: OffsetDateTime::parse("2030-01-01T00:00:00Z", &Rfc3339).unwrap(),
        };
        let k = |acct: &str, repo: &str, kind| FindingKey {
            account_id: acct.into(),
            ..key(repo, kind, "")
        };
        assert!(e.covers(&k(
            "111122223333",
            "legacy-app",
            FindingKind::PublicExposure
        )));
        assert!(!e.covers(&k("111122223333", "app", FindingKind::PublicExposure)));
        assert!(!e.covers(&k(
            "999999999999",
            "legacy-app",
            FindingKind::PublicExposure
        )));
        assert!(!e.covers(&k("111122223333", "legacy-app", FindingKind::MissingTag)));
        let before = OffsetDateTime::parse("2029-12-31T23:59:59Z", &Rfc3339).unwrap();
        assert!(e.active_at(before));
        assert!(!e.active_at(e.expires));
    }

    #[test]
    fn glob() {
        assert!(glob_match("*", ""));
        assert!(glob_match("a*c", "abbbc"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("a?c", "aéc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("*-prod", "team-x-prod"));
        assert!(!glob_match("*-prod", "team-x-prod2"));
        assert!(!glob_match("App", "app"));
    }
}
