//! `check --format text`: one human-readable block per record, the verdict first.
//!
//! A plain policy file reads `SOURCE: VERDICT`, then each grant with its explanation; an
//! IaC resource reads `FILE:LINE RESOURCE (TYPE): VERDICT`, then its grants, missing tags
//! and notes. The two layouts are kept as they have always been.

use super::words::{Style, grant_line, headline};
use crate::analysis::policy::{Audience, Grant};
use crate::check::record::{CheckRecord, IacFields};

/// The text block of one record.
pub fn render(rec: &CheckRecord) -> String {
    match &rec.iac {
        Some(iac) => resource_block(rec, iac),
        None => policy_block(rec),
    }
}

fn audience_words(g: &Grant) -> String {
    match &g.audience {
        Audience::Everyone if g.network_restricted => {
            "any AWS account, from the networks the policy names".into()
        }
        Audience::Everyone => "everyone (any AWS account)".into(),
        Audience::Account { account_id } => format!("untrusted account {account_id}"),
        Audience::Organization { org_id } => format!("untrusted organization {org_id}"),
        Audience::Service { service } if service == "*" => {
            "any AWS service acting for an untrusted account".into()
        }
        Audience::Service { service } => format!("{service} acting for an untrusted account"),
    }
}

fn policy_block(rec: &CheckRecord) -> String {
    let mut out = format!(
        "{}: {}\n",
        rec.source,
        headline(&rec.outcome, Style::PolicyText)
    );
    for (i, g) in rec.grants().iter().enumerate() {
        let sid = g
            .sid
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        out.push_str(&format!(
            "  grant {}: statement {}{sid} -> {}: {} [{}]\n",
            i + 1,
            g.statement,
            audience_words(g),
            g.access.as_label(),
            g.action_summary()
        ));
        for e in &g.explanation {
            out.push_str(&format!("    - {e}\n"));
        }
    }
    for n in rec.notes() {
        out.push_str(&format!("  note: {n}\n"));
    }
    out
}

fn resource_block(rec: &CheckRecord, iac: &IacFields) -> String {
    let at = match iac.line {
        Some(l) => format!("{}:{l}", rec.source),
        None => rec.source.clone(),
    };
    let mut out = format!(
        "{at} {} ({}): {}\n",
        iac.resource,
        iac.resource_type,
        headline(&rec.outcome, Style::IacText)
    );
    for g in rec.grants() {
        out.push_str(&format!("  - {}\n", grant_line(g, false)));
        for e in &g.explanation {
            out.push_str(&format!("      {e}\n"));
        }
    }
    if !iac.missing_tags.is_empty() {
        out.push_str(&format!(
            "  missing required tags: {}\n",
            iac.missing_tags.join(", ")
        ));
    }
    if let Some(t) = &iac.tags_unknown {
        out.push_str(&format!("  tags unknown: {t}\n"));
    }
    for n in rec.notes() {
        out.push_str(&format!("  note: {n}\n"));
    }
    out
}
