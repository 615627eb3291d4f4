//! CloudFormation intrinsic functions, resolved statically where the answer cannot change
//! at deploy time, and refused (with the element path and the reason) everywhere else.
//!
//! Resolved: `Ref` to `AWS::AccountId` (from `--account`), `AWS::Region` (when given),
//! `AWS::Partition` and `AWS::URLSuffix` (from the region's partition, `aws` when the region
//! is not given); `Fn::Sub` over those; `Fn::Join`, `Fn::Select`, `Fn::Split` of resolved
//! values; `Fn::FindInMap` (the template's own `Mappings` are static); `Fn::ToJsonString`.
//!
//! Refused on purpose: `Ref` to a template parameter. Its `Default` is only what is used when
//! the deployer passes nothing; pipelines usually pass something, so treating the default as
//! the deployed value could call a policy safe that is deployed public. Likewise `Fn::If`
//! (conditions depend on parameters), `Fn::GetAtt`, `Ref` to a resource, `Fn::ImportValue`,
//! `AWS::StackName` and every other function: all known only at deploy.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::ResolveContext;

/// An element that cannot be known before deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// Template path of the element, e.g. `Resources.Repo.Properties.RepositoryPolicyText.Statement[0].Principal.AWS`.
    pub path: String,
    pub reason: String,
}

/// Resolves intrinsics against one template and the caller's context.
#[derive(Debug)]
pub struct Resolver<'a> {
    ctx: &'a ResolveContext,
    mappings: Option<&'a Map<String, Value>>,
    parameters: BTreeSet<String>,
    resources: BTreeSet<String>,
}

/// Nesting bound for intrinsics inside intrinsics (templates are already depth-capped by
/// their parsers; this keeps `Fn::Sub` variables from recursing without end).
const MAX_DEPTH: usize = 64;

impl<'a> Resolver<'a> {
    /// A resolver for `template` (the whole parsed template object).
    pub fn new(template: &'a Map<String, Value>, ctx: &'a ResolveContext) -> Self {
        let names = |section: &str| -> BTreeSet<String> {
            template
                .get(section)
                .and_then(Value::as_object)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()
        };
        Resolver {
            ctx,
            mappings: template.get("Mappings").and_then(Value::as_object),
            parameters: names("Parameters"),
            resources: names("Resources"),
        }
    }

    /// Resolve every intrinsic inside `value`; `path` names `value` in the template.
    pub fn resolve(&self, value: &Value, path: &str) -> Result<Value, Unresolved> {
        self.resolve_at(value, path, 0)
    }

    fn resolve_at(&self, value: &Value, path: &str, depth: usize) -> Result<Value, Unresolved> {
        if depth > MAX_DEPTH {
            return Err(unresolved(path, "intrinsic functions nested too deeply"));
        }
        match value {
            Value::Object(map) => {
                if map.len() == 1 {
                    let (name, arg) = map.iter().next().expect("one entry");
                    if name == "Ref" || name.starts_with("Fn::") {
                        return self.intrinsic(name, arg, path, depth + 1);
                    }
                }
                let mut out = Map::new();
                for (k, v) in map {
                    out.insert(
                        k.clone(),
                        self.resolve_at(v, &format!("{path}.{k}"), depth + 1)?,
                    );
                }
                Ok(Value::Object(out))
            }
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| self.resolve_at(v, &format!("{path}[{i}]"), depth + 1))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    }

