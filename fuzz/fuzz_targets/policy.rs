//! Fuzz target: arbitrary bytes through the policy parser and evaluator, for a repository and
//! for a registry subject. Any panic, abort or timeout is a bug (issue 2: no input may panic
//! or take more than 10 ms).
//!
//! Slow inputs: with `POLICY_FUZZ_SLOW_MS=N` set, any input whose three analyses together take
//! longer than N ms is written to `artifacts/policy/slow-*` and fuzzing goes on. This exists
//! because libFuzzer's own `-timeout` handler allocates inside a signal handler and, without a
//! sanitizer runtime (`-s none`), can deadlock in malloc instead of saving the input.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ecr_exposure_exporter::analysis::policy::{
    Access, ErrorCode, PolicyError, RegistryScope, Subject, Trust, analyze,
};
use libfuzzer_sys::fuzz_target;

fn slow_limit() -> Option<Duration> {
    static LIMIT: OnceLock<Option<Duration>> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        std::env::var("POLICY_FUZZ_SLOW_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis)
    })
}

fn record_slow(data: &[u8], took: Duration) {
    let mut h = DefaultHasher::new();
    data.hash(&mut h);
    let dir = std::path::Path::new("artifacts/policy");
    let _ = std::fs::create_dir_all(dir);
    let name = format!("slow-{}ms-{:016x}", took.as_millis(), h.finish());
    let _ = std::fs::write(dir.join(&name), data);
    eprintln!(
        "SLOW INPUT: {} bytes took {took:?}; saved as {name}",
        data.len()
    );
}

fuzz_target!(|data: &[u8]| {
    // `analyze` takes &str; invalid UTF-8 cannot reach it.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let trust = Trust {
        owner_account: "111111111111".to_string(),
        trusted_accounts: BTreeSet::from(["222222222222".to_string()]),
        trusted_orgs: BTreeSet::from(["o-trusted123".to_string()]),
    };
    let tags = BTreeMap::from([("env".to_string(), "prod".to_string())]);
    let arn = "arn:aws:ecr:us-east-1:111111111111:repository/app";
    let repo = Subject::Repository {
        arn,
        tags: Some(&tags),
    };
    let offline = Subject::Repository { arn, tags: None };
    let registry = Subject::Registry {
        account_id: "111111111111",
        region: "us-east-1",
        scope: RegistryScope::V2,
    };
    let start = Instant::now();
    let r1 = analyze(text, &repo, &trust);
    let r2 = analyze(text, &offline, &trust);
    let r3 = analyze(text, &registry, &trust);
    let took = start.elapsed();
    if slow_limit().is_some_and(|limit| took > limit) {
        record_slow(data, took);
    }
    // Invariants that hold for every verdict (spec section 1).
    for v in [&r1, &r2, &r3].into_iter().flatten() {
        assert!(!v.public || v.cross_account, "public without cross-account");
        assert_eq!(
            v.access == Access::None,
            !v.public && !v.cross_account,
            "access none iff both flags false"
        );
    }
    // Parse errors do not depend on the subject (the work budget, too_complex, may).
    let parse_error = |r: &Result<_, PolicyError>| {
        r.as_ref()
            .err()
            .filter(|e| e.code != ErrorCode::TooComplex)
            .map(|e| e.code)
    };
    if parse_error(&r1).is_some() || parse_error(&r3).is_some() {
        assert_eq!(
            parse_error(&r1),
            parse_error(&r3),
            "validity depends on the subject"
        );
    }
});
