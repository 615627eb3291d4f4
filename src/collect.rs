//! Collection: one target -> [`TargetFacts`], through the [`EcrApi`] seam.
//!
//! Per target: `DescribeRepositories` (1000 per page), `GetRepositoryPolicy` per repository
//! (bounded by `aws.per_target_concurrency`), tags, `GetRegistryPolicy` and the registry
//! policy scope (`GetAccountSetting REGISTRY_POLICY_SCOPE`). Tags follow `tags.source`: with
//! `tagging_api` (the default) from the tagging API's `GetResources` joined on ARN
//! (never-tagged repositories are absent there and get no tags; when it is denied,
//! `ListTagsForResource` per repository); with `list_tags_for_resource`, `ListTagsForResource`
//! per repository only.
//!
//! Failures stay local: a target that cannot be listed is `Err` and the caller reports it; a
//! policy that cannot be read is `Unreadable` with a reason, never "no policy". Observes
//! only: no discovery, no fan-out over targets (that is [`crate::cycle`]), no analysis.

use std::collections::{BTreeMap, HashMap};

use futures::StreamExt;

use crate::analysis::policy::RegistryScope;
use crate::aws::ecr::{EcrApi, ListedRepository};
use crate::aws::{ApiErrorCode, CallError, paginate};
use crate::config::{Config, TagSource};
use crate::discovery;
use crate::facts::{
    PolicyFetch, RegistryFacts, RepositoryFacts, TagsSource, TargetError, TargetErrorCode,
    TargetFacts, TargetId, UnknownReason,
};

/// The settings collection reads, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectOptions {
    /// Policy and tag reads in flight per target.
    pub per_target_concurrency: usize,
    pub tags_source: TagSource,
}

