//! `gpucloud watch`: follows a server's events as they happen, and after a dropped connection
//! resumes where it was (`Last-Event-ID`): nothing missed, nothing printed twice.

use std::time::Duration;

use clap::Args;
use gpucloud_fleet::Event;
use reqwest::Method;

use crate::commands::Ctx;
use crate::commands::remote::Remote;
use crate::error::{CliError, CliResult};

/// Longest pause between reconnections.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(30);

/// Arguments of `gpucloud watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Start after this event id (0: every stored event) [default: only new events].
    #[arg(long, value_name = "ID")]
    pub after: Option<i64>,

    /// Only this instance's events.
    #[arg(long, value_name = "ID")]
    pub ref_id: Option<String>,

    /// Exit after printing this many events.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
}

/// Runs the command until interrupted (or `--count` events).
pub async fn watch(ctx: &Ctx, remote: &Remote, args: &WatchArgs) -> CliResult {
    if args.after.is_some_and(|a| a < 0) {
        return Err(CliError::usage("--after: must be 0 or more"));
    }
    if args.count == Some(0) {
        return Err(CliError::usage("--count: must be 1 or more"));
    }
    let mut last = match args.after {
        Some(after) => after,
        None => latest_id(remote).await?,
    };
    let mut printed = 0u64;
    let mut delay = Duration::from_millis(500);
    loop {
        let seen = last;
        match follow(ctx, remote, args, &mut last, &mut printed).await {
            Ok(Done::Counted) => return Ok(()),
            // The server ended the stream (it is stopping).
            Ok(Done::Ended) => delay = Duration::from_millis(500),
            Err(Failure::Fatal(error)) => return Err(error),
            Err(Failure::Dropped(reason)) => {
                ctx.out.note(&format!(
                    "connection lost ({reason}); resuming after event {last}"
                ));
                // A connection that delivered events was healthy: the backoff starts again.
                if last > seen {
                    delay = Duration::from_millis(500);
                }
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_RECONNECT_DELAY);
    }
}

/// The id of the newest stored event: where "only new events" starts.
async fn latest_id(remote: &Remote) -> CliResult<i64> {
    let mut after = 0;
    loop {
        let page: gpucloud_server::EventPage = remote
            .get(&format!("v1/events?after={after}&limit=1000"))
            .await?;
        if page.items.is_empty() {
            return Ok(after);
        }
        after = page.next_after;
    }
}

enum Done {
    Counted,
    Ended,
}

enum Failure {
    /// Stop: the server refused (bad token, bad request).
    Fatal(CliError),
    /// Try again with `Last-Event-ID`.
    Dropped(String),
}

/// One connection: prints events until it ends.
async fn follow(
    ctx: &Ctx,
    remote: &Remote,
    args: &WatchArgs,
    last: &mut i64,
    printed: &mut u64,
) -> Result<Done, Failure> {
    let url = remote.url("v1/events").map_err(Failure::Fatal)?;
    let response = remote
        .request(Method::GET, url)
        .header(reqwest::header::ACCEPT, "text/event-stream")
        .header("last-event-id", last.to_string())
        .send()
        .await
        .map_err(|e| Failure::Dropped(e.to_string()))?;
    let status = response.status();
    if status.is_server_error() {
        return Err(Failure::Dropped(format!("the server answered {status}")));
    }
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        return Err(Failure::Fatal(
            CliError::failed(format!(
                "the server refused the event stream ({status}): {}",
                text.trim()
            ))
            .hint(format!("with a token, set {}", gpucloud_server::TOKEN_ENV)),
        ));
    }
    let mut response = response;
    let mut frames = FrameBuffer::default();
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => return Ok(Done::Ended),
            Err(e) => return Err(Failure::Dropped(e.to_string())),
        };
        frames.push(&chunk);
        while let Some(data) = frames.next_data() {
            let event: Event = match serde_json::from_str(&data) {
                Ok(event) => event,
                Err(e) => {
                    tracing::warn!(error = %e, "an event that cannot be read was skipped");
                    continue;
                }
            };
            if event.id <= *last {
                continue;
            }
            *last = event.id;
            if args.ref_id.as_ref().is_some_and(|r| *r != event.ref_id) {
                continue;
            }
            print_event(ctx, &event).map_err(Failure::Fatal)?;
            *printed += 1;
            if args.count.is_some_and(|n| *printed >= n) {
                return Ok(Done::Counted);
            }
        }
    }
}

fn print_event(ctx: &Ctx, event: &Event) -> CliResult {
    if ctx.out.is_json() {
        // One JSON object per line, so that a reader can act on each as it comes.
        let line = serde_json::to_string(event)
            .map_err(|e| CliError::failed(format!("cannot encode an event as JSON: {e}")))?;
        ctx.out.stdout(&line);
        return Ok(());
    }
    ctx.out.stdout(&format!(
        "#{} {} {}: {} -> {} ({}){}",
        event.id,
        event.at,
        event.ref_id,
        event.from.as_deref().unwrap_or("-"),
        event.to,
        event.cause.as_str(),
        event
            .detail
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default(),
    ));
    Ok(())
}

/// Server-Sent Events framing: blank-line-separated frames, `data:` lines joined; comments
/// (keep-alives) and frames without data skipped.
#[derive(Debug, Default)]
struct FrameBuffer {
    text: String,
    /// Bytes of a UTF-8 character split across chunks.
    partial: Vec<u8>,
}

impl FrameBuffer {
    fn push(&mut self, chunk: &[u8]) {
        self.partial.extend_from_slice(chunk);
        match std::str::from_utf8(&self.partial) {
            Ok(text) => {
                self.text.push_str(text);
                self.partial.clear();
            }
            Err(e) => {
                let valid = e.valid_up_to();
                self.text
                    .push_str(&String::from_utf8_lossy(&self.partial[..valid]));
                self.partial.drain(..valid);
                if e.error_len().is_some() {
                    // Not a split character but bad bytes: drop them.
                    self.partial.clear();
                }
            }
        }
    }

    fn next_data(&mut self) -> Option<String> {
        loop {
            let normalized = self.text.replace("\r\n", "\n");
            if normalized.len() != self.text.len() {
                self.text = normalized;
            }
            let end = self.text.find("\n\n")?;
            let frame: String = self.text.drain(..end + 2).collect();
            let data: Vec<&str> = frame
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            if !data.is_empty() {
                return Some(data.join("\n"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_across_chunks_are_joined() {
        let mut frames = FrameBuffer::default();
        frames.push(b": keep-alive\n\nid: 3\nda");
        assert_eq!(frames.next_data(), None);
        frames.push(b"ta: {\"a\":1}\n\nid: 4\r\ndata: x\xc3");
        assert_eq!(frames.next_data().as_deref(), Some("{\"a\":1}"));
        assert_eq!(frames.next_data(), None);
        frames.push(b"\xa9\r\n\r\n");
        assert_eq!(frames.next_data().as_deref(), Some("x\u{e9}"));
    }
}
