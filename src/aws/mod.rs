//! The one place that makes AWS calls: clients per (account, region) from one `SdkConfig`,
//! retries and timeouts, assume-role credentials, a global concurrency cap, and counting.
//!
//! Every request goes through [`Aws::send`], which holds a permit of the global semaphore
//! around the SDK's `send()` (retries inside the SDK are one call), counts it in
//! [`ApiCallStats`] by service and operation, and classifies a failure into a bounded
//! [`ApiErrorCode`]. Nothing here decides what a result means; collection does.

pub mod ecr;
pub mod sqs;
pub mod stats;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{
    ProvideCredentials, SharedCredentialsProvider, error::CredentialsError, future,
};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tokio::sync::Semaphore;

use crate::config::{AwsConfig, SESSION_NAME};
pub use stats::{ApiCallCount, ApiCallStats, ApiErrorCode, ApiErrorCount, ApiStatsSnapshot};

/// Region used for global APIs when neither the configuration nor the environment names one.
pub const FALLBACK_REGION: &str = "us-east-1";

/// Assumed credentials are renewed this long before they expire.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// A failed call, classified: what collection and discovery need to decide and report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub class: ApiErrorCode,
    /// The AWS error code (`AccessDeniedException`, ...) when the service sent one.
    pub aws_code: Option<String>,
    /// The full error chain, for logs and the JSON `error.message`.
    pub message: String,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CallError {}

/// Classify an SDK error: timeouts from the transport, else by the service's error code.
pub fn classify<E, R>(err: &SdkError<E, R>) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let aws_code = err.code().map(str::to_string);
    let class = match err {
        SdkError::TimeoutError(_) => ApiErrorCode::Timeout,
        SdkError::DispatchFailure(d) if d.is_timeout() => ApiErrorCode::Timeout,
        _ => ApiErrorCode::from_aws_code(aws_code.as_deref()),
    };
    // The service's own code and message when it sent them; the whole chain otherwise
    // (transport failures), which is what an operator needs to see.
    let message = match (&aws_code, err.message()) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code.clone(),
        _ => DisplayErrorContext(err).to_string(),
    };
    CallError {
        class,
        aws_code,
        message,
    }
}

/// Walk a paginated operation to its end: `fetch(token)` makes one page's call (through
/// [`Aws::send`], so every page is counted and capped), `take(page)` keeps the page's items
/// and returns the next token. An absent or empty token ends the walk (the tagging API ends
/// with `""`, the others with none); the first failed page ends it with that error.
///
/// One loop for every paginated call, so that the end-of-pages rule lives in one place.
pub async fn paginate<P, E, F, Fut>(
    mut fetch: F,
    mut take: impl FnMut(P) -> Option<String>,
) -> Result<(), E>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<P, E>>,
{
    let mut token: Option<String> = None;
    loop {
        let page = fetch(token.take()).await?;
        token = take(page).filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(());
        }
    }
}

/// Credentials of one account: the ambient ones, or an assumed role (cached, refreshed).
#[derive(Debug, Clone)]
pub struct AccountCredentials {
    /// `None` for the ambient credentials.
    pub role_arn: Option<String>,
    provider: SharedCredentialsProvider,
    assumed: Option<Arc<AssumedRole>>,
}

impl AccountCredentials {
    /// Resolve now (assume the role if needed): discovery calls this so that a role that
    /// cannot be assumed fails its account up front, with its own error code.
    pub async fn check(&self) -> Result<(), CallError> {
        match &self.assumed {
            Some(role) => role.resolve_checked().await.map(|_| ()),
            None => self
                .provider
                .provide_credentials()
                .await
                .map(|_| ())
                .map_err(|err| CallError {
                    class: ApiErrorCode::Other,
                    aws_code: None,
                    message: DisplayErrorContext(&err).to_string(),
                }),
        }
    }
}

