//! The scrape-time collector: every finding, inventory and scan-health gauge, rebuilt from the
//! current snapshot, plus the AWS API call counters read from the collection layer.

use std::collections::BTreeMap;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet, EncodeMetric,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;

use crate::model::{FindingKind, FindingSubject, Scope};
use crate::snapshot::{OpenFinding, Snapshot, SnapshotCell, TargetSnapshot};
use crate::state::{Clock, Exceptions};

/// One (service, operation) line of the API call statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCallSample {
    pub service: String,
    pub operation: String,
    pub requests: u64,
    /// Errors by bounded `error_code` (throttling, access_denied, not_found, timeout, other).
    pub errors: Vec<(String, u64)>,
}

/// Where API call counts come from at scrape time (the collection layer's counters).
pub type ApiStatsSource = Arc<dyn Fn() -> Vec<ApiCallSample> + Send + Sync>;

/// Encodes the snapshot on every scrape; holds only shared handles, never a lock across AWS.
pub struct SnapshotCollector {
    pub cell: Arc<SnapshotCell>,
    pub clock: Arc<dyn Clock>,
    pub exceptions: Arc<Exceptions>,
    /// Required tag keys: `repositories_missing_tag` is emitted (as 0 too) for each.
    pub required_tags: Vec<String>,
    pub api_stats: Option<ApiStatsSource>,
    /// This replica's shard, for `shard_info` and `shard_accounts`.
    pub shard: crate::discovery::ShardSpec,
}

impl std::fmt::Debug for SnapshotCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotCollector")
            .field("required_tags", &self.required_tags)
            .finish_non_exhaustive()
    }
}

const STALE_NOTE: &str = "as of the last completed scan of that account and region";

type Res = Result<(), std::fmt::Error>;

fn family<L: EncodeLabelSet, V: EncodeGaugeValue>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl Iterator<Item = (L, V)>,
) -> Res {
    let mut me = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in series {
        me.encode_family(&labels)?.encode_gauge(&v)?;
    }
    Ok(())
}

