//! Raw -> validated configuration: one function per section, every problem collected with its
//! key path so that one run of `config check` reports all of them.
//!
//! Identifiers become [`crate::model`] newtypes here, once; an invalid one is reported and
//! left out (the whole configuration is refused then, so nothing downstream sees the gap).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::raw::{
    RawAccounts, RawAws, RawConfig, RawEvents, RawException, RawId, RawRegions, RawScan,
    RawSharding, RawState, RawStateS3, RawTags, RawTrust,
};
use super::{
    AccountSelector, AccountsConfig, AwsConfig, Config, ConfigError, DiscoveryMode, EventsConfig,
    Exception, Problem, RegionSelection, S3StateConfig, ScanConfig, ShardSelection, ShardingConfig,
    StateBackendConfig, StateConfig, StaticAccount, TagSource, TagsConfig, TrustConfig,
};
use crate::model::{AccountId, FindingKind, OrgId, Region, is_account_id};

/// The longest jitter a default gives: the daemon's ticks spread over at most this much.
const MAX_DEFAULT_JITTER: Duration = Duration::from_secs(30);

/// Validate every section; `Err` lists every problem found.
pub(super) fn validate(raw: RawConfig) -> Result<Config, ConfigError> {
    let mut c = Checker::default();
    let aws = aws(&mut c, raw.aws);
    let (regions, exclude_regions) = regions(&mut c, raw.regions, raw.exclude_regions);
    let accounts = accounts(&mut c, raw.accounts);
    let trust = trust(&mut c, raw.trust);
    let tags = tags(&mut c, raw.tags);
    let scan = scan(&mut c, raw.scan);
    let state = state(&mut c, raw.state);
    let sharding = sharding(&mut c, raw.sharding);
    let events = events(&mut c, raw.events);
    let exceptions = exceptions(&mut c, &raw.exceptions);
    if !c.problems.is_empty() {
        return Err(ConfigError {
            problems: c.problems,
        });
    }
    Ok(Config {
        aws,
        regions,
        exclude_regions,
        accounts,
        trust,
        tags,
        scan,
        state,
        sharding,
        events,
        exceptions,
        source: None,
    })
}

/// Collects problems so that one run reports all of them.
#[derive(Default)]
struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn fail(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    fn duration(&mut self, path: &str, text: &str) -> Duration {
        match humantime::parse_duration(text.trim()) {
            Ok(d) => d,
            Err(e) => {
                self.fail(
                    path,
                    format!("{text:?} is not a duration such as \"30s\" or \"15m\" ({e})"),
                );
                Duration::ZERO
            }
        }
    }

    fn account_id(&mut self, path: &str, id: &RawId) -> Option<AccountId> {
        match id.as_text().parse::<AccountId>() {
            Ok(id) => Some(id),
            Err(e) => {
                let hint = if matches!(id, RawId::Number(_)) {
                    " (quote account ids: unquoted, leading zeros are lost)"
                } else {
                    ""
                };
                self.fail(path, format!("{e}{hint}"));
                None
            }
        }
    }

    fn region(&mut self, path: impl Into<String>, name: &str) -> Option<Region> {
        name.parse::<Region>()
            .map_err(|e| self.fail(path, e.to_string()))
            .ok()
    }

    fn positive(&mut self, path: &str, value: usize) -> usize {
        if value == 0 {
            self.fail(path, "must be at least 1");
        }
        value
    }
}

fn aws(c: &mut Checker, raw: RawAws) -> AwsConfig {
    let endpoint_url = raw.endpoint_url.filter(|s| !s.trim().is_empty());
    if let Some(url) = &endpoint_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        c.fail(
            "aws.endpoint_url",
            format!("{url:?} is not an http:// or https:// URL"),
        );
    }
    let region = raw
        .region
        .filter(|s| !s.trim().is_empty())
        .and_then(|r| c.region("aws.region", &r));
    if !(1..=20).contains(&raw.max_attempts) {
        c.fail(
            "aws.max_attempts",
            format!("{} is out of range (1 to 20)", raw.max_attempts),
        );
    }
    let aws = AwsConfig {
        endpoint_url,
        region,
        max_attempts: raw.max_attempts,
        max_concurrency: c.positive("aws.max_concurrency", raw.max_concurrency),
        per_target_concurrency: c
            .positive("aws.per_target_concurrency", raw.per_target_concurrency),
        initial_backoff: c.duration("aws.initial_backoff", &raw.initial_backoff),
        max_backoff: c.duration("aws.max_backoff", &raw.max_backoff),
        connect_timeout: c.duration("aws.connect_timeout", &raw.connect_timeout),
        read_timeout: c.duration("aws.read_timeout", &raw.read_timeout),
        operation_timeout: c.duration("aws.operation_timeout", &raw.operation_timeout),
    };
    for (path, d) in [
        ("aws.connect_timeout", aws.connect_timeout),
        ("aws.read_timeout", aws.read_timeout),
        ("aws.operation_timeout", aws.operation_timeout),
    ] {
        if d.is_zero() {
            c.fail(path, "must be longer than zero");
        }
    }
    aws
}

