//! Configuration: built-in defaults < YAML or TOML file < `ECR_EXPOSURE_*` environment,
//! turned into one validated [`Config`] before anything else sees it.
//!
//! Environment variables use `__` between nesting levels: `ECR_EXPOSURE_AWS__ENDPOINT_URL`
//! sets `aws.endpoint_url`, `ECR_EXPOSURE_SCAN__INTERVAL=1m` sets `scan.interval`, and list
//! values are written in brackets (`ECR_EXPOSURE_TAGS__REQUIRED=[owner,team]`).
//! `ECR_EXPOSURE_CONFIG_FILE` names the file and is not a key.
//!
//! Owns parsing and validation only: no AWS calls, no I/O besides reading the file.

pub mod raw;
mod yaml;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::analysis::{AnalysisSettings, FindingKey, FindingKind};
use raw::{RawConfig, RawId, RawRegions};
use yaml::Yaml;

/// Session name of every assumed role, so that CloudTrail shows who read the policies.
pub const SESSION_NAME: &str = "ecr-exposure-exporter";

/// Environment prefix of configuration keys.
pub const ENV_PREFIX: &str = "ECR_EXPOSURE_";

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub aws: AwsConfig,
    pub regions: RegionSelection,
    /// Never scanned, even when enabled.
    pub exclude_regions: BTreeSet<String>,
    pub accounts: AccountsConfig,
    pub trust: TrustConfig,
    pub tags: TagsConfig,
    pub scan: ScanConfig,
    pub state: StateConfig,
    pub exceptions: Vec<Exception>,
    /// The file the configuration came from, for `config check` and logs.
    pub source: Option<PathBuf>,
}

/// How every AWS call is made.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsConfig {
    /// Emulators and VPC endpoints; `AWS_ENDPOINT_URL` is honoured when this is unset.
    pub endpoint_url: Option<String>,
    /// Region for the global calls (STS, Organizations, Account); the ambient region or
    /// `us-east-1` when unset.
    pub region: Option<String>,
    /// SDK attempts per call (standard retry mode, jittered exponential backoff).
    pub max_attempts: u32,
    /// AWS calls in flight over the whole process.
    pub max_concurrency: usize,
    /// Per-repository calls (GetRepositoryPolicy, ListTagsForResource) in flight per target.
    pub per_target_concurrency: usize,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// Whole call including retries.
    pub operation_timeout: Duration,
}

/// Which regions of each account are scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionSelection {
    /// Every region the account has enabled (Account API `ListRegions`).
    All,
    /// These regions, as far as the account has them enabled.
    List(Vec<String>),
}

/// Where the accounts to scan come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoveryMode {
    /// The account of the ambient credentials.
    Current,
    /// The `accounts.static` list.
    Static,
    /// Every ACTIVE account of the organization (run with management or delegated credentials).
    Organizations,
}

impl DiscoveryMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DiscoveryMode::Current => "current",
            DiscoveryMode::Static => "static",
            DiscoveryMode::Organizations => "organizations",
        }
    }
}

/// One account of `accounts.static`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticAccount {
    pub id: String,
    /// Overrides `arn:aws:iam::<id>:role/<role_name>`.
    pub role_arn: Option<String>,
    /// Overrides `accounts.external_id`.
    pub external_id: Option<String>,
}

/// An include/exclude entry: one account, or every account under an OU (recursively).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum AccountSelector {
    Account(String),
    OrganizationalUnit(String),
}

