//! Read-only checks against the real Nebius API. They run only when `NEBIUS_CREDENTIALS_FILE`
//! (or `NEBIUS_IAM_TOKEN`) is set, with `NEBIUS_TENANT_ID` or `NEBIUS_PROJECTS`; otherwise they
//! are reported as ignored, with the reason, rather than passing without checking anything.

use gpucloud_core::{CloudClient, GetInstanceTypeArgs, GetLocationsArgs, ListInstancesArgs};
use gpucloud_nebius::{CREDENTIALS_FILE_ENV, NebiusConfig, NebiusCredential};
use libtest_mimic::{Arguments, Failed, Trial};

async fn read_only(config: NebiusConfig) -> Result<(), Failed> {
    let client = NebiusCredential::new(config.with_ref_id("gpucloud-live-test"))?.client("");
    let locations = client
        .locations(GetLocationsArgs {
            include_unavailable: true,
        })
        .await?;
    if locations.is_empty() {
        return Err("no locations".into());
    }
    let types = client
        .instance_types(&GetInstanceTypeArgs::default())
        .await?;
    if types.is_empty() {
        return Err("no instance types".into());
    }
    client.list_instances(&ListInstancesArgs::default()).await?;
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let config = NebiusConfig::from_env();
    let absent = matches!(config, Ok(None));
    if absent {
        eprintln!("live tests skipped: {CREDENTIALS_FILE_ENV} is not set");
    }
    let trial = Trial::test("live_read_only", move || {
        let config = config
            .map_err(|e| Failed::from(format!("NEBIUS_* variables: {e}")))?
            .ok_or_else(|| Failed::from(format!("{CREDENTIALS_FILE_ENV} is not set")))?;
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(read_only(config))
    })
    .with_ignored_flag(absent);
    libtest_mimic::run(&args, vec![trial]).exit();
}