fn regions(
    c: &mut Checker,
    raw: RawRegions,
    exclude: Vec<String>,
) -> (RegionSelection, BTreeSet<Region>) {
    let regions = match raw {
        RawRegions::Word(w) if w == "all" => RegionSelection::All,
        RawRegions::Word(w) => {
            c.fail(
                "regions",
                format!("{w:?} must be \"all\" or a list of region names"),
            );
            RegionSelection::All
        }
        RawRegions::List(list) => {
            if list.is_empty() {
                c.fail(
                    "regions",
                    "an empty list scans nothing; use \"all\" or name regions",
                );
            }
            let list = list
                .iter()
                .enumerate()
                .filter_map(|(i, r)| c.region(format!("regions[{i}]"), r))
                .collect();
            RegionSelection::List(dedup(list))
        }
    };
    let exclude_regions = exclude
        .iter()
        .enumerate()
        .filter_map(|(i, r)| c.region(format!("exclude_regions[{i}]"), r))
        .collect();
    (regions, exclude_regions)
}

fn accounts(c: &mut Checker, raw: RawAccounts) -> AccountsConfig {
    let discovery = match raw.discovery.as_str() {
        "current" => DiscoveryMode::Current,
        "static" => DiscoveryMode::Static,
        "organizations" => DiscoveryMode::Organizations,
        other => {
            c.fail(
                "accounts.discovery",
                format!("{other:?} is not one of current, static, organizations"),
            );
            DiscoveryMode::Current
        }
    };
    let mut static_accounts = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, a) in raw.static_accounts.iter().enumerate() {
        let path = format!("accounts.static[{i}].id");
        let id = c.account_id(&path, &a.id);
        if let Some(id) = &id
            && !seen.insert(id.clone())
        {
            c.fail(path, format!("{:?} is listed twice", id.as_str()));
        }
        if let Some(arn) = &a.role_arn
            && !is_role_arn(arn)
        {
            c.fail(
                format!("accounts.static[{i}].role_arn"),
                format!("{arn:?} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"),
            );
        }
        static_accounts.extend(id.map(|id| StaticAccount {
            id,
            role_arn: a.role_arn.clone(),
            external_id: a.external_id.clone().filter(|s| !s.is_empty()),
        }));
    }
    if discovery == DiscoveryMode::Static && raw.static_accounts.is_empty() {
        c.fail(
            "accounts.static",
            "discovery is \"static\" but no accounts are listed",
        );
    }
    let role_name = raw.role_name.trim().to_string();
    if role_name.is_empty() || role_name.contains(':') {
        c.fail(
            "accounts.role_name",
            format!(
                "{:?} is not an IAM role name (path allowed, no ARN)",
                raw.role_name
            ),
        );
    }
    let include = selectors(c, "include", &raw.include);
    let exclude = selectors(c, "exclude", &raw.exclude);
    if discovery != DiscoveryMode::Organizations
        && include
            .iter()
            .chain(&exclude)
            .any(|s| matches!(s, AccountSelector::OrganizationalUnit(_)))
    {
        c.fail(
            "accounts.include",
            "OU ids need discovery \"organizations\"",
        );
    }
    AccountsConfig {
        discovery,
        static_accounts,
        role_name,
        external_id: raw.external_id.filter(|s| !s.is_empty()),
        include,
        exclude,
    }
}

/// `accounts.include` / `accounts.exclude`: account ids or OU ids.
fn selectors(c: &mut Checker, key: &str, list: &[RawId]) -> Vec<AccountSelector> {
    let mut out = Vec::new();
    for (i, id) in list.iter().enumerate() {
        let text = id.as_text();
        if is_ou_id(&text) {
            out.push(AccountSelector::OrganizationalUnit(text));
        } else if let Ok(id) = text.parse::<AccountId>() {
            out.push(AccountSelector::Account(id));
        } else {
            c.fail(
                format!("accounts.{key}[{i}]"),
                format!("{text:?} is neither a 12-digit account id nor an OU id (ou-...)"),
            );
        }
    }
    out
}