/// The client factory and call gate shared by discovery, collection and the daemon.
#[derive(Debug, Clone)]
pub struct Aws {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Region, endpoint, retries, timeouts and ambient credentials: every client starts here.
    base: SdkConfig,
    home_region: String,
    stats: Arc<ApiCallStats>,
    limiter: Semaphore,
    /// One provider per (role, external id), so credentials are reused across cycles.
    roles: Mutex<HashMap<(String, Option<String>), AccountCredentials>>,
}

/// One HTTP client (connection pool, TLS configuration) for every client the process makes.
///
/// Without it each SDK client brings its own default one, and as clients here are made per
/// target, every call opened a new connection and re-read the system's trust store: 309
/// connections for 546 calls over 32 targets against the fake (`tests/fake_aws.rs`), a TCP
/// and TLS handshake per call against AWS. The connector is the SDK's default one: rustls
/// with aws-lc, proxies from the environment (`HTTPS_PROXY`, `NO_PROXY`).
fn shared_http_client() -> SharedHttpClient {
    use aws_smithy_http_client::{ConnectorBuilder, proxy::ProxyConfig, tls};
    aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

impl Aws {
    /// Build the shared `SdkConfig` from the configuration and the ambient environment.
    pub async fn new(cfg: &AwsConfig, stats: Arc<ApiCallStats>) -> Aws {
        let retry = RetryConfig::standard()
            .with_max_attempts(cfg.max_attempts)
            .with_initial_backoff(cfg.initial_backoff)
            .with_max_backoff(cfg.max_backoff);
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(cfg.connect_timeout)
            .read_timeout(cfg.read_timeout)
            .operation_timeout(cfg.operation_timeout)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(shared_http_client())
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(region) = &cfg.region {
            loader = loader.region(Region::new(region.to_string()));
        }
        if let Some(url) = &cfg.endpoint_url {
            loader = loader.endpoint_url(url.clone());
        }
        let mut base = loader.load().await;
        if base.region().is_none() {
            base = base
                .into_builder()
                .region(Region::new(FALLBACK_REGION))
                .build();
        }
        let home_region = base
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| FALLBACK_REGION.to_string());
        Aws {
            inner: Arc::new(Inner {
                base,
                home_region,
                stats,
                limiter: Semaphore::new(cfg.max_concurrency.max(1)),
                roles: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The counters every call is recorded in.
    pub fn stats(&self) -> &Arc<ApiCallStats> {
        &self.inner.stats
    }

    /// Region of the global calls (STS, Organizations, Account).
    pub fn home_region(&self) -> &str {
        &self.inner.home_region
    }

    /// The credentials the process runs with.
    pub fn ambient(&self) -> AccountCredentials {
        AccountCredentials {
            role_arn: None,
            provider: self
                .inner
                .base
                .credentials_provider()
                .unwrap_or_else(|| SharedCredentialsProvider::new(NoCredentials)),
            assumed: None,
        }
    }

    /// Credentials for `role_arn`, assumed with the ambient credentials; the same provider
    /// (and so the same cached session) is returned for the same role and external id.
    pub fn assume_role(&self, role_arn: &str, external_id: Option<&str>) -> AccountCredentials {
        let key = (role_arn.to_string(), external_id.map(str::to_string));
        let mut roles = self.inner.roles.lock().unwrap_or_else(|p| p.into_inner());
        roles
            .entry(key)
            .or_insert_with(|| {
                let role = Arc::new(AssumedRole {
                    aws: self.clone(),
                    sts: self.sts(&self.ambient()),
                    role_arn: role_arn.to_string(),
                    external_id: external_id.map(str::to_string),
                    cache: tokio::sync::Mutex::new(None),
                });
                AccountCredentials {
                    role_arn: Some(role_arn.to_string()),
                    provider: SharedCredentialsProvider::new(RoleProvider(role.clone())),
                    assumed: Some(role),
                }
            })
            .clone()
    }

    fn config_for(&self, creds: &AccountCredentials, region: &str) -> SdkConfig {
        self.inner
            .base
            .to_builder()
            .region(Region::new(region.to_string()))
            .credentials_provider(creds.provider.clone())
            .build()
    }

    pub fn ecr(&self, creds: &AccountCredentials, region: &str) -> aws_sdk_ecr::Client {
        aws_sdk_ecr::Client::new(&self.config_for(creds, region))
    }

    pub fn tagging(
        &self,
        creds: &AccountCredentials,
        region: &str,
    ) -> aws_sdk_resourcegroupstagging::Client {
        aws_sdk_resourcegroupstagging::Client::new(&self.config_for(creds, region))
    }

    /// Account API client (global; called in the home region).
    pub fn account(&self, creds: &AccountCredentials) -> aws_sdk_account::Client {
        aws_sdk_account::Client::new(&self.config_for(creds, self.home_region()))
    }

    pub fn organizations(&self, creds: &AccountCredentials) -> aws_sdk_organizations::Client {
        aws_sdk_organizations::Client::new(&self.config_for(creds, self.home_region()))
    }

    pub fn sts(&self, creds: &AccountCredentials) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.config_for(creds, self.home_region()))
    }

    /// S3 client for the state backend: the process's own credentials (the state bucket
    /// belongs to the exporter, not to a scanned account), `region` or the home region.
    /// Path-style addressing when an endpoint URL is configured (emulators and most
    /// S3-compatible stores do not serve bucket subdomains); checksums only where S3 requires
    /// them, which S3-compatible stores understand too.
    pub fn s3(&self, region: Option<&str>) -> aws_sdk_s3::Client {
        let base = self.config_for(&self.ambient(), region.unwrap_or(self.home_region()));
        let custom_endpoint = base.endpoint_url().is_some();
        let conf = aws_sdk_s3::config::Builder::from(&base)
            .force_path_style(custom_endpoint)
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
            )
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// SQS client for the event queue, with the ambient credentials (the queue lives in the
    /// exporter's own account), in `region` or the home region. The read and operation
    /// timeouts are stretched to cover a long poll of `long_poll`, which SQS holds open by
    /// design.
    pub fn sqs(&self, region: Option<&str>, long_poll: Duration) -> aws_sdk_sqs::Client {
        let region = region.unwrap_or(self.home_region());
        let config = self.config_for(&self.ambient(), region);
        let margin = long_poll + Duration::from_secs(10);
        let current = config
            .timeout_config()
            .cloned()
            .unwrap_or_else(|| TimeoutConfig::builder().build());
        let read = current.read_timeout().unwrap_or(margin).max(margin);
        let operation = current.operation_timeout().unwrap_or(margin).max(margin);
        let mut timeouts = TimeoutConfig::builder()
            .read_timeout(read)
            .operation_timeout(operation);
        if let Some(connect) = current.connect_timeout() {
            timeouts = timeouts.connect_timeout(connect);
        }
        let conf = aws_sdk_sqs::config::Builder::from(&config)
            .timeout_config(timeouts.build())
            .build();
        aws_sdk_sqs::Client::from_conf(conf)
    }

    /// Make one call: hold a global permit around `send`, count it, classify a failure.
    ///
    /// `call` must be the not-yet-polled `send()` future (futures are lazy, so the request
    /// leaves only once the permit is held).
    pub async fn send<T, E, R, F>(
        &self,
        service: &'static str,
        operation: &'static str,
        call: F,
    ) -> Result<T, CallError>
    where
        F: Future<Output = Result<T, SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let _permit = self.inner.limiter.acquire().await.ok();
        self.send_uncapped(service, operation, call).await
    }

    /// As [`Aws::send`] without the permit: for AssumeRole, which runs while the caller of
    /// a capped call already holds a permit (holding two could deadlock the cap), and for the
    /// SQS long poll ([`sqs`]), which waits by design and must not hold a permit the scans
    /// need for 20 seconds.
    async fn send_uncapped<T, E, R, F>(
        &self,
        service: &'static str,
        operation: &'static str,
        call: F,
    ) -> Result<T, CallError>
    where
        F: Future<Output = Result<T, SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        self.inner.stats.record_call(service, operation);
        match call.await {
            Ok(v) => Ok(v),
            Err(err) => {
                let e = classify(&err);
                self.inner.stats.record_error(service, operation, e.class);
                if e.class == ApiErrorCode::NotFound {
                    tracing::debug!(service, operation, error = %e.message, "AWS call: not found");
                } else {
                    tracing::warn!(
                        service,
                        operation,
                        error_code = e.class.as_label(),
                        aws_code = e.aws_code.as_deref().unwrap_or(""),
                        error = %e.message,
                        "AWS call failed"
                    );
                }
                Err(e)
            }
        }
    }
}

