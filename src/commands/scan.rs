//! The `scan --once` command: one full cycle over every target, printed as text or JSON lines.
//!
//! Exit status: 0 nothing found, 1 findings, 2 some target failed or bad configuration.
//! The JSON lines are [`crate::report`]'s records, the same objects the daemon serves on
//! `/findings`. Wiring and rendering only: collection, analysis and records live below.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::analysis::{ErrorInfo, PolicyReport, RegistryReport, RepositoryReport};
use crate::cli::{ScanArgs, ScanFormat};
use crate::config::Config;
use crate::cycle::{ScanContext, run_reported};
use crate::model::{Access, Scope};
use crate::report::write_json_lines;
use crate::state::ScanResult;

/// Run `scan --once`.
pub fn run(args: &ScanArgs) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(args.config.as_deref()).context("invalid configuration")?;
    super::settle_shard(&mut config, &args.shard)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Each target is analysed as it completes and its facts dropped (as in the daemon), so
    // memory follows the reports, not the policy texts of the whole organization.
    let cycle = runtime.block_on(async {
        let ctx = ScanContext::new(config).await;
        run_reported(&ctx).await
    });
    let mut stdout = std::io::stdout().lock();
    match args.format {
        ScanFormat::Json => write_json_lines(&mut stdout, &cycle.outcomes),
        ScanFormat::Text => stdout.write_all(render_text(&cycle.outcomes).as_bytes()),
    }
    .and_then(|()| stdout.flush())
    .context("cannot write the report to stdout")?;
    Ok(ExitCode::from(exit_code(&cycle.outcomes)))
}

/// 2 if a target failed, else 1 if anything was found, else 0.
pub fn exit_code(outcomes: &[ScanResult]) -> u8 {
    if outcomes.iter().any(|o| o.result.is_err()) {
        2
    } else if reports(outcomes).any(|r| !r.findings().is_empty()) {
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

/// The rows of the text report's tables, each a list of cells in header order.
#[derive(Default)]
struct Rows {
    /// With the exposure's scope and access, for the sort.
    exposed: Vec<(Scope, Option<Access>, Vec<String>)>,
    registries: Vec<Vec<String>>,
    unknown: Vec<Vec<String>>,
    untagged: Vec<Vec<String>>,
}

fn access_cell(access: Option<Access>) -> String {
    access.map(|a| a.as_label()).unwrap_or("").to_string()
}

/// `STATE`, `CODE` and the first line of the message of a policy that was not analysed.
fn unknown_cells(policy: &PolicyReport, err: &ErrorInfo) -> [String; 3] {
    [
        format!("{:?}", policy.policy_state).to_lowercase(),
        err.code.clone(),
        err.message.lines().next().unwrap_or("").to_string(),
    ]
}

impl Rows {
    fn repository(&mut self, repo: &RepositoryReport) {
        let id = [
            repo.account_id.clone(),
            repo.region.clone(),
            repo.repository.clone(),
        ];
        if let Some(scope) = repo.policy.scope() {
            let restricted = repo.policy.network_restricted == Some(true);
            let mut cells = id.to_vec();
            cells.extend([
                scope.as_label().to_string(),
                access_cell(repo.policy.access),
                if restricted { "yes" } else { "no" }.to_string(),
                repo.owner.clone().unwrap_or_else(|| "-".into()),
            ]);
            self.exposed.push((scope, repo.policy.access, cells));
        }
        if let Some(err) = &repo.policy.error {
            let mut cells = id.to_vec();
            cells.extend(unknown_cells(&repo.policy, err));
            self.unknown.push(cells);
        }
        if !repo.missing_tags.is_empty() {
            let mut cells = id.to_vec();
            cells.push(repo.missing_tags.join(","));
            self.untagged.push(cells);
        }
    }

    fn registry(&mut self, reg: &RegistryReport) {
        if let Some(scope) = reg.policy.scope() {
            let assumed = if reg.scope_known { "" } else { " (assumed)" };
            self.registries.push(vec![
                reg.account_id.clone(),
                reg.region.clone(),
                scope.as_label().to_string(),
                access_cell(reg.policy.access),
                format!("{}{assumed}", reg.scope.as_label()),
            ]);
        }
        if let Some(err) = &reg.policy.error {
            let mut cells = vec![
                reg.account_id.clone(),
                reg.region.clone(),
                "(registry)".to_string(),
            ];
            cells.extend(unknown_cells(&reg.policy, err));
            self.unknown.push(cells);
        }
    }

    /// Public before cross-account, then by access level (admin, write, the rest), then by
    /// account, region and repository.
    fn sort_exposed(&mut self) {
        let level = |a: &Option<Access>| match a {
            Some(Access::Admin) => 0,
            Some(Access::Write) => 1,
            _ => 2,
        };
        self.exposed.sort_by(|(sa, aa, a), (sb, ab, b)| {
            (*sa != Scope::Public, level(aa), &a[..3]).cmp(&(
                *sb != Scope::Public,
                level(ab),
                &b[..3],
            ))
        });
    }
}

/// The reports of the targets that were scanned.
fn reports(outcomes: &[ScanResult]) -> impl Iterator<Item = &crate::analysis::TargetReport> {
    outcomes.iter().filter_map(|o| o.result.as_ref().ok())
}

fn target_rows(outcomes: &[ScanResult]) -> Vec<Vec<String>> {
    outcomes
        .iter()
        .map(|o| {
            let (status, n, err) = match &o.result {
                Ok(r) => ("ok", r.repositories.len().to_string(), String::new()),
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
        .collect()
}

/// A readable report: exposures first, then unknown policies, missing tags, targets.
pub fn render_text(outcomes: &[ScanResult]) -> String {
    let mut rows = Rows::default();
    for r in reports(outcomes) {
        r.repositories.iter().for_each(|repo| rows.repository(repo));
        r.registry.iter().for_each(|reg| rows.registry(reg));
    }
    rows.sort_exposed();
    let exposed: Vec<Vec<String>> = rows.exposed.into_iter().map(|(_, _, c)| c).collect();
    let mut out = String::new();
    let repo_id = ["ACCOUNT", "REGION", "REPOSITORY"];
    let header = |rest: &[&'static str]| [&repo_id[..], rest].concat();
    table(
        &mut out,
        "EXPOSED REPOSITORIES",
        &header(&["SCOPE", "ACCESS", "NETWORK-RESTRICTED", "OWNER"]),
        &exposed,
    );
    table(
        &mut out,
        "EXPOSED REGISTRIES",
        &["ACCOUNT", "REGION", "SCOPE", "ACCESS", "POLICY-SCOPE"],
        &rows.registries,
    );
    table(
        &mut out,
        "POLICIES NOT ANALYSED (unknown, never safe)",
        &header(&["STATE", "CODE", "MESSAGE"]),
        &rows.unknown,
    );
    table(
        &mut out,
        "MISSING TAGS",
        &header(&["MISSING"]),
        &rows.untagged,
    );
    let targets = target_rows(outcomes);
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
    let repos: usize = reports(outcomes).map(|r| r.repositories.len()).sum();
    let _ = writeln!(
        out,
        "{} targets ({} failed), {} repositories: {} exposed, {} registries exposed, {} not analysed, {} missing tags",
        outcomes.len(),
        failed,
        repos,
        exposed.len(),
        rows.registries.len(),
        rows.unknown.len(),
        rows.untagged.len()
    );
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::analysis::{AnalysisSettings, analyze_target};
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
            ScanResult {
                target: facts.target.clone(),
                result: Ok(report),
                duration_seconds: 1.5,
            },
            ScanResult {
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
        let text = render_text(&outcomes);
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
