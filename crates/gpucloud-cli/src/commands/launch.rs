//! `gpucloud launch`: the cheapest offer that comes up, with failover.

use std::time::Duration;

use gpucloud::launch::{
    Attempt, LaunchError, LaunchEvent, LaunchRequest, RetryUntilUp, launch as run_launch, plan,
};
use gpucloud::offers::{Offer, OfferOptions, OfferSource, ProviderFailure};
use gpucloud::{
    CreateInstanceAttrs, FirewallRules, Instance, ProviderEntry, wait::PENDING_TO_RUNNING_TIMEOUT,
};
use serde::Serialize;

use super::instances::{
    PLACEHOLDER_KEY, print_ssh_hint, read_user_data, remember, terminate_unhanded,
};
use super::offers::{filter, gpu_text, offer_sort, options, vram_unit};
use super::{Ctx, Selection, offer_sources};
use crate::cli::LaunchArgs;
use crate::error::{CliError, CliResult};
use crate::failures::{self, FailureJson};
use crate::interrupt::{Holding, Interrupts, Signal, stopped};
use crate::keys;
use crate::output::{cut_to_fit, instance_table, new_table, price_text};

/// `gpucloud launch`.
pub async fn launch(ctx: &Ctx, args: &LaunchArgs) -> CliResult {
    // Local input first: nothing is asked or created until all of it is good.
    if args.filter.gpu.is_none() {
        return Err(CliError::usage(
            "--gpu: say which GPU to launch, e.g. --gpu H100:8",
        ));
    }
    if let Some(ref_id) = &args.ref_id
        && ref_id.trim().is_empty()
    {
        return Err(CliError::usage("--ref-id: must not be empty"));
    }
    // `--retry-until-up` means until one is running: it waits, so it never returns a pending
    // instance as if it were up.
    let waits = args.wait || args.retry_until_up;
    if args.timeout.is_some() && !waits {
        return Err(CliError::usage(
            "--timeout: only applies with --wait (or --retry-until-up, which waits)",
        ));
    }
    if let Some(deadline) = args.retry_deadline
        && deadline < args.retry_interval
    {
        return Err(CliError::usage(format!(
            "--retry-deadline: {deadline}s is shorter than --retry-interval ({}s), so no second \
             round could start; give a longer deadline or a shorter interval",
            args.retry_interval
        )));
    }
    let user_data = args.user_data.as_deref().map(read_user_data).transpose()?;
    let explicit_key = args
        .ssh_key
        .as_deref()
        .map(|p| keys::read_public_key(p, "--ssh-key"))
        .transpose()?;
    let Selection {
        entries,
        failures: broken,
    } = ctx.providers(&args.filter.providers)?;
    let sources = offer_sources(&entries);
    // A typo is bad input: answered before a key is made or anything is tried.
    if let Some(gpu) = &args.filter.gpu
        && let Some(error) =
            super::gpus::unknown_gpu(&gpu.request, &sources, &options(&args.filter)).await
    {
        failures::warn_each(ctx.out, "offers", &broken);
        return Err(error);
    }
    let ref_id = args
        .ref_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if args.dry_run {
        // A dry run creates nothing, not even a default key: a key that authorizes nothing
        // stands in for one, so that the request is checked as the launch would check it.
        let public_key = explicit_key
            .as_ref()
            .map_or(PLACEHOLDER_KEY, |k| k.public_key.as_str());
        let request = launch_request(args, &entries, &ref_id, public_key, user_data, waits);
        return dry_run(ctx, &sources, &request, &options(&args.filter), broken).await;
    }
    let key = match explicit_key {
        Some(key) => key,
        None => keys::default_key(&ctx.dirs, ctx.out)?,
    };
    let request = launch_request(args, &entries, &ref_id, &key.public_key, user_data, waits);

    // A stop signal (SIGINT, SIGTERM, SIGHUP) ends the launch after the current attempt is
    // cleaned up: what it made is terminated.
    let interrupts = Interrupts::install(ctx.out)?;
    let outcome = run_launch(
        &sources,
        &request,
        &options(&args.filter),
        interrupts.token(),
        |event| {
            hold(&interrupts, event, &ref_id);
            progress(ctx, event);
        },
    )
    .await;

    match outcome {
        Ok(mut launched) => {
            let Some(entry) = entries
                .iter()
                .find(|e| e.descriptor.name == launched.offer.provider)
            else {
                return Err(CliError::failed(format!(
                    "launch: the launched offer names provider {}, which was not asked; \
                     instance {} may be running there",
                    launched.offer.provider, launched.instance.cloud_id
                )));
            };
            if let Some(signal) = interrupts.received() {
                // The signal came as the instance came up, before it was handed over.
                let id = &launched.instance.cloud_id;
                return Err(
                    match entry.credential.make_client(&launched.offer.location).await {
                        Ok(client) => {
                            terminate_unhanded(ctx, &interrupts, signal, entry, client.as_ref(), id)
                                .await
                        }
                        Err(e) => stopped(
                            signal,
                            format!("instance {id} was launched and may still be running: {e}"),
                        )
                        .hint(format!(
                            "terminate it with: gpucloud instances terminate -p {} {id}",
                            entry.descriptor.name
                        )),
                    },
                );
            }
            remember(
                ctx,
                entry,
                &launched.instance,
                &key,
                &launched.offer.location,
            );
            let mut failures = broken;
            failures.append(&mut launched.failures);
            failures::warn_each(ctx.out, "offers", &failures);
            if ctx.out.is_json() {
                ctx.out.json(&LaunchedJson {
                    provider: &launched.offer.provider,
                    offer: &launched.offer,
                    instance: &launched.instance,
                    attempts: launched.attempts.iter().map(AttemptJson::from).collect(),
                    failures: failures::json(&failures),
                })?;
                interrupts.release();
                return Ok(());
            }
            if !launched.attempts.is_empty() {
                ctx.out.note(&format!(
                    "{} offer(s) failed before this one:",
                    launched.attempts.len()
                ));
                ctx.out
                    .note(&attempts_table(&launched.attempts).to_string());
            }
            ctx.out.table(&instance_table(
                &launched.offer.provider,
                &launched.instance,
            ));
            interrupts.release();
            if waits {
                print_ssh_hint(
                    ctx,
                    &launched.offer.provider,
                    &launched.instance,
                    key.private_path.as_deref(),
                );
            } else {
                ctx.out.note(&format!(
                    "Wait until it is running with: gpucloud instances get -p {} {} --wait",
                    launched.offer.provider, launched.instance.cloud_id
                ));
            }
            Ok(())
        }
        Err(error) => Err(report_failure(
            ctx,
            &error,
            &ref_id,
            &broken,
            interrupts.received(),
        )),
    }
}

