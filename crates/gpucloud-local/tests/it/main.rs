//! Integration tests of the local provider against the real machine: network namespaces,
//! sshd, nftables. They need root and the tools; without them they print why and pass,
//! except when `CI` is set, where they fail.

mod catalog;
mod lifecycle;
mod reconcile;
mod support;
