//! The fewest calls a complete scan of an [`Estate`] can make, per operation, given the page
//! sizes the exporter asks for. Benchmarks divide the counted calls by these.

use std::collections::BTreeMap;

use super::estate::Estate;

/// `maxResults` of the exporter's DescribeRepositories.
pub const DESCRIBE_PAGE: usize = 1000;
/// `ResourcesPerPage` of the exporter's GetResources.
pub const TAGGING_PAGE: usize = 100;
/// The fake's (and AWS's) largest ListAccounts page.
pub const ACCOUNTS_PAGE: usize = 20;
/// `MaxResults` of the exporter's ListRegions.
pub const REGIONS_PAGE: usize = 50;

/// Calls per `service:Operation` for an organizations-discovery scan split over `shards`
/// replicas: each replica discovers the organization (GetCallerIdentity, DescribeOrganization,
/// ListAccounts pages); every member account is assumed and has its regions listed once;
/// every target costs its DescribeRepositories pages, GetRegistryPolicy, GetAccountSetting
/// and GetResources pages (none for an empty target); every repository one GetRepositoryPolicy.
pub fn lower_bound(estate: &Estate, shards: usize) -> BTreeMap<String, u64> {
    let s = &estate.shape;
    let n = s.accounts.len() as u64;
    let shards = shards.max(1) as u64;
    let targets = estate.targets() as u64;
    let mut tagging = 0u64;
    if s.repos > 0 {
        for a in 0..s.accounts.len() {
            for r in 0..s.regions.len() {
                tagging += estate.tagged_count(a, r).max(1).div_ceil(TAGGING_PAGE) as u64;
            }
        }
    }
    let describe = s.repos.max(1).div_ceil(DESCRIBE_PAGE) as u64;
    let mut out = BTreeMap::new();
    let mut put = |k: &str, v: u64| {
        if v > 0 {
            out.insert(k.to_string(), v);
        }
    };
    put("sts:GetCallerIdentity", shards);
    put("organizations:DescribeOrganization", shards);
    put(
        "organizations:ListAccounts",
        shards * s.accounts.len().max(1).div_ceil(ACCOUNTS_PAGE) as u64,
    );
    put("sts:AssumeRole", n.saturating_sub(1));
    put(
        "account:ListRegions",
        n * s.regions.len().max(1).div_ceil(REGIONS_PAGE) as u64,
    );
    put("ecr:DescribeRepositories", targets * describe);
    put("ecr:GetRegistryPolicy", targets);
    put("ecr:GetAccountSetting", targets);
    put("tagging:GetResources", tagging);
    put("ecr:GetRepositoryPolicy", targets * s.repos as u64);
    out
}