/// The launch the flags describe over the providers `entries`, authorizing `public_key`.
fn launch_request(
    args: &LaunchArgs,
    entries: &[ProviderEntry],
    ref_id: &str,
    public_key: &str,
    user_data: Option<String>,
    waits: bool,
) -> LaunchRequest {
    let mut request = LaunchRequest::new(CreateInstanceAttrs {
        name: args.name.clone().unwrap_or_default(),
        ref_id: ref_id.to_owned(),
        public_key: public_key.to_owned(),
        user_data_base64: user_data.unwrap_or_default(),
        tags: args.tags.iter().cloned().collect(),
        firewall_rules: FirewallRules {
            ingress_rules: args.open_ports.clone(),
            egress_rules: Vec::new(),
        },
        ..CreateInstanceAttrs::default()
    });
    request.query.filter = filter(&args.filter, entries);
    request.query.sort = offer_sort(args.sort);
    request.max_offers = args.max_offers as usize;
    request.wait_running = waits.then(|| {
        args.timeout
            .map_or(PENDING_TO_RUNNING_TIMEOUT, Duration::from_secs)
    });
    if args.retry_until_up {
        request.retry_until_up = Some(RetryUntilUp {
            interval: Duration::from_secs(args.retry_interval),
            deadline: args.retry_deadline.map(Duration::from_secs),
        });
    }
    request
}

/// Records what the launch holds as it goes, for a second signal to report.
fn hold(interrupts: &Interrupts, event: &LaunchEvent<'_>, ref_id: &str) {
    match event {
        LaunchEvent::Trying { offer, .. } => interrupts.hold(Holding::Creating {
            provider: offer.provider.clone(),
            ref_id: ref_id.to_owned(),
            what: format!("{} in {}", offer.instance_type, offer.location),
        }),
        LaunchEvent::Created { offer, instance } => interrupts.hold(Holding::Instance {
            provider: offer.provider.clone(),
            id: instance.cloud_id.to_string(),
        }),
        // The attempt's instance, if any, was terminated.
        LaunchEvent::Failed { .. } => interrupts.release(),
        _ => {}
    }
}

