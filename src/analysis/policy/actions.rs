//! The ECR action table (spec §3) and action-pattern matching.
//!
//! Each repository-scoped action is one bit of a `u64`, so a statement's action set is
//! computed once per policy and combined with Allow/Deny by bit operations. Concrete `ecr:`
//! names missing from the table get bits of their own (per policy, from bit
//! [`UNKNOWN_FIRST`]) and count as write, the conservative reading.

use std::borrow::Cow;

use super::Access;
use super::glob;

/// Repository-scoped actions (`ecr:` form) and their level, in the order of their bits.
pub const REPOSITORY_ACTIONS: [(&str, Access); 35] = [
    ("ecr:BatchCheckLayerAvailability", Access::Read),
    ("ecr:BatchGetImage", Access::Read),
    ("ecr:BatchGetRepositoryScanningConfiguration", Access::Read),
    ("ecr:DescribeImageReplicationStatus", Access::Read),
    ("ecr:DescribeImageScanFindings", Access::Read),
    ("ecr:DescribeImageSigningStatus", Access::Read),
    ("ecr:DescribeImages", Access::Read),
    ("ecr:DescribeRepositories", Access::Read),
    ("ecr:GetDownloadUrlForLayer", Access::Read),
    ("ecr:GetImageCopyStatus", Access::Read),
    ("ecr:GetLifecyclePolicy", Access::Read),
    ("ecr:GetLifecyclePolicyPreview", Access::Read),
    ("ecr:GetRepositoryPolicy", Access::Read),
    ("ecr:ListImages", Access::Read),
    ("ecr:ListTagsForResource", Access::Read),
    ("ecr:BatchDeleteImage", Access::Write),
    ("ecr:BatchImportUpstreamImage", Access::Write),
    ("ecr:CompleteLayerUpload", Access::Write),
    ("ecr:CreateRepository", Access::Write),
    ("ecr:DeleteLifecyclePolicy", Access::Write),
    ("ecr:InitiateLayerUpload", Access::Write),
    ("ecr:PutImage", Access::Write),
    ("ecr:PutImageScanningConfiguration", Access::Write),
    ("ecr:PutImageTagMutability", Access::Write),
    ("ecr:PutLifecyclePolicy", Access::Write),
    ("ecr:ReplicateImage", Access::Write),
    ("ecr:StartImageScan", Access::Write),
    ("ecr:StartLifecyclePolicyPreview", Access::Write),
    ("ecr:TagResource", Access::Write),
    ("ecr:UntagResource", Access::Write),
    ("ecr:UpdateImageStorageClass", Access::Write),
    ("ecr:UploadLayerPart", Access::Write),
    ("ecr:SetRepositoryPolicy", Access::Admin),
    ("ecr:DeleteRepositoryPolicy", Access::Admin),
    ("ecr:DeleteRepository", Access::Admin),
];

/// Registry-level actions: a resource policy cannot grant them, so they never count.
pub const REGISTRY_ACTIONS: [&str; 25] = [
    "CreatePullThroughCacheRule",
    "CreateRepositoryCreationTemplate",
    "DeletePullThroughCacheRule",
    "DeleteRegistryPolicy",
    "DeleteRepositoryCreationTemplate",
    "DeleteSigningConfiguration",
    "DeregisterPullTimeUpdateExclusion",
    "DescribePullThroughCacheRules",
    "DescribeRegistry",
    "DescribeRepositoryCreationTemplates",
    "GetAccountSetting",
    "GetAuthorizationToken",
    "GetRegistryPolicy",
    "GetRegistryScanningConfiguration",
    "GetSigningConfiguration",
    "ListPullTimeUpdateExclusions",
    "PutAccountSetting",
    "PutRegistryPolicy",
    "PutRegistryScanningConfiguration",
    "PutReplicationConfiguration",
    "PutSigningConfiguration",
    "RegisterPullTimeUpdateExclusion",
    "UpdatePullThroughCacheRule",
    "UpdateRepositoryCreationTemplate",
    "ValidatePullThroughCacheRule",
];

