//! The machine side of an instance: the bridge, the network namespace and veth pair, the
//! nftables table, the cgroup, and the processes.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::net::Ipv4Addr;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use gpucloud_core::{FirewallRule, Result};
use rustix::process::{Pid, Signal};

use crate::cmd::{Tools, internal, io_error, run, shell_quote};
use crate::net::{self, Claim, Ipv4Net};
use crate::nft;
use crate::state::{ProcRef, id_hex};

/// `PATH` inside instances.
const INSTANCE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Where `ip netns` keeps its namespaces.
const NETNS_DIR: &str = "/run/netns";
/// How long processes get to exit after SIGTERM before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(3);
/// How long to wait for processes to vanish after SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// Where CPU and memory limits are written, if anywhere.
#[derive(Clone, Debug)]
pub(crate) enum Cgroups {
    /// cgroup v2: one directory per instance under `parent`.
    V2 {
        /// `/sys/fs/cgroup/gpucloud`.
        parent: PathBuf,
    },
    /// cgroup v1: one directory per instance under each controller's `gpucloud` directory.
    V1 {
        /// `/sys/fs/cgroup/cpu/gpucloud`.
        cpu: PathBuf,
        /// `/sys/fs/cgroup/memory/gpucloud`.
        memory: PathBuf,
    },
    /// Limits cannot be enforced here; they are nominal.
    Unavailable {
        /// Why.
        reason: String,
    },
}

fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

impl Cgroups {
    /// Finds a writable cgroup hierarchy with the cpu and memory controllers.
    pub(crate) fn detect() -> Self {
        let root = Path::new("/sys/fs/cgroup");
        if let Ok(controllers) = std::fs::read_to_string(root.join("cgroup.controllers")) {
            let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
            if !(has("cpu") && has("memory")) {
                return Self::Unavailable {
                    reason: format!(
                        "the cgroup v2 root offers only {:?}, not cpu and memory",
                        controllers.trim()
                    ),
                };
            }
            let parent = root.join("gpucloud");
            let setup = || -> std::io::Result<()> {
                std::fs::create_dir_all(&parent)?;
                write_file(&root.join("cgroup.subtree_control"), "+cpu +memory")?;
                write_file(&parent.join("cgroup.subtree_control"), "+cpu +memory")
            };
            return match setup() {
                Ok(()) => Self::V2 { parent },
                Err(e) => Self::Unavailable {
                    reason: format!("cannot prepare the cgroup v2 hierarchy: {e}"),
                },
            };
        }
        let cpu = root.join("cpu");
        let memory = root.join("memory");
        if cpu.join("cpu.cfs_quota_us").exists() && memory.join("memory.limit_in_bytes").exists() {
            let (cpu, memory) = (cpu.join("gpucloud"), memory.join("gpucloud"));
            return match std::fs::create_dir_all(&cpu)
                .and_then(|()| std::fs::create_dir_all(&memory))
            {
                Ok(()) => Self::V1 { cpu, memory },
                Err(e) => Self::Unavailable {
                    reason: format!("cannot create the cgroup v1 directories: {e}"),
                },
            };
        }
        Self::Unavailable {
            reason: "no cgroup hierarchy with the cpu and memory controllers is mounted".into(),
        }
    }

    /// True when limits are enforced.
    pub(crate) fn enforced(&self) -> bool {
        !matches!(self, Self::Unavailable { .. })
    }

    fn parents(&self) -> Vec<&Path> {
        match self {
            Self::V2 { parent } => vec![parent.as_path()],
            Self::V1 { cpu, memory } => vec![cpu.as_path(), memory.as_path()],
            Self::Unavailable { .. } => Vec::new(),
        }
    }

    fn dirs(&self, name: &str) -> Vec<PathBuf> {
        self.parents().into_iter().map(|p| p.join(name)).collect()
    }

