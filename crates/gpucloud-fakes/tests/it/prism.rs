//! The shared Prism launcher, for the fakes' contract tests.

pub use gpucloud_fakes::prism::{Prism, find_up, start};
