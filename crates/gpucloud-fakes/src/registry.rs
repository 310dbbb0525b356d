//! Every fake `gpucloud fake <name>` serves: one [`ServedFake`] per fake, listed in [`FAKES`].
//!
//! A fake's module describes how it is served (its name, help, the flags it takes beyond the
//! common ones, and what it prints once listening); the CLI builds its subcommands from this
//! table, so adding a fake is its module and one line in [`FAKES`].

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

/// What `gpucloud fake <name>` was given: the options every fake takes, and the ones only the
/// fakes that name them in [`ServedFake::extra_flags`] read.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on (the CLI accepts loopback only).
    pub addr: SocketAddr,
    /// Extra latency added to every response.
    pub latency: Duration,
    /// Time an instance takes to boot; `None` keeps the fake's default.
    pub boot: Option<Duration>,
    /// Regions to serve; empty keeps the fake's default ([`ExtraFlag::Regions`]).
    pub regions: Vec<String>,
    /// Where to write a credentials file ([`ExtraFlag::CredentialsFile`]).
    pub credentials_file: Option<PathBuf>,
}

/// A flag only some fakes take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtraFlag {
    /// `--region REGION`, repeatable; the text is its help line.
    Regions(&'static str),
    /// `--credentials-file PATH`; the text is its help line.
    CredentialsFile(&'static str),
}

/// What a fake prints once it listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// Lines for stdout, for scripts (the first is the base URL or endpoint).
    pub stdout: Vec<String>,
    /// The note for people: where it listens and what to export.
    pub note: String,
}

/// Called once with the [`Announcement`] when the fake listens.
pub type Announce<'a> = Box<dyn FnOnce(Announcement) + 'a>;

/// Completes when the fake should stop.
pub type Shutdown<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

/// Serves a fake until its shutdown completes.
pub type Serving<'a> = Pin<Box<dyn Future<Output = io::Result<()>> + 'a>>;

/// How one fake is served from the command line.
pub struct ServedFake {
    /// The subcommand, the provider's short name (e.g. `lambda`).
    pub name: &'static str,
    /// The name people know, for errors (e.g. `Lambda`).
    pub display_name: &'static str,
    /// The subcommand's help: what it serves and what it prints.
    pub about: &'static str,
    /// Help for `--latency-ms`.
    pub latency_help: &'static str,
    /// Help for `--boot-ms`.
    pub boot_help: &'static str,
    /// The flags it takes beyond `--addr`, `--latency-ms` and `--boot-ms`.
    pub extra_flags: &'static [ExtraFlag],
    /// Starts the fake, announces it and serves until shutdown.
    pub serve: for<'a> fn(&ServeOptions, Announce<'a>, Shutdown<'a>) -> Serving<'a>,
}

impl fmt::Debug for ServedFake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServedFake")
            .field("name", &self.name)
            .field("extra_flags", &self.extra_flags)
            .finish_non_exhaustive()
    }
}

/// Every fake `gpucloud fake` serves, in the order the CLI lists them.
pub static FAKES: &[&ServedFake] = &[
    &crate::lambda::SERVED,
    &crate::fluidstack::SERVED,
    &crate::shadeform::SERVED,
    &crate::verda::SERVED,
    &crate::launchpad::SERVED,
    &crate::aws_pricing::SERVED,
    #[cfg(feature = "nebius")]
    &crate::nebius::SERVED,
];

/// The fake served as `name`, if registered.
pub fn find(name: &str) -> Option<&'static ServedFake> {
    FAKES.iter().copied().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fake_is_found_by_its_own_name_only() {
        for fake in FAKES {
            let found = find(fake.name).map(|f| f.name);
            assert_eq!(found, Some(fake.name), "{} is registered twice", fake.name);
        }
        assert!(find("no-such-fake").is_none());
    }

    #[tokio::test]
    async fn a_served_fake_announces_its_base_url_first_and_stops_on_shutdown() {
        let fake = find("verda").expect("verda is registered");
        let announced = std::cell::RefCell::new(None);
        let options = ServeOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            latency: Duration::ZERO,
            boot: Some(Duration::from_millis(30)),
            regions: Vec::new(),
            credentials_file: None,
        };
        (fake.serve)(
            &options,
            Box::new(|a| *announced.borrow_mut() = Some(a)),
            Box::pin(async {}),
        )
        .await
        .expect("serves");
        let announced = announced.into_inner().expect("announced");
        assert!(announced.stdout[0].starts_with("http://127.0.0.1:"));
        assert!(announced.note.contains("VERDA_API_URL"));
    }
}
