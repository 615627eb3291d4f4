//! The `scan --once` command: one full cycle over every target, printed as text or JSON lines.
//!
//! Exit status: 0 nothing found, 1 findings, 2 some target failed or bad configuration.
//! The JSON lines are [`crate::report`]'s records, the same objects the daemon serves on
//! `/findings`. Wiring and rendering only: collection, analysis and records live below.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::analysis::{TargetReport, analyze_target};
use crate::cli::{ScanArgs, ScanFormat};
use crate::collect::{Cycle, ScanContext, run_cycle};
use crate::config::Config;
use crate::facts::TargetOutcome;
use crate::report::render_json_lines;

/// Run `scan --once`.
pub fn run(args: &ScanArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(args.config.as_deref()).context("invalid configuration")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
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
    Ok(ExitCode::from(exit_code(&cycle, &reports)))
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::analysis::AnalysisSettings;
    use crate::facts::{
        PolicyFetch, RegistryFacts, RepositoryFacts, TagsSource, TargetError, TargetErrorCode,
        TargetFacts, TargetId, UnknownReason,
    };
    use crate::model::RegistryScope;

    fn repo(account: &str, name: &str, policy: &str, owner: Option<&str>) -> RepositoryFacts {
        RepositoryFacts {
            name: name.into(),
            arn: format!("arn:aws:ecr:eu-west-1:{account}:repository/{name}"),
            created_at: None,
            tags: owner
                .map(|o| BTreeMap::from([("owner".to_string(), o.to_string())]))
                .unwrap_or_default(),
            tags_source: TagsSource::TaggingApi,
            policy: if policy.is_empty() {
                PolicyFetch::None
            } else {
                PolicyFetch::Text {
                    text: policy.into(),
                }
            },
        }
    }

    fn allow(principal: &str, actions: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{principal},"Action":[{actions}]}}]}}"#
        )
    }

    #[test]
    fn text_report_sorts_and_counts() {
        let account = "111122223333";
        let pull = r#""ecr:BatchGetImage","ecr:GetDownloadUrlForLayer""#;
        let push = r#""ecr:PutImage","ecr:BatchGetImage""#;
        let facts = TargetFacts {
            target: TargetId {
                account_id: account.into(),
                region: "eu-west-1".into(),
            },
            repositories: vec![
                repo(
                    account,
                    "a-cross",
                    &allow(r#"{"AWS":"444455556666"}"#, push),
                    Some("web"),
                ),
                repo(account, "b-public", &allow(r#""*""#, pull), None),
                repo(account, "c-private", "", Some("ops")),
            ],
            registry: Some(RegistryFacts {
                policy: PolicyFetch::Unreadable {
                    reason: UnknownReason::AccessDenied,
                    message: "denied\nsecond line".into(),
                },
                scope: RegistryScope::V2,
                scope_known: false,
            }),
        };
        let settings = AnalysisSettings {
            required_tags: vec!["owner".into()],
            ..AnalysisSettings::default()
        };
        let report = analyze_target(&facts, &settings);
        let outcomes = vec![
            TargetOutcome {
                target: facts.target.clone(),
                result: Ok(facts),
                duration_seconds: 1.5,
            },
            TargetOutcome {
                target: TargetId {
                    account_id: "999999999999".into(),
                    region: "*".into(),
                },
                result: Err(TargetError {
                    code: TargetErrorCode::AssumeRoleFailed,
                    message: "no role".into(),
                }),
                duration_seconds: 0.0,
            },
        ];
        let text = render_text(&outcomes, &[Some(report), None]);
        let want = "\
EXPOSED REPOSITORIES (2)
ACCOUNT       REGION     REPOSITORY  SCOPE          ACCESS  NETWORK-RESTRICTED  OWNER
111122223333  eu-west-1  b-public    public         read    no                  -
111122223333  eu-west-1  a-cross     cross_account  write   no                  web

POLICIES NOT ANALYSED (unknown, never safe) (1)
ACCOUNT       REGION     REPOSITORY  STATE    CODE           MESSAGE
111122223333  eu-west-1  (registry)  unknown  access_denied  denied

MISSING TAGS (1)
ACCOUNT       REGION     REPOSITORY  MISSING
111122223333  eu-west-1  b-public    owner

TARGETS (2)
ACCOUNT       REGION     STATUS  REPOSITORIES  DURATION  ERROR
111122223333  eu-west-1  ok      3             1.50s
999999999999  *          FAILED  -             0.00s     assume_role_failed: no role

2 targets (1 failed), 3 repositories: 2 exposed, 0 registries exposed, 1 not analysed, 1 missing tags
";
        assert_eq!(text, want);
    }
}
