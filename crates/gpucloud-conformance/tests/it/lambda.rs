//! The suite against the Lambda provider pointed at the Lambda fake, and against the real
//! Lambda API when `LAMBDA_API_KEY` is set.

use std::sync::Arc;
use std::time::Duration;

use gpucloud_conformance::{Outcome, Target, Timeouts, run};
use gpucloud_fakes::lambda::{FakeLambda, FakeLambdaOptions};
use gpucloud_lambda::{LambdaConfig, LambdaCredential};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_fake_passes_with_reachability_skipped() {
    let fake = FakeLambda::start(FakeLambdaOptions {
        boot_delay: Duration::from_millis(200),
        terminate_delay: Duration::from_millis(100),
        gone_after: Duration::from_millis(200),
        ..FakeLambdaOptions::default()
    })
    .await
    .expect("the Lambda fake starts");
    let config = LambdaConfig::new(gpucloud_fakes::lambda::DEFAULT_API_KEY)
        .with_base_url(fake.base_url())
        .with_ref_id("conformance-lambda-fake")
        .with_rate_limits(1000.0, Duration::ZERO)
        .with_retry_backoff(Duration::from_millis(10));
    let credential = LambdaCredential::new(config).expect("valid config");
    let target = Target::new(Arc::new(credential))
        .with_location("us-east-1")
        .with_stable_ids([
            "us-west-1-noSub-gpu_8x_a100_80gb_sxm4",
            "us-east-1-noSub-gpu_8x_a100_80gb_sxm4",
        ])
        .with_timeouts(Timeouts::fast());
    let report = run(target).await;
    println!("--- lambda (fake) ---\n{report}\n");
    assert!(report.is_success(), "{report}");
    for name in ["ssh", "firewall_ingress", "firewall_egress"] {
        match &report.check(name).expect("reported").outcome {
            Outcome::Skipped { reason } => {
                assert!(reason.contains("reachable"), "{name}: {reason}");
            }
            other => panic!("{name} should be skipped, got {other:?}"),
        }
    }
    for name in [
        "create",
        "list",
        "running",
        "hostname",
        "duplicate_rule",
        "egress_rules",
        "terminate",
        "cleanup",
    ] {
        assert!(
            report
                .check(name)
                .is_some_and(gpucloud_conformance::CheckResult::is_passed),
            "{name}:\n{report}"
        );
    }
}

#[tokio::test]
async fn lambda_live_when_the_key_is_set() {
    let config = match LambdaConfig::from_env() {
        Ok(Some(config)) => config,
        Ok(None) => {
            println!(
                "lambda live conformance skipped: {} is not set",
                gpucloud_lambda::API_KEY_ENV
            );
            return;
        }
        Err(e) => panic!("the LAMBDA_* variables are invalid: {e}"),
    };
    let location = std::env::var("LAMBDA_LOCATION").unwrap_or_else(|_| "us-east-1".to_owned());
    let credential = LambdaCredential::new(config.with_ref_id("gpucloud-conformance-live"))
        .expect("valid config");
    let mut target = Target::new(Arc::new(credential))
        .with_location(location)
        .with_stable_ids([
            "us-west-1-noSub-gpu_8x_a100_80gb_sxm4",
            "us-east-1-noSub-gpu_8x_a100_80gb_sxm4",
        ]);
    if let Ok(name) = std::env::var("LAMBDA_INSTANCE_TYPE") {
        target = target.with_instance_type(name);
    }
    // Instances are reachable only when this machine has a route to them.
    target.reachable = std::env::var_os("CONFORMANCE_REACHABLE").is_some();
    let report = run(target).await;
    println!("--- lambda (live) ---\n{report}\n");
    assert!(report.is_success(), "{report}");
}
