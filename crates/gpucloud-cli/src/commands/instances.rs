//! `gpucloud instances ...`.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use futures::stream::{self, StreamExt};
use gpucloud::offers::{CatalogCache, OfferOptions, OfferSource, ProviderFailure, catalogs};
use gpucloud::wait::{
    PENDING_TO_RUNNING_TIMEOUT, RUNNING_TO_STOPPED_TIMEOUT, RUNNING_TO_TERMINATED_TIMEOUT,
};
use gpucloud::{
    CloudClient, CloudClientExt, CloudError, CreateInstanceAttrs, FirewallRules,
    GetInstanceTypeArgs, GetLocationsArgs, Instance, InstanceId, InstanceScope, LifecycleStatus,
    ListInstancesArgs, LocationsFilter, ProviderEntry, WaitOptions, wait_for_status,
};
use serde::Serialize;

use super::{Ctx, Selection, client};
use crate::cli::{CreateArgs, InstanceArgs, InstancesCommand, TerminateArgs};
use crate::error::{CliError, CliResult};
use crate::failures::{self, FailureJson};
use crate::interrupt::{Holding, Interrupts, Signal, stopped};
use crate::keys::{self, InstanceRecord, KeyPair};
use crate::output::{
    age_text, cut_to_fit, instance_table, list_or_dash, new_table, price_text, print_error,
    ssh_endpoint, ssh_target, status_text, text_or_dash,
};

/// The largest user-data file accepted before encoding.
const MAX_USER_DATA: u64 = 1024 * 1024;

/// Runs an `instances` subcommand.
pub async fn run(ctx: &Ctx, command: &InstancesCommand) -> CliResult {
    match command {
        InstancesCommand::List {
            providers,
            tags,
            ref_id,
            all,
            wide,
        } => {
            let scope = if *all {
                InstanceScope::Account
            } else {
                InstanceScope::Credential
            };
            list(ctx, providers, tags, ref_id.as_deref(), scope, *wide).await
        }
        InstancesCommand::Create(args) => create(ctx, args).await,
        InstancesCommand::Get(args) => act(ctx, args, Action::Get).await,
        InstancesCommand::Terminate(args) => terminate(ctx, args).await,
        InstancesCommand::Stop(args) => act(ctx, args, Action::Stop).await,
        InstancesCommand::Start(args) => act(ctx, args, Action::Start).await,
        InstancesCommand::Reboot(args) => act(ctx, args, Action::Reboot).await,
    }
}

/// An instance with its provider, as `instances list -o json` prints it.
#[derive(Debug, Serialize)]
struct Listed<'a> {
    provider: &'a str,
    /// The instance carries the mark of this provider's credential: gpucloud created it with
    /// this credential. Only `--all` lists instances where this is false.
    managed: bool,
    #[serde(flatten)]
    instance: &'a Instance,
}

/// `instances list -o json`: the instances and the providers that did not answer.
#[derive(Debug, Serialize)]
struct ListJson<'a> {
    instances: Vec<Listed<'a>>,
    failures: Vec<FailureJson<'a>>,
}

