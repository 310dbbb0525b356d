//! SIGINT, SIGTERM and SIGHUP while a command holds something it created and has not handed to
//! the user yet (`launch`, `instances create`, `up`).
//!
//! All three signals mean the same thing, so that `timeout`, a closed terminal or a process
//! manager stop a command as Ctrl-C does: the first asks the command to stop, and the command
//! terminates what it made before exiting with `128 + the signal's number`. A create that is in
//! flight is never abandoned half-way (what it made must be known to be removed). A second
//! signal stops at once, saying what is left and its id.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::CliError;
use crate::output::{Out, print_error};

/// A stop signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Int,
    /// SIGTERM (`kill`, `timeout`, a process manager).
    Term,
    /// SIGHUP (the terminal went away).
    Hup,
}

impl Signal {
    /// The conventional name, e.g. `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Int => "SIGINT",
            Self::Term => "SIGTERM",
            Self::Hup => "SIGHUP",
        }
    }

    /// The exit status a shell reports for a process this signal ended: 128 + its number.
    pub fn exit_code(self) -> u8 {
        128 + match self {
            Self::Hup => 1,
            Self::Int => 2,
            Self::Term => 15,
        }
    }
}

/// What the command has made and not handed to the user yet.
#[derive(Debug, Clone)]
pub enum Holding {
    /// A create request is in flight: whether it made an instance is not known yet.
    Creating {
        /// The provider's short name.
        provider: String,
        /// The RefID the instance would carry.
        ref_id: String,
        /// What is being created, e.g. `gpu_1x_a10 in us-west-1`.
        what: String,
    },
    /// An instance.
    Instance {
        /// The provider's short name.
        provider: String,
        /// Its id.
        id: String,
    },
}

impl Holding {
    /// What is left if the process stops now, and how to deal with it.
    fn left(&self) -> String {
        match self {
            Self::Creating {
                provider,
                ref_id,
                what,
            } => format!(
                "a create of {what} on {provider} was in flight and may have made an instance \
                 with RefID {ref_id}; look for it with `gpucloud instances list -p {provider}`"
            ),
            Self::Instance { provider, id } => format!(
                "instance {id} on {provider} may still be running; terminate it with \
                 `gpucloud instances terminate -p {provider} {id}`"
            ),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    received: Option<Signal>,
    holding: Option<Holding>,
}

/// Listens for the stop signals while it lives; see the module docs.
#[derive(Debug)]
pub struct Interrupts {
    cancel: CancellationToken,
    state: Arc<Mutex<State>>,
    listener: JoinHandle<()>,
}

impl Interrupts {
    /// Starts listening. From here on the signals no longer end the process by themselves.
    pub fn install(out: Out) -> Result<Self, CliError> {
        let listen = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|e| {
                CliError::failed(format!(
                    "cannot listen for {name}, so nothing is created: {e}"
                ))
            })
        };
        let mut int = listen(SignalKind::interrupt(), "SIGINT")?;
        let mut term = listen(SignalKind::terminate(), "SIGTERM")?;
        let mut hup = listen(SignalKind::hangup(), "SIGHUP")?;
        let cancel = CancellationToken::new();
        let state = Arc::new(Mutex::new(State::default()));
        let listener = tokio::spawn({
            let cancel = cancel.clone();
            let state = Arc::clone(&state);
            async move {
                loop {
                    let received = tokio::select! {
                        Some(()) = int.recv() => Signal::Int,
                        Some(()) = term.recv() => Signal::Term,
                        Some(()) = hup.recv() => Signal::Hup,
                        else => return,
                    };
                    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
                    if state.received.is_none() {
                        state.received = Some(received);
                        out.warn(&format!(
                            "{}: stopping; terminating what this command created \
                             (a second signal stops at once)",
                            received.name()
                        ));
                        cancel.cancel();
                        continue;
                    }
                    let left = state.holding.as_ref().map_or_else(
                        || "nothing of this command is left".to_owned(),
                        Holding::left,
                    );
                    print_error(&CliError::failed(format!(
                        "{} again: stopped before cleaning up; {left}",
                        received.name()
                    )));
                    std::process::exit(i32::from(received.exit_code()));
                }
            }
        });
        Ok(Self {
            cancel,
            state,
            listener,
        })
    }

    /// Cancelled by the first signal.
    pub fn token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// The first signal received, if any.
    pub fn received(&self) -> Option<Signal> {
        self.lock().received
    }

    /// Records what the command now holds (what a second signal reports as left).
    pub fn hold(&self, holding: Holding) {
        self.lock().holding = Some(holding);
    }

    /// Records that the command holds nothing: handed to the user, or removed.
    pub fn release(&self) {
        self.lock().holding = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Interrupts {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// The error a command stopped by `signal` exits with: 128 + the signal's number, saying what
/// became of what it made.
pub fn stopped(signal: Signal, outcome: impl std::fmt::Display) -> CliError {
    CliError {
        code: signal.exit_code(),
        message: format!("stopped by {}: {outcome}", signal.name()),
        hint: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_shells() {
        assert_eq!(Signal::Int.exit_code(), 130);
        assert_eq!(Signal::Term.exit_code(), 143);
        assert_eq!(Signal::Hup.exit_code(), 129);
    }

    #[test]
    fn what_is_left_names_the_id_or_the_ref_id() {
        let instance = Holding::Instance {
            provider: "lambda".into(),
            id: "i-1".into(),
        };
        assert!(
            instance
                .left()
                .contains("gpucloud instances terminate -p lambda i-1")
        );
        let creating = Holding::Creating {
            provider: "lambda".into(),
            ref_id: "r-1".into(),
            what: "gpu_1x_a10 in us-west-1".into(),
        };
        assert!(creating.left().contains("RefID r-1"));
    }
}
