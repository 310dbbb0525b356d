//! Lambda Cloud: `LAMBDA_API_KEY` / `LAMBDA_API_URL`, or `[profiles.<name>.lambda]`.

use std::sync::Arc;

use gpucloud_core::Result;
use gpucloud_lambda::{API_KEY_ENV, API_URL_ENV, LambdaConfig, LambdaCredential, PROVIDER_ID};

use crate::config::SettingSpec;
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

fn build(settings: &ProviderSettings<'_>) -> Result<Build> {
    let Some(key) = settings.get("api_key") else {
        return Ok(Build::NotConfigured(settings.how_to_set("api_key")));
    };
    let mut config = LambdaConfig::new(key.value().trim());
    if let Some(url) = settings.get("api_url") {
        config = config.with_base_url(url.value().trim());
    }
    config = config.with_ref_id(settings.ref_id());
    let credential = LambdaCredential::new(config)?;
    Ok(Build::Ready(
        Arc::new(credential),
        key.source().clone().into(),
    ))
}
