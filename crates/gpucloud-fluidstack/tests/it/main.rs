//! Integration tests of the Fluidstack provider.

mod ops;
mod stub;
