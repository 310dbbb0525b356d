//! `gpucloud validate -p P`: the conformance suite against a configured provider.

use std::io::IsTerminal;
use std::net::IpAddr;

use gpucloud::{ProviderDescriptor, SettingKind};
use gpucloud_conformance::{ALL_CHECKS, Target, creates_instances, run, test_instance_type};

use super::Ctx;
use crate::cli::ValidateArgs;
use crate::error::{CliError, CliResult};
use crate::output::price_text;

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
    if creates_instances(&target.options) && !runs_on_this_machine(ctx, entry.descriptor) {
        target = confirm_billing(ctx, args.yes, target, name).await?;
    }
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

/// Says which billable instances a run creates on a real cloud, and at what price, and asks
/// before any is created: unless `yes`, the user confirms on the terminal; without one, `yes`
/// is required. Returns the target pinned to the type and location it named.
async fn confirm_billing(ctx: &Ctx, yes: bool, target: Target, name: &str) -> CliResult<Target> {
    let interactive = std::io::stdin().is_terminal();
    if !yes && !interactive {
        return Err(CliError::usage(format!(
            "validate creates billable instances on {name}, a real cloud, and there is no \
             terminal to ask for confirmation on"
        ))
        .hint("pass --yes to confirm (or --only checks that create no instance)"));
    }
    let chosen = test_instance_type(&target)
        .await
        .map_err(|e| CliError::failed(format!("validate on {name}: {e}")))?;
    let what = billing_text(name, &chosen);
    let target = target
        .with_instance_type(chosen.type_name.as_str())
        .with_location(chosen.location.as_str());
    if yes {
        ctx.out.note(&what);
        return Ok(target);
    }
    eprint!("{what}. Continue? [y/N] ");
    let answer = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await
    .map_err(|e| CliError::failed(format!("cannot read the answer: {e}")))?
    .map_err(|e| CliError::failed(format!("cannot read the answer: {e}")))?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(target)
    } else {
        Err(CliError::failed(
            "validate: not confirmed; nothing was created",
        ))
    }
}

/// What a run creates and what it costs, for the confirmation.
fn billing_text(name: &str, chosen: &gpucloud::InstanceType) -> String {
    let price = match &chosen.base_price {
        Some(price) => format!("{}/h each", price_text(Some(price))),
        None => "a price the provider does not publish".to_owned(),
    };
    format!(
        "validate creates billable {name} instances of type {} in {} at {price}, and \
         terminates them when done (a run takes several minutes)",
        chosen.type_name, chosen.location
    )
}

/// True when the provider costs nothing to run instances on: the local provider, or a provider
/// whose every API endpoint is served on this machine (a fake). A provider that uses its
/// default endpoint is a real cloud.
fn runs_on_this_machine(ctx: &Ctx, descriptor: &ProviderDescriptor) -> bool {
    if descriptor.id == gpucloud::local::DESCRIPTOR.id {
        return true;
    }
    let settings = ctx.config.settings(descriptor);
    let mut hosts = Vec::new();
    for spec in descriptor.settings.iter().filter(|spec| !spec.secret) {
        let value = settings
            .get(spec.key)
            .map(|setting| setting.value().to_owned())
            .or_else(|| spec.default.map(str::to_owned));
        match (spec.kind, value) {
            // The provider's own endpoint.
            (SettingKind::Url, None) => return false,
            (SettingKind::Url, Some(url)) if !url.contains("://") => {
                hosts.push(host_of(&url).to_owned());
            }
            (_, Some(text)) => hosts.extend(url_hosts(&text).map(str::to_owned)),
            (_, None) => {}
        }
    }
    !hosts.is_empty() && hosts.iter().all(|host| is_loopback(host))
}

/// The host of every URL in `text` (`scheme://host...`, possibly several, e.g. a list of
/// `region=url` pairs).
fn url_hosts(text: &str) -> impl Iterator<Item = &str> {
    text.split("://").skip(1).map(host_of)
}

/// The host at the start of `rest` (what follows `scheme://`, or a bare `host:port`).
fn host_of(rest: &str) -> &str {
    let authority = rest
        .split(['/', '?', '#', ',', ' '])
        .next()
        .unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    if let Some(bracketed) = host_port.strip_prefix('[') {
        return bracketed.split(']').next().unwrap_or_default();
    }
    host_port.split(':').next().unwrap_or_default()
}

/// True for `localhost` and loopback addresses.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_read_from_urls_and_lists() {
        let hosts: Vec<&str> = url_hosts("http://127.0.0.1:8080/{region}/api").collect();
        assert_eq!(hosts, ["127.0.0.1"]);
        let hosts: Vec<&str> =
            url_hosts("us=http://localhost:1/x,eu=https://api.example.com/v1").collect();
        assert_eq!(hosts, ["localhost", "api.example.com"]);
        assert_eq!(host_of("[::1]:443/v1"), "::1");
        assert_eq!(host_of("user@10.0.0.1:22"), "10.0.0.1");
        assert!(url_hosts("gpu_1x_a10=0.75").next().is_none());
        assert!(is_loopback("::1") && is_loopback("127.0.0.9") && is_loopback("LOCALHOST"));
        assert!(!is_loopback("10.0.0.1") && !is_loopback("cloud.lambdalabs.com"));
    }

    #[test]
    fn the_confirmation_names_type_location_and_price() {
        let chosen = gpucloud::InstanceType {
            type_name: "gpu_1x_a10".into(),
            location: "us-west-1".into(),
            base_price: Some(gpucloud::Price::usd_cents(75)),
            ..gpucloud::InstanceType::default()
        };
        let text = billing_text("lambda", &chosen);
        assert!(
            text.contains("billable lambda instances of type gpu_1x_a10 in us-west-1 at $0.75/h"),
            "{text}"
        );
        let unpriced = gpucloud::InstanceType {
            base_price: None,
            ..chosen
        };
        assert!(billing_text("fluidstack", &unpriced).contains("does not publish"));
    }
}
