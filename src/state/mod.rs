//! Finding lifecycle: first seen, kept, resolved; exceptions with expiry; persistence.
//!
//! Owns the rules that make findings trustworthy over time:
//! - only a successful scan of a target resolves its findings (a deleted repository is simply
//!   absent from a successful scan, so its findings resolve too);
//! - a failed scan keeps the previous findings and first-seen times;
//! - a target that discovery stops listing keeps its findings, marked stale, for
//!   [`lifecycle::DEFAULT_FORGET_AFTER_CYCLES`] cycles, and is then forgotten: its findings leave
//!   the state without being counted as resolved (nobody fixed them; we stopped looking);
//!   a target without findings is dropped as soon as it is no longer listed; cycles without
//!   a single successful scan (a failed discovery) age nothing;
//! - first-seen times are persisted after every cycle, before counters move, so a restart never
//!   counts an opening twice.
//!
//! Persistence has two backends ([`StateBackend`]): one local file ([`store`]), or one S3
//! object per account ([`s3`], merged by the rule of [`per_account`]) so that state follows an
//! account from shard to shard. The S3 backend's calls go through [`crate::aws`]; nothing else
//! here does I/O or talks to AWS, and time comes only through [`clock::Clock`].

pub mod clock;
pub mod exceptions;
pub mod lifecycle;
pub mod per_account;
pub mod s3;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;

pub use clock::{Clock, ManualClock, SystemClock};
pub use exceptions::{ExceptionRule, Exceptions, Suppression};
pub use lifecycle::{CycleChanges, RescanPart, RescanRefused, Rescanned, ScanResult, Tracker};
pub use s3::{S3Location, S3Store};
pub use store::{Loaded, StateFile};

/// Where the state lives (`state.backend`).
#[derive(Debug, Clone)]
pub enum StateBackend {
    /// One file for the whole process (`state.path`), read at start, rewritten every cycle.
    File(PathBuf),
    /// One object per account, read when the account is first scanned, written when it changes.
    S3(Arc<S3Store>),
}

impl std::fmt::Display for StateBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateBackend::File(path) => write!(f, "{}", path.display()),
            StateBackend::S3(store) => write!(f, "{}", store.location()),
        }
    }
}
