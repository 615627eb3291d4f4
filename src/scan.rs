//! The `scan --once` command: one full cycle over every target, printed as text or JSON lines.
//!
//! Exit status: 0 nothing found, 1 findings, 2 some target failed or bad configuration.
//! The JSON records ([`records`]) are the same objects the daemon serves on `/findings`.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use crate::analysis::{RegistryReport, RepositoryReport, TargetReport, analyze_target};
use crate::cli::{ScanArgs, ScanFormat};
use crate::config::Config;
use crate::cycle::{Cycle, ScanContext, run_cycle};
use crate::facts::TargetOutcome;

/// Run `scan --once`; returns the process exit code.
pub fn run(args: &ScanArgs) -> u8 {
    let config = match Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(err) => {
            eprintln!("configuration invalid:");
            for p in &err.problems {
                eprintln!("  {p}");
            }
            return 2;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return 2;
        }
    };
    let cycle = runtime.block_on(async {
        let ctx = ScanContext::new(config).await;
        run_cycle(&ctx).await
    });
    let reports = analyze_cycle(&cycle);
    let out = match args.format {
        ScanFormat::Json => render_json_lines(&cycle.outcomes, &reports),
        ScanFormat::Text => render_text(&cycle.outcomes, &reports),
    };
    print!("{out}");
    exit_code(&cycle, &reports)
}

/// Analyse every successful target of a cycle, in outcome order (`None` for failed ones).
pub fn analyze_cycle(cycle: &Cycle) -> Vec<Option<TargetReport>> {
    cycle
        .outcomes
        .iter()
        .map(|o| {
            o.result
                .as_ref()
                .ok()
                .map(|facts| analyze_target(facts, &cycle.settings))
        })
        .collect()
}

/// 2 if a target failed, else 1 if anything was found, else 0.
pub fn exit_code(cycle: &Cycle, reports: &[Option<TargetReport>]) -> u8 {
    if cycle.any_failed() {
        2
    } else if reports.iter().flatten().any(|r| !r.findings().is_empty()) {
        1
    } else {
        0
    }
}

fn with_kind(kind: &str, value: Value) -> Value {
    let mut map = Map::new();
    map.insert("kind".into(), Value::String(kind.into()));
    if let Value::Object(fields) = value {
        map.extend(fields);
    }
    Value::Object(map)
}

/// `{"kind":"repository", ...}`: every field of the report.
pub fn repository_record(report: &RepositoryReport) -> Value {
    with_kind(
        "repository",
        serde_json::to_value(report).unwrap_or(Value::Null),
    )
}

/// `{"kind":"registry", ...}`.
pub fn registry_record(report: &RegistryReport) -> Value {
    with_kind(
        "registry",
        serde_json::to_value(report).unwrap_or(Value::Null),
    )
}

/// `{"kind":"target","account_id","region","status","error","repositories","duration_seconds"}`.
pub fn target_record(outcome: &TargetOutcome) -> Value {
    let (status, error, repositories) = match &outcome.result {
        Ok(facts) => ("ok", Value::Null, facts.repositories.len()),
        Err(e) => ("failed", json!({"code": e.code, "message": e.message}), 0),
    };
    json!({
        "kind": "target",
        "account_id": outcome.target.account_id,
        "region": outcome.target.region,
        "status": status,
        "error": error,
        "repositories": repositories,
        "duration_seconds": outcome.duration_seconds,
    })
}

/// Every record of one target: its repositories, its registry, then the target itself.
pub fn records(outcome: &TargetOutcome, report: Option<&TargetReport>) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(report) = report {
        out.extend(report.repositories.iter().map(repository_record));
        out.extend(report.registry.iter().map(registry_record));
    }
    out.push(target_record(outcome));
    out
}

/// One JSON object per line, for all targets.
pub fn render_json_lines(outcomes: &[TargetOutcome], reports: &[Option<TargetReport>]) -> String {
    let mut out = String::new();
    for (o, r) in outcomes.iter().zip(reports) {
        for rec in records(o, r.as_ref()) {
            out.push_str(&rec.to_string());
            out.push('\n');
        }
    }
    out
}

fn table(out: &mut String, title: &str, header: &[&str], rows: &[Vec<String>]) {
    if rows.is_empty() {
        return;
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let _ = write!(s, "{:<w$}  ", c, w = widths[i]);
            }
        }
        s.trim_end().to_string()
    };
    let _ = writeln!(out, "{title} ({})", rows.len());
    let _ = writeln!(
        out,
        "{}",
        line(&header.iter().map(|h| h.to_string()).collect::<Vec<_>>())
    );
    for row in rows {
        let _ = writeln!(out, "{}", line(row));
    }
    out.push('\n');
}