impl fmt::Display for AccountSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountSelector::Account(id) | AccountSelector::OrganizationalUnit(id) => {
                f.write_str(id)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountsConfig {
    pub discovery: DiscoveryMode,
    pub static_accounts: Vec<StaticAccount>,
    pub role_name: String,
    pub external_id: Option<String>,
    /// Empty means every ACTIVE account.
    pub include: Vec<AccountSelector>,
    pub exclude: Vec<AccountSelector>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustConfig {
    pub accounts: BTreeSet<String>,
    pub organizations: BTreeSet<String>,
    /// With organizations discovery, trust every member account and the organization id.
    pub organization_accounts: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagsConfig {
    /// The first key is the owner tag.
    pub required: Vec<String>,
    pub iac: Vec<String>,
}

/// The daemon's schedule; `scan --once` uses `timeout` and `target_concurrency`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanConfig {
    pub interval: Duration,
    pub jitter: Duration,
    /// Deadline of one whole cycle.
    pub timeout: Duration,
    /// Targets scanned at once.
    pub target_concurrency: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateConfig {
    /// First-seen times survive restarts here.
    pub path: PathBuf,
}

/// An accepted risk: covered findings are reported as suppressed until `expires`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    pub account_id: Option<String>,
    pub region: Option<String>,
    /// Glob over repository names: `*` any run, `?` one character.
    pub repository: String,
    pub finding: FindingKind,
    pub reason: String,
    pub expires: OffsetDateTime,
}

impl Exception {
    /// Whether this exception covers the finding (ignoring expiry: the caller decides when).
    pub fn covers(&self, key: &FindingKey) -> bool {
        key.kind == self.finding
            && self
                .account_id
                .as_deref()
                .is_none_or(|a| a == key.account_id)
            && self.region.as_deref().is_none_or(|r| r == key.region)
            && glob_match(&self.repository, &key.repository)
    }

    /// Whether the exception still applies at `now`.
    pub fn active_at(&self, now: OffsetDateTime) -> bool {
        now < self.expires
    }
}

/// `*` matches any run of characters, `?` exactly one; everything else literally.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// One problem: the key path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Why a configuration was refused: every problem found, each naming its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.problems.iter().map(|p| p.to_string()).collect();
        f.write_str(&parts.join("; "))
    }
}

impl ConfigError {
    fn one(path: &str, message: impl Into<String>) -> Self {
        ConfigError {
            problems: vec![Problem {
                path: path.to_string(),
                message: message.into(),
            }],
        }
    }
}

