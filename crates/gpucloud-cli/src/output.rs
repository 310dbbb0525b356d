//! Everything the CLI writes: data on stdout (tables or JSON), progress and notes on stderr.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use comfy_table::{ContentArrangement, Table, presets};
use gpucloud::{Instance, LifecycleStatus};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::cli::Format;
use crate::error::{CliError, CliResult};

/// Where output goes and how it looks.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    /// Table or JSON on stdout.
    pub format: Format,
    /// Errors only on stderr.
    pub quiet: bool,
}

impl Out {
    /// True when stdout takes JSON.
    pub fn is_json(self) -> bool {
        self.format == Format::Json
    }

    /// Prints `value` as pretty JSON on stdout.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> CliResult {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| CliError::failed(format!("cannot encode the output as JSON: {e}")))?;
        self.stdout(&text);
        Ok(())
    }

    /// Prints a line on stdout. A closed pipe is not an error.
    #[allow(clippy::unused_self)] // a method, so every write goes through `Out`
    pub fn stdout(self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// Prints a table on stdout.
    pub fn table(self, table: &Table) {
        let text = table.to_string();
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        self.stdout(&lines.join("\n"));
    }

    /// A note for people on stderr (hidden by `-q`).
    pub fn note(self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    /// A warning on stderr (hidden by `-q`).
    pub fn warn(self, text: &str) {
        if !self.quiet {
            eprintln!("warning: {text}");
        }
    }

    /// A spinner on stderr, hidden when stderr is not a terminal or with `-q`.
    pub fn spinner(self, message: String) -> ProgressBar {
        let target = if self.quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    }
}

/// Prints an error (and its hint) on stderr; errors are shown even with `-q`.
pub fn print_error(error: &CliError) {
    eprintln!("error: {}", error.message);
    if let Some(hint) = &error.hint {
        eprintln!("hint: {hint}");
    }
}

/// A plain table with a header row.
pub fn new_table<I, S>(header: I) -> Table
where
    I: IntoIterator<Item = S>,
    S: Into<comfy_table::Cell>,
{
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    table
}

/// `yes` or `no`, for a table cell.
pub fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

/// The text, or `-` when it is empty, for a table cell.
pub fn text_or_dash(text: &str) -> String {
    if text.is_empty() { "-" } else { text }.to_owned()
}

/// The items joined by `separator`, or `-` when there are none, for a table cell.
pub fn list_or_dash<S: AsRef<str>>(items: &[S], separator: &str) -> String {
    if items.is_empty() {
        return "-".to_owned();
    }
    items
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<&str>>()
        .join(separator)
}

/// The SSH user and port to log in with (`root` and 22 when the provider left them unset), or
/// `None` while the instance has no address.
pub fn ssh_endpoint(instance: &Instance) -> Option<(&str, u16)> {
    if instance.public_ip.is_empty() {
        return None;
    }
    let user = if instance.ssh_user.is_empty() {
        "root"
    } else {
        &instance.ssh_user
    };
    let port = if instance.ssh_port == 0 {
        22
    } else {
        instance.ssh_port
    };
    Some((user, port))
}

/// `user@ip:port`, or `-` while the instance has no address.
pub fn ssh_target(instance: &Instance) -> String {
    ssh_endpoint(instance).map_or_else(
        || "-".to_owned(),
        |(user, port)| format!("{user}@{}:{port}", instance.public_ip),
    )
}

/// One instance as a two-column table.
pub fn instance_table(provider: &str, instance: &Instance) -> Table {
    let mut table = new_table(["FIELD", "VALUE"]);
    let tags: Vec<String> = instance
        .tags
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let ports: Vec<String> = instance
        .firewall_rules
        .ingress_rules
        .iter()
        .map(|r| {
            let ports = if r.from_port == r.to_port {
                r.from_port.to_string()
            } else {
                format!("{}-{}", r.from_port, r.to_port)
            };
            let proto = r.protocol.map(|p| format!("/{p}")).unwrap_or_default();
            let from = if r.ip_ranges.is_empty() {
                String::new()
            } else {
                format!("@{}", r.ip_ranges.join(","))
            };
            format!("{ports}{proto}{from}")
        })
        .collect();
    let rows = [
        ("provider", provider.to_owned()),
        ("id", instance.cloud_id.to_string()),
        ("name", text_or_dash(&instance.name)),
        ("status", status_text(instance)),
        ("type", text_or_dash(&instance.instance_type)),
        ("location", text_or_dash(&instance.location)),
        ("public ip", text_or_dash(&instance.public_ip)),
        ("private ip", text_or_dash(&instance.private_ip)),
        ("ssh", ssh_target(instance)),
        ("ref id", text_or_dash(&instance.ref_id)),
        (
            "created",
            instance
                .created_at
                .map_or_else(|| "-".to_owned(), |t| t.to_string()),
        ),
        ("tags", list_or_dash(&tags, ", ")),
        ("open ports", list_or_dash(&ports, ", ")),
    ];
    for (field, value) in rows {
        table.add_row([field.to_owned(), value]);
    }
    table
}

/// The status with its first diagnostic message, if any.
pub fn status_text(instance: &Instance) -> String {
    let status = instance.status.lifecycle_status;
    match instance.status.messages.first() {
        Some(m) if status == LifecycleStatus::Failed => format!("{status} ({m})"),
        _ => status.to_string(),
    }
}

/// A price per hour for a table: `$2.49`, `2.49 EUR`, or `-` when unknown.
pub fn price_text(price: Option<&gpucloud::Price>) -> String {
    match price {
        Some(p) if p.currency == "USD" => format!("${}", p.rounded()),
        Some(p) => format!("{} {}", p.rounded(), p.currency),
        None => "-".to_owned(),
    }
}