    /// Creates the instance's cgroup with its limits; returns the `cgroup.procs` files the
    /// instance's first process joins.
    fn create(&self, name: &str, vcpu: u32, memory_bytes: u64) -> std::io::Result<Vec<PathBuf>> {
        let period = 100_000_u64;
        let quota = u64::from(vcpu) * period;
        match self {
            Self::V2 { parent } => {
                let dir = parent.join(name);
                std::fs::create_dir_all(&dir)?;
                write_file(&dir.join("cpu.max"), &format!("{quota} {period}"))?;
                write_file(&dir.join("memory.max"), &memory_bytes.to_string())?;
                Ok(vec![dir.join("cgroup.procs")])
            }
            Self::V1 { cpu, memory } => {
                let (cpu, memory) = (cpu.join(name), memory.join(name));
                std::fs::create_dir_all(&cpu)?;
                std::fs::create_dir_all(&memory)?;
                write_file(&cpu.join("cpu.cfs_period_us"), &period.to_string())?;
                write_file(&cpu.join("cpu.cfs_quota_us"), &quota.to_string())?;
                write_file(
                    &memory.join("memory.limit_in_bytes"),
                    &memory_bytes.to_string(),
                )?;
                Ok(vec![cpu.join("cgroup.procs"), memory.join("cgroup.procs")])
            }
            Self::Unavailable { .. } => Ok(Vec::new()),
        }
    }

