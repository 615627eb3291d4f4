//! The words for a verdict and for a grant, shared by the text and SARIF renderers.
//!
//! Three outputs grew three headline forms before they were merged here; the differences
//! are kept as they were ([`Style`]): text says `PUBLIC, read access`, SARIF messages say
//! `PUBLIC (read access)`, and only policy-file text adds the network-restricted remark to
//! a cross-account verdict.

use crate::analysis::policy::{Audience, Grant};
use crate::check::judge::Outcome;

/// Which output a headline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    /// A plain policy file's text block.
    PolicyText,
    /// An IaC resource's text block.
    IacText,
    /// A SARIF result message.
    Sarif,
}

/// One line saying what the outcome is.
pub(super) fn headline(outcome: &Outcome, style: Style) -> String {
    let (open, close) = match style {
        Style::PolicyText | Style::IacText => (", ", ""),
        Style::Sarif => (" (", ")"),
    };
    if let Some((code, message)) = outcome.error() {
        return match outcome {
            Outcome::Unknown { .. } => format!("UNKNOWN before deploy: {message}"),
            _ => format!("INVALID ({code}): {message}"),
        };
    }
    match outcome {
        Outcome::Ok(v) if v.public => format!("PUBLIC{open}{} access{close}", v.access.as_label()),
        Outcome::Ok(v) if v.cross_account => {
            let remark = if style == Style::PolicyText && v.network_restricted {
                " (network-restricted: not public only because of a fixed source network)"
            } else {
                ""
            };
            format!(
                "CROSS-ACCOUNT{open}{} access{close}{remark}",
                v.access.as_label()
            )
        }
        Outcome::None => "no policy: not exposed".to_string(),
        _ => "not exposed outside the trust zone".to_string(),
    }
}

/// `Statement[N] (Sid): WHO can ACTIONS [ACCESS]`, then `: why; why` when `explained`.
pub(super) fn grant_line(g: &Grant, explained: bool) -> String {
    let who = match &g.audience {
        Audience::Everyone => "any AWS account".to_string(),
        Audience::Account { account_id } => format!("account {account_id}"),
        Audience::Organization { org_id } => format!("organization {org_id}"),
        Audience::Service { service } => format!("{service} acting for other accounts"),
    };
    let sid = g
        .sid
        .as_deref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    let mut line = format!(
        "Statement[{}]{sid}: {who} can {} [{}]",
        g.statement,
        g.action_summary(),
        g.access.as_label()
    );
    if explained && !g.explanation.is_empty() {
        line.push_str(": ");
        line.push_str(&g.explanation.join("; "));
    }
    line
}
