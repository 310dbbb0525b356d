//! Classification of error answers and undecodable bodies.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use gpucloud_core::{CloudError, ErrorKind, ProviderDetails, Retry};
use gpucloud_http::{Auth, Classification, HeaderMap, HttpClient, Request};

use crate::support::status_only;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::support::{Counter, config, serve, serve_counted};

/// A classifier in the style of Lambda's: driven by `error.code`, falling back to the status.
fn lambda_like(
    status: gpucloud_http::StatusCode,
    _headers: &HeaderMap,
    body: &[u8],
) -> Classification {
    #[derive(Deserialize)]
    struct Envelope {
        error: Option<Body>,
    }
    #[derive(Deserialize)]
    struct Body {
        code: Option<String>,
        message: Option<String>,
    }
    let parsed = serde_json::from_slice::<Envelope>(body)
        .ok()
        .and_then(|e| e.error);
    let Some(Body {
        code: Some(code),
        message,
    }) = parsed
    else {
        return Classification::from_status(status);
    };
    let classification = match code.as_str() {
        "global/invalid-parameters" => {
            Classification::from_status(status).with_kind(ErrorKind::InvalidArgument)
        }
        "instance-operations/launch/insufficient-capacity" => Classification::from_status(status)
            .with_kind(ErrorKind::InsufficientCapacity)
            .with_retry(Retry::Never),
        _ => Classification::from_status(status),
    };
    let classification = classification.with_code(code);
    match message {
        Some(message) => classification.with_message(message),
        None => classification,
    }
}

#[tokio::test]
async fn a_400_is_not_retried_and_carries_the_classification_and_details() {
    let (base, counter) = serve_counted("/api/v1/launch",
            post(|State(counter): State<Counter>| async move {
                counter.hit();
                (
                    StatusCode::BAD_REQUEST,
                    [("x-request-id", "req-123")],
                    axum::Json(json!({"error": {"code": "global/invalid-parameters", "message": "Invalid instance type", "suggestion": "list types"}})),
                )
            })).await;
    let (config, events) = config(&base, 4);
    let client = HttpClient::new("lambda-labs", config, Auth::None, lambda_like).expect("client");
    let request = Request::post("create_instance", "launch").idempotent(true);
    let err = client.send_json::<Value>(request).await.expect_err("400");
    assert_eq!(counter.get(), 1);
    assert!(events.retries().is_empty());
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(err.retry(), Retry::Never);
    let CloudError::Provider {
        provider,
        operation,
        message,
        ..
    } = &err
    else {
        panic!("expected a provider error, got {err:?}");
    };
    assert_eq!(provider, "lambda-labs");
    assert_eq!(*operation, "create_instance");
    assert_eq!(
        message,
        "HTTP 400 global/invalid-parameters: Invalid instance type (request id req-123)"
    );
    let details = err
        .provider_details()
        .expect("ProviderDetails is the source");
    assert_eq!(details.status, Some(400));
    assert_eq!(details.code.as_deref(), Some("global/invalid-parameters"));
    assert_eq!(details.message.as_deref(), Some("Invalid instance type"));
    assert_eq!(details.request_id.as_deref(), Some("req-123"));
    assert!(
        details
            .body
            .as_deref()
            .is_some_and(|b| b.contains("suggestion"))
    );
    let source = std::error::Error::source(&err).expect("source").to_string();
    assert!(source.contains("request id req-123"), "{source}");
}

#[tokio::test]
async fn the_classifier_can_refuse_a_retry_the_status_would_allow() {
    let (base, counter) = serve_counted("/api/v1/instances",
            get(|State(counter): State<Counter>| async move {
                counter.hit();
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    axum::Json(json!({"error": {"code": "instance-operations/launch/insufficient-capacity", "message": "no capacity"}})),
                )
            })).await;
    let (config, _) = config(&base, 4);
    let client = HttpClient::new("lambda-labs", config, Auth::None, lambda_like).expect("client");
    let err = client
        .send_json::<Value>(Request::get("list_instances", "instances"))
        .await
        .expect_err("503");
    assert_eq!(err.kind(), ErrorKind::InsufficientCapacity);
    assert_eq!(err.retry(), Retry::Never);
    assert_eq!(counter.get(), 1);
}

