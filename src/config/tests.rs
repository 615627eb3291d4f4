//! Validation rules, one test per rule family.

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
    let c = Config::from_yaml_str("regions: [eu-west-1, us-east-1]\nexclude_regions: [ap-east-1]")
        .unwrap();
    assert_eq!(
        c.regions,
        RegionSelection::List(vec![
            "eu-west-1".parse().unwrap(),
            "us-east-1".parse().unwrap()
        ])
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
fn default_jitter_follows_a_short_interval() {
    // Before: the fixed 30s default made every interval up to 30s invalid on its own.
    let c = Config::from_yaml_str("scan:\n  interval: 5s\n").unwrap();
    assert_eq!(c.scan.jitter, Duration::from_millis(500));
    let c = Config::from_yaml_str("scan:\n  interval: 2m\n").unwrap();
    assert_eq!(c.scan.jitter, Duration::from_secs(12));
    // capped at 30s for long intervals, so the default schedule is unchanged
    assert_eq!(Config::default().scan.jitter, Duration::from_secs(30));
    let c = Config::from_yaml_str("scan:\n  interval: 1h\n").unwrap();
    assert_eq!(c.scan.jitter, Duration::from_secs(30));
    // an explicit jitter is kept, and one as long as the interval is still an error
    let c = Config::from_yaml_str("scan:\n  interval: 5s\n  jitter: 1s\n").unwrap();
    assert_eq!(c.scan.jitter, Duration::from_secs(1));
    assert_eq!(
        problems("scan:\n  interval: 5s\n  jitter: 30s\n"),
        vec!["scan.jitter: 30s must be shorter than scan.interval (5s)"]
    );
}

#[test]
fn invalid_ids_are_reported_with_the_other_problems_of_their_entry() {
    let p = problems(
        "exceptions:\n  - account_id: \"1\"\n    region: EU\n    repository: x\n    finding: missing_tag\n",
    );
    assert_eq!(
        p,
        vec![
            "exceptions[0].account_id: \"1\" is not a 12-digit account id",
            "exceptions[0].region: \"EU\" is not a region name",
            "exceptions[0].reason: is required: say why the risk is accepted",
            "exceptions[0].expires: is required (RFC 3339, e.g. 2026-12-31T00:00:00Z)",
        ]
    );
    assert_eq!(
        problems("trust:\n  organizations: [o-short]\n"),
        vec![
            "trust.organizations[0]: \"o-short\" is not an organization id (o- and 10 to 32 lower-case letters or digits)"
        ]
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
    assert!(p[0].starts_with("exceptions[0].finding: \"exposed\" is not one of public_exposure"));
}

#[test]
fn example_yaml_documents_the_defaults() {
    let example = Config::from_yaml_str(include_str!("../../config/example.yaml")).unwrap();
    assert_eq!(example, Config::default());
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
            AccountSelector::Account("111122223333".parse().unwrap())
        ]
    );
    assert_eq!(
        problems("accounts:\n  include: [ou-ab12-cdef5678]\n"),
        vec!["accounts.include: OU ids need discovery \"organizations\""]
    );
}

#[test]
fn describe_says_what_would_be_scanned() {
    let c = Config::from_yaml_str(include_str!(
        "../../tests/fixtures/config/good/organizations.yaml"
    ))
    .unwrap();
    let want = "\
configuration: built-in defaults and environment
discovery: organizations
  accounts: every ACTIVE account of the organization, via role OrganizationAccountAccessRole
  include: ou-ab12-cdef5678, 111122223333
  exclude: 999999999999
  external id: none
regions: all enabled regions of each account
  excluded: (none)
trust: accounts 222233334444; organizations o-abcdefghij; organization members trusted: false
tags: required owner, team; IaC keys managed-by
schedule: every 1h (jitter 5m), cycle timeout 30m, 4 targets at once
aws: endpoint default, 5 attempts, 32 calls in flight (8 per target), timeouts connect 5s read 30s operation 2m
state: data/state.json
sharding: off (one replica)
exceptions: 1
  public_exposure 111122223333/eu-west-1/legacy-* until 2030-01-01T00:00:00Z: vendor mirror, public on purpose
";
    assert_eq!(describe(&c), want);
}

#[test]
fn tags_source_defaults_to_the_tagging_api() {
    let c = Config::from_yaml_str("{}").unwrap();
    assert_eq!(c.tags.source, TagSource::TaggingApi);
    let c = Config::from_yaml_str("tags:\n  source: list_tags_for_resource\n").unwrap();
    assert_eq!(c.tags.source, TagSource::ListTagsForResource);
    let p = problems("tags:\n  source: ecr\n");
    assert!(
        p[0].starts_with("tags.source: \"ecr\" is not one of"),
        "{p:?}"
    );
}