impl Config {
    /// Load from the optional file and the process environment, then validate.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::one(
                    "",
                    format!("configuration file {} does not exist", path.display()),
                ));
            }
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            figment = match ext.as_str() {
                "yaml" | "yml" => figment.merge(Yaml::file_exact(path)),
                "toml" => figment.merge(Toml::file_exact(path)),
                _ => {
                    return Err(ConfigError::one(
                        "",
                        format!(
                            "configuration file {}: unknown format (use .yaml, .yml or .toml)",
                            path.display()
                        ),
                    ));
                }
            };
        }
        figment = figment.merge(
            Env::prefixed(ENV_PREFIX)
                .split("__")
                .ignore(&["config_file"]),
        );
        let raw: RawConfig = figment.extract().map_err(from_figment)?;
        let mut config = validate(raw)?;
        config.source = file.map(Path::to_path_buf);
        Ok(config)
    }

    /// Parse a YAML document alone (no environment): for tests and tools.
    pub fn from_yaml_str(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = Figment::new()
            .merge(Yaml::string(text))
            .extract()
            .map_err(from_figment)?;
        validate(raw)
    }

    /// The trust zone and tag rules from the configuration alone; discovery adds the
    /// organization and its members (see `discovery::Discovery::analysis_settings`).
    pub fn analysis_settings(&self) -> AnalysisSettings {
        AnalysisSettings {
            trusted_accounts: self.trust.accounts.clone(),
            trusted_orgs: self.trust.organizations.clone(),
            required_tags: self.tags.required.clone(),
            iac_tags: self.tags.iac.clone(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        validate(RawConfig::default()).expect("built-in defaults are valid")
    }
}

fn from_figment(err: figment::Error) -> ConfigError {
    use figment::error::Kind;
    let problems = err
        .into_iter()
        .map(|e| {
            let mut path = e.path.join(".");
            let message = match &e.kind {
                Kind::UnknownField(name, expected) => {
                    append_key(&mut path, &e.path, name);
                    format!("unknown key (expected one of: {})", expected.join(", "))
                }
                Kind::MissingField(name) => {
                    append_key(&mut path, &e.path, name);
                    "required key is missing".to_string()
                }
                other => other.to_string(),
            };
            let source = e
                .metadata
                .as_ref()
                .and_then(|m| m.source.as_ref())
                .map(|s| format!(" (from {s})"))
                .unwrap_or_default();
            Problem {
                path,
                message: format!("{message}{source}"),
            }
        })
        .collect();
    ConfigError { problems }
}

/// Figment sometimes already ends the path with the offending key.
fn append_key(path: &mut String, parts: &[String], name: &str) {
    if parts.last().map(String::as_str) != Some(name) {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(name);
    }
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

    fn account_id(&mut self, path: &str, id: &RawId) -> String {
        let text = id.as_text();
        if !is_account_id(&text) {
            let hint = if matches!(id, RawId::Number(_)) {
                " (quote account ids: unquoted, leading zeros are lost)"
            } else {
                ""
            };
            self.fail(path, format!("{text:?} is not a 12-digit account id{hint}"));
        }
        text
    }

    fn positive(&mut self, path: &str, value: usize) -> usize {
        if value == 0 {
            self.fail(path, "must be at least 1");
        }
        value
    }
}

/// A 12-digit AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// An organization id: `o-` and 10 to 32 lower-case letters or digits.
pub fn is_org_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
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

/// Region names such as `us-east-1`, `eu-central-2`, `us-gov-west-1`.
pub fn is_region_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok_and(|n| n > 0)
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

fn validate(raw: RawConfig) -> Result<Config, ConfigError> {
    let mut c = Checker::default();

    // aws
    let endpoint_url = raw.aws.endpoint_url.filter(|s| !s.trim().is_empty());
    if let Some(url) = &endpoint_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        c.fail(
            "aws.endpoint_url",
            format!("{url:?} is not an http:// or https:// URL"),
        );
    }
    let region = raw.aws.region.filter(|s| !s.trim().is_empty());
    if let Some(r) = &region
        && !is_region_name(r)
    {
        c.fail("aws.region", format!("{r:?} is not a region name"));
    }
    if !(1..=20).contains(&raw.aws.max_attempts) {
        c.fail(
            "aws.max_attempts",
            format!("{} is out of range (1 to 20)", raw.aws.max_attempts),
        );
    }
    let aws = AwsConfig {
        endpoint_url,
        region,
        max_attempts: raw.aws.max_attempts,
        max_concurrency: c.positive("aws.max_concurrency", raw.aws.max_concurrency),
        per_target_concurrency: c
            .positive("aws.per_target_concurrency", raw.aws.per_target_concurrency),
        initial_backoff: c.duration("aws.initial_backoff", &raw.aws.initial_backoff),
        max_backoff: c.duration("aws.max_backoff", &raw.aws.max_backoff),
        connect_timeout: c.duration("aws.connect_timeout", &raw.aws.connect_timeout),
        read_timeout: c.duration("aws.read_timeout", &raw.aws.read_timeout),
        operation_timeout: c.duration("aws.operation_timeout", &raw.aws.operation_timeout),
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

    // regions
    let regions = match raw.regions {
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
            for (i, r) in list.iter().enumerate() {
                if !is_region_name(r) {
                    c.fail(
                        format!("regions[{i}]"),
                        format!("{r:?} is not a region name"),
                    );
                }
            }
            RegionSelection::List(dedup(list))
        }
    };
    let mut exclude_regions = BTreeSet::new();
    for (i, r) in raw.exclude_regions.into_iter().enumerate() {
        if !is_region_name(&r) {
            c.fail(
                format!("exclude_regions[{i}]"),
                format!("{r:?} is not a region name"),
            );
        }
        exclude_regions.insert(r);
    }

    // accounts
    let discovery = match raw.accounts.discovery.as_str() {
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
    for (i, a) in raw.accounts.static_accounts.iter().enumerate() {
        let id = c.account_id(&format!("accounts.static[{i}].id"), &a.id);
        if !seen.insert(id.clone()) {
            c.fail(
                format!("accounts.static[{i}].id"),
                format!("{id:?} is listed twice"),
            );
        }
        if let Some(arn) = &a.role_arn
            && !is_role_arn(arn)
        {
            c.fail(
                format!("accounts.static[{i}].role_arn"),
                format!("{arn:?} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"),
            );
        }
        static_accounts.push(StaticAccount {
            id,
            role_arn: a.role_arn.clone(),
            external_id: a.external_id.clone().filter(|s| !s.is_empty()),
        });
    }
    if discovery == DiscoveryMode::Static && static_accounts.is_empty() {
        c.fail(
            "accounts.static",
            "discovery is \"static\" but no accounts are listed",
        );
    }
    let role_name = raw.accounts.role_name.trim().to_string();
    if role_name.is_empty() || role_name.contains(':') {
        c.fail(
            "accounts.role_name",
            format!(
                "{:?} is not an IAM role name (path allowed, no ARN)",
                raw.accounts.role_name
            ),
        );
    }
    let mut selectors = |key: &str, list: &[RawId]| -> Vec<AccountSelector> {
        list.iter()
            .enumerate()
            .map(|(i, id)| {
                let text = id.as_text();
                if is_ou_id(&text) {
                    AccountSelector::OrganizationalUnit(text)
                } else {
                    if !is_account_id(&text) {
                        c.fail(
                            format!("accounts.{key}[{i}]"),
                            format!(
                                "{text:?} is neither a 12-digit account id nor an OU id (ou-...)"
                            ),
                        );
                    }
                    AccountSelector::Account(text)
                }
            })
            .collect()
    };
    let include = selectors("include", &raw.accounts.include);
    let exclude = selectors("exclude", &raw.accounts.exclude);
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
    let accounts = AccountsConfig {
        discovery,
        static_accounts,
        role_name,
        external_id: raw.accounts.external_id.filter(|s| !s.is_empty()),
        include,
        exclude,
    };

    // trust
    let mut trusted_accounts = BTreeSet::new();
    for (i, id) in raw.trust.accounts.iter().enumerate() {
        trusted_accounts.insert(c.account_id(&format!("trust.accounts[{i}]"), id));
    }
    let mut trusted_orgs = BTreeSet::new();
    for (i, o) in raw.trust.organizations.iter().enumerate() {
        if !is_org_id(o) {
            c.fail(
                format!("trust.organizations[{i}]"),
                format!(
                    "{o:?} is not an organization id (o- and 10 to 32 lower-case letters or digits)"
                ),
            );
        }
        trusted_orgs.insert(o.clone());
    }
    let trust = TrustConfig {
        accounts: trusted_accounts,
        organizations: trusted_orgs,
        organization_accounts: raw.trust.organization_accounts,
    };

    // tags
    for (key, list) in [
        ("tags.required", &raw.tags.required),
        ("tags.iac", &raw.tags.iac),
    ] {
        for (i, t) in list.iter().enumerate() {
            if t.trim().is_empty() || t.len() > 128 {
                c.fail(format!("{key}[{i}]"), format!("{t:?} is not a tag key"));
            }
        }
    }
    let tags = TagsConfig {
        required: dedup(raw.tags.required),
        iac: dedup(raw.tags.iac),
    };

    // scan
    let scan = ScanConfig {
        interval: c.duration("scan.interval", &raw.scan.interval),
        jitter: c.duration("scan.jitter", &raw.scan.jitter),
        timeout: c.duration("scan.timeout", &raw.scan.timeout),
        target_concurrency: c.positive("scan.target_concurrency", raw.scan.target_concurrency),
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

    // state
    let state = StateConfig {
        path: match raw.state.path.filter(|p| !p.trim().is_empty()) {
            Some(p) => PathBuf::from(p),
            None => default_state_path(),
        },
    };

    // exceptions
    let mut exceptions = Vec::new();
    for (i, e) in raw.exceptions.iter().enumerate() {
        let at = |k: &str| format!("exceptions[{i}].{k}");
        let account_id = e
            .account_id
            .as_ref()
            .map(|id| c.account_id(&at("account_id"), id));
        if let Some(r) = &e.region
            && !is_region_name(r)
        {
            c.fail(at("region"), format!("{r:?} is not a region name"));
        }
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
            Some(text) => {
                match OffsetDateTime::parse(text.trim(), &Rfc3339) {
                    Ok(t) => Some(t),
                    Err(err) => {
                        c.fail(
                        at("expires"),
                        format!("{text:?} is not an RFC 3339 time such as 2026-12-31T00:00:00Z ({err})"),
                    );
                        None
                    }
                }
            }
        };
        if let (Some(finding), Some(expires)) = (finding, expires) {
            exceptions.push(Exception {
                account_id,
                region: e.region.clone(),
                repository: e.repository.clone(),
                finding,
                reason,
                expires,
            });
        }
    }

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
        exceptions,
        source: None,
    })
}

