//! Runs the fault campaign on demand and prints its figures, one line per provider and seed:
//!
//! ```text
//! cargo run --release -p gpucloud-campaign --example campaign -- --ops 10000 --seed 7
//! ```
//!
//! Flags: `--ops N` (default 1000), `--seed N` (default 1), `--seeds N` (run N seeds from
//! `--seed` on, default 1), `--rate F` (fault rate, default 0.2), `--retry-after S` (of
//! injected 429s, default 0), `--secs S` (wall-clock budget per run, default 3600),
//! `--faults 5xx,429,reset,lost,truncated` (the kinds to inject, default all), `--provider
//! NAME` (lambda, fluidstack, shadeform, nebius, verda, launchpad or aws; default: every provider), `--reconcile N`
//! (operations between two reconciles, 0: only at the end; default 250), `--max-live N` (most
//! instances alive at once, default 50).
//! Exits 1 when any run breaks the promise. With `RUST_LOG=gpucloud_campaign=info`, each
//! reconcile logs the time since the last one and what the fake holds (instances, keys,
//! attachments), which shows whether anything piles up as the run goes on.

use std::process::ExitCode;
use std::time::Duration;

use gpucloud_campaign::{CampaignOptions, run, targets};
use gpucloud_fakes::proxy::ProxyFault;

/// A fault kind by its flag name.
fn fault_kind(name: &str) -> Option<ProxyFault> {
    Some(match name {
        "5xx" => ProxyFault::ServerError,
        "429" => ProxyFault::RateLimited,
        "reset" => ProxyFault::ResetBeforeForwarding,
        "lost" => ProxyFault::LostAfterCommit,
        "truncated" => ProxyFault::TruncatedBody,
        _ => return None,
    })
}

fn usage(problem: &str) -> ExitCode {
    eprintln!(
        "campaign: {problem}\nusage: campaign [--ops N] [--seed N] [--seeds N] [--rate F] [--retry-after S] [--secs S] [--faults KINDS] [--provider NAME] [--reconcile N] [--max-live N]"
    );
    ExitCode::from(2)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let mut options = CampaignOptions {
        max_duration: Duration::from_secs(3600),
        ..CampaignOptions::new(1, 1000)
    };
    let mut seeds = 1u64;
    let mut provider: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else {
            return usage(&format!("{flag} needs a value"));
        };
        let parsed = match flag.as_str() {
            "--ops" => value.parse().map(|v| options.ops = v).is_ok(),
            "--seed" => value.parse().map(|v| options.seed = v).is_ok(),
            "--seeds" => value.parse().map(|v| seeds = v).is_ok(),
            "--rate" => value
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .map(|v| options.fault_rate = v)
                .is_some(),
            "--reconcile" => value.parse().map(|v| options.reconcile_every = v).is_ok(),
            "--max-live" => value
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .map(|v| options.max_live = v)
                .is_some(),
            "--retry-after" => value.parse().map(|v| options.retry_after_secs = v).is_ok(),
            "--secs" => value
                .parse()
                .map(|v| options.max_duration = Duration::from_secs(v))
                .is_ok(),
            "--faults" => {
                let kinds: Option<Vec<ProxyFault>> = value.split(',').map(fault_kind).collect();
                kinds.map(|k| options.faults = k).is_some()
            }
            "--provider" => {
                provider = Some(value.clone());
                true
            }
            _ => return usage(&format!("unknown flag {flag}")),
        };
        if !parsed {
            return usage(&format!("{flag}: cannot use {value:?}"));
        }
    }
    let first = options.seed;
    let mut clean = true;
    let mut ran = false;
    for target in targets() {
        if provider.as_deref().is_some_and(|p| p != target.name()) {
            continue;
        }
        ran = true;
        for seed in first..first.saturating_add(seeds) {
            let options = CampaignOptions {
                seed,
                ..options.clone()
            };
            match run(target.as_ref(), &options).await {
                Ok(report) => {
                    println!("{report}");
                    if !report.is_clean() {
                        clean = false;
                        for finding in &report.findings {
                            println!("  {finding}");
                        }
                    }
                }
                Err(e) => {
                    eprintln!("campaign: {} seed {seed}: {e}", target.name());
                    clean = false;
                }
            }
        }
    }
    if !ran {
        return usage("no provider of that name");
    }
    if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
