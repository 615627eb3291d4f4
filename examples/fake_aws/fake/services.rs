//! What each operation answers from the [`Estate`]: STS, Organizations, Account, ECR and
//! Resource Groups Tagging, only the operations the exporter (and Cloud Custodian's
//! `aws.ecr`) call. Anything else is an `UnknownOperationException`, counted like the rest.
//! No I/O, no faults: the server applies those around [`answer`].

use serde_json::{Value, json};

use super::estate::{DISABLED_REGION, Estate, Policy};
use super::wire::{self, Call, Reply};

/// The organization's root, parent of every account.
pub const ROOT_ID: &str = "r-fake";

/// Answer one decoded call.
pub fn answer(estate: &Estate, call: &Call) -> Reply {
    let account = wire::key_account(&call.access_key)
        .filter(|a| estate.has_account(a))
        .unwrap_or_else(|| estate.management())
        .to_string();
    let ctx = Ctx {
        estate,
        call,
        account: &account,
    };
    match call.service.as_str() {
        "sts" => ctx.sts(),
        "organizations" => ctx.organizations(),
        "account" => ctx.account_api(),
        "ecr" => ctx.ecr(),
        "tagging" => ctx.tagging(),
        _ => ctx.unknown(),
    }
}

struct Ctx<'a> {
    estate: &'a Estate,
    call: &'a Call,
    /// The caller's account, from its access key.
    account: &'a str,
}

/// `(start, next token)` of one page of `total` items.
fn page(
    total: usize,
    token: Option<&str>,
    size: usize,
) -> (std::ops::Range<usize>, Option<String>) {
    let start = token.and_then(|t| t.parse().ok()).unwrap_or(0).min(total);
    let end = (start + size.max(1)).min(total);
    (start..end, (end < total).then(|| end.to_string()))
}

fn size(v: &Value, default: usize, max: usize) -> usize {
    v.as_u64()
        .map(|n| n as usize)
        .unwrap_or(default)
        .clamp(1, max)
}

