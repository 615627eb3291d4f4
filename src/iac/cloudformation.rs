//! CloudFormation templates (JSON or YAML) -> `AWS::ECR::Repository` and
//! `AWS::ECR::RegistryPolicy` resources.
//!
//! YAML short forms (`!Sub`, `!Ref`, `!GetAtt a.b`, ...) are rewritten to their long JSON
//! forms first, so one resolver ([`super::intrinsics`]) serves both syntaxes. Duplicate keys
//! are refused in both (IAM forbids them, and last-wins would silently flip Allow and Deny).
//!
//! Line numbers: serde gives no positions, so the resource's line is found by a text scan:
//! in JSON, the first `"LogicalId":` after `"Resources":`; in YAML, the line `LogicalId:`
//! at the indentation of the first entry under the top-level `Resources:` line.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::analysis::policy::{ErrorCode, json};

use super::intrinsics::Resolver;
use super::{
    IacError, IacResource, PolicySource, ResolveContext, ResourceKind, TagsSource,
    UNKNOWN_TAG_VALUE, find_json_key, line_of,
};

/// Read a template and list its ECR resources, in file order.
pub fn extract(content: &str, ctx: &ResolveContext) -> Result<Vec<IacResource>, IacError> {
    let is_json = content.trim_start().starts_with('{');
    let root = if is_json {
        parse_json_strict(content)?
    } else {
        parse_yaml(content)?
    };
    let Value::Object(template) = root else {
        return Err(IacError::new(
            "invalid_structure",
            "a CloudFormation template is a mapping at the top level",
        ));
    };
    let Some(Value::Object(resources)) = template.get("Resources") else {
        return Err(IacError::new(
            "invalid_structure",
            "the template has no Resources mapping",
        ));
    };
    let resolver = Resolver::new(&template, ctx);
    let resources_pos = if is_json {
        find_json_key(content, "Resources", 0)
    } else {
        None
    };
    let mut out = Vec::new();
    for (id, res) in resources {
        let Some(rtype) = res.get("Type").and_then(Value::as_str) else {
            continue;
        };
        let kind = match rtype {
            "AWS::ECR::Repository" => ResourceKind::Repository,
            "AWS::ECR::RegistryPolicy" => ResourceKind::RegistryPolicy,
            _ => continue,
        };
        let empty = Map::new();
        let props = match res.get("Properties") {
            None => &empty,
            Some(Value::Object(p)) => p,
            Some(_) => {
                return Err(IacError::new(
                    "invalid_structure",
                    format!("Resources.{id}.Properties is not a mapping"),
                ));
            }
        };
        let base = format!("Resources.{id}.Properties");
        let mut notes = Vec::new();
        if let Some(cond) = res.get("Condition").and_then(Value::as_str) {
            notes.push(format!(
                "created only when condition {cond} holds at deploy; checked as if it does"
            ));
        }
        let line = if is_json {
            resources_pos
                .and_then(|from| find_json_key(content, id, from))
                .map(|pos| line_of(content, pos))
        } else {
            yaml_resource_line(content, id)
        };
        let (policy_key, tags, repository_name) = match kind {
            ResourceKind::Repository => {
                let name = match props.get("RepositoryName") {
                    None => {
                        notes.push(
                            "no RepositoryName: CloudFormation generates one at deploy".to_string(),
                        );
                        None
                    }
                    Some(v) => match resolver.resolve(v, &format!("{base}.RepositoryName")) {
                        Ok(Value::String(s)) => Some(s),
                        Ok(_) => None,
                        Err(u) => {
                            notes.push(format!("repository name unknown: {}", u.reason));
                            None
                        }
                    },
                };
                (
                    "RepositoryPolicyText",
                    repository_tags(props.get("Tags"), &resolver, &base),
                    name,
                )
            }
            _ => ("PolicyText", TagsSource::NotApplicable, None),
        };
        let policy = match props.get(policy_key) {
            None if kind == ResourceKind::RegistryPolicy => PolicySource::Unknown {
                path: format!("{base}.{policy_key}"),
                reason: "PolicyText is required and missing".to_string(),
            },
            None => PolicySource::Absent,
            Some(v) => policy_source(&resolver, v, &format!("{base}.{policy_key}")),
        };
        out.push(IacResource {
            resource: id.clone(),
            resource_type: rtype.to_string(),
            kind,
            line,
            policy,
            tags,
            repository_name,
            repository_arn: None,
            region: ctx.region.clone(),
            notes,
        });
    }
    out.sort_by(|a, b| {
        (a.line.unwrap_or(usize::MAX), &a.resource)
            .cmp(&(b.line.unwrap_or(usize::MAX), &b.resource))
    });
    Ok(out)
}

/// The policy as text: an object is serialised after resolution; a string is the policy
/// text itself (CloudFormation accepts both).
fn policy_source(resolver: &Resolver<'_>, v: &Value, path: &str) -> PolicySource {
    match resolver.resolve(v, path) {
        Ok(Value::String(text)) => PolicySource::Text { text },
        Ok(other) => PolicySource::Text {
            text: other.to_string(),
        },
        Err(u) => PolicySource::Unknown {
            path: u.path,
            reason: u.reason,
        },
    }
}

