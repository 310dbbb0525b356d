//! Integration tests of the `gpucloud` binary: against an in-process Lambda fake, the local
//! provider (as root), bad input, and secret hygiene.

mod aws_quota;
mod bad_input;
mod common;
mod fake_fluidstack;
mod fake_lambda;
mod fake_nebius;
mod fake_shadeform;
mod fake_verda;
mod faults;
mod launch;
mod launch_safety;
mod local;
mod partial;
mod secrets;
mod serve;
mod signals;
mod usability;
