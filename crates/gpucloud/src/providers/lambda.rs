//! Lambda Cloud: `LAMBDA_API_KEY`, `LAMBDA_API_URL` and the rate-limit settings, or
//! `[profiles.<name>.lambda]`.

use std::sync::Arc;

use gpucloud_core::{CloudError, Result};
use gpucloud_lambda::{API_KEY_ENV, API_URL_ENV, LambdaConfig, LambdaCredential, PROVIDER_ID};

use crate::config::{Setting, SettingSpec};
use crate::registry::{Build, ProviderDescriptor, ProviderSettings, REF_ID_SETTING};

const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        key: "api_key",
        env: API_KEY_ENV,
        secret: true,
        description: "API key from the Lambda Cloud dashboard",
    },
    SettingSpec {
        key: "api_url",
        env: API_URL_ENV,
        secret: false,
        description: "API root (default https://cloud.lambda.ai); plain http only for loopback",
    },
    SettingSpec {
        key: "requests_per_second",
        env: "LAMBDA_REQUESTS_PER_SECOND",
        secret: false,
        description: "client-side limit on API requests per second (default 1, Lambda's published limit)",
    },
    SettingSpec {
        key: "launch_interval_ms",
        env: "LAMBDA_LAUNCH_INTERVAL_MS",
        secret: false,
        description: "minimum time between launches in milliseconds (default 12000, Lambda's published limit)",
    },
    SettingSpec {
        key: "orphan_ruleset_grace_secs",
        env: "LAMBDA_ORPHAN_RULESET_GRACE_SECS",
        secret: false,
        description: "age in seconds before an orphaned gpucloud firewall ruleset is swept (default 900)",
    },
    REF_ID_SETTING,
];

/// The Lambda Cloud provider.
pub(crate) const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor {
    id: PROVIDER_ID,
    name: "lambda",
    description: "Lambda Cloud (GPU VMs, REST API)",
    settings: SETTINGS,
    build,
};

/// A numeric setting, or an error naming it and where it came from.
fn parse_number<T: std::str::FromStr>(setting: &Setting, key: &str) -> Result<T> {
    setting.value().trim().parse().map_err(|_| {
        CloudError::invalid(
            key,
            format!(
                "{:?} (from {}) is not a number",
                setting.value(),
                setting.source()
            ),
        )
    })
}

fn build(settings: &ProviderSettings<'_>) -> Result<Build> {
    let Some(key) = settings.get("api_key") else {
        return Ok(Build::NotConfigured(settings.how_to_set("api_key")));
    };
    let mut config = LambdaConfig::new(key.value().trim());
    if let Some(url) = settings.get("api_url") {
        config = config.with_base_url(url.value().trim());
    }
    if let Some(rps) = settings.get("requests_per_second") {
        config.requests_per_second = Some(parse_number(&rps, "requests_per_second")?);
    }
    if let Some(interval) = settings.get("launch_interval_ms") {
        config.launch_interval_ms = Some(parse_number(&interval, "launch_interval_ms")?);
    }
    if let Some(grace) = settings.get("orphan_ruleset_grace_secs") {
        config.orphan_ruleset_grace_secs = Some(parse_number(&grace, "orphan_ruleset_grace_secs")?);
    }
    config = config.with_ref_id(settings.ref_id());
    config.validate()?;
    let credential = LambdaCredential::new(config)?;
    Ok(Build::Ready(
        Arc::new(credential),
        key.source().clone().into(),
    ))
}
