//! Integration tests of the conformance suite: deliberately broken in-memory providers, the
//! Lambda fake, the local provider, and live providers when their credentials are set.

mod broken;
mod lambda;
mod local;
mod memory;
