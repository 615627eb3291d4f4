//! Collection: one scan cycle over every target, each target -> [`TargetFacts`].
//!
//! Per target: `DescribeRepositories` (1000 per page), `GetRepositoryPolicy` per repository
//! (bounded by `aws.per_target_concurrency`), tags from the tagging API's `GetResources`
//! joined on ARN (never-tagged repositories are absent there and get no tags; when it is
//! denied, `ListTagsForResource` per repository), `GetRegistryPolicy` and the registry policy
//! scope (`GetAccountSetting REGISTRY_POLICY_SCOPE`).
//!
//! Failures stay local: a target that cannot be listed is a failed [`TargetOutcome`] and every
//! other target still completes; a policy that cannot be read is `Unreadable` with a reason,
//! never "no policy". Observes only: no analysis here, and every call goes through [`Aws`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use aws_smithy_types::date_time::Format;
use futures::StreamExt;

use crate::analysis::AnalysisSettings;
use crate::analysis::policy::RegistryScope;
use crate::aws::{ApiCallStats, ApiErrorCode, Aws, CallError};
use crate::config::Config;
use crate::discovery::{self, Discovery, Target};
use crate::facts::{
    PolicyFetch, RegistryFacts, RepositoryFacts, TagsSource, TargetError, TargetErrorCode,
    TargetFacts, TargetId, TargetOutcome, UnknownReason,
};

/// Everything a cycle needs, built once and shared by `scan --once` and the daemon.
#[derive(Debug, Clone)]
pub struct ScanContext {
    pub config: Arc<Config>,
    /// Client factory and call gate; holds the call counters and the credentials cache,
    /// so keep one context for the life of the process.
    pub aws: Aws,
}

impl ScanContext {
    /// Build the AWS side from the configuration (reads the ambient environment; no calls).
    pub async fn new(config: Config) -> ScanContext {
        Self::with_stats(config, Arc::new(ApiCallStats::new())).await
    }

    /// As [`ScanContext::new`], counting into `stats` (the daemon's metrics read these).
    pub async fn with_stats(config: Config, stats: Arc<ApiCallStats>) -> ScanContext {
        let aws = Aws::new(&config.aws, stats).await;
        ScanContext {
            config: Arc::new(config),
            aws,
        }
    }

    pub fn stats(&self) -> &Arc<ApiCallStats> {
        self.aws.stats()
    }
}

/// The result of one cycle.
#[derive(Debug, Clone)]
pub struct Cycle {
    /// One per target (scanned or failed), sorted by target.
    pub outcomes: Vec<TargetOutcome>,
    /// Trust zone and tag rules for analysing this cycle, including what discovery added.
    pub settings: AnalysisSettings,
    /// The organization id, with organizations discovery.
    pub organization_id: Option<String>,
    pub duration_seconds: f64,
}

impl Cycle {
    /// Whether any target failed.
    pub fn any_failed(&self) -> bool {
        self.outcomes.iter().any(|o| o.result.is_err())
    }
}

/// Run one full cycle: discovery, then every target concurrently (bounded by
/// `scan.target_concurrency`), under the `scan.timeout` deadline.
pub async fn run_cycle(ctx: &ScanContext) -> Cycle {
    let started = Instant::now();
    let config = &ctx.config;
    let deadline = tokio::time::Instant::now() + config.scan.timeout;
    let discovery =
        match tokio::time::timeout_at(deadline, discovery::discover(&ctx.aws, config)).await {
            Ok(Ok(d)) => d,
            Ok(Err(err)) => return failed_cycle(config, err, started),
            Err(_) => {
                return failed_cycle(
                    config,
                    TargetError {
                        code: TargetErrorCode::Timeout,
                        message: "discovery did not finish within scan.timeout".into(),
                    },
                    started,
                );
            }
        };
    let settings = discovery.analysis_settings(config);
    let Discovery {
        organization_id,
        targets,
        failures,
        ..
    } = discovery;
    tracing::info!(
        targets = targets.len(),
        failed = failures.len(),
        "discovery done"
    );

    let mut outcomes: Vec<TargetOutcome> = futures::stream::iter(targets)
        .map(|target| scan_one(ctx, target, deadline))
        .buffer_unordered(config.scan.target_concurrency.max(1))
        .collect()
        .await;
    outcomes.extend(failures.into_iter().map(|(target, err)| TargetOutcome {
        target,
        result: Err(err),
        duration_seconds: 0.0,
    }));
    outcomes.sort_by(|a, b| a.target.cmp(&b.target));
    Cycle {
        outcomes,
        settings,
        organization_id,
        duration_seconds: started.elapsed().as_secs_f64(),
    }
}

