//! Collection logic against an in-memory [`EcrApi`]: no emulator.

use std::collections::{BTreeMap, HashMap};

use super::*;
use crate::aws::ecr::{Page, TaggedResource};

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

/// An in-memory account and region: repositories, policies, tags, and injected errors;
/// counts every call by operation.
struct Fake {
    repos: Vec<ListedRepository>,
    /// Repositories per DescribeRepositories page (1000 when 0).
    page_size: usize,
    /// Policy text per repository name; absent = RepositoryPolicyNotFoundException.
    policies: HashMap<String, String>,
    /// Per-repository GetRepositoryPolicy errors.
    policy_errors: HashMap<String, CallError>,
    /// Tags the tagging API returns (only tagged repositories), 100 per page.
    tagged: Vec<(String, BTreeMap<String, String>)>,
    tagging_error: Option<CallError>,
    /// Tags ListTagsForResource returns per ARN; absent = no tags.
    ecr_tags: HashMap<String, BTreeMap<String, String>>,
    ecr_tags_errors: HashMap<String, CallError>,
    listing_error: Option<CallError>,
    registry_policy: Option<String>,
    scope: Result<Option<String>, CallError>,
    calls: std::sync::Mutex<BTreeMap<&'static str, usize>>,
    tokens: std::sync::Mutex<Vec<(&'static str, Option<String>)>>,
}

impl Fake {
    fn with_repos(n: usize) -> Fake {
        Fake {
            repos: (0..n)
                .map(|i| ListedRepository {
                    name: format!("repo-{i:04}"),
                    arn: arn(&format!("repo-{i:04}")),
                    created_at: None,
                })
                .collect(),
            page_size: 0,
            policies: HashMap::new(),
            policy_errors: HashMap::new(),
            tagged: Vec::new(),
            tagging_error: None,
            ecr_tags: HashMap::new(),
            ecr_tags_errors: HashMap::new(),
            listing_error: None,
            registry_policy: None,
            scope: Ok(Some("V2".into())),
            calls: Default::default(),
            tokens: Default::default(),
        }
    }

    fn count(&self, op: &'static str) -> usize {
        self.calls.lock().unwrap().get(op).copied().unwrap_or(0)
    }

    fn record(&self, op: &'static str, token: Option<&Option<String>>) {
        *self.calls.lock().unwrap().entry(op).or_default() += 1;
        if let Some(t) = token {
            self.tokens.lock().unwrap().push((op, t.clone()));
        }
    }
}

fn arn(name: &str) -> String {
    format!("arn:aws:ecr:eu-west-1:111111111111:repository/{name}")
}

fn page<T: Clone>(all: &[T], token: Option<String>, size: usize) -> Page<T> {
    let start: usize = token.map(|t| t.parse().unwrap()).unwrap_or(0);
    let end = (start + size).min(all.len());
    Page {
        items: all[start..end].to_vec(),
        next_token: (end < all.len()).then(|| end.to_string()),
    }
}

fn denied(code: &str) -> CallError {
    err(ApiErrorCode::AccessDenied, Some(code))
}

impl EcrApi for Fake {
    async fn describe_repositories(
        &self,
        token: Option<String>,
    ) -> Result<Page<ListedRepository>, CallError> {
        self.record("DescribeRepositories", Some(&token));
        if let Some(e) = &self.listing_error {
            return Err(e.clone());
        }
        let size = if self.page_size == 0 {
            1000
        } else {
            self.page_size
        };
        Ok(page(&self.repos, token, size))
    }

    async fn describe_repository(&self, name: &str) -> Result<Option<ListedRepository>, CallError> {
        self.record("DescribeRepositories", None);
        if let Some(e) = &self.listing_error {
            return Err(e.clone());
        }
        Ok(self.repos.iter().find(|r| r.name == name).cloned())
    }

