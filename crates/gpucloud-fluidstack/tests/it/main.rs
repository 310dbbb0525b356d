//! Integration tests of the Fluidstack provider.

mod live;
