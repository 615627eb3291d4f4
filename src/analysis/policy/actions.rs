//! The ECR action table (spec §3) and action-pattern matching.
//!
//! Each repository-scoped action is one bit of an [`ActionSet`], so a statement's action set
//! is computed once per policy and combined with Allow/Deny by set operations. Concrete `ecr:`
//! names missing from the table get bits of their own (per policy, from bit
//! [`UNKNOWN_FIRST`]) and count as write, the conservative reading.
//!
//! Must not know about statements or probes: it maps names and patterns to sets.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::LazyLock;

use smallvec::SmallVec;

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
pub const UNKNOWN_FIRST: usize = REPOSITORY_ACTIONS.len();
/// Actions a V1 registry policy governs (spec §10).
pub const V1_NAMES: [&str; 3] = [
    "ReplicateImage",
    "BatchImportUpstreamImage",
    "CreateRepository",
];

/// A set of action bits: the table's actions first, then one per unknown name of the policy.
///
/// The first two words live inline: the table's 35 actions and 93 unknown names need no
/// allocation, and the evaluator makes and combines many of these sets per policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionSet {
    /// Bit `b` is bit `b % 64` of word `b / 64`; missing words are empty.
    words: SmallVec<[u64; 2]>,
}

impl ActionSet {
    /// The set of one bit.
    pub fn of(bit: usize) -> Self {
        let mut s = ActionSet::default();
        s.insert(bit);
        s
    }

    /// Bits `0..n`.
    pub fn first(n: usize) -> Self {
        let mut s = ActionSet::default();
        for b in 0..n {
            s.insert(b);
        }
        s
    }

    pub fn insert(&mut self, bit: usize) {
        let w = bit / 64;
        if self.words.len() <= w {
            self.words.resize(w + 1, 0);
        }
        self.words[w] |= 1 << (bit % 64);
    }

    pub fn contains(&self, bit: usize) -> bool {
        self.words
            .get(bit / 64)
            .is_some_and(|w| w & (1 << (bit % 64)) != 0)
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn clear(&mut self) {
        self.words.clear();
    }

    /// Adds every bit of `other`.
    pub fn union_with(&mut self, other: &ActionSet) {
        if self.words.len() < other.words.len() {
            self.words.resize(other.words.len(), 0);
        }
        for (w, o) in self.words.iter_mut().zip(&other.words) {
            *w |= o;
        }
    }

    /// Keeps only the bits also in `other`.
    pub fn intersect_with(&mut self, other: &ActionSet) {
        self.words.truncate(other.words.len());
        for (w, o) in self.words.iter_mut().zip(&other.words) {
            *w &= o;
        }
    }

    /// Removes every bit of `other`.
    pub fn subtract(&mut self, other: &ActionSet) {
        for (w, o) in self.words.iter_mut().zip(&other.words) {
            *w &= !o;
        }
    }

    pub fn intersects(&self, other: &ActionSet) -> bool {
        self.words.iter().zip(&other.words).any(|(a, b)| a & b != 0)
    }

    /// The bits, in increasing order.
    pub fn bits(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(k, &w)| {
            (0..64)
                .filter(move |b| w & (1 << b) != 0)
                .map(move |b| k * 64 + b)
        })
    }

    /// `self & include & !exclude`, as a new set.
    pub fn within_except(&self, include: &ActionSet, exclude: &ActionSet) -> ActionSet {
        let mut out = self.clone();
        out.intersect_with(include);
        out.subtract(exclude);
        out
    }
}

/// What a concrete action name (without `ecr:`) is in the SAR table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    /// A repository-scoped action and its bit.
    Repository(usize),
    Registry,
    Unknown,
}

fn cmp_ignore_case(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// Every SAR action name without `ecr:`, sorted case-insensitively for binary search.
static NAMES: LazyLock<Vec<(&'static str, Known)>> = LazyLock::new(|| {
    let mut names = table_names();
    names.sort_by(|a, b| cmp_ignore_case(a.0, b.0));
    names
});

