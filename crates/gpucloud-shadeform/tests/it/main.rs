//! One integration-test binary: every operation (`ops`) and every fault (`faults`) against
//! the stateful Shadeform fake, and the contract test through Prism (`prism`).

mod common;
mod faults;
mod local;
mod ops;
mod outcome;
mod prism;