fn dedup(list: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    list.into_iter()
        .filter(|s| seen.insert(s.clone()))
        .collect()
}

/// A human summary of what the configuration would scan (`config check`).
pub fn describe(config: &Config) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let d = |d: Duration| humantime::format_duration(d).to_string();
    let list = |v: &mut dyn Iterator<Item = String>| {
        let items: Vec<String> = v.collect();
        if items.is_empty() {
            "(none)".to_string()
        } else {
            items.join(", ")
        }
    };
    let _ = writeln!(
        out,
        "configuration: {}",
        config
            .source
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "built-in defaults and environment".to_string())
    );
    let a = &config.accounts;
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
    let _ = writeln!(
        out,
        "regions: {}",
        match &config.regions {
            RegionSelection::All => "all enabled regions of each account".to_string(),
            RegionSelection::List(l) => l.join(", "),
        }
    );
    let _ = writeln!(
        out,
        "  excluded: {}",
        list(&mut config.exclude_regions.iter().cloned())
    );
    let _ = writeln!(
        out,
        "trust: accounts {}; organizations {}; organization members trusted: {}",
        list(&mut config.trust.accounts.iter().cloned()),
        list(&mut config.trust.organizations.iter().cloned()),
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
    let _ = writeln!(out, "state: {}", config.state.path.display());
    let _ = writeln!(out, "exceptions: {}", config.exceptions.len());
    for e in &config.exceptions {
        let _ = writeln!(
            out,
            "  {} {}/{}/{} until {}: {}",
            e.finding.as_label(),
            e.account_id.as_deref().unwrap_or("*"),
            e.region.as_deref().unwrap_or("*"),
            e.repository,
            e.expires.format(&Rfc3339).unwrap_or_default(),
            e.reason
        );
    }
    out
}

