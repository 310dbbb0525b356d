//! One integration-test binary: every operation (`ops`) and every fault (`faults`) against
//! the stateful LaunchPad fake, and the contract test through Prism (`prism`).

mod common;
mod faults;
mod ops;
mod prism;
