#![doc = include_str!("../README.md")]

mod classify;
mod client;
mod config;
mod key;
mod limit;
mod request;
mod retry_after;

pub use classify::{Classification, Classify, REQUEST_ID_HEADERS, StatusClassifier, request_id};
pub use client::{HttpClient, RETRY_STATUSES};
pub use config::{
    HttpConfig, HttpEvent, Observer, RateLimit, RateLimitEvent, RetryEvent, RetryPolicy,
    check_base_url, parse_base_url,
};
pub use key::{ApiKey, Auth};
pub use request::{HttpResponse, Request};
pub use retry_after::{parse_retry_after, retry_after};

/// The `http` types used in this crate's API (status, headers, method), re-exported so that
/// providers need no direct dependency.
pub use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
/// The URL type of [`HttpConfig::base_url`].
pub use url::Url;
