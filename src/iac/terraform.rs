//! Terraform plan JSON (`terraform show -json plan.out`) -> the ECR resources it plans.
//!
//! Reads `resource_changes` (whose `change.after_unknown` says which values exist only after
//! apply) and then `planned_values` (root module and nested `child_modules`) for resources
//! the changes do not list. Resources being destroyed are skipped: they deploy nothing.
//! Types: `aws_ecr_repository_policy`, `aws_ecr_registry_policy`, `aws_ecr_repository`.
//!
//! `aws_iam_policy_document` data sources need no special case: when Terraform could read
//! them at plan time their rendered `json` is already the `policy` string of the resource;
//! when it could not, the policy is unknown until apply, and is reported as such.
//!
//! Line numbers: the line of the first `"address": "<address>"` in the plan (a text scan).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::cloudformation::parse_json_strict;
use super::{
    IacError, IacResource, PolicySource, ResolveContext, ResourceKind, TagsSource,
    UNKNOWN_TAG_VALUE, find_json_key_value, line_of,
};

const TYPES: [&str; 3] = [
    "aws_ecr_repository_policy",
    "aws_ecr_registry_policy",
    "aws_ecr_repository",
];

/// Read a plan and list its ECR resources, in plan order.
pub fn extract(content: &str, ctx: &ResolveContext) -> Result<Vec<IacResource>, IacError> {
    let root = parse_json_strict(content)?;
    let Value::Object(plan) = &root else {
        return Err(IacError::new(
            "invalid_structure",
            "a plan is a JSON object",
        ));
    };
    if !plan.contains_key("planned_values") && !plan.contains_key("resource_changes") {
        return Err(IacError::new(
            "invalid_structure",
            "no planned_values or resource_changes: is this the output of `terraform show -json PLAN`?",
        ));
    }
    let region = ctx.region.clone().or_else(|| provider_region(&root));
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();

    if let Some(changes) = plan.get("resource_changes").and_then(Value::as_array) {
        for rc in changes {
            let Some(address) = rc.get("address").and_then(Value::as_str) else {
                continue;
            };
            if rc.get("mode").and_then(Value::as_str) == Some("data") {
                continue;
            }
            let Some(rtype) = rc.get("type").and_then(Value::as_str) else {
                continue;
            };
            if !TYPES.contains(&rtype) {
                continue;
            }
            seen.insert(address.to_string());
            let change = rc.get("change");
            let after = change.and_then(|c| c.get("after"));
            let Some(Value::Object(after)) = after else {
                continue; // destroyed: deploys nothing
            };
            let unknown = change
                .and_then(|c| c.get("after_unknown"))
                .cloned()
                .unwrap_or(Value::Null);
            out.push(resource(
                address, rtype, after, &unknown, content, &region, false,
            ));
        }
    }

    if let Some(root_module) = plan
        .get("planned_values")
        .and_then(|p| p.get("root_module"))
    {
        let mut stack = vec![root_module];
        while let Some(module) = stack.pop() {
            if let Some(resources) = module.get("resources").and_then(Value::as_array) {
                for r in resources {
                    let (Some(address), Some(rtype)) = (
                        r.get("address").and_then(Value::as_str),
                        r.get("type").and_then(Value::as_str),
                    ) else {
                        continue;
                    };
                    if r.get("mode").and_then(Value::as_str) == Some("data")
                        || !TYPES.contains(&rtype)
                        || !seen.insert(address.to_string())
                    {
                        continue;
                    }
                    let empty = serde_json::Map::new();
                    let values = r.get("values").and_then(Value::as_object).unwrap_or(&empty);
                    out.push(resource(
                        address,
                        rtype,
                        values,
                        &Value::Null,
                        content,
                        &region,
                        true,
                    ));
                }
            }
            if let Some(children) = module.get("child_modules").and_then(Value::as_array) {
                stack.extend(children.iter().rev());
            }
        }
    }

    // Link policies to the repositories they name, for the ARN when the plan knows it.
    let arns: BTreeMap<String, String> = out
        .iter()
        .filter(|r| r.kind == ResourceKind::Repository)
        .filter_map(|r| Some((r.repository_name.clone()?, r.repository_arn.clone()?)))
        .collect();
    for r in &mut out {
        if r.kind == ResourceKind::RepositoryPolicy && r.repository_arn.is_none() {
            if let Some(arn) = r.repository_name.as_ref().and_then(|n| arns.get(n)) {
                r.repository_arn = Some(arn.clone());
            }
        }
    }
    out.sort_by(|a, b| {
        (a.line.unwrap_or(usize::MAX), &a.resource)
            .cmp(&(b.line.unwrap_or(usize::MAX), &b.resource))
    });
    Ok(out)
}

