//! Read-only checks against AWS. They run only when `GPUCLOUD_AWS_LIVE=1` and `AWS_REGION`
//! are set (credentials from the standard chain); otherwise they are reported as ignored,
//! with the reason, rather than passing without checking anything.

use gpucloud_aws::{AwsConfig, AwsCredential, REGION_ENV};
use gpucloud_core::{CloudClient, GetInstanceTypeArgs, GetLocationsArgs, ListInstancesArgs};
use libtest_mimic::{Arguments, Failed, Trial};

const LIVE_ENV: &str = "GPUCLOUD_AWS_LIVE";

async fn read_only(config: AwsConfig) -> Result<(), Failed> {
    let region = config.region.clone();
    let client = AwsCredential::new(config.with_ref_id("gpucloud-live-test"))?.client(&region);
    if client
        .locations(GetLocationsArgs::default())
        .await?
        .is_empty()
    {
        return Err("no regions".into());
    }
    let types = client
        .instance_types(&GetInstanceTypeArgs::default())
        .await?;
    if types.is_empty() {
        return Err(format!("no accelerated instance types in {region}").into());
    }
    // VRAM per GPU: no GPU AWS sells has more than 300 GB of its own.
    if let Some(t) = types.iter().find(|t| {
        t.supported_gpus
            .iter()
            .any(|g| g.memory_bytes.byte_count() > 300_000_000_000)
    }) {
        return Err(format!("{} reports more than 300 GB per GPU", t.id).into());
    }
    client.list_instances(&ListInstancesArgs::default()).await?;
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let wanted = std::env::var(LIVE_ENV).is_ok_and(|v| v == "1");
    let config = AwsConfig::from_env();
    let absent = !wanted || matches!(config, Ok(None));
    if absent {
        eprintln!("live tests skipped: {LIVE_ENV}=1 and {REGION_ENV} are needed");
    }
    let trial = Trial::test("live_read_only", move || {
        let config = config
            .map_err(|e| Failed::from(format!("AWS settings: {e}")))?
            .ok_or_else(|| Failed::from(format!("{REGION_ENV} is not set")))?;
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(read_only(config))
    })
    .with_ignored_flag(absent);
    libtest_mimic::run(&args, vec![trial]).exit();
}
