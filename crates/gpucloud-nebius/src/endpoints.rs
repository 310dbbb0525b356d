//! Where each gRPC service is served: the per-service addresses Nebius publishes (over TLS),
//! or one address for all of them (a fake, a proxy; plain text only to loopback).

use std::net::IpAddr;
use std::time::Duration;

use gpucloud_core::{CloudError, Result};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use url::{Host, Url};

/// The services the provider calls, grouped by the host that serves them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    /// Instances, disks, images, platforms and their operations.
    Compute,
    /// Subnets, security groups and rules, and their operations.
    Vpc,
    /// Projects.
    Iam,
    /// The token exchange.
    Tokens,
    /// Quota allowances.
    Quotas,
    /// The price calculator.
    Calculator,
}

impl Service {
    const ALL: [Self; 6] = [
        Self::Compute,
        Self::Vpc,
        Self::Iam,
        Self::Tokens,
        Self::Quotas,
        Self::Calculator,
    ];

    /// The address Nebius publishes for the service (`endpoints.md` of Nebius's API
    /// definitions).
    pub(crate) fn published(self) -> &'static str {
        match self {
            Self::Compute => "https://compute.api.nebius.cloud:443",
            Self::Vpc => "https://vpc.api.nebius.cloud:443",
            Self::Iam => "https://cpl.iam.api.nebius.cloud:443",
            Self::Tokens => "https://tokens.iam.api.nebius.cloud:443",
            Self::Quotas => "https://quota-dispatcher.billing-cpl.api.nebius.cloud:443",
            Self::Calculator => "https://api.calculator.billing-data-plane.api.nebius.cloud:443",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Compute => 0,
            Self::Vpc => 1,
            Self::Iam => 2,
            Self::Tokens => 3,
            Self::Quotas => 4,
            Self::Calculator => 5,
        }
    }
}

/// The address of every service, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoints {
    addresses: [Url; 6],
}

/// True for an address that never leaves this machine.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Parses and checks one address: `https://host[:port]`, or `http://` to loopback only, so a
/// token never crosses a network in clear.
fn checked(text: &str) -> Result<Url> {
    let url = Url::parse(text.trim())
        .map_err(|e| CloudError::configuration(format!("{text:?} is not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(CloudError::configuration(format!(
                "{text:?}: plain http only to loopback (a fake); use https"
            )));
        }
        other => {
            return Err(CloudError::configuration(format!(
                "{text:?}: scheme {other:?} is neither https nor http"
            )));
        }
    }
    if url.host().is_none() {
        return Err(CloudError::configuration(format!("{text:?} has no host")));
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() {
        return Err(CloudError::configuration(format!(
            "{text:?}: a gRPC address has no path or query"
        )));
    }
    Ok(url)
}

impl Endpoints {
    /// The addresses Nebius publishes.
    pub(crate) fn published() -> Self {
        Self {
            addresses: Service::ALL.map(|s| Url::parse(s.published()).expect("a constant URL")),
        }
    }

    /// Every service at one address.
    pub(crate) fn single(address: &str) -> Result<Self> {
        let url = checked(address)?;
        Ok(Self {
            addresses: Service::ALL.map(|_| url.clone()),
        })
    }

    /// The address of `service`.
    pub(crate) fn address(&self, service: Service) -> &Url {
        &self.addresses[service.index()]
    }

    /// One lazily connected channel per distinct address (services on one host share it).
    /// Must run inside a tokio runtime: tonic spawns each channel's worker there.
    pub(crate) fn connect(&self, request_timeout: Duration) -> Result<Channels> {
        let mut made: Vec<(Url, Channel)> = Vec::new();
        let mut channels = Vec::with_capacity(Service::ALL.len());
        for service in Service::ALL {
            let url = self.address(service);
            if let Some((_, channel)) = made.iter().find(|(u, _)| u == url) {
                channels.push(channel.clone());
                continue;
            }
            let mut endpoint = Endpoint::from_shared(url.as_str().trim_end_matches('/').to_owned())
                .map_err(|e| CloudError::configuration(format!("{url}: {e}")))?
                .connect_timeout(request_timeout.min(Duration::from_secs(10)))
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(30));
            if url.scheme() == "https" {
                let tls = ClientTlsConfig::new()
                    .with_native_roots()
                    .domain_name(url.host_str().unwrap_or_default());
                endpoint = endpoint
                    .tls_config(tls)
                    .map_err(|e| CloudError::configuration(format!("TLS for {url}: {e}")))?;
            }
            let channel = endpoint.connect_lazy();
            made.push((url.clone(), channel.clone()));
            channels.push(channel);
        }
        Ok(Channels {
            channels: channels.try_into().map_err(|_| {
                CloudError::configuration("one channel per Nebius service was not made")
            })?,
        })
    }
}

/// A channel per service.
#[derive(Debug, Clone)]
pub(crate) struct Channels {
    channels: [Channel; 6],
}

impl Channels {
    /// The channel to `service` (cheap to clone).
    pub(crate) fn get(&self, service: Service) -> Channel {
        self.channels[service.index()].clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_addresses_are_tls_per_service() {
        let e = Endpoints::published();
        assert_eq!(
            e.address(Service::Compute).as_str(),
            "https://compute.api.nebius.cloud/"
        );
        assert_eq!(
            e.address(Service::Tokens).host_str(),
            Some("tokens.iam.api.nebius.cloud")
        );
        assert_eq!(
            e.address(Service::Quotas).host_str(),
            Some("quota-dispatcher.billing-cpl.api.nebius.cloud")
        );
        for s in Service::ALL {
            assert_eq!(e.address(s).scheme(), "https", "{s:?}");
        }
    }

    #[test]
    fn one_override_points_every_service_at_it() {
        let e = Endpoints::single("http://127.0.0.1:7001").unwrap();
        for s in Service::ALL {
            assert_eq!(e.address(s).as_str(), "http://127.0.0.1:7001/", "{s:?}");
        }
        assert!(Endpoints::single("http://[::1]:9").is_ok());
        assert!(Endpoints::single("http://localhost:9").is_ok());
        assert!(Endpoints::single("https://proxy.example.com:8443").is_ok());
    }

    #[test]
    fn plain_text_off_loopback_and_odd_addresses_are_refused() {
        for bad in [
            "http://10.0.0.1:80",
            "http://example.com",
            "ftp://127.0.0.1",
            "not a url",
            "https://example.com/api",
            "https://example.com?x=1",
        ] {
            assert!(Endpoints::single(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn services_on_one_host_share_a_channel() {
        let channels = Endpoints::single("http://127.0.0.1:9")
            .unwrap()
            .connect(Duration::from_secs(1))
            .unwrap();
        // Channels are opaque; making them without a server must not fail or connect.
        let _ = channels.get(Service::Compute);
        let _ = Endpoints::published()
            .connect(Duration::from_secs(1))
            .unwrap();
    }
}
