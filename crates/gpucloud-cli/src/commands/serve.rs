//! `gpucloud serve`: the control plane (the fleet engine and its HTTP API) over every
//! configured provider, until SIGTERM or Ctrl-C; or one pass with `--once`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use gpucloud::configured_providers;
use gpucloud_fleet::{Database, Fleet, FleetConfig, FleetCredential};
use gpucloud_server::{DEFAULT_ADDR, Server, ServerConfig, TOKEN_ENV};
use secrecy::SecretString;

use crate::args;
use crate::commands::Ctx;
use crate::error::{CliError, CliResult, EXIT_PARTIAL};

/// Arguments of `gpucloud serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The fleet's database: a SQLite file path, `sqlite://PATH` or `sqlite::memory:`
    /// [default: $XDG_STATE_HOME/gpucloud/fleet.sqlite3, else ~/.local/state/gpucloud/].
    #[arg(long, value_name = "PATH_OR_URL")]
    pub database: Option<String>,

    /// Address to serve the API on. Any address but a loopback one needs a bearer token
    /// (GPUCLOUD_SERVER_TOKEN or --token-file).
    #[arg(long, value_name = "ADDR", default_value_t = DEFAULT_ADDR)]
    pub addr: SocketAddr,

    /// A file holding the bearer token every request must carry (chmod 600); wins over
    /// GPUCLOUD_SERVER_TOKEN.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// One inventory, status and reconcile pass, printed, then exit (for cron and tests);
    /// no API is served.
    #[arg(long)]
    pub once: bool,

    /// Seconds between status passes of a partition.
    #[arg(long, value_name = "SECS", default_value_t = 5, value_parser = args::parse_secs)]
    pub status_interval: u64,
}

/// Runs the command.
pub async fn serve(ctx: &Ctx, args: &ServeArgs) -> CliResult {
    // Everything local is checked before the database is opened or anything is served.
    let database = database(args.database.as_deref())?;
    let server_config = if args.once {
        None
    } else {
        let mut config = ServerConfig::new(args.addr);
        if let Some(token) = token(args)? {
            config = config.with_token(token);
        }
        config
            .validate()
            .map_err(|e| CliError::usage(format!("--addr: {e}")))?;
        Some(config)
    };
    let entries =
        configured_providers(&ctx.config).map_err(|e| CliError::cloud("configuration", &e))?;
    if entries.is_empty() {
        return Err(
            CliError::usage("no provider is configured: the fleet would watch nothing")
                .hint(ctx.setup_hint()),
        );
    }
    let credentials = entries
        .into_iter()
        .map(|e| FleetCredential::new(e.descriptor.name, e.descriptor.name, e.credential))
        .collect();
    let mut fleet_config = FleetConfig::new(database, credentials);
    fleet_config.status_interval = Duration::from_secs(args.status_interval);
    let fleet = Fleet::open(fleet_config)
        .await
        .map_err(|e| CliError::failed(format!("cannot open the fleet: {e}")))?;

    let Some(server_config) = server_config else {
        let pass = fleet.run_once().await;
        fleet.close().await;
        let report = pass.map_err(|e| CliError::failed(format!("the pass failed: {e}")))?;
        if ctx.out.is_json() {
            ctx.out.json(&report)?;
        } else {
            ctx.out.stdout(&format!(
                "inventories read {}, failed {}; partitions listed {}, failed {}; instances reconciled {}; events {}",
                report.inventories_read,
                report.inventories_failed,
                report.partitions_listed,
                report.partitions_failed,
                report.instances_reconciled,
                report.events,
            ));
        }
        if report.inventories_failed + report.partitions_failed > 0 {
            return Err(CliError {
                code: EXIT_PARTIAL,
                message: "some providers could not be read (see the counts above)".into(),
                hint: None,
            });
        }
        return Ok(());
    };

    let server = match Server::bind(&server_config).await {
        Ok(server) => server,
        Err(e) => {
            fleet.close().await;
            return Err(CliError::failed(e.to_string()));
        }
    };
    // The first stdout line is the API's base URL, for people and for scripts.
    ctx.out.stdout(&format!("http://{}", server.local_addr()));
    server
        .run(fleet, gpucloud_server::terminate_signal())
        .await
        .map_err(|e| CliError::failed(e.to_string()))
}

/// The token: `--token-file`, else the environment.
fn token(args: &ServeArgs) -> CliResult<Option<SecretString>> {
    if let Some(path) = &args.token_file {
        return gpucloud_server::read_token_file(path)
            .map(Some)
            .map_err(|e| CliError::usage(format!("--token-file: {e}")));
    }
    Ok(std::env::var(TOKEN_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .map(|t| SecretString::from(t.trim().to_owned())))
}

/// `--database`: a path or a SQLite URL; the state directory's file when absent.
fn database(arg: Option<&str>) -> CliResult<Database> {
    let Some(text) = arg.map(str::trim) else {
        return state_dir()
            .map(|dir| Database::in_state_dir(&dir))
            .ok_or_else(|| {
                CliError::usage("--database: no state directory (HOME is not set); name a file")
            });
    };
    if text.is_empty() {
        return Err(CliError::usage("--database: must not be empty"));
    }
    if text == "sqlite::memory:" {
        return Ok(Database::SqliteInMemory);
    }
    if let Some(path) = text
        .strip_prefix("sqlite://")
        .or_else(|| text.strip_prefix("sqlite:"))
    {
        if path.is_empty() {
            return Err(CliError::usage("--database: the sqlite URL names no file"));
        }
        return Ok(Database::Sqlite(PathBuf::from(path)));
    }
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        return Err(CliError::usage(
            "--database: Postgres is not supported yet; use a SQLite file",
        ));
    }
    if let Some((scheme, _)) = text.split_once("://") {
        return Err(CliError::usage(format!(
            "--database: unknown scheme `{scheme}`; use a path, sqlite://PATH or sqlite::memory:"
        )));
    }
    Ok(Database::Sqlite(PathBuf::from(text)))
}

/// `$XDG_STATE_HOME/gpucloud`, else `~/.local/state/gpucloud`.
fn state_dir() -> Option<PathBuf> {
    let non_empty = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    non_empty("XDG_STATE_HOME")
        .map(|d| PathBuf::from(d).join("gpucloud"))
        .or_else(|| non_empty("HOME").map(|h| PathBuf::from(h).join(".local/state/gpucloud")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_paths_and_urls() {
        assert!(matches!(
            database(Some("sqlite::memory:")),
            Ok(Database::SqliteInMemory)
        ));
        for (text, path) in [
            ("/var/lib/f.db", "/var/lib/f.db"),
            ("sqlite:///var/lib/f.db", "/var/lib/f.db"),
            ("sqlite:rel.db", "rel.db"),
        ] {
            match database(Some(text)) {
                Ok(Database::Sqlite(p)) => assert_eq!(p, PathBuf::from(path), "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        for bad in ["", "postgres://db/fleet", "mysql://x", "sqlite://"] {
            let error = database(Some(bad)).unwrap_err();
            assert_eq!(error.code, crate::error::EXIT_USAGE, "{bad}");
            assert!(
                error.message.starts_with("--database"),
                "{bad}: {}",
                error.message
            );
        }
    }
}