    async fn get_repository_policy(&self, repository: &str) -> Result<Option<String>, CallError> {
        self.record("GetRepositoryPolicy", None);
        if let Some(e) = self.policy_errors.get(repository) {
            return Err(e.clone());
        }
        match self.policies.get(repository) {
            Some(text) => Ok(Some(text.clone())),
            None => Err(err(
                ApiErrorCode::NotFound,
                Some("RepositoryPolicyNotFoundException"),
            )),
        }
    }

    async fn get_resources(
        &self,
        token: Option<String>,
    ) -> Result<Page<TaggedResource>, CallError> {
        self.record("GetResources", Some(&token));
        if let Some(e) = &self.tagging_error {
            return Err(e.clone());
        }
        let mut p = page(&self.tagged, token, 100);
        // the tagging API ends with an empty token, not none
        p.next_token.get_or_insert_with(String::new);
        Ok(p)
    }

    async fn list_tags_for_resource(
        &self,
        arn: &str,
    ) -> Result<BTreeMap<String, String>, CallError> {
        self.record("ListTagsForResource", None);
        if let Some(e) = self.ecr_tags_errors.get(arn) {
            return Err(e.clone());
        }
        Ok(self.ecr_tags.get(arn).cloned().unwrap_or_default())
    }

    async fn get_registry_policy(&self) -> Result<Option<String>, CallError> {
        self.record("GetRegistryPolicy", None);
        match &self.registry_policy {
            Some(t) => Ok(Some(t.clone())),
            None => Err(err(
                ApiErrorCode::NotFound,
                Some("RegistryPolicyNotFoundException"),
            )),
        }
    }