fn counter_family<L: EncodeLabelSet>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl Iterator<Item = (L, u64)>,
) -> Res {
    let mut me = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in series {
        ConstCounter::new(v).encode(me.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Tag key label: meaningful for missing-tag findings only.
fn tag_key(f: &OpenFinding) -> &str {
    f.finding.key.tag_key().unwrap_or("")
}

fn finding_labels(f: &OpenFinding) -> [(&'static str, &str); 5] {
    let k = &f.finding.key;
    [
        ("account_id", k.account_id.as_str()),
        ("region", k.region.as_str()),
        ("repository", k.repository.as_str()),
        ("finding", k.kind.as_label()),
        ("tag_key", tag_key(f)),
    ]
}

fn tl(t: &TargetSnapshot) -> [(&'static str, &str); 2] {
    [
        ("account_id", t.target.account_id.as_str()),
        ("region", t.target.region.as_str()),
    ]
}

impl SnapshotCollector {
    /// The shard families: no other series carries a shard label, so replicas scraped side
    /// by side never clash, and the shipped alerts compare these across replicas.
    fn encode_shard(
        &self,
        enc: &mut DescriptorEncoder<'_>,
        snap: &crate::snapshot::Snapshot,
    ) -> std::fmt::Result {
        let shard = self.shard.shard().to_string();
        let total = self.shard.total().to_string();
        family(
            enc,
            "ecr_exposure_shard_info",
            "Always 1: the shard this replica scans and how many shards share the accounts",
            std::iter::once((
                [("shard", shard.as_str()), ("total_shards", total.as_str())],
                1i64,
            )),
        )?;
        // Accounts scanned in this process: targets restored from the state file only (for
        // example of accounts another shard took over) do not count, nor a failed discovery.
        let accounts: std::collections::BTreeSet<&str> = snap
            .targets
            .values()
            .filter(|t| t.scan.is_some() && t.target.account_id != "*")
            .map(|t| t.target.account_id.as_str())
            .collect();
        family(
            enc,
            "ecr_exposure_shard_accounts",
            "Accounts this replica scanned in the last cycle (its shard of the accounts)",
            snap.cycle
                .iter()
                .map(|_| ([("", ""); 0], accounts.len() as i64)),
        )
    }
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Res {
        let snap: Arc<Snapshot> = self.cell.load();
        let now = self.clock.now();
        let all = || snap.targets.values().flat_map(|t| t.findings.iter());
        let open = || all().filter(move |f| f.suppressed_at(now).is_none());
        let kind = move |k: FindingKind| open().filter(move |f| f.finding.key.kind == k);

        family(
            &mut enc,
            "ecr_exposure_repository_exposed",
            &format!(
                "1 while the repository policy grants scope (public or cross_account) the highest level access (read, write, admin), {STALE_NOTE}"
            ),
            kind(FindingKind::PublicExposure)
                .chain(kind(FindingKind::CrossAccountExposure))
                .map(|f| {
                    let k = &f.finding.key;
                    let scope = k.scope().unwrap_or(Scope::CrossAccount);
                    let access = f.finding.access.map_or("none", |a| a.as_label());
                    (
                        [
                            ("account_id", k.account_id.as_str()),
                            ("region", k.region.as_str()),
                            ("repository", k.repository.as_str()),
                            ("scope", scope.as_label()),
                            ("access", access),
                        ],
                        1i64,
                    )
                }),
        )?;
        family(
            &mut enc,
            "ecr_exposure_registry_exposed",
            &format!(
                "1 while the registry policy grants scope the highest level access (every repository of the region under policy scope V2), {STALE_NOTE}"
            ),
            kind(FindingKind::RegistryExposure).map(|f| {
                let k = &f.finding.key;
                let access = f.finding.access.map_or("none", |a| a.as_label());
                (
                    [
                        ("account_id", k.account_id.as_str()),
                        ("region", k.region.as_str()),
                        ("scope", k.scope().map_or("", Scope::as_label)),
                        ("access", access),
                    ],
                    1i64,
                )
            }),
        )?;
        family(
            &mut enc,
            "ecr_exposure_repository_policy_unknown",
            &format!(
                "1 while the repository policy could not be read or parsed (unknown, never safe), {STALE_NOTE}"
            ),
            kind(FindingKind::PolicyUnknown)
                .filter(|f| matches!(f.finding.key.subject(), FindingSubject::Repository(_)))
                .map(|f| {
                    let k = &f.finding.key;
                    (
                        [
                            ("account_id", k.account_id.as_str()),
                            ("region", k.region.as_str()),
                            ("repository", k.repository.as_str()),
                            ("reason", f.finding.reason.map_or("error", |r| r.as_label())),
                        ],
                        1i64,
                    )
                }),
        )?;
        family(
            &mut enc,
            "ecr_exposure_registry_policy_unknown",
            &format!(
                "1 while the registry policy could not be read or parsed (unknown, never safe), {STALE_NOTE}"
            ),
            kind(FindingKind::PolicyUnknown)
                .filter(|f| f.finding.key.subject() == FindingSubject::Registry)
                .map(|f| {
                    let k = &f.finding.key;
                    (
                        [
                            ("account_id", k.account_id.as_str()),
                            ("region", k.region.as_str()),
                            ("reason", f.finding.reason.map_or("error", |r| r.as_label())),
                        ],
                        1i64,
                    )
                }),
        )?;
        family(
            &mut enc,
            "ecr_exposure_repository_missing_tag",
            &format!("1 while a required tag (tag_key) is absent or empty, {STALE_NOTE}"),
            kind(FindingKind::MissingTag).map(|f| {
                let k = &f.finding.key;
                (
                    [
                        ("account_id", k.account_id.as_str()),
                        ("region", k.region.as_str()),
                        ("repository", k.repository.as_str()),
                        ("tag_key", tag_key(f)),
                    ],
                    1i64,
                )
            }),
        )?;
        family(
            &mut enc,
            "ecr_exposure_finding_first_seen_timestamp_seconds",
            "When the open finding was first observed (survives restarts; suppressed findings are not listed); age is time() minus this",
            open().map(|f| (finding_labels(f), f.first_seen.unix_timestamp())),
        )?;
        let suppressed = || all().filter_map(move |f| f.suppressed_at(now).map(|s| (f, s.expires)));
        family(
            &mut enc,
            "ecr_exposure_finding_suppressed",
            "1 while a configured exception covers the finding (it is then absent from the exposure series); the expiry is in ecr_exposure_finding_suppression_expiry_timestamp_seconds",
            suppressed().map(|(f, _)| (finding_labels(f), 1i64)),
        )?;
        family(
            &mut enc,
            "ecr_exposure_finding_suppression_expiry_timestamp_seconds",
            "When the exception covering the finding expires and the finding counts again",
            suppressed().map(|(f, exp)| (finding_labels(f), exp.unix_timestamp())),
        )?;
        family(
            &mut enc,
            "ecr_exposure_repository_info",
            &format!(
                "Always 1: owner_tag (value of the first required tag) and managed_by (from the IaC tag keys) for joins, {STALE_NOTE}"
            ),
            snap.targets.values().flat_map(|t| {
                let acc = t.target.account_id.as_str();
                let reg = t.target.region.as_str();
                t.repository_info().iter().map(move |r| {
                    (
                        [
                            ("account_id", acc),
                            ("region", reg),
                            ("repository", &*r.repository),
                            ("owner_tag", r.owner.as_deref().unwrap_or("")),
                            ("managed_by", r.managed_by.as_deref().unwrap_or("")),
                        ],
                        1i64,
                    )
                })
            }),
        )?;

        // Inventory and KPIs.
        family(
            &mut enc,
            "ecr_exposure_repositories",
            &format!("Repositories seen in the last successful scan of the target, {STALE_NOTE}"),
            snap.targets.values().filter_map(|t| {
                let inventory = t.inventory.as_ref()?;
                Some((
                    [
                        ("account_id", t.target.account_id.as_str()),
                        ("region", t.target.region.as_str()),
                    ],
                    inventory.len() as i64,
                ))
            }),
        )?;
        let mut exposed_rows = Vec::new();
        let mut missing_rows: Vec<([(&str, &str); 3], i64)> = Vec::new();
        for t in snap.targets.values() {
            let (mut public, mut cross) = (0u64, 0u64);
            let mut missing: BTreeMap<&str, u64> =
                self.required_tags.iter().map(|k| (k.as_str(), 0)).collect();
            for f in t.findings.iter().filter(|f| f.suppressed_at(now).is_none()) {
                match f.finding.key.kind {
                    FindingKind::PublicExposure => public += 1,
                    FindingKind::CrossAccountExposure => cross += 1,
                    FindingKind::MissingTag => {
                        *missing.entry(tag_key(f)).or_default() += 1;
                    }
                    _ => {}
                }
            }
            let acc = t.target.account_id.as_str();
            let reg = t.target.region.as_str();
            for (scope, n) in [(Scope::Public, public), (Scope::CrossAccount, cross)] {
                exposed_rows.push((
                    [
                        ("account_id", acc),
                        ("region", reg),
                        ("scope", scope.as_label()),
                    ],
                    n as i64,
                ));
            }
            for (key, n) in missing {
                missing_rows.push((
                    [("account_id", acc), ("region", reg), ("tag_key", key)],
                    n as i64,
                ));
            }
        }
        family(
            &mut enc,
            "ecr_exposure_exposed_repositories",
            &format!(
                "Repositories exposed to scope (suppressed ones excluded; 0 emitted too), {STALE_NOTE}"
            ),
            exposed_rows.into_iter(),
        )?;
        family(
            &mut enc,
            "ecr_exposure_repositories_missing_tag",
            &format!(
                "Repositories missing the required tag tag_key (suppressed ones excluded; 0 emitted too), {STALE_NOTE}"
            ),
            missing_rows.into_iter(),
        )?;

        // Scan health.
        let scanned = || {
            snap.targets
                .values()
                .filter_map(|t| t.scan.as_ref().map(|s| (t, s)))
        };
        family(
            &mut enc,
            "ecr_exposure_scan_success",
            "1 if the last scan of the target succeeded; on 0 the target's findings are those of its last successful scan",
            scanned().map(|(t, s)| (tl(t), i64::from(s.success))),
        )?;
        family(
            &mut enc,
            "ecr_exposure_scan_duration_seconds",
            "Duration of the last scan of the target",
            scanned().map(|(t, s)| (tl(t), s.duration_seconds)),
        )?;
        family(
            &mut enc,
            "ecr_exposure_scan_last_success_timestamp_seconds",
            "When the last successful scan of the target completed (kept across restarts)",
            snap.targets
                .values()
                .filter_map(|t| t.last_success.map(|ts| (tl(t), ts.unix_timestamp()))),
        )?;
        family(
            &mut enc,
            "ecr_exposure_scan_cycle_duration_seconds",
            "Duration of the last full cycle over all targets",
            snap.cycle
                .iter()
                .map(|c| ([("", ""); 0], c.duration_seconds)),
        )?;
        let (active, expired) = self.exceptions.counts(now);
        family(
            &mut enc,
            "ecr_exposure_exceptions",
            "Configured exceptions by state (active or expired); expired ones no longer suppress anything and can be removed from the configuration",
            [("active", active), ("expired", expired)]
                .into_iter()
                .map(|(s, n)| ([("state", s)], n as i64)),
        )?;
        self.encode_shard(&mut enc, &snap)?;
        family(
            &mut enc,
            "ecr_exposure_build_info",
            "Always 1: version and git revision of the running exporter",
            std::iter::once((
                [("version", crate::VERSION), ("revision", crate::REVISION)],
                1i64,
            )),
        )?;

        if let Some(source) = &self.api_stats {
            let samples = source();
            counter_family(
                &mut enc,
                "ecr_exposure_aws_api_requests",
                "AWS API calls made (one per send, retries included)",
                samples.iter().map(|s| {
                    (
                        [
                            ("service", s.service.as_str()),
                            ("operation", s.operation.as_str()),
                        ],
                        s.requests,
                    )
                }),
            )?;
            counter_family(
                &mut enc,
                "ecr_exposure_aws_api_request_errors",
                "AWS API calls that failed, by error_code (throttling, access_denied, not_found, timeout, other)",
                samples.iter().flat_map(|s| {
                    s.errors.iter().map(move |(code, n)| {
                        (
                            [
                                ("service", s.service.as_str()),
                                ("operation", s.operation.as_str()),
                                ("error_code", code.as_str()),
                            ],
                            *n,
                        )
                    })
                }),
            )?;
        }
        Ok(())
    }
}
