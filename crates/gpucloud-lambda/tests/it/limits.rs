//! Client-side rate limits: Lambda's documented "generally one request per second" allows a
//! command's few requests at once, and the create limit reported is the one enforced.

use std::time::{Duration, Instant};

use gpucloud_core::{CloudClient, GetInstanceTypeArgs};
use gpucloud_lambda::{LambdaConfig, LambdaCredential};

use crate::support::fake;

#[tokio::test]
async fn a_few_requests_go_out_at_once_with_the_default_limits() {
    let fake = fake().await;
    let client =
        LambdaCredential::new(LambdaConfig::new(fake.api_key()).with_base_url(fake.base_url()))
            .expect("credential")
            .client("");
    let started = Instant::now();
    // Two calls of two requests each: within the burst, so no request waits for the limiter
    // (spacing them at one per second would take three seconds).
    for _ in 0..2 {
        client
            .instance_types(&GetInstanceTypeArgs::default())
            .await
            .expect("types");
    }
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(900), "{elapsed:?}");
}

#[test]
fn the_create_limit_reported_is_the_launch_interval_enforced() {
    let per_minute = |interval: Option<Duration>| {
        let mut config = LambdaConfig::new("key").with_base_url("http://127.0.0.1:9");
        if let Some(interval) = interval {
            config = config.with_rate_limits(1.0, interval);
        }
        LambdaCredential::new(config)
            .expect("credential")
            .client("")
            .max_create_requests_per_minute()
    };
    assert_eq!(per_minute(None), 5, "one launch per 12 s by default");
    assert_eq!(per_minute(Some(Duration::from_secs(30))), 2);
    assert_eq!(per_minute(Some(Duration::from_secs(120))), 1);
    assert_eq!(
        per_minute(Some(Duration::ZERO)),
        u32::MAX,
        "no launch limit"
    );
}
