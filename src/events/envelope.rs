//! Reading one queue message: an EventBridge event carrying a CloudTrail record of an ECR call,
//! turned into what to rescan.
//!
//! Nothing here decides a verdict: an event only names *where* something changed (account,
//! region, repository or registry). The rescan reads the current state from AWS, so a
//! duplicate, a replay or an out-of-order event cannot make a finding wrong. Pure: no I/O.

use serde::Deserialize;
use time::OffsetDateTime;

use crate::model::is_account_id;
use time::format_description::well_known::Rfc3339;

/// The CloudTrail calls that change what the exporter reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventName {
    SetRepositoryPolicy,
    DeleteRepositoryPolicy,
    CreateRepository,
    DeleteRepository,
    TagResource,
    UntagResource,
    PutRegistryPolicy,
    DeleteRegistryPolicy,
}

impl EventName {
    /// Every event name, for metrics that start at zero.
    pub const ALL: [EventName; 8] = [
        EventName::SetRepositoryPolicy,
        EventName::DeleteRepositoryPolicy,
        EventName::CreateRepository,
        EventName::DeleteRepository,
        EventName::TagResource,
        EventName::UntagResource,
        EventName::PutRegistryPolicy,
        EventName::DeleteRegistryPolicy,
    ];

    /// The CloudTrail `eventName`, which is also the metric label value: users match it
    /// against their CloudTrail and EventBridge rules as written.
    pub fn as_label(self) -> &'static str {
        match self {
            EventName::SetRepositoryPolicy => "SetRepositoryPolicy",
            EventName::DeleteRepositoryPolicy => "DeleteRepositoryPolicy",
            EventName::CreateRepository => "CreateRepository",
            EventName::DeleteRepository => "DeleteRepository",
            EventName::TagResource => "TagResource",
            EventName::UntagResource => "UntagResource",
            EventName::PutRegistryPolicy => "PutRegistryPolicy",
            EventName::DeleteRegistryPolicy => "DeleteRegistryPolicy",
        }
    }

    fn parse(name: &str) -> Option<EventName> {
        EventName::ALL.into_iter().find(|e| e.as_label() == name)
    }

    fn is_registry(self) -> bool {
        matches!(
            self,
            EventName::PutRegistryPolicy | EventName::DeleteRegistryPolicy
        )
    }
}

/// What an event asks to be read again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rescan {
    /// One repository: its existence, policy and tags.
    Repository(String),
    /// The registry policy (and its scope) of the account and region.
    Registry,
}

/// A change worth a rescan, located in one account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeEvent {
    /// The EventBridge event id, for logs.
    pub id: String,
    pub event_name: EventName,
    /// The account that owns the resource (`detail.recipientAccountId`, else `account`).
    pub account_id: String,
    pub region: String,
    pub rescan: Rescan,
    /// When the call happened (`detail.eventTime`, else the envelope's `time`): the start of
    /// the detection latency.
    pub event_time: Option<OffsetDateTime>,
}

/// Why a message leads to no rescan; each is a bounded metric label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// Not JSON, not an EventBridge envelope, or missing the fields a rescan needs.
    Malformed(String),
    /// A well-formed event of another source or call.
    UnknownEvent { source: String, event_name: String },
    /// The call failed (`detail.errorCode`), so nothing changed.
    FailedCall { event_name: EventName },
}

impl Ignored {
    pub fn as_label(&self) -> &'static str {
        match self {
            Ignored::Malformed(_) => "malformed",
            Ignored::UnknownEvent { .. } => "unknown_event",
            Ignored::FailedCall { .. } => "failed_call",
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    id: String,
    source: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    time: Option<String>,
    detail: Detail,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detail {
    #[serde(default)]
    event_name: Option<String>,
    #[serde(default)]
    aws_region: Option<String>,
    #[serde(default)]
    recipient_account_id: Option<String>,
    #[serde(default)]
    event_time: Option<String>,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    request_parameters: Option<RequestParameters>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestParameters {
    #[serde(default)]
    repository_name: Option<String>,
    #[serde(default)]
    resource_arn: Option<String>,
    #[serde(default)]
    registry_id: Option<String>,
}

const SOURCE: &str = "aws.ecr";
const DETAIL_TYPE: &str = "AWS API Call via CloudTrail";

/// Read one message body.
pub fn parse_message(body: &str) -> Result<ChangeEvent, Ignored> {
    let env: Envelope = serde_json::from_str(body)
        .map_err(|e| Ignored::Malformed(format!("not an EventBridge event: {e}")))?;
    let raw_name = env.detail.event_name.clone().unwrap_or_default();
    if env.source != SOURCE || env.detail_type != DETAIL_TYPE {
        return Err(Ignored::UnknownEvent {
            source: env.source,
            event_name: raw_name,
        });
    }
    let Some(event_name) = EventName::parse(&raw_name) else {
        return Err(Ignored::UnknownEvent {
            source: env.source,
            event_name: raw_name,
        });
    };
    if env.detail.error_code.is_some() {
        return Err(Ignored::FailedCall { event_name });
    }
    let params = env.detail.request_parameters.as_ref();
    let account_id = env
        .detail
        .recipient_account_id
        .clone()
        .or_else(|| params.and_then(|p| p.registry_id.clone()))
        .or(env.account.clone())
        .filter(|a| is_account_id(a))
        .ok_or_else(|| Ignored::Malformed("no 12-digit account id".into()))?;
    let region = env
        .detail
        .aws_region
        .clone()
        .or(env.region.clone())
        .filter(|r| !r.is_empty())
        .ok_or_else(|| Ignored::Malformed("no region".into()))?;
    let rescan = if event_name.is_registry() {
        Rescan::Registry
    } else {
        let name = params
            .and_then(repository_named)
            .ok_or_else(|| Ignored::Malformed(format!("{raw_name} without a repository name")))?;
        Rescan::Repository(name)
    };
    let event_time = env
        .detail
        .event_time
        .as_deref()
        .or(env.time.as_deref())
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
    Ok(ChangeEvent {
        id: env.id,
        event_name,
        account_id,
        region,
        rescan,
        event_time,
    })
}

/// The repository a call names: `repositoryName`, or the last part of a tagging call's
/// `resourceArn` (`arn:aws:ecr:<region>:<account>:repository/<name>`; names may contain `/`).
fn repository_named(p: &RequestParameters) -> Option<String> {
    if let Some(name) = p.repository_name.as_deref().filter(|n| !n.is_empty()) {
        return Some(name.to_string());
    }
    let arn = p.resource_arn.as_deref()?;
    let resource = arn.splitn(6, ':').nth(5)?;
    resource
        .strip_prefix("repository/")
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, params: &str, extra: &str) -> String {
        format!(
            r#"{{"version":"0","id":"ev-1","detail-type":"AWS API Call via CloudTrail",
            "source":"aws.ecr","account":"111111111111","time":"2026-12-06T10:00:00Z",
            "region":"eu-west-1","resources":[],
            "detail":{{"eventSource":"ecr.amazonaws.com","eventName":"{name}",
            "awsRegion":"eu-west-1","eventTime":"2026-12-06T09:59:58Z",
            "recipientAccountId":"222222222222","requestParameters":{params}{extra}}}}}"#
        )
    }

