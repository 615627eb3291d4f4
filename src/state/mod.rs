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
//! No I/O besides the state file ([`store`]), no AWS, time only through [`clock::Clock`].

pub mod clock;
pub mod exceptions;
pub mod lifecycle;
pub mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use exceptions::{ExceptionRule, Exceptions, Suppression};
pub use lifecycle::{CycleChanges, RescanPart, RescanRefused, Rescanned, ScanResult, Tracker};
pub use store::{Loaded, StateFile};
