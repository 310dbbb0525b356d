//! Quota marks with `-p aws` against moto and the Price List / Service Quotas stub: with the
//! stub's P quota below a p5.48xlarge's 192 vCPUs, `offers --gpu H100` shows the p5 offer over
//! quota (JSON, `--wide` and the note), and `launch` skips the offers over quota, says why and
//! creates on the first that fits.

use assert_cmd::Command;
use gpucloud_fakes::aws_pricing::{FakeAwsPricing, FakeAwsPricingOptions};
use gpucloud_fakes::moto::MotoServer;

use crate::common::{Harness, json, run_ok, stderr, stdout};

/// The Service Quotas code of the on-demand P families' vCPU limit.
const P_QUOTA: &str = "L-417A185B";
/// The Service Quotas code of the on-demand G and VT families' vCPU limit.
const G_QUOTA: &str = "L-DB2E81BA";
/// An image every moto region serves (moto has no Deep Learning AMI).
const MOTO_IMAGE: &str = "ubuntu/images/hvm-ssd/ubuntu-xenial-16.04-amd64-server-*";

/// moto and the stub for one test, on their own runtime.
struct Aws {
    moto: MotoServer,
    stub: FakeAwsPricing,
    // Dropped last: the stub's server task runs on it.
    _runtime: tokio::runtime::Runtime,
}

impl Aws {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let moto = runtime
            .block_on(MotoServer::start())
            .unwrap_or_else(|why| panic!("{why}"));
        let stub = runtime
            .block_on(FakeAwsPricing::start(FakeAwsPricingOptions::default()))
            .unwrap();
        Self {
            moto,
            stub,
            _runtime: runtime,
        }
    }

    /// `gpucloud` configured for AWS only (one region), pointed at moto and the stub.
    fn cmd(&self, h: &Harness) -> Command {
        let mut cmd = h.bare_cmd();
        cmd.env("AWS_REGION", "us-east-1")
            .env("GPUCLOUD_AWS_REGIONS", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "AKIAMOTO")
            .env("AWS_SECRET_ACCESS_KEY", "moto-secret")
            .env("AWS_ENDPOINT_URL", self.moto.endpoint())
            .env("AWS_ENDPOINT_URL_PRICING", self.stub.base_url())
            .env("AWS_ENDPOINT_URL_SERVICE_QUOTAS", self.stub.base_url())
            .env("GPUCLOUD_AWS_DEFAULT_IMAGE", MOTO_IMAGE);
        cmd
    }
}

#[test]
fn offers_show_the_p5_offer_over_quota() {
    let h = Harness::new();
    let aws = Aws::start();
    assert!(aws.stub.set_quota(P_QUOTA, 96.0));
    let answer = json(&run_ok(aws.cmd(&h).args([
        "offers",
        "--gpu",
        "H100",
        "-p",
        "aws",
        "--no-cache",
        "-o",
        "json",
    ])));
    let offers = answer["offers"].as_array().expect("offers");
    let text = answer.to_string();
    let p5 = offers
        .iter()
        .find(|o| o["instance_type"] == "p5.48xlarge" && o["spot"] == false)
        .unwrap_or_else(|| panic!("an on-demand p5 offer: {text}"));
    assert!(
        p5["price_per_hour"]["amount"]
            .as_str()
            .is_some_and(|a| a.starts_with("98.32")),
        "the stub's price: {text}"
    );
    let quota = &p5["quota"];
    assert_eq!(quota["id"], P_QUOTA, "{text}");
    assert_eq!(
        (
            &quota["limit"],
            &quota["current"],
            &quota["needed"],
            &quota["fits"]
        ),
        (
            &serde_json::json!(96),
            &serde_json::json!(0),
            &serde_json::json!(192),
            &serde_json::json!(false)
        ),
        "{text}"
    );
    assert!(
        offers
            .iter()
            .filter(|o| o["spot"] == true)
            .all(|o| o["quota"].is_null()),
        "spot offers are not marked: {text}"
    );

    let wide = run_ok(aws.cmd(&h).args([
        "offers",
        "--gpu",
        "H100",
        "-p",
        "aws",
        "--no-cache",
        "--wide",
    ]));
    assert!(stdout(&wide).contains("QUOTA"), "{}", stdout(&wide));
    assert!(
        stdout(&wide).contains("OVER 0/96 vCPU (needs 192)"),
        "{}",
        stdout(&wide)
    );
    assert!(
        stderr(&wide).contains("Over the account's quota")
            && stderr(&wide).contains("aws p5.48xlarge in us-east-1"),
        "{}",
        stderr(&wide)
    );

    // With the default quota (384 vCPUs) the same offer fits.
    assert!(aws.stub.set_quota(P_QUOTA, 384.0));
    let answer = json(&run_ok(aws.cmd(&h).args([
        "offers",
        "--gpu",
        "H100",
        "-p",
        "aws",
        "--no-cache",
        "--on-demand",
        "-o",
        "json",
    ])));
    let offers = answer["offers"].as_array().expect("offers");
    assert!(
        !offers.is_empty() && offers.iter().all(|o| o["quota"]["fits"] == true),
        "{answer}"
    );
}

