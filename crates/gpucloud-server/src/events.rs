//! `GET /v1/events`: Server-Sent Events resumable with `Last-Event-ID`, or a page of events
//! for a poller.
//!
//! The stream subscribes to live events *before* it reads the store after the caller's last
//! id, so nothing committed in between is lost; a live event is sent only when its id follows
//! the last one sent, and a gap (a lagging subscriber, or events published out of order) is
//! filled from the store, so nothing is repeated either.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use gpucloud_fleet::{Event, Fleet};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;
use crate::query::Params;
use crate::routes::AppState;

/// Events read from the store at once while catching up.
const CATCH_UP_BATCH: u32 = 500;
/// Events per poll page by default.
const DEFAULT_POLL_LIMIT: u32 = 100;

/// A page of events for a poller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventPage {
    /// The events after the one asked for, oldest first.
    pub items: Vec<Event>,
    /// The `after` of the next poll: the last id here, or the one asked for when none is new.
    pub next_after: i64,
}

/// The handler: a stream when the caller accepts `text/event-stream`, a page otherwise.
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(raw.as_deref(), &["after", "limit"])?;
    let after_param = params.parsed::<i64>("after", "an event id (0 for the first)")?;
    let wants_stream = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if wants_stream {
        let last_event_id = headers
            .get("last-event-id")
            .map(|v| {
                v.to_str()
                    .ok()
                    .and_then(|s| s.trim().parse::<i64>().ok())
                    .filter(|id| *id >= 0)
                    .ok_or_else(|| ApiError::invalid("Last-Event-ID", "expected an event id"))
            })
            .transpose()?;
        if params.one("limit")?.is_some() {
            return Err(ApiError::invalid("limit", "applies to the poll form only"));
        }
        // The header (set by a reconnecting client) wins over the query's starting point.
        let after = last_event_id.or(after_param).unwrap_or(0);
        if after < 0 {
            return Err(ApiError::invalid("after", "must be 0 or more"));
        }
        let stream = event_stream(state.fleet.clone(), after, state.shutdown.clone());
        return Ok(Sse::new(stream)
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
            .into_response());
    }
    let after = after_param.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::invalid("after", "must be 0 or more"));
    }
    let limit = params
        .parsed::<u32>("limit", "a number from 1 to 1000")?
        .unwrap_or(DEFAULT_POLL_LIMIT);
    if !(1..=gpucloud_fleet::model::MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be from 1 to 1000"));
    }
    let items = state.fleet.events_after(after, limit).await?;
    let next_after = items.last().map_or(after, |e| e.id);
    Ok(axum::Json(EventPage { items, next_after }).into_response())
}

/// Where the stream is.
struct Follower {
    fleet: Fleet,
    live: broadcast::Receiver<Event>,
    /// The last id sent (or the caller's).
    last: i64,
    /// Events read from the store, not yet sent.
    backlog: VecDeque<Event>,
    /// Read the store before waiting for live events.
    catching_up: bool,
    shutdown: CancellationToken,
}

impl Follower {
    /// The next event to send; `None` ends the stream (shutdown, or the store failing, after
    /// which the client resumes with `Last-Event-ID`).
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.backlog.pop_front() {
                if event.id <= self.last {
                    continue;
                }
                self.last = event.id;
                return Some(event);
            }
            if self.catching_up {
                match self.fleet.events_after(self.last, CATCH_UP_BATCH).await {
                    Ok(events) if events.is_empty() => self.catching_up = false,
                    Ok(events) => self.backlog.extend(events),
                    Err(error) => {
                        tracing::warn!(%error, last = self.last, "event stream ended: the store cannot be read");
                        return None;
                    }
                }
                continue;
            }
            let received = tokio::select! {
                () = self.shutdown.cancelled() => return None,
                received = self.live.recv() => received,
            };
            match received {
                Ok(event) if event.id <= self.last => {}
                Ok(event) if event.id == self.last + 1 => {
                    self.last = event.id;
                    return Some(event);
                }
                // A gap: what is missing is in the store (events are published after commit).
                Ok(_) | Err(RecvError::Lagged(_)) => self.catching_up = true,
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

/// The events after `after`, then live ones, until shutdown.
fn event_stream(
    fleet: Fleet,
    after: i64,
    shutdown: CancellationToken,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let follower = Follower {
        live: fleet.subscribe(),
        fleet,
        last: after,
        backlog: VecDeque::new(),
        catching_up: true,
        shutdown,
    };
    futures::stream::unfold(follower, |mut follower| async move {
        let event = follower.next().await?;
        let sse = SseEvent::default()
            .id(event.id.to_string())
            .json_data(&event)
            .unwrap_or_else(|error| {
                // An event is plain data; this does not happen, and a comment keeps the id.
                SseEvent::default()
                    .id(event.id.to_string())
                    .comment(format!("event not serializable: {error}"))
            });
        Some((Ok(sse), follower))
    })
}