/// `Tags: [{Key, Value}]`. A value known only at deploy still proves the key present.
fn repository_tags(tags: Option<&Value>, resolver: &Resolver<'_>, base: &str) -> TagsSource {
    let path = format!("{base}.Tags");
    let items = match tags {
        None => {
            return TagsSource::Known {
                tags: BTreeMap::new(),
            };
        }
        Some(Value::Array(items)) => items,
        Some(_) => {
            return TagsSource::Unknown {
                path,
                reason: "Tags is not a literal list (an intrinsic decided at deploy)".to_string(),
            };
        }
    };
    let mut out = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let key = item
            .get("Key")
            .map(|k| resolver.resolve(k, &format!("{item_path}.Key")));
        let key = match key {
            Some(Ok(Value::String(k))) => k,
            Some(Err(u)) => {
                return TagsSource::Unknown {
                    path: u.path,
                    reason: u.reason,
                };
            }
            _ => {
                return TagsSource::Unknown {
                    path: item_path,
                    reason: "tag without a string Key".to_string(),
                };
            }
        };
        let value = match item
            .get("Value")
            .map(|v| resolver.resolve(v, &format!("{item_path}.Value")))
        {
            Some(Ok(Value::String(s))) => s,
            Some(Ok(Value::Number(n))) => n.to_string(),
            Some(Ok(Value::Bool(b))) => b.to_string(),
            Some(Err(_)) => UNKNOWN_TAG_VALUE.to_string(),
            _ => String::new(),
        };
        out.insert(key, value);
    }
    TagsSource::Known { tags: out }
}

/// Parse JSON into a `Value`, refusing duplicate keys anywhere, with the policy parser's
/// strict reader. Nesting is left to serde_json's own limit (templates nest deeper than
/// policies); messages are serde_json's, with line and column.
pub fn parse_json_strict(text: &str) -> Result<Value, IacError> {
    match json::read(text, usize::MAX) {
        Ok(root) => Ok(root.into_value()),
        Err(e) if e.code == ErrorCode::DuplicateKey => {
            Err(IacError::new("duplicate_key", e.serde.to_string()))
        }
        Err(e) => Err(IacError::new("invalid_json", e.serde.to_string())),
    }
}

/// Parse YAML (CloudFormation dialect) into JSON, short-form intrinsics in long form.
pub fn parse_yaml(text: &str) -> Result<Value, IacError> {
    let yaml: serde_norway::Value = serde_norway::from_str(text).map_err(|e| {
        let msg = e.to_string();
        if msg.contains("duplicate entry") {
            IacError::new("duplicate_key", msg)
        } else {
            IacError::new("invalid_yaml", msg)
        }
    })?;
    yaml_to_json(yaml)
}

fn yaml_to_json(v: serde_norway::Value) -> Result<Value, IacError> {
    use serde_norway::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                // NaN and infinities have no JSON form; keep their YAML spelling.
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(n.to_string()))
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    _ => {
                        return Err(IacError::new(
                            "invalid_structure",
                            "a mapping key is not a scalar",
                        ));
                    }
                };
                out.insert(key, yaml_to_json(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!').to_string();
            let inner = yaml_to_json(tagged.value)?;
            let (key, arg) = match name.as_str() {
                "Ref" => ("Ref".to_string(), inner),
                "Condition" => ("Condition".to_string(), inner),
                "GetAtt" => {
                    let arg = match inner {
                        Value::String(s) => match s.split_once('.') {
                            Some((res, attr)) => Value::Array(vec![res.into(), attr.into()]),
                            None => Value::String(s),
                        },
                        other => other,
                    };
                    ("Fn::GetAtt".to_string(), arg)
                }
                other => (format!("Fn::{other}"), inner),
            };
            let mut m = Map::new();
            m.insert(key, arg);
            Value::Object(m)
        }
    })
}

