//! `gpucloud providers` and `gpucloud locations`.

use gpucloud::offers::ProviderFailure;
use gpucloud::{
    Capability, CloudClientExt, GetLocationsArgs, Location, ProviderSetup, SettingSpec,
};
use serde::Serialize;

use super::{Ctx, client};
use crate::error::{CliError, CliResult};
use crate::failures::{self, FailureJson};
use crate::output::{list_or_dash, new_table, text_or_dash, yes_no};

/// One provider of this build, as `providers -o json` prints it.
#[derive(Debug, Serialize)]
struct ProviderRow {
    /// Provider id, e.g. `lambda-labs`.
    id: &'static str,
    /// Short name for `-p`.
    name: &'static str,
    display_name: &'static str,
    description: &'static str,
    /// Its instances are reachable by SSH from this machine without `--ssh`.
    ssh_reachable: bool,
    /// Every setting it reads, from its descriptor.
    settings: Vec<SettingRow>,
    configured: bool,
    /// Where the settings came from, when configured.
    source: Option<String>,
    /// `locational` or `global`, when configured.
    api_type: Option<String>,
    /// Capabilities, when configured.
    capabilities: Vec<Capability>,
    /// What is missing or failed, when not usable.
    problem: Option<String>,
}

/// One setting of a provider, as `providers -o json` prints it.
#[derive(Debug, Serialize)]
struct SettingRow {
    key: &'static str,
    env: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    default: Option<&'static str>,
    secret: bool,
    description: &'static str,
}

impl From<&SettingSpec> for SettingRow {
    fn from(spec: &SettingSpec) -> Self {
        Self {
            key: spec.key,
            env: spec.env,
            kind: spec.kind.as_str(),
            default: spec.default,
            secret: spec.secret,
            description: spec.description,
        }
    }
}

/// `providers -o json`: every provider of this build, and the configured ones that are broken.
#[derive(Debug, Serialize)]
struct ProvidersJson<'a> {
    providers: &'a [ProviderRow],
    failures: Vec<FailureJson<'a>>,
}

/// `gpucloud providers`. A provider configured wrongly, or whose client cannot be made, is a
/// failure: reported, beside every other provider's row.
pub async fn providers(ctx: &Ctx) -> CliResult {
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let mut notes = Vec::new();
    for setup in gpucloud::provider_setups(&ctx.config) {
        let descriptor = match &setup {
            ProviderSetup::Ready(entry) => entry.descriptor,
            ProviderSetup::NotConfigured { descriptor, .. }
            | ProviderSetup::Broken { descriptor, .. } => *descriptor,
        };
        let mut row = ProviderRow {
            id: descriptor.id,
            name: descriptor.name,
            display_name: descriptor.display_name,
            description: descriptor.description,
            ssh_reachable: descriptor.ssh_reachable,
            settings: descriptor.settings.iter().map(SettingRow::from).collect(),
            configured: false,
            source: None,
            api_type: None,
            capabilities: Vec::new(),
            problem: None,
        };
        match setup {
            ProviderSetup::Ready(entry) => {
                row.configured = true;
                row.source = Some(entry.source.to_string());
                row.api_type = Some(entry.credential.identity().api_type().to_string());
                match entry.credential.make_client("").await {
                    Ok(client) => row.capabilities = client.capabilities().iter().collect(),
                    Err(error) => {
                        row.problem = Some(error.to_string());
                        failures.push(ProviderFailure {
                            provider: descriptor.name.to_owned(),
                            error,
                        });
                    }
                }
            }
            ProviderSetup::NotConfigured { how, .. } => {
                let problem = format!("provider {} is not configured: {how}", descriptor.name);
                notes.push(format!("{}: {problem}", descriptor.name));
                row.problem = Some(problem);
            }
            ProviderSetup::Broken { error, .. } => {
                row.problem = Some(match &error {
                    gpucloud::CloudError::Configuration { message } => message.clone(),
                    other => other.to_string(),
                });
                failures.push(ProviderFailure {
                    provider: descriptor.name.to_owned(),
                    error,
                });
            }
        }
        rows.push(row);
    }
    if ctx.out.is_json() {
        ctx.out.json(&ProvidersJson {
            providers: &rows,
            failures: failures::json(&failures),
        })?;
    } else {
        print_table(ctx, &rows);
        for note in &notes {
            ctx.out.note(note);
        }
    }
    // Every provider has its row: a broken one makes the answer partial, never empty.
    failures::conclude(ctx.out, "configuration", &failures, rows.len())
}

/// The providers as a table.
fn print_table(ctx: &Ctx, rows: &[ProviderRow]) {
    let mut table = new_table([
        "NAME",
        "ID",
        "CONFIGURED",
        "API TYPE",
        "SOURCE",
        "CAPABILITIES",
    ]);
    for row in rows {
        let caps: Vec<&str> = row.capabilities.iter().map(|c| c.as_str()).collect();
        table.add_row([
            row.name.to_owned(),
            row.id.to_owned(),
            yes_no(row.configured),
            text_or_dash(row.api_type.as_deref().unwrap_or_default()),
            text_or_dash(row.source.as_deref().unwrap_or_default()),
            list_or_dash(&caps, ", "),
        ]);
    }
    ctx.out.table(&table);
}

/// `gpucloud locations -p P`.
pub async fn locations(ctx: &Ctx, provider: &str) -> CliResult {
    let entry = ctx.provider(provider)?;
    let client = client(&entry, "").await?;
    let mut locations: Vec<Location> = client
        .locations(GetLocationsArgs {
            include_unavailable: true,
        })
        .await
        .map_err(|e| {
            CliError::cloud(&format!("list locations of {}", entry.descriptor.name), &e)
        })?;
    locations.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
    if ctx.out.is_json() {
        return ctx.out.json(&locations);
    }
    let mut table = new_table(["NAME", "DESCRIPTION", "COUNTRY", "AVAILABLE"]);
    for l in &locations {
        table.add_row([
            l.name.clone(),
            l.description.clone(),
            l.country.clone(),
            yes_no(l.available),
        ]);
    }
    ctx.out.table(&table);
    Ok(())
}
