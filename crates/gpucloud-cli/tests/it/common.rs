//! The harness: a Lambda fake on a background runtime and an isolated HOME.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use gpucloud_fakes::lambda::{FakeLambda, FakeLambdaOptions, FakeLambdaState};
use tempfile::TempDir;

/// A fake Lambda API and a private home directory for one test.
pub struct Harness {
    pub fake: FakeLambda,
    pub home: TempDir,
    // Dropped last: the fake's server task runs on it.
    _runtime: tokio::runtime::Runtime,
}

impl Harness {
    /// A fake with quick lifecycle timings.
    pub fn new() -> Self {
        Self::with_key(gpucloud_fakes::lambda::DEFAULT_API_KEY)
    }

    /// A fake that accepts only `api_key`.
    pub fn with_key(api_key: &str) -> Self {
        Self::with_options(api_key, Duration::from_millis(300))
    }

    /// A fake whose instances take `boot_delay` to become active.
    pub fn with_boot_delay(boot_delay: Duration) -> Self {
        Self::with_options(gpucloud_fakes::lambda::DEFAULT_API_KEY, boot_delay)
    }

    fn with_options(api_key: &str, boot_delay: Duration) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let options = FakeLambdaOptions {
            api_key: api_key.to_owned(),
            boot_delay,
            terminate_delay: Duration::from_millis(200),
            gone_after: Duration::from_secs(30),
            ..FakeLambdaOptions::default()
        };
        let fake = runtime.block_on(FakeLambda::start(options)).unwrap();
        let home = tempfile::tempdir().unwrap();
        Self {
            fake,
            home,
            _runtime: runtime,
        }
    }

    pub fn state(&self) -> &FakeLambdaState {
        self.fake.state()
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// `gpucloud` with a clean environment: this HOME, the fake's URL and key, and client rate
    /// limits lifted (the fake does not enforce Lambda's, and tests need not wait for them).
    pub fn cmd(&self) -> Command {
        let mut cmd = self.bare_cmd();
        cmd.env("LAMBDA_API_URL", self.fake.base_url())
            .env("LAMBDA_API_KEY", self.fake.api_key())
            .env("LAMBDA_REQUESTS_PER_SECOND", "1000")
            .env("LAMBDA_LAUNCH_INTERVAL_MS", "0");
        cmd
    }

    /// [`Harness::cmd`] as a plain process command, for a test that must signal the process.
    pub fn process_cmd(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("gpucloud"));
        cmd.env_clear()
            .env("HOME", self.home())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GPUCLOUD_LOCAL_STATE", self.home().join("local-state"))
            .env("LAMBDA_API_URL", self.fake.base_url())
            .env("LAMBDA_API_KEY", self.fake.api_key())
            .env("LAMBDA_REQUESTS_PER_SECOND", "1000")
            .env("LAMBDA_LAUNCH_INTERVAL_MS", "0");
        cmd
    }

    /// `gpucloud` with a clean environment and no provider credentials.
    pub fn bare_cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("gpucloud").unwrap();
        cmd.env_clear()
            .env("HOME", self.home())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GPUCLOUD_LOCAL_STATE", self.home().join("local-state"))
            .timeout(Duration::from_secs(120));
        cmd
    }

    /// Writes `~/.ssh/id_ed25519{,.pub}` with ssh-keygen and returns the public key path.
    pub fn user_key(&self) -> PathBuf {
        let dir = self.home().join(".ssh");
        std::fs::create_dir_all(&dir).unwrap();
        let private = dir.join("id_ed25519");
        let status = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
            .arg(&private)
            .status()
            .unwrap();
        assert!(status.success());
        dir.join("id_ed25519.pub")
    }

    /// `gpucloud instances create -p lambda --type <instance_type>` against the fake; add flags.
    pub fn create_cmd(&self, instance_type: &str) -> Command {
        let mut cmd = self.cmd();
        cmd.args([
            "instances",
            "create",
            "-p",
            "lambda",
            "--type",
            instance_type,
        ]);
        cmd
    }

    /// Writes a file under HOME.
    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.home().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Number of instances the fake holds.
    pub fn instance_count(&self) -> usize {
        self.state().instances().len()
    }
}

/// `instances create -p lambda --type`: the start of every create command the tests run.
pub const CREATE_LAMBDA: [&str; 5] = ["instances", "create", "-p", "lambda", "--type"];

/// Runs `cmd`, failing the test with its stderr unless it exits 0.
pub fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

/// stdout of a finished command as a string.
pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// stderr of a finished command as a string.
pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Parses stdout as JSON (failing the test with the output when it is not).
pub fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            stdout(output),
            stderr(output)
        )
    })
}