/// `launch --dry-run`: the offers the launch would try, in order; nothing is created.
async fn dry_run(
    ctx: &Ctx,
    sources: &[OfferSource],
    request: &LaunchRequest,
    options: &OfferOptions,
    mut failures: Vec<ProviderFailure>,
) -> CliResult {
    let spinner = ctx
        .out
        .spinner(format!("asking {} provider(s) for offers", sources.len()));
    let planned = plan(sources, request, options).await;
    spinner.finish_and_clear();
    let mut planned = planned.map_err(|e| match e {
        LaunchError::Invalid(inner) => CliError::cloud("launch", &inner),
        other => CliError::failed(format!("launch: {other}")),
    })?;
    let answered = sources.len().saturating_sub(planned.failures.len());
    failures.append(&mut planned.failures);
    if ctx.out.is_json() {
        ctx.out.json(&PlanJson {
            offers: &planned.offers,
            over_quota: &planned.over_quota,
            failures: failures::json(&failures),
        })?;
    } else if !planned.offers.is_empty() {
        let mut table = new_table(["#", "PROVIDER", "LOCATION", "TYPE", "GPUS", "$/HOUR"]);
        let vram = vram_unit(&planned.offers);
        for (index, offer) in planned.offers.iter().enumerate() {
            table.add_row([
                (index + 1).to_string(),
                offer.provider.clone(),
                offer.location.clone(),
                offer.instance_type.clone(),
                gpu_text(offer, vram),
                price_text(offer.price_per_hour.as_ref()),
            ]);
        }
        ctx.out.table(&table);
        ctx.out.note(&format!(
            "Dry run: a launch would try these {} offer(s) in this order, moving to the next \
             on a failure. Nothing was created.",
            planned.offers.len()
        ));
    }
    if !ctx.out.is_json() {
        for offer in &planned.over_quota {
            if let Some(quota) = &offer.quota {
                ctx.out.note(&format!(
                    "A launch would skip {} {} in {}: over quota, {quota}",
                    offer.provider, offer.instance_type, offer.location
                ));
            }
        }
    }
    failures::conclude(ctx.out, "offers", &failures, answered)?;
    if planned.offers.is_empty() {
        let why = if planned.over_quota.is_empty() {
            "no available offer matches"
        } else {
            "every available offer is over the account's quota"
        };
        return Err(
            CliError::failed(format!("launch --dry-run: {why}; a launch would fail"))
                .hint("widen the request (`gpucloud offers --gpu ...` lists what there is)"),
        );
    }
    Ok(())
}

fn progress(ctx: &Ctx, event: &LaunchEvent<'_>) {
    match event {
        LaunchEvent::Round { round, offers } if *round > 1 => {
            ctx.out
                .note(&format!("round {round}: trying {offers} offer(s) again"));
        }
        LaunchEvent::Trying { offer, index, of } => ctx.out.note(&format!(
            "[{index}/{of}] {} {} in {} ({}/h)",
            offer.provider,
            offer.instance_type,
            offer.location,
            price_text(offer.price_per_hour.as_ref())
        )),
        LaunchEvent::Waiting { instance, .. } => ctx.out.note(&format!(
            "      created {}; waiting for it to run",
            instance.cloud_id
        )),
        LaunchEvent::SkippedOverQuota { offer } => {
            if let Some(quota) = &offer.quota {
                ctx.out.note(&format!(
                    "skipped {} {} in {}: over quota, {quota}",
                    offer.provider, offer.instance_type, offer.location
                ));
            }
        }
        LaunchEvent::Failed { error, .. } => ctx
            .out
            .note(&format!("      failed: {:?}: {error}", error.kind())),
        LaunchEvent::Backoff { pause } => ctx.out.note(&format!(
            "every offer failed; trying again in {}s",
            pause.as_secs()
        )),
        _ => {}
    }
}

