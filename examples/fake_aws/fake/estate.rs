//! The generated estate: N accounts x R regions x K repositories, computed on demand from
//! the indexes (nothing per repository is stored, so a 100,000-repository organization costs
//! no memory), and the same answer every time for the same [`Shape`].
//!
//! Each repository falls in one policy case (public, cross-account, unreadable, member,
//! none) and is tagged or not. Cases follow a low-discrepancy sequence over the global
//! repository index, so the shares hold closely even for small estates.

use std::fmt::Write as _;

/// An account outside the organization: a policy naming it is a cross-account exposure.
pub const OUTSIDER: &str = "999999999999";

/// The management account when none is given (also what moto maps unknown keys to).
pub const DEFAULT_MANAGEMENT: &str = "123456789012";

/// Regions handed out in order when only a count is given.
pub const REGION_NAMES: [&str; 17] = [
    "us-east-1",
    "eu-west-1",
    "us-west-2",
    "eu-central-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "us-east-2",
    "us-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "ap-south-1",
    "ap-southeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "sa-east-1",
];

/// A region every account lists as not opted in (so the exporter's status filter is exercised).
pub const DISABLED_REGION: &str = "me-south-1";

const PULL: &str =
    r#"["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"]"#;

/// What to generate. Shares are fractions in 0..=1; public + cross_account + unreadable <= 1.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Account ids, management account first.
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    /// Repositories per (account, region).
    pub repos: usize,
    /// Policy `Principal: "*"` with pull actions.
    pub public: f64,
    /// Policy granting pull to [`OUTSIDER`].
    pub cross_account: f64,
    /// GetRepositoryPolicy answers AccessDeniedException.
    pub unreadable: f64,
    /// No tags at all (absent from GetResources).
    pub untagged: f64,
    /// Targets whose registry policy lets [`OUTSIDER`] replicate.
    pub registry_policy: f64,
    pub organization_id: String,
}

impl Shape {
    /// `n` accounts with ids 100000000000 + i (the first is the management account unless
    /// `management` is given) in the first `r` of [`REGION_NAMES`].
    pub fn generated(n: usize, r: usize, repos: usize, management: Option<&str>) -> Shape {
        let mut accounts: Vec<String> = (0..n)
            .map(|i| format!("{:012}", 100_000_000_000u64 + i as u64))
            .collect();
        if let (Some(m), Some(first)) = (management, accounts.first_mut()) {
            *first = m.to_string();
        }
        Shape {
            accounts,
            regions: REGION_NAMES
                .iter()
                .cycle()
                .take(r)
                .map(|s| s.to_string())
                .collect(),
            repos,
            public: 0.1,
            cross_account: 0.05,
            unreadable: 0.02,
            untagged: 0.2,
            registry_policy: 0.0,
            organization_id: "o-fake0000001".into(),
        }
    }
}

/// What GetRepositoryPolicy answers for one repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    None,
    Text(String),
    Denied,
}

/// One repository, as the APIs describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub name: String,
    pub arn: String,
    pub uri: String,
    pub created_at: u64,
    pub policy: Policy,
    pub tags: Vec<(String, String)>,
}

/// The estate, indexed for lookups by account id and region.
#[derive(Debug, Clone)]
pub struct Estate {
    pub shape: Shape,
    account_index: std::collections::HashMap<String, usize>,
}

/// A position in a low-discrepancy sequence: well spread in [0, 1) for consecutive `i`.
fn weyl(i: u64, step: f64) -> f64 {
    ((i as f64 + 1.0) * step).fract()
}

const GOLDEN: f64 = 0.618_033_988_749_894_9;
const SILVER: f64 = 0.414_213_562_373_095_1;
const PLASTIC: f64 = 0.324_717_957_244_746;

