//! The system tools the provider drives, how they are found, and how they are run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use gpucloud_core::{CloudError, ErrorKind, Result, Retry};
use tokio::io::AsyncWriteExt as _;

use crate::PROVIDER_ID;

/// Directories searched after `PATH` (root's `sbin` directories are often missing from it).
const EXTRA_DIRS: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// The programs the provider needs, with the Debian package of each.
const REQUIRED: [(&str, &str); 8] = [
    ("ip", "iproute2"),
    ("nft", "nftables"),
    ("sshd", "openssh-server"),
    ("ssh-keygen", "openssh-client"),
    ("unshare", "util-linux"),
    ("mount", "mount"),
    ("hostname", "hostname"),
    ("sh", "dash"),
];

/// Absolute paths of the tools.
#[derive(Clone, Debug)]
pub(crate) struct Tools {
    pub(crate) ip: PathBuf,
    pub(crate) nft: PathBuf,
    pub(crate) sshd: PathBuf,
    pub(crate) ssh_keygen: PathBuf,
    pub(crate) unshare: PathBuf,
    pub(crate) sh: PathBuf,
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn find(name: &str) -> Option<PathBuf> {
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .filter(|d| d.is_absolute())
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

impl Tools {
    /// Checks for root and finds every tool; the error names what to install.
    pub(crate) fn discover() -> Result<Self> {
        if !rustix::process::geteuid().is_root() {
            return Err(CloudError::configuration(
                "the local provider must run as root: it creates network namespaces, veth pairs, \
                 a bridge and nftables rules (run the program as root, or choose another provider)",
            ));
        }
        let lookup: Vec<(&str, &str, Option<PathBuf>)> = REQUIRED
            .iter()
            .map(|(name, package)| (*name, *package, find(name)))
            .collect();
        let missing: Vec<(&str, &str)> = lookup
            .iter()
            .filter(|(_, _, path)| path.is_none())
            .map(|(n, p, _)| (*n, *p))
            .collect();
        if !missing.is_empty() {
            let names: Vec<String> = missing
                .iter()
                .map(|(n, p)| format!("`{n}` (Debian package {p})"))
                .collect();
            let packages: Vec<&str> = missing.iter().map(|(_, p)| *p).collect();
            return Err(CloudError::configuration(format!(
                "the local provider needs {} which {} not found in PATH or the sbin directories; \
                 install with: apt-get install -y {}",
                names.join(", "),
                if missing.len() == 1 { "was" } else { "were" },
                packages.join(" ")
            )));
        }
        let get = |name: &str| {
            lookup
                .iter()
                .find(|(n, _, _)| *n == name)
                .and_then(|(_, _, p)| p.clone())
                .unwrap_or_default()
        };
        let (ip, nft, sshd, ssh_keygen, unshare, sh) = (
            get("ip"),
            get("nft"),
            get("sshd"),
            get("ssh-keygen"),
            get("unshare"),
            get("sh"),
        );
        Ok(Self {
            ip,
            nft,
            sshd,
            ssh_keygen,
            unshare,
            sh,
        })
    }
}

/// An internal failure of a local operation (never retried automatically).
pub(crate) fn internal(operation: &'static str, message: impl Into<String>) -> CloudError {
    CloudError::provider(PROVIDER_ID, operation, ErrorKind::Internal, message)
        .with_retry(Retry::Never)
}

/// A file-system failure, naming what was being done.
pub(crate) fn io_error(
    operation: &'static str,
    what: impl std::fmt::Display,
    error: std::io::Error,
) -> CloudError {
    internal(operation, format!("{what}: {error}")).with_source(error)
}

fn command_line(program: &Path, args: &[&str]) -> String {
    let mut line = program.display().to_string();
    for arg in args {
        if arg.is_empty() || arg.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"') {
            let _ = write!(line, " {}", shell_quote(arg));
        } else {
            let _ = write!(line, " {arg}");
        }
    }
    line
}

/// Quotes `text` for a POSIX shell.
pub(crate) fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Runs a program to completion and returns its standard output. A non-zero exit is an error
/// naming the command, its exit status and its standard error.
pub(crate) async fn run(
    operation: &'static str,
    program: &Path,
    args: &[&str],
    input: Option<&str>,
) -> Result<String> {
    let line = command_line(program, args);
    tracing::debug!(command = %line, "running");
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            internal(operation, format!("could not start `{line}`: {e}")).with_source(e)
        })?;
    if let Some(input) = input
        && let Some(mut stdin) = child.stdin.take()
    {
        stdin.write_all(input.as_bytes()).await.map_err(|e| {
            internal(
                operation,
                format!("could not write the input of `{line}`: {e}"),
            )
            .with_source(e)
        })?;
        drop(stdin);
    }
    let output = child.wait_with_output().await.map_err(|e| {
        internal(operation, format!("could not wait for `{line}`: {e}")).with_source(e)
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr = stderr.trim();
        let status = output.status.code().map_or_else(
            || "was killed by a signal".to_owned(),
            |c| format!("exited with status {c}"),
        );
        return Err(internal(
            operation,
            if stderr.is_empty() {
                format!("`{line}` {status}")
            } else {
                format!("`{line}` {status}: {stderr}")
            },
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(
            command_line(Path::new("/sbin/ip"), &["link", "add", "x y"]),
            "/sbin/ip link add 'x y'"
        );
    }

    #[tokio::test]
    async fn failures_name_the_command_status_and_stderr() {
        let err = run(
            "test",
            Path::new("/bin/sh"),
            &["-c", "echo boom >&2; exit 3"],
            None,
        )
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("/bin/sh -c 'echo boom >&2; exit 3'"),
            "{text}"
        );
        assert!(text.contains("exited with status 3: boom"), "{text}");
        assert!(!err.is_retryable());
        let out = run("test", Path::new("/bin/cat"), &[], Some("hello"))
            .await
            .unwrap();
        assert_eq!(out, "hello");
        let err = run("test", Path::new("/nonexistent/tool"), &[], None)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("could not start `/nonexistent/tool`")
        );
    }
}
