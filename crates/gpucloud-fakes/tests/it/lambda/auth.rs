//! Both of Lambda's auth schemes, and the 401 body for anything else.

use reqwest::StatusCode;

use super::{client, code, start};

#[tokio::test]
async fn bearer_and_basic_are_accepted() {
    let fake = start().await;
    let url = format!("{}/api/v1/instances", fake.base_url());
    let bearer = client()
        .get(&url)
        .bearer_auth(fake.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);
    let basic = client()
        .get(&url)
        .basic_auth(fake.api_key(), Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::OK);
    let basic_no_password = client()
        .get(&url)
        .basic_auth(fake.api_key(), None::<&str>)
        .send()
        .await
        .unwrap();
    assert_eq!(basic_no_password.status(), StatusCode::OK);
    let raw_basic = client()
        .get(&url)
        .header("authorization", format!("Basic {}", fake.api_key()))
        .send()
        .await
        .unwrap();
    assert_eq!(raw_basic.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_or_missing_key_is_401_invalid_api_key() {
    let fake = start().await;
    let url = format!("{}/api/v1/instance-types", fake.base_url());
    for request in [
        client().get(&url),
        client().get(&url).bearer_auth("wrong-key"),
        client().get(&url).basic_auth("wrong-key", Some("")),
        client()
            .get(&url)
            .header("authorization", "Token fake-lambda-api-key"),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(code(&body), "global/invalid-api-key");
        assert!(body["error"]["message"].is_string());
        assert!(body["error"]["suggestion"].is_string());
    }
    // Unauthenticated requests still count, so tests can assert on them.
    assert_eq!(
        fake.state().request_count("GET", "/api/v1/instance-types"),
        4
    );
}

#[tokio::test]
async fn custom_api_key_is_the_only_one_accepted() {
    let fake =
        gpucloud_fakes::lambda::FakeLambda::start(gpucloud_fakes::lambda::FakeLambdaOptions {
            api_key: "another-key".to_owned(),
            ..super::fast()
        })
        .await
        .unwrap();
    assert_eq!(fake.api_key(), "another-key");
    let url = format!("{}/api/v1/regions", fake.base_url());
    let ok = client()
        .get(&url)
        .bearer_auth("another-key")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let default = client()
        .get(&url)
        .bearer_auth(gpucloud_fakes::lambda::DEFAULT_API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(default.status(), StatusCode::UNAUTHORIZED);
    assert!(!format!("{fake:?}").contains("another-key"));
}