/// A readable report: exposures first, then unknown policies, missing tags, targets.
pub fn render_text(outcomes: &[TargetOutcome], reports: &[Option<TargetReport>]) -> String {
    let mut exposed = Vec::new();
    let mut registries = Vec::new();
    let mut unknown = Vec::new();
    let mut untagged = Vec::new();
    for r in reports.iter().flatten() {
        for repo in &r.repositories {
            if let Some(scope) = repo.policy.scope() {
                exposed.push(vec![
                    repo.account_id.clone(),
                    repo.region.clone(),
                    repo.repository.clone(),
                    scope.as_label().to_string(),
                    repo.policy
                        .access
                        .map(|a| a.as_label())
                        .unwrap_or("")
                        .to_string(),
                    if repo.policy.network_restricted == Some(true) {
                        "yes".into()
                    } else {
                        "no".into()
                    },
                    repo.owner.clone().unwrap_or_else(|| "-".into()),
                ]);
            }
            if let Some(err) = &repo.policy.error {
                unknown.push(vec![
                    repo.account_id.clone(),
                    repo.region.clone(),
                    repo.repository.clone(),
                    format!("{:?}", repo.policy.policy_state).to_lowercase(),
                    err.code.clone(),
                    err.message.lines().next().unwrap_or("").to_string(),
                ]);
            }
            if !repo.missing_tags.is_empty() {
                untagged.push(vec![
                    repo.account_id.clone(),
                    repo.region.clone(),
                    repo.repository.clone(),
                    repo.missing_tags.join(","),
                ]);
            }
        }
        if let Some(reg) = &r.registry {
            if let Some(scope) = reg.policy.scope() {
                registries.push(vec![
                    reg.account_id.clone(),
                    reg.region.clone(),
                    scope.as_label().to_string(),
                    reg.policy
                        .access
                        .map(|a| a.as_label())
                        .unwrap_or("")
                        .to_string(),
                    format!(
                        "{}{}",
                        reg.scope.as_label(),
                        if reg.scope_known { "" } else { " (assumed)" }
                    ),
                ]);
            }
            if let Some(err) = &reg.policy.error {
                unknown.push(vec![
                    reg.account_id.clone(),
                    reg.region.clone(),
                    "(registry)".into(),
                    format!("{:?}", reg.policy.policy_state).to_lowercase(),
                    err.code.clone(),
                    err.message.lines().next().unwrap_or("").to_string(),
                ]);
            }
        }
    }
    // public before cross-account, then by access level (worst first)
    exposed.sort_by(|a, b| {
        let rank = |s: &str| if s == "public" { 0 } else { 1 };
        let level = |s: &str| match s {
            "admin" => 0,
            "write" => 1,
            _ => 2,
        };
        (rank(&a[3]), level(&a[4]), &a[0], &a[1], &a[2]).cmp(&(
            rank(&b[3]),
            level(&b[4]),
            &b[0],
            &b[1],
            &b[2],
        ))
    });
    let targets: Vec<Vec<String>> = outcomes
        .iter()
        .map(|o| {
            let (status, n, err) = match &o.result {
                Ok(f) => ("ok", f.repositories.len().to_string(), String::new()),
                Err(e) => ("FAILED", "-".into(), format!("{}: {}", e.code, e.message)),
            };
            vec![
                o.target.account_id.clone(),
                o.target.region.clone(),
                status.to_string(),
                n,
                format!("{:.2}s", o.duration_seconds),
                err,
            ]
        })
        .collect();

    let mut out = String::new();
    table(
        &mut out,
        "EXPOSED REPOSITORIES",
        &[
            "ACCOUNT",
            "REGION",
            "REPOSITORY",
            "SCOPE",
            "ACCESS",
            "NETWORK-RESTRICTED",
            "OWNER",
        ],
        &exposed,
    );
    table(
        &mut out,
        "EXPOSED REGISTRIES",
        &["ACCOUNT", "REGION", "SCOPE", "ACCESS", "POLICY-SCOPE"],
        &registries,
    );
    table(
        &mut out,
        "POLICIES NOT ANALYSED (unknown, never safe)",
        &[
            "ACCOUNT",
            "REGION",
            "REPOSITORY",
            "STATE",
            "CODE",
            "MESSAGE",
        ],
        &unknown,
    );
    table(
        &mut out,
        "MISSING TAGS",
        &["ACCOUNT", "REGION", "REPOSITORY", "MISSING"],
        &untagged,
    );
    table(
        &mut out,
        "TARGETS",
        &[
            "ACCOUNT",
            "REGION",
            "STATUS",
            "REPOSITORIES",
            "DURATION",
            "ERROR",
        ],
        &targets,
    );
    let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
    let repos: usize = reports.iter().flatten().map(|r| r.repositories.len()).sum();
    let _ = writeln!(
        out,
        "{} targets ({} failed), {} repositories: {} exposed, {} registries exposed, {} not analysed, {} missing tags",
        outcomes.len(),
        failed,
        repos,
        exposed.len(),
        registries.len(),
        unknown.len(),
        untagged.len()
    );
    out
}