fn trust(c: &mut Checker, raw: RawTrust) -> TrustConfig {
    let accounts = raw
        .accounts
        .iter()
        .enumerate()
        .filter_map(|(i, id)| c.account_id(&format!("trust.accounts[{i}]"), id))
        .collect();
    let organizations = raw
        .organizations
        .iter()
        .enumerate()
        .filter_map(|(i, o)| {
            o.parse::<OrgId>()
                .map_err(|e| c.fail(format!("trust.organizations[{i}]"), e.to_string()))
                .ok()
        })
        .collect();
    TrustConfig {
        accounts,
        organizations,
        organization_accounts: raw.organization_accounts,
    }
}

fn tags(c: &mut Checker, raw: RawTags) -> TagsConfig {
    for (key, list) in [("tags.required", &raw.required), ("tags.iac", &raw.iac)] {
        for (i, t) in list.iter().enumerate() {
            if t.trim().is_empty() || t.len() > 128 {
                c.fail(format!("{key}[{i}]"), format!("{t:?} is not a tag key"));
            }
        }
    }
    let source = match raw.source.as_str() {
        "tagging_api" => TagSource::TaggingApi,
        "list_tags_for_resource" => TagSource::ListTagsForResource,
        other => {
            let why = format!("{other:?} is not one of tagging_api, list_tags_for_resource");
            c.fail("tags.source", why);
            TagSource::TaggingApi
        }
    };
    TagsConfig {
        required: dedup(raw.required),
        iac: dedup(raw.iac),
        source,
    }
}

/// The schedule. An explicit jitter must be shorter than the interval; without one, the
/// jitter is a tenth of the interval, at most 30s, so a short interval is valid on its own.
fn scan(c: &mut Checker, raw: RawScan) -> ScanConfig {
    let interval = c.duration("scan.interval", &raw.interval);
    let jitter = match &raw.jitter {
        Some(text) => c.duration("scan.jitter", text),
        None => default_jitter(interval),
    };
    let scan = ScanConfig {
        interval,
        jitter,
        timeout: c.duration("scan.timeout", &raw.timeout),
        target_concurrency: c.positive("scan.target_concurrency", raw.target_concurrency),
    };
    if scan.interval < Duration::from_secs(1) {
        c.fail("scan.interval", "must be at least 1s");
    } else if scan.jitter >= scan.interval {
        c.fail(
            "scan.jitter",
            format!(
                "{} must be shorter than scan.interval ({})",
                humantime::format_duration(scan.jitter),
                humantime::format_duration(scan.interval)
            ),
        );
    }
    if scan.timeout.is_zero() {
        c.fail("scan.timeout", "must be longer than zero");
    }
    scan
}

/// A tenth of the interval, at most [`MAX_DEFAULT_JITTER`].
pub(super) fn default_jitter(interval: Duration) -> Duration {
    (interval / 10).min(MAX_DEFAULT_JITTER)
}

fn sharding(c: &mut Checker, raw: RawSharding) -> ShardingConfig {
    let selection = match (raw.shard, raw.shard_from_pod_name) {
        (Some(_), true) => {
            c.fail(
                "sharding.shard",
                "set either sharding.shard or sharding.shard_from_pod_name, not both",
            );
            ShardSelection::Unset
        }
        (Some(n), false) => ShardSelection::Fixed(n),
        (None, true) => ShardSelection::PodName,
        (None, false) => ShardSelection::Unset,
    };
    sharding_of(raw.total_shards, selection).unwrap_or_else(|problems| {
        c.problems.extend(problems);
        ShardingConfig {
            total_shards: 1,
            shard: ShardSelection::Unset,
        }
    })
}

