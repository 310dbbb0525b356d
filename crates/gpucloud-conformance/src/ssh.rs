//! A small SSH client on russh: public-key login, one command per channel.
//!
//! Host keys are not verified: the test instance is fresh and its host key unknown; the suite
//! only uses the connection to observe the instance it created.

use std::sync::Arc;
use std::time::Duration;

use russh::ChannelMsg;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg};

use crate::target::SshKeySource;

/// The suite's key pair.
pub(crate) struct SshKey {
    private: Arc<PrivateKey>,
    public_openssh: String,
}

impl SshKey {
    /// Loads or generates the key.
    pub(crate) fn load(source: &SshKeySource) -> Result<Self, String> {
        let private = match source {
            SshKeySource::Generate => {
                let seed: [u8; 32] = rand::random();
                PrivateKey::from(Ed25519Keypair::from_seed(&seed))
            }
            SshKeySource::File(path) => {
                let key = PrivateKey::read_openssh_file(path)
                    .map_err(|e| format!("ssh key file {}: {e}", path.display()))?;
                if key.is_encrypted() {
                    return Err(format!(
                        "ssh key file {}: encrypted keys are not supported",
                        path.display()
                    ));
                }
                key
            }
        };
        let public_openssh = private
            .public_key()
            .to_openssh()
            .map_err(|e| format!("cannot encode the public key: {e}"))?;
        Ok(Self {
            private: Arc::new(private),
            public_openssh,
        })
    }

    /// The public key in OpenSSH format, for `CreateInstanceAttrs::public_key`.
    pub(crate) fn public_openssh(&self) -> &str {
        &self.public_openssh
    }
}

struct AcceptAnyHostKey;

impl russh::client::Handler for AcceptAnyHostKey {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        _key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// What a command printed and how it exited.
#[derive(Debug, Default)]
pub(crate) struct Output {
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    /// `None` when the server sent no exit status (e.g. killed by a signal).
    pub(crate) status: Option<u32>,
}

impl Output {
    pub(crate) fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// One line describing a failed command, for mismatches.
    pub(crate) fn describe(&self) -> String {
        let status = self.status.map_or_else(
            || "no exit status".to_owned(),
            |s| format!("exit status {s}"),
        );
        let stderr = self.stderr.trim();
        if stderr.is_empty() {
            status
        } else {
            format!("{status}, stderr: {}", truncate(stderr, 400))
        }
    }
}

/// `text` cut to at most `max` bytes, with `...` when something was cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    let cut = gpucloud_core::text::truncate(text, max);
    if cut.len() == text.len() {
        text.to_owned()
    } else {
        format!("{cut}...")
    }
}

/// An authenticated SSH connection.
pub(crate) struct Session {
    handle: russh::client::Handle<AcceptAnyHostKey>,
    target: String,
}

impl Session {
    /// Connects and logs in, within `timeout`.
    pub(crate) async fn connect(
        key: &SshKey,
        user: &str,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<Self, String> {
        let target = format!("{user}@{host}:{port}");
        let attempt = async {
            let config = Arc::new(russh::client::Config {
                inactivity_timeout: Some(Duration::from_secs(600)),
                ..russh::client::Config::default()
            });
            let mut handle = russh::client::connect(config, (host, port), AcceptAnyHostKey)
                .await
                .map_err(|e| format!("ssh {target}: connect: {e}"))?;
            let auth = handle
                .authenticate_publickey(
                    user,
                    PrivateKeyWithHashAlg::new(Arc::clone(&key.private), Some(HashAlg::Sha256)),
                )
                .await
                .map_err(|e| format!("ssh {target}: authenticate: {e}"))?;
            if !auth.success() {
                return Err(format!(
                    "ssh {target}: the server refused the suite's public key"
                ));
            }
            Ok(handle)
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(Ok(handle)) => Ok(Self { handle, target }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!("ssh {target}: no login within {timeout:?}")),
        }
    }

    /// Runs `command` and collects its output, within `timeout`.
    pub(crate) async fn exec(&self, command: &str, timeout: Duration) -> Result<Output, String> {
        let run = async {
            let mut channel = self
                .handle
                .channel_open_session()
                .await
                .map_err(|e| format!("ssh {}: open channel: {e}", self.target))?;
            channel
                .exec(true, command)
                .await
                .map_err(|e| format!("ssh {}: exec: {e}", self.target))?;
            let mut stdout = Vec::new();
            let mut stderr = Vec::new();
            let mut status = None;
            while let Some(message) = channel.wait().await {
                match message {
                    ChannelMsg::Data { data } => stdout.extend_from_slice(&data),
                    ChannelMsg::ExtendedData { data, ext: 1 } => stderr.extend_from_slice(&data),
                    ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
                    _ => {}
                }
            }
            Ok(Output {
                stdout: String::from_utf8_lossy(&stdout).into_owned(),
                stderr: String::from_utf8_lossy(&stderr).into_owned(),
                status,
            })
        };
        match tokio::time::timeout(timeout, run).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "ssh {}: `{}` did not finish within {timeout:?}",
                self.target,
                truncate(command, 80)
            )),
        }
    }

    /// Closes the connection politely.
    pub(crate) async fn close(self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

/// Connects and runs `echo connected` until it works or `timeout` passes (v1 `WaitForSSH`).
pub(crate) async fn wait_for_ssh(
    key: &SshKey,
    user: &str,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<Session, String> {
    let deadline = tokio::time::Instant::now() + timeout;
    let per_attempt = Duration::from_secs(30).min(timeout);
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let last_error = match Session::connect(key, user, host, port, per_attempt).await {
            Ok(session) => match session.exec("echo connected", per_attempt).await {
                Ok(out) if out.success() && out.stdout.trim() == "connected" => return Ok(session),
                Ok(out) => format!(
                    "`echo connected` gave {:?} ({})",
                    out.stdout.trim(),
                    out.describe()
                ),
                Err(e) => e,
            },
            Err(e) => e,
        };
        if tokio::time::Instant::now() + Duration::from_secs(1) >= deadline {
            return Err(format!(
                "SSH to {user}@{host}:{port} did not work within {timeout:?} ({attempts} attempts); last error: {last_error}"
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
