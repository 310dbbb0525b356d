#!/bin/sh
# Regenerates src/gen/ from proto/ (see tests/drift.rs), then checks it is current.
set -eu
cd "$(dirname "$0")"
GPUCLOUD_REGENERATE_PROTO=1 cargo test -p gpucloud-nebius-proto --test drift
cargo test -p gpucloud-nebius-proto --test drift
