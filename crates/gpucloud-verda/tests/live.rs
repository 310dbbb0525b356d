//! Read-only checks against the real Verda API. They run only when `VERDA_CLIENT_ID` is set;
//! otherwise they are reported as ignored, with the reason, rather than passing without
//! checking anything.

use gpucloud_core::{CloudClient, GetInstanceTypeArgs, GetLocationsArgs, ListInstancesArgs};
use gpucloud_verda::{CLIENT_ID_ENV, VerdaConfig, VerdaCredential};
use libtest_mimic::{Arguments, Failed, Trial};

async fn read_only(config: VerdaConfig) -> Result<(), Failed> {
    let client = VerdaCredential::new(config.with_ref_id("gpucloud-live-test"))?.client("");
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
    // VRAM per GPU: no GPU Verda sells has more than 300 GB of its own.
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
    let config = VerdaConfig::from_env();
    let absent = matches!(config, Ok(None));
    if absent {
        eprintln!("live tests skipped: {CLIENT_ID_ENV} is not set");
    }
    let trial = Trial::test("live_read_only", move || {
        let config = config
            .map_err(|e| Failed::from(format!("VERDA_* variables: {e}")))?
            .ok_or_else(|| Failed::from(format!("{CLIENT_ID_ENV} is not set")))?;
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(read_only(config))
    })
    .with_ignored_flag(absent);
    libtest_mimic::run(&args, vec![trial]).exit();
}
