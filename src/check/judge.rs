//! Judging: one policy text on one resolved [`Subject`] -> one [`Outcome`], with the engine
//! the daemon uses ([`crate::analysis::policy::analyze`]); and the required-tag check of an
//! IaC repository.
//!
//! [`Outcome`] is the one typed form of "verdict or why there is none" in `check`: records,
//! text, JSON lines, SARIF and the exit status are all derived from it.
//!
//! It does NOT choose defaults (owner account, region, repository ARN): the caller passes
//! a [`Subject`] with everything decided ([`super::options`] decides, and notes what it
//! assumed). It renders nothing and does no I/O.

use std::borrow::Cow;

use crate::analysis::policy::{self, PolicyError, RegistryScope, Trust, Verdict};
use crate::analysis::tags;
use crate::cli::FailOn;
use crate::iac::{IacError, TagsSource};

/// Error code of a policy that cannot be known before deploy.
pub const UNKNOWN_CODE: &str = "unknown_before_deploy";

/// What `check` made of one policy file or one IaC resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The resource sets no policy: nothing is exposed through it.
    None,
    Ok(Verdict),
    /// Known only at deploy: never "not exposed", and it fails the gate unless
    /// `--fail-on never`.
    Unknown {
        path: String,
        reason: String,
    },
    /// Could not be judged (a policy the engine rejects, or a file that cannot be read as
    /// what it claims to be): exit status 2, never "not exposed".
    Invalid(Problem),
}

/// Why an input could not be judged, with the stable code the JSON and SARIF carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub code: &'static str,
    pub message: String,
}

impl Problem {
    /// `code` is one of the stable codes documented for `error.code` (`invalid_json`,
    /// `too_large`, `unreadable`, ...): consumers match on it.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Problem {
            code,
            message: message.into(),
        }
    }
}

impl From<PolicyError> for Problem {
    /// The element path goes into the message, so one string tells a reviewer where to look.
    fn from(e: PolicyError) -> Self {
        let message = if e.path.is_empty() {
            e.message
        } else {
            format!("{} (at {})", e.message, e.path)
        };
        Problem::new(e.code.as_str(), message)
    }
}

impl From<IacError> for Problem {
    fn from(e: IacError) -> Self {
        Problem::new(e.code, e.message)
    }
}

impl Outcome {
    /// Whether the outcome is at or above the `--fail-on` threshold. Unknown counts
    /// whenever a threshold is set: the gate cannot show it safe.
    pub fn fails(&self, fail_on: FailOn) -> bool {
        match self {
            Outcome::Ok(v) => match fail_on {
                FailOn::Public => v.public,
                FailOn::CrossAccount => v.public || v.cross_account,
                FailOn::Never => false,
            },
            Outcome::Unknown { .. } => fail_on != FailOn::Never,
            Outcome::None | Outcome::Invalid(_) => false,
        }
    }

    /// Invalid input makes the exit status 2 (an unknown policy does not: it is a finding).
    pub fn is_invalid(&self) -> bool {
        matches!(self, Outcome::Invalid(_))
    }

    /// The `policy_state` of IaC records: `none`, `ok`, `unknown` or `invalid`.
    pub fn state(&self) -> &'static str {
        match self {
            Outcome::None => "none",
            Outcome::Ok(_) => "ok",
            Outcome::Unknown { .. } => "unknown",
            Outcome::Invalid(_) => "invalid",
        }
    }

    /// The record's `error`: code and message, for the outcomes that have no verdict.
    pub fn error(&self) -> Option<(&'static str, Cow<'_, str>)> {
        match self {
            Outcome::None | Outcome::Ok(_) => None,
            Outcome::Unknown { path, reason } => {
                Some((UNKNOWN_CODE, Cow::Owned(format!("{reason} (at {path})"))))
            }
            Outcome::Invalid(p) => Some((p.code, Cow::Borrowed(p.message.as_str()))),
        }
    }
}

/// What a policy is judged as attached to, every default already decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// Trust zone, with the owner account (given or synthetic).
    pub trust: Trust,
    pub attached: Attached,
}

/// The resource the engine matches `Resource` against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attached {
    Repository {
        arn: String,
    },
    Registry {
        region: String,
        scope: RegistryScope,
    },
}

