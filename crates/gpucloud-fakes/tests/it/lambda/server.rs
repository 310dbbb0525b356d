//! Starting and stopping: `FakeLambda::shutdown`, drop, and `serve` (the CLI's entry point).

use gpucloud_fakes::lambda::{FakeLambda, FakeLambdaOptions, serve};
use reqwest::StatusCode;

use super::{client, fast, get};

#[tokio::test]
async fn shutdown_stops_accepting_and_keeps_the_state_readable() {
    let fake = super::start().await;
    let state = fake.state().clone();
    let url = format!("{}/api/v1/regions", fake.base_url());
    let (status, _) = get(&fake, "/api/v1/regions").await;
    assert_eq!(status, StatusCode::OK);
    fake.shutdown().await;
    assert!(client().get(&url).send().await.is_err());
    assert_eq!(state.request_count("GET", "/api/v1/regions"), 1);
}

#[tokio::test]
async fn drop_stops_the_server() {
    let fake = FakeLambda::start(fast()).await.unwrap();
    let url = format!("{}/api/v1/regions", fake.base_url());
    drop(fake);
    // The accept loop notices the cancellation at its next poll.
    let mut refused = false;
    for _ in 0..50 {
        if client().get(&url).send().await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(refused);
}

#[tokio::test]
async fn serve_reports_its_url_and_stops_on_the_shutdown_future() {
    let (url_tx, url_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        FakeLambdaOptions::default(),
        move |url| {
            let _ = url_tx.send(url);
        },
        async move {
            let _ = stop_rx.await;
        },
    ));
    let base = url_rx.await.expect("ready is called");
    assert!(base.starts_with("http://127.0.0.1:"));
    let response = client()
        .get(format!("{base}/api/v1/instance-types"))
        .basic_auth(gpucloud_fakes::lambda::DEFAULT_API_KEY, Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    stop_tx.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(
        client()
            .get(format!("{base}/api/v1/regions"))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_taken_port_is_an_io_error() {
    let fake = super::start().await;
    let addr = fake
        .base_url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let second = FakeLambda::start(FakeLambdaOptions { addr, ..fast() }).await;
    assert!(second.is_err());
}