impl Ctx<'_> {
    fn p(&self, name: &str) -> &Value {
        &self.call.params[name]
    }

    fn ok(&self, v: Value) -> Reply {
        wire::json_ok(self.call.protocol, &v)
    }

    fn err(&self, status: u16, code: &str, message: &str) -> Reply {
        wire::error(self.call.protocol, status, code, message)
    }

    fn unknown(&self) -> Reply {
        self.err(
            400,
            "UnknownOperationException",
            &format!("the fake does not implement {}", self.call.key()),
        )
    }

    fn caller_arn(&self) -> String {
        match wire::key_account(&self.call.access_key) {
            Some(a) => format!("arn:aws:sts::{a}:assumed-role/fake-role/fake-session"),
            None => format!("arn:aws:iam::{}:user/fake", self.account),
        }
    }

    fn sts(&self) -> Reply {
        match self.call.operation.as_str() {
            "GetCallerIdentity" => wire::xml_ok(
                "GetCallerIdentity",
                &format!(
                    "<Arn>{}</Arn><UserId>AIDAFAKE</UserId><Account>{}</Account>",
                    self.caller_arn(),
                    self.account
                ),
            ),
            "AssumeRole" => self.assume_role(),
            _ => self.err(400, "InvalidAction", "unknown STS action"),
        }
    }

    fn assume_role(&self) -> Reply {
        let arn = self.p("RoleArn").as_str().unwrap_or_default();
        let target = arn.split(':').nth(4).unwrap_or_default();
        let role = arn.split_once(":role/").map(|(_, r)| r).unwrap_or_default();
        if !self.estate.has_account(target) || role.is_empty() {
            return self.err(
                403,
                "AccessDenied",
                &format!(
                    "User: {} is not authorized to perform: sts:AssumeRole on resource: {arn}",
                    self.caller_arn()
                ),
            );
        }
        let session = self.p("RoleSessionName").as_str().unwrap_or("session");
        let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
        let expires = expires
            .replace_nanosecond(0)
            .unwrap_or(expires)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        wire::xml_ok(
            "AssumeRole",
            &format!(
                "<Credentials><AccessKeyId>{}</AccessKeyId>\
                 <SecretAccessKey>fake-secret</SecretAccessKey>\
                 <SessionToken>fake-token-{target}</SessionToken>\
                 <Expiration>{expires}</Expiration></Credentials>\
                 <AssumedRoleUser><AssumedRoleId>AROAFAKE:{s}</AssumedRoleId>\
                 <Arn>arn:aws:sts::{target}:assumed-role/{r}/{s}</Arn></AssumedRoleUser>",
                wire::session_key(target),
                s = wire::xml_escape(session),
                r = wire::xml_escape(role),
            ),
        )
    }

    fn org_account(&self, id: &str, i: usize) -> Value {
        let m = self.estate.management();
        let org = &self.estate.shape.organization_id;
        json!({
            "Id": id,
            "Arn": format!("arn:aws:organizations::{m}:account/{org}/{id}"),
            "Email": format!("aws+{id}@example.com"),
            "Name": format!("account-{i}"),
            "Status": "ACTIVE",
            "State": "ACTIVE",
            "JoinedMethod": if i == 0 { "CREATED" } else { "INVITED" },
            "JoinedTimestamp": 1_600_000_000.0 + i as f64,
        })
    }

    fn accounts_page(&self, token_field: &str) -> Reply {
        let all = &self.estate.shape.accounts;
        let (range, next) = page(
            all.len(),
            self.p(token_field).as_str(),
            size(self.p("MaxResults"), 20, 20),
        );
        let accounts: Vec<Value> = range.map(|i| self.org_account(&all[i], i)).collect();
        let mut out = json!({ "Accounts": accounts });
        if let Some(n) = next {
            out["NextToken"] = n.into();
        }
        self.ok(out)
    }

    fn organizations(&self) -> Reply {
        let m = self.estate.management();
        let org = &self.estate.shape.organization_id;
        let management_only = matches!(
            self.call.operation.as_str(),
            "ListAccounts" | "ListAccountsForParent" | "ListChildren" | "ListRoots"
        );
        if management_only && self.account != m {
            return self.err(
                400,
                "AccessDeniedException",
                "You don't have permissions to access this resource.",
            );
        }
        match self.call.operation.as_str() {
            "DescribeOrganization" => self.ok(json!({"Organization": {
                "Id": org,
                "Arn": format!("arn:aws:organizations::{m}:organization/{org}"),
                "FeatureSet": "ALL",
                "MasterAccountArn": format!("arn:aws:organizations::{m}:account/{org}/{m}"),
                "MasterAccountId": m,
                "MasterAccountEmail": format!("aws+{m}@example.com"),
                "AvailablePolicyTypes": [],
            }})),
            "ListAccounts" => self.accounts_page("NextToken"),
            "ListRoots" => self.ok(json!({"Roots": [{
                "Id": ROOT_ID, "Name": "Root",
                "Arn": format!("arn:aws:organizations::{m}:root/{org}/{ROOT_ID}"),
                "PolicyTypes": [],
            }]})),
            "ListAccountsForParent" | "ListChildren"
                if self.p("ParentId").as_str() != Some(ROOT_ID) =>
            {
                self.err(400, "ParentNotFoundException", "no such parent")
            }
            "ListAccountsForParent" => self.accounts_page("NextToken"),
            "ListChildren" => self.ok(json!({"Children": []})),
            _ => self.unknown(),
        }
    }

    fn account_api(&self) -> Reply {
        if self.call.operation != "ListRegions" {
            return self.unknown();
        }
        let mut regions: Vec<(&str, &str)> = self
            .estate
            .shape
            .regions
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let status = if i % 2 == 0 {
                    "ENABLED_BY_DEFAULT"
                } else {
                    "ENABLED"
                };
                (r.as_str(), status)
            })
            .collect();
        regions.push((DISABLED_REGION, "DISABLED"));
        if let Some(wanted) = self.p("RegionOptStatusContains").as_array() {
            regions.retain(|(_, s)| wanted.iter().any(|w| w.as_str() == Some(s)));
        }
        let (range, next) = page(
            regions.len(),
            self.p("NextToken").as_str(),
            size(self.p("MaxResults"), 20, 50),
        );
        let list: Vec<Value> = regions[range]
            .iter()
            .map(|(n, s)| json!({"RegionName": n, "RegionOptStatus": s}))
            .collect();
        let mut out = json!({ "Regions": list });
        if let Some(n) = next {
            out["NextToken"] = n.into();
        }
        self.ok(out)
    }

    fn repo_json(&self, repo: &super::estate::Repo) -> Value {
        json!({
            "repositoryArn": repo.arn,
            "registryId": self.account,
            "repositoryName": repo.name,
            "repositoryUri": repo.uri,
            "createdAt": repo.created_at as f64,
            "imageTagMutability": "MUTABLE",
            "imageScanningConfiguration": {"scanOnPush": false},
            "encryptionConfiguration": {"encryptionType": "AES256"},
        })
    }

    fn repo_missing(&self, name: &str) -> Reply {
        self.err(
            400,
            "RepositoryNotFoundException",
            &format!(
                "The repository with name '{name}' does not exist in the registry with id '{}'",
                self.account
            ),
        )
    }

    fn ecr(&self) -> Reply {
        let target = self.estate.target(self.account, &self.call.region);
        match self.call.operation.as_str() {
            "DescribeRepositories" => self.describe_repositories(target),
            "GetRepositoryPolicy" => self.repository_policy(target),
            "ListTagsForResource" => self.list_tags(),
            "GetRegistryPolicy" => {
                match target.and_then(|(a, r)| self.estate.registry_policy(a, r)) {
                    Some(text) => self.ok(json!({"registryId": self.account, "policyText": text})),
                    None => self.err(
                        400,
                        "RegistryPolicyNotFoundException",
                        &format!(
                            "Registry policy does not exist in the registry with id '{}'",
                            self.account
                        ),
                    ),
                }
            }
            "GetAccountSetting" => match self.p("name").as_str() {
                Some(n @ "REGISTRY_POLICY_SCOPE") => self.ok(json!({"name": n, "value": "V2"})),
                _ => self.err(400, "ValidationException", "unsupported account setting"),
            },
            _ => self.unknown(),
        }
    }

    fn describe_repositories(&self, target: Option<(usize, usize)>) -> Reply {
        let repos = target.map_or(0, |_| self.estate.shape.repos);
        if let Some(names) = self.p("repositoryNames").as_array() {
            let mut out = Vec::new();
            for n in names.iter().filter_map(Value::as_str) {
                match (target, self.estate.repo_index(n)) {
                    (Some((a, r)), Some(k)) => out.push(self.repo_json(&self.estate.repo(a, r, k))),
                    _ => return self.repo_missing(n),
                }
            }
            return self.ok(json!({ "repositories": out }));
        }
        let (range, next) = page(
            repos,
            self.p("nextToken").as_str(),
            size(self.p("maxResults"), 100, 1000),
        );
        let list: Vec<Value> = match target {
            Some((a, r)) => range
                .map(|k| self.repo_json(&self.estate.repo(a, r, k)))
                .collect(),
            None => Vec::new(),
        };
        let mut out = json!({ "repositories": list });
        if let Some(n) = next {
            out["nextToken"] = n.into();
        }
        self.ok(out)
    }

    fn repository_policy(&self, target: Option<(usize, usize)>) -> Reply {
        let name = self.p("repositoryName").as_str().unwrap_or_default();
        let (Some((a, r)), Some(k)) = (target, self.estate.repo_index(name)) else {
            return self.repo_missing(name);
        };
        let repo = self.estate.repo(a, r, k);
        match repo.policy {
            Policy::Text(text) => self.ok(json!({
                "registryId": self.account, "repositoryName": name, "policyText": text,
            })),
            Policy::None => self.err(
                400,
                "RepositoryPolicyNotFoundException",
                &format!(
                    "Repository policy does not exist for the repository with name '{name}' in the registry with id '{}'",
                    self.account
                ),
            ),
            Policy::Denied => self.err(
                400,
                "AccessDeniedException",
                &format!(
                    "User: {} is not authorized to perform: ecr:GetRepositoryPolicy on resource: {} because no resource-based policy allows the ecr:GetRepositoryPolicy action",
                    self.caller_arn(),
                    repo.arn
                ),
            ),
        }
    }

    /// Tags of a repository named by ARN (`arn:aws:ecr:REGION:ACCOUNT:repository/NAME`).
    fn list_tags(&self) -> Reply {
        let arn = self.p("resourceArn").as_str().unwrap_or_default();
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let found = match parts.as_slice() {
            ["arn", _, "ecr", region, account, rest] if *account == self.account => {
                rest.strip_prefix("repository/").and_then(|n| {
                    Some((
                        self.estate.target(account, region)?,
                        self.estate.repo_index(n)?,
                    ))
                })
            }
            _ => None,
        };
        let Some(((a, r), k)) = found else {
            return self.err(
                400,
                "InvalidParameterException",
                &format!("invalid resource {arn}"),
            );
        };
        let tags: Vec<Value> = self
            .estate
            .repo(a, r, k)
            .tags
            .iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect();
        self.ok(json!({ "tags": tags }))
    }

    fn tagging(&self) -> Reply {
        if self.call.operation != "GetResources" {
            return self.unknown();
        }
        let types = self.p("ResourceTypeFilters").as_array();
        let wants_ecr = types.is_none_or(|t| {
            t.is_empty()
                || t.iter()
                    .any(|v| matches!(v.as_str(), Some("ecr" | "ecr:repository")))
        });
        let tagged: Vec<usize> = match self.estate.target(self.account, &self.call.region) {
            Some((a, r)) if wants_ecr => (0..self.estate.shape.repos)
                .filter(|&k| self.estate.tagged(a, r, k))
                .collect(),
            _ => Vec::new(),
        };
        let (range, next) = page(
            tagged.len(),
            self.p("PaginationToken").as_str().filter(|t| !t.is_empty()),
            size(self.p("ResourcesPerPage"), 50, 100),
        );
        let (a, r) = self
            .estate
            .target(self.account, &self.call.region)
            .unwrap_or((0, 0));
        let list: Vec<Value> = tagged[range]
            .iter()
            .map(|&k| {
                let repo = self.estate.repo(a, r, k);
                let tags: Vec<Value> = repo
                    .tags
                    .iter()
                    .map(|(k, v)| json!({"Key": k, "Value": v}))
                    .collect();
                json!({"ResourceARN": repo.arn, "Tags": tags})
            })
            .collect();
        self.ok(json!({
            "ResourceTagMappingList": list,
            "PaginationToken": next.unwrap_or_default(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::estate::Shape;
    use super::super::wire::Protocol;
    use super::*;

    fn call(service: &str, op: &str, key: &str, params: Value) -> Call {
        Call {
            service: service.into(),
            operation: op.into(),
            region: "us-east-1".into(),
            access_key: key.into(),
            protocol: if service == "sts" {
                Protocol::Query
            } else {
                Protocol::Json11
            },
            params,
        }
    }

    #[test]
    fn assumed_keys_select_the_account() {
        let e = Estate::new(Shape::generated(3, 1, 4, None));
        let member = e.shape.accounts[2].clone();
        let arn = format!("arn:aws:iam::{member}:role/reader");
        let r = answer(
            &e,
            &call("sts", "AssumeRole", "testing", json!({"RoleArn": arn})),
        );
        let body = String::from_utf8_lossy(&r.body).to_string();
        assert!(body.contains(&wire::session_key(&member)), "{body}");
        let key = wire::session_key(&member);
        let r = answer(&e, &call("ecr", "DescribeRepositories", &key, json!({})));
        let v: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(v["repositories"][0]["registryId"], member.as_str());
        let r = answer(
            &e,
            &call(
                "sts",
                "AssumeRole",
                "testing",
                json!({"RoleArn": "arn:aws:iam::555555555555:role/x"}),
            ),
        );
        assert_eq!(r.status, 403);
    }

    #[test]
    fn pages_cover_everything_once() {
        let e = Estate::new(Shape::generated(45, 1, 0, None));
        let mut token: Option<String> = None;
        let mut seen = Vec::new();
        loop {
            let mut p = json!({});
            if let Some(t) = &token {
                p["NextToken"] = t.clone().into();
            }
            let r = answer(&e, &call("organizations", "ListAccounts", "testing", p));
            let v: Value = serde_json::from_slice(&r.body).expect("json");
            seen.extend(
                v["Accounts"]
                    .as_array()
                    .expect("accounts")
                    .iter()
                    .map(|a| a["Id"].clone()),
            );
            token = v["NextToken"].as_str().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        assert_eq!(seen.len(), 45);
    }
}