async fn scan_one(
    ctx: &ScanContext,
    target: Target,
    deadline: tokio::time::Instant,
) -> TargetOutcome {
    let t0 = Instant::now();
    let result =
        match tokio::time::timeout_at(deadline, collect_target(&ctx.aws, &ctx.config, &target))
            .await
        {
            Ok(r) => r,
            Err(_) => Err(TargetError {
                code: TargetErrorCode::Timeout,
                message: "target did not finish within scan.timeout".into(),
            }),
        };
    if let Err(e) = &result {
        tracing::warn!(target = %target.id, code = %e.code, error = %e.message, "target scan failed");
    }
    TargetOutcome {
        target: target.id,
        result,
        duration_seconds: t0.elapsed().as_secs_f64(),
    }
}

fn failed_cycle(config: &Config, err: TargetError, started: Instant) -> Cycle {
    tracing::error!(code = %err.code, error = %err.message, "discovery failed; nothing scanned");
    Cycle {
        outcomes: vec![TargetOutcome {
            target: TargetId {
                account_id: discovery::ALL_REGIONS.to_string(),
                region: discovery::ALL_REGIONS.to_string(),
            },
            result: Err(err),
            duration_seconds: started.elapsed().as_secs_f64(),
        }],
        settings: AnalysisSettings::from_config(config),
        organization_id: None,
        duration_seconds: started.elapsed().as_secs_f64(),
    }
}

/// Why a target could not be listed, as a bounded code.
fn listing_error(err: &CallError) -> TargetError {
    let code = match err.aws_code.as_deref() {
        Some(
            "UnrecognizedClientException" | "InvalidClientTokenId" | "RegionDisabledException",
        ) => TargetErrorCode::RegionUnavailable,
        _ => discovery::code_for(err.class),
    };
    TargetError {
        code,
        message: format!("ecr:DescribeRepositories: {}", err.message),
    }
}

fn unknown_reason(class: ApiErrorCode) -> UnknownReason {
    match class {
        ApiErrorCode::AccessDenied => UnknownReason::AccessDenied,
        ApiErrorCode::Throttling => UnknownReason::Throttled,
        _ => UnknownReason::Error,
    }
}

