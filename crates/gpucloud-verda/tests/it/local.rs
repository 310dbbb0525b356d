//! The startup script run for real.
