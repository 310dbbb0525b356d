//! Benchmarks (placeholder while the provider lands).
fn main() {}
