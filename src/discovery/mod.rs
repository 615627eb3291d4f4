//! discovery (being built).
