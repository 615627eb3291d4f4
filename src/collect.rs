//! collect (being built).
