//! Sharding against moto: replicas started with different shards of the same organization
//! report disjoint sets of accounts whose union is exactly what one replica reports, each
//! account in the shard `jump_consistent_hash(fnv1a64(id), M)` names, with the same verdicts
//! (the trust zone is the whole organization in every shard).

mod support;

use std::collections::{BTreeMap, BTreeSet};

use ecr_exposure_exporter::discovery::ShardSpec;
use serde_json::Value;
use support::{Moto, ScanOutput};

const ORG_CONFIG: &str =
    "accounts:\n  discovery: organizations\ntrust:\n  organization_accounts: true\n";

/// Records without the fields that differ from run to run.
fn stable(out: &ScanOutput) -> BTreeSet<String> {
    out.records
        .iter()
        .filter(|r| r["kind"] != "target")
        .map(|r| {
            let mut r = r.clone();
            if let Value::Object(map) = &mut r {
                map.retain(|k, _| !k.contains("duration") && !k.contains("timestamp"));
            }
            r.to_string()
        })
        .collect()
}

fn accounts_of(out: &ScanOutput) -> BTreeSet<String> {
    out.kind("target")
        .iter()
        .map(|t| t["account_id"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn scan(moto: &Moto, config: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> ScanOutput {
    moto.scan_json_with(config, args, env)
}

#[test]
fn shards_partition_the_organization() {
    let moto = Moto::start();
    moto.seed("test", &[]);
    let dir = tempfile::tempdir().unwrap();
    let config = moto.write_config(dir.path(), ORG_CONFIG);

    let whole = scan(&moto, &config, &[], &[]);
    assert_eq!(whole.code, 1, "stderr:\n{}", whole.stderr);
    let all_accounts = accounts_of(&whole);
    assert_eq!(all_accounts.len(), 4, "four active accounts");
    let all_records = stable(&whole);

    for total in [2u32, 3] {
        let mut union = BTreeSet::new();
        let mut seen: BTreeMap<String, u32> = BTreeMap::new();
        for shard in 0..total {
            // Shard 1 of each run takes its number from the pod name, as a StatefulSet does.
            let (flags, env): (Vec<String>, Vec<(&str, String)>) = if shard == 1 {
                (
                    vec![
                        format!("--total-shards={total}"),
                        "--shard-from-pod-name".into(),
                    ],
                    vec![("POD_NAME", format!("ecr-exposure-exporter-{shard}"))],
                )
            } else {
                (
                    vec![
                        format!("--total-shards={total}"),
                        format!("--shard={shard}"),
                    ],
                    vec![],
                )
            };
            let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let out = scan(&moto, &config, &flags, &env);
            assert!(
                out.code == 0 || out.code == 1,
                "shard {shard}/{total}: exit {} stderr:\n{}",
                out.code,
                out.stderr
            );
            for account in accounts_of(&out) {
                assert_eq!(
                    ShardSpec::shard_of(&account, total),
                    shard,
                    "{account} reported by shard {shard}/{total}"
                );
                assert!(
                    seen.insert(account.clone(), shard).is_none(),
                    "{account} in two shards of {total}"
                );
            }
            let records = stable(&out);
            assert!(union.is_disjoint(&records), "shards of {total} overlap");
            union.extend(records);
        }
        assert_eq!(
            seen.keys().cloned().collect::<BTreeSet<_>>(),
            all_accounts,
            "every account in some shard of {total}"
        );
        assert_eq!(union, all_records, "union of {total} shards = one replica");
    }
}

#[test]
fn the_configuration_file_can_name_the_shard() {
    let moto = Moto::start();
    moto.seed("test", &[]);
    let dir = tempfile::tempdir().unwrap();
    let config = moto.write_config(
        dir.path(),
        &format!("{ORG_CONFIG}sharding:\n  total_shards: 2\n  shard: 1\n"),
    );
    let out = scan(&moto, &config, &[], &[]);
    assert!(out.code == 0 || out.code == 1, "stderr:\n{}", out.stderr);
    let accounts = accounts_of(&out);
    assert!(
        !accounts.is_empty(),
        "shard 1 of 2 owns some of the four accounts"
    );
    assert!(accounts.iter().all(|a| ShardSpec::shard_of(a, 2) == 1));
    // A flag wins over the file.
    let other = scan(&moto, &config, &["--shard=0"], &[]);
    let other_accounts = accounts_of(&other);
    assert!(
        other_accounts
            .iter()
            .all(|a| ShardSpec::shard_of(a, 2) == 0)
    );
    assert!(accounts.is_disjoint(&other_accounts));
}

#[test]
fn bad_shard_settings_stop_at_start() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let config = moto.write_config(dir.path(), ORG_CONFIG);
    for (args, env, want) in [
        (&["--total-shards=3"][..], None, "set sharding.shard"),
        (&["--total-shards=2", "--shard=2"][..], None, "out of range"),
        (
            &["--total-shards=2", "--shard-from-pod-name"][..],
            None,
            "POD_NAME is not set",
        ),
        (
            &["--total-shards=2", "--shard-from-pod-name"][..],
            Some("exporter"),
            "does not end in -<ordinal>",
        ),
    ] {
        let env: Vec<(&str, &str)> = env.map(|p| ("POD_NAME", p)).into_iter().collect();
        let mut cmd = moto.exporter();
        cmd.env_remove("POD_NAME");
        let out = cmd
            .args(["scan", "--once", "--config"])
            .arg(&config)
            .args(args)
            .envs(env)
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}

/// With `state.backend: s3`, growing from 2 to 3 replicas keeps every finding's first-seen
/// time: the replica that takes an account over reads the account's object and continues its
/// ages (and counts none of its findings as opened again).
#[test]
fn a_reshard_from_two_to_three_replicas_keeps_every_first_seen_time() {
    use support::s3::{Bucket, Daemon, FirstSeen, sample, write_config};

    let moto = Moto::start();
    // Moto draws account ids at random; a fixed seed gives ids of which one moves from shard
    // 0 of 2 to shard 2 of 3 (jump hash moves about a third of the accounts).
    moto.control("/moto-api/seed?a=1", &serde_json::json!({}));
    let manifest = moto.seed("test", &[]);
    let accounts: Vec<String> = manifest["active_accounts"]
        .as_array()
        .expect("active_accounts")
        .iter()
        .map(|a| a.as_str().expect("id").to_string())
        .collect();
    let moved: Vec<&String> = accounts
        .iter()
        .filter(|a| ShardSpec::shard_of(a, 2) != ShardSpec::shard_of(a, 3))
        .collect();
    assert!(
        !moved.is_empty(),
        "some account changes replica from 2 to 3 shards: {accounts:?}"
    );
    let bucket = Bucket {
        moto: &moto,
        name: "exporter-state".into(),
    };
    bucket.create();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&moto, dir.path(), &bucket.name, "1h");

    let generation = |total: u32| -> (Vec<Daemon>, FirstSeen) {
        let daemons: Vec<Daemon> = (0..total)
            .map(|shard| {
                let log = dir.path().join(format!("log-{shard}-of-{total}"));
                let args = [
                    format!("--total-shards={total}"),
                    format!("--shard={shard}"),
                ];
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                Daemon::start(&moto, &config, &log, &args)
            })
            .collect();
        let mut union = FirstSeen::new();
        for d in &daemons {
            d.wait_ready();
            for (key, times) in d.first_seen() {
                assert!(
                    union.insert(key.clone(), times).is_none(),
                    "{key:?} in two shards"
                );
            }
        }
        (daemons, union)
    };

    let (two, before) = generation(2);
    assert!(
        before.keys().any(|k| moved.contains(&&k.0)),
        "a moving account has findings"
    );
    for d in two {
        d.terminate();
    }
    // First-seen times are whole seconds: a restarted age would show.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (three, after) = generation(3);
    assert_eq!(after, before, "first-seen times after the reshard");
    for d in &three {
        let m = d.metrics();
        assert_eq!(
            sample(&m, "ecr_exposure_findings_opened_total", &[]),
            0.0,
            "openings counted again:\n{m}"
        );
    }
}
