//! Everything the CLI writes: data on stdout (tables or JSON), progress and notes on stderr.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use comfy_table::{ColumnConstraint, ContentArrangement, Table, Width, presets};
use gpucloud::{Bytes, BytesUnit, Instance, LifecycleStatus};
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

/// The width tables are laid out for when the terminal does not say (a pipe, a file, or a
/// pty that reports 0 columns, as under `script` in CI).
pub const DEFAULT_WIDTH: u16 = 80;

/// The width to lay tables out for: `COLUMNS` when set to a number above 0, else the
/// terminal's width when it reports one above 0, else [`DEFAULT_WIDTH`].
pub fn table_width() -> u16 {
    let from_env = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|w| *w > 0);
    from_env
        .or_else(|| {
            terminal_size::terminal_size()
                .map(|(terminal_size::Width(w), _)| w)
                .filter(|w| *w > 0)
        })
        .unwrap_or(DEFAULT_WIDTH)
}

/// A plain table with a header row whose columns are all kept whole (ids, types and prices
/// never wrap or truncate); [`cut_to_fit`] lets free-text columns give way.
pub fn new_table<I, S>(header: I) -> Table
where
    I: IntoIterator<Item = S>,
    S: Into<comfy_table::Cell>,
{
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(table_width())
        .set_truncation_indicator("…")
        .set_header(header);
    for column in table.column_iter_mut() {
        column.set_constraint(ColumnConstraint::ContentWidth);
    }
    table
}

/// Lets the free-text columns `free` (by index) of a finished table give way to the terminal
/// width: each row keeps one line, and what does not fit is cut with `…`. With `wide` nothing
/// is laid out: every cell is shown in full, however wide.
pub fn cut_to_fit(table: &mut Table, free: &[usize], wide: bool) {
    if wide {
        table.set_content_arrangement(ContentArrangement::Disabled);
        return;
    }
    let header_widths: Vec<usize> = table.header().map_or_else(Vec::new, |header| {
        header
            .cell_iter()
            .map(|cell| cell.content().chars().count())
            .collect()
    });
    for index in free {
        // The header stays whole, and a cut column keeps a few characters and the `…`.
        let header = header_widths.get(*index).copied().unwrap_or(0);
        let content = u16::try_from(header.max(8)).unwrap_or(u16::MAX);
        if let Some(column) = table.column_mut(*index) {
            // A column's width counts its padding too.
            let least = content.saturating_add(column.padding_width());
            column.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(least)));
        }
    }
    for row in table.row_iter_mut() {
        row.max_height(1);
    }
}

/// The unit most of `sizes` are in (ignoring zeros), so that a table shows memory in one unit.
pub fn common_unit<'a>(sizes: impl IntoIterator<Item = &'a Bytes>) -> BytesUnit {
    let mut counts: Vec<(BytesUnit, usize)> = Vec::new();
    for size in sizes.into_iter().filter(|s| !s.is_zero()) {
        match counts.iter_mut().find(|(unit, _)| *unit == size.unit()) {
            Some((_, n)) => *n += 1,
            None => counts.push((size.unit(), 1)),
        }
    }
    counts
        .iter()
        .max_by_key(|(_, n)| *n)
        .map_or(BytesUnit::GB, |(unit, _)| *unit)
}

/// `size` in `unit` for a table cell (`80 GB`, `0.5 GiB`), or `-` when zero.
pub fn size_in(size: &Bytes, unit: BytesUnit) -> String {
    if size.is_zero() {
        return "-".to_owned();
    }
    if size.unit() == unit {
        return size.to_string();
    }
    let value = size.in_unit_f64(unit);
    // Whole units once a tenth no longer matters to anyone reading the table.
    if value >= 100.0 || (value - value.round()).abs() < 0.05 {
        format!("{value:.0} {unit}")
    } else {
        format!("{value:.1} {unit}")
    }
}

/// How long ago `since` was, in its two largest units: `45s`, `12m`, `3h05m`, `2d04h`; `-`
/// when unknown or in the future.
pub fn age_text(since: Option<jiff::Timestamp>, now: jiff::Timestamp) -> String {
    let Some(since) = since else {
        return "-".to_owned();
    };
    let seconds = now.as_second() - since.as_second();
    if seconds < 0 {
        return "-".to_owned();
    }
    duration_text(std::time::Duration::from_secs(seconds.unsigned_abs()))
}

/// A duration in its two largest units: `45s`, `12m`, `3h05m`, `2d04h`.
pub fn duration_text(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    if days > 0 {
        format!("{days}d{hours:02}h")
    } else if hours > 0 {
        format!("{hours}h{minutes:02}m")
    } else if minutes > 0 {
        format!("{minutes}m")
    } else {
        format!("{seconds}s")
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_share_the_common_unit() {
        let sizes = [
            Bytes::new(80, BytesUnit::GB),
            Bytes::new(40, BytesUnit::GB),
            Bytes::new(24, BytesUnit::GiB),
            Bytes::ZERO,
        ];
        let unit = common_unit(&sizes);
        assert_eq!(unit, BytesUnit::GB);
        assert_eq!(size_in(&sizes[0], unit), "80 GB");
        assert_eq!(size_in(&sizes[2], unit), "25.8 GB");
        assert_eq!(size_in(&Bytes::new(1, BytesUnit::TB), unit), "1000 GB");
        assert_eq!(
            size_in(&Bytes::new(1800, BytesUnit::GB), BytesUnit::GiB),
            "1676 GiB"
        );
        assert_eq!(size_in(&sizes[3], unit), "-");
    }

    #[test]
    fn durations_read_in_two_units() {
        assert_eq!(duration_text(Duration::from_secs(45)), "45s");
        assert_eq!(duration_text(Duration::from_secs(720)), "12m");
        assert_eq!(duration_text(Duration::from_secs(3 * 3600 + 300)), "3h05m");
        assert_eq!(
            duration_text(Duration::from_secs(2 * 86_400 + 4 * 3600)),
            "2d04h"
        );
        let now = jiff::Timestamp::from_second(1_000_000).unwrap();
        let before = jiff::Timestamp::from_second(1_000_000 - 90).unwrap();
        assert_eq!(age_text(Some(before), now), "1m");
        assert_eq!(age_text(Some(now), before), "-");
        assert_eq!(age_text(None, now), "-");
    }

    #[test]
    fn kept_columns_never_wrap_and_free_text_is_cut() {
        let id = "computeinstance-e00812345678901234567890";
        let reason = "InsufficientCapacity: ".to_owned() + &"no capacity ".repeat(20);
        let mut table = new_table(["ID", "TYPE", "LONG REASON"]);
        table.set_width(60);
        table.add_row([id, "gpu_8x_h100_sxm5", reason.as_str()]);
        cut_to_fit(&mut table, &[2], false);
        let text = table.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].contains("LONG REASON"),
            "the header stays whole: {text}"
        );
        assert!(
            lines[1].contains(id) && lines[1].contains("gpu_8x_h100_sxm5"),
            "{text}"
        );
        assert!(lines[1].trim_end().ends_with('…'), "{text}");

        let mut wide = new_table(["ID", "REASON"]);
        wide.set_width(60);
        wide.add_row([id, reason.as_str()]);
        cut_to_fit(&mut wide, &[1], true);
        assert!(wide.to_string().contains(reason.trim_end()), "{wide}");
    }
}
