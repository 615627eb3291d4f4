//! Tag checks: required tags (default `owner`), the owner value and IaC management.
//!
//! Pure: a function of the collected tags and the configured keys.

use std::collections::BTreeMap;

/// Required tag keys that are absent or whose value is empty (whitespace counts as empty),
/// in configuration order.
pub fn missing_tags(tags: &BTreeMap<String, String>, required: &[String]) -> Vec<String> {
    required
        .iter()
        .filter(|key| tags.get(key.as_str()).is_none_or(|v| v.trim().is_empty()))
        .cloned()
        .collect()
}

/// Value of the first required tag: the owner used for alert routing. `None` when absent or empty.
pub fn owner(tags: &BTreeMap<String, String>, required: &[String]) -> Option<String> {
    let key = required.first()?;
    tags.get(key)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// What manages the repository, from the first IaC tag key present with a non-empty value.
///
/// `aws:cloudformation:*` keys mean CloudFormation whatever their value; any other key's value
/// is taken as the tool's name (for example `managed-by=terraform`).
pub fn managed_by(tags: &BTreeMap<String, String>, iac_keys: &[String]) -> Option<String> {
    iac_keys.iter().find_map(|key| {
        let value = tags.get(key)?.trim();
        if value.is_empty() {
            None
        } else if key.starts_with("aws:cloudformation:") {
            Some("cloudformation".to_string())
        } else {
            Some(value.to_ascii_lowercase())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn missing_and_empty_owner_are_both_missing() {
        let required = keys(&["owner", "team"]);
        assert_eq!(missing_tags(&tags(&[]), &required), required);
        assert_eq!(
            missing_tags(&tags(&[("owner", "  "), ("team", "x")]), &required),
            keys(&["owner"])
        );
        assert!(missing_tags(&tags(&[("owner", "a"), ("team", "b")]), &required).is_empty());
    }

    #[test]
    fn tag_keys_are_case_sensitive() {
        assert_eq!(
            missing_tags(&tags(&[("Owner", "a")]), &keys(&["owner"])),
            keys(&["owner"])
        );
    }

    #[test]
    fn owner_is_first_required_tag() {
        let required = keys(&["owner", "team"]);
        assert_eq!(
            owner(&tags(&[("owner", " sec ")]), &required).as_deref(),
            Some("sec")
        );
        assert_eq!(owner(&tags(&[("team", "x")]), &required), None);
        assert_eq!(owner(&tags(&[("owner", "x")]), &[]), None);
    }

    #[test]
    fn managed_by_prefers_configured_order() {
        let iac = keys(&["aws:cloudformation:stack-name", "managed-by"]);
        assert_eq!(
            managed_by(&tags(&[("aws:cloudformation:stack-name", "s1")]), &iac).as_deref(),
            Some("cloudformation")
        );
        assert_eq!(
            managed_by(&tags(&[("managed-by", "Terraform")]), &iac).as_deref(),
            Some("terraform")
        );
        assert_eq!(managed_by(&tags(&[("managed-by", "")]), &iac), None);
        assert_eq!(managed_by(&tags(&[]), &iac), None);
    }
}
