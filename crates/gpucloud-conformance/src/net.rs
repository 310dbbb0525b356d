//! TCP probes from this machine to the instance, and a listener the instance calls back to.

use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

/// What one connection attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Probe {
    /// The connection was accepted; the first bytes the peer sent (possibly empty).
    Open(String),
    /// The peer refused (RST) or the attempt failed at once.
    Refused(String),
    /// No answer within the timeout (dropped by a firewall).
    Silent,
}

/// One TCP connection to `host:port`, reading what the peer sends for a moment.
pub(crate) async fn probe(host: &str, port: u16, timeout: Duration) -> Probe {
    match tokio::time::timeout(timeout, TcpStream::connect((host, port))).await {
        Err(_) => Probe::Silent,
        Ok(Err(e)) => Probe::Refused(e.to_string()),
        Ok(Ok(mut stream)) => {
            let mut buf = vec![0u8; 256];
            let read = tokio::time::timeout(timeout, stream.read(&mut buf)).await;
            let banner = match read {
                Ok(Ok(n)) => String::from_utf8_lossy(&buf[..n]).trim().to_owned(),
                _ => String::new(),
            };
            Probe::Open(banner)
        }
    }
}

/// A listener on every interface of this machine that records the first line a peer sends.
pub(crate) struct CallbackListener {
    listener: TcpListener,
}

impl CallbackListener {
    pub(crate) async fn bind() -> Result<Self, String> {
        let listener = TcpListener::bind(("0.0.0.0", 0))
            .await
            .map_err(|e| format!("cannot listen on this machine for the egress check: {e}"))?;
        Ok(Self { listener })
    }

    pub(crate) fn port(&self) -> Result<u16, String> {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .map_err(|e| format!("listener address: {e}"))
    }

    /// Waits for connections until one sends `token` or `timeout` passes; returns what was
    /// received from whom.
    pub(crate) async fn expect(&self, token: &str, timeout: Duration) -> Result<String, String> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let accept = tokio::time::timeout_at(deadline, self.listener.accept()).await;
            let (mut stream, peer) = match accept {
                Err(_) => {
                    return Err(if seen.is_empty() {
                        format!("no connection arrived within {timeout:?}")
                    } else {
                        format!(
                            "connections arrived but none sent the token: {}",
                            seen.join("; ")
                        )
                    });
                }
                Ok(Err(e)) => return Err(format!("accept failed: {e}")),
                Ok(Ok(pair)) => pair,
            };
            let mut buf = vec![0u8; 256];
            let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or(0);
            let text = String::from_utf8_lossy(&buf[..n]).trim().to_owned();
            if text.contains(token) {
                return Ok(format!("{peer} sent the token"));
            }
            seen.push(format!("{peer} sent {text:?}"));
        }
    }
}
