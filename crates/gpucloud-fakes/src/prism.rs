//! Starting Prism for the OpenAPI contract tests of the fakes and the providers: `prism proxy --errors` between a
//! client and a fake turns any response that breaks the description into a 500, and an
//! invalid request into a 4xx that never reaches the fake.
//!
//! Prism is looked for at `$GPUCLOUD_PRISM`, else `node_modules/.bin/prism` in this crate's
//! directory or any parent (the repository root, where `npm ci` installs it). A test is skipped with a message when Prism or its description
//! is missing, unless `CI` is set.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// `relative` in this crate's directory or the nearest parent that has it (descriptions under
/// `openapi/` are found this way).
pub fn find_up(relative: &str) -> Option<PathBuf> {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        let candidate = dir.join(relative);
        if candidate.exists() {
            return Some(candidate);
        }
        if !dir.pop() {
            return None;
        }
    }
}

/// A running `prism proxy`, killed on drop.
#[derive(Debug)]
pub struct Prism {
    child: tokio::process::Child,
    /// Prism's root URL; request paths are the description's, appended to the upstream URL.
    pub base: String,
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Starts `prism proxy --errors SPEC UPSTREAM` on a free port, or `None` (after saying why
/// the test is skipped) when Prism or the description is missing outside CI.
pub async fn start(spec: Option<PathBuf>, upstream: &str) -> Option<Prism> {
    let prism = std::env::var_os("GPUCLOUD_PRISM")
        .map(PathBuf::from)
        .or_else(|| find_up("node_modules/.bin/prism"));
    let (Some(prism), Some(spec)) = (prism, spec) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but prism or the OpenAPI description is missing"
        );
        eprintln!(
            "SKIPPED: the Prism contract test: node_modules/.bin/prism or the spec is missing"
        );
        return None;
    };
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().expect("an address").port()
    };
    let mut child = tokio::process::Command::new(prism)
        .args([
            "proxy",
            "--errors",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .arg(&spec)
        .arg(upstream)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("prism starts");
    let base = format!("http://127.0.0.1:{port}");
    // About 1.5 s on an idle machine; a loaded one shared with other builds takes far longer.
    for _ in 0..1200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(Prism { child, base });
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("prism exited before listening: {status}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("prism did not start listening on port {port}");
}