fn resource(
    address: &str,
    rtype: &str,
    after: &serde_json::Map<String, Value>,
    unknown: &Value,
    content: &str,
    region: &Option<String>,
    from_planned_values: bool,
) -> IacResource {
    let kind = match rtype {
        "aws_ecr_repository_policy" => ResourceKind::RepositoryPolicy,
        "aws_ecr_registry_policy" => ResourceKind::RegistryPolicy,
        _ => ResourceKind::Repository,
    };
    let is_unknown = |attr: &str| unknown.get(attr) == Some(&Value::Bool(true));
    let known_string = |attr: &str| after.get(attr).and_then(Value::as_str).map(str::to_string);
    let mut notes = Vec::new();

    let policy = match kind {
        ResourceKind::Repository => PolicySource::Absent,
        _ => match known_string("policy") {
            Some(text) if !is_unknown("policy") => PolicySource::Text { text },
            _ if is_unknown("policy") || from_planned_values => PolicySource::Unknown {
                path: format!("{address}.policy"),
                reason: "known only after apply: it is computed from values that do not exist yet"
                    .to_string(),
            },
            _ => PolicySource::Unknown {
                path: format!("{address}.policy"),
                reason: "the plan has no policy value".to_string(),
            },
        },
    };

    let (repository_name, tags) = match kind {
        ResourceKind::RepositoryPolicy => {
            let name = known_string("repository").filter(|_| !is_unknown("repository"));
            if name.is_none() {
                notes.push("repository name known only after apply".to_string());
            }
            (name, TagsSource::NotApplicable)
        }
        ResourceKind::RegistryPolicy => (None, TagsSource::NotApplicable),
        ResourceKind::Repository => (
            known_string("name").filter(|_| !is_unknown("name")),
            repository_tags(address, after, unknown, &mut notes),
        ),
    };
    let repository_arn = match kind {
        ResourceKind::Repository => known_string("arn").filter(|_| !is_unknown("arn")),
        _ => None,
    };
    IacResource {
        resource: address.to_string(),
        resource_type: rtype.to_string(),
        kind,
        line: find_json_key_value(content, "address", address).map(|p| line_of(content, p)),
        policy,
        tags,
        repository_name,
        repository_arn,
        region: region.clone(),
        notes,
    }
}

/// `tags_all` (with provider `default_tags`) when the plan knows it, else `tags`. A key whose
/// value is computed at apply counts as present.
fn repository_tags(
    address: &str,
    after: &serde_json::Map<String, Value>,
    unknown: &Value,
    notes: &mut Vec<String>,
) -> TagsSource {
    let read = |attr: &str| -> Option<BTreeMap<String, String>> {
        if unknown.get(attr) == Some(&Value::Bool(true)) {
            return None;
        }
        let mut tags: BTreeMap<String, String> = match after.get(attr) {
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    (k.clone(), v)
                })
                .collect(),
            Some(Value::Null) | None => BTreeMap::new(),
            Some(_) => return None,
        };
        if let Some(Value::Object(u)) = unknown.get(attr) {
            for (k, v) in u {
                if v == &Value::Bool(true) {
                    tags.insert(k.clone(), UNKNOWN_TAG_VALUE.to_string());
                }
            }
        }
        Some(tags)
    };
    if let Some(tags) = read("tags_all").filter(|_| after.contains_key("tags_all")) {
        return TagsSource::Known { tags };
    }
    match read("tags") {
        Some(tags) => {
            if unknown.get("tags_all") == Some(&Value::Bool(true)) {
                notes.push(
                    "tags_all (with provider default_tags) known only after apply; checked `tags`"
                        .to_string(),
                );
            }
            TagsSource::Known { tags }
        }
        None => TagsSource::Unknown {
            path: format!("{address}.tags"),
            reason: "tags known only after apply".to_string(),
        },
    }
}