/// First bit used for concrete `ecr:` names missing from the table.
pub const UNKNOWN_FIRST: u32 = REPOSITORY_ACTIONS.len() as u32;
/// Bits of the known repository actions.
pub const KNOWN_MASK: u64 = (1u64 << UNKNOWN_FIRST) - 1;
/// Actions a V1 registry policy governs (spec §10).
pub const V1_NAMES: [&str; 3] = [
    "ReplicateImage",
    "BatchImportUpstreamImage",
    "CreateRepository",
];

/// Slots of the action-name hash table (a power of two, about four times the 60 names).
const SLOTS: usize = 256;

/// Up to 8 bytes of `b` from `at`, little-endian, each with bit 0x20 set: ASCII letters hash
/// the same in either case (other bytes may collide, which only costs a probe; equality is
/// checked exactly).
const fn word_ci(b: &[u8], at: usize) -> u64 {
    let mut w = 0u64;
    let mut i = 0;
    while i < 8 && at + i < b.len() {
        w |= ((b[at + i] | 0x20) as u64) << (8 * i);
        i += 1;
    }
    w
}

/// ASCII-case-insensitive hash of an action name from its length and its first and last
/// eight bytes (every table name is told apart by them), usable in `const` context: a
/// byte-at-a-time hash made the lookup most of the cost of resolving an action literal.
const fn hash_ci(b: &[u8]) -> usize {
    let last = if b.len() > 8 { b.len() - 8 } else { 0 };
    let h = (word_ci(b, 0) ^ word_ci(b, last).rotate_left(29) ^ b.len() as u64)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> 56) as usize & (SLOTS - 1)
}

/// Open-addressing table over every SAR action name, built at compile time: 0 is empty,
/// `1..=35` is a repository action (bit + 1), above that a registry-level action. Every
/// action literal of every policy is looked up, so this replaced a linear scan of the table
/// that cost several hundred instructions per literal.
const NAME_SLOTS: [u8; SLOTS] = {
    let mut t = [0u8; SLOTS];
    let mut k = 0;
    while k < REPOSITORY_ACTIONS.len() + REGISTRY_ACTIONS.len() {
        let name: &[u8] = if k < REPOSITORY_ACTIONS.len() {
            let full = REPOSITORY_ACTIONS[k].0.as_bytes();
            full.split_at(4).1
        } else {
            REGISTRY_ACTIONS[k - REPOSITORY_ACTIONS.len()].as_bytes()
        };
        let mut slot = hash_ci(name);
        while t[slot] != 0 {
            slot = (slot + 1) & (SLOTS - 1);
        }
        t[slot] = (k + 1) as u8;
        k += 1;
    }
    t
};

/// What a concrete action name (without `ecr:`) is in the SAR table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    Repository(u32),
    Registry,
    Unknown,
}

/// [`hash_ci`] with whole-word loads, for lookups at run time.
fn hash_ci_fast(b: &[u8]) -> usize {
    const CASE: u64 = 0x2020_2020_2020_2020;
    match (b.first_chunk::<8>(), b.last_chunk::<8>()) {
        (Some(first), Some(last)) => {
            let h = ((u64::from_le_bytes(*first) | CASE)
                ^ (u64::from_le_bytes(*last) | CASE).rotate_left(29)
                ^ b.len() as u64)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15);
            (h >> 56) as usize & (SLOTS - 1)
        }
        _ => hash_ci(b),
    }
}

