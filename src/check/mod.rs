//! The `check` command: offline verdicts on policy documents and IaC, the CI gate.
//!
//! Inputs are detected by content (or `--input-type`): a policy document gets one record;
//! a Terraform plan or CloudFormation template gets one record per ECR resource that
//! [`crate::iac`] extracts (fields `resource`, `file`, `line`, `missing_tags` added). Every
//! record is judged with the engine the daemon uses ([`judge`]), holds one typed
//! [`Outcome`] ([`record`]) and is printed as text, a JSON line, or a result of the one
//! SARIF 2.1.0 log for all inputs ([`render`]).
//!
//! Owns the per-input steps and the exit status: 0 nothing at or above `--fail-on`, 1 some
//! input exposed (or a policy known only at deploy, unless `--fail-on never`), 2 usage
//! error or some input invalid. Defaults for what an input leaves open are decided in
//! [`options`] and said in each record's notes.
//!
//! Module flow, one way: `options` and `judge` below `record`, `render` above it, this file
//! on top; `iac` is only read from, and never reads back.

pub mod judge;
pub mod options;
pub mod record;
pub mod render;

use std::io::{Read, Write};
use std::process::ExitCode;

pub use judge::Outcome;
pub use options::{CheckOptions, DEFAULT_REGION, DEFAULT_REPOSITORY_NAME, Target, UsageError};
pub use record::{CheckRecord, IacFields};

use crate::analysis::policy::MAX_POLICY_BYTES;
use crate::cli::{CheckArgs, CheckFormat, FailOn, InputType};
use crate::iac::{self, IacResource, PolicySource};
use judge::Problem;

/// Analyse one policy text and record the verdict (the per-input step for policy files).
pub fn check_policy_text(source: &str, text: &str, opts: &CheckOptions) -> CheckRecord {
    let mut assumptions = Vec::new();
    let subject = opts.policy_file_subject(text, &mut assumptions);
    CheckRecord {
        source: source.to_string(),
        outcome: judge::judge(&subject, text),
        assumptions,
        iac: None,
    }
}

/// The record of one IaC resource: its policy judged, its required tags checked.
fn check_resource(source: &str, res: &IacResource, opts: &CheckOptions) -> CheckRecord {
    let mut assumptions = res.notes.clone();
    let (missing_tags, tags_unknown) = judge::required_tags(&res.tags, &opts.required_tags);
    let outcome = match &res.policy {
        PolicySource::Absent => Outcome::None,
        PolicySource::Unknown { path, reason } => Outcome::Unknown {
            path: path.clone(),
            reason: reason.clone(),
        },
        PolicySource::Text { text } => {
            let subject = opts.resource_subject(res, text, &mut assumptions);
            judge::judge(&subject, text)
        }
    };
    CheckRecord {
        source: source.to_string(),
        outcome,
        assumptions,
        iac: Some(IacFields {
            resource: res.resource.clone(),
            resource_type: res.resource_type.clone(),
            kind: res.kind,
            line: res.line,
            missing_tags,
            tags_unknown,
        }),
    }
}

/// All records of one input: one for a policy document, one per ECR resource of a
/// Terraform plan or CloudFormation template (none when it holds no ECR resource), or one
/// error record for a file that cannot be read as the IaC it claims to be.
pub fn check_input(source: &str, text: &str, opts: &CheckOptions) -> Vec<CheckRecord> {
    let input = opts.input_type.unwrap_or_else(|| iac::detect(text));
    if input == InputType::Policy {
        if text.len() > MAX_POLICY_BYTES {
            let message = format!("input is larger than the {MAX_POLICY_BYTES} byte limit");
            return vec![CheckRecord::failed(
                source,
                Problem::new("too_large", message),
            )];
        }
        return vec![check_policy_text(source, text, opts)];
    }
    match iac::extract(input, text, &opts.resolve_context()) {
        Ok(resources) => resources
            .iter()
            .map(|res| check_resource(source, res, opts))
            .collect(),
        Err(e) => vec![CheckRecord::failed(source, e.into())],
    }
}

/// Read one input (`-` is standard input), at most one byte past the IaC size limit.
fn read_input(source: &str) -> Result<String, Problem> {
    let limit = (iac::MAX_INPUT_BYTES + 1) as u64;
    let mut buf = Vec::new();
    let res = if source == "-" {
        std::io::stdin().lock().take(limit).read_to_end(&mut buf)
    } else {
        std::fs::File::open(source).and_then(|f| f.take(limit).read_to_end(&mut buf))
    };
    if let Err(e) = res {
        return Err(Problem::new(
            "unreadable",
            format!("cannot read {source}: {e}"),
        ));
    }
    if buf.len() > iac::MAX_INPUT_BYTES {
        return Err(Problem::new(
            "too_large",
            format!(
                "input is larger than the {} byte limit",
                iac::MAX_INPUT_BYTES
            ),
        ));
    }
    String::from_utf8(buf).map_err(|_| Problem::new("invalid_json", "input is not UTF-8 text"))
}

/// What the records seen so far make the exit status.
#[derive(Debug, Default)]
struct Status {
    invalid: bool,
    exposed: bool,
}

impl Status {
    fn add(&mut self, rec: &CheckRecord, fail_on: FailOn) {
        self.invalid |= rec.outcome.is_invalid();
        self.exposed |= rec.outcome.fails(fail_on);
    }

    fn code(&self) -> u8 {
        if self.invalid {
            2
        } else if self.exposed {
            1
        } else {
            0
        }
    }
}

/// Run `check`. Usage errors are `Err` (printed by the caller as `check: REASON`, exit
/// status 2); invalid or exposed inputs are exit statuses, not errors. A write error on
/// standard output (a closed pipe) ends the run quietly with status 2.
pub fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    use anyhow::Context as _;
    let opts = CheckOptions::from_args(args).context("check")?;
    if args.files.iter().filter(|f| *f == "-").count() > 1 {
        return Err(UsageError(
            "standard input (-) can be given only once".into(),
        ))
        .context("check");
    }
    let mut status = Status::default();
    let mut out = std::io::stdout().lock();
    let registry = matches!(opts.target, Target::Registry { .. });
    let mut sarif = Vec::new();
    for source in &args.files {
        let recs = match read_input(source) {
            Ok(text) => check_input(source, &text, &opts),
            Err(problem) => vec![CheckRecord::failed(source, problem)],
        };
        if recs.is_empty() && opts.format == CheckFormat::Text {
            let _ = writeln!(out, "{source}: no ECR resources");
        }
        for rec in &recs {
            status.add(rec, opts.fail_on);
            let text = match opts.format {
                CheckFormat::Json => render::json::line(rec)? + "\n",
                CheckFormat::Text => render::text::render(rec),
                CheckFormat::Sarif => {
                    sarif.extend(render::sarif::findings(rec, registry));
                    continue;
                }
            };
            if out.write_all(text.as_bytes()).is_err() {
                return Ok(ExitCode::from(2));
            }
        }
    }
    if opts.format == CheckFormat::Sarif {
        let log = render::sarif::render(&sarif, crate::VERSION);
        let text = serde_json::to_string_pretty(&log)?;
        if writeln!(out, "{text}").is_err() {
            return Ok(ExitCode::from(2));
        }
    }
    let _ = out.flush();
    Ok(ExitCode::from(status.code()))
}

#[cfg(test)]
mod tests;
