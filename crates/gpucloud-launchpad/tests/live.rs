//! Read-only checks against the real LaunchPad API. They run only when `LAUNCHPAD_API_TOKEN`
//! is set; otherwise they are reported as ignored, with the reason, rather than passing
//! without checking anything.

use gpucloud_core::{CloudClient, GetInstanceTypeArgs, GetLocationsArgs, ListInstancesArgs};
use gpucloud_launchpad::{API_TOKEN_ENV, LaunchpadConfig, LaunchpadCredential};
use libtest_mimic::{Arguments, Failed, Trial};

async fn read_only(config: LaunchpadConfig) -> Result<(), Failed> {
    let client = LaunchpadCredential::new(config.with_ref_id("gpucloud-live-test"))?.client("");
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
    if let Some(t) = types
        .iter()
        .find(|t| t.provider != "launchpad" || t.cloud.is_empty())
    {
        return Err(format!(
            "{} has provider {:?} and cloud {:?}",
            t.id, t.provider, t.cloud
        )
        .into());
    }
    client.list_instances(&ListInstancesArgs::default()).await?;
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let config = LaunchpadConfig::from_env();
    let absent = matches!(config, Ok(None));
    if absent {
        eprintln!("live tests skipped: {API_TOKEN_ENV} is not set");
    }
    let trial = Trial::test("live_read_only", move || {
        let config = config
            .map_err(|e| Failed::from(format!("LAUNCHPAD_* variables: {e}")))?
            .ok_or_else(|| Failed::from(format!("{API_TOKEN_ENV} is not set")))?;
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(read_only(config))
    })
    .with_ignored_flag(absent);
    libtest_mimic::run(&args, vec![trial]).exit();
}
