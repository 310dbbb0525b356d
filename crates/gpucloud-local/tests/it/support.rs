//! Shared test fixtures: the crate's `testing` host per test (state directory, subnet, key,
//! OpenSSH helpers) and asserts that nothing of an instance is left on the machine.

use std::net::Ipv4Addr;
use std::path::Path;

use gpucloud_core::{Instance, InstanceId};
use gpucloud_local::LocalClient;

pub use gpucloud_local::testing::{
    TestHost as Fixture, eventually, reachable, require_local_instances,
};

/// A host on a fresh state directory with a free subnet of 10.214.0.0/16.
pub async fn fixture() -> Fixture {
    Fixture::new("gpucloud-local-it", 214, "cred-test").await
}

/// Processes whose command line mentions `needle`.
pub fn processes_mentioning(needle: &Path) -> Vec<String> {
    let needle = needle.to_string_lossy().into_owned();
    let own = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()) && n != own)
        })
        .filter_map(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            text.contains(&needle)
                .then(|| format!("{}: {text}", e.file_name().to_string_lossy()))
        })
        .collect()
}

/// Asserts the machine holds nothing of the instance: namespace, veth, processes, files.
pub fn assert_gone(f: &Fixture, id: &InstanceId) {
    let ns = f.client.namespace_name(id);
    assert!(
        !Path::new("/run/netns").join(&ns).exists(),
        "namespace {ns} left behind"
    );
    let veth = f.client.host_veth_name(id);
    assert!(
        !Path::new("/sys/class/net").join(&veth).exists(),
        "veth {veth} left behind"
    );
    let dir = f.client.instance_dir(id);
    assert!(
        !dir.exists(),
        "state directory {} left behind",
        dir.display()
    );
    let procs = processes_mentioning(&dir);
    assert!(procs.is_empty(), "processes left behind: {procs:?}");
}

/// Asserts the client's bridge is gone (the last instance was terminated).
pub fn assert_bridge_gone(client: &LocalClient) {
    let bridge = client.bridge_name();
    assert!(
        !Path::new("/sys/class/net").join(bridge).exists(),
        "bridge {bridge} left behind"
    );
}

/// The instance's address.
pub fn ip_of(instance: &Instance) -> Ipv4Addr {
    instance.public_ip.parse().expect("instance address")
}