#[tokio::test]
async fn the_status_classifier_maps_statuses_and_takes_the_request_id_from_headers() {
    let router = Router::new()
        .route(
            "/api/v1/missing",
            get(|| async { (StatusCode::NOT_FOUND, [("x-amzn-requestid", "amz-7")], "") }),
        )
        .route("/api/v1/denied", get(|| async { StatusCode::FORBIDDEN }))
        .route("/api/v1/who", get(|| async { StatusCode::UNAUTHORIZED }))
        .route("/api/v1/dup", get(|| async { StatusCode::CONFLICT }))
        .route(
            "/api/v1/bad",
            get(|| async { StatusCode::UNPROCESSABLE_ENTITY }),
        )
        .route(
            "/api/v1/boom",
            get(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
        );
    let base = serve(router).await;
    let (config, events) = config(&base, 3);
    let client = HttpClient::new("test", config, Auth::None, status_only).expect("client");
    let cases = [
        ("missing", ErrorKind::ResourceNotFound),
        ("denied", ErrorKind::PermissionDenied),
        ("who", ErrorKind::Unauthenticated),
        ("dup", ErrorKind::Conflict),
        ("bad", ErrorKind::InvalidArgument),
        ("boom", ErrorKind::Internal),
    ];
    for (path, kind) in cases {
        let err = client
            .send(Request::get("probe", path))
            .await
            .expect_err(path);
        assert_eq!(err.kind(), kind, "{path}");
        // Only the 500 is transient: a GET is retried on it until the attempts run out.
        let retry = if path == "boom" {
            Retry::Exhausted
        } else {
            Retry::Never
        };
        assert_eq!(err.retry(), retry, "{path}");
        assert_eq!(err.outcome_unknown(), path == "boom", "{path}");
    }
    let retries = events.retries();
    assert_eq!(retries.len(), 2, "only the 500 is retried: {retries:?}");
    assert!(retries.iter().all(|r| r.status == Some(500)));
    let err = client
        .send(Request::get("probe", "missing"))
        .await
        .expect_err("404");
    let details = err.provider_details().expect("details");
    assert_eq!(details.request_id.as_deref(), Some("amz-7"));
    assert_eq!(details.body, None, "an empty body is not kept");
    assert!(err.to_string().contains("HTTP 404 Not Found"), "{err}");
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Instances {
    data: Vec<Value>,
}

#[tokio::test]
async fn undecodable_bodies_are_decode_errors_not_panics() {
    let long_garbage = format!("{{\"data\": [{}", "x".repeat(5000));
    let router = Router::new()
        .route(
            "/api/v1/truncated",
            get(|| async { (StatusCode::OK, "{\"data\": [") }),
        )
        .route(
            "/api/v1/shape",
            get(|| async { axum::Json(json!({"data": 5})) }),
        )
        .route(
            "/api/v1/binary",
            get(|| async { (StatusCode::OK, vec![0xff_u8, 0x00, 0xfe, 0x80]) }),
        )
        .route(
            "/api/v1/html",
            get(|| async { (StatusCode::OK, "<html>maintenance</html>") }),
        )
        .route("/api/v1/empty", get(|| async { StatusCode::OK }))
        .route(
            "/api/v1/trailing",
            get(|| async { (StatusCode::OK, "{\"data\": []} {\"data\": []}") }),
        )
        .route(
            "/api/v1/long",
            get(move || async move { (StatusCode::OK, long_garbage) }),
        );
    let base = serve(router).await;
    let (config, events) = config(&base, 3);
    let client = HttpClient::new("test", config, Auth::None, status_only).expect("client");
    for path in [
        "truncated",
        "shape",
        "binary",
        "html",
        "empty",
        "long",
        "trailing",
    ] {
        let err = client
            .send_json::<Instances>(Request::get("list_instances", path))
            .await
            .expect_err(path);
        assert_eq!(err.kind(), ErrorKind::Decode, "{path}: {err}");
        // A 2xx that cannot be read: the request may have been carried out, and a read is
        // safe to repeat, so it was tried again until the attempts ran out.
        assert_eq!(err.retry(), Retry::Exhausted, "{path}");
        assert!(err.outcome_unknown(), "{path}");
        let details = err.provider_details().expect("details");
        assert_eq!(details.status, Some(200));
        assert!(details.message.is_some(), "the serde error is kept");
        if let Some(body) = &details.body {
            assert!(
                body.len() <= ProviderDetails::MAX_BODY + 20,
                "{path}: body kept in full"
            );
        }
        let text = err.to_string();
        assert!(text.contains("unreadable HTTP 200 answer"), "{text}");
        assert!(
            text.len() < 1000,
            "{path}: message too long ({} bytes)",
            text.len()
        );
    }
    let err = client
        .send_json::<Instances>(Request::get("list_instances", "html"))
        .await
        .expect_err("html");
    // The message names the problem; the body stays in the details only.
    assert!(!err.to_string().contains("<html>maintenance"), "{err}");
    let body = err.provider_details().and_then(|d| d.body.clone());
    assert_eq!(body.as_deref(), Some("<html>maintenance</html>"));
    assert_eq!(
        events.retries().len(),
        8 * 2,
        "each unreadable read was tried 3 times"
    );
    // An empty body is JSON null: fine for () and Option.
    client
        .send_json::<()>(Request::get("probe", "empty"))
        .await
        .expect("() from empty body");
    let nothing: Option<Instances> = client
        .send_json(Request::get("probe", "empty"))
        .await
        .expect("None from empty body");
    assert!(nothing.is_none());
}

/// Counts the elements of `{"data": [...]}` as they are parsed, keeping only the even ones.
struct EvenOnly;

impl<'de> serde::de::DeserializeSeed<'de> for EvenOnly {
    type Value = Vec<u64>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Vec<u64>, D::Error> {
        #[derive(Deserialize)]
        struct Envelope {
            data: Vec<u64>,
        }
        let envelope = Envelope::deserialize(deserializer)?;
        Ok(envelope.data.into_iter().filter(|n| n % 2 == 0).collect())
    }
}

#[tokio::test]
async fn seeds_decode_the_body_with_the_same_rules() {
    let router = Router::new()
        .route(
            "/api/v1/numbers",
            get(|| async { axum::Json(json!({"data": [1, 2, 3, 4]})) }),
        )
        .route(
            "/api/v1/words",
            get(|| async { axum::Json(json!({"data": ["a"]})) }),
        )
        .route(
            "/api/v1/trailing",
            get(|| async { (StatusCode::OK, "{\"data\": [2]} x") }),
        );
    let base = serve(router).await;
    let (config, _) = config(&base, 1);
    let client = HttpClient::new("test", config, Auth::None, status_only).expect("client");
    let even = client
        .send_json_seed(Request::get("numbers", "numbers"), || EvenOnly)
        .await
        .expect("decoded");
    assert_eq!(even, [2, 4]);
    for path in ["words", "trailing"] {
        let err = client
            .send_json_seed(Request::get("numbers", path), || EvenOnly)
            .await
            .expect_err(path);
        assert_eq!(err.kind(), ErrorKind::Decode, "{path}: {err}");
        assert!(err.outcome_unknown(), "{err}");
        assert!(
            err.to_string().contains("unreadable HTTP 200 answer"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn utf8_bodies_decode_with_escapes_and_invalid_bytes_inside_strings_fail() {
    #[derive(Debug, Deserialize)]
    struct Words {
        data: Vec<String>,
    }
    let router = Router::new()
        .route(
            "/api/v1/unicode",
            get(|| async {
                (
                    StatusCode::OK,
                    "{\"data\": [\"é\", \"\\u00e9\", \"日本\", \"a\\nb\"]}",
                )
            }),
        )
        .route(
            "/api/v1/latin1",
            get(|| async { (StatusCode::OK, b"{\"data\": [\"caf\xe9\"]}".to_vec()) }),
        );
    let base = serve(router).await;
    let (config, _) = config(&base, 1);
    let client = HttpClient::new("test", config, Auth::None, status_only).expect("client");
    let words: Words = client
        .send_json(Request::get("words", "unicode"))
        .await
        .expect("decoded");
    assert_eq!(words.data, ["é", "é", "日本", "a\nb"]);
    let err = client
        .send_json::<Words>(Request::get("words", "latin1"))
        .await
        .expect_err("not UTF-8");
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
}