/// The checks shared by the file's `sharding` section and the command-line flags.
pub(super) fn sharding_of(
    total: u32,
    shard: ShardSelection,
) -> Result<ShardingConfig, Vec<Problem>> {
    let problem = |path: &str, message: String| {
        vec![Problem {
            path: path.to_string(),
            message,
        }]
    };
    if total == 0 {
        return Err(problem(
            "sharding.total_shards",
            "must be at least 1".into(),
        ));
    }
    match shard {
        ShardSelection::Fixed(n) if n >= total => Err(problem(
            "sharding.shard",
            format!("{n} is out of range: shards are numbered 0..{total} (total_shards {total})"),
        )),
        ShardSelection::Unset if total > 1 => Err(problem(
            "sharding.shard",
            format!(
                "total_shards is {total}: set sharding.shard (or --shard), or \
                 sharding.shard_from_pod_name (or --shard-from-pod-name) in a StatefulSet"
            ),
        )),
        _ => Ok(ShardingConfig {
            total_shards: total,
            shard,
        }),
    }
}

fn state(c: &mut Checker, raw: RawState) -> StateConfig {
    let backend = match raw.backend.trim() {
        "file" => StateBackendConfig::File,
        "s3" => state_s3(c, raw.s3).map_or(StateBackendConfig::File, StateBackendConfig::S3),
        other => {
            c.fail("state.backend", format!("{other:?} is not one of file, s3"));
            StateBackendConfig::File
        }
    };
    StateConfig {
        path: match raw.path.filter(|p| !p.trim().is_empty()) {
            Some(p) => PathBuf::from(p),
            None => default_state_path(),
        },
        backend,
    }
}

/// `state.s3` of `state.backend: s3`; `None` when invalid (reported).
fn state_s3(c: &mut Checker, raw: RawStateS3) -> Option<S3StateConfig> {
    let bucket = raw.bucket.unwrap_or_default().trim().to_string();
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bucket.starts_with(|ch: char| ch.is_ascii_alphanumeric())
        && bucket.ends_with(|ch: char| ch.is_ascii_alphanumeric());
    if bucket.is_empty() {
        c.fail("state.s3.bucket", "is required with state.backend: s3");
    } else if !bucket_ok {
        c.fail(
            "state.s3.bucket",
            format!(
                "{bucket:?} is not an S3 bucket name (3 to 63 lower-case letters, digits, \
                 dots and hyphens, starting and ending with a letter or digit)"
            ),
        );
    }
    let mut prefix = raw.prefix.trim().trim_start_matches('/').to_string();
    if !prefix.is_empty() && !prefix.ends_with('/') {
        prefix.push('/');
    }
    let region = raw.region.as_ref().map(|r| c.region("state.s3.region", r));
    Some(S3StateConfig {
        bucket: bucket_ok.then_some(bucket)?,
        prefix,
        region: region.map_or(Some(None), |r| r.map(Some))?,
    })
}

fn exceptions(c: &mut Checker, raw: &[RawException]) -> Vec<Exception> {
    raw.iter()
        .enumerate()
        .filter_map(|(i, e)| exception(c, i, e))
        .collect()
}

fn exception(c: &mut Checker, i: usize, e: &RawException) -> Option<Exception> {
    let at = |k: &str| format!("exceptions[{i}].{k}");
    // `None` inside: given but invalid (reported; the exception is then left out).
    let account_id = e
        .account_id
        .as_ref()
        .map(|id| c.account_id(&at("account_id"), id));
    let region = e.region.as_ref().map(|r| c.region(at("region"), r));
    if e.repository.trim().is_empty() {
        c.fail(
            at("repository"),
            "must not be empty (use \"*\" for every repository)",
        );
    }
    let finding = FindingKind::from_label(&e.finding);
    if finding.is_none() {
        let all: Vec<&str> = FindingKind::ALL.iter().map(|k| k.as_label()).collect();
        c.fail(
            at("finding"),
            format!("{:?} is not one of {}", e.finding, all.join(", ")),
        );
    }
    let reason = e.reason.clone().unwrap_or_default();
    if reason.trim().is_empty() {
        c.fail(at("reason"), "is required: say why the risk is accepted");
    }
    let expires = match &e.expires {
        None => {
            c.fail(
                at("expires"),
                "is required (RFC 3339, e.g. 2026-12-31T00:00:00Z)",
            );
            None
        }
        Some(text) => OffsetDateTime::parse(text.trim(), &Rfc3339)
            .map_err(|err| {
                c.fail(
                    at("expires"),
                    format!(
                        "{text:?} is not an RFC 3339 time such as 2026-12-31T00:00:00Z ({err})"
                    ),
                )
            })
            .ok(),
    };
    Some(Exception {
        account_id: account_id.map_or(Some(None), |id| id.map(Some))?,
        region: region.map_or(Some(None), |r| r.map(Some))?,
        repository: e.repository.clone(),
        finding: finding?,
        reason,
        expires: expires?,
    })
}

