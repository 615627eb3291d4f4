//! iac (being built).
