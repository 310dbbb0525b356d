//! Answers that reach the client cut in half after the fake carried the request out (issue
//! 14, item 1): a proxy in front of the fake forwards every request and truncates the JSON body
//! of the one answer it is told to. Such an answer means the request may have been carried out,
//! so the create must look before it gives up: it finds what it made and uses it, and neither
//! leaks an instance, a key or a ruleset nor makes a second one.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use gpucloud_core::CloudClient;
use gpucloud_fakes::lambda::FakeLambda;
use gpucloud_lambda::LambdaCredential;

use crate::support::{attrs, config, fake, live_instances};

/// What the proxy forwards to and which answer it cuts next: `(method, path)`, used once.
#[derive(Clone)]
struct Proxy {
    target: String,
    http: reqwest::Client,
    cut: Arc<Mutex<Option<(&'static str, &'static str)>>>,
}

async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let url = format!(
        "{}{}",
        proxy.target,
        request
            .uri()
            .path_and_query()
            .map_or(path.as_str(), |p| p.as_str())
    );
    let mut outgoing = proxy.http.request(method.clone(), url);
    for (name, value) in request.headers() {
        if name != "host" && name != "content-length" {
            outgoing = outgoing.header(name, value);
        }
    }
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .expect("request body");
    let answer = outgoing.body(body).send().await.expect("fake answers");
    let status = answer.status();
    let content_type = answer.headers().get("content-type").cloned();
    let mut body: Bytes = answer.bytes().await.expect("fake body");
    let cut_this = {
        let mut cut = proxy.cut.lock().expect("cut lock");
        let hit = cut.is_some_and(|(m, p)| m == method.as_str() && p == path);
        if hit {
            *cut = None;
        }
        hit
    };
    if cut_this {
        assert!(
            status.is_success(),
            "the fake refused {method} {path}: {status}"
        );
        body = body.slice(..body.len() / 2);
    }
    let mut response = Response::builder().status(status);
    if let Some(content_type) = content_type {
        response = response.header("content-type", content_type);
    }
    response.body(Body::from(body)).expect("response")
}

/// A proxy in front of `fake` that cuts the next 2xx answer to `method path`, and a client of
/// the fake through it.
async fn through_proxy(
    fake: &FakeLambda,
    method: &'static str,
    path: &'static str,
) -> gpucloud_lambda::LambdaClient {
    let proxy = Proxy {
        target: fake.base_url(),
        http: reqwest::Client::new(),
        cut: Arc::new(Mutex::new(Some((method, path)))),
    };
    let router = Router::new().fallback(forward).with_state(proxy);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("proxy") });
    LambdaCredential::new(config(&format!("http://{addr}"), fake.api_key()))
        .expect("credential")
        .client("")
}

#[tokio::test]
async fn a_launch_answered_with_a_cut_body_is_found_by_ref_id_and_keeps_its_key() {
    let fake = fake().await;
    let client = through_proxy(&fake, "POST", "/api/v1/instance-operations/launch").await;
    let created = client
        .create_instance(
            gpucloud_core::validate_create(&attrs("cut-launch"), &client.create_features())
                .expect("valid"),
        )
        .await
        .expect("the launch happened, so the create succeeds");
    assert_eq!(created.ref_id, "cut-launch");
    assert_eq!(live_instances(&fake), 1, "{:?}", fake.state().instances());
    assert_eq!(
        fake.state()
            .request_count("POST", "/api/v1/instance-operations/launch"),
        1,
        "never launched again"
    );
    // The instance runs with the key and ruleset it was launched with: neither was rolled back.
    assert_eq!(
        fake.state().ssh_keys().len(),
        1,
        "{:?}",
        fake.state().ssh_keys()
    );
    assert_eq!(fake.state().firewall_rulesets().len(), 1);
    assert_eq!(fake.state().request_count("DELETE", "/api/v1/ssh-keys"), 0);
}

#[tokio::test]
async fn an_ssh_key_answered_with_a_cut_body_is_looked_up_and_used() {
    let fake = fake().await;
    let client = through_proxy(&fake, "POST", "/api/v1/ssh-keys").await;
    client
        .create_instance(
            gpucloud_core::validate_create(&attrs("cut-key"), &client.create_features())
                .expect("valid"),
        )
        .await
        .expect("the key was added, so the create goes on with it");
    assert_eq!(live_instances(&fake), 1);
    assert_eq!(
        fake.state().ssh_keys().len(),
        1,
        "{:?}",
        fake.state().ssh_keys()
    );
    assert_eq!(fake.state().request_count("POST", "/api/v1/ssh-keys"), 1);
}

#[tokio::test]
async fn a_ruleset_answered_with_a_cut_body_is_looked_up_and_used() {
    let fake = fake().await;
    let client = through_proxy(&fake, "POST", "/api/v1/firewall-rulesets").await;
    client
        .create_instance(
            gpucloud_core::validate_create(&attrs("cut-ruleset"), &client.create_features())
                .expect("valid"),
        )
        .await
        .expect("the ruleset was made, so the create goes on with it");
    assert_eq!(live_instances(&fake), 1);
    assert_eq!(
        fake.state().firewall_rulesets().len(),
        1,
        "{:?}",
        fake.state().firewall_rulesets()
    );
    assert_eq!(
        fake.state()
            .request_count("POST", "/api/v1/firewall-rulesets"),
        1
    );
}