/// Judge one policy text. Repository tags are never passed to the engine: anyone allowed
/// `ecr:TagResource` can change them after deploy, so tag conditions stay unknown (spec
/// §12.7, as for any offline check).
pub fn judge(subject: &Subject, text: &str) -> Outcome {
    let trust = &subject.trust;
    let result = match &subject.attached {
        Attached::Repository { arn } => policy::analyze(
            text,
            &policy::Subject::Repository { arn, tags: None },
            trust,
        ),
        Attached::Registry { region, scope } => policy::analyze(
            text,
            &policy::Subject::Registry {
                account_id: &trust.owner_account,
                region,
                scope: *scope,
            },
            trust,
        ),
    };
    match result {
        Ok(v) => Outcome::Ok(v),
        Err(e) => Outcome::Invalid(e.into()),
    }
}

/// The required-tag check of an IaC resource: the keys absent or empty, and why the check
/// could not be made when the whole tag set is known only at deploy.
pub fn required_tags(tags: &TagsSource, required: &[String]) -> (Vec<String>, Option<String>) {
    match tags {
        TagsSource::Known { tags: t } => (tags::missing_tags(t, required), None),
        TagsSource::Unknown { path, reason } => (Vec::new(), Some(format!("{path}: {reason}"))),
        TagsSource::NotApplicable => (Vec::new(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn repo(owner: &str) -> Subject {
        Subject {
            trust: Trust {
                owner_account: owner.to_string(),
                ..Trust::default()
            },
            attached: Attached::Repository {
                arn: format!("arn:aws:ecr:eu-west-1:{owner}:repository/r"),
            },
        }
    }

    #[test]
    fn the_same_text_judged_for_two_owners() {
        let text = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"ecr:*"}}"#;
        let own = judge(&repo("111111111111"), text);
        assert!(
            matches!(&own, Outcome::Ok(v) if !v.public && !v.cross_account),
            "{own:?}"
        );
        let other = judge(&repo("999999999999"), text);
        assert!(
            matches!(&other, Outcome::Ok(v) if !v.public && v.cross_account),
            "{other:?}"
        );
        assert!(other.fails(FailOn::CrossAccount) && !other.fails(FailOn::Public));
        assert_eq!(other.state(), "ok");
        assert_eq!(other.error(), None);
    }

    #[test]
    fn unknown_fails_unless_never_and_is_not_invalid() {
        let unknown = Outcome::Unknown {
            path: "a.policy".into(),
            reason: "after apply".into(),
        };
        assert!(unknown.fails(FailOn::Public) && unknown.fails(FailOn::CrossAccount));
        assert!(!unknown.fails(FailOn::Never));
        assert!(!unknown.is_invalid());
        assert_eq!(
            unknown.error(),
            Some((UNKNOWN_CODE, "after apply (at a.policy)".into()))
        );
        assert_eq!(unknown.state(), "unknown");
        assert!(!Outcome::None.fails(FailOn::CrossAccount));
        assert_eq!(Outcome::None.error(), None);
    }

    #[test]
    fn invalid_policy_names_the_element() {
        let bad = judge(
            &repo("111111111111"),
            r#"{"Statement":{"Effect":"Allow","Effect":"Deny"}}"#,
        );
        assert!(bad.is_invalid() && !bad.fails(FailOn::CrossAccount));
        let (code, message) = bad.error().unwrap();
        assert_eq!(code, "duplicate_key");
        assert!(message.ends_with("(at Statement.Effect)"), "{message}");
    }

    #[test]
    fn required_tags_by_tag_state() {
        let known = TagsSource::Known {
            tags: BTreeMap::from([("owner".to_string(), " ".to_string())]),
        };
        let want = vec!["owner".to_string(), "team".to_string()];
        assert_eq!(required_tags(&known, &want), (want.clone(), None));
        let unknown = TagsSource::Unknown {
            path: "r.tags".into(),
            reason: "after apply".into(),
        };
        assert_eq!(
            required_tags(&unknown, &want),
            (vec![], Some("r.tags: after apply".into()))
        );
        assert_eq!(
            required_tags(&TagsSource::NotApplicable, &want),
            (vec![], None)
        );
    }
}
