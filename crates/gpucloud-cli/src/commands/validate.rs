//! `gpucloud validate -p P`: the conformance suite against a configured provider.

use gpucloud_conformance::{ALL_CHECKS, Target, run};

use super::Ctx;
use crate::cli::ValidateArgs;
use crate::error::{CliError, CliResult};

/// Runs the suite and prints its report; fails (exit 1) when any check fails or an instance
/// was left behind.
pub async fn validate(ctx: &Ctx, args: &ValidateArgs) -> CliResult {
    for (flag, names) in [("--only", &args.only), ("--skip", &args.skip)] {
        if let Some(unknown) = names.iter().find(|n| !ALL_CHECKS.contains(&n.as_str())) {
            return Err(CliError::usage(format!(
                "{flag}: unknown check `{unknown}`; the checks are {}",
                ALL_CHECKS.join(", ")
            )));
        }
    }
    let entry = ctx.provider(&args.provider)?;
    let name = entry.descriptor.name;
    // Some providers' instances are always reachable from here; others when the user says so.
    let reachable = args.ssh || entry.descriptor.ssh_reachable;
    let mut target = Target::new(entry.credential.clone()).with_reachable(reachable);
    if let Some(location) = &args.location {
        target = target.with_location(location.clone());
    }
    if let Some(instance_type) = &args.instance_type {
        target = target.with_instance_type(instance_type.clone());
    }
    target.options.only.clone_from(&args.only);
    target.options.skip.clone_from(&args.skip);
    if !reachable {
        ctx.out.note(&format!(
            "SSH, firewall and egress checks are skipped for {name}; pass --ssh if its instances are reachable from here."
        ));
    }
    let spinner = ctx.out.spinner(format!(
        "running the conformance checks on {name} (this creates and terminates instances)"
    ));
    let report = run(target).await;
    spinner.finish_and_clear();
    if ctx.out.is_json() {
        ctx.out.json(&report)?;
    } else {
        ctx.out.stdout(report.to_string().trim_end());
    }
    if report.is_success() {
        Ok(())
    } else {
        let mut message = format!(
            "{} of {} checks failed on {name}",
            report.failed(),
            report.checks.len()
        );
        if !report.leftovers.is_empty() {
            let ids: Vec<&str> = report
                .leftovers
                .iter()
                .map(gpucloud::InstanceId::as_str)
                .collect();
            message = format!("{message}; instances left behind: {}", ids.join(", "));
        }
        Err(CliError::failed(message))
    }
}