fn lookup(name: &str) -> Known {
    let nb = name.as_bytes();
    let mut slot = hash_ci_fast(nb);
    loop {
        let e = NAME_SLOTS[slot] as usize;
        if e == 0 {
            return Known::Unknown;
        }
        let k = e - 1;
        let cand: &[u8] = if k < REPOSITORY_ACTIONS.len() {
            &REPOSITORY_ACTIONS[k].0.as_bytes()[4..]
        } else {
            REGISTRY_ACTIONS[k - REPOSITORY_ACTIONS.len()].as_bytes()
        };
        // Names are nearly always written in the table's case: compare exactly first.
        if cand == nb || cand.eq_ignore_ascii_case(nb) {
            return if k < REPOSITORY_ACTIONS.len() {
                Known::Repository(k as u32)
            } else {
                Known::Registry
            };
        }
        slot = (slot + 1) & (SLOTS - 1);
    }
}

/// Bit of a table action by exact (case-insensitive) name, without the `ecr:` prefix.
pub fn bit_of(name: &str) -> Option<u32> {
    match lookup(name) {
        Known::Repository(b) => Some(b),
        _ => None,
    }
}

/// Unknown concrete action names of one policy, each with its own bit (the last bit is
/// shared once the 29 spare bits run out).
#[derive(Debug, Default, Clone)]
pub struct ActionNames {
    pub unknown: Vec<String>,
}

impl ActionNames {
    /// All bits in use: known actions plus this policy's unknown names.
    pub fn universe(&self) -> u64 {
        let n = (UNKNOWN_FIRST as usize + self.unknown.len()).min(64);
        if n == 64 { u64::MAX } else { (1u64 << n) - 1 }
    }

    /// Registers a concrete pattern if it names an `ecr:` action missing from the table.
    pub fn note_pattern(&mut self, pat: &str) {
        if pat.bytes().any(|b| b == b'*' || b == b'?') {
            return;
        }
        let Some(name) = strip_ecr(pat) else { return };
        if name.is_empty() || lookup(name) != Known::Unknown {
            return;
        }
        if self.unknown.iter().any(|u| u.eq_ignore_ascii_case(name)) {
            return;
        }
        if self.unknown.len() < (64 - UNKNOWN_FIRST as usize) {
            self.unknown.push(name.to_string());
        }
    }

    /// Mask of a concrete (wildcard-free) action literal, registering it first if it names an
    /// `ecr:` action missing from the table: [`note_pattern`](Self::note_pattern) and
    /// [`mask_of`](Self::mask_of) in one table lookup, for the evaluator's single pass over
    /// a policy's actions. `None` for a pattern, whose mask needs every unknown name first.
    pub fn concrete(&mut self, pat: &str) -> Option<u64> {
        if glob::has_wildcard(pat.as_bytes()) {
            return None;
        }
        let Some(name) = strip_ecr(pat) else {
            return Some(0);
        };
        if name.is_empty() {
            return Some(0);
        }
        match lookup(name) {
            Known::Repository(b) => return Some(1 << b),
            Known::Registry => return Some(0),
            Known::Unknown => {}
        }
        let i = match self
            .unknown
            .iter()
            .position(|u| u.eq_ignore_ascii_case(name))
        {
            Some(i) => i,
            None if self.unknown.len() < (64 - UNKNOWN_FIRST as usize) => {
                self.unknown.push(name.to_string());
                self.unknown.len() - 1
            }
            None => return Some(0),
        };
        Some(1 << (UNKNOWN_FIRST as usize + i).min(63))
    }

