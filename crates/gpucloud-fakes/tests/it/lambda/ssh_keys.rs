//! SSH keys: add, generate, duplicate names, delete.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{PUBLIC_KEY, call, code, get, post, start};

#[tokio::test]
async fn add_list_delete() {
    let fake = start().await;
    let (status, body) = post(
        &fake,
        "/api/v1/ssh-keys",
        json!({"name": "laptop", "public_key": PUBLIC_KEY}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["data"]["name"], "laptop");
    assert_eq!(body["data"]["public_key"], PUBLIC_KEY);
    assert!(body["data"].get("private_key").is_none());

    let (_, body) = get(&fake, "/api/v1/ssh-keys").await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(fake.state().ssh_keys()[0].name, "laptop");

    let (status, body) = call(
        &fake,
        Method::DELETE,
        &format!("/api/v1/ssh-keys/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"], json!({}));
    assert!(fake.state().ssh_keys().is_empty());
    let (status, body) = call(
        &fake,
        Method::DELETE,
        &format!("/api/v1/ssh-keys/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(code(&body), "global/not-found");
}

#[tokio::test]
async fn duplicate_name_is_refused() {
    let fake = start().await;
    let body = json!({"name": "dup", "public_key": PUBLIC_KEY});
    let (status, _) = post(&fake, "/api/v1/ssh-keys", body.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, response) = post(&fake, "/api/v1/ssh-keys", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&response), "global/invalid-parameters");
    assert!(
        response["error"]["message"]
            .as_str()
            .unwrap()
            .contains("name must be unique")
    );
    assert_eq!(fake.state().ssh_keys().len(), 1);
}

#[tokio::test]
async fn omitted_public_key_generates_a_pair() {
    let fake = start().await;
    let (status, body) = post(&fake, "/api/v1/ssh-keys", json!({"name": "generated"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["data"]["public_key"]
            .as_str()
            .unwrap()
            .starts_with("ssh-ed25519 ")
    );
    assert!(
        body["data"]["private_key"]
            .as_str()
            .unwrap()
            .contains("PRIVATE KEY")
    );
    let (_, body) = get(&fake, "/api/v1/ssh-keys").await;
    assert!(body["data"][0].get("private_key").is_none());
}

#[tokio::test]
async fn invalid_keys_and_names_are_refused() {
    let fake = start().await;
    for body in [
        json!({"name": "", "public_key": PUBLIC_KEY}),
        json!({"name": "x".repeat(65), "public_key": PUBLIC_KEY}),
        json!({"public_key": PUBLIC_KEY}),
        json!({"name": "bad", "public_key": "not a key"}),
        json!({"name": "bad", "public_key": ""}),
    ] {
        let (status, response) = post(&fake, "/api/v1/ssh-keys", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(code(&response), "global/invalid-parameters");
    }
    assert!(fake.state().ssh_keys().is_empty());
}
