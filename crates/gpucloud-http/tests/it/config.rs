//! Base URL checks, path joining and query strings.

use axum::Router;
use axum::extract::{Query, RawQuery};
use axum::routing::get;
use gpucloud_core::ErrorKind;
use gpucloud_http::{Auth, HttpClient, HttpConfig, Request, Url};

use crate::support::status_only;
use serde_json::{Value, json};

use crate::support::serve;

fn build(base: &str) -> gpucloud_core::Result<HttpClient> {
    let url = Url::parse(base).expect("parses");
    HttpClient::new(
        "test",
        HttpConfig::default().with_base_url(url),
        Auth::None,
        status_only,
    )
}

#[test]
fn plain_http_to_a_non_loopback_host_is_refused() {
    for base in [
        "http://cloud.lambda.ai/api/v1/",
        "http://192.168.1.10:8080/",
        "http://[2001:db8::1]/",
    ] {
        let err = build(base).expect_err(base);
        assert_eq!(err.kind(), ErrorKind::Configuration, "{base}");
        assert!(err.to_string().contains("https"), "{err}");
    }
    let err = HttpConfig::new("http://cloud.lambda.ai/").expect_err("refused early too");
    assert_eq!(err.kind(), ErrorKind::Configuration);
}

#[test]
fn https_and_loopback_http_are_accepted() {
    for base in [
        "https://cloud.lambda.ai/api/v1/",
        "http://127.0.0.1:9/",
        "http://127.42.0.1/",
        "http://[::1]:9/",
        "http://localhost:9/api",
    ] {
        build(base).unwrap_or_else(|e| panic!("{base}: {e}"));
    }
}

#[test]
fn a_key_that_cannot_be_a_header_is_refused_without_showing_it() {
    let make = |auth| {
        HttpClient::new(
            "test",
            HttpConfig::new("https://cloud.lambda.ai/").expect("base"),
            auth,
            status_only,
        )
    };
    let key = "canary-key\nX-Injected: 1";
    let err = make(Auth::Bearer(gpucloud_http::ApiKey::new(key))).expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Configuration, "{err}");
    assert!(err.to_string().contains("header"), "{err}");
    assert!(!err.to_string().contains("canary"), "{err}");
}

#[test]
fn a_config_without_base_url_is_refused() {
    let err = HttpClient::new("test", HttpConfig::default(), Auth::None, status_only)
        .expect_err("no URL");
    assert_eq!(err.kind(), ErrorKind::Configuration);
}

#[tokio::test]
async fn paths_are_joined_to_the_base_and_queries_are_sent() {
    let router = Router::new()
        .route(
            "/api/v1/instances/{id}",
            get(
                |axum::extract::Path(id): axum::extract::Path<String>,
                 RawQuery(query): RawQuery| async move {
                    axum::Json(json!({"id": id, "query": query}))
                },
            ),
        )
        .route(
            "/api/v1/types",
            get(
                |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    axum::Json(json!(q))
                },
            ),
        );
    let base = serve(router).await;
    // Without the trailing slash the last base segment is kept, unlike RFC 3986 joining.
    let trimmed = base.trim_end_matches('/').to_owned();
    for base in [base.as_str(), trimmed.as_str()] {
        let client = HttpClient::new(
            "test",
            HttpConfig::new(base).expect("base"),
            Auth::None,
            status_only,
        )
        .expect("client");
        let answer: Value = client
            .send_json(Request::get("get_instance", "/instances/i-1"))
            .await
            .expect("get");
        assert_eq!(answer, json!({"id": "i-1", "query": null}));
        let answer: Value = client
            .send_json(
                Request::get("list_types", "types")
                    .query("region", "us-east-1")
                    .query("name", "a b&c"),
            )
            .await
            .expect("get");
        assert_eq!(answer, json!({"region": "us-east-1", "name": "a b&c"}));
    }
}