    /// Name (`ecr:Name`) of a bit.
    pub fn name(&self, bit: u32) -> Cow<'static, str> {
        if bit < UNKNOWN_FIRST {
            Cow::Borrowed(REPOSITORY_ACTIONS[bit as usize].0)
        } else {
            match self.unknown.get((bit - UNKNOWN_FIRST) as usize) {
                Some(n) => Cow::Owned(format!("ecr:{n}")),
                None => Cow::Borrowed("ecr:(unknown)"),
            }
        }
    }

    /// Bits matched by one action pattern (case-insensitive, `*` and `?`).
    pub fn mask_of(&self, pat: &str) -> u64 {
        if pat == "*" || pat.eq_ignore_ascii_case("ecr:*") {
            return self.universe();
        }
        if !pat.bytes().any(|b| b == b'*' || b == b'?') {
            let Some(name) = strip_ecr(pat) else { return 0 };
            if let Some(b) = bit_of(name) {
                return 1 << b;
            }
            return match self
                .unknown
                .iter()
                .position(|u| u.eq_ignore_ascii_case(name))
            {
                Some(i) => 1 << (UNKNOWN_FIRST as usize + i).min(63),
                None => 0,
            };
        }
        // A wildcard pattern must be able to start with "ecr:".
        let pb = pat.as_bytes();
        let lit_prefix = pb.iter().take_while(|c| **c != b'*' && **c != b'?').count();
        let p4 = lit_prefix.min(4);
        if !pb[..p4].eq_ignore_ascii_case(&b"ecr:"[..p4]) {
            return 0;
        }
        let mut m = 0u64;
        let mut buf = String::with_capacity(48);
        for (i, (n, _)) in REPOSITORY_ACTIONS.iter().enumerate() {
            if glob::matches_ci(pb, n.as_bytes()) {
                m |= 1 << i;
            }
        }
        for (i, n) in self.unknown.iter().enumerate() {
            buf.clear();
            buf.push_str("ecr:");
            buf.push_str(n);
            if glob::matches_ci(pb, buf.as_bytes()) {
                m |= 1 << (UNKNOWN_FIRST as usize + i).min(63);
            }
        }
        m
    }
}

fn strip_ecr(pat: &str) -> Option<&str> {
    let b = pat.as_bytes();
    if b.len() >= 4 && b[..4].eq_ignore_ascii_case(b"ecr:") {
        Some(&pat[4..])
    } else {
        None
    }
}

/// Byte-wise `a < b`, usable in `const` context.
const fn name_less(a: &[u8], b: &[u8]) -> bool {
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
        i += 1;
    }
    a.len() < b.len()
}

/// The table's bits in the order of their names, computed at compile time: grants list
/// their actions sorted, and walking this order replaces sorting strings per grant.
const NAME_ORDER: [u8; REPOSITORY_ACTIONS.len()] = {
    let mut order = [0u8; REPOSITORY_ACTIONS.len()];
    let mut k = 0;
    while k < order.len() {
        order[k] = k as u8;
        k += 1;
    }
    let mut i = 1;
    while i < order.len() {
        let mut j = i;
        while j > 0
            && name_less(
                REPOSITORY_ACTIONS[order[j] as usize].0.as_bytes(),
                REPOSITORY_ACTIONS[order[j - 1] as usize].0.as_bytes(),
            )
        {
            let t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
            j -= 1;
        }
        i += 1;
    }
    order
};

impl ActionNames {
    /// The `ecr:Name` form of every bit of `mask`, sorted by name. Known names are borrowed
    /// from the table: every exposing grant lists its actions, and a copy of each name was
    /// a third of the allocations of a typical verdict.
    pub fn sorted_names(&self, mask: u64) -> Vec<Cow<'static, str>> {
        let mut out = Vec::with_capacity(mask.count_ones() as usize);
        if mask & !KNOWN_MASK == 0 {
            for &b in &NAME_ORDER {
                if mask & (1 << b) != 0 {
                    out.push(Cow::Borrowed(REPOSITORY_ACTIONS[b as usize].0));
                }
            }
            return out;
        }
        let mut m = mask;
        while m != 0 {
            out.push(self.name(m.trailing_zeros()));
            m &= m - 1;
        }
        out.sort();
        out
    }
}

/// Level of one bit: the table's, or write for unknown names.
pub fn level_of(bit: u32) -> Access {
    if bit < UNKNOWN_FIRST {
        REPOSITORY_ACTIONS[bit as usize].1
    } else {
        Access::Write
    }
}