impl CollectOptions {
    pub fn from_config(config: &Config) -> CollectOptions {
        CollectOptions {
            per_target_concurrency: config.aws.per_target_concurrency.max(1),
            tags_source: config.tags.source,
        }
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

fn policy_fetch(text: Option<String>) -> PolicyFetch {
    match text {
        Some(text) => PolicyFetch::Text { text },
        None => PolicyFetch::None,
    }
}

/// Collect one target. `Err` only when its repositories cannot be listed.
pub async fn collect_target<A: EcrApi>(
    api: &A,
    options: &CollectOptions,
    target: &TargetId,
) -> Result<TargetFacts, TargetError> {
    // 1. inventory
    let mut listed: Vec<ListedRepository> = Vec::new();
    paginate(
        |token| api.describe_repositories(token),
        |page| {
            listed.extend(page.items);
            page.next_token
        },
    )
    .await
    .map_err(|e| listing_error(&e))?;

    // 2. policies, tags and the registry, concurrently
    let per_target = options.per_target_concurrency.max(1);
    // Owned names and ARNs below: closures over borrowed items trip the `Send` check of the
    // spawned cycle (a higher-ranked lifetime the compiler cannot prove).
    let names: Vec<String> = listed.iter().map(|r| r.name.clone()).collect();
    let policies = futures::stream::iter(names)
        .map(|name| repository_policy(api, name))
        .buffered(per_target)
        .collect::<Vec<_>>();
    let tags = repository_tags(api, options, target, &listed);
    let registry = registry_facts(api);
    let (policies, mut tags, registry) = tokio::join!(policies, tags, registry);

    let repositories = listed
        .into_iter()
        .zip(policies)
        .filter_map(|(r, policy)| {
            // A repository deleted since it was listed is gone: not reported.
            let policy = policy?;
            let (tags, tags_source) = tags.remove(&r.arn).unwrap_or_default();
            Some(RepositoryFacts {
                name: r.name,
                arn: r.arn,
                created_at: r.created_at,
                tags,
                tags_source,
                policy,
            })
        })
        .collect();
    Ok(TargetFacts {
        target: target.clone(),
        repositories,
        registry: Some(registry),
    })
}

/// Collect one repository of a target (an event rescan): `DescribeRepositories` by name,
/// its policy and its tags (`ListTagsForResource`: one call, whatever `tags.source` says).
/// `Ok(None)` when the repository no longer exists; `Err` when it cannot be described.
pub async fn collect_repository<A: EcrApi>(
    api: &A,
    name: &str,
) -> Result<Option<RepositoryFacts>, TargetError> {
    let Some(listed) = api
        .describe_repository(name)
        .await
        .map_err(|e| listing_error(&e))?
    else {
        return Ok(None);
    };
    let (policy, tags) = tokio::join!(
        repository_policy(api, listed.name.clone()),
        api.list_tags_for_resource(&listed.arn)
    );
    // Deleted between the two calls: gone, as in a scan.
    let Some(policy) = policy else {
        return Ok(None);
    };
    let (tags, tags_source) = match tags {
        Ok(tags) => (tags, TagsSource::ListTagsForResource),
        Err(_) => (BTreeMap::new(), TagsSource::Unavailable),
    };
    Ok(Some(RepositoryFacts {
        name: listed.name,
        arn: listed.arn,
        created_at: listed.created_at,
        tags,
        tags_source,
        policy,
    }))
}

/// The registry policy and its scope of a target (an event rescan), exactly as a scan
/// reads them.
pub async fn collect_registry<A: EcrApi>(api: &A) -> RegistryFacts {
    registry_facts(api).await
}

/// `None` when the repository no longer exists.
async fn repository_policy<A: EcrApi>(api: &A, name: String) -> Option<PolicyFetch> {
    match api.get_repository_policy(&name).await {
        Ok(text) => Some(policy_fetch(text)),
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

/// Tags by repository ARN, from the source `tags.source` names (see the module doc): with
/// the tagging API, repositories it does not return were never tagged; when it is denied,
/// `ListTagsForResource` per repository; when that fails too, or `GetResources` fails
/// otherwise, the repository's tags are `Unavailable`.
async fn repository_tags<A: EcrApi>(
    api: &A,
    options: &CollectOptions,
    target: &TargetId,
    listed: &[ListedRepository],
) -> TagMap {
    if listed.is_empty() {
        return TagMap::new();
    }
    if options.tags_source == TagSource::ListTagsForResource {
        return list_tags_each(api, listed, options.per_target_concurrency).await;
    }
    let mut found: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    let walked = paginate(
        |token| api.get_resources(token),
        |page| {
            found.extend(page.items);
            page.next_token
        },
    )
    .await;
    match walked {
        Ok(()) => listed
            .iter()
            .map(|r| {
                let tags = found.remove(&r.arn).unwrap_or_default();
                (r.arn.clone(), (tags, TagsSource::TaggingApi))
            })
            .collect(),
        Err(e) if e.class == ApiErrorCode::AccessDenied => {
            tracing::info!(target = %target, "tagging:GetResources denied; falling back to ecr:ListTagsForResource");
            list_tags_each(api, listed, options.per_target_concurrency).await
        }
        Err(_) => listed
            .iter()
            .map(|r| (r.arn.clone(), (BTreeMap::new(), TagsSource::Unavailable)))
            .collect(),
    }
}

/// Every repository's tags from ECR itself, `per_target` at a time.
async fn list_tags_each<A: EcrApi>(
    api: &A,
    listed: &[ListedRepository],
    per_target: usize,
) -> TagMap {
    let arns: Vec<String> = listed.iter().map(|r| r.arn.clone()).collect();
    futures::stream::iter(arns)
        .map(|arn| async move {
            let tags = match api.list_tags_for_resource(&arn).await {
                Ok(tags) => (tags, TagsSource::ListTagsForResource),
                Err(_) => (BTreeMap::new(), TagsSource::Unavailable),
            };
            (arn, tags)
        })
        .buffer_unordered(per_target.max(1))
        .collect()
        .await
}

/// The registry policy and its scope; an unreadable scope is analysed as V2 (spec §10).
async fn registry_facts<A: EcrApi>(api: &A) -> RegistryFacts {
    let (policy, scope) = tokio::join!(api.get_registry_policy(), api.get_registry_policy_scope());
    let policy = match policy {
        Ok(text) => policy_fetch(text),
        Err(e) if e.aws_code.as_deref() == Some("RegistryPolicyNotFoundException") => {
            PolicyFetch::None
        }
        Err(e) => PolicyFetch::Unreadable {
            reason: unknown_reason(e.class),
            message: e.message,
        },
    };
    let (scope, scope_known) = match scope {
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
mod tests;
