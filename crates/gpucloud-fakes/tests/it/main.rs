//! Integration tests of the fakes: real HTTP (and gRPC, for Nebius) against a server on
//! 127.0.0.1.

mod fluidstack;
mod lambda;
mod launchpad;
mod nebius;
mod prism;
mod shadeform;
mod verda;