    fn intrinsic(
        &self,
        name: &str,
        arg: &Value,
        path: &str,
        depth: usize,
    ) -> Result<Value, Unresolved> {
        match name {
            "Ref" => match arg {
                Value::String(target) => self.reference(target, path).map(Value::String),
                _ => Err(unresolved(path, "Ref needs a name")),
            },
            "Fn::Sub" => self.sub(arg, path, depth).map(Value::String),
            "Fn::Join" => {
                let [delim, list] = two_args(arg, name, path)?;
                let delim = self.string(delim, &format!("{path}.Fn::Join[0]"), depth)?;
                let list = self.resolve_at(list, &format!("{path}.Fn::Join[1]"), depth)?;
                let Value::Array(items) = list else {
                    return Err(unresolved(path, "Fn::Join needs a list of values"));
                };
                let parts = items
                    .iter()
                    .map(|v| {
                        scalar_string(v)
                            .ok_or_else(|| unresolved(path, "Fn::Join of a non-string value"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Value::String(parts.join(&delim)))
            }
            "Fn::Select" => {
                let [index, list] = two_args(arg, name, path)?;
                let index = self.resolve_at(index, &format!("{path}.Fn::Select[0]"), depth)?;
                let index = scalar_string(&index)
                    .and_then(|s| s.parse::<usize>().ok())
                    .ok_or_else(|| unresolved(path, "Fn::Select needs a numeric index"))?;
                let list = self.resolve_at(list, &format!("{path}.Fn::Select[1]"), depth)?;
                match list {
                    Value::Array(mut items) if index < items.len() => Ok(items.swap_remove(index)),
                    Value::Array(_) => Err(unresolved(path, "Fn::Select index out of range")),
                    _ => Err(unresolved(path, "Fn::Select needs a list")),
                }
            }
            "Fn::Split" => {
                let [delim, source] = two_args(arg, name, path)?;
                let delim = self.string(delim, &format!("{path}.Fn::Split[0]"), depth)?;
                let source = self.string(source, &format!("{path}.Fn::Split[1]"), depth)?;
                if delim.is_empty() {
                    return Err(unresolved(path, "Fn::Split with an empty delimiter"));
                }
                Ok(Value::Array(
                    source
                        .split(delim.as_str())
                        .map(|s| Value::String(s.to_string()))
                        .collect(),
                ))
            }
            "Fn::FindInMap" => self.find_in_map(arg, path, depth),
            "Fn::ToJsonString" => {
                let inner = self.resolve_at(arg, &format!("{path}.Fn::ToJsonString"), depth)?;
                serde_json::to_string(&inner)
                    .map(Value::String)
                    .map_err(|e| unresolved(path, &format!("Fn::ToJsonString: {e}")))
            }
            "Fn::If" => Err(unresolved(
                path,
                &format!(
                    "Fn::If on condition {}: conditions depend on parameters known only at deploy",
                    arg.get(0).and_then(Value::as_str).unwrap_or("?")
                ),
            )),
            "Fn::GetAtt" => Err(unresolved(
                path,
                &format!(
                    "Fn::GetAtt {}: resource attributes are assigned at deploy",
                    getatt_name(arg)
                ),
            )),
            "Fn::ImportValue" => Err(unresolved(
                path,
                "Fn::ImportValue: the value is exported by another stack at deploy",
            )),
            other => Err(unresolved(
                path,
                &format!("{other} is not resolved before deploy"),
            )),
        }
    }

    /// `Ref` (and `${Name}` in `Fn::Sub`) to a pseudo parameter, parameter or resource.
    fn reference(&self, target: &str, path: &str) -> Result<String, Unresolved> {
        match target {
            "AWS::AccountId" => self
                .ctx
                .account
                .clone()
                .ok_or_else(|| unresolved(path, "AWS::AccountId is not known: pass --account")),
            "AWS::Region" => self
                .ctx
                .region
                .clone()
                .ok_or_else(|| unresolved(path, "AWS::Region is not known: pass --region")),
            "AWS::Partition" => Ok(partition(self.ctx.region.as_deref()).to_string()),
            "AWS::URLSuffix" => Ok(if partition(self.ctx.region.as_deref()) == "aws-cn" {
                "amazonaws.com.cn".to_string()
            } else {
                "amazonaws.com".to_string()
            }),
            "AWS::NoValue" => Err(unresolved(
                path,
                "AWS::NoValue removes the element; which branch applies is decided at deploy",
            )),
            t if t.starts_with("AWS::") => Err(unresolved(
                path,
                &format!("pseudo parameter {t} is known only at deploy"),
            )),
            t if self.parameters.contains(t) => Err(unresolved(
                path,
                &format!(
                    "Ref to parameter {t}: its deployed value is not known before deploy (its Default is not assumed)"
                ),
            )),
            t if self.resources.contains(t) => Err(unresolved(
                path,
                &format!("Ref to resource {t}: its physical id is assigned at deploy"),
            )),
            t => Err(unresolved(
                path,
                &format!("Ref to {t}, which the template does not define"),
            )),
        }
    }

    fn sub(&self, arg: &Value, path: &str, depth: usize) -> Result<String, Unresolved> {
        let (template, vars) = match arg {
            Value::String(s) => (s.as_str(), None),
            Value::Array(items) if items.len() == 2 => match (&items[0], &items[1]) {
                (Value::String(s), Value::Object(vars)) => (s.as_str(), Some(vars)),
                _ => return Err(unresolved(path, "Fn::Sub needs a string and a map")),
            },
            _ => return Err(unresolved(path, "Fn::Sub needs a string")),
        };
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            if let Some(literal) = after.strip_prefix('!') {
                // `${!Literal}` is the literal text `${Literal}`.
                out.push_str("${");
                rest = literal;
                continue;
            }
            let Some(end) = after.find('}') else {
                return Err(unresolved(path, "Fn::Sub: unterminated ${"));
            };
            let name = after[..end].trim();
            let value = if let Some(v) = vars.and_then(|m| m.get(name)) {
                let resolved = self.resolve_at(v, &format!("{path}.Fn::Sub[1].{name}"), depth)?;
                scalar_string(&resolved).ok_or_else(|| {
                    unresolved(path, &format!("Fn::Sub variable {name} is not a string"))
                })?
            } else if name.contains('.') && !name.starts_with("AWS::") {
                return Err(unresolved(
                    path,
                    &format!("Fn::Sub ${{{name}}}: resource attributes are assigned at deploy"),
                ));
            } else {
                self.reference(name, path).map_err(|u| {
                    unresolved(&u.path, &format!("Fn::Sub ${{{name}}}: {}", u.reason))
                })?
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn find_in_map(&self, arg: &Value, path: &str, depth: usize) -> Result<Value, Unresolved> {
        let Some(items) = arg.as_array().filter(|a| a.len() == 3 || a.len() == 4) else {
            return Err(unresolved(path, "Fn::FindInMap needs [map, key, key]"));
        };
        let keys = items[..3]
            .iter()
            .enumerate()
            .map(|(i, v)| self.string(v, &format!("{path}.Fn::FindInMap[{i}]"), depth))
            .collect::<Result<Vec<_>, _>>()?;
        let found = self
            .mappings
            .and_then(|m| m.get(&keys[0]))
            .and_then(|m| m.get(&keys[1]))
            .and_then(|m| m.get(&keys[2]));
        match found {
            Some(v) => self.resolve_at(
                v,
                &format!("Mappings.{}.{}.{}", keys[0], keys[1], keys[2]),
                depth,
            ),
            None => Err(unresolved(
                path,
                &format!(
                    "Fn::FindInMap: Mappings has no {}.{}.{}",
                    keys[0], keys[1], keys[2]
                ),
            )),
        }
    }

    fn string(&self, v: &Value, path: &str, depth: usize) -> Result<String, Unresolved> {
        let resolved = self.resolve_at(v, path, depth)?;
        scalar_string(&resolved).ok_or_else(|| unresolved(path, "expected a string"))
    }
}

fn unresolved(path: &str, reason: &str) -> Unresolved {
    Unresolved {
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

fn two_args<'v>(arg: &'v Value, name: &str, path: &str) -> Result<[&'v Value; 2], Unresolved> {
    match arg.as_array().map(Vec::as_slice) {
        Some([a, b]) => Ok([a, b]),
        _ => Err(unresolved(path, &format!("{name} needs two arguments"))),
    }
}

fn getatt_name(arg: &Value) -> String {
    match arg {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().unwrap_or("?"))
            .collect::<Vec<_>>()
            .join("."),
        _ => "?".to_string(),
    }
}

/// A string, number or boolean as CloudFormation would print it in a string.
fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The partition of a region; `aws` when the region is not given.
pub fn partition(region: Option<&str>) -> &'static str {
    match region {
        Some(r) if r.starts_with("cn-") => "aws-cn",
        Some(r) if r.starts_with("us-gov-") => "aws-us-gov",
        _ => "aws",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template() -> Map<String, Value> {
        json!({
            "Parameters": {"Trusted": {"Type": "String", "Default": "222222222222"}},
            "Mappings": {"Accounts": {"prod": {"Ci": "333333333333"}}},
            "Resources": {"Role": {"Type": "AWS::IAM::Role"}}
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn ctx() -> ResolveContext {
        ResolveContext {
            account: Some("111111111111".into()),
            region: Some("eu-west-1".into()),
        }
    }

    fn resolve(v: Value, ctx: &ResolveContext) -> Result<Value, Unresolved> {
        let t = template();
        Resolver::new(&t, ctx).resolve(&v, "X")
    }

    #[test]
    fn pseudo_parameters_resolve_from_context() {
        let c = ctx();
        assert_eq!(
            resolve(
                json!({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}),
                &c
            )
            .unwrap(),
            json!("arn:aws:iam::111111111111:root")
        );
        assert_eq!(
            resolve(json!({"Ref": "AWS::Region"}), &c).unwrap(),
            json!("eu-west-1")
        );
        let none = ResolveContext::default();
        let err = resolve(json!({"Ref": "AWS::AccountId"}), &none).unwrap_err();
        assert!(err.reason.contains("--account"), "{err:?}");
        assert_eq!(
            resolve(json!({"Ref": "AWS::Partition"}), &none).unwrap(),
            json!("aws")
        );
        let cn = ResolveContext {
            region: Some("cn-north-1".into()),
            ..ctx()
        };
        assert_eq!(
            resolve(json!({"Ref": "AWS::Partition"}), &cn).unwrap(),
            json!("aws-cn")
        );
    }

    #[test]
    fn parameters_resources_and_conditions_are_unknown() {
        let c = ctx();
        let err = resolve(json!({"a": [{"Ref": "Trusted"}]}), &c).unwrap_err();
        assert_eq!(err.path, "X.a[0]");
        assert!(err.reason.contains("parameter Trusted"), "{err:?}");
        assert!(
            resolve(json!({"Ref": "Role"}), &c)
                .unwrap_err()
                .reason
                .contains("resource Role")
        );
        assert!(
            resolve(json!({"Fn::GetAtt": ["Role", "Arn"]}), &c)
                .unwrap_err()
                .reason
                .contains("Role.Arn")
        );
        assert!(
            resolve(json!({"Fn::If": ["IsProd", "a", "b"]}), &c)
                .unwrap_err()
                .reason
                .contains("IsProd")
        );
        assert!(resolve(json!({"Fn::Sub": "${Role.Arn}"}), &c).is_err());
        assert!(resolve(json!({"Fn::Sub": "${AWS::StackName}"}), &c).is_err());
        assert!(
            resolve(json!({"Ref": "Nope"}), &c)
                .unwrap_err()
                .reason
                .contains("does not define")
        );
        assert!(resolve(json!({"Fn::ImportValue": "x"}), &c).is_err());
        assert!(resolve(json!({"Fn::Base64": "x"}), &c).is_err());
    }

    #[test]
    fn static_functions_resolve() {
        let c = ctx();
        assert_eq!(
            resolve(json!({"Fn::Join": [":", ["arn", {"Ref": "AWS::Partition"}, "iam", "", {"Ref": "AWS::AccountId"}, "root"]]}), &c).unwrap(),
            json!("arn:aws:iam::111111111111:root")
        );
        assert_eq!(
            resolve(
                json!({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}),
                &c
            )
            .unwrap(),
            json!("b")
        );
        assert_eq!(
            resolve(json!({"Fn::FindInMap": ["Accounts", "prod", "Ci"]}), &c).unwrap(),
            json!("333333333333")
        );
        assert!(resolve(json!({"Fn::FindInMap": ["Accounts", "dev", "Ci"]}), &c).is_err());
        assert_eq!(
            resolve(json!({"Fn::Sub": ["arn:aws:iam::${Acct}:root", {"Acct": {"Fn::FindInMap": ["Accounts", "prod", "Ci"]}}]}), &c).unwrap(),
            json!("arn:aws:iam::333333333333:root")
        );
        assert_eq!(
            resolve(json!({"Fn::Sub": "${!Literal}-x"}), &c).unwrap(),
            json!("${Literal}-x")
        );
        assert_eq!(
            resolve(json!({"Fn::ToJsonString": {"a": [1]}}), &c).unwrap(),
            json!("{\"a\":[1]}")
        );
        // Plain objects with several keys are not intrinsics.
        assert_eq!(
            resolve(json!({"Ref": "x", "Other": 1}), &c).unwrap(),
            json!({"Ref": "x", "Other": 1})
        );
    }

    #[test]
    fn malformed_intrinsics_are_unknown_not_panics() {
        let c = ctx();
        for bad in [
            json!({"Fn::Join": "x"}),
            json!({"Fn::Join": [",", [["nested"]]]}),
            json!({"Fn::Select": [9, ["a"]]}),
            json!({"Fn::Select": ["x", ["a"]]}),
            json!({"Fn::Split": ["", "a"]}),
            json!({"Fn::Sub": "${unterminated"}),
            json!({"Fn::Sub": 5}),
            json!({"Fn::FindInMap": ["a"]}),
            json!({"Ref": 5}),
        ] {
            assert!(resolve(bad.clone(), &c).is_err(), "{bad}");
        }
    }
}
