//! `gpucloud up`: one command from nothing to an SSH-ready local instance.

use std::path::{Path, PathBuf};
use std::time::Duration;

use gpucloud::wait::RUNNING_SSH_TIMEOUT;
use gpucloud::{CreateInstanceAttrs, GetInstanceTypeArgs, Instance};
use tokio::io::AsyncReadExt;

use super::instances::{
    print_instance, remember, ssh_command_line, terminate_unhanded, wait_running_or_stop,
};
use super::{Ctx, client};
use crate::error::{CliError, CliResult};
use crate::interrupt::{Holding, Interrupts};
use crate::keys;

/// The tools the local provider runs, and the Debian package of each.
const TOOLS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("nft", "nftables"),
    ("sshd", "openssh-server"),
    ("ssh-keygen", "openssh-client"),
];
/// What `up` installs on Debian and Ubuntu when a tool is missing.
const PACKAGES: &[&str] = &["openssh-server", "nftables", "iproute2"];
/// How long a local instance may take to be running (they boot in about a second).
const LOCAL_BOOT_TIMEOUT: Duration = Duration::from_secs(120);
/// Directories searched for the tools besides `PATH` (sbin is often not on a user's `PATH`).
const EXTRA_DIRS: &[&str] = &["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

/// `gpucloud up`.
pub async fn up(
    ctx: &Ctx,
    ssh_key: Option<&Path>,
    name: Option<&str>,
    no_install: bool,
) -> CliResult {
    let explicit_key = ssh_key
        .map(|p| keys::read_public_key(p, "--ssh-key"))
        .transpose()?;
    if !is_root() {
        return Err(CliError::usage("gpucloud up starts a local instance, which needs root (network namespaces, nftables, sshd)")
            .hint("run it with sudo, or use a cloud provider: gpucloud instances create -p lambda --type ..."));
    }
    ensure_tools(ctx, no_install).await?;
    gpucloud::local::preflight()
        .map_err(|e| CliError::cloud("check the local provider's tools", &e))?;

    let entry = ctx.provider(gpucloud::local::DESCRIPTOR.name)?;
    let probe = client(&entry, "").await?;
    let mut offers = probe
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .map_err(|e| CliError::cloud("list local instance types", &e))?;
    offers.retain(|t| t.is_available);
    offers.sort_by(|a, b| (a.vcpu, &a.type_name).cmp(&(b.vcpu, &b.type_name)));
    let Some(offer) = offers.into_iter().next() else {
        return Err(CliError::failed(
            "the local provider offers no instance type right now",
        ));
    };

    let key = match explicit_key {
        Some(key) => key,
        None => keys::default_key(&ctx.dirs, ctx.out)?,
    };
    let client = client(&entry, &offer.location).await?;
    let attrs = CreateInstanceAttrs {
        name: name.map_or_else(|| "gpucloud-up".to_owned(), str::to_owned),
        ref_id: uuid::Uuid::new_v4().to_string(),
        instance_type: offer.type_name.as_str().to_owned(),
        location: offer.location.as_str().to_owned(),
        public_key: key.public_key.clone(),
        ..CreateInstanceAttrs::default()
    };
    let create = gpucloud::validate_create(&attrs, &client.create_features())
        .map_err(|e| CliError::cloud("create a local instance", &e))?;
    // From here a stop signal terminates what this command made, instead of leaving it.
    let interrupts = Interrupts::install(ctx.out)?;
    let provider = entry.descriptor.name.to_owned();
    interrupts.hold(Holding::Creating {
        provider: provider.clone(),
        ref_id: attrs.ref_id.clone(),
        what: format!("{} in {}", offer.type_name, offer.location),
    });
    let spinner = ctx
        .out
        .spinner(format!("creating a local {} instance", offer.type_name));
    // Never abandoned half-way, even on a signal: what it made must be known to be removed.
    let created = client.create_instance(create).await;
    spinner.finish_and_clear();
    let instance = created.map_err(|e| CliError::cloud("create a local instance", &e))?;
    let id = instance.cloud_id.clone();
    interrupts.hold(Holding::Instance {
        provider,
        id: id.to_string(),
    });
    remember(ctx, &entry, &instance, &key, &offer.location);
    if let Some(signal) = interrupts.received() {
        return Err(
            terminate_unhanded(ctx, &interrupts, signal, &entry, client.as_ref(), &id).await,
        );
    }
    let instance = wait_running_or_stop(
        ctx,
        &interrupts,
        &entry,
        client.as_ref(),
        &id,
        LOCAL_BOOT_TIMEOUT,
    )
    .await?;
    let stop = interrupts.token();
    let reachable = tokio::select! {
        reachable = wait_for_ssh(ctx, &instance) => reachable,
        () = stop.cancelled() => Ok(()),
    };
    if let Some(signal) = interrupts.received() {
        return Err(
            terminate_unhanded(ctx, &interrupts, signal, &entry, client.as_ref(), &id).await,
        );
    }
    reachable?;

    if ctx.out.is_json() {
        print_instance(ctx, entry.descriptor.name, &instance)?;
        interrupts.release();
        return Ok(());
    }
    let id = &instance.cloud_id;
    let ssh = ssh_command_line(&instance, key.private_path.as_deref()).unwrap_or_default();
    ctx.out.stdout(&format!(
        "Local instance {id} is ready. Connect with:\n  {ssh}\n  gpucloud ssh -p local {id}\nTerminate it with:\n  gpucloud instances terminate -p local {id}"
    ));
    interrupts.release();
    if key.private_path.is_none() {
        ctx.out.note(&format!(
            "The private key of {} was not found next to it; pass it to ssh with -i.",
            key.public_path.display()
        ));
    }
    Ok(())
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The path of `tool` in `PATH` or the usual system directories.
fn find_tool(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

/// True on Debian and its derivatives (Ubuntu, ...), from `/etc/os-release`.
fn is_debian_like() -> bool {
    let Ok(text) = std::fs::read_to_string("/etc/os-release") else {
        return false;
    };
    text.lines().any(|line| {
        let Some((key, value)) = line.split_once('=') else {
            return false;
        };
        let value = value.trim_matches('"').to_ascii_lowercase();
        matches!(key, "ID" | "ID_LIKE")
            && value
                .split_whitespace()
                .any(|id| id == "debian" || id == "ubuntu")
    })
}

/// Checks the local provider's tools, installing the missing ones with apt-get on Debian/Ubuntu.
async fn ensure_tools(ctx: &Ctx, no_install: bool) -> CliResult {
    let missing: Vec<&(&str, &str)> = TOOLS
        .iter()
        .filter(|(tool, _)| find_tool(tool).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(|(tool, _)| *tool).collect();
    let install = format!("apt-get install -y {}", PACKAGES.join(" "));
    if no_install || !is_debian_like() {
        return Err(CliError::failed(format!(
            "the local provider needs {}, which are not installed",
            names.join(", ")
        ))
        .hint(format!("install them (on Debian/Ubuntu: {install})")));
    }
    ctx.out.note(&format!(
        "{} not found; installing with: {install}",
        names.join(", ")
    ));
    let status = tokio::process::Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends"])
        .args(PACKAGES)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(std::process::Stdio::null())
        // apt's progress is for people: it goes to stderr, keeping stdout for data.
        .stdout(std::io::stderr())
        .status()
        .await
        .map_err(|e| CliError::failed(format!("cannot run apt-get: {e}")))?;
    if !status.success() {
        return Err(CliError::failed(format!("`{install}` failed ({status})"))
            .hint("run `apt-get update` first if the package lists are missing"));
    }
    let still: Vec<&str> = TOOLS
        .iter()
        .filter(|(tool, _)| find_tool(tool).is_none())
        .map(|(tool, _)| *tool)
        .collect();
    if !still.is_empty() {
        return Err(CliError::failed(format!(
            "{} still missing after installing {}",
            still.join(", "),
            PACKAGES.join(" ")
        )));
    }
    Ok(())
}

/// Waits until the instance's SSH port answers with an SSH banner.
async fn wait_for_ssh(ctx: &Ctx, instance: &Instance) -> CliResult {
    let port = if instance.ssh_port == 0 {
        22
    } else {
        instance.ssh_port
    };
    let addr = format!("{}:{port}", instance.public_ip);
    let spinner = ctx.out.spinner(format!("waiting for SSH on {addr}"));
    let deadline = tokio::time::Instant::now() + RUNNING_SSH_TIMEOUT;
    let result = loop {
        if ssh_banner(&addr).await {
            break Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            break Err(CliError::failed(format!(
                "instance {} is running but SSH on {addr} did not answer",
                instance.cloud_id
            ))
            .hint(format!(
                "check it with `gpucloud instances get -p local {}`",
                instance.cloud_id
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    spinner.finish_and_clear();
    result
}

/// True when `addr` accepts a connection and sends `SSH-` within two seconds.
async fn ssh_banner(addr: &str) -> bool {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).await.ok()?;
        Some(&buf == b"SSH-")
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), attempt).await,
        Ok(Some(true))
    )
}
