//! Projects, authentication, the project header and regions.

use gpucloud_fakes::fluidstack::{FakeFluidstack, FakeFluidstackOptions};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{Call, create, message, region, start};

#[tokio::test]
async fn default_project_is_listed_and_projects_can_be_created_read_and_deleted() {
    let fake = start().await;
    let call = Call::to(&fake, &region(&fake));
    let (status, body) = call.get("/projects").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!([{"id": fake.project_id().to_string(), "name": "default", "state": "active", "tags": {}}])
    );

    let (status, created) = call
        .post(
            "/projects",
            json!({"name": "research", "tags": {"team": "ml"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    assert_eq!(created["tags"], json!({"team": "ml"}));
    assert_eq!(created["state"], "active");
    let (status, body) = call.get(&format!("/projects/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, created);
    assert_eq!(fake.state().projects().len(), 2);

    // A new project is usable at once, and its instances are its own.
    let other = Call {
        project: Some(id.clone()),
        ..Call::to(&fake, &region(&fake))
    };
    let instance = create(&other, "h100-hgx-80gb.1x").await;
    let (_, listed) = call.get("/instances").await;
    assert_eq!(listed, json!([]));
    let (status, _) = call.get(&format!("/instances/{instance}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Deleting a project deletes its instances.
    let (status, _) = call
        .send(Method::DELETE, &format!("/projects/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(fake.state().instances().is_empty());
    let (status, body) = call.get(&format!("/projects/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(message(&body).contains(&id), "{body}");
    let (status, _) = call
        .send(Method::DELETE, &format!("/projects/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call.get("/projects/not-a-uuid").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_project_bodies_are_400_naming_the_field() {
    let fake = start().await;
    let call = Call::to(&fake, &region(&fake));
    for (body, field) in [
        (json!({}), "name"),
        (json!({"name": 5}), "invalid type"),
        (json!({"name": " "}), "name"),
        (json!({"name": "p", "tags": {"-bad": "x"}}), "tags"),
    ] {
        let (status, reply) = call.post("/projects", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(message(&reply).contains(field), "{body}: {reply}");
    }
    assert_eq!(fake.state().projects().len(), 1);
}

#[tokio::test]
async fn wrong_or_missing_bearer_is_401() {
    let fake = start().await;
    let wrong = Call {
        key: "wrong",
        ..Call::to(&fake, &region(&fake))
    };
    let (status, body) = wrong.get("/instance-types").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!message(&body).is_empty());
    let response = super::client()
        .get(format!("{}/instance-types", fake.base_url(&region(&fake))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let basic = super::client()
        .get(format!("{}/instance-types", fake.base_url(&region(&fake))))
        .basic_auth(fake.api_key(), Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED, "bearer only");
}

#[tokio::test]
async fn project_header_missing_malformed_or_unknown() {
    let fake = start().await;
    let base = Call::to(&fake, &region(&fake));
    let with = |project: Option<&str>| Call {
        project: project.map(str::to_owned),
        base: base.base.clone(),
        key: base.key,
    };
    for path in ["/instances", "/capacity"] {
        let (status, body) = with(None).get(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(message(&body).contains("X-PROJECT-ID"), "{body}");
        let (status, body) = with(Some("default-project-id")).get(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(message(&body).contains("UUID"), "{body}");
        let unknown = uuid::Uuid::new_v4().to_string();
        let (status, body) = with(Some(&unknown)).get(path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(message(&body).contains(&unknown), "{body}");
    }
    let (status, _) = with(None)
        .post(
            "/instances",
            json!({"name": "a", "type": "h100-hgx-80gb.1x"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(fake.state().instances().is_empty());
    // Not project-scoped.
    for path in ["/instance-types", "/capabilities", "/projects"] {
        let (status, _) = with(None).get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn regions_are_separate_and_unknown_ones_are_404() {
    let fake = FakeFluidstack::start(FakeFluidstackOptions {
        regions: vec!["r-one".into(), "r-two".into(), "r-three".into()],
        ..super::options()
    })
    .await
    .unwrap();
    assert_eq!(fake.regions(), ["r-one", "r-two", "r-three"]);
    let one = Call::to(&fake, "r-one");
    let two = Call::to(&fake, "r-two");
    let id = create(&one, "h100-hgx-80gb.8x").await;
    let (_, listed) = one.get("/instances").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let (_, listed) = two.get("/instances").await;
    assert_eq!(listed, json!([]));
    let (status, _) = two.get(&format!("/instances/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = two
        .send(Method::DELETE, &format!("/instances/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let nowhere = Call::to(&fake, "r-four");
    let (status, body) = nowhere.get("/instance-types").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(message(&body).contains("r-four"), "{body}");
    assert_eq!(
        fake.url_template(),
        format!("{}/{{region}}/api/v1alpha1", fake.root_url())
    );
}

#[tokio::test]
async fn options_without_or_with_bad_regions_are_refused() {
    for regions in [vec![], vec!["a/b".to_owned()], vec![String::new()]] {
        let error = FakeFluidstack::start(FakeFluidstackOptions {
            regions,
            ..FakeFluidstackOptions::default()
        })
        .await
        .unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("regions"), "{error}");
    }
}

#[tokio::test]
async fn exports_name_the_url_template_key_project_and_regions() {
    let fake = start().await;
    let exports = fake.exports();
    let names: Vec<&str> = exports.vars().iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "FLUIDSTACK_API_URL",
            "FLUIDSTACK_API_KEY",
            "FLUIDSTACK_PROJECT_ID",
            "FLUIDSTACK_REGIONS"
        ]
    );
    assert_eq!(exports.vars()[0].1, fake.url_template());
    assert_eq!(exports.vars()[2].1, fake.project_id().to_string());
    assert_eq!(exports.vars()[3].1, fake.regions().join(","));
    assert!(!format!("{fake:?}").contains(fake.api_key()));
    let (status, _) = Call::to(&fake, &region(&fake)).get("/capabilities").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        fake.state().request_count(
            "GET",
            &format!("/{}/api/v1alpha1/capabilities", region(&fake))
        ) == 1
    );
}