    #[test]
    fn a_policy_change_names_its_repository() {
        let ev = parse_message(&event(
            "SetRepositoryPolicy",
            r#"{"repositoryName":"team/app","policyText":"{}"}"#,
            "",
        ))
        .unwrap();
        assert_eq!(ev.id, "ev-1");
        assert_eq!(ev.event_name, EventName::SetRepositoryPolicy);
        assert_eq!(
            ev.account_id, "222222222222",
            "recipient, not the bus account"
        );
        assert_eq!(ev.region, "eu-west-1");
        assert_eq!(ev.rescan, Rescan::Repository("team/app".into()));
        assert_eq!(
            ev.event_time,
            Some(OffsetDateTime::parse("2026-12-06T09:59:58Z", &Rfc3339).unwrap())
        );
    }

    #[test]
    fn tagging_calls_name_the_repository_by_arn() {
        let ev = parse_message(&event(
            "TagResource",
            r#"{"resourceArn":"arn:aws:ecr:eu-west-1:222222222222:repository/a/b","tags":[]}"#,
            "",
        ))
        .unwrap();
        assert_eq!(ev.rescan, Rescan::Repository("a/b".into()));
    }

    #[test]
    fn registry_calls_rescan_the_registry() {
        for name in ["PutRegistryPolicy", "DeleteRegistryPolicy"] {
            let ev = parse_message(&event(name, "{}", "")).unwrap();
            assert_eq!(ev.rescan, Rescan::Registry, "{name}");
        }
    }

    #[test]
    fn the_envelope_fills_in_what_the_detail_lacks() {
        let body = r#"{"id":"x","detail-type":"AWS API Call via CloudTrail","source":"aws.ecr",
            "account":"333333333333","region":"us-east-2","time":"2026-12-06T10:00:00Z",
            "detail":{"eventName":"DeleteRepository","requestParameters":{"repositoryName":"r"}}}"#;
        let ev = parse_message(body).unwrap();
        assert_eq!(ev.account_id, "333333333333");
        assert_eq!(ev.region, "us-east-2");
        assert_eq!(ev.event_name.as_label(), "DeleteRepository");
        assert!(ev.event_time.is_some());
    }

    #[test]
    fn unusable_messages_say_why() {
        let cases = [
            ("not json", "malformed"),
            (r#"{"source":"aws.ecr"}"#, "malformed"),
            (&event("SetRepositoryPolicy", "{}", "") as &str, "malformed"),
            (
                &event("PutImage", r#"{"repositoryName":"r"}"#, ""),
                "unknown_event",
            ),
            (
                &event(
                    "SetRepositoryPolicy",
                    r#"{"repositoryName":"r"}"#,
                    r#","errorCode":"AccessDenied""#,
                ),
                "failed_call",
            ),
            (
                &event("SetRepositoryPolicy", r#"{"repositoryName":"r"}"#, "")
                    .replace("aws.ecr", "aws.s3"),
                "unknown_event",
            ),
            (
                &event("SetRepositoryPolicy", r#"{"repositoryName":"r"}"#, "")
                    .replace("222222222222", "22")
                    .replace("111111111111", "11"),
                "malformed",
            ),
        ];
        for (body, want) in cases {
            let got = parse_message(body).expect_err(body);
            assert_eq!(got.as_label(), want, "{body}");
        }
    }

    #[test]
    fn every_event_name_round_trips() {
        for e in EventName::ALL {
            assert_eq!(EventName::parse(e.as_label()), Some(e));
        }
    }
}
