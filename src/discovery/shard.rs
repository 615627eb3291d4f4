//! Which accounts this replica scans when an organization is split across replicas.
//!
//! An account belongs to shard `jump_consistent_hash(fnv1a64(account_id), total_shards)`.
//! Jump consistent hashing moves only about `1/M` of the accounts when the number of shards
//! grows from `M-1` to `M`, so a reshard keeps most accounts (and their findings' history) on
//! the replica that had them; FNV-1a gives a stable, dependency-free key across versions and
//! platforms. Pure: no I/O.

use std::fmt;

/// 64-bit FNV-1a of `bytes`: the shard key of an account id.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// Lamping and Veach's jump consistent hash: the bucket in `0..buckets` for `key`.
///
/// `buckets` of 0 is treated as 1 (everything in bucket 0).
pub fn jump_consistent_hash(mut key: u64, buckets: u32) -> u32 {
    let buckets = i64::from(buckets.max(1));
    let mut bucket = -1i64;
    let mut next = 0i64;
    while next < buckets {
        bucket = next;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        let spread = (1u64 << 31) as f64 / ((key >> 33) + 1) as f64;
        next = ((bucket + 1) as f64 * spread) as i64;
    }
    // `bucket` is in 0..buckets, which fits u32 because `buckets` came from one.
    bucket as u32
}

/// This replica's part of the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSpec {
    shard: u32,
    total: u32,
}

/// Why a shard setting is unusable; the message names the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("total_shards must be at least 1")]
    NoShards,
    #[error("shard {shard} is out of range: shards are numbered 0..{total} (total_shards {total})")]
    OutOfRange { shard: u32, total: u32 },
    #[error(
        "pod name {0:?} does not end in -<ordinal> (a StatefulSet pod is named <statefulset>-<n>)"
    )]
    PodName(String),
}

impl ShardSpec {
    /// One replica scanning everything: the default.
    pub const SINGLE: ShardSpec = ShardSpec { shard: 0, total: 1 };

    pub fn new(shard: u32, total: u32) -> Result<ShardSpec, ShardError> {
        if total == 0 {
            return Err(ShardError::NoShards);
        }
        if shard >= total {
            return Err(ShardError::OutOfRange { shard, total });
        }
        Ok(ShardSpec { shard, total })
    }

    /// The shard of a StatefulSet pod: `name-<ordinal>`, as the downward API's `POD_NAME`
    /// gives it, so every replica of one manifest finds its own shard.
    pub fn from_pod_name(pod_name: &str, total: u32) -> Result<ShardSpec, ShardError> {
        let ordinal = pod_name
            .rsplit_once('-')
            .map(|(_, n)| n)
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u32>().ok())
            .ok_or_else(|| ShardError::PodName(pod_name.to_string()))?;
        ShardSpec::new(ordinal, total)
    }

    pub fn shard(&self) -> u32 {
        self.shard
    }

    pub fn total(&self) -> u32 {
        self.total
    }

    /// Whether more than one replica shares the organization.
    pub fn is_sharded(&self) -> bool {
        self.total > 1
    }

    /// The shard an account belongs to when there are `total` shards.
    pub fn shard_of(account_id: &str, total: u32) -> u32 {
        jump_consistent_hash(fnv1a64(account_id.as_bytes()), total)
    }

    /// Whether this replica scans `account_id`.
    pub fn owns(&self, account_id: &str) -> bool {
        self.total <= 1 || Self::shard_of(account_id, self.total) == self.shard
    }
}

impl Default for ShardSpec {
    fn default() -> Self {
        ShardSpec::SINGLE
    }
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.shard, self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        // The offset basis for empty input, and the published vector for "a".
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"123456789012"), 0x9684_5045_08e4_7147);
    }

    #[test]
    fn shard_assignment_is_pinned() {
        // Computed by an independent Python implementation of FNV-1a and jump hashing; a
        // change here moves accounts between replicas, so it is a breaking change.
        let cases: [(&str, [u32; 5]); 4] = [
            ("111111111111", [0, 0, 0, 0, 7]),
            ("333333333333", [0, 0, 2, 2, 4]),
            ("123456789012", [0, 1, 1, 1, 7]),
            ("000000000001", [0, 1, 2, 2, 7]),
        ];
        for (account, want) in cases {
            let got: Vec<u32> = [1, 2, 3, 4, 10]
                .iter()
                .map(|&m| ShardSpec::shard_of(account, m))
                .collect();
            assert_eq!(got, want, "{account}");
        }
    }

    #[test]
    fn every_account_has_exactly_one_owner() {
        for total in 1..=5 {
            let specs: Vec<ShardSpec> = (0..total)
                .map(|s| ShardSpec::new(s, total).unwrap())
                .collect();
            for i in 0..500u32 {
                let account = format!("{i:012}");
                let owners = specs.iter().filter(|s| s.owns(&account)).count();
                assert_eq!(owners, 1, "{account} with {total} shards");
            }
        }
    }

    #[test]
    fn growing_the_shard_count_moves_few_accounts() {
        let ids: Vec<String> = (0..10_000u32).map(|i| format!("{i:012}")).collect();
        let moved = ids
            .iter()
            .filter(|a| ShardSpec::shard_of(a, 3) != ShardSpec::shard_of(a, 4))
            .count();
        // Ideal is a quarter (2,500); a modulo scheme would move three quarters.
        assert_eq!(moved, 2512);
        // Accounts that move, move only to the new shard.
        assert!(
            ids.iter()
                .filter(|a| ShardSpec::shard_of(a, 3) != ShardSpec::shard_of(a, 4))
                .all(|a| ShardSpec::shard_of(a, 4) == 3)
        );
    }

    #[test]
    fn shards_are_balanced() {
        let mut counts = [0usize; 3];
        for i in 0..10_000u32 {
            counts[ShardSpec::shard_of(&format!("{i:012}"), 3) as usize] += 1;
        }
        assert_eq!(counts, [3401, 3349, 3250]);
    }

    #[test]
    fn pod_names_give_the_ordinal() {
        assert_eq!(
            ShardSpec::from_pod_name("ecr-exposure-exporter-2", 3),
            Ok(ShardSpec::new(2, 3).unwrap())
        );
        assert_eq!(
            ShardSpec::from_pod_name("ecr-exposure-exporter-3", 3),
            Err(ShardError::OutOfRange { shard: 3, total: 3 })
        );
        for bad in ["exporter", "exporter-", "exporter-x1", "exporter-+1", ""] {
            assert_eq!(
                ShardSpec::from_pod_name(bad, 3),
                Err(ShardError::PodName(bad.to_string())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn invalid_specs_are_refused() {
        assert_eq!(ShardSpec::new(0, 0), Err(ShardError::NoShards));
        assert_eq!(
            ShardSpec::new(2, 2),
            Err(ShardError::OutOfRange { shard: 2, total: 2 })
        );
        assert!(ShardSpec::SINGLE.owns("999999999999"));
        assert!(!ShardSpec::SINGLE.is_sharded());
        assert_eq!(ShardSpec::new(1, 4).unwrap().to_string(), "1/4");
    }
}
