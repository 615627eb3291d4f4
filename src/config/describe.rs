//! The human summary `config check` prints: what the configuration would scan, how often and
//! with which limits. Presentation only; the command itself is `commands::config_check`.

use std::fmt::Write;
use std::time::Duration;

use time::format_description::well_known::Rfc3339;

use super::{AccountsConfig, Config, DiscoveryMode, RegionSelection, StateBackendConfig};

/// A human summary of what the configuration would scan (`config check`).
pub fn describe(config: &Config) -> String {
    let mut out = String::new();
    let d = |d: Duration| humantime::format_duration(d).to_string();
    let _ = writeln!(
        out,
        "configuration: {}",
        config
            .source
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "built-in defaults and environment".to_string())
    );
    accounts(&mut out, &config.accounts);
    let _ = writeln!(
        out,
        "regions: {}",
        match &config.regions {
            RegionSelection::All => "all enabled regions of each account".to_string(),
            RegionSelection::List(l) => l.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
        }
    );
    let _ = writeln!(
        out,
        "  excluded: {}",
        list(&mut config.exclude_regions.iter().map(|r| r.to_string()))
    );
    let _ = writeln!(
        out,
        "trust: accounts {}; organizations {}; organization members trusted: {}",
        list(&mut config.trust.accounts.iter().map(|a| a.to_string())),
        list(&mut config.trust.organizations.iter().map(|o| o.to_string())),
        config.trust.organization_accounts
    );
    let _ = writeln!(
        out,
        "tags: required {}; IaC keys {}",
        list(&mut config.tags.required.iter().cloned()),
        list(&mut config.tags.iac.iter().cloned())
    );
    let s = &config.scan;
    let _ = writeln!(
        out,
        "schedule: every {} (jitter {}), cycle timeout {}, {} targets at once",
        d(s.interval),
        d(s.jitter),
        d(s.timeout),
        s.target_concurrency
    );
    let w = &config.aws;
    let _ = writeln!(
        out,
        "aws: endpoint {}, {} attempts, {} calls in flight ({} per target), timeouts connect {} read {} operation {}",
        w.endpoint_url.as_deref().unwrap_or("default"),
        w.max_attempts,
        w.max_concurrency,
        w.per_target_concurrency,
        d(w.connect_timeout),
        d(w.read_timeout),
        d(w.operation_timeout)
    );
    let _ = match &config.state.backend {
        StateBackendConfig::File => writeln!(out, "state: {}", config.state.path.display()),
        StateBackendConfig::S3(s3) => writeln!(
            out,
            "state: s3://{}/{} (one object per account; region {})",
            s3.bucket,
            s3.prefix,
            s3.region
                .as_ref()
                .map_or("of aws.region".to_string(), |r| r.to_string())
        ),
    };
    let _ = match config.sharding.shard {
        crate::config::ShardSelection::PodName => writeln!(
            out,
            "sharding: the POD_NAME ordinal of {} shards",
            config.sharding.total_shards
        ),
        _ if config.sharding.total_shards == 1 => writeln!(out, "sharding: off (one replica)"),
        _ => writeln!(
            out,
            "sharding: shard {} of {}",
            config.sharding.fixed_shard().unwrap_or(0),
            config.sharding.total_shards
        ),
    };
    // Printed only when on, so the summary of a configuration without events is unchanged.
    if let Some(e) = &config.events {
        let _ = writeln!(
            out,
            "events: {} ({} messages per receive, long poll {}, visibility timeout {}, deleted after {} failed receives)",
            e.sqs_queue_url,
            e.max_batch,
            d(e.wait_time),
            e.visibility_timeout.map_or("of the queue".to_string(), d),
            e.max_receives
        );
    }
    let _ = writeln!(out, "exceptions: {}", config.exceptions.len());
    for e in &config.exceptions {
        let _ = writeln!(
            out,
            "  {} {}/{}/{} until {}: {}",
            e.finding.as_label(),
            e.account_id.as_ref().map_or("*", |a| a.as_str()),
            e.region.as_ref().map_or("*", |r| r.as_str()),
            e.repository,
            e.expires.format(&Rfc3339).unwrap_or_default(),
            e.reason
        );
    }
    out
}

/// `a, b, c`, or `(none)`.
fn list(v: &mut dyn Iterator<Item = String>) -> String {
    let items: Vec<String> = v.collect();
    if items.is_empty() {
        "(none)".to_string()
    } else {
        items.join(", ")
    }
}

/// Where the accounts come from and how each is reached.
fn accounts(out: &mut String, a: &AccountsConfig) {
    let _ = writeln!(out, "discovery: {}", a.discovery.as_str());
    match a.discovery {
        DiscoveryMode::Current => {
            let _ = writeln!(
                out,
                "  accounts: the account of the ambient AWS credentials"
            );
        }
        DiscoveryMode::Static => {
            for s in &a.static_accounts {
                let role = s
                    .role_arn
                    .clone()
                    .unwrap_or_else(|| format!("arn:aws:iam::{}:role/{}", s.id, a.role_name));
                let _ = writeln!(out, "  account {} via {}", s.id, role);
            }
        }
        DiscoveryMode::Organizations => {
            let _ = writeln!(
                out,
                "  accounts: every ACTIVE account of the organization, via role {}",
                a.role_name
            );
            let _ = writeln!(
                out,
                "  include: {}",
                list(&mut a.include.iter().map(|s| s.to_string()))
            );
            let _ = writeln!(
                out,
                "  exclude: {}",
                list(&mut a.exclude.iter().map(|s| s.to_string()))
            );
        }
    }
    let _ = writeln!(
        out,
        "  external id: {}",
        if a.external_id.is_some() {
            "set"
        } else {
            "none"
        }
    );
}
