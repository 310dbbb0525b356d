//! The code in `src/gen/` is what protox and tonic-prost-build make of `proto/`: this test
//! generates it afresh and fails when the checked-in copy differs (a changed `.proto`, a new
//! code generator). `regen.sh` runs it with `GPUCLOUD_REGENERATE_PROTO=1`, which rewrites
//! `src/gen/` instead of failing.

use std::path::PathBuf;

/// The service files gpucloud talks to; protox pulls in what they import.
const ROOTS: &[&str] = &[
    "nebius/common/v1/operation_service.proto",
    "nebius/common/v1/error.proto",
    "nebius/compute/v1/instance_service.proto",
    "nebius/compute/v1/disk_service.proto",
    "nebius/compute/v1/image_service.proto",
    "nebius/compute/v1/platform_service.proto",
    "nebius/vpc/v1/subnet_service.proto",
    "nebius/vpc/v1/network_service.proto",
    "nebius/vpc/v1/security_group_service.proto",
    "nebius/vpc/v1/security_rule_service.proto",
    "nebius/iam/v1/token_exchange_service.proto",
    "nebius/iam/v1/project_service.proto",
    "nebius/iam/v1/tenant_service.proto",
    "nebius/iam/v1/profile_service.proto",
    "nebius/iam/v2/project_service.proto",
    "nebius/iam/v2/tenant_service.proto",
    "nebius/quotas/v1/quota_allowance_service.proto",
    "nebius/billing/v1/calculator_service.proto",
    "nebius/billing/v1/pricing_policy_service.proto",
    "nebius/billing/v1alpha1/calculator_service.proto",
];

/// Generated files `src/lib.rs` includes. The option annotations (`buf.validate`,
/// `nebius/annotations.proto`) are generated too but carry no wire data, so they are not
/// kept.
const KEPT: &[&str] = &[
    "google.rpc.rs",
    "nebius.billing.v1.rs",
    "nebius.billing.v1alpha1.rs",
    "nebius.common.v1.rs",
    "nebius.compute.v1.rs",
    "nebius.iam.v1.rs",
    "nebius.iam.v2.rs",
    "nebius.quotas.v1.rs",
    "nebius.vpc.v1.rs",
];
const DROPPED: &[&str] = &["buf.validate.rs", "nebius.rs"];

#[test]
fn checked_in_code_matches_the_protos() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let protos = crate_dir.join("proto");
    let out = tempfile::tempdir().expect("temporary directory");
    let fds = protox::compile(ROOTS.iter().map(|r| protos.join(r)), [&protos])
        .expect("the vendored protos compile");
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // A server (the fake) implements only the RPCs gpucloud calls; the rest answer
        // UNIMPLEMENTED.
        .generate_default_stubs(true)
        .out_dir(out.path())
        .compile_fds(fds)
        .expect("code generation");

    let mut produced: Vec<String> = std::fs::read_dir(out.path())
        .expect("generated files")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    produced.sort();
    let expected: Vec<String> = {
        let mut all: Vec<String> = KEPT
            .iter()
            .chain(DROPPED)
            .map(|s| (*s).to_owned())
            .collect();
        all.sort();
        all
    };
    assert_eq!(
        produced, expected,
        "the protos now make other packages: update KEPT/DROPPED here and src/lib.rs"
    );

    let regenerate = std::env::var_os("GPUCLOUD_REGENERATE_PROTO").is_some();
    let mut stale = Vec::new();
    for name in KEPT {
        let fresh = std::fs::read_to_string(out.path().join(name)).expect("generated file");
        let checked_in = crate_dir.join("src/gen").join(name);
        if std::fs::read_to_string(&checked_in).ok().as_deref() != Some(fresh.as_str()) {
            if regenerate {
                std::fs::write(&checked_in, fresh).expect("rewrite src/gen");
            } else {
                stale.push(*name);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "src/gen is stale for {stale:?}: run crates/gpucloud-nebius-proto/regen.sh"
    );
}
