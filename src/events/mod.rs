//! Event-driven rescans: ECR API calls delivered by EventBridge (through an SQS queue) name
//! the repository or registry that changed, so it is read again within seconds instead of at
//! the next full scan.
//!
//! Owns the reading of queue messages into rescan requests ([`envelope`], pure), the queue loop
//! ([`consumer`]: receive, filter, rescan, hand over, delete) and the rescan reads
//! ([`rescan`]: collection and analysis of one repository, the registry or a whole target).
//! Applying a rescan is the daemon's (its scheduler owns the tracker); this module never
//! touches findings. Events only say where to look: nothing in a message is trusted for a
//! verdict.

pub mod consumer;
pub mod envelope;
pub mod rescan;

pub use envelope::{ChangeEvent, EventName, Ignored, Rescan, parse_message};