#[test]
fn state_backend_defaults_to_the_file_and_s3_needs_a_bucket() {
    let c = Config::from_yaml_str("{}").unwrap();
    assert_eq!(c.state.backend, StateBackendConfig::File);
    let c = Config::from_yaml_str("state:\n  backend: s3\n  s3:\n    bucket: my-state\n").unwrap();
    assert_eq!(
        c.state.backend,
        StateBackendConfig::S3(S3StateConfig {
            bucket: "my-state".into(),
            prefix: "ecr-exposure-exporter/".into(),
            region: None,
        })
    );
    let c = Config::from_yaml_str(
        "state:\n  backend: s3\n  s3:\n    bucket: my-state\n    prefix: /a/b\n    region: eu-west-1\n",
    )
    .unwrap();
    let StateBackendConfig::S3(s3) = &c.state.backend else {
        panic!("s3 backend expected")
    };
    assert_eq!(
        s3.prefix, "a/b/",
        "leading slash dropped, trailing one added"
    );
    assert_eq!(s3.region.as_ref().map(|r| r.as_str()), Some("eu-west-1"));
    assert!(
        describe(&c)
            .contains("state: s3://my-state/a/b/ (one object per account; region eu-west-1)"),
        "{}",
        describe(&c)
    );
    assert_eq!(
        problems("state:\n  backend: s3\n"),
        vec!["state.s3.bucket: is required with state.backend: s3"]
    );
    assert_eq!(
        problems("state:\n  backend: S3\n"),
        vec!["state.backend: \"S3\" is not one of file, s3"]
    );
    let p = problems("state:\n  backend: s3\n  s3:\n    bucket: ab\n");
    assert!(p[0].contains("is not an S3 bucket name"), "{p:?}");
}

#[test]
fn events_are_off_by_default_and_take_the_queue_region_from_its_url() {
    let c = Config::from_yaml_str("{}").unwrap();
    assert_eq!(c.events, None);
    // An empty URL (an unset environment variable in a template) is off too.
    let c = Config::from_yaml_str("events:\n  sqs_queue_url: \"\"\n").unwrap();
    assert_eq!(c.events, None);
    let c = Config::from_yaml_str(
        "events:\n  sqs_queue_url: https://sqs.eu-west-1.amazonaws.com/111122223333/q\n",
    )
    .unwrap();
    let e = c.events.unwrap();
    assert_eq!(
        e.queue_region.as_ref().map(|r| r.as_str()),
        Some("eu-west-1")
    );
    assert_eq!((e.max_batch, e.max_receives), (10, 5));
    assert_eq!(e.wait_time, std::time::Duration::from_secs(20));
    assert_eq!(e.visibility_timeout, None);
    // An emulator or a VPC endpoint names no region: aws.region applies.
    let c = Config::from_yaml_str(
        "events:\n  sqs_queue_url: http://127.0.0.1:5000/123456789012/q\n  max_batch: 1\n  wait_time: 0s\n",
    )
    .unwrap();
    let e = c.events.unwrap();
    assert_eq!((e.queue_region, e.max_batch), (None, 1));
    assert!(e.wait_time.is_zero());
    let p = problems(
        "events:\n  sqs_queue_url: https://sqs.eu-west-1.amazonaws.com/\n  max_batch: 0\n",
    );
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].starts_with("events.max_batch: 0 is out of range"),
        "{p:?}"
    );
    assert!(p[1].starts_with("events.sqs_queue_url: "), "{p:?}");
}

#[test]
fn the_queue_region_is_read_from_every_aws_queue_url_form() {
    for (url, want) in [
        (
            "https://sqs.eu-west-1.amazonaws.com/111122223333/q",
            Some("eu-west-1"),
        ),
        (
            "https://sqs-fips.us-east-1.amazonaws.com/111122223333/q",
            Some("us-east-1"),
        ),
        (
            "https://sqs.cn-north-1.amazonaws.com.cn/111122223333/q",
            Some("cn-north-1"),
        ),
        (
            "https://ap-south-1.queue.amazonaws.com/111122223333/q",
            Some("ap-south-1"),
        ),
        (
            "https://vpce-0abc-1234.sqs.eu-central-1.vpce.amazonaws.com/111122223333/q",
            Some("eu-central-1"),
        ),
        ("http://127.0.0.1:4566/000000000000/q", None),
        ("https://sqs.example.internal/111122223333/q", None),
    ] {
        let c = Config::from_yaml_str(&format!("events:\n  sqs_queue_url: {url}\n")).unwrap();
        let got = c.events.unwrap().queue_region;
        assert_eq!(got.as_ref().map(|r| r.as_str()), want, "{url}");
    }
}
