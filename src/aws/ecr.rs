//! The seam below collection: the per-target calls collection makes, one page or one
//! repository at a time, as a trait ([`EcrApi`]) with plain-data answers.
//!
//! [`SdkEcr`] is the real implementation; every call it makes goes through [`Aws::send`]
//! (counted, capped, classified). Tests implement the trait in memory, so collection logic
//! (pagination, not-found handling, fallbacks, per-repository failures) is tested without
//! the emulator. What an answer or an error *means* is decided by collection, not here.

use std::collections::BTreeMap;
use std::future::Future;

use aws_smithy_types::date_time::Format;

use super::{AccountCredentials, Aws, CallError};

/// One repository as `DescribeRepositories` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedRepository {
    pub name: String,
    pub arn: String,
    /// RFC 3339.
    pub created_at: Option<String>,
}

/// One page of an operation: its items and the token of the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// `None` (or empty) on the last page.
    pub next_token: Option<String>,
}

/// A repository's tags as the tagging API returns them: (ARN, tags).
pub type TaggedResource = (String, BTreeMap<String, String>);

/// The per-target calls of collection (ECR, plus the tagging API's `GetResources`).
///
/// Errors are [`CallError`]s with the service's own code kept (`aws_code`), so collection
/// can tell "no policy" from "cannot read the policy".
pub trait EcrApi: Send + Sync {
    /// One `DescribeRepositories` page (up to 1000 repositories).
    fn describe_repositories(
        &self,
        token: Option<String>,
    ) -> impl Future<Output = Result<Page<ListedRepository>, CallError>> + Send;

    /// `DescribeRepositories` of one repository by name (an event rescan): `None` when it
    /// does not exist (`RepositoryNotFoundException`).
    fn describe_repository(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<ListedRepository>, CallError>> + Send;

    /// `GetRepositoryPolicy`: the policy text, `None` when the answer carries none.
    fn get_repository_policy(
        &self,
        repository: &str,
    ) -> impl Future<Output = Result<Option<String>, CallError>> + Send;

    /// One tagging-API `GetResources` page of ECR repositories (up to 100).
    fn get_resources(
        &self,
        token: Option<String>,
    ) -> impl Future<Output = Result<Page<TaggedResource>, CallError>> + Send;

    /// `ListTagsForResource` for one repository ARN.
    fn list_tags_for_resource(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, String>, CallError>> + Send;

    /// `GetRegistryPolicy`: the text, `None` when the answer carries none.
    fn get_registry_policy(&self)
    -> impl Future<Output = Result<Option<String>, CallError>> + Send;

    /// `GetAccountSetting REGISTRY_POLICY_SCOPE`: the setting's value.
    fn get_registry_policy_scope(
        &self,
    ) -> impl Future<Output = Result<Option<String>, CallError>> + Send;
}

/// [`EcrApi`] over the AWS SDK, for one (account, region).
#[derive(Debug, Clone)]
pub struct SdkEcr {
    aws: Aws,
    ecr: aws_sdk_ecr::Client,
    tagging: aws_sdk_resourcegroupstagging::Client,
}

impl SdkEcr {
    /// Clients for one target (no call is made here).
    pub fn new(aws: &Aws, credentials: &AccountCredentials, region: &str) -> SdkEcr {
        SdkEcr {
            aws: aws.clone(),
            ecr: aws.ecr(credentials, region),
            tagging: aws.tagging(credentials, region),
        }
    }
}

fn tag_map<'a>(tags: impl Iterator<Item = (&'a str, &'a str)>) -> BTreeMap<String, String> {
    tags.map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

impl EcrApi for SdkEcr {
    async fn describe_repositories(
        &self,
        token: Option<String>,
    ) -> Result<Page<ListedRepository>, CallError> {
        let call = self
            .ecr
            .describe_repositories()
            .max_results(1000)
            .set_next_token(token)
            .send();
        let page = self.aws.send("ecr", "DescribeRepositories", call).await?;
        let items = page
            .repositories()
            .iter()
            .filter_map(|r| {
                let (name, arn) = (r.repository_name()?, r.repository_arn()?);
                Some(ListedRepository {
                    name: name.to_string(),
                    arn: arn.to_string(),
                    created_at: r.created_at().and_then(|t| t.fmt(Format::DateTime).ok()),
                })
            })
            .collect();
        Ok(Page {
            items,
            next_token: page.next_token().map(str::to_string),
        })
    }

    async fn describe_repository(&self, name: &str) -> Result<Option<ListedRepository>, CallError> {
        let call = self
            .ecr
            .describe_repositories()
            .repository_names(name)
            .send();
        match self.aws.send("ecr", "DescribeRepositories", call).await {
            Ok(out) => Ok(out.repositories().iter().find_map(|r| {
                let (found, arn) = (r.repository_name()?, r.repository_arn()?);
                (found == name).then(|| ListedRepository {
                    name: found.to_string(),
                    arn: arn.to_string(),
                    created_at: r.created_at().and_then(|t| t.fmt(Format::DateTime).ok()),
                })
            })),
            Err(e) if e.aws_code.as_deref() == Some("RepositoryNotFoundException") => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn get_repository_policy(&self, repository: &str) -> Result<Option<String>, CallError> {
        let call = self
            .ecr
            .get_repository_policy()
            .repository_name(repository)
            .send();
        let out = self.aws.send("ecr", "GetRepositoryPolicy", call).await?;
        Ok(out.policy_text().map(str::to_string))
    }

    async fn get_resources(
        &self,
        token: Option<String>,
    ) -> Result<Page<TaggedResource>, CallError> {
        let call = self
            .tagging
            .get_resources()
            .resource_type_filters("ecr:repository")
            .resources_per_page(100)
            .set_pagination_token(token)
            .send();
        let page = self.aws.send("tagging", "GetResources", call).await?;
        let items = page
            .resource_tag_mapping_list()
            .iter()
            .filter_map(|m| {
                let tags = tag_map(m.tags().iter().map(|t| (t.key(), t.value())));
                Some((m.resource_arn()?.to_string(), tags))
            })
            .collect();
        Ok(Page {
            items,
            next_token: page.pagination_token().map(str::to_string),
        })
    }

    async fn list_tags_for_resource(
        &self,
        arn: &str,
    ) -> Result<BTreeMap<String, String>, CallError> {
        let call = self.ecr.list_tags_for_resource().resource_arn(arn).send();
        let out = self.aws.send("ecr", "ListTagsForResource", call).await?;
        Ok(tag_map(out.tags().iter().map(|t| (t.key(), t.value()))))
    }

    async fn get_registry_policy(&self) -> Result<Option<String>, CallError> {
        let call = self.ecr.get_registry_policy().send();
        let out = self.aws.send("ecr", "GetRegistryPolicy", call).await?;
        Ok(out.policy_text().map(str::to_string))
    }

    async fn get_registry_policy_scope(&self) -> Result<Option<String>, CallError> {
        let call = self
            .ecr
            .get_account_setting()
            .name("REGISTRY_POLICY_SCOPE")
            .send();
        let out = self.aws.send("ecr", "GetAccountSetting", call).await?;
        Ok(out.value().map(str::to_string))
    }
}