async fn list(
    ctx: &Ctx,
    providers: &[String],
    tags: &[(String, Option<String>)],
    ref_id: Option<&str>,
    scope: InstanceScope,
    wide: bool,
) -> CliResult {
    let Selection {
        entries,
        mut failures,
    } = ctx.providers(providers)?;
    let mut args = ListInstancesArgs {
        scope,
        ..ListInstancesArgs::default()
    };
    for (key, value) in tags {
        let values = args.tag_filters.entry(key.clone()).or_default();
        if let Some(v) = value {
            values.push(v.clone());
        }
    }
    let results: Vec<(&ProviderEntry, Result<Vec<Instance>, CloudError>)> = stream::iter(&entries)
        .map(|entry| {
            let args = &args;
            async move {
                let result = async {
                    let client = entry.credential.make_client("").await?;
                    client.list_instances(args).await
                }
                .await;
                (entry, result)
            }
        })
        .buffer_unordered(entries.len().max(1))
        .collect()
        .await;

    let mut rows: Vec<Row> = Vec::new();
    let mut answered = 0;
    for (entry, result) in results {
        match result {
            Ok(instances) => {
                answered += 1;
                let credential = entry.credential.identity().reference_id();
                rows.extend(
                    instances
                        .into_iter()
                        .filter(|i| ref_id.is_none_or(|r| i.ref_id == r))
                        .map(|instance| Row {
                            provider: entry.descriptor.name,
                            managed: instance.is_managed_by(credential),
                            instance,
                        }),
                );
            }
            Err(error) => failures.push(ProviderFailure {
                provider: entry.descriptor.name.to_owned(),
                error,
            }),
        }
    }
    // Providers in a stable order, whichever answered first.
    failures.sort_by(|a, b| a.provider.cmp(&b.provider));
    rows.sort_by(|a, b| {
        (a.provider, a.instance.created_at, &a.instance.cloud_id).cmp(&(
            b.provider,
            b.instance.created_at,
            &b.instance.cloud_id,
        ))
    });

    if ctx.out.is_json() {
        ctx.out.json(&ListJson {
            instances: rows
                .iter()
                .map(|row| Listed {
                    provider: row.provider,
                    managed: row.managed,
                    instance: &row.instance,
                })
                .collect(),
            failures: failures::json(&failures),
        })?;
    } else if answered > 0 {
        print_list(ctx, &entries, &rows, scope, wide).await;
    }
    failures::conclude(ctx.out, "list instances", &failures, answered)
}

/// One instance of `instances list`: the provider that listed it, and whether it carries that
/// provider's credential mark.
struct Row<'a> {
    provider: &'a str,
    managed: bool,
    instance: Instance,
}

