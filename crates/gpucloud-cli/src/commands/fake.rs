//! `gpucloud fake <name>`: serve a registered provider fake until interrupted.

use gpucloud_fakes::registry::Announcement;

use crate::cli::FakeCommand;
use crate::error::{CliError, CliResult};
use crate::output::Out;

/// Runs a `fake` subcommand.
pub async fn run(out: Out, command: &FakeCommand) -> CliResult {
    let FakeCommand { fake, options } = command;
    let addr = options.addr;
    let announce = move |announcement: Announcement| {
        // The first stdout lines are for scripts (the base URL first).
        for line in &announcement.stdout {
            out.stdout(line);
        }
        out.note(&announcement.note);
    };
    (fake.serve)(options, Box::new(announce), Box::pin(interrupted()))
        .await
        .map_err(|e| {
            CliError::failed(format!(
                "cannot serve the {} fake on {addr}: {e}",
                fake.display_name
            ))
        })
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
