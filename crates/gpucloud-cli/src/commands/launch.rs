//! `gpucloud launch`: the cheapest offer that comes up, with failover.

use std::time::Duration;

use gpucloud::launch::{
    Attempt, LaunchError, LaunchEvent, LaunchRequest, RetryUntilUp, launch as run_launch,
};
use gpucloud::offers::Offer;
use gpucloud::{CreateInstanceAttrs, FirewallRules, Instance, wait::PENDING_TO_RUNNING_TIMEOUT};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::instances::{print_ssh_hint, read_user_data, remember};
use super::offers::{failure_text, filter, gpu_text, offer_sort, options, vram_unit};
use super::{Ctx, offer_sources};
use crate::cli::LaunchArgs;
use crate::error::{CliError, CliResult};
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
    let user_data = args.user_data.as_deref().map(read_user_data).transpose()?;
    let explicit_key = args
        .ssh_key
        .as_deref()
        .map(|p| keys::read_public_key(p, "--ssh-key"))
        .transpose()?;
    let entries = ctx.providers(&args.filter.providers)?;
    let sources = offer_sources(&entries);
    // A typo is bad input: answered before a key is made or anything is tried.
    if let Some(gpu) = &args.filter.gpu
        && let Some(error) =
            super::gpus::unknown_gpu(&gpu.request, &sources, &options(&args.filter)).await
    {
        return Err(error);
    }
    let key = match explicit_key {
        Some(key) => key,
        None => keys::default_key(&ctx.dirs, ctx.out)?,
    };
    let ref_id = args
        .ref_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());

    let mut request = LaunchRequest::new(CreateInstanceAttrs {
        name: args.name.clone().unwrap_or_default(),
        ref_id: ref_id.clone(),
        public_key: key.public_key.clone(),
        user_data_base64: user_data.unwrap_or_default(),
        tags: args.tags.iter().cloned().collect(),
        firewall_rules: FirewallRules {
            ingress_rules: args.open_ports.clone(),
            egress_rules: Vec::new(),
        },
        ..CreateInstanceAttrs::default()
    });
    request.query.filter = filter(&args.filter, &entries);
    request.query.sort = offer_sort(args.sort);
    request.max_offers = args.max_offers as usize;
    request.wait_running = args.wait.then(|| {
        args.timeout
            .map_or(PENDING_TO_RUNNING_TIMEOUT, Duration::from_secs)
    });
    if args.retry_until_up {
        request.retry_until_up = Some(RetryUntilUp {
            interval: Duration::from_secs(args.retry_interval),
            deadline: args.retry_deadline.map(Duration::from_secs),
        });
    }

    // Ctrl-C ends the launch after the current attempt is cleaned up.
    let cancel = CancellationToken::new();
    let on_interrupt = cancel.clone();
    let out = ctx.out;
    let interrupt = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            out.warn("interrupted: cleaning up the current attempt");
            on_interrupt.cancel();
        }
    });
    let outcome = run_launch(
        &sources,
        &request,
        &options(&args.filter),
        cancel,
        |event| {
            progress(ctx, event);
        },
    )
    .await;
    interrupt.abort();

    match outcome {
        Ok(launched) => {
            let entry = entries
                .iter()
                .find(|e| e.descriptor.name == launched.offer.provider)
                .expect("the offer came from one of the sources");
            remember(
                ctx,
                entry,
                &launched.instance,
                &key,
                &launched.offer.location,
            );
            if ctx.out.is_json() {
                return ctx.out.json(&LaunchedJson {
                    provider: &launched.offer.provider,
                    offer: &launched.offer,
                    instance: &launched.instance,
                    attempts: launched.attempts.iter().map(AttemptJson::from).collect(),
                });
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
            if args.wait {
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
        Err(error) => Err(report_failure(ctx, &error, &ref_id)),
    }
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

/// Prints what was tried and turns the failure into the command's error.
fn report_failure(ctx: &Ctx, error: &LaunchError, ref_id: &str) -> CliError {
    if ctx.out.is_json() {
        let _ = ctx.out.json(&FailedJson {
            error: error.to_string(),
            ref_id,
            attempts: error.attempts().iter().map(AttemptJson::from).collect(),
        });
    } else if !error.attempts().is_empty() {
        ctx.out.table(&attempts_table(error.attempts()));
    }
    match error {
        LaunchError::Invalid(inner) | LaunchError::Stopped { error: inner, .. } => {
            CliError::cloud("launch", inner)
        }
        LaunchError::NoOffers { failures } => {
            for failure in failures {
                ctx.out.warn(&failure_text(failure));
            }
            CliError::failed("launch: no available offer matches")
                .hint("widen the request (`gpucloud offers --gpu ...` lists what there is)")
        }
        LaunchError::AllFailed { failures, .. } => {
            for failure in failures {
                ctx.out.warn(&failure_text(failure));
            }
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
}

#[derive(Serialize)]
struct FailedJson<'a> {
    error: String,
    ref_id: &'a str,
    attempts: Vec<AttemptJson<'a>>,
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
