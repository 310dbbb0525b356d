//! One integration-test binary, against moto (started per test, see `common`) and the Price
//! List / Service Quotas stub: the catalog and quotas (`catalog`), every instance operation
//! and its errors (`ops`), and creates through the fault proxy (`faults`).

mod catalog;
mod common;
mod faults;
mod ops;
