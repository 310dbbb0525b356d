#![doc = include_str!("../README.md")]

mod classify;
mod client;
mod config;
mod key;
pub mod lenient;
mod request;
mod retry_after;

pub use classify::{Classification, Classify, REQUEST_ID_HEADERS, request_id};
pub use client::HttpClient;
pub use config::{HttpConfig, HttpEvent, check_base_url, parse_base_url};
/// The retry driver's types, re-exported because [`HttpConfig`] takes them.
pub use gpucloud_core::retry::{Observer, RateLimit, RateLimitEvent, RetryEvent, RetryPolicy};
pub use key::{ApiKey, Auth, secret_string};
pub use request::{HttpResponse, Request};

/// The `http` types used in this crate's API (status, headers, method), re-exported so that
/// providers need no direct dependency.
pub use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
/// The URL type of [`HttpConfig::base_url`].
pub use url::Url;
