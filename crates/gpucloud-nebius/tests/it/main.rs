//! Every operation and every fault of the Nebius provider against the fake Nebius API, with
//! what is left on the fake asserted afterwards.

mod faults;
mod fixture;
mod iam;
mod ops;
mod outcome;
mod spot;
