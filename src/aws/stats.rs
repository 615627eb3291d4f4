//! Counts of AWS calls and their errors, read by the metrics collector at scrape time.
//!
//! Plain counters behind one mutex: no dependency on the metrics library, so that collection
//! and `scan --once` can count without a registry and the daemon can export the same numbers.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Bounded error classes (metric label `error_code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiErrorCode {
    Throttling,
    AccessDenied,
    NotFound,
    Timeout,
    Other,
}

impl ApiErrorCode {
    pub const ALL: [ApiErrorCode; 5] = [
        ApiErrorCode::Throttling,
        ApiErrorCode::AccessDenied,
        ApiErrorCode::NotFound,
        ApiErrorCode::Timeout,
        ApiErrorCode::Other,
    ];

    /// Stable label value.
    pub fn as_label(self) -> &'static str {
        match self {
            ApiErrorCode::Throttling => "throttling",
            ApiErrorCode::AccessDenied => "access_denied",
            ApiErrorCode::NotFound => "not_found",
            ApiErrorCode::Timeout => "timeout",
            ApiErrorCode::Other => "other",
        }
    }

    /// Classify an AWS error code string (`ThrottlingException`, `AccessDenied`, ...).
    pub fn from_aws_code(code: Option<&str>) -> ApiErrorCode {
        let Some(code) = code else {
            return ApiErrorCode::Other;
        };
        match code {
            "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "SlowDown"
            | "LimitExceededException"
            | "ProvisionedThroughputExceededException"
            | "TransactionInProgressException"
            | "PriorRequestNotComplete"
            | "EC2ThrottledException"
            | "BandwidthLimitExceeded" => ApiErrorCode::Throttling,
            "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "UnauthorizedException"
            | "AuthorizationError"
            | "AWSOrganizationsNotInUseException"
            | "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "RegionDisabledException" => ApiErrorCode::AccessDenied,
            "RequestTimeout" | "RequestTimeoutException" => ApiErrorCode::Timeout,
            // S3 GetObject of an absent key (the state backend's first read of an account).
            "NoSuchKey" => ApiErrorCode::NotFound,
            c if c.ends_with("NotFoundException") || c.ends_with("NotFound") => {
                ApiErrorCode::NotFound
            }
            _ => ApiErrorCode::Other,
        }
    }
}

/// Calls made for one (service, operation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCallCount {
    pub service: &'static str,
    pub operation: &'static str,
    pub count: u64,
}

/// Errors for one (service, operation, error class).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiErrorCount {
    pub service: &'static str,
    pub operation: &'static str,
    pub error_code: ApiErrorCode,
    pub count: u64,
}

/// A copy of the counters at one moment, sorted by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiStatsSnapshot {
    pub calls: Vec<ApiCallCount>,
    pub errors: Vec<ApiErrorCount>,
}

impl ApiStatsSnapshot {
    /// Calls of one operation (0 if never called).
    pub fn calls_of(&self, service: &str, operation: &str) -> u64 {
        self.calls
            .iter()
            .filter(|c| c.service == service && c.operation == operation)
            .map(|c| c.count)
            .sum()
    }

    /// Every call counted.
    pub fn total_calls(&self) -> u64 {
        self.calls.iter().map(|c| c.count).sum()
    }

    /// Errors of one operation and class.
    pub fn errors_of(&self, service: &str, operation: &str, code: ApiErrorCode) -> u64 {
        self.errors
            .iter()
            .filter(|c| c.service == service && c.operation == operation && c.error_code == code)
            .map(|c| c.count)
            .sum()
    }
}

type CallKey = (&'static str, &'static str);
type ErrorKey = (&'static str, &'static str, ApiErrorCode);

/// Thread-safe call and error counters; monotonic for the life of the process.
#[derive(Debug, Default)]
pub struct ApiCallStats {
    inner: Mutex<(BTreeMap<CallKey, u64>, BTreeMap<ErrorKey, u64>)>,
}

impl ApiCallStats {
    pub fn new() -> Self {
        Self::default()
    }

    /// One `send()` of `service:operation`.
    pub fn record_call(&self, service: &'static str, operation: &'static str) {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *guard.0.entry((service, operation)).or_default() += 1;
    }

    /// One failed `send()`.
    pub fn record_error(&self, service: &'static str, operation: &'static str, code: ApiErrorCode) {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *guard.1.entry((service, operation, code)).or_default() += 1;
    }

    /// Copy the counters out, so that readers never hold the lock while encoding.
    pub fn snapshot(&self) -> ApiStatsSnapshot {
        let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        ApiStatsSnapshot {
            calls: guard
                .0
                .iter()
                .map(|(&(service, operation), &count)| ApiCallCount {
                    service,
                    operation,
                    count,
                })
                .collect(),
            errors: guard
                .1
                .iter()
                .map(
                    |(&(service, operation, error_code), &count)| ApiErrorCount {
                        service,
                        operation,
                        error_code,
                        count,
                    },
                )
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_aws_codes() {
        use ApiErrorCode::*;
        for (code, want) in [
            ("ThrottlingException", Throttling),
            ("Throttling", Throttling),
            ("TooManyRequestsException", Throttling),
            ("AccessDenied", AccessDenied),
            ("AccessDeniedException", AccessDenied),
            ("RepositoryPolicyNotFoundException", NotFound),
            ("RegistryPolicyNotFoundException", NotFound),
            ("NoSuchKey", NotFound),
            ("PreconditionFailed", Other),
            ("InternalFailure", Other),
        ] {
            assert_eq!(ApiErrorCode::from_aws_code(Some(code)), want, "{code}");
        }
        assert_eq!(ApiErrorCode::from_aws_code(None), Other);
    }

    #[test]
    fn snapshot_counts_calls_and_errors() {
        let s = ApiCallStats::new();
        s.record_call("ecr", "DescribeRepositories");
        s.record_call("ecr", "DescribeRepositories");
        s.record_call("ecr", "GetRepositoryPolicy");
        s.record_error("ecr", "GetRepositoryPolicy", ApiErrorCode::NotFound);
        let snap = s.snapshot();
        assert_eq!(snap.calls_of("ecr", "DescribeRepositories"), 2);
        assert_eq!(snap.total_calls(), 3);
        assert_eq!(
            snap.errors_of("ecr", "GetRepositoryPolicy", ApiErrorCode::NotFound),
            1
        );
        assert_eq!(snap.errors.len(), 1);
    }
}
