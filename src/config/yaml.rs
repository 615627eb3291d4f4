//! The YAML [`Format`] for figment, backed by `serde_norway` (a maintained fork of the
//! deprecated `serde_yaml`, which figment's own `yaml` feature still pulls in).
//!
//! Owns only the text-to-value step: figment keeps the layering, the key paths and the
//! "(from file)" source of each error, and the parser's message keeps its line and column.

use figment::providers::Format;
use serde::de::DeserializeOwned;

/// `Yaml::file_exact(path)` / `Yaml::string(text)`, as with figment's own provider.
#[derive(Debug, Clone, Copy)]
pub struct Yaml;

impl Format for Yaml {
    type Error = serde_norway::Error;

    const NAME: &'static str = "YAML";

    fn from_str<T: DeserializeOwned>(string: &str) -> Result<T, Self::Error> {
        serde_norway::from_str(string)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    fn error(yaml: &str) -> String {
        Config::from_yaml_str(yaml).unwrap_err().to_string()
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let err = error("scan:\n  interval: 5m\n  jitter: [1s\n");
        assert!(err.contains("line 4 column 1"), "{err}");
        let err = error("scan:\n  interval: 5m\n interval: 1m\n");
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn type_errors_and_unknown_keys_keep_the_key_path() {
        let err = error("scan:\n  interval: [5m]\n");
        assert!(err.starts_with("scan.interval: invalid type"), "{err}");
        let err = error("tags:\n  requried: [owner]\n");
        assert!(err.starts_with("tags.requried: unknown key"), "{err}");
    }

    #[test]
    fn file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, "regions: [eu-west-1\n").unwrap();
        let err = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("line 2 column 1"), "{err}");
        std::fs::write(&path, "scan:\n  interval: [5m]\n").unwrap();
        let err = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(err.starts_with("scan.interval: "), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
    }

    #[test]
    fn anchors_and_aliases_resolve() {
        let c = Config::from_yaml_str(
            "tags:\n  required: &t [owner, team]\n  iac: *t\nregions: [eu-west-1]\n",
        )
        .unwrap();
        assert_eq!(c.tags.required, c.tags.iac);
    }
}
