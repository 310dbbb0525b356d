#![doc = include_str!("../README.md")]

mod auth;
pub mod config;
pub mod error;
mod events;
mod query;
mod routes;
mod server;

pub use auth::TokenCheck;
pub use config::{DEFAULT_ADDR, ServerConfig, TOKEN_ENV, read_token_file};
pub use error::{ApiError, ServeError};
pub use events::EventPage;
pub use server::{Server, router, terminate_signal};

/// The OpenAPI 3.1 description of the API, as served at `/openapi.json`. Written by hand; a
/// test checks that its paths and methods are exactly the routes served.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// The (method, path) pairs the API serves, paths in OpenAPI's `{name}` form.
pub fn served_routes() -> Vec<(&'static str, &'static str)> {
    routes::routes().served().to_vec()
}