fn is_ou_id(s: &str) -> bool {
    s.strip_prefix("ou-").is_some_and(|rest| {
        rest.len() >= 6
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    })
}

fn is_role_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && is_account_id(parts[4])
        && parts[5].starts_with("role/")
        && parts[5].len() > 5
}

fn default_state_path() -> PathBuf {
    // systemd's StateDirectory= sets this; otherwise a data directory beside the process.
    match std::env::var_os("STATE_DIRECTORY") {
        Some(dir) if !dir.is_empty() => {
            let first = dir
                .to_string_lossy()
                .split(':')
                .next()
                .unwrap_or_default()
                .to_string();
            PathBuf::from(first).join("state.json")
        }
        _ => PathBuf::from("data/state.json"),
    }
}

/// Keeps the first occurrence of each value, in order.
fn dedup<T: Ord + Clone>(list: Vec<T>) -> Vec<T> {
    let mut seen = BTreeSet::new();
    list.into_iter()
        .filter(|s| seen.insert(s.clone()))
        .collect()
}

/// The `events` section; `None` (off) without a queue URL.
fn events(c: &mut Checker, raw: RawEvents) -> Option<EventsConfig> {
    let wait_time = c.duration("events.wait_time", &raw.wait_time);
    if wait_time > Duration::from_secs(20) || wait_time.subsec_nanos() != 0 {
        c.fail(
            "events.wait_time",
            "must be whole seconds from 0s to 20s (the SQS long-poll limit)",
        );
    }
    if !(1..=10).contains(&raw.max_batch) {
        c.fail(
            "events.max_batch",
            format!(
                "{} is out of range: SQS returns 1 to 10 messages per receive",
                raw.max_batch
            ),
        );
    }
    let visibility_timeout = raw
        .visibility_timeout
        .as_deref()
        .map(|t| c.duration("events.visibility_timeout", t));
    if let Some(v) = visibility_timeout
        && (v > Duration::from_secs(12 * 3600) || v.subsec_nanos() != 0)
    {
        c.fail(
            "events.visibility_timeout",
            "must be whole seconds up to 12h (the SQS limit)",
        );
    }
    if raw.max_receives == 0 {
        c.fail("events.max_receives", "must be at least 1");
    }
    let url = raw.sqs_queue_url.filter(|u| !u.trim().is_empty())?;
    let url = url.trim().to_string();
    let queue_region = match queue_url_region(&url) {
        Ok(region) => region.and_then(|r| c.region("events.sqs_queue_url", r)),
        Err(message) => {
            c.fail("events.sqs_queue_url", message);
            None
        }
    };
    Some(EventsConfig {
        sqs_queue_url: url,
        queue_region,
        max_batch: raw.max_batch.clamp(1, 10) as i32,
        wait_time,
        visibility_timeout,
        max_receives: raw.max_receives.max(1),
    })
}

/// The region an SQS queue URL names, if its host is an AWS SQS endpoint
/// (`sqs.<region>.amazonaws.com[.cn]`, `sqs-fips.<region>...`, an interface endpoint
/// `vpce-<id>.sqs.<region>.vpce.amazonaws.com`, or the legacy `<region>.queue.amazonaws.com`);
/// `Err` when it is not a queue URL at all.
fn queue_url_region(url: &str) -> Result<Option<&str>, String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("{url:?} is not an http(s) URL of an SQS queue"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut parts = path.split('/').filter(|p| !p.is_empty());
    if host.is_empty() || parts.next().is_none() || parts.next().is_none() {
        return Err(format!(
            "{url:?} is not a queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE)"
        ));
    }
    let host = host.split(':').next().unwrap_or(host);
    let on_aws = host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn");
    let labels: Vec<&str> = host.split('.').collect();
    // sqs.REGION.amazonaws.com, sqs-fips.REGION..., vpce-ID.sqs.REGION.vpce.amazonaws.com
    let modern = labels
        .iter()
        .position(|l| *l == "sqs" || *l == "sqs-fips")
        .and_then(|i| labels.get(i + 1).copied());
    // the legacy REGION.queue.amazonaws.com
    let legacy = (labels.get(1) == Some(&"queue")).then(|| labels[0]);
    let region = if on_aws { modern.or(legacy) } else { None };
    Ok(region)
}