/// Collect one target. `Err` only when its repositories cannot be listed.
pub async fn collect_target(
    aws: &Aws,
    config: &Config,
    target: &Target,
) -> Result<TargetFacts, TargetError> {
    let region = target.id.region.as_str();
    let ecr = aws.ecr(&target.credentials, region);

    // 1. inventory
    let mut listed: Vec<(String, String, Option<String>)> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let call = ecr
            .describe_repositories()
            .max_results(1000)
            .set_next_token(token.clone())
            .send();
        let page = aws
            .send("ecr", "DescribeRepositories", call)
            .await
            .map_err(|e| listing_error(&e))?;
        for r in page.repositories() {
            if let (Some(name), Some(arn)) = (r.repository_name(), r.repository_arn()) {
                let created = r.created_at().and_then(|t| t.fmt(Format::DateTime).ok());
                listed.push((name.to_string(), arn.to_string(), created));
            }
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }

    // 2. policies, tags and the registry, concurrently
    let per_target = config.aws.per_target_concurrency.max(1);
    let names: Vec<String> = listed.iter().map(|(n, _, _)| n.clone()).collect();
    let policies = futures::stream::iter(names)
        .map(|name| repository_policy(aws, &ecr, name))
        .buffered(per_target)
        .collect::<Vec<_>>();
    let tags = repository_tags(aws, target, &ecr, &listed, per_target);
    let registry = registry_facts(aws, &ecr);
    let (policies, mut tags, registry) = tokio::join!(policies, tags, registry);

    let repositories = listed
        .into_iter()
        .zip(policies)
        .filter_map(|((name, arn, created_at), policy)| {
            // A repository deleted since it was listed is gone: not reported.
            let policy = policy?;
            let (tags, tags_source) = tags.remove(&arn).unwrap_or_default();
            Some(RepositoryFacts {
                name,
                arn,
                created_at,
                tags,
                tags_source,
                policy,
            })
        })
        .collect();
    Ok(TargetFacts {
        target: target.id.clone(),
        repositories,
        registry: Some(registry),
    })
}

/// `None` when the repository no longer exists.
async fn repository_policy(
    aws: &Aws,
    ecr: &aws_sdk_ecr::Client,
    name: String,
) -> Option<PolicyFetch> {
    let call = ecr.get_repository_policy().repository_name(name).send();
    match aws.send("ecr", "GetRepositoryPolicy", call).await {
        Ok(out) => Some(match out.policy_text() {
            Some(text) => PolicyFetch::Text {
                text: text.to_string(),
            },
            None => PolicyFetch::None,
        }),
        Err(e) => match e.aws_code.as_deref() {
            Some("RepositoryPolicyNotFoundException") => Some(PolicyFetch::None),
            Some("RepositoryNotFoundException") => None,
            _ => Some(PolicyFetch::Unreadable {
                reason: unknown_reason(e.class),
                message: e.message,
            }),
        },
    }
}

type TagMap = HashMap<String, (BTreeMap<String, String>, TagsSource)>;

/// Tags by repository ARN. From `GetResources`; repositories it does not return were never
/// tagged. When it is denied, `ListTagsForResource` per repository; when that fails too, or
/// `GetResources` fails otherwise, the repository's tags are `Unavailable`.
async fn repository_tags(
    aws: &Aws,
    target: &Target,
    ecr: &aws_sdk_ecr::Client,
    listed: &[(String, String, Option<String>)],
    per_target: usize,
) -> TagMap {
    let mut out: TagMap = HashMap::new();
    if listed.is_empty() {
        return out;
    }
    let tagging = aws.tagging(&target.credentials, &target.id.region);
    let mut found: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    let mut token: Option<String> = None;
    let failure = loop {
        let call = tagging
            .get_resources()
            .resource_type_filters("ecr:repository")
            .resources_per_page(100)
            .set_pagination_token(token.clone())
            .send();
        match aws.send("tagging", "GetResources", call).await {
            Ok(page) => {
                for m in page.resource_tag_mapping_list() {
                    if let Some(arn) = m.resource_arn() {
                        found.insert(
                            arn.to_string(),
                            m.tags()
                                .iter()
                                .map(|t| (t.key().to_string(), t.value().to_string()))
                                .collect(),
                        );
                    }
                }
                token = page
                    .pagination_token()
                    .filter(|t| !t.is_empty())
                    .map(str::to_string);
                if token.is_none() {
                    break None;
                }
            }
            Err(e) => break Some(e),
        }
    };
    match failure {
        None => {
            for (_, arn, _) in listed {
                let tags = found.remove(arn).unwrap_or_default();
                out.insert(arn.clone(), (tags, TagsSource::TaggingApi));
            }
        }
        Some(e) if e.class == ApiErrorCode::AccessDenied => {
            tracing::info!(target = %target.id, "tagging:GetResources denied; falling back to ecr:ListTagsForResource");
            let arns: Vec<String> = listed.iter().map(|(_, a, _)| a.clone()).collect();
            let fetched = futures::stream::iter(arns)
                .map(|arn| list_tags(aws, ecr, arn))
                .buffer_unordered(per_target)
                .collect::<Vec<_>>()
                .await;
            out.extend(fetched);
        }
        Some(_) => {
            for (_, arn, _) in listed {
                out.insert(arn.clone(), (BTreeMap::new(), TagsSource::Unavailable));
            }
        }
    }
    out
}

