//! Reading what an event named, now: one repository (described, its policy and tags), the
//! registry policy and its scope, or the whole target when there is no baseline to patch;
//! then analysing it with the trust zone of the last discovery, exactly as a scan would.
//!
//! Owns no state and applies nothing: the result goes to the daemon's scheduler
//! ([`crate::daemon::RescanRequest`]). AWS calls go through collection and [`crate::aws`].

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use crate::analysis::{AnalysisSettings, analyze_target};
use crate::aws::AccountCredentials;
use crate::aws::ecr::{EcrApi, SdkEcr};
use crate::collect::{CollectOptions, collect_registry, collect_repository, collect_target};
use crate::cycle::ScanContext;
use crate::facts::{TargetError, TargetErrorCode, TargetFacts, TargetId, TargetOutcome};
use crate::state::RescanPart;

use super::Rescan;

/// What to read for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadScope {
    /// The part the event named.
    Part(Rescan),
    /// The whole target (its last scan failed, or it was never scanned in this process).
    Target,
}

/// Reads one target's part from AWS; a trait so the consumer is tested without AWS.
pub trait Reader: Send + Sync {
    fn read(
        &self,
        target: &TargetId,
        credentials: &AccountCredentials,
        scope: &ReadScope,
        settings: &Arc<AnalysisSettings>,
    ) -> impl Future<Output = Result<RescanPart, TargetError>> + Send;
}

/// [`Reader`] over the SDK, with the scan's clients, credentials cache and counters.
#[derive(Debug, Clone)]
pub struct AwsReader {
    pub ctx: Arc<ScanContext>,
}

impl Reader for AwsReader {
    async fn read(
        &self,
        target: &TargetId,
        credentials: &AccountCredentials,
        scope: &ReadScope,
        settings: &Arc<AnalysisSettings>,
    ) -> Result<RescanPart, TargetError> {
        let api = SdkEcr::new(&self.ctx.aws, credentials, &target.region);
        let options = CollectOptions::from_config(&self.ctx.config);
        read_with(&api, &options, target, scope, settings).await
    }
}

/// Read and analyse `scope` of `target` through `api`.
pub async fn read_with<A: EcrApi>(
    api: &A,
    options: &CollectOptions,
    target: &TargetId,
    scope: &ReadScope,
    settings: &Arc<AnalysisSettings>,
) -> Result<RescanPart, TargetError> {
    let started = Instant::now();
    let facts = |repositories, registry| TargetFacts {
        target: target.clone(),
        repositories,
        registry,
    };
    match scope {
        ReadScope::Part(Rescan::Repository(name)) => {
            let found = collect_repository(api, name).await?;
            let mut report = analyze_target(&facts(found.into_iter().collect(), None), settings);
            Ok(RescanPart::Repository {
                name: name.clone(),
                report: report.repositories.pop().map(Box::new),
            })
        }
        ReadScope::Part(Rescan::Registry) => {
            let registry = collect_registry(api).await;
            let report = analyze_target(&facts(Vec::new(), Some(registry)), settings);
            let registry = report.registry.ok_or_else(|| TargetError {
                code: TargetErrorCode::Error,
                message: "the registry facts gave no registry report".into(),
            })?;
            Ok(RescanPart::Registry(Box::new(registry)))
        }
        ReadScope::Target => {
            // A whole target is analysed off the async threads, as in a cycle.
            let outcome = TargetOutcome {
                target: target.clone(),
                result: collect_target(api, options, target).await,
                duration_seconds: started.elapsed().as_secs_f64(),
            };
            let scanned = crate::cycle::report(outcome, settings.clone()).await;
            Ok(RescanPart::Target {
                report: Box::new(scanned.result?),
                duration_seconds: scanned.duration_seconds,
            })
        }
    }
}
