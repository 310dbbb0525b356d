//! Catalog, capabilities, input errors and configuration errors.

use gpucloud_core::{
    Bytes, BytesUnit, Capability, CloudClient, CloudClientExt, CloudCredential, ErrorKind,
    GetInstanceTypeArgs, GetLocationsArgs, InstanceId, InstanceTypeId,
};
use gpucloud_local::{LocalClient, LocalConfig, LocalCredential};

use crate::support::{fixture, require_local_instances};

/// Makes one field of good create attributes bad.
type Spoil = fn(&mut gpucloud_core::CreateInstanceAttrs);

#[tokio::test]
async fn catalog_and_capabilities_are_truthful() {
    require_local_instances();
    let f = fixture().await;
    let locations = f
        .client
        .locations(GetLocationsArgs::default())
        .await
        .unwrap();
    assert_eq!(locations.len(), 1);
    assert_eq!(locations[0].name, "local");
    let types = f
        .client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    assert_eq!(types.len(), 3);
    let cpus = u32::try_from(std::thread::available_parallelism().unwrap().get()).unwrap();
    for it in &types {
        assert_eq!(it.id, InstanceTypeId::generic("local", None, &it.type_name));
        assert!(it.supported_gpus.is_empty());
        assert_eq!(it.base_price.as_ref().unwrap().amount.to_string(), "0");
        assert_eq!(it.is_available, it.vcpu <= cpus, "{}", it.type_name);
    }
    let caps = f.client.capabilities();
    for cap in [
        Capability::StopStartInstance,
        Capability::RebootInstance,
        Capability::ModifyFirewall,
        Capability::Tags,
        Capability::InstanceUserData,
        Capability::CreateIdempotentInstance,
    ] {
        assert!(caps.contains(cap), "{cap} missing");
    }
    assert!(!caps.contains(Capability::MachineImage));
    assert!(matches!(f.client.machine_image(), Err(e) if e.kind() == ErrorKind::NotImplemented));
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_made() {
    require_local_instances();
    let f = fixture().await;
    let cases: [(&str, Spoil); 4] = [
        ("instance_type", |a| a.instance_type = "gpu_8x_h100".into()),
        ("location", |a| a.location = "mars".into()),
        ("disk_size_bytes", |a| {
            a.disk_size_bytes = Bytes::new(10, BytesUnit::GiB);
        }),
        ("public_key", |a| a.public_key = "not a key".into()),
    ];
    for (field, spoil) in cases {
        let mut attrs = f.attrs("ref-bad", "bad");
        spoil(&mut attrs);
        let e = gpucloud_core::validate_and_create(&f.client, &attrs)
            .await
            .unwrap_err();
        assert!(e.to_string().contains(field), "{field}: {e}");
        if field == "instance_type" {
            assert!(matches!(e.kind(), ErrorKind::InvalidArgument), "{e}");
        }
    }
    assert!(
        std::fs::read_dir(f.config.state_dir.join("instances"))
            .unwrap()
            .next()
            .is_none()
    );

    let missing = InstanceId::new("local-000000000000");
    assert_eq!(
        f.client.get_instance(&missing).await.unwrap_err().kind(),
        ErrorKind::InstanceNotFound
    );
    assert_eq!(
        f.client
            .get_instance(&InstanceId::new("../../etc"))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InstanceNotFound
    );
    f.client
        .terminate_instance(&missing)
        .await
        .expect("terminating a missing instance succeeds");
    let stop = f
        .client
        .stop_start()
        .unwrap()
        .stop_instance(&missing)
        .await
        .unwrap_err();
    assert_eq!(stop.kind(), ErrorKind::InstanceNotFound);
}

#[tokio::test]
async fn overlapping_or_public_subnets_are_refused_with_the_reason() {
    require_local_instances();
    let dir = tempfile::tempdir().unwrap();
    let config = LocalConfig::default()
        .with_state_dir(dir.path())
        .with_subnet("8.8.8.0/24");
    let e = LocalClient::new(config).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert!(e.to_string().contains("private range"), "{e}");

    // A spare bridge claims 10.216.<n>.0/24.
    let n = std::process::id() % 250 + 1;
    let dev = format!("gcdummy{n}");
    let ip = |args: &[&str]| {
        std::process::Command::new("ip")
            .args(args)
            .status()
            .unwrap()
            .success()
    };
    assert!(ip(&["link", "add", &dev, "type", "bridge"]));
    assert!(ip(&[
        "addr",
        "add",
        &format!("10.216.{n}.1/24"),
        "dev",
        &dev
    ]));
    let config = LocalConfig::default()
        .with_state_dir(dir.path())
        .with_subnet(format!("10.216.{n}.0/25"));
    let result = LocalClient::new(config).await;
    assert!(ip(&["link", "del", &dev]));
    let e = result.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert!(
        e.to_string().contains("overlaps") && e.to_string().contains(&dev),
        "{e}"
    );

    let credential = LocalCredential::new(
        LocalConfig::default()
            .with_state_dir(dir.path())
            .with_ref_id("c-1"),
    );
    assert_eq!(credential.identity().reference_id(), "c-1");
    assert!(credential.identity().tenant_id().starts_with("local-"));
    let result = credential.make_client("us-east-1").await;
    assert!(matches!(result, Err(e) if e.kind() == ErrorKind::InvalidArgument));
}