/// Line of `id:` directly under the top-level `Resources:` of a YAML template.
fn yaml_resource_line(text: &str, id: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| {
        l.starts_with("Resources:")
            || l.starts_with("\"Resources\":")
            || l.starts_with("'Resources':")
    })?;
    let mut indent = None;
    for (i, line) in lines.iter().enumerate().skip(start + 1) {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let this_indent = line.len() - trimmed.len();
        if this_indent == 0 {
            return None; // next top-level section
        }
        let want = *indent.get_or_insert(this_indent);
        if this_indent != want {
            continue;
        }
        let Some((key, _)) = trimmed.split_once(':') else {
            continue;
        };
        let key = key.trim().trim_matches('"').trim_matches('\'');
        if key == id {
            return Some(i + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ResolveContext {
        ResolveContext {
            account: Some("111111111111".into()),
            region: None,
        }
    }

    fn text_of(r: &IacResource) -> serde_json::Value {
        match &r.policy {
            PolicySource::Text { text } => serde_json::from_str(text).unwrap(),
            other => panic!("not text: {other:?}"),
        }
    }

    const YAML: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Partner:
    Type: String
    Default: "222222222222"
Resources:
  # a comment
  AppRepo:
    Type: AWS::ECR::Repository
    Properties:
      RepositoryName: !Sub "${AWS::AccountId}-app"
      RepositoryPolicyText:
        Version: "2012-10-17"
        Statement:
          - Sid: Own
            Effect: Allow
            Principal:
              AWS: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"
            Action: "ecr:*"
      Tags:
        - Key: owner
          Value: !Ref Partner
  PartnerRepo:
    Type: AWS::ECR::Repository
    Properties:
      RepositoryPolicyText:
        Statement:
          - Effect: Allow
            Principal: {AWS: !Join ["", ["arn:aws:iam::", !Ref Partner, ":root"]]}
            Action: ecr:BatchGetImage
  Registry:
    Type: "AWS::ECR::RegistryPolicy"
    Properties:
      PolicyText: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:ReplicateImage","Resource":"*"}]}'
  Bucket:
    Type: AWS::S3::Bucket
Outputs:
  AppRepo:
    Value: !Ref AppRepo
"#;

    #[test]
    fn yaml_short_forms_resolve_or_explain() {
        let res = extract(YAML, &ctx()).unwrap();
        let ids: Vec<_> = res.iter().map(|r| (r.resource.as_str(), r.line)).collect();
        assert_eq!(
            ids,
            vec![
                ("AppRepo", Some(8)),
                ("PartnerRepo", Some(23)),
                ("Registry", Some(31))
            ]
        );
        let app = &res[0];
        assert_eq!(app.repository_name.as_deref(), Some("111111111111-app"));
        assert_eq!(
            text_of(app)["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::111111111111:root"
        );
        assert_eq!(
            app.tags,
            TagsSource::Known {
                tags: [("owner".to_string(), UNKNOWN_TAG_VALUE.to_string())].into()
            }
        );
        match &res[1].policy {
            PolicySource::Unknown { path, reason } => {
                assert_eq!(
                    path,
                    "Resources.PartnerRepo.Properties.RepositoryPolicyText.Statement[0].Principal.AWS.Fn::Join[1][1]"
                );
                assert!(reason.contains("parameter Partner"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            res[1].tags,
            TagsSource::Known {
                tags: BTreeMap::new()
            }
        );
        assert_eq!(res[2].kind, ResourceKind::RegistryPolicy);
        assert_eq!(text_of(&res[2])["Statement"][0]["Principal"], "*");
    }

    #[test]
    fn json_template_lines_and_string_policy() {
        let json = r#"{
  "Description": "AppRepo is mentioned here first",
  "Resources": {
    "Other": {"Type": "AWS::SNS::Topic"},
    "AppRepo": {
      "Type": "AWS::ECR::Repository",
      "Properties": {
        "RepositoryPolicyText": {"Fn::Sub": "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::${AWS::AccountId}:root\"},\"Action\":\"ecr:*\"}]}"}
      }
    }
  }
}"#;
        let res = extract(json, &ctx()).unwrap();
        assert_eq!(res.len(), 1);
        assert_eq!(res[0].line, Some(5));
        assert_eq!(
            text_of(&res[0])["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::111111111111:root"
        );
        let no_account = extract(json, &ResolveContext::default()).unwrap();
        assert!(
            matches!(&no_account[0].policy, PolicySource::Unknown { reason, .. } if reason.contains("--account"))
        );
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let json = r#"{"Resources": {"R": {"Type": "AWS::ECR::Repository", "Properties": {"RepositoryPolicyText": {"Statement": [{"Effect": "Deny", "Effect": "Allow"}]}}}}}"#;
        assert_eq!(extract(json, &ctx()).unwrap_err().code, "duplicate_key");
        let yaml =
            "Resources:\n  R:\n    Type: AWS::ECR::Repository\n    Type: AWS::ECR::Repository\n";
        assert_eq!(extract(yaml, &ctx()).unwrap_err().code, "duplicate_key");
    }

    #[test]
    fn bad_templates_give_errors() {
        assert_eq!(
            extract("[1]", &ctx()).unwrap_err().code,
            "invalid_structure"
        );
        assert_eq!(
            extract("{\"a\":1}", &ctx()).unwrap_err().code,
            "invalid_structure"
        );
        assert_eq!(extract("a: [", &ctx()).unwrap_err().code, "invalid_yaml");
        assert_eq!(extract("{", &ctx()).unwrap_err().code, "invalid_json");
        let props = "Resources:\n  R:\n    Type: AWS::ECR::Repository\n    Properties: 5\n";
        assert_eq!(
            extract(props, &ctx()).unwrap_err().code,
            "invalid_structure"
        );
        let tags_if = "Resources:\n  R:\n    Type: AWS::ECR::Repository\n    Properties:\n      Tags: !If [C, [], []]\n";
        assert!(matches!(
            extract(tags_if, &ctx()).unwrap()[0].tags,
            TagsSource::Unknown { .. }
        ));
    }
}