/// The same names sorted as written: policies almost always spell an action as AWS does,
/// and an exact search compares whole words at once instead of folding every byte.
static NAMES_EXACT: LazyLock<Vec<(&'static str, Known)>> = LazyLock::new(|| {
    let mut names = table_names();
    names.sort_unstable_by_key(|n| n.0);
    names
});

fn table_names() -> Vec<(&'static str, Known)> {
    let repository = REPOSITORY_ACTIONS
        .iter()
        .enumerate()
        .map(|(b, (n, _))| (&n[4..], Known::Repository(b)));
    let registry = REGISTRY_ACTIONS.iter().map(|n| (*n, Known::Registry));
    repository.chain(registry).collect()
}

fn lookup(name: &str) -> Known {
    if let Ok(i) = NAMES_EXACT.binary_search_by_key(&name, |n| n.0) {
        return NAMES_EXACT[i].1;
    }
    match NAMES.binary_search_by(|(n, _)| cmp_ignore_case(n, name)) {
        Ok(i) => NAMES[i].1,
        Err(_) => Known::Unknown,
    }
}

/// Bit of a table action by exact (case-insensitive) name, without the `ecr:` prefix.
pub fn bit_of(name: &str) -> Option<usize> {
    match lookup(name) {
        Known::Repository(b) => Some(b),
        _ => None,
    }
}

fn is_pattern(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// Unknown concrete action names of one policy, each with its own bit.
#[derive(Debug, Default, Clone)]
pub struct ActionNames {
    pub unknown: Vec<String>,
}

impl ActionNames {
    /// All bits in use: known actions plus this policy's unknown names.
    pub fn universe(&self) -> ActionSet {
        ActionSet::first(UNKNOWN_FIRST + self.unknown.len())
    }

    fn unknown_bit(&self, name: &str) -> Option<usize> {
        self.unknown
            .iter()
            .position(|u| u.eq_ignore_ascii_case(name))
            .map(|i| UNKNOWN_FIRST + i)
    }

    /// Registers a concrete pattern if it names an `ecr:` action missing from the table.
    pub fn note_pattern(&mut self, pat: &str) {
        let _ = self.concrete(pat);
    }

    /// Set of a concrete (wildcard-free) action literal, registering it first if it names an
    /// `ecr:` action missing from the table. `None` for a pattern, whose set needs every
    /// unknown name first.
    pub fn concrete(&mut self, pat: &str) -> Option<ActionSet> {
        if is_pattern(pat) {
            return None;
        }
        let name = match strip_ecr(pat) {
            Some(name) if !name.is_empty() => name,
            _ => return Some(ActionSet::default()),
        };
        match lookup(name) {
            Known::Repository(b) => return Some(ActionSet::of(b)),
            Known::Registry => return Some(ActionSet::default()),
            Known::Unknown => {}
        }
        if let Some(b) = self.unknown_bit(name) {
            return Some(ActionSet::of(b));
        }
        self.unknown.push(name.to_string());
        Some(ActionSet::of(UNKNOWN_FIRST + self.unknown.len() - 1))
    }

    /// Name (`ecr:Name`) of a bit.
    pub fn name(&self, bit: usize) -> Cow<'static, str> {
        match REPOSITORY_ACTIONS.get(bit) {
            Some((n, _)) => Cow::Borrowed(n),
            None => match self.unknown.get(bit - UNKNOWN_FIRST) {
                Some(n) => Cow::Owned(format!("ecr:{n}")),
                None => Cow::Borrowed("ecr:(unknown)"),
            },
        }
    }

    /// Bits matched by one action pattern (case-insensitive, `*` and `?`).
    pub fn mask_of(&self, pat: &str) -> ActionSet {
        if pat == "*" || pat.eq_ignore_ascii_case("ecr:*") {
            return self.universe();
        }
        if !is_pattern(pat) {
            let bit = strip_ecr(pat).and_then(|name| bit_of(name).or(self.unknown_bit(name)));
            return bit.map(ActionSet::of).unwrap_or_default();
        }
        // A wildcard pattern must be able to start with "ecr:".
        let literal = &pat[..pat.find(['*', '?']).unwrap_or(pat.len())];
        let p4 = literal.len().min(4);
        if !literal.as_bytes()[..p4].eq_ignore_ascii_case(&b"ecr:"[..p4]) {
            return ActionSet::default();
        }
        let mut m = ActionSet::default();
        for (b, (n, _)) in REPOSITORY_ACTIONS.iter().enumerate() {
            if glob::matches_ci(pat, n) {
                m.insert(b);
            }
        }
        for (i, n) in self.unknown.iter().enumerate() {
            if glob::matches_ci(pat, &format!("ecr:{n}")) {
                m.insert(UNKNOWN_FIRST + i);
            }
        }
        m
    }

    /// The `ecr:Name` form of every bit of `set`, sorted by name.
    pub fn sorted_names(&self, set: &ActionSet) -> Vec<Cow<'static, str>> {
        let mut out: Vec<_> = set.bits().map(|b| self.name(b)).collect();
        out.sort();
        out
    }
}

