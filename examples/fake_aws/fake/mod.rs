//! A fast, deterministic fake of the AWS APIs the exporter calls, for scale runs and
//! cross-checks (test and bench code; never shipped). See `examples/fake_aws/main.rs` for
//! the command line; tests and benches include this module with `#[path]` and run it
//! in-process through [`server::spawn`].

#![allow(dead_code)]

pub mod bound;
pub mod estate;
pub mod faults;
pub mod server;
pub mod services;
pub mod wire;
