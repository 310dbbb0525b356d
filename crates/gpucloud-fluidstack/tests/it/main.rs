//! Integration tests of the Fluidstack provider.

mod live;
mod ops;
mod stub;