/// `config check [FILE]`: validate and print what would be scanned; returns the exit code.
pub fn check_command(file: Option<&Path>) -> u8 {
    match Config::load(file) {
        Ok(config) => {
            print!("{}", describe(&config));
            println!("configuration OK");
            0
        }
        Err(err) => {
            eprintln!("configuration invalid:");
            for p in &err.problems {
                eprintln!("  {p}");
            }
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(yaml: &str) -> Vec<String> {
        match Config::from_yaml_str(yaml) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn defaults_scan_current_account_in_all_regions() {
        let c = Config::from_yaml_str("{}").unwrap();
        assert_eq!(c.accounts.discovery, DiscoveryMode::Current);
        assert_eq!(c.regions, RegionSelection::All);
        assert_eq!(c.aws.max_attempts, 5);
        assert_eq!(c.aws.max_concurrency, 32);
        assert_eq!(c.tags.required, vec!["owner"]);
        assert_eq!(c.scan.interval, Duration::from_secs(900));
        assert_eq!(c.scan.target_concurrency, 8);
        assert_eq!(c.accounts.role_name, "OrganizationAccountAccessRole");
        assert!(c.trust.organization_accounts);
    }

    #[test]
    fn bad_static_account_id_names_key_and_reason() {
        let p = problems(
            "accounts:\n  discovery: static\n  static:\n    - id: \"123456789012\"\n    - id: \"1234\"\n",
        );
        assert_eq!(
            p,
            vec!["accounts.static[1].id: \"1234\" is not a 12-digit account id"]
        );
    }

    #[test]
    fn unquoted_account_number_is_accepted_when_twelve_digits() {
        let c = Config::from_yaml_str("trust:\n  accounts: [111122223333]\n").unwrap();
        assert!(c.trust.accounts.contains("111122223333"));
        let p = problems("trust:\n  accounts: [11122223333]\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("trust.accounts[0]:"), "{p:?}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let p = problems("aws:\n  max_atempts: 3\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("aws.max_atempts: unknown key"), "{p:?}");
        let p = problems("regons: all\n");
        assert!(p[0].starts_with("regons: unknown key"), "{p:?}");
    }

    #[test]
    fn regions_word_and_list() {
        let c =
            Config::from_yaml_str("regions: [eu-west-1, us-east-1]\nexclude_regions: [ap-east-1]")
                .unwrap();
        assert_eq!(
            c.regions,
            RegionSelection::List(vec!["eu-west-1".into(), "us-east-1".into()])
        );
        assert!(c.exclude_regions.contains("ap-east-1"));
        assert_eq!(
            problems("regions: some"),
            vec!["regions: \"some\" must be \"all\" or a list of region names"]
        );
        assert_eq!(
            problems("regions: [us-east-1, EU]"),
            vec!["regions[1]: \"EU\" is not a region name"]
        );
    }

    #[test]
    fn durations_and_jitter() {
        assert_eq!(
            problems("scan:\n  interval: soon\n")[0],
            "scan.interval: \"soon\" is not a duration such as \"30s\" or \"15m\" (expected number at 0)"
        );
        assert_eq!(
            problems("scan:\n  interval: 10s\n  jitter: 20s\n"),
            vec!["scan.jitter: 20s must be shorter than scan.interval (10s)"]
        );
    }

    #[test]
    fn exceptions_need_reason_and_expiry() {
        let p = problems(
            "exceptions:\n  - repository: \"legacy-*\"\n    finding: public_exposure\n    reason: \"\"\n",
        );
        assert_eq!(
            p,
            vec![
                "exceptions[0].reason: is required: say why the risk is accepted",
                "exceptions[0].expires: is required (RFC 3339, e.g. 2026-12-31T00:00:00Z)",
            ]
        );
        let p = problems(
            "exceptions:\n  - repository: x\n    finding: exposed\n    reason: r\n    expires: 2026-01-01T00:00:00Z\n",
        );
        assert!(
            p[0].starts_with("exceptions[0].finding: \"exposed\" is not one of public_exposure")
        );
    }

    #[test]
    fn exception_covers_by_glob_account_region() {
        let c = Config::from_yaml_str(
            "exceptions:\n  - account_id: \"111122223333\"\n    repository: \"legacy-*\"\n    finding: public_exposure\n    reason: vendor mirror\n    expires: \"2030-01-01T00:00:00Z\"\n",
        )
        .unwrap();
        let e = &c.exceptions[0];
        let key = |acct: &str, repo: &str, kind| FindingKey {
            account_id: acct.into(),
            region: "eu-west-1".into(),
            repository: repo.into(),
            kind,
            detail: String::new(),
        };
        assert!(e.covers(&key(
            "111122223333",
            "legacy-app",
            FindingKind::PublicExposure
        )));
        assert!(!e.covers(&key("111122223333", "app", FindingKind::PublicExposure)));
        assert!(!e.covers(&key(
            "999999999999",
            "legacy-app",
            FindingKind::PublicExposure
        )));
        assert!(!e.covers(&key("111122223333", "legacy-app", FindingKind::MissingTag)));
        let before = OffsetDateTime::parse("2029-12-31T23:59:59Z", &Rfc3339).unwrap();
        assert!(e.active_at(before));
        assert!(!e.active_at(e.expires));
    }

    #[test]
    fn example_yaml_documents_the_defaults() {
        let example = Config::from_yaml_str(include_str!("../../config/example.yaml")).unwrap();
        assert_eq!(example, Config::default());
    }

    #[test]
    fn glob() {
        assert!(glob_match("*", ""));
        assert!(glob_match("a*c", "abbbc"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("*-prod", "team-x-prod"));
        assert!(!glob_match("*-prod", "team-x-prod2"));
    }

    #[test]
    fn ou_selectors_need_organizations() {
        let c = Config::from_yaml_str(
            "accounts:\n  discovery: organizations\n  include: [ou-ab12-cdef5678, \"111122223333\"]\n",
        )
        .unwrap();
        assert_eq!(
            c.accounts.include,
            vec![
                AccountSelector::OrganizationalUnit("ou-ab12-cdef5678".into()),
                AccountSelector::Account("111122223333".into())
            ]
        );
        assert_eq!(
            problems("accounts:\n  include: [ou-ab12-cdef5678]\n"),
            vec!["accounts.include: OU ids need discovery \"organizations\""]
        );
    }

    #[test]
    fn analysis_settings_carry_trust_and_tags() {
        let c = Config::from_yaml_str(
            "trust:\n  accounts: [\"111122223333\"]\n  organizations: [o-abcdefghij]\ntags:\n  required: [owner, team]\n",
        )
        .unwrap();
        let s = c.analysis_settings();
        assert!(s.trusted_accounts.contains("111122223333"));
        assert!(s.trusted_orgs.contains("o-abcdefghij"));
        assert_eq!(s.required_tags, vec!["owner", "team"]);
    }
}
