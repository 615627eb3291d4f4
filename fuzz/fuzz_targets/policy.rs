//! Fuzz target: arbitrary bytes through the policy parser and evaluator, for a repository and
//! for a registry subject. Any panic, abort or timeout is a bug (issue 2: no input may panic
//! or take more than 10 ms).
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use ecr_exposure_exporter::analysis::policy::{RegistryScope, Subject, Trust, analyze};
use libfuzzer_sys::fuzz_target;

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
    let repo = Subject::Repository {
        arn: "arn:aws:ecr:us-east-1:111111111111:repository/app",
        tags: Some(&tags),
    };
    let offline = Subject::Repository {
        arn: "arn:aws:ecr:us-east-1:111111111111:repository/app",
        tags: None,
    };
    let registry = Subject::Registry {
        account_id: "111111111111",
        region: "us-east-1",
        scope: RegistryScope::V2,
    };
    let r1 = analyze(text, &repo, &trust);
    let r2 = analyze(text, &offline, &trust);
    let r3 = analyze(text, &registry, &trust);
    // Invariants that hold for every verdict (spec section 1).
    for v in [&r1, &r2, &r3].into_iter().flatten() {
        assert!(!v.public || v.cross_account, "public without cross-account");
        assert_eq!(
            v.access == ecr_exposure_exporter::analysis::policy::Access::None,
            !v.public && !v.cross_account,
            "access none iff both flags false"
        );
    }
    // Parse errors do not depend on the subject.
    assert_eq!(r1.is_err(), r3.is_err(), "validity depends on the subject");
});
