//! `gpucloud ssh -p P ID [-- CMD...]`: runs the system `ssh` with the instance's user, address,
//! port and the key recorded at create, once the instance's SSH port answers.

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use gpucloud::{InstanceId, LifecycleStatus};

use super::{Ctx, client};
use crate::error::{CliError, CliResult};
use crate::output::ssh_endpoint;

/// Builds the `ssh` command; on success this process is replaced by `ssh` and never returns.
pub async fn ssh(
    ctx: &Ctx,
    provider: &str,
    id: &str,
    connect_timeout: Duration,
    command: &[String],
) -> CliResult {
    if id.trim().is_empty() {
        return Err(CliError::usage("the instance id must not be empty"));
    }
    let entry = ctx.provider(provider)?;
    let name = entry.descriptor.name;
    let record = ctx.store.get(entry.descriptor.id, id);
    let location = record
        .as_ref()
        .map(|r| r.location.clone())
        .unwrap_or_default();
    let client = client(&entry, &location).await?;
    let instance = client
        .get_instance(&InstanceId::new(id))
        .await
        .map_err(|e| CliError::cloud(&format!("get {name} instance {id}"), &e))?;
    let status = instance.lifecycle();
    let endpoint = ssh_endpoint(&instance).filter(|_| status == LifecycleStatus::Running);
    let Some((user, port)) = endpoint else {
        return Err(CliError::failed(format!(
            "{name} instance {id} is {status} and has no address to connect to yet"
        ))
        .hint(format!(
            "wait for it with `gpucloud instances get -p {name} {id} --wait`"
        )));
    };

    // Without a limit ssh waits on an address that drops packets for as long as the kernel
    // retries; with ConnectTimeout it gives up (connect and greeting both) and says so. No
    // probe of our own first: a connection that never logs in reads as an attack to sshd's
    // MaxStartups and to fail2ban.
    let seconds = connect_timeout.as_secs();
    ctx.out.note(&format!(
        "Connecting to {name} instance {id} at {}:{port} (giving up after {seconds} s)...",
        instance.public_ip
    ));

    let mut cmd = Command::new("ssh");
    cmd.arg("-p").arg(port.to_string());
    cmd.arg("-o").arg(format!("ConnectTimeout={seconds}"));
    if let Some(key) = record.and_then(|r| r.private_key).filter(|k| k.is_file()) {
        cmd.arg("-i").arg(key).args(["-o", "IdentitiesOnly=yes"]);
    } else {
        tracing::info!("no key file recorded for this instance; ssh uses its defaults");
    }
    // Instances are new hosts, and addresses get reused: trust the first host key per instance.
    if let Some(dir) = ctx.store.known_hosts_dir()
        && std::fs::create_dir_all(&dir).is_ok()
    {
        let file = dir.join(format!("{}-{}", entry.descriptor.id, sanitize(id)));
        cmd.arg("-o")
            .arg(format!("UserKnownHostsFile={}", file.display()));
        cmd.args(["-o", "StrictHostKeyChecking=accept-new"]);
    }
    cmd.arg(format!("{user}@{}", instance.public_ip));
    if !command.is_empty() {
        cmd.arg("--").args(command);
    }
    tracing::debug!(?cmd, "running ssh");
    let error = cmd.exec();
    Err(CliError::failed(format!("cannot run ssh: {error}")).hint("install openssh-client"))
}

/// Keeps `[A-Za-z0-9._-]` so an id is a safe file name.
fn sanitize(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}