#[test]
fn launch_skips_the_offers_over_quota_and_says_why() {
    let h = Harness::new();
    let key = h.user_key();
    let aws = Aws::start();
    // Room for 40 vCPUs of G: most GPUs first, the 8- and 4-GPU g5 types (192, 96 and 48
    // vCPUs) are skipped and the g5.xlarge (1 GPU, 4 vCPUs) is the first that fits.
    assert!(aws.stub.set_quota(G_QUOTA, 40.0));
    let launch = |cmd: &mut Command| {
        cmd.args(["launch", "-p", "aws", "--gpu", "A10G", "--on-demand"])
            .args(["--sort", "gpus", "--name", "quota-launch", "--ssh-key"])
            .arg(&key);
    };
    let mut cmd = aws.cmd(&h);
    launch(&mut cmd);
    let out = run_ok(cmd.args(["-o", "json"]));
    let launched = json(&out);
    let err = stderr(&out);
    assert_eq!(launched["offer"]["instance_type"], "g5.xlarge", "{err}");
    assert!(
        err.contains(
            "skipped aws g5.12xlarge in us-east-1: over quota, Running On-Demand G and VT \
             instances (L-DB2E81BA): 0 of 40 vCPU in use, one instance needs 48"
        ),
        "{err}"
    );
    let attempts = launched["attempts"].as_array().expect("attempts");
    assert!(
        attempts.len() >= 3
            && attempts.iter().all(|a| a["kind"] == "QuotaExceeded"
                && a["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("over quota"))),
        "{launched}"
    );
    let id = launched["instance"]["cloud_id"]
        .as_str()
        .unwrap()
        .to_owned();
    run_ok(
        aws.cmd(&h)
            .args(["instances", "terminate", "-p", "aws", &id]),
    );

    // With no room at all, nothing is created and every reason is the quota.
    assert!(aws.stub.set_quota(G_QUOTA, 0.0));
    let mut cmd = aws.cmd(&h);
    launch(&mut cmd);
    let out = cmd.output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("skipped aws g5.48xlarge in us-east-1: over quota")
            && err.contains("all 5 offer(s) are over the account's quota"),
        "{err}"
    );
    // The table of what was tried gives each offer's reason.
    let table = stdout(&out);
    assert_eq!(table.matches("QuotaExceeded").count(), 5, "{table}");
    let listed = json(&run_ok(aws.cmd(&h).args([
        "instances",
        "list",
        "-p",
        "aws",
        "-o",
        "json",
    ])));
    assert_eq!(listed["instances"], serde_json::json!([]), "{listed}");
}
