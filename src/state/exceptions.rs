//! Exceptions: accepted findings from the configuration, each with a reason and an expiry.
//!
//! A covered finding stays tracked (first seen, opened, resolved) but is exported as suppressed
//! instead of exposed until the exception expires; then it counts again and the log says so once.

use std::sync::atomic::{AtomicBool, Ordering};

use time::OffsetDateTime;

use crate::model::FindingKey;

/// One accepted finding, as validated from the configuration: the model's own type, so
/// matching has one definition.
pub use crate::model::{Exception as ExceptionRule, Suppression, glob_match};

/// The configured exceptions plus which expiries were already logged.
#[derive(Debug, Default)]
pub struct Exceptions {
    rules: Vec<ExceptionRule>,
    /// One flag per rule: its expiry has been logged (the log says so once, not per cycle).
    expiry_logged: Vec<AtomicBool>,
}

impl Exceptions {
    pub fn new(rules: Vec<ExceptionRule>) -> Self {
        let expiry_logged = rules.iter().map(|_| AtomicBool::new(false)).collect();
        Exceptions {
            rules,
            expiry_logged,
        }
    }

    pub fn rules(&self) -> &[ExceptionRule] {
        &self.rules
    }

    /// The suppression that applies to `key`, if any rule covers it (active or expired: the
    /// expiry decides at export time, so a rule expiring between cycles takes effect at once).
    pub fn suppression_for(&self, key: &FindingKey) -> Option<Suppression> {
        self.rules
            .iter()
            .filter(|r| r.covers(key))
            .max_by_key(|r| r.expires)
            .map(|r| Suppression {
                expires: r.expires,
                reason: r.reason.clone(),
            })
    }

    /// Number of (active, expired) rules at `now`.
    pub fn counts(&self, now: OffsetDateTime) -> (usize, usize) {
        let expired = self.rules.iter().filter(|r| r.expires <= now).count();
        (self.rules.len() - expired, expired)
    }

    /// The earliest expiry after `now` that has not been logged yet: when the scheduler should
    /// wake up to log it.
    pub fn next_expiry(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.rules
            .iter()
            .zip(&self.expiry_logged)
            .filter(|(r, logged)| r.expires > now && !logged.load(Ordering::Relaxed))
            .map(|(r, _)| r.expires)
            .min()
    }

    /// Rules that expired at or before `now` and were not reported yet; each is returned once.
    pub fn take_newly_expired(&self, now: OffsetDateTime) -> Vec<&ExceptionRule> {
        self.rules
            .iter()
            .zip(&self.expiry_logged)
            .filter(|(r, logged)| r.expires <= now && !logged.swap(true, Ordering::Relaxed))
            .map(|(r, _)| r)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::FindingKind;

    fn key(repo: &str, kind: FindingKind) -> FindingKey {
        FindingKey {
            account_id: "111111111111".into(),
            region: "eu-west-1".into(),
            repository: repo.into(),
            kind,
            detail: String::new(),
        }
    }

    fn rule(repo: &str, kind: FindingKind, expires: i64) -> ExceptionRule {
        ExceptionRule {
            account_id: None,
            region: Some("eu-west-1".parse().unwrap()),
            repository: repo.into(),
            finding: kind,
            reason: "accepted".into(),
            expires: OffsetDateTime::from_unix_timestamp(expires).unwrap(),
        }
    }

    #[test]
    fn glob_table() {
        let cases = [
            ("*", "", true),
            ("*", "team/app", true),
            ("team/*", "team/app", true),
            ("team/*", "team/a/b", true),
            ("team/*", "other/app", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*-public", "base-images-public", true),
            ("*-public", "base-images-private", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("", "", true),
            ("", "x", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(glob_match(p, t), want, "glob {p:?} on {t:?}");
        }
    }

    #[test]
    fn covers_checks_kind_account_region_and_glob() {
        let r = rule("public/*", FindingKind::PublicExposure, 100);
        assert!(r.covers(&key("public/base", FindingKind::PublicExposure)));
        assert!(!r.covers(&key("public/base", FindingKind::MissingTag)));
        assert!(!r.covers(&key("private/base", FindingKind::PublicExposure)));
        let mut other_region = key("public/base", FindingKind::PublicExposure);
        other_region.region = "us-east-1".into();
        assert!(!r.covers(&other_region));
        let mut acc = r.clone();
        acc.account_id = Some("222222222222".parse().unwrap());
        assert!(!acc.covers(&key("public/base", FindingKind::PublicExposure)));
    }

    #[test]
    fn latest_expiry_wins_and_expiry_is_reported_once() {
        let ex = Exceptions::new(vec![
            rule("*", FindingKind::PublicExposure, 100),
            rule("app", FindingKind::PublicExposure, 200),
        ]);
        let s = ex
            .suppression_for(&key("app", FindingKind::PublicExposure))
            .unwrap();
        assert_eq!(s.expires.unix_timestamp(), 200);
        let t = |s| OffsetDateTime::from_unix_timestamp(s).unwrap();
        assert!(s.active_at(t(199)));
        assert!(!s.active_at(t(200)));
        assert_eq!(ex.next_expiry(t(50)), Some(t(100)));
        assert_eq!(ex.take_newly_expired(t(150)).len(), 1);
        assert!(ex.take_newly_expired(t(150)).is_empty());
        assert_eq!(ex.next_expiry(t(150)), Some(t(200)));
        assert_eq!(ex.counts(t(150)), (1, 1));
    }
}
