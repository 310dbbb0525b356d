//! Integration tests of the conformance suite.
