//! Compiles the vendored Nebius API definitions with protox (a pure-Rust protobuf compiler, so
//! no `protoc` is needed on the machine) and generates prost messages plus tonic clients and
//! servers from them.

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
    "nebius/quotas/v1/quota_allowance_service.proto",
    "nebius/billing/v1/calculator_service.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("proto");
    println!("cargo:rerun-if-changed={}", dir.display());
    // Every file is generated, but lib.rs includes only the packages gpucloud uses: the option
    // annotations (buf.validate, nebius/annotations.proto) carry no wire data, and the
    // well-known google.protobuf types come from prost-types.
    let fds = protox::compile(ROOTS.iter().map(|r| dir.join(r)), [&dir])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