/// Highest level in a mask.
pub fn max_level(mask: u64) -> Access {
    let mut lvl = Access::None;
    let mut m = mask;
    while m != 0 {
        let b = m.trailing_zeros();
        lvl = lvl.max(level_of(b));
        m &= m - 1;
    }
    lvl
}

/// Bits of the V1 registry actions.
pub fn v1_mask() -> u64 {
    V1_NAMES
        .iter()
        .filter_map(|n| bit_of(n))
        .fold(0, |m, b| m | (1 << b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Service Authorization Reference lists 60 `ecr` actions; every one is classified.
    #[test]
    fn table_lists_all_sar_actions_with_levels() {
        let read = [
            "BatchCheckLayerAvailability",
            "BatchGetImage",
            "BatchGetRepositoryScanningConfiguration",
            "DescribeImageReplicationStatus",
            "DescribeImageScanFindings",
            "DescribeImageSigningStatus",
            "DescribeImages",
            "DescribeRepositories",
            "GetDownloadUrlForLayer",
            "GetImageCopyStatus",
            "GetLifecyclePolicy",
            "GetLifecyclePolicyPreview",
            "GetRepositoryPolicy",
            "ListImages",
            "ListTagsForResource",
        ];
        let write = [
            "BatchDeleteImage",
            "BatchImportUpstreamImage",
            "CompleteLayerUpload",
            "CreateRepository",
            "DeleteLifecyclePolicy",
            "InitiateLayerUpload",
            "PutImage",
            "PutImageScanningConfiguration",
            "PutImageTagMutability",
            "PutLifecyclePolicy",
            "ReplicateImage",
            "StartImageScan",
            "StartLifecyclePolicyPreview",
            "TagResource",
            "UntagResource",
            "UpdateImageStorageClass",
            "UploadLayerPart",
        ];
        let admin = [
            "SetRepositoryPolicy",
            "DeleteRepositoryPolicy",
            "DeleteRepository",
        ];
        for (names, lvl) in [
            (&read[..], Access::Read),
            (&write[..], Access::Write),
            (&admin[..], Access::Admin),
        ] {
            for n in names {
                let b = bit_of(n).unwrap_or_else(|| panic!("{n} missing"));
                assert_eq!(level_of(b), lvl, "{n}");
            }
        }
        assert_eq!(
            read.len() + write.len() + admin.len(),
            REPOSITORY_ACTIONS.len()
        );
        assert_eq!(REPOSITORY_ACTIONS.len() + REGISTRY_ACTIONS.len(), 60);
        for n in REGISTRY_ACTIONS {
            assert!(bit_of(n).is_none(), "{n}");
            assert_eq!(lookup(n), Known::Registry, "{n}");
            assert_eq!(lookup(&n.to_ascii_uppercase()), Known::Registry, "{n}");
        }
        // The hash table answers for every name in any case, and for nothing else.
        for (i, (n, _)) in REPOSITORY_ACTIONS.iter().enumerate() {
            let n = &n[4..];
            assert_eq!(lookup(&n.to_ascii_lowercase()), Known::Repository(i as u32));
            assert_eq!(lookup(&n.to_ascii_uppercase()), Known::Repository(i as u32));
            assert_eq!(lookup(&n[1..]), Known::Unknown, "{n}");
            assert_eq!(lookup(&format!("{n}X")), Known::Unknown, "{n}");
        }
        assert_eq!(lookup(""), Known::Unknown);
    }

    #[test]
    fn pattern_levels_follow_the_spec_consequences() {
        let names = ActionNames::default();
        let lvl = |p: &str| max_level(names.mask_of(p));
        assert_eq!(lvl("ecr:Batch*"), Access::Write);
        assert_eq!(lvl("ecr:Put*"), Access::Write);
        assert_eq!(lvl("ecr:Delete*"), Access::Admin);
        assert_eq!(lvl("ecr:Set*"), Access::Admin);
        assert_eq!(lvl("ecr:*Policy"), Access::Admin);
        assert_eq!(lvl("ECR:batchgetimage"), Access::Read);
        assert_eq!(lvl("ecr:Get*"), Access::Read);
        assert_eq!(lvl("ecr:GetAuthorizationToken"), Access::None);
        assert_eq!(lvl("ecr-public:*"), Access::None);
        assert_eq!(lvl("s3:*"), Access::None);
        assert_eq!(lvl("*"), Access::Admin);
        assert_eq!(lvl("ecr:*"), Access::Admin);
        assert_eq!(lvl("ec?:Describe*"), Access::Read);
        assert_eq!(lvl("*:ListImages"), Access::Read);
        assert_eq!(names.mask_of("ecr:*").count_ones(), 35);
        assert_eq!(names.mask_of("ecr:Get?ownloadUrlForLayer").count_ones(), 1);
    }

    #[test]
    fn names_come_out_sorted_as_strings_sort() {
        let mut names = ActionNames::default();
        names.note_pattern("ecr:ZzNewAction");
        names.note_pattern("ecr:AaNewAction");
        let known = KNOWN_MASK;
        for mask in [
            0,
            1,
            known,
            known & 0x5555_5555,
            1 << 7 | 1 << 3,
            known | 1 << 35,
            1 << 36,
        ] {
            let mut expected: Vec<Cow<str>> = (0..64)
                .filter(|b| mask & (1u64 << b) != 0)
                .map(|b| names.name(b))
                .collect();
            expected.sort();
            assert_eq!(names.sorted_names(mask), expected, "mask {mask:#x}");
        }
    }

    #[test]
    fn run_time_hash_agrees_with_the_table_hash() {
        for name in [
            "",
            "a",
            "PutImage",
            "putimage",
            "GetDownloadUrlForLayer",
            "x\u{e9}y12345678",
        ] {
            assert_eq!(
                hash_ci_fast(name.as_bytes()),
                hash_ci(name.as_bytes()),
                "{name}"
            );
        }
        for (n, _) in REPOSITORY_ACTIONS {
            let name = &n[4..];
            assert_eq!(hash_ci_fast(name.as_bytes()), hash_ci(name.as_bytes()));
            let upper = name.to_ascii_uppercase();
            assert_eq!(hash_ci_fast(upper.as_bytes()), hash_ci(name.as_bytes()));
        }
    }

    #[test]
    fn every_table_name_sits_within_two_slots_of_its_hash() {
        // The hash keeps lookups short: a name displaced far from its slot would mean a
        // poor hash (every lookup of a near name walks the same run).
        let mut worst = 0;
        for (k, slot) in NAME_SLOTS.iter().enumerate() {
            if *slot == 0 {
                continue;
            }
            let i = *slot as usize - 1;
            let name: &[u8] = if i < REPOSITORY_ACTIONS.len() {
                &REPOSITORY_ACTIONS[i].0.as_bytes()[4..]
            } else {
                REGISTRY_ACTIONS[i - REPOSITORY_ACTIONS.len()].as_bytes()
            };
            worst = worst.max((k + SLOTS - hash_ci(name)) % SLOTS);
        }
        assert!(worst <= 2, "a table name sits {worst} slots past its hash");
    }

    #[test]
    fn unknown_concrete_actions_are_write_with_their_own_bit() {
        let mut names = ActionNames::default();
        names.note_pattern("ecr:BrandNewAction");
        names.note_pattern("ecr:brandnewaction");
        names.note_pattern("ecr:GetAuthorizationToken");
        names.note_pattern("ecr:New*");
        assert_eq!(names.unknown.len(), 1);
        let m = names.mask_of("ecr:BrandNewAction");
        assert_eq!(m, 1 << UNKNOWN_FIRST);
        assert_eq!(max_level(m), Access::Write);
        assert_eq!(names.mask_of("ecr:Brand*"), m);
        assert_eq!(names.mask_of("*") & m, m);
        assert_eq!(names.name(UNKNOWN_FIRST), "ecr:BrandNewAction");
    }
}