/// Region of the root `aws` provider when it is a constant in the configuration.
fn provider_region(plan: &Value) -> Option<String> {
    plan.get("configuration")?
        .get("provider_config")?
        .get("aws")?
        .get("expressions")?
        .get("region")?
        .get("constant_value")?
        .as_str()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"{
  "format_version": "1.2",
  "planned_values": {
    "root_module": {
      "resources": [
        {"address": "aws_ecr_repository.app", "mode": "managed", "type": "aws_ecr_repository", "name": "app",
         "values": {"name": "app", "tags": {"owner": "team-a"}, "tags_all": {"owner": "team-a", "env": "prod"}}},
        {"address": "aws_ecr_registry_policy.this", "mode": "managed", "type": "aws_ecr_registry_policy", "name": "this",
         "values": {}}
      ],
      "child_modules": [
        {"address": "module.app",
         "resources": [],
         "child_modules": [
           {"address": "module.app.module.inner",
            "resources": [
              {"address": "module.app.module.inner.aws_ecr_repository.r[0]", "mode": "managed", "type": "aws_ecr_repository", "name": "r", "index": 0,
               "values": {"name": "inner-0", "tags": null, "tags_all": {}}}
            ]}
         ]}
      ]
    }
  },
  "resource_changes": [
    {"address": "module.app.aws_ecr_repository_policy.this[\"api\"]", "module_address": "module.app", "mode": "managed",
     "type": "aws_ecr_repository_policy", "name": "this", "index": "api",
     "change": {"actions": ["create"], "before": null,
       "after": {"repository": "api"}, "after_unknown": {"policy": true, "registry_id": true}}},
    {"address": "aws_ecr_repository_policy.old", "mode": "managed", "type": "aws_ecr_repository_policy", "name": "old",
     "change": {"actions": ["delete"], "before": {"policy": "{}"}, "after": null}},
    {"address": "aws_ecr_repository_policy.app", "mode": "managed", "type": "aws_ecr_repository_policy", "name": "app",
     "change": {"actions": ["update"], "after": {"repository": "app", "policy": "{\"Statement\":[]}"}, "after_unknown": {}}},
    {"address": "aws_ecr_repository.app", "mode": "managed", "type": "aws_ecr_repository", "name": "app",
     "change": {"actions": ["no-op"], "after": {"name": "app", "arn": "arn:aws:ecr:eu-west-1:111111111111:repository/app",
       "tags": {"owner": "team-a"}, "tags_all": {"owner": "team-a"}}, "after_unknown": {}}}
  ],
  "configuration": {"provider_config": {"aws": {"expressions": {"region": {"constant_value": "eu-west-1"}}}}}
}"#;

    #[test]
    fn plan_resources_with_unknowns_modules_and_indexes() {
        let res = extract(PLAN, &ResolveContext::default()).unwrap();
        let summary: Vec<_> = res
            .iter()
            .map(|r| (r.resource.as_str(), r.kind, r.line))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("aws_ecr_repository.app", ResourceKind::Repository, Some(6)),
                (
                    "aws_ecr_registry_policy.this",
                    ResourceKind::RegistryPolicy,
                    Some(8)
                ),
                (
                    "module.app.module.inner.aws_ecr_repository.r[0]",
                    ResourceKind::Repository,
                    Some(17)
                ),
                (
                    "module.app.aws_ecr_repository_policy.this[\"api\"]",
                    ResourceKind::RepositoryPolicy,
                    Some(25)
                ),
                (
                    "aws_ecr_repository_policy.app",
                    ResourceKind::RepositoryPolicy,
                    Some(31)
                ),
            ]
        );
        // The no-op change wins over planned_values: its ARN is known.
        assert_eq!(
            res[0].repository_arn.as_deref(),
            Some("arn:aws:ecr:eu-west-1:111111111111:repository/app")
        );
        assert_eq!(
            res[0].tags,
            TagsSource::Known {
                tags: [("owner".to_string(), "team-a".to_string())].into()
            }
        );
        assert_eq!(res[0].region.as_deref(), Some("eu-west-1"));
        // planned_values omit unknown values: the registry policy is unknown, not safe.
        assert!(
            matches!(&res[1].policy, PolicySource::Unknown { path, .. } if path == "aws_ecr_registry_policy.this.policy")
        );
        assert_eq!(
            res[2].tags,
            TagsSource::Known {
                tags: BTreeMap::new()
            }
        );
        match &res[3].policy {
            PolicySource::Unknown { path, reason } => {
                assert_eq!(
                    path,
                    "module.app.aws_ecr_repository_policy.this[\"api\"].policy"
                );
                assert!(reason.contains("after apply"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            res[4].policy,
            PolicySource::Text {
                text: "{\"Statement\":[]}".into()
            }
        );
        assert_eq!(
            res[4].repository_arn.as_deref(),
            Some("arn:aws:ecr:eu-west-1:111111111111:repository/app")
        );
    }

    #[test]
    fn unknown_tags_and_bad_plans() {
        let plan = r#"{"format_version":"1.2","resource_changes":[
          {"address":"aws_ecr_repository.a","mode":"managed","type":"aws_ecr_repository","name":"a",
           "change":{"after":{"name":"a","tags":{"team":"x"}},"after_unknown":{"tags_all":true,"tags":{"owner":true}}}},
          {"address":"aws_ecr_repository.b","mode":"managed","type":"aws_ecr_repository","name":"b",
           "change":{"after":{"name":"b"},"after_unknown":{"tags_all":true,"tags":true}}}]}"#;
        let res = extract(plan, &ResolveContext::default()).unwrap();
        assert_eq!(
            res[0].tags,
            TagsSource::Known {
                tags: [
                    ("owner".to_string(), UNKNOWN_TAG_VALUE.to_string()),
                    ("team".to_string(), "x".to_string())
                ]
                .into()
            }
        );
        assert!(matches!(res[1].tags, TagsSource::Unknown { .. }));
        assert_eq!(
            extract("[]", &ResolveContext::default()).unwrap_err().code,
            "invalid_structure"
        );
        assert_eq!(
            extract("{}", &ResolveContext::default()).unwrap_err().code,
            "invalid_structure"
        );
        assert_eq!(
            extract("{", &ResolveContext::default()).unwrap_err().code,
            "invalid_json"
        );
    }
}