    fn pids(&self, name: &str) -> Vec<i32> {
        self.dirs(name)
            .iter()
            .filter_map(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
            .flat_map(|text| {
                text.lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect()
    }

    /// Names of the instance cgroups present.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .parents()
            .into_iter()
            .filter_map(|p| std::fs::read_dir(p).ok())
            .flat_map(|rd| {
                rd.filter_map(std::result::Result::ok)
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// A process's state letter and start time, from `/proc/PID/stat`.
fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start_time = fields.get(19)?.parse().ok()?;
    Some((state, start_time))
}

/// True when the process is alive (not a zombie) and is the one recorded.
pub(crate) fn alive(proc_ref: ProcRef) -> bool {
    proc_stat(proc_ref.pid)
        .is_some_and(|(state, start)| start == proc_ref.start_time && state != 'Z' && state != 'X')
}

fn live_pid(pid: i32) -> bool {
    proc_stat(pid).is_some_and(|(state, _)| state != 'Z' && state != 'X')
}

/// Processes whose network namespace is the one mounted at `ns_path`.
fn pids_in_netns(ns_path: &Path) -> Vec<i32> {
    let Ok(target) = std::fs::metadata(ns_path) else {
        return Vec::new();
    };
    let Ok(proc_dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    proc_dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::metadata(format!("/proc/{pid}/ns/net"))
                .is_ok_and(|m| m.ino() == target.ino() && m.dev() == target.dev())
        })
        .collect()
}

fn signal(pids: &[i32], sig: Signal) {
    for pid in pids {
        if let Some(pid) = Pid::from_raw(*pid) {
            // The process may have exited meanwhile; that is the goal anyway.
            let _ = rustix::process::kill_process(pid, sig);
        }
    }
}

/// What an instance is given at boot.
pub(crate) struct BootFiles<'a> {
    /// The instance directory.
    pub(crate) dir: &'a Path,
    /// Host name.
    pub(crate) hostname: &'a str,
    /// Instance id.
    pub(crate) id: &'a str,
    /// Instance address.
    pub(crate) address: Ipv4Addr,
    /// Authorized public key (OpenSSH, one line).
    pub(crate) public_key: &'a str,
    /// Decoded user data, if any.
    pub(crate) user_data: Option<&'a [u8]>,
}

/// The machine's side of instances of one state directory.
#[derive(Clone, Debug)]
pub(crate) struct Host {
    pub(crate) tools: Tools,
    /// Short hash of the state directory, part of every device and namespace name.
    pub(crate) tag: String,
    pub(crate) subnet: Ipv4Net,
    pub(crate) bridge: String,
    pub(crate) cgroups: Cgroups,
}

impl Host {
    /// The instance's network namespace.
    pub(crate) fn namespace(&self, id: &str) -> String {
        format!("gpucloud-{}-{}", self.tag, id_hex(id))
    }

    /// The host end of the instance's veth pair.
    pub(crate) fn veth(id: &str) -> String {
        format!("gv{}", id_hex(id))
    }

    fn cgroup_name(&self, id: &str) -> String {
        format!("{}-{}", self.tag, id_hex(id))
    }

    fn namespace_path(&self, id: &str) -> PathBuf {
        Path::new(NETNS_DIR).join(self.namespace(id))
    }

    /// True when the instance's namespace exists.
    pub(crate) fn namespace_exists(&self, id: &str) -> bool {
        self.namespace_path(id).exists()
    }

    fn link_exists(name: &str) -> bool {
        Path::new("/sys/class/net").join(name).exists()
    }

    /// Ids of the instances whose namespaces of this state directory exist.
    pub(crate) fn namespaced_ids(&self) -> Vec<String> {
        let prefix = format!("gpucloud-{}-", self.tag);
        let Ok(listing) = std::fs::read_dir(NETNS_DIR) else {
            return Vec::new();
        };
        let mut ids: Vec<String> = listing
            .filter_map(|e| {
                e.ok()?
                    .file_name()
                    .to_str()?
                    .strip_prefix(&prefix)
                    .map(|hex| format!("local-{hex}"))
            })
            .collect();
        ids.sort();
        ids
    }

    /// Ids of the instances whose cgroups of this state directory exist.
    pub(crate) fn cgroup_ids(&self) -> Vec<String> {
        let prefix = format!("{}-", self.tag);
        self.cgroups
            .names()
            .into_iter()
            .filter_map(|n| n.strip_prefix(&prefix).map(|hex| format!("local-{hex}")))
            .collect()
    }

    /// Every route and address of this machine (IPv4).
    pub(crate) async fn claims(&self) -> Result<Vec<Claim>> {
        let routes = run(
            "new_client",
            &self.tools.ip,
            &["-j", "-4", "route", "show", "table", "all"],
            None,
        )
        .await?;
        let addrs = run(
            "new_client",
            &self.tools.ip,
            &["-j", "-4", "addr", "show"],
            None,
        )
        .await?;
        let mut claims = net::routes_from_json(&routes).map_err(|m| internal("new_client", m))?;
        claims.extend(net::addresses_from_json(&addrs).map_err(|m| internal("new_client", m))?);
        Ok(claims)
    }

    /// Makes sure the bridge exists, holds the host address and is up, repairing a bridge left
    /// half-made by an interrupted create, and attaches the veths of `attach` (instance ids) to it.
    pub(crate) async fn ensure_bridge(
        &self,
        operation: &'static str,
        attach: &[&str],
    ) -> Result<()> {
        let br = &self.bridge;
        let mut batch = String::new();
        if !Self::link_exists(br) {
            tracing::info!(bridge = %br, subnet = %self.subnet, "creating the instance bridge");
            let _ = writeln!(batch, "link add {br} type bridge");
        }
        let _ = writeln!(
            batch,
            "addr replace {}/{} dev {br}",
            self.subnet.host_address(),
            self.subnet.prefix()
        );
        let _ = writeln!(batch, "link set {br} up");
        run(operation, &self.tools.ip, &["-batch", "-"], Some(&batch)).await?;
        for id in attach {
            let veth = Self::veth(id);
            if !Self::link_exists(&veth) {
                continue;
            }
            let attached = run(
                operation,
                &self.tools.ip,
                &["link", "set", &veth, "master", br, "up"],
                None,
            )
            .await;
            // The kernel removes a veth asynchronously when its namespace is deleted, so one that
            // existed a moment ago may be gone now: then there is nothing to attach.
            if let Err(error) = attached
                && Self::link_exists(&veth)
            {
                return Err(error);
            }
        }
        Ok(())
    }

    /// Removes the bridge, if it exists.
    pub(crate) async fn remove_bridge(&self, operation: &'static str) -> Result<()> {
        if !Self::link_exists(&self.bridge) {
            return Ok(());
        }
        tracing::info!(bridge = %self.bridge, "removing the instance bridge");
        run(
            operation,
            &self.tools.ip,
            &["link", "del", &self.bridge],
            None,
        )
        .await
        .map(drop)
    }

    /// Writes the instance's files and its host key.
    pub(crate) async fn write_boot_files(&self, files: &BootFiles<'_>) -> Result<()> {
        let op = "create_instance";
        let dir = files.dir;
        let put = |name: &str, text: &[u8], mode: u32| -> Result<()> {
            let path = dir.join(name);
            let mut file = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(mode)
                .open(&path)
                .map_err(|e| io_error(op, format!("cannot write {}", path.display()), e))?;
            std::io::Write::write_all(&mut file, text)
                .map_err(|e| io_error(op, format!("cannot write {}", path.display()), e))
        };
        put(
            "authorized_keys",
            format!("{}\n", files.public_key.trim()).as_bytes(),
            0o600,
        )?;
        put(
            "sshd_config",
            sshd_config(files.id, files.address).as_bytes(),
            0o600,
        )?;
        put(
            "hostname",
            format!("{}\n", files.hostname).as_bytes(),
            0o644,
        )?;
        put(
            "hosts",
            format!(
                "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{}\t{}\n{}\tgpucloud-host\n",
                files.address,
                files.hostname,
                self.subnet.host_address()
            )
            .as_bytes(),
            0o644,
        )?;
        put(
            "resolv.conf",
            b"# gpucloud local instance: no DNS (no route leaves this machine)\n",
            0o644,
        )?;
        put(
            "boot.sh",
            boot_script(dir, files.hostname, &self.tools.sshd).as_bytes(),
            0o700,
        )?;
        for (name, mode) in [("root", 0o700), ("tmp", 0o1777)] {
            let path = dir.join(name);
            std::fs::create_dir_all(&path)
                .and_then(|()| {
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                })
                .map_err(|e| io_error(op, format!("cannot create {}", path.display()), e))?;
        }
        if let Some(user_data) = files.user_data {
            put("user-data", user_data, 0o700)?;
        }
        let key = dir.join("ssh_host_ed25519_key");
        let key_text = key.to_string_lossy().into_owned();
        let comment = format!("gpucloud-{}", files.id);
        run(
            op,
            &self.tools.ssh_keygen,
            &[
                "-q", "-t", "ed25519", "-N", "", "-C", &comment, "-f", &key_text,
            ],
            None,
        )
        .await
        .map(drop)
    }

    /// Creates the cgroup, the namespace, the veth pair on the bridge, the addresses and the
    /// firewall.
    pub(crate) async fn create_network(
        &self,
        id: &str,
        address: Ipv4Addr,
        vcpu: u32,
        memory_bytes: u64,
        ingress: &[FirewallRule],
    ) -> Result<()> {
        let op = "create_instance";
        let ns = self.namespace(id);
        let veth = Self::veth(id);
        let cgroup = self.cgroup_name(id);
        let cgroups = self.cgroups.clone();
        crate::state::blocking(op, move || {
            cgroups
                .create(&cgroup, vcpu, memory_bytes)
                .map(drop)
                .map_err(|e| io_error(op, "cannot create the instance's cgroup", e))
        })
        .await?;
        run(op, &self.tools.ip, &["netns", "add", &ns], None).await?;
        let host_batch = format!(
            "link add {veth} type veth peer name eth0 netns {ns}\nlink set {veth} master {br} up\n",
            br = self.bridge
        );
        run(op, &self.tools.ip, &["-batch", "-"], Some(&host_batch)).await?;
        let ns_batch = format!(
            "link set lo up\naddr add {address}/{prefix} dev eth0\nlink set eth0 up\n",
            prefix = self.subnet.prefix()
        );
        run(
            op,
            &self.tools.ip,
            &["-n", &ns, "-batch", "-"],
            Some(&ns_batch),
        )
        .await?;
        self.apply_firewall(op, id, ingress).await
    }

    /// Replaces the instance's nftables table.
    pub(crate) async fn apply_firewall(
        &self,
        operation: &'static str,
        id: &str,
        ingress: &[FirewallRule],
    ) -> Result<()> {
        let rules = nft::ruleset(self.subnet.host_address(), ingress)
            .map_err(|m| internal(operation, m))?;
        let ns = self.namespace(id);
        let nft = self.tools.nft.to_string_lossy().into_owned();
        run(
            operation,
            &self.tools.ip,
            &["netns", "exec", &ns, &nft, "-f", "-"],
            Some(&rules),
        )
        .await
        .map(drop)
    }

    /// Starts the instance: its first process joins the cgroup, enters the namespace, unshares
    /// UTS, mount and PID namespaces and runs `boot.sh`, which ends by becoming sshd.
    pub(crate) fn launch(&self, operation: &'static str, id: &str, dir: &Path) -> Result<ProcRef> {
        let procs: Vec<PathBuf> = self
            .cgroups
            .dirs(&self.cgroup_name(id))
            .into_iter()
            .map(|d| d.join("cgroup.procs"))
            .collect();
        let script = format!(
            "for f in \"$@\"; do echo $$ > \"$f\" || exit 1; done; \
             exec {ip} netns exec {ns} {unshare} --uts --mount --pid --fork --mount-proc --propagation slave {sh} {boot}",
            ip = shell_quote(&self.tools.ip.to_string_lossy()),
            ns = shell_quote(&self.namespace(id)),
            unshare = shell_quote(&self.tools.unshare.to_string_lossy()),
            sh = shell_quote(&self.tools.sh.to_string_lossy()),
            boot = shell_quote(&dir.join("boot.sh").to_string_lossy()),
        );
        let log_path = dir.join("console.log");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&log_path)
            .map_err(|e| io_error(operation, format!("cannot open {}", log_path.display()), e))?;
        let log2 = log
            .try_clone()
            .map_err(|e| io_error(operation, format!("cannot open {}", log_path.display()), e))?;
        let child = tokio::process::Command::new(&self.tools.sh)
            .arg("-c")
            .arg(script)
            .arg("gpucloud-launch")
            .args(&procs)
            .env_clear()
            .env("PATH", INSTANCE_PATH)
            .env("HOME", "/root")
            .env("LANG", "C.UTF-8")
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .process_group(0)
            .kill_on_drop(false)
            .spawn()
            .map_err(|e| {
                internal(operation, format!("cannot start the instance's init: {e}")).with_source(e)
            })?;
        let pid = child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .ok_or_else(|| {
                internal(
                    operation,
                    "the instance's init exited at once; see its console log",
                )
            })?;
        let (_, start_time) = proc_stat(pid).ok_or_else(|| {
            internal(
                operation,
                "the instance's init exited at once; see its console log",
            )
        })?;
        // Dropping the handle does not stop the process; tokio reaps it when it exits.
        drop(child);
        Ok(ProcRef { pid, start_time })
    }

    fn instance_pids(&self, id: &str, launcher: Option<ProcRef>) -> Vec<i32> {
        let mut pids = pids_in_netns(&self.namespace_path(id));
        pids.extend(self.cgroups.pids(&self.cgroup_name(id)));
        if let Some(l) = launcher.filter(|l| alive(*l)) {
            pids.push(l.pid);
        }
        let own = std::process::id();
        pids.retain(|p| u32::try_from(*p).is_ok_and(|p| p != own) && *p > 1 && live_pid(*p));
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    async fn wait_gone(&self, id: &str, launcher: Option<ProcRef>, grace: Duration) -> Vec<i32> {
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let left = self.instance_pids(id, launcher);
            if left.is_empty() || tokio::time::Instant::now() >= deadline {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops every process of the instance: SIGTERM, then SIGKILL after a grace period.
    pub(crate) async fn stop_processes(
        &self,
        operation: &'static str,
        id: &str,
        launcher: Option<ProcRef>,
    ) -> Result<()> {
        let pids = self.instance_pids(id, launcher);
        if pids.is_empty() {
            return Ok(());
        }
        tracing::debug!(instance = id, ?pids, "stopping processes");
        signal(&pids, Signal::TERM);
        let left = self.wait_gone(id, launcher, TERM_GRACE).await;
        if left.is_empty() {
            return Ok(());
        }
        tracing::warn!(instance = id, pids = ?left, "processes ignored SIGTERM; sending SIGKILL");
        signal(&left, Signal::KILL);
        let left = self.wait_gone(id, launcher, KILL_GRACE).await;
        if left.is_empty() {
            Ok(())
        } else {
            Err(internal(
                operation,
                format!("processes {left:?} of instance {id} are still running after SIGKILL"),
            ))
        }
    }

    /// Removes everything the instance has on the machine except its directory: processes, the
    /// veth pair, the namespace (with its nftables table) and the cgroup. Tolerates parts that
    /// are already gone; returns the first failure after trying every step.
    pub(crate) async fn teardown(
        &self,
        operation: &'static str,
        id: &str,
        launcher: Option<ProcRef>,
    ) -> Result<()> {
        let mut first_error = None;
        let mut note = |r: Result<()>| {
            if let Err(e) = r {
                tracing::warn!(instance = id, error = %e, "teardown step failed");
                first_error.get_or_insert(e);
            }
        };
        note(self.stop_processes(operation, id, launcher).await);
        let veth = Self::veth(id);
        if Self::link_exists(&veth) {
            note(
                run(operation, &self.tools.ip, &["link", "del", &veth], None)
                    .await
                    .map(drop),
            );
        }
        if self.namespace_exists(id) {
            note(
                run(
                    operation,
                    &self.tools.ip,
                    &["netns", "del", &self.namespace(id)],
                    None,
                )
                .await
                .map(drop),
            );
        }
        for dir in self.cgroups.dirs(&self.cgroup_name(id)) {
            note(remove_cgroup(operation, &dir).await);
        }
        first_error.map_or(Ok(()), Err)
    }
}

async fn remove_cgroup(operation: &'static str, dir: &Path) -> Result<()> {
    for _ in 0..50 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            // Busy while the kernel finishes tearing down exited processes.
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    std::fs::remove_dir(dir).map_err(|e| {
        io_error(
            operation,
            format!("cannot remove the cgroup {}", dir.display()),
            e,
        )
    })
}

/// Where the instance directory is bind-mounted inside the instance, before `/tmp` and `/root`
/// are replaced: every path sshd and the boot script use after that point is under it, so the
/// state directory may live anywhere (even under `/tmp`) and its path never reaches a config.
const INSIDE: &str = "/run/gpucloud";

/// The sshd configuration: key-only root login on the instance address.
fn sshd_config(id: &str, address: Ipv4Addr) -> String {
    format!(
        "# Written by gpucloud-local for instance {id}.\n\
         ListenAddress {address}\n\
         Port 22\n\
         HostKey {INSIDE}/ssh_host_ed25519_key\n\
         PidFile none\n\
         AuthorizedKeysFile {INSIDE}/authorized_keys\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PermitRootLogin prohibit-password\n\
         PermitUserEnvironment no\n\
         UsePAM no\n\
         StrictModes no\n\
         PrintMotd no\n\
         X11Forwarding no\n\
         Subsystem sftp internal-sftp\n"
    )
}

/// The instance's boot script. It runs as PID 1 of the instance's PID namespace, sets up the
/// host name and private mounts (`/run`, `/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`, and
/// the instance's own `/root` and `/tmp` from its directory), starts user data once in the
/// background, and becomes sshd.
fn boot_script(dir: &Path, hostname: &str, sshd: &Path) -> String {
    format!(
        "#!/bin/sh\n\
         # gpucloud local instance boot; its output goes to console.log.\n\
         set -eu\n\
         hostname {hostname}\n\
         mount -t tmpfs -o mode=0755,size=16m gpucloud-run /run\n\
         mkdir -m 0755 /run/sshd\n\
         mkdir -m 0700 {INSIDE}\n\
         mount --bind {dir} {INSIDE}\n\
         mount --bind {INSIDE}/hosts /etc/hosts\n\
         if [ -e /etc/hostname ]; then mount --bind {INSIDE}/hostname /etc/hostname; fi\n\
         resolv=$(readlink -m /etc/resolv.conf)\n\
         case \"$resolv\" in /run/*) mkdir -p \"$(dirname \"$resolv\")\"; : > \"$resolv\";; esac\n\
         mount --bind {INSIDE}/resolv.conf \"$resolv\"\n\
         mount --bind {INSIDE}/root /root\n\
         mount --bind {INSIDE}/tmp /tmp\n\
         if [ -e {INSIDE}/user-data ] && [ ! -e {INSIDE}/user-data.done ]; then\n\
         \x20 : > {INSIDE}/user-data.done\n\
         \x20 ( set +e; cd /root; echo \"gpucloud: user data started\"; {INSIDE}/user-data; echo \"gpucloud: user data exited with status $?\" ) </dev/null &\n\
         fi\n\
         echo \"gpucloud: starting sshd\"\n\
         exec {sshd} -D -e -f {INSIDE}/sshd_config\n",
        hostname = shell_quote(hostname),
        dir = shell_quote(&dir.to_string_lossy()),
        sshd = shell_quote(&sshd.to_string_lossy()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_script_runs_user_data_once_and_becomes_sshd() {
        let script = boot_script(
            Path::new("/var/lib/g's/local-1"),
            "web-1",
            Path::new("/usr/sbin/sshd"),
        );
        assert!(script.contains("hostname 'web-1'\n"));
        assert!(script.contains("mount --bind '/var/lib/g'\\''s/local-1' /run/gpucloud\n"));
        assert!(script.contains(
            "if [ -e /run/gpucloud/user-data ] && [ ! -e /run/gpucloud/user-data.done ]"
        ));
        assert!(
            script
                .trim_end()
                .ends_with("exec '/usr/sbin/sshd' -D -e -f /run/gpucloud/sshd_config")
        );
    }

    #[test]
    fn sshd_is_key_only() {
        let config = sshd_config("local-1", Ipv4Addr::new(10, 213, 0, 2));
        assert!(config.contains("ListenAddress 10.213.0.2\n"));
        assert!(config.contains("PasswordAuthentication no\n"));
        assert!(config.contains("KbdInteractiveAuthentication no\n"));
        assert!(config.contains("AuthorizedKeysFile /run/gpucloud/authorized_keys\n"));
    }

    #[test]
    fn proc_stat_reads_this_process() {
        let pid = i32::try_from(std::process::id()).unwrap();
        let (state, start) = proc_stat(pid).unwrap();
        assert!(state == 'R' || state == 'S');
        assert!(alive(ProcRef {
            pid,
            start_time: start
        }));
        assert!(!alive(ProcRef {
            pid,
            start_time: start + 1
        }));
    }
}
