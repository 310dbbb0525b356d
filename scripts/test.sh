#!/usr/bin/env bash
# Runs every test of the workspace. Installs what the tests need when it is missing:
# Prism (npm, for the OpenAPI contract tests), moto (PyPI, for the AWS tests) and, as root, openssh-server, nftables and
# iproute2 (for the local provider's real instances).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ]; then
    missing=()
    [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
    command -v nft >/dev/null || missing+=(nftables)
    command -v ip >/dev/null || missing+=(iproute2)
    command -v ssh-keygen >/dev/null || missing+=(openssh-client)
    command -v cloud-init >/dev/null || missing+=(cloud-init)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing ${missing[*]} for the local provider" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
fi

if [ ! -x node_modules/.bin/prism ]; then
    echo "installing Prism (npm) for the contract tests" >&2
    npm ci --no-audit --no-fund --loglevel=error
fi

# moto (PyPI), the AWS emulator the AWS provider's tests start on loopback, pinned, in a
# virtual environment inside the repository (no root needed); the tests find it through
# GPUCLOUD_MOTO_SERVER and fail naming it when it is missing.
MOTO_VERSION=5.2.5
if ! .venv-moto/bin/python -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
    echo "installing moto $MOTO_VERSION into .venv-moto for the AWS tests" >&2
    python3 -m venv .venv-moto
    .venv-moto/bin/pip install --quiet --disable-pip-version-check "moto[server,ec2]==$MOTO_VERSION"
fi
export GPUCLOUD_MOTO_SERVER="$PWD/.venv-moto/bin/moto_server"

# What this machine cannot run is left out by filter, so nextest lists it as skipped; run by
# hand, such a test fails with the reason rather than passing.
cannot_run=()
if [ "$(id -u)" != 0 ]; then
    echo "skipping the local-instance tests: they need root (network namespaces, sshd, nftables)" >&2
    cannot_run+=(
        "(package(gpucloud-local) & kind(test))"
        "(package(gpucloud-bootstrap) & test(/^local::/))"
        "(package(gpucloud-shadeform) & test(/^local::/))"
        "(package(gpucloud-cli) & test(/^local::/))"
        "(package(gpucloud-fleet) & test(/^local::/))"
    )
fi
if ! command -v cloud-init >/dev/null; then
    echo "skipping the cloud-init schema tests: cloud-init is not installed (apt-get install cloud-init)" >&2
    cannot_run+=("(package(gpucloud-bootstrap) & test(/^schema::/))")
fi
filter=()
if [ ${#cannot_run[@]} -gt 0 ]; then
    joined=$(IFS='|'; echo "${cannot_run[*]}")
    filter=(-E "not ($joined)")
fi

cargo nextest run --workspace --no-fail-fast "${filter[@]}"
cargo test --workspace --doc --quiet
