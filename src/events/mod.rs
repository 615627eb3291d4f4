//! Event-driven rescans: ECR API calls delivered by EventBridge (through an SQS queue) name
//! the repository or registry that changed, so it is read again within seconds instead of at
//! the next full scan.
//!
//! Owns the reading of queue messages into rescan requests ([`envelope`]); the rescan itself
//! goes through the same collection, analysis and state steps as a scan. Events only say
//! where to look: nothing in a message is trusted for a verdict.

pub mod consumer;
pub mod envelope;
pub mod rescan;

pub use envelope::{ChangeEvent, EventName, Ignored, Rescan, parse_message};