/// The fallback: one repository's tags from ECR itself.
async fn list_tags(
    aws: &Aws,
    ecr: &aws_sdk_ecr::Client,
    arn: String,
) -> (String, (BTreeMap<String, String>, TagsSource)) {
    let call = ecr.list_tags_for_resource().resource_arn(&arn).send();
    let tags = match aws.send("ecr", "ListTagsForResource", call).await {
        Ok(o) => (
            o.tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
            TagsSource::ListTagsForResource,
        ),
        Err(_) => (BTreeMap::new(), TagsSource::Unavailable),
    };
    (arn, tags)
}

/// The registry policy and its scope; an unreadable scope is analysed as V2 (spec §10).
async fn registry_facts(aws: &Aws, ecr: &aws_sdk_ecr::Client) -> RegistryFacts {
    let policy_call = ecr.get_registry_policy().send();
    let scope_call = ecr
        .get_account_setting()
        .name("REGISTRY_POLICY_SCOPE")
        .send();
    let (policy, scope) = tokio::join!(
        aws.send("ecr", "GetRegistryPolicy", policy_call),
        aws.send("ecr", "GetAccountSetting", scope_call)
    );
    let policy = match policy {
        Ok(out) => match out.policy_text() {
            Some(text) => PolicyFetch::Text {
                text: text.to_string(),
            },
            None => PolicyFetch::None,
        },
        Err(e) if e.aws_code.as_deref() == Some("RegistryPolicyNotFoundException") => {
            PolicyFetch::None
        }
        Err(e) => PolicyFetch::Unreadable {
            reason: unknown_reason(e.class),
            message: e.message,
        },
    };
    let (scope, scope_known) = match scope.as_ref().map(|o| o.value()) {
        Ok(Some(v)) if v.eq_ignore_ascii_case("V1") => (RegistryScope::V1, true),
        Ok(Some(v)) if v.eq_ignore_ascii_case("V2") => (RegistryScope::V2, true),
        _ => (RegistryScope::V2, false),
    };
    RegistryFacts {
        policy,
        scope,
        scope_known,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(class: ApiErrorCode, code: Option<&str>) -> CallError {
        CallError {
            class,
            aws_code: code.map(str::to_string),
            message: "m".into(),
        }
    }

    #[test]
    fn listing_errors_map_to_bounded_target_codes() {
        for (e, want) in [
            (
                err(ApiErrorCode::AccessDenied, Some("AccessDeniedException")),
                "access_denied",
            ),
            (
                err(ApiErrorCode::Throttling, Some("ThrottlingException")),
                "throttled",
            ),
            (err(ApiErrorCode::Timeout, None), "timeout"),
            (
                err(
                    ApiErrorCode::AccessDenied,
                    Some("UnrecognizedClientException"),
                ),
                "region_unavailable",
            ),
            (err(ApiErrorCode::Other, Some("InternalFailure")), "error"),
        ] {
            assert_eq!(listing_error(&e).code, want, "{e:?}");
        }
    }

    #[test]
    fn unreadable_policies_keep_a_reason() {
        assert_eq!(
            unknown_reason(ApiErrorCode::AccessDenied),
            UnknownReason::AccessDenied
        );
        assert_eq!(
            unknown_reason(ApiErrorCode::Throttling),
            UnknownReason::Throttled
        );
        assert_eq!(unknown_reason(ApiErrorCode::Timeout), UnknownReason::Error);
    }
}
