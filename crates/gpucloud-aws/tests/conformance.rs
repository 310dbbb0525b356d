//! The conformance suite against this provider, one trial per check: `conformance::<check>`
//! against moto (with the Price List / Service Quotas stub), always; `conformance_live::<check>`
//! against AWS when `GPUCLOUD_AWS_LIVE=1` and `AWS_REGION` are set, reported as ignored
//! otherwise.
//!
//! A `harness = false` binary of its own (why: the gpucloud-conformance README). The checks
//! that log in to the instance are skipped against moto: it runs no machines.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use gpucloud_aws::{AwsConfig, AwsCredential, REGION_ENV};
use gpucloud_conformance::{Suite, Target, Timeouts};
use gpucloud_fakes::aws_pricing::{FakeAwsPricing, FakeAwsPricingOptions};
use gpucloud_fakes::moto::MotoServer;

/// The variable that must be `1` for the live suite to run (it launches a GPU instance).
const LIVE_ENV: &str = "GPUCLOUD_AWS_LIVE";

/// The suite against moto: every check but those needing SSH to the instance.
fn moto_suite() -> Suite {
    Suite::new("conformance", || async {
        let moto = match MotoServer::start().await {
            Ok(moto) => moto,
            Err(why) => panic!("{why}"),
        };
        let stub = FakeAwsPricing::start(FakeAwsPricingOptions::default())
            .await
            .expect("the pricing stub starts");
        let config = AwsConfig::new("us-east-1")
            .with_regions(["us-east-1"])
            .with_static_credentials("AKIAMOTO", "moto-secret")
            .with_endpoint_url(moto.endpoint())
            .with_pricing_endpoint_url(stub.base_url())
            .with_quotas_endpoint_url(stub.base_url())
            .with_default_image("ubuntu/images/hvm-ssd/ubuntu-xenial-16.04-amd64-server-*")
            .with_ref_id("conformance-aws-moto")
            .with_retry_backoff(Duration::from_millis(10))
            .with_sweep_grace(Duration::ZERO);
        let credential = AwsCredential::new(config).expect("a valid configuration");
        let target = Target::new(Arc::new(credential))
            .with_location("us-east-1")
            .with_instance_type("g5.xlarge")
            .with_timeouts(Timeouts::fast());
        (target, (moto, stub))
    })
}

/// The suite against AWS, with the region and type from the environment.
fn live_suite(prefix: String, config: AwsConfig) -> Suite {
    Suite::new(prefix, || async move {
        let region = config.region.clone();
        let credential = AwsCredential::new(config.with_ref_id("gpucloud-conformance-live"))
            .expect("a valid configuration");
        let mut target = Target::new(Arc::new(credential))
            .with_location(region)
            // Instances are reachable only when this machine has a route to them.
            .with_reachable(std::env::var_os("CONFORMANCE_REACHABLE").is_some());
        if let Ok(name) = std::env::var("GPUCLOUD_AWS_INSTANCE_TYPE") {
            target = target.with_instance_type(name);
        }
        target
    })
}

fn main() -> ExitCode {
    let live = if std::env::var(LIVE_ENV).is_ok_and(|v| v == "1") {
        Suite::live(
            "conformance_live",
            REGION_ENV,
            AwsConfig::from_env(),
            live_suite,
        )
    } else {
        Suite::skipped(
            "conformance_live",
            format!("{LIVE_ENV}=1 is not set (the live suite launches a GPU instance)"),
        )
    };
    gpucloud_conformance::test_main(&[moto_suite(), live], Vec::new())
}
