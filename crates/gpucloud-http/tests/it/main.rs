//! Integration tests of gpucloud-http against axum servers on 127.0.0.1.

mod support;

mod bodies;
mod config;
mod errors;
mod limits;
mod retries;
mod secrets;
