#![doc = include_str!("../README.md")]

mod args;
mod cli;
mod commands;
mod error;
mod failures;
mod interrupt;
mod keys;
mod output;

use std::process::ExitCode;

use clap::Parser;
use gpucloud::{Config, LoadOptions};
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};
use crate::commands::Ctx;
use crate::error::{CliError, CliResult};
use crate::keys::{Dirs, Store};
use crate::output::{Out, print_error};

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with status 2.
    let cli = Cli::parse();
    init_tracing(cli.global.quiet, cli.global.verbose);
    let out = Out {
        format: cli.global.output,
        quiet: cli.global.quiet,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            print_error(&CliError::failed(format!(
                "cannot start the async runtime: {e}"
            )));
            return ExitCode::from(error::EXIT_FAILED);
        }
    };
    match runtime.block_on(run(cli, out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            print_error(&e);
            ExitCode::from(e.code)
        }
    }
}

/// `-o json` for a command that prints no data: bad usage, not a silent table.
fn refuse_json(out: Out, command: &str) -> CliResult {
    if out.is_json() {
        return Err(CliError::usage(format!(
            "-o json: `gpucloud {command}` prints no data to format; leave -o out"
        )));
    }
    Ok(())
}

/// Logs go to stderr: warnings by default, more with `-v`, errors only with `-q`; RUST_LOG wins.
fn init_tracing(quiet: bool, verbose: u8) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes are for people; a file or pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(verbose > 1)
        .try_init();
}

async fn run(cli: Cli, out: Out) -> CliResult {
    let load = |global: &cli::GlobalArgs| -> CliResult<Ctx> {
        let options = LoadOptions {
            path: global.config.clone(),
            profile: global.profile.clone(),
        };
        let config = Config::load(&options).map_err(|e| CliError::cloud("configuration", &e))?;
        let dirs = Dirs::from_env();
        let store = Store::new(&dirs);
        Ok(Ctx {
            out,
            config,
            dirs,
            store,
        })
    };
    if let Some(url) = &cli.global.server {
        let remote = commands::remote::Remote::new(url)?;
        match &cli.command {
            Command::Instances(command) => {
                return commands::remote::instances(&load(&cli.global)?, &remote, command).await;
            }
            Command::Offers(args) => {
                return commands::remote::offers(&load(&cli.global)?, &remote, args).await;
            }
            Command::Launch(args) => {
                return commands::remote::launch(&load(&cli.global)?, &remote, args).await;
            }
            Command::Watch(args) => {
                return commands::watch::watch(&load(&cli.global)?, &remote, args).await;
            }
            Command::Serve(_) => {
                return Err(CliError::usage(
                    "--server: `serve` runs a server; leave --server out",
                ));
            }
            _ => {}
        }
    }
    match &cli.command {
        Command::Serve(args) => commands::serve::serve(&load(&cli.global)?, args).await,
        Command::Watch(_) => Err(CliError::usage(
            "watch: name the server with --server URL (or GPUCLOUD_SERVER)",
        )),
        Command::Providers => commands::providers::providers(&load(&cli.global)?).await,
        Command::Locations { provider } => {
            commands::providers::locations(&load(&cli.global)?, provider).await
        }
        Command::Types(args) => commands::types::types(&load(&cli.global)?, args).await,
        Command::Gpus(args) => commands::gpus::gpus(&load(&cli.global)?, args).await,
        Command::Offers(args) => commands::offers::offers(&load(&cli.global)?, args).await,
        Command::Launch(args) => commands::launch::launch(&load(&cli.global)?, args).await,
        Command::Instances(command) => commands::instances::run(&load(&cli.global)?, command).await,
        Command::Ssh {
            provider,
            id,
            connect_timeout,
            command,
        } => {
            refuse_json(out, "ssh")?;
            let timeout = std::time::Duration::from_secs(*connect_timeout);
            commands::ssh::ssh(&load(&cli.global)?, provider, id, timeout, command).await
        }
        Command::Validate(args) => commands::validate::validate(&load(&cli.global)?, args).await,
        Command::Fake(command) => {
            refuse_json(out, "fake")?;
            commands::fake::run(out, command).await
        }
        Command::Completions { shell } => {
            refuse_json(out, "completions")?;
            commands::config::completions(out, *shell);
            Ok(())
        }
        Command::Config(command) => {
            refuse_json(out, "config")?;
            commands::config::run(out, &cli.global, command)
        }
        Command::Up {
            ssh_key,
            name,
            no_install,
        } => {
            commands::up::up(
                &load(&cli.global)?,
                ssh_key.as_deref(),
                name.as_deref(),
                *no_install,
            )
            .await
        }
    }
}