fn strip_ecr(pat: &str) -> Option<&str> {
    let prefix = pat.get(..4)?;
    prefix.eq_ignore_ascii_case("ecr:").then(|| &pat[4..])
}

/// Level of one bit: the table's, or write for unknown names.
pub fn level_of(bit: usize) -> Access {
    REPOSITORY_ACTIONS
        .get(bit)
        .map_or(Access::Write, |(_, level)| *level)
}

/// Highest level in a set.
pub fn max_level(set: &ActionSet) -> Access {
    set.bits().map(level_of).max().unwrap_or(Access::None)
}

/// Bits of the V1 registry actions.
pub fn v1_mask() -> ActionSet {
    let mut m = ActionSet::default();
    for b in V1_NAMES.iter().filter_map(|n| bit_of(n)) {
        m.insert(b);
    }
    m
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
        // The lookup answers for every name in any case, and for nothing else.
        for (i, (n, _)) in REPOSITORY_ACTIONS.iter().enumerate() {
            let n = &n[4..];
            assert_eq!(lookup(&n.to_ascii_lowercase()), Known::Repository(i));
            assert_eq!(lookup(&n.to_ascii_uppercase()), Known::Repository(i));
            assert_eq!(lookup(&n[1..]), Known::Unknown, "{n}");
            assert_eq!(lookup(&format!("{n}X")), Known::Unknown, "{n}");
        }
        assert_eq!(lookup(""), Known::Unknown);
    }

    #[test]
    fn pattern_levels_follow_the_spec_consequences() {
        let names = ActionNames::default();
        let lvl = |p: &str| max_level(&names.mask_of(p));
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
        assert_eq!(names.mask_of("ecr:*").len(), 35);
        assert_eq!(names.mask_of("ecr:Get?ownloadUrlForLayer").len(), 1);
    }

    #[test]
    fn names_come_out_sorted_as_strings_sort() {
        let mut names = ActionNames::default();
        names.note_pattern("ecr:ZzNewAction");
        names.note_pattern("ecr:AaNewAction");
        let all = names.universe();
        assert_eq!(all.len(), 37);
        let listed = names.sorted_names(&all);
        let mut sorted = listed.clone();
        sorted.sort();
        assert_eq!(listed, sorted);
        assert!(listed.contains(&Cow::Borrowed("ecr:AaNewAction")));
        assert_eq!(
            names.sorted_names(&ActionSet::default()),
            Vec::<Cow<str>>::new()
        );
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
        assert_eq!(m, ActionSet::of(UNKNOWN_FIRST));
        assert_eq!(max_level(&m), Access::Write);
        assert_eq!(names.mask_of("ecr:Brand*"), m);
        assert!(names.mask_of("*").contains(UNKNOWN_FIRST));
        assert_eq!(names.name(UNKNOWN_FIRST), "ecr:BrandNewAction");
    }
}
