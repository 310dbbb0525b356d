//! The API key never shows up in errors, Debug output or logs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap as AxumHeaders, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use gpucloud_core::ErrorKind;
use gpucloud_http::{ApiKey, Auth, Classification, HeaderMap, HttpClient, Request};

use crate::support::status_only;
use serde_json::{Value, json};

use crate::support::{config, serve};

const CANARY: &str = "secret_canary_0123456789abcdef";

/// Echoes the Authorization header back, as a careless API might, in several places.
async fn echo(headers: AxumHeaders) -> impl IntoResponse {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(
            json!({"error": {"code": format!("bad-key/{auth}"), "message": format!("key {auth} is invalid")}}),
        ),
    )
}

async fn seen(headers: AxumHeaders) -> impl IntoResponse {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    axum::Json(json!({"authorization": auth}))
}

async fn garbage_with_key(headers: AxumHeaders) -> impl IntoResponse {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (StatusCode::OK, format!("not json {auth}"))
}

/// Copies `error.code` and `error.message` out of the body, whatever they hold.
fn copy_everything(
    status: gpucloud_http::StatusCode,
    _: &HeaderMap,
    body: &[u8],
) -> Classification {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut c = Classification::from_status(status);
    if let Some(code) = value.pointer("/error/code").and_then(Value::as_str) {
        c = c.with_code(code);
    }
    if let Some(message) = value.pointer("/error/message").and_then(Value::as_str) {
        c = c.with_message(message).with_request_id(message);
    }
    c
}

fn router() -> Router {
    Router::new()
        .route("/api/v1/echo", get(echo))
        .route("/api/v1/seen", get(seen))
        .route("/api/v1/garbage", get(garbage_with_key))
}

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(CANARY), "{what} leaks the key: {text}");
}

#[tokio::test]
async fn the_key_is_sent_but_never_shown() {
    let base = serve(router()).await;
    {
        let auth = Auth::Bearer(ApiKey::new(CANARY));
        let (config, _) = config(&base, 2);
        assert_clean("config Debug", &format!("{config:?}"));
        let client =
            HttpClient::new("test", config, auth.clone(), copy_everything).expect("client");
        assert_clean("client Debug", &format!("{client:?}"));
        assert_clean("auth Debug", &format!("{auth:?}"));

        // The key does reach the server.
        let seen: Value = client
            .send_json(Request::get("probe", "seen"))
            .await
            .expect("seen");
        let header = seen["authorization"].as_str().expect("header").to_owned();
        assert_eq!(header, format!("Bearer {CANARY}"));

        let err = client
            .send_json::<Value>(Request::get("probe", "echo"))
            .await
            .expect_err("401");
        assert_eq!(err.kind(), ErrorKind::Unauthenticated);
        assert_clean("error Display", &err.to_string());
        assert_clean("error Debug", &format!("{err:?}"));
        let details = err.provider_details().expect("details");
        assert_clean("details Display", &details.to_string());
        assert!(
            details
                .body
                .as_deref()
                .is_some_and(|b| b.contains("<redacted>")),
            "{details:?}"
        );

        let err = client
            .send_json::<Value>(Request::get("probe", "garbage"))
            .await
            .expect_err("decode");
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert_clean("decode error Display", &err.to_string());
        assert_clean("decode error Debug", &format!("{err:?}"));
    }
}

#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("logs lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_name_the_request_but_hold_no_key_and_no_query() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let base = serve(router()).await;
    let (config, _) = config(&base, 2);
    let client = HttpClient::new(
        "test",
        config,
        Auth::Bearer(ApiKey::new(CANARY)),
        status_only,
    )
    .expect("client");
    let _ = client
        .send_json::<Value>(Request::get("probe_seen", "seen").query("token", "query-secret"))
        .await;
    let _ = client
        .send_json::<Value>(Request::get("probe_echo", "echo"))
        .await;

    let text = String::from_utf8(logs.0.lock().expect("logs lock").clone()).expect("utf-8 logs");
    assert!(text.contains("http_request"), "{text}");
    assert!(
        text.contains("operation=\"probe_seen\"") || text.contains("operation=probe_seen"),
        "{text}"
    );
    assert!(text.contains("path=seen"), "{text}");
    assert!(text.contains("status=401"), "{text}");
    assert!(text.contains("attempt=1"), "{text}");
    assert_clean("logs", &text);
    assert!(
        !text.contains("query-secret"),
        "logs hold the query: {text}"
    );
}
