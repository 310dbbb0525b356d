//! One integration-test binary: every operation (`ops`) and every fault (`faults`) against
//! the stateful Verda fake, a create of unknown outcome settled by core's rule (`outcome`),
//! the access token kept between processes (`token_file`), and the startup script run for
//! real in a local instance (`local`).

mod common;
mod faults;
mod local;
mod ops;
mod outcome;
mod token_file;
