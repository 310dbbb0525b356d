#!/usr/bin/env bash
# Runs every test of the workspace. Installs what the tests need when it is missing:
# Prism (npm, for the OpenAPI contract tests) and, as root, openssh-server, nftables and
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

cargo nextest run --workspace --no-fail-fast
cargo test --workspace --doc --quiet
