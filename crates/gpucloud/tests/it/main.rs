//! The facade's integration tests: offers and launch with failover against the fakes.

mod launch;
mod offers;
mod quota;
mod support;