/// Prints what was tried and turns the failure into the command's error (with the signal's
/// status when a stop signal ended it).
fn report_failure(
    ctx: &Ctx,
    error: &LaunchError,
    ref_id: &str,
    broken: &[ProviderFailure],
    signal: Option<Signal>,
) -> CliError {
    let unanswered: &[ProviderFailure] = match error {
        LaunchError::NoOffers { failures } | LaunchError::AllFailed { failures, .. } => failures,
        _ => &[],
    };
    if ctx.out.is_json() {
        let mut failures = failures::json(broken);
        failures.extend(failures::json(unanswered));
        let _ = ctx.out.json(&FailedJson {
            error: error.to_string(),
            ref_id,
            attempts: error.attempts().iter().map(AttemptJson::from).collect(),
            failures,
        });
    } else if !error.attempts().is_empty() {
        ctx.out.table(&attempts_table(error.attempts()));
    }
    failures::warn_each(ctx.out, "offers", broken);
    failures::warn_each(ctx.out, "offers", unanswered);
    let error = command_error(error, ref_id);
    match signal {
        Some(signal) => CliError {
            hint: error.hint,
            ..stopped(signal, error.message)
        },
        None => error,
    }
}

/// The command's error for a launch that did not come up.
fn command_error(error: &LaunchError, ref_id: &str) -> CliError {
    match error {
        LaunchError::Invalid(inner) | LaunchError::Stopped { error: inner, .. } => {
            CliError::cloud("launch", inner)
        }
        LaunchError::NoOffers { .. } => CliError::failed("launch: no available offer matches")
            .hint("widen the request (`gpucloud offers --gpu ...` lists what there is)"),
        LaunchError::AllFailed { .. } => {
            CliError::failed(format!("launch: {error}; nothing was left running"))
                .hint("try more offers (--max-offers), other filters, or --retry-until-up")
        }
        LaunchError::OutcomeUnknown { offer, .. } => CliError::failed(format!("launch: {error}"))
            .hint(format!(
                "resolve it with the same RefID (this finds the instance, or creates it once): \
             gpucloud instances create -p {} --type {} --location {} --ref-id {ref_id}",
                offer.provider, offer.instance_type, offer.location
            )),
        LaunchError::Cancelled { .. } => {
            CliError::failed("launch cancelled; nothing of this launch is left running")
        }
        _ => CliError::failed(format!("launch: {error}")),
    }
}

fn attempts_table(attempts: &[Attempt]) -> comfy_table::Table {
    let mut table = new_table([
        "PROVIDER", "LOCATION", "TYPE", "GPUS", "$/HOUR", "FAILED", "REASON",
    ]);
    let offers: Vec<Offer> = attempts.iter().map(|a| a.offer.clone()).collect();
    let vram = vram_unit(&offers);
    for attempt in attempts {
        table.add_row([
            attempt.offer.provider.clone(),
            attempt.offer.location.clone(),
            attempt.offer.instance_type.clone(),
            gpu_text(&attempt.offer, vram),
            price_text(attempt.offer.price_per_hour.as_ref()),
            // The kind always shows whole; the provider's message gives way to the width.
            format!("{:?}", attempt.error.kind()),
            attempt.error.to_string(),
        ]);
    }
    cut_to_fit(&mut table, &[6], false);
    table
}

#[derive(Serialize)]
struct LaunchedJson<'a> {
    provider: &'a str,
    offer: &'a Offer,
    instance: &'a Instance,
    attempts: Vec<AttemptJson<'a>>,
    failures: Vec<FailureJson<'a>>,
}

#[derive(Serialize)]
struct FailedJson<'a> {
    error: String,
    ref_id: &'a str,
    attempts: Vec<AttemptJson<'a>>,
    failures: Vec<FailureJson<'a>>,
}

/// `launch --dry-run -o json`: the offers in the order they would be tried.
#[derive(Serialize)]
struct PlanJson<'a> {
    offers: &'a [Offer],
    /// The offers a launch would skip, over quota.
    over_quota: &'a [Offer],
    failures: Vec<FailureJson<'a>>,
}

#[derive(Serialize)]
struct AttemptJson<'a> {
    offer: &'a Offer,
    kind: String,
    message: String,
}

impl<'a> From<&'a Attempt> for AttemptJson<'a> {
    fn from(attempt: &'a Attempt) -> Self {
        Self {
            offer: &attempt.offer,
            kind: format!("{:?}", attempt.error.kind()),
            message: attempt.error.to_string(),
        }
    }
}