/// The instances as a table (names and tags in full when `wide`; a MANAGED column for the
/// account scope), or a note that there are none; `entries` are the providers asked, whose
/// catalogs give GPUs and prices.
async fn print_list(
    ctx: &Ctx,
    entries: &[ProviderEntry],
    rows: &[Row<'_>],
    scope: InstanceScope,
    wide: bool,
) {
    let account = scope == InstanceScope::Account;
    if rows.is_empty() {
        ctx.out.note(if account {
            "No instances."
        } else {
            "No instances (only those carrying this credential's mark are listed; see --help)."
        });
        return;
    }
    let types = catalog_entries(entries, rows).await;
    // Two rows that differ only by zone would look like one instance twice: show the zone.
    let zoned = rows.iter().enumerate().any(|(n, Row { instance: a, .. })| {
        rows[..n].iter().any(|Row { instance: b, .. }| {
            a.location == b.location
                && a.instance_type == b.instance_type
                && a.sub_location != b.sub_location
        })
    });
    let mut header = vec!["PROVIDER", "ID", "NAME", "STATUS", "TYPE", "LOCATION"];
    if zoned {
        header.push("ZONE");
    }
    if account {
        header.push("MANAGED");
    }
    header.extend(["GPUS", "$/HOUR", "UPTIME", "SSH", "TAGS"]);
    let mut table = new_table(&header);
    let now = jiff::Timestamp::now();
    for Row {
        provider,
        managed,
        instance: i,
    } in rows
    {
        let tags: Vec<String> = i.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let entry = types.iter().find(|(p, t)| {
            p == provider
                && t.type_name == i.instance_type.as_str()
                && t.location == i.location.as_str()
        });
        let mut row = vec![
            (*provider).to_owned(),
            i.cloud_id.to_string(),
            text_or_dash(&i.name),
            status_text(i),
            i.instance_type.clone(),
            i.location.clone(),
        ];
        if zoned {
            row.push(text_or_dash(&i.sub_location));
        }
        if account {
            row.push(if *managed { "yes" } else { "no" }.to_owned());
        }
        let running = i.lifecycle() == LifecycleStatus::Running;
        row.extend([
            entry.map_or_else(|| "-".to_owned(), |(_, t)| gpu_count_text(t)),
            price_text(entry.and_then(|(_, t)| t.base_price.as_ref())),
            if running {
                age_text(i.created_at, now)
            } else {
                "-".to_owned()
            },
            ssh_target(i),
            list_or_dash(&tags, ","),
        ]);
        table.add_row(row);
    }
    // Names and tags are free text: they give way to the terminal's width.
    let last = header.len() - 1;
    cut_to_fit(&mut table, &[2, last], wide);
    ctx.out.table(&table);
}

/// The catalog entries of the listed instances' types, for their GPUs and prices, by provider
/// short name; from the catalog cache when it is fresh. A catalog that cannot be had leaves
/// those columns blank, never the listing failed.
async fn catalog_entries(
    entries: &[ProviderEntry],
    rows: &[Row<'_>],
) -> Vec<(String, gpucloud::InstanceType)> {
    let listed: Vec<ProviderEntry> = entries
        .iter()
        .filter(|e| rows.iter().any(|row| row.provider == e.descriptor.name))
        .cloned()
        .collect();
    let sources = super::offer_sources(&listed);
    let asked: Vec<&OfferSource> = sources.iter().collect();
    let options = OfferOptions {
        cache: CatalogCache::default_dir().map(CatalogCache::new),
        ..OfferOptions::default()
    };
    let report = catalogs(&asked, &[], &options).await;
    for failure in &report.failures {
        tracing::debug!(provider = %failure.provider, error = %failure.error, "no catalog for the instance table");
    }
    let mut found = Vec::new();
    for catalog in report.catalogs {
        for entry in catalog.instance_types {
            let listed = rows.iter().any(|row| {
                row.provider == catalog.provider
                    && entry.type_name == row.instance.instance_type.as_str()
            });
            if listed {
                found.push((catalog.provider.clone(), entry));
            }
        }
    }
    found
}

/// `8x H100`, or `-` for a CPU-only type.
fn gpu_count_text(t: &gpucloud::InstanceType) -> String {
    match t.supported_gpus.iter().find(|g| g.count > 0) {
        Some(g) => format!("{}x {}", t.gpu_count(), g.name),
        None => "-".to_owned(),
    }
}

/// Reads `--user-data FILE` as base64.
pub fn read_user_data(path: &std::path::Path) -> CliResult<String> {
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .map_err(|e| CliError::usage(format!("--user-data {shown}: cannot read the file: {e}")))?;
    if meta.len() > MAX_USER_DATA {
        return Err(CliError::usage(format!(
            "--user-data {shown}: {} bytes is more than the 1 MiB allowed",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::usage(format!("--user-data {shown}: cannot read the file: {e}")))?;
    if bytes.is_empty() {
        return Err(CliError::usage(format!(
            "--user-data {shown}: the file is empty"
        )));
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// The location to create in: the one given (checked to exist), else the first location where
/// the type is available. Also checks that the type exists.
async fn resolve_location(
    entry: &ProviderEntry,
    client: &Arc<dyn CloudClient>,
    instance_type: &str,
    location: Option<&str>,
    ctx: &Ctx,
) -> CliResult<String> {
    let name = entry.descriptor.name;
    let locations = client
        .locations(GetLocationsArgs {
            include_unavailable: true,
        })
        .await
        .map_err(|e| CliError::cloud(&format!("list locations of {name}"), &e))?;
    if let Some(wanted) = location
        && !locations.iter().any(|l| l.name == wanted)
    {
        let known: Vec<&str> = locations.iter().map(|l| l.name.as_str()).collect();
        return Err(CliError::usage(format!(
            "--location: {name} has no location `{wanted}`; it has {}",
            known.join(", ")
        ))
        .hint(format!("see `gpucloud locations -p {name}`")));
    }
    let query = GetInstanceTypeArgs {
        instance_types: vec![instance_type.to_owned()],
        locations: location
            .map(|l| LocationsFilter::only([l]))
            .unwrap_or_default(),
        ..GetInstanceTypeArgs::default()
    };
    let mut offers = client
        .instance_types(&query)
        .await
        .map_err(|e| CliError::cloud(&format!("list instance types of {name}"), &e))?;
    if offers.is_empty() && location.is_some() {
        // The type may exist elsewhere: say which of the two is wrong.
        let anywhere = GetInstanceTypeArgs {
            instance_types: vec![instance_type.to_owned()],
            ..GetInstanceTypeArgs::default()
        };
        let elsewhere = client.instance_types(&anywhere).await.unwrap_or_default();
        if !elsewhere.is_empty() {
            let mut places: Vec<&str> = elsewhere.iter().map(|t| t.location.as_str()).collect();
            places.dedup();
            return Err(CliError::usage(format!(
                "--type: {instance_type} is not offered in {} by {name}; it is offered in {}",
                location.unwrap_or_default(),
                places.join(", ")
            )));
        }
    }
    if offers.is_empty() {
        return Err(CliError::usage(format!(
            "--type: {name} has no instance type `{instance_type}`"
        ))
        .hint(format!("see `gpucloud types -p {name}`")));
    }
    if let Some(location) = location {
        return Ok(location.to_owned());
    }
    offers.sort_by(|a, b| (!a.is_available, &a.location).cmp(&(!b.is_available, &b.location)));
    let chosen = &offers[0];
    if !chosen.is_available {
        return Err(CliError::failed(format!(
            "{instance_type} is not available in any {name} location right now"
        ))
        .hint("try another type (`gpucloud types --available`) or later"));
    }
    ctx.out.note(&format!(
        "Using location {} (the first where {instance_type} is available).",
        chosen.location
    ));
    Ok(chosen.location.as_str().to_owned())
}

async fn create(ctx: &Ctx, args: &CreateArgs) -> CliResult {
    // Local input first: nothing is sent anywhere until all of it is good.
    let user_data = args.user_data.as_deref().map(read_user_data).transpose()?;
    let explicit_key = args
        .ssh_key
        .as_deref()
        .map(|p| keys::read_public_key(p, "--ssh-key"))
        .transpose()?;
    if let Some(ref_id) = &args.ref_id
        && ref_id.trim().is_empty()
    {
        return Err(CliError::usage("--ref-id: must not be empty"));
    }
    let entry = ctx.provider(&args.provider)?;
    let name = entry.descriptor.name;

    let mut attrs = CreateInstanceAttrs {
        name: args.name.clone().unwrap_or_default(),
        ref_id: args
            .ref_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        instance_type: args.instance_type.clone(),
        location: args.location.clone().unwrap_or_default(),
        user_data_base64: user_data.unwrap_or_default(),
        tags: args.tags.iter().cloned().collect(),
        firewall_rules: FirewallRules {
            ingress_rules: args.open_ports.clone(),
            egress_rules: Vec::new(),
        },
        // Checked below with the real key; a placeholder keeps validation from failing on it.
        public_key: explicit_key
            .as_ref()
            .map(|k| k.public_key.clone())
            .unwrap_or_default(),
        ..CreateInstanceAttrs::default()
    };
    let probe = client(&entry, "").await?;
    check_flags(&attrs, &probe.create_features(), name)?;
    let location = resolve_location(
        &entry,
        &probe,
        &args.instance_type,
        args.location.as_deref(),
        ctx,
    )
    .await?;
    let key = match explicit_key {
        Some(key) => key,
        None => keys::default_key(&ctx.dirs, ctx.out)?,
    };
    attrs.public_key.clone_from(&key.public_key);
    attrs.location.clone_from(&location);
    let client = client(&entry, &location).await?;
    // The one validation of the final request: the provider takes what it found and checks
    // nothing again.
    let create = gpucloud::validate_create(&attrs, &client.create_features())
        .map_err(|e| CliError::cloud(&format!("create instance on {name}"), &e))?;

    // From here a stop signal terminates what this command made, instead of leaving it.
    let interrupts = Interrupts::install(ctx.out)?;
    let ref_id = attrs.ref_id.clone();
    interrupts.hold(Holding::Creating {
        provider: name.to_owned(),
        ref_id: ref_id.clone(),
        what: format!("{} in {location}", args.instance_type),
    });
    let spinner = ctx
        .out
        .spinner(format!("creating {} in {location}", args.instance_type));
    // Never abandoned half-way, even on a signal: what it made must be known to be removed.
    let created = client.create_instance(create).await;
    spinner.finish_and_clear();
    let instance = created.map_err(|e| {
        let error = CliError::cloud(&format!("create instance on {name}"), &e);
        if e.outcome_unknown() {
            // Without the RefID, running the command again would make a second instance.
            error.hint(format!(
                "the instance may have been created; its RefID is {ref_id}. This returns it, or \
                 creates it if it was not, and never makes a second one:\n  {}",
                resolve_command(
                    std::env::args(),
                    &ref_id,
                    args.location.is_none().then_some(location.as_str())
                )
            ))
        } else {
            error
        }
    })?;
    interrupts.hold(Holding::Instance {
        provider: name.to_owned(),
        id: instance.cloud_id.to_string(),
    });
    remember(ctx, &entry, &instance, &key, &location);
    if let Some(signal) = interrupts.received() {
        let id = &instance.cloud_id;
        return Err(
            terminate_unhanded(ctx, &interrupts, signal, &entry, client.as_ref(), id).await,
        );
    }

    let instance = if args.wait {
        let timeout = args
            .timeout
            .map_or(PENDING_TO_RUNNING_TIMEOUT, Duration::from_secs);
        let id = &instance.cloud_id;
        wait_running_or_stop(ctx, &interrupts, &entry, client.as_ref(), id, timeout).await?
    } else {
        instance
    };
    print_instance(ctx, name, &instance)?;
    interrupts.release();
    if args.wait {
        print_ssh_hint(ctx, name, &instance, key.private_path.as_deref());
    } else {
        ctx.out.note(&format!(
            "Wait until it is running with: gpucloud instances get -p {name} {} --wait",
            instance.cloud_id
        ));
    }
    Ok(())
}

/// The command line that resolves a create of unknown outcome: the one that was run, as
/// `gpucloud`, with `--ref-id` set to `ref_id` and, when the location was picked for the
/// user, `--location` (so the retry asks for the same thing).
fn resolve_command(
    argv: impl IntoIterator<Item = String>,
    ref_id: &str,
    picked_location: Option<&str>,
) -> String {
    let mut words = vec!["gpucloud".to_owned()];
    let mut argv = argv.into_iter().skip(1);
    while let Some(arg) = argv.next() {
        if arg == "--ref-id" {
            argv.next();
            continue;
        }
        if arg.starts_with("--ref-id=") {
            continue;
        }
        words.push(arg);
    }
    words.extend(["--ref-id".to_owned(), ref_id.to_owned()]);
    if let Some(location) = picked_location {
        words.extend(["--location".to_owned(), location.to_owned()]);
    }
    words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `word` as a POSIX shell reads it back: as is when it holds no special character, else in
/// single quotes.
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@,+%".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Checks the flags (and an explicit key) before a default key is generated or the location
/// is resolved, so bad input is reported before any of that. Without an explicit key a
/// placeholder stands in; the request actually sent is validated once more, when complete.
fn check_flags(
    attrs: &CreateInstanceAttrs,
    features: &gpucloud::CreateFeatures,
    name: &str,
) -> CliResult {
    let mut probe = attrs.clone();
    if probe.public_key.is_empty() {
        PLACEHOLDER_KEY.clone_into(&mut probe.public_key);
    }
    gpucloud::validate_create(&probe, features)
        .map(|_| ())
        .map_err(|e| CliError::cloud(&format!("create instance on {name}"), &e))
}

/// A well-formed ed25519 public key that authorizes nothing; only used to validate the other fields.
pub const PLACEHOLDER_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICpve//Ryfc3csmNjPG4xE9eH2jmY403mQwPyoTT3nrX";

/// Records the instance's key pair and location, which later commands on it (`ssh`, actions) read.
pub fn remember(
    ctx: &Ctx,
    entry: &ProviderEntry,
    instance: &Instance,
    key: &KeyPair,
    location: &str,
) {
    ctx.store.put(
        entry.descriptor.id,
        instance.cloud_id.as_str(),
        InstanceRecord {
            private_key: key.private_path.clone(),
            public_key: Some(key.public_path.clone()),
            location: location.to_owned(),
        },
        ctx.out,
    );
}

/// Waits for `desired` with a spinner.
pub async fn wait(
    ctx: &Ctx,
    entry: &ProviderEntry,
    client: &dyn CloudClient,
    id: &InstanceId,
    desired: LifecycleStatus,
    timeout_secs: Option<u64>,
    default_timeout: Duration,
) -> CliResult<Instance> {
    let timeout = timeout_secs.map_or(default_timeout, Duration::from_secs);
    wait_for(ctx, entry, client, id, desired, WaitOptions::new(timeout)).await
}

/// Waits for `desired` with a spinner, as `options` say.
async fn wait_for(
    ctx: &Ctx,
    entry: &ProviderEntry,
    client: &dyn CloudClient,
    id: &InstanceId,
    desired: LifecycleStatus,
    options: WaitOptions,
) -> CliResult<Instance> {
    let spinner = ctx.out.spinner(format!("waiting for {id} to be {desired}"));
    let result = wait_for_status(client, id, desired, options).await;
    spinner.finish_and_clear();
    result.map_err(|e| {
        CliError::cloud(
            &format!("wait for {} instance {id}", entry.descriptor.name),
            &e,
        )
    })
}

/// Waits for the instance this command created to run, unless a stop signal comes first: then
/// the instance is terminated and the command's error says so.
pub async fn wait_running_or_stop(
    ctx: &Ctx,
    interrupts: &Interrupts,
    entry: &ProviderEntry,
    client: &dyn CloudClient,
    id: &InstanceId,
    timeout: Duration,
) -> CliResult<Instance> {
    let options = WaitOptions::new(timeout).with_cancel(interrupts.token());
    let waited = wait_for(ctx, entry, client, id, LifecycleStatus::Running, options).await;
    match interrupts.received() {
        Some(signal) => Err(terminate_unhanded(ctx, interrupts, signal, entry, client, id).await),
        None => waited,
    }
}

/// Terminates an instance this command created and has not handed to the user, after a stop
/// `signal`; returns the error the command exits with, which says whether that worked.
pub async fn terminate_unhanded(
    ctx: &Ctx,
    interrupts: &Interrupts,
    signal: Signal,
    entry: &ProviderEntry,
    client: &dyn CloudClient,
    id: &InstanceId,
) -> CliError {
    let name = entry.descriptor.name;
    match client.terminate_instance(id).await {
        Ok(()) => {
            ctx.store.remove(entry.descriptor.id, id.as_str());
            interrupts.release();
            stopped(
                signal,
                format!("{name} instance {id}, which this command created, was terminated"),
            )
        }
        Err(e) => stopped(
            signal,
            format!("terminating {name} instance {id}, which this command created, failed: {e}"),
        )
        .hint(format!(
            "it may still be running; terminate it with: gpucloud instances terminate -p {name} {id}"
        )),
    }
}

/// Prints an instance: a table, or its JSON.
pub fn print_instance(ctx: &Ctx, provider: &str, instance: &Instance) -> CliResult {
    if ctx.out.is_json() {
        return ctx.out.json(instance);
    }
    ctx.out.table(&instance_table(provider, instance));
    Ok(())
}

/// The `ssh ...` command that logs in, with `-i` when the private key is known.
pub fn ssh_command_line(
    instance: &Instance,
    private_key: Option<&std::path::Path>,
) -> Option<String> {
    let (user, port) = ssh_endpoint(instance)?;
    let key = private_key
        .map(|k| format!("-i {} ", k.display()))
        .unwrap_or_default();
    Some(format!("ssh {key}-p {port} {user}@{}", instance.public_ip))
}

pub fn print_ssh_hint(
    ctx: &Ctx,
    provider: &str,
    instance: &Instance,
    private_key: Option<&std::path::Path>,
) {
    if let Some(line) = ssh_command_line(instance, private_key) {
        ctx.out.note(&format!(
            "Connect with:\n  {line}\n  gpucloud ssh -p {provider} {}",
            instance.cloud_id
        ));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Get,
    Terminate,
    Stop,
    Start,
    Reboot,
}

/// The status an instance in `status` is heading to, when it is in transition.
fn settles_to(status: LifecycleStatus) -> Option<LifecycleStatus> {
    match status {
        LifecycleStatus::Pending => Some(LifecycleStatus::Running),
        LifecycleStatus::Stopping => Some(LifecycleStatus::Stopped),
        LifecycleStatus::Suspending => Some(LifecycleStatus::Suspended),
        LifecycleStatus::Terminating => Some(LifecycleStatus::Terminated),
        _ => None,
    }
}

/// Does `action` and prints the instance (then, after a start that waited, how to log in).
async fn act(ctx: &Ctx, args: &InstanceArgs, action: Action) -> CliResult {
    let acted = perform(ctx, args, action).await?;
    print_instance(ctx, acted.provider, &acted.instance)?;
    if action == Action::Start && args.wait {
        print_ssh_hint(
            ctx,
            acted.provider,
            &acted.instance,
            acted.private_key.as_deref(),
        );
    }
    Ok(())
}

/// `instances terminate -p P ID...`: each instance in turn; one that fails is reported and the
/// rest are still terminated. With several ids, `-o json` prints an array.
async fn terminate(ctx: &Ctx, args: &TerminateArgs) -> CliResult {
    let mut terminated = Vec::new();
    let mut failed: Vec<CliError> = Vec::new();
    for id in &args.ids {
        let one = InstanceArgs {
            provider: args.provider.clone(),
            id: id.clone(),
            wait: args.wait,
            timeout: args.timeout,
        };
        match perform(ctx, &one, Action::Terminate).await {
            Ok(acted) => {
                if !ctx.out.is_json() {
                    print_instance(ctx, acted.provider, &acted.instance)?;
                }
                terminated.push(acted.instance);
            }
            // Bad usage (an unknown provider) is the same for every id: stop at once.
            Err(error) if error.code == crate::error::EXIT_USAGE || args.ids.len() == 1 => {
                return Err(error);
            }
            Err(error) => {
                print_error(&error);
                failed.push(error);
            }
        }
    }
    if ctx.out.is_json() {
        match terminated.as_slice() {
            [one] if args.ids.len() == 1 => ctx.out.json(one)?,
            all => ctx.out.json(all)?,
        }
    }
    match failed.len() {
        0 => Ok(()),
        n => Err(CliError::failed(format!(
            "{n} of {} instances could not be terminated; see the errors above",
            args.ids.len()
        ))),
    }
}

/// What an action left: the instance as last read, with its provider's short name and the
/// key file recorded for it.
struct Acted {
    provider: &'static str,
    instance: Instance,
    private_key: Option<std::path::PathBuf>,
}

async fn perform(ctx: &Ctx, args: &InstanceArgs, action: Action) -> CliResult<Acted> {
    if args.id.trim().is_empty() {
        return Err(CliError::usage("the instance id must not be empty"));
    }
    let entry = ctx.provider(&args.provider)?;
    let name = entry.descriptor.name;
    let record = ctx.store.get(entry.descriptor.id, &args.id);
    let location = record
        .as_ref()
        .map(|r| r.location.clone())
        .unwrap_or_default();
    let client = client(&entry, &location).await?;
    let id = InstanceId::new(args.id.clone());
    let context = |verb: &str| format!("{verb} {name} instance {id}");
    let mut last_seen: Option<Instance> = None;

    let (desired, default_timeout) = match action {
        Action::Get => {
            let instance = client
                .get_instance(&id)
                .await
                .map_err(|e| CliError::cloud(&context("get"), &e))?;
            let private_key = record.and_then(|r| r.private_key);
            let settled = match settles_to(instance.lifecycle()) {
                Some(target) if args.wait => {
                    wait(
                        ctx,
                        &entry,
                        client.as_ref(),
                        &id,
                        target,
                        args.timeout,
                        PENDING_TO_RUNNING_TIMEOUT,
                    )
                    .await?
                }
                _ => instance,
            };
            return Ok(Acted {
                provider: name,
                instance: settled,
                private_key,
            });
        }
        Action::Terminate => {
            // Kept to show what was terminated: the instance may be gone before the next read.
            last_seen = client.get_instance(&id).await.ok();
            client
                .terminate_instance(&id)
                .await
                .map_err(|e| CliError::cloud(&context("terminate"), &e))?;
            ctx.store.remove(entry.descriptor.id, id.as_str());
            (LifecycleStatus::Terminated, RUNNING_TO_TERMINATED_TIMEOUT)
        }
        Action::Stop => {
            async { client.stop_start()?.stop_instance(&id).await }
                .await
                .map_err(|e| CliError::cloud(&context("stop"), &e))?;
            (LifecycleStatus::Stopped, RUNNING_TO_STOPPED_TIMEOUT)
        }
        Action::Start => {
            async { client.stop_start()?.start_instance(&id).await }
                .await
                .map_err(|e| CliError::cloud(&context("start"), &e))?;
            (LifecycleStatus::Running, PENDING_TO_RUNNING_TIMEOUT)
        }
        Action::Reboot => {
            async { client.reboot()?.reboot_instance(&id).await }
                .await
                .map_err(|e| CliError::cloud(&context("reboot"), &e))?;
            (LifecycleStatus::Running, PENDING_TO_RUNNING_TIMEOUT)
        }
    };
    let instance = if args.wait {
        wait(
            ctx,
            &entry,
            client.as_ref(),
            &id,
            desired,
            args.timeout,
            default_timeout,
        )
        .await?
    } else {
        match client.get_instance(&id).await {
            Ok(instance) => instance,
            // Terminated instances may vanish at once.
            Err(e) if action == Action::Terminate && e.is_not_found() => Instance {
                cloud_id: id.clone(),
                status: gpucloud::Status::new(LifecycleStatus::Terminated),
                ..Instance::default()
            },
            // The terminate worked; only the read-back failed, and that must not turn the
            // success into a failure (a second terminate is harmless but misleading).
            Err(e) if action == Action::Terminate => {
                ctx.out.warn(&format!(
                    "{name} instance {id} is terminating, but reading it back failed: {e}"
                ));
                Instance {
                    cloud_id: id.clone(),
                    status: gpucloud::Status::new(LifecycleStatus::Terminating),
                    ..Instance::default()
                }
            }
            Err(e) => return Err(CliError::cloud(&context("get"), &e)),
        }
    };
    // A vanished instance reads back as a bare id; show what it was.
    let instance = match last_seen {
        Some(before) if instance.instance_type.is_empty() => Instance {
            status: instance.status,
            ..before
        },
        _ => instance,
    };
    Ok(Acted {
        provider: name,
        instance,
        private_key: record.and_then(|r| r.private_key),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_line_uses_key_port_and_user() {
        let instance = Instance {
            public_ip: "10.0.0.2".into(),
            ssh_user: "ubuntu".into(),
            ssh_port: 2222,
            ..Instance::default()
        };
        assert_eq!(
            ssh_command_line(&instance, Some(std::path::Path::new("/k/id"))).unwrap(),
            "ssh -i /k/id -p 2222 ubuntu@10.0.0.2"
        );
        let bare = Instance {
            public_ip: "10.0.0.2".into(),
            ..Instance::default()
        };
        assert_eq!(
            ssh_command_line(&bare, None).unwrap(),
            "ssh -p 22 root@10.0.0.2"
        );
        assert!(ssh_command_line(&Instance::default(), None).is_none());
    }

    #[test]
    fn resolve_command_sets_the_ref_id_and_the_picked_location() {
        let argv = [
            "/x/gpucloud",
            "instances",
            "create",
            "-p",
            "lambda",
            "--type",
            "gpu_1x_a10",
        ]
        .map(String::from);
        assert_eq!(
            resolve_command(argv, "r-1", Some("us-west-1")),
            "gpucloud instances create -p lambda --type gpu_1x_a10 --ref-id r-1 --location us-west-1"
        );
        let argv = [
            "gpucloud",
            "instances",
            "create",
            "--ref-id",
            "old",
            "--name",
            "my box",
            "--ref-id=x",
        ]
        .map(String::from);
        assert_eq!(
            resolve_command(argv, "it's", None),
            r"gpucloud instances create --name 'my box' --ref-id 'it'\''s'"
        );
    }

    #[test]
    fn transitional_statuses_settle() {
        assert_eq!(
            settles_to(LifecycleStatus::Pending),
            Some(LifecycleStatus::Running)
        );
        assert_eq!(settles_to(LifecycleStatus::Running), None);
        assert_eq!(
            settles_to(LifecycleStatus::Terminating),
            Some(LifecycleStatus::Terminated)
        );
    }
}
