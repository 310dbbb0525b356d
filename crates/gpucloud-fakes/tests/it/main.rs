//! Integration tests of the fakes: real HTTP against a server on 127.0.0.1.

mod fluidstack;
mod lambda;
mod prism;
mod shadeform;
