//! Policy engine benchmark (being built).
fn main() {}
