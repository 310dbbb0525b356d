//! The API end to end: a fleet over the Lambda fake, served on loopback.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use gpucloud_fleet::Fleet;
use gpucloud_server::{Server, ServerConfig, served_routes};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_is_seen_over_sse_in_order_and_a_resumed_stream_loses_and_repeats_nothing() {
    let mut running = Running::start(None).await;
    let mut stream = SseReader::open(&running, None).await;

    let created = running.create(&create_request("sse-1")).await;
    assert_eq!(created.status(), 202);
    let record: serde_json::Value = created.json().await.unwrap();
    assert_eq!(record["phase"], "requested");

    // Events arrive as the loops make them, in order, up to running.
    let mut seen = Vec::new();
    while let Some(event) = stream.next().await {
        let to = event.data["to"].as_str().unwrap().to_owned();
        seen.push(event);
        if to == "running" {
            break;
        }
    }
    let causes: Vec<&str> = seen
        .iter()
        .map(|e| e.data["cause"].as_str().unwrap())
        .collect();
    assert_eq!(
        causes,
        ["create_requested", "create_sent", "created", "observed"]
    );
    assert!(seen.windows(2).all(|w| w[1].id > w[0].id), "{seen:?}");
    for event in &seen {
        assert_eq!(event.data["id"], event.id);
        assert_eq!(event.data["ref_id"], "sse-1");
    }
    // The connection drops here, after the second event was received.
    drop(stream);
    let resume_after = seen[1].id;

    let deleted = running
        .http
        .delete(running.url("/v1/instances/sse-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 202);
    running
        .wait_for("sse-1", |r| r["phase"] == "terminated")
        .await;

    // Resumed with Last-Event-ID: exactly the stored events after it, each once, in order.
    let stored: serde_json::Value = running
        .http
        .get(running.url(&format!("/v1/events?after={resume_after}&limit=1000")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored_ids: Vec<i64> = stored["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert!(stored_ids.len() >= 4, "{stored}");
    let mut resumed = SseReader::open(&running, Some(resume_after)).await;
    let mut resumed_ids = Vec::new();
    while resumed_ids.len() < stored_ids.len() {
        resumed_ids.push(resumed.next().await.expect("an event").id);
    }
    assert_eq!(resumed_ids, stored_ids);
    let causes: Vec<String> = stored["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["cause"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        causes,
        [
            "created",
            "observed",
            "terminate_sent",
            "terminate_confirmed"
        ]
    );

    // A new event after the catch-up comes live, once.
    running.create(&create_request("sse-2")).await;
    let live = resumed.next().await.expect("a live event");
    assert_eq!(live.id, stored_ids.last().unwrap() + 1);
    assert_eq!(live.data["ref_id"], "sse-2");

    running.stop().await.unwrap();
    // Shutdown ended the stream rather than waiting for it.
    assert_eq!(resumed.next().await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_falls_behind_the_live_buffer_catches_up_from_the_store() {
    // A live buffer of one event: a pass that writes several makes the stream lag.
    let mut running = Running::start_with(None, |config| config.event_buffer = 1).await;
    let mut stream = SseReader::open(&running, None).await;
    for i in 0..3 {
        assert_eq!(
            running
                .create(&create_request(&format!("lag-{i}")))
                .await
                .status(),
            202
        );
    }
    for i in 0..3 {
        running
            .wait_for(&format!("lag-{i}"), |r| r["status"] == "running")
            .await;
    }
    let stored: serde_json::Value = running
        .http
        .get(running.url("/v1/events?limit=1000"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored: Vec<serde_json::Value> = stored["items"].as_array().unwrap().clone();
    assert!(stored.len() >= 12, "{stored:?}");
    let mut received = Vec::new();
    while received.len() < stored.len() {
        received.push(stream.next().await.expect("an event").data);
    }
    assert_eq!(received, stored);
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_are_listed_a_page_at_a_time_with_filters() {
    let mut running = Running::start(None).await;
    for i in 0..5 {
        let response = running.create(&create_request(&format!("page-{i}"))).await;
        assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    }
    // The same request again is the same instance.
    let again = running.create(&create_request("page-0")).await;
    assert_eq!(again.status(), 202);

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &after {
            Some(cursor) => running.url(&format!(
                "/v1/instances?limit=2&credential=lambda&after={cursor}"
            )),
            None => running.url("/v1/instances?limit=2&credential=lambda"),
        };
        let page: serde_json::Value = running
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        pages += 1;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|r| r["ref_id"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 5, "{seen:?}");
    assert_eq!(seen.len(), 5, "{seen:?}");

    let none: serde_json::Value = running
        .http
        .get(running.url("/v1/instances?credential=nobody"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(none["items"].as_array().unwrap().len(), 0);

    let missing = running
        .http
        .get(running.url("/v1/instances/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_400_naming_the_field() {
    let mut running = Running::start(None).await;
    let http = &running.http;
    for (path, field) in [
        ("/v1/instances?limit=0", "limit"),
        ("/v1/instances?limit=many", "limit"),
        ("/v1/instances?phase=sleeping", "phase"),
        ("/v1/instances?live_only=perhaps", "live_only"),
        ("/v1/instances?colour=red", "colour"),
        ("/v1/events?after=-1", "after"),
        ("/v1/events?limit=5000", "limit"),
        ("/v1/offers?gpu=:8", "gpu"),
        ("/v1/offers?sort=random", "sort"),
    ] {
        let response = http.get(running.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 400, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid", "{path}: {body}");
        assert_eq!(body["field"], field, "{path}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(field),
            "{path}: {body}"
        );
    }
    let response = http
        .get(running.url("/v1/events"))
        .header("accept", "text/event-stream")
        .header("last-event-id", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["field"], "Last-Event-ID");

    let mut request = serde_json::to_value(create_request("bad-1")).unwrap();
    request["ttl"] = serde_json::json!("soon");
    let response = running.create(&request).await;
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["field"], "ttl", "{body}");

    let response = http
        .post(running.url("/v1/instances"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    // A credential the fleet does not watch: the engine's own check, named.
    let mut request = create_request("bad-2");
    request.target = gpucloud_fleet::CreateTarget::Explicit {
        credential: "nobody".into(),
        location: REGION.into(),
        instance_type: INSTANCE_TYPE.into(),
    };
    let response = running.create(&request).await;
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["field"].as_str().unwrap().contains("credential"),
        "{body}"
    );

    // A different request under a RefID in use.
    running.create(&create_request("taken")).await;
    let mut other = create_request("taken");
    other.attrs.name = "another-name".into();
    let response = running.create(&other).await;
    assert_eq!(response.status(), 409);
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_required_when_configured_and_a_refusal_says_nothing_more() {
    let mut running = Running::start(Some("s3cret-token")).await;
    for path in [
        "/v1/instances",
        "/healthz",
        "/metrics",
        "/openapi.json",
        "/no/such/route",
    ] {
        for auth in [
            None,
            Some("Bearer wrong"),
            Some("s3cret-token"),
            Some("Bearer s3cret-tokenx"),
        ] {
            let mut request = running.http.get(running.url(path));
            if let Some(auth) = auth {
                request = request.header("authorization", auth);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "{path} {auth:?}");
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
            assert_eq!(response.text().await.unwrap(), "", "{path}");
        }
    }
    let response = running
        .http
        .get(running.url("/v1/instances"))
        .bearer_auth("s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_off_loopback_is_refused_without_a_token() {
    let error = Server::bind(&ServerConfig::new("0.0.0.0:0".parse().unwrap()))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("invalid addr") && error.contains("bearer token"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_gives_503_and_nothing_is_lost() {
    use sqlx::Connection;
    let mut running = Running::start(None).await;
    // Another process holds the write lock: the fleet's writes wait, then give up.
    let url = format!("sqlite://{}", running.db.display());
    let mut holder = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut holder)
        .await
        .unwrap();

    let response = running
        .http
        .post(running.url("/v1/instances"))
        .json(&create_request("locked-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unavailable");
    assert_eq!(body["retryable"], true);

    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    drop(holder);
    // Once the lock is released the same request goes through at the first sending, and the
    // loops carry it out.
    let response = running.create(&create_request("locked-1")).await;
    assert_eq!(response.status(), 202);
    running
        .wait_for("locked-1", |r| r["status"] == "running")
        .await;
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_json_describes_exactly_the_routes_served() {
    let mut running = Running::start(None).await;
    let doc: serde_json::Value = running
        .http
        .get(running.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete", "head", "options"] {
            if item.get(method).is_some() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let served: BTreeSet<(String, String)> = served_routes()
        .into_iter()
        .map(|(m, p)| (m.to_owned(), p.to_owned()))
        .collect();
    assert_eq!(documented, served);

    // Each served route is routed (a handler answers, not the fallback or a 405), and each
    // `$ref` resolves.
    for (method, path) in &served {
        let url = running.url(&path.replace("{ref_id}", "no-such-instance"));
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = running
            .http
            .request(method.clone(), url)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert_ne!(status, 405, "{method} {path}");
        assert!(!body.contains("no route"), "{method} {path}: {body}");
    }
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"").skip(1) {
        let target = reference.split('"').next().unwrap();
        let pointer = target.trim_start_matches('#');
        assert!(doc.pointer(pointer).is_some(), "dangling $ref {target}");
    }
    // A route nobody serves falls back to a JSON 404.
    let response = running
        .http
        .get(running.url("/v2/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_credentials_and_offers_answer() {
    let mut running = Running::start(None).await;
    let health = running
        .http
        .get(running.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let credentials: serde_json::Value = running
        .http
        .get(running.url("/v1/credentials"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(credentials["items"][0]["name"], "lambda");
    assert!(!credentials.to_string().contains(running.fake.api_key()));

    // The inventory loop fills the catalog; offers come from it.
    let mut offers = serde_json::Value::Null;
    for _ in 0..100 {
        offers = running
            .http
            .get(running.url("/v1/offers?gpu=A10&sort=price"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if !offers["items"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let items = offers["items"].as_array().unwrap();
    assert!(!items.is_empty(), "{offers}");
    assert!(
        items.iter().all(|o| o["credential"] == "lambda"),
        "{offers}"
    );

    let metrics = running
        .http
        .get(running.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = metrics.text().await.unwrap();
    for family in [
        "gpucloud_fleet_loop_seconds_total",
        "gpucloud_fleet_provider_calls_total",
        "gpucloud_fleet_events_written_total",
    ] {
        assert!(text.contains(family), "{family}: {text}");
    }
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_what_was_recorded_and_closes_the_database() {
    let mut running = Running::start(None).await;
    let response = running.create(&create_request("down-1")).await;
    assert_eq!(response.status(), 202);
    running.stop().await.unwrap();
    // The service no longer answers, and the database opens again with the request in it.
    assert!(
        running
            .http
            .get(running.url("/healthz"))
            .send()
            .await
            .is_err()
    );
    let fleet = Fleet::open(fleet_config(&running.db, &running.fake))
        .await
        .unwrap();
    assert_eq!(fleet.instance("down-1").await.unwrap().ref_id, "down-1");
    fleet.close().await;
}