/// Stands in when the environment offers no credentials: every call then fails clearly.
#[derive(Debug)]
struct NoCredentials;

impl ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Err(CredentialsError::not_loaded_no_source()))
    }
}

/// Assumes one role through [`Aws`] (so AssumeRole is counted like every call), caches the
/// session and renews it [`REFRESH_BEFORE_EXPIRY`] before it expires.
#[derive(Debug)]
struct AssumedRole {
    aws: Aws,
    sts: aws_sdk_sts::Client,
    role_arn: String,
    external_id: Option<String>,
    cache: tokio::sync::Mutex<Option<Credentials>>,
}

impl AssumedRole {
    async fn resolve_checked(&self) -> Result<Credentials, CallError> {
        let mut cached = self.cache.lock().await;
        if let Some(c) = cached.as_ref()
            && c.expiry()
                .is_none_or(|e| e > SystemTime::now() + REFRESH_BEFORE_EXPIRY)
        {
            return Ok(c.clone());
        }
        let call = self
            .sts
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(SESSION_NAME)
            .set_external_id(self.external_id.clone())
            .duration_seconds(3600)
            .send();
        let out = self.aws.send_uncapped("sts", "AssumeRole", call).await?;
        let c = out.credentials().ok_or_else(|| CallError {
            class: ApiErrorCode::Other,
            aws_code: None,
            message: format!(
                "sts:AssumeRole {}: no credentials in the answer",
                self.role_arn
            ),
        })?;
        let expiry = SystemTime::try_from(*c.expiration()).ok();
        let creds = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            expiry,
            "ecr-exposure-exporter-assume-role",
        );
        *cached = Some(creds.clone());
        Ok(creds)
    }
}

