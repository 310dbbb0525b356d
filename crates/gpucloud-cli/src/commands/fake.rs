//! `gpucloud fake lambda|fluidstack|nebius|shadeform|verda`: serve a provider fake until interrupted.

use std::time::Duration;

use gpucloud_fakes::fluidstack::{FakeFluidstack, FakeFluidstackOptions};
use gpucloud_fakes::lambda::{DEFAULT_API_KEY, FakeLambdaOptions, serve};
use gpucloud_fakes::nebius::{FakeNebius, FakeNebiusOptions};
use gpucloud_fakes::shadeform::{FakeShadeform, FakeShadeformOptions};
use gpucloud_fakes::verda::{FakeVerda, FakeVerdaOptions};

use crate::cli::FakeCommand;
use crate::error::{CliError, CliResult};
use crate::output::Out;

/// Runs a `fake` subcommand.
pub async fn run(out: Out, command: &FakeCommand) -> CliResult {
    match command {
        FakeCommand::Lambda {
            addr,
            latency_ms,
            boot_ms,
        } => {
            let mut options = FakeLambdaOptions {
                addr: *addr,
                latency: Duration::from_millis(*latency_ms),
                ..FakeLambdaOptions::default()
            };
            if let Some(boot) = boot_ms {
                options.boot_delay = Duration::from_millis(*boot);
            }
            let ready = |base_url: String| {
                // The first stdout line is the base URL, for scripts.
                out.stdout(&base_url);
                out.note(&format!(
                    "Fake Lambda Cloud API listening. Point gpucloud at it with:\n  \
                     export LAMBDA_API_URL={base_url} LAMBDA_API_KEY={DEFAULT_API_KEY}\n\
                     Stop it with Ctrl-C."
                ));
            };
            serve(options, ready, interrupted()).await.map_err(|e| {
                CliError::failed(format!("cannot serve the Lambda fake on {addr}: {e}"))
            })
        }
        FakeCommand::Fluidstack {
            addr,
            regions,
            latency_ms,
            boot_ms,
        } => {
            let mut options = FakeFluidstackOptions {
                addr: *addr,
                latency: Duration::from_millis(*latency_ms),
                ..FakeFluidstackOptions::default()
            };
            if !regions.is_empty() {
                options.regions.clone_from(regions);
            }
            if let Some(boot) = boot_ms {
                options.create_delay = Duration::from_millis(*boot);
                options.start_delay = Duration::from_millis(*boot);
            }
            let ready = |fake: &FakeFluidstack| {
                // The first stdout lines are the URL template and the project id, for scripts.
                out.stdout(&fake.url_template());
                out.stdout(&fake.project_id().to_string());
                let urls: Vec<String> = fake
                    .regions()
                    .iter()
                    .map(|r| format!("  {r}: {}", fake.base_url(r)))
                    .collect();
                out.note(&format!(
                    "Fake Fluidstack Infrastructure API listening, one base URL per region:\n{}\n\
                     Project {}. Point gpucloud at it with:\n  {}\n\
                     Stop it with Ctrl-C.",
                    urls.join("\n"),
                    fake.project_id(),
                    fake.exports().shell_line()
                ));
            };
            gpucloud_fakes::fluidstack::serve(options, ready, interrupted())
                .await
                .map_err(|e| {
                    CliError::failed(format!("cannot serve the Fluidstack fake on {addr}: {e}"))
                })
        }
        FakeCommand::Shadeform {
            addr,
            latency_ms,
            boot_ms,
        } => {
            let mut options = FakeShadeformOptions {
                addr: *addr,
                latency: Duration::from_millis(*latency_ms),
                ..FakeShadeformOptions::default()
            };
            if let Some(boot) = boot_ms {
                options.creating_delay = Duration::from_millis(*boot / 3);
                options.pending_provider_delay = Duration::from_millis(*boot - *boot / 3);
            }
            let ready = |fake: &FakeShadeform| {
                // The first stdout line is the base URL, for scripts.
                out.stdout(&fake.base_url());
                out.note(&format!(
                    "Fake Shadeform API listening. Point gpucloud at it with:\n  {}\n\
                     Stop it with Ctrl-C.",
                    fake.exports().shell_line()
                ));
            };
            gpucloud_fakes::shadeform::serve(options, ready, interrupted())
                .await
                .map_err(|e| {
                    CliError::failed(format!("cannot serve the Shadeform fake on {addr}: {e}"))
                })
        }
        FakeCommand::Verda {
            addr,
            latency_ms,
            boot_ms,
        } => {
            let mut options = FakeVerdaOptions {
                addr: *addr,
                latency: Duration::from_millis(*latency_ms),
                ..FakeVerdaOptions::default()
            };
            if let Some(boot) = boot_ms {
                options.ordered_delay = Duration::from_millis(*boot / 3);
                options.provisioning_delay = Duration::from_millis(*boot - *boot / 3);
                options.start_delay = Duration::from_millis(*boot);
            }
            let ready = |fake: &FakeVerda| {
                // The first stdout line is the base URL, for scripts.
                out.stdout(&fake.base_url());
                out.note(&format!(
                    "Fake Verda API listening. Point gpucloud at it with:\n  {}\n\
                     Stop it with Ctrl-C.",
                    fake.exports().shell_line()
                ));
            };
            gpucloud_fakes::verda::serve(options, ready, interrupted())
                .await
                .map_err(|e| {
                    CliError::failed(format!("cannot serve the Verda fake on {addr}: {e}"))
                })
        }
        FakeCommand::Nebius {
            addr,
            regions,
            credentials_file,
            latency_ms,
            boot_ms,
        } => {
            let mut options = FakeNebiusOptions {
                addr: *addr,
                latency: Duration::from_millis(*latency_ms),
                ..FakeNebiusOptions::default()
            };
            if !regions.is_empty() {
                options.regions.clone_from(regions);
            }
            if let Some(boot) = boot_ms {
                options.create_delay = Duration::from_millis(*boot);
                options.start_delay = Duration::from_millis(*boot);
            }
            // A file of our own in the temporary directory goes when the fake does; one the
            // user named stays.
            let (path, temporary) = match credentials_file {
                Some(path) => (path.clone(), false),
                None => (
                    std::env::temp_dir()
                        .join(format!("gpucloud-fake-nebius-{}.json", std::process::id())),
                    true,
                ),
            };
            let ready = |fake: &FakeNebius| {
                fake.write_credentials_file(&path)?;
                // The first stdout lines are the endpoint, the credentials file and the
                // tenant, for scripts.
                out.stdout(&fake.endpoint());
                out.stdout(&path.display().to_string());
                out.stdout(&fake.tenant_id());
                let projects: Vec<String> = fake
                    .regions()
                    .iter()
                    .map(|r| format!("  {r}: {}", fake.project_id(r).unwrap_or_default()))
                    .collect();
                out.note(&format!(
                    "Fake Nebius AI Cloud API listening on {}, projects:\n{}\n\
                     Point gpucloud at it with:\n  {}\n\
                     Stop it with Ctrl-C.",
                    fake.endpoint(),
                    projects.join("\n"),
                    fake.exports(Some(&path)).shell_line()
                ));
                Ok(())
            };
            let served = gpucloud_fakes::nebius::serve(options, ready, interrupted()).await;
            if temporary {
                let _ = std::fs::remove_file(&path);
            }
            served.map_err(|e| {
                CliError::failed(format!("cannot serve the Nebius fake on {addr}: {e}"))
            })
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn interrupted() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}