impl Estate {
    pub fn new(shape: Shape) -> Estate {
        let account_index = shape
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.clone(), i))
            .collect();
        Estate {
            shape,
            account_index,
        }
    }

    pub fn management(&self) -> &str {
        self.shape
            .accounts
            .first()
            .map(String::as_str)
            .unwrap_or(DEFAULT_MANAGEMENT)
    }

    pub fn has_account(&self, account: &str) -> bool {
        self.account_index.contains_key(account)
    }

    /// (account index, region index) of a target the estate holds.
    pub fn target(&self, account: &str, region: &str) -> Option<(usize, usize)> {
        let a = *self.account_index.get(account)?;
        let r = self.shape.regions.iter().position(|x| x == region)?;
        Some((a, r))
    }

    pub fn repo_name(k: usize) -> String {
        format!("svc-{k:05}")
    }

    /// The index of a repository name the estate generates, if it is one.
    pub fn repo_index(&self, name: &str) -> Option<usize> {
        let k: usize = name.strip_prefix("svc-")?.parse().ok()?;
        (k < self.shape.repos && Self::repo_name(k) == name).then_some(k)
    }

    fn global(&self, a: usize, r: usize, k: usize) -> u64 {
        ((a * self.shape.regions.len() + r) * self.shape.repos + k) as u64
    }

    /// Whether repository k of a target carries tags.
    pub fn tagged(&self, a: usize, r: usize, k: usize) -> bool {
        weyl(self.global(a, r, k), SILVER) >= self.shape.untagged
    }

    /// Tagged repositories of a target.
    pub fn tagged_count(&self, a: usize, r: usize) -> usize {
        (0..self.shape.repos)
            .filter(|&k| self.tagged(a, r, k))
            .count()
    }

    pub fn repo(&self, a: usize, r: usize, k: usize) -> Repo {
        let s = &self.shape;
        let account = &s.accounts[a];
        let region = &s.regions[r];
        let name = Self::repo_name(k);
        let g = self.global(a, r, k);
        let u = weyl(g, GOLDEN);
        let policy = if u < s.public {
            Policy::Text(statement("public", r#""*""#, PULL))
        } else if u < s.public + s.cross_account {
            let who = format!(r#"{{"AWS":"arn:aws:iam::{OUTSIDER}:root"}}"#);
            Policy::Text(statement("partner", &who, PULL))
        } else if u < s.public + s.cross_account + s.unreadable {
            Policy::Denied
        } else if k % 2 == 1 && s.accounts.len() > 1 {
            // A grant to another member account: trusted with organization_accounts.
            let member = &s.accounts[(a + 1) % s.accounts.len()];
            let who = format!(r#"{{"AWS":"arn:aws:iam::{member}:root"}}"#);
            Policy::Text(statement("member", &who, PULL))
        } else {
            Policy::None
        };
        let tags = if self.tagged(a, r, k) {
            let mut t = vec![("owner".to_string(), format!("team-{}", k % 7))];
            if k % 3 == 0 {
                t.push(("managed-by".to_string(), "terraform".to_string()));
            }
            t
        } else {
            Vec::new()
        };
        Repo {
            arn: format!("arn:aws:ecr:{region}:{account}:repository/{name}"),
            uri: format!("{account}.dkr.ecr.{region}.amazonaws.com/{name}"),
            created_at: 1_700_000_000 + g,
            name,
            policy,
            tags,
        }
    }

    /// The registry policy of a target, if it has one.
    pub fn registry_policy(&self, a: usize, r: usize) -> Option<String> {
        let t = (a * self.shape.regions.len() + r) as u64;
        if weyl(t, PLASTIC) >= self.shape.registry_policy {
            return None;
        }
        let account = &self.shape.accounts[a];
        let region = &self.shape.regions[r];
        Some(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"replication","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{OUTSIDER}:root"}},"Action":["ecr:CreateRepository","ecr:ReplicateImage"],"Resource":"arn:aws:ecr:{region}:{account}:repository/*"}}]}}"#
        ))
    }

    /// Number of (account, region) targets.
    pub fn targets(&self) -> usize {
        self.shape.accounts.len() * self.shape.regions.len()
    }

    /// A JSON summary: sizes and how many repositories fall in each case.
    pub fn summary(&self) -> serde_json::Value {
        let (mut public, mut cross, mut denied, mut member, mut none, mut untagged) =
            (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
        let mut registry = 0u64;
        for a in 0..self.shape.accounts.len() {
            for r in 0..self.shape.regions.len() {
                registry += u64::from(self.registry_policy(a, r).is_some());
                for k in 0..self.shape.repos {
                    let repo = self.repo(a, r, k);
                    untagged += u64::from(repo.tags.is_empty());
                    match &repo.policy {
                        Policy::None => none += 1,
                        Policy::Denied => denied += 1,
                        Policy::Text(t) if t.contains(r#""Sid":"public""#) => public += 1,
                        Policy::Text(t) if t.contains(r#""Sid":"partner""#) => cross += 1,
                        Policy::Text(_) => member += 1,
                    }
                }
            }
        }
        serde_json::json!({
            "accounts": self.shape.accounts.len(),
            "regions": self.shape.regions,
            "repositories_per_target": self.shape.repos,
            "targets": self.targets(),
            "repositories": self.targets() * self.shape.repos,
            "management_account": self.management(),
            "organization_id": self.shape.organization_id,
            "cases": {"public": public, "cross_account": cross, "unreadable": denied,
                      "member": member, "no_policy": none, "untagged": untagged,
                      "registry_policies": registry},
        })
    }
}

fn statement(sid: &str, principal: &str, actions: &str) -> String {
    let mut s = String::with_capacity(200);
    let _ = write!(
        s,
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{sid}","Effect":"Allow","Principal":{principal},"Action":{actions}}}]}}"#
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_hold_and_answers_repeat() {
        let e = Estate::new(Shape::generated(10, 2, 100, None));
        let s = e.summary();
        assert_eq!(s["repositories"], 2000);
        assert_eq!(s["cases"]["public"], 200);
        assert_eq!(e.repo(3, 1, 42), e.repo(3, 1, 42));
        assert_eq!(e.repo_index("svc-00042"), Some(42));
        assert_eq!(e.repo_index("svc-42"), None);
    }
}