/// The SDK-facing side of an [`AssumedRole`].
#[derive(Debug)]
struct RoleProvider(Arc<AssumedRole>);

impl ProvideCredentials for RoleProvider {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.0.resolve_checked().await.map_err(|e| {
                CredentialsError::provider_error(format!(
                    "sts:AssumeRole {}: {}",
                    self.0.role_arn, e.message
                ))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn paginate_follows_tokens_until_absent_or_empty() {
        for last in [None, Some(String::new())] {
            let mut asked = Vec::new();
            let mut items = Vec::new();
            let pages = [
                (vec![1, 2], Some("a".to_string())),
                (vec![3], Some("b".into())),
            ];
            let r: Result<(), ()> = paginate(
                |token: Option<String>| {
                    asked.push(token.clone());
                    let page = match token.as_deref() {
                        None => pages[0].clone(),
                        Some("a") => pages[1].clone(),
                        _ => (vec![4], last.clone()),
                    };
                    async move { Ok(page) }
                },
                |(got, next): (Vec<i32>, Option<String>)| {
                    items.extend(got);
                    next
                },
            )
            .await;
            assert_eq!(r, Ok(()));
            assert_eq!(items, vec![1, 2, 3, 4]);
            assert_eq!(asked, vec![None, Some("a".into()), Some("b".into())]);
        }
    }

    #[tokio::test]
    async fn paginate_stops_at_the_first_failed_page() {
        let mut calls = 0;
        let mut items = Vec::new();
        let r = paginate(
            |token: Option<String>| {
                calls += 1;
                async move {
                    match token {
                        None => Ok((vec![1], Some("next".to_string()))),
                        Some(_) => Err("denied"),
                    }
                }
            },
            |(got, next): (Vec<i32>, Option<String>)| {
                items.extend(got);
                next
            },
        )
        .await;
        assert_eq!(r, Err("denied"));
        assert_eq!((calls, items), (2, vec![1]));
    }
}