    async fn get_registry_policy_scope(&self) -> Result<Option<String>, CallError> {
        self.record("GetAccountSetting", None);
        self.scope.clone()
    }
}

fn target() -> TargetId {
    TargetId {
        account_id: "111111111111".into(),
        region: "eu-west-1".into(),
    }
}

fn options(tags_source: TagSource) -> CollectOptions {
    CollectOptions {
        per_target_concurrency: 4,
        tags_source,
    }
}

async fn collect(fake: &Fake, tags_source: TagSource) -> Result<TargetFacts, TargetError> {
    collect_target(fake, &options(tags_source), &target()).await
}

fn owner(v: &str) -> BTreeMap<String, String> {
    [("owner".to_string(), v.to_string())].into_iter().collect()
}

#[tokio::test]
async fn every_page_of_repositories_and_tags_is_read() {
    let mut fake = Fake::with_repos(2500);
    fake.tagged = (0..250)
        .map(|i| (arn(&format!("repo-{i:04}")), owner("t")))
        .collect();
    let facts = collect(&fake, TagSource::TaggingApi).await.unwrap();
    assert_eq!(facts.repositories.len(), 2500);
    // listing order is kept, and every repository got its own policy read
    assert_eq!(facts.repositories[0].name, "repo-0000");
    assert_eq!(facts.repositories[2499].name, "repo-2499");
    assert_eq!(fake.count("DescribeRepositories"), 3);
    assert_eq!(fake.count("GetRepositoryPolicy"), 2500);
    assert_eq!(fake.count("GetResources"), 3);
    assert_eq!(fake.count("ListTagsForResource"), 0);
    assert_eq!(fake.count("GetRegistryPolicy"), 1);
    assert_eq!(fake.count("GetAccountSetting"), 1);
    let tokens = fake.tokens.lock().unwrap().clone();
    let listing: Vec<_> = tokens
        .iter()
        .filter(|(op, _)| *op == "DescribeRepositories")
        .map(|(_, t)| t.clone())
        .collect();
    assert_eq!(
        listing,
        vec![None, Some("1000".into()), Some("2000".into())]
    );
    // tagged ones carry their tags; the never-tagged ones have none, from the same source
    assert_eq!(facts.repositories[249].tags, owner("t"));
    assert!(facts.repositories[250].tags.is_empty());
    assert!(
        facts
            .repositories
            .iter()
            .all(|r| r.tags_source == TagsSource::TaggingApi && r.policy == PolicyFetch::None)
    );
}

#[tokio::test]
async fn policies_found_missing_gone_and_denied_stay_apart() {
    let mut fake = Fake::with_repos(4);
    fake.policies
        .insert("repo-0000".into(), "{\"Statement\":[]}".into());
    // repo-0001: no policy at all
    fake.policy_errors.insert(
        "repo-0002".into(),
        err(ApiErrorCode::NotFound, Some("RepositoryNotFoundException")),
    );
    fake.policy_errors
        .insert("repo-0003".into(), denied("AccessDeniedException"));
    let facts = collect(&fake, TagSource::TaggingApi).await.unwrap();
    let by_name: BTreeMap<&str, &PolicyFetch> = facts
        .repositories
        .iter()
        .map(|r| (r.name.as_str(), &r.policy))
        .collect();
    assert_eq!(
        by_name["repo-0000"],
        &PolicyFetch::Text {
            text: "{\"Statement\":[]}".into()
        }
    );
    assert_eq!(by_name["repo-0001"], &PolicyFetch::None);
    // deleted between listing and reading: not reported
    assert!(!by_name.contains_key("repo-0002"));
    // denied on one repository: unknown for that one only, never "no policy"
    match by_name["repo-0003"] {
        PolicyFetch::Unreadable { reason, message } => {
            assert_eq!(*reason, UnknownReason::AccessDenied);
            assert_eq!(message, "m");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(facts.repositories.len(), 3);
}

#[tokio::test]
async fn a_denied_tagging_api_falls_back_to_list_tags_for_resource() {
    let mut fake = Fake::with_repos(3);
    fake.tagging_error = Some(denied("AccessDeniedException"));
    fake.ecr_tags.insert(arn("repo-0000"), owner("web"));
    fake.ecr_tags_errors
        .insert(arn("repo-0002"), err(ApiErrorCode::Throttling, None));
    let facts = collect(&fake, TagSource::TaggingApi).await.unwrap();
    assert_eq!(fake.count("GetResources"), 1);
    assert_eq!(fake.count("ListTagsForResource"), 3);
    let r = &facts.repositories;
    assert_eq!(
        (r[0].tags.clone(), r[0].tags_source),
        (owner("web"), TagsSource::ListTagsForResource)
    );
    assert_eq!(r[1].tags_source, TagsSource::ListTagsForResource);
    assert!(r[1].tags.is_empty());
    // the one whose tags could not be read at all says so
    assert_eq!(r[2].tags_source, TagsSource::Unavailable);
}

#[tokio::test]
async fn a_failing_tagging_api_makes_tags_unavailable_without_a_fallback() {
    let mut fake = Fake::with_repos(2);
    fake.tagging_error = Some(err(ApiErrorCode::Other, Some("InternalFailure")));
    let facts = collect(&fake, TagSource::TaggingApi).await.unwrap();
    assert_eq!(fake.count("ListTagsForResource"), 0);
    assert!(
        facts
            .repositories
            .iter()
            .all(|r| r.tags_source == TagsSource::Unavailable && r.tags.is_empty())
    );
}

#[tokio::test]
async fn tags_source_list_tags_for_resource_never_asks_the_tagging_api() {
    let mut fake = Fake::with_repos(5);
    fake.tagged = vec![(arn("repo-0000"), owner("from-tagging"))];
    fake.ecr_tags.insert(arn("repo-0000"), owner("from-ecr"));
    let facts = collect(&fake, TagSource::ListTagsForResource)
        .await
        .unwrap();
    assert_eq!(fake.count("GetResources"), 0);
    assert_eq!(fake.count("ListTagsForResource"), 5);
    assert_eq!(facts.repositories[0].tags, owner("from-ecr"));
    assert!(
        facts
            .repositories
            .iter()
            .all(|r| r.tags_source == TagsSource::ListTagsForResource)
    );
    // and the default mode asks the tagging API once, ECR never
    let facts = collect(&fake, TagSource::TaggingApi).await.unwrap();
    assert_eq!(fake.count("GetResources"), 1);
    assert_eq!(fake.count("ListTagsForResource"), 5);
    assert_eq!(facts.repositories[0].tags, owner("from-tagging"));
}

#[tokio::test]
async fn an_empty_target_reads_no_policies_and_no_tags() {
    let fake = Fake::with_repos(0);
    let facts = collect(&fake, TagSource::ListTagsForResource)
        .await
        .unwrap();
    assert!(facts.repositories.is_empty());
    assert_eq!(fake.count("GetRepositoryPolicy"), 0);
    assert_eq!(
        fake.count("GetResources") + fake.count("ListTagsForResource"),
        0
    );
    assert_eq!(fake.count("GetRegistryPolicy"), 1);
}

#[tokio::test]
async fn a_target_that_cannot_be_listed_fails_with_its_code() {
    let mut fake = Fake::with_repos(3);
    fake.listing_error = Some(denied("AccessDeniedException"));
    let e = collect(&fake, TagSource::TaggingApi).await.unwrap_err();
    assert_eq!(e.code, "access_denied");
    assert_eq!(e.message, "ecr:DescribeRepositories: m");
    assert_eq!(fake.count("GetRepositoryPolicy"), 0);
}

#[tokio::test]
async fn registry_policy_and_scope() {
    let mut fake = Fake::with_repos(0);
    fake.scope = Ok(Some("v1".into()));
    let reg = collect(&fake, TagSource::TaggingApi)
        .await
        .unwrap()
        .registry
        .unwrap();
    assert_eq!(
        (reg.policy, reg.scope, reg.scope_known),
        (PolicyFetch::None, RegistryScope::V1, true)
    );
    fake.registry_policy = Some("{}".into());
    fake.scope = Err(denied("AccessDeniedException"));
    let reg = collect(&fake, TagSource::TaggingApi)
        .await
        .unwrap()
        .registry
        .unwrap();
    assert_eq!(
        (reg.policy, reg.scope, reg.scope_known),
        (
            PolicyFetch::Text { text: "{}".into() },
            RegistryScope::V2,
            false
        )
    );
}

#[tokio::test]
async fn one_repository_is_described_read_and_tagged_with_three_calls() {
    let mut fake = Fake::with_repos(3);
    fake.policies.insert("repo-0001".into(), "{}".into());
    let tags = BTreeMap::from([("owner".to_string(), "team".to_string())]);
    fake.ecr_tags.insert(arn("repo-0001"), tags.clone());
    let got = collect_repository(&fake, "repo-0001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.name, "repo-0001");
    assert_eq!(got.policy, PolicyFetch::Text { text: "{}".into() });
    assert_eq!(
        (got.tags, got.tags_source),
        (tags, TagsSource::ListTagsForResource)
    );
    assert_eq!(
        *fake.calls.lock().unwrap(),
        BTreeMap::from([
            ("DescribeRepositories", 1),
            ("GetRepositoryPolicy", 1),
            ("ListTagsForResource", 1)
        ])
    );
    // Gone: no policy or tag call, and not an error.
    assert_eq!(collect_repository(&fake, "deleted").await.unwrap(), None);
    assert_eq!(fake.count("GetRepositoryPolicy"), 1);
    // Unreadable tags are unavailable, never "untagged"; a failed describe is an error.
    fake.ecr_tags_errors
        .insert(arn("repo-0002"), denied("AccessDeniedException"));
    let got = collect_repository(&fake, "repo-0002")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.tags_source, TagsSource::Unavailable);
    assert_eq!(got.policy, PolicyFetch::None);
    fake.listing_error = Some(err(ApiErrorCode::Throttling, Some("ThrottlingException")));
    let e = collect_repository(&fake, "repo-0002").await.unwrap_err();
    assert_eq!(e.code, "throttled");
}
