#!/usr/bin/env bash
# Whole-process figures of the `gpucloud` binary a person waits for (issue 28): every fake
# served with an injected latency (200 ms by default), the release CLI run N times per row,
# the median wall time printed next to the target, with the machine's load.
#
#   scripts/bench-cli.sh [RUNS]            # RUNS >= 5, default 7
#
# Environment: GPUCLOUD_BIN (default: $CARGO_TARGET_DIR or target, /release/gpucloud; built
# with `cargo build --release -p gpucloud-cli` when missing), LATENCY_MS (default 200).
# Everything runs on loopback, with a throw-away HOME so no cache or state of the user's is
# read or written.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-7}
if [ "$runs" -lt 5 ]; then
    echo "bench-cli: at least 5 runs per row (a median of fewer says little)" >&2
    exit 2
fi
latency=${LATENCY_MS:-200}
bin=${GPUCLOUD_BIN:-${CARGO_TARGET_DIR:-target}/release/gpucloud}
if [ ! -x "$bin" ]; then
    echo "bench-cli: building the release CLI" >&2
    cargo build --release -q -p gpucloud-cli
fi

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Serves `gpucloud fake NAME` with the latency and loads the export line it prints.
serve() {
    local name=$1
    "$bin" fake "$name" --latency-ms "$latency" >"$work/$name.out" 2>"$work/$name.err" &
    pids+=($!)
    for _ in $(seq 100); do
        grep -q '^ *export ' "$work/$name.err" 2>/dev/null && break
        sleep 0.1
    done
    local line
    line=$(grep -m1 '^ *export ' "$work/$name.err") || {
        echo "bench-cli: gpucloud fake $name printed no export line:" >&2
        cat "$work/$name.err" >&2
        exit 1
    }
    eval "$line"
}

providers=(lambda fluidstack shadeform verda nebius)
for p in "${providers[@]}"; do serve "$p"; done

export HOME="$work/home"
unset XDG_CACHE_HOME XDG_STATE_HOME XDG_CONFIG_HOME GPUCLOUD_CONFIG
mkdir -p "$HOME"

# Median of the numbers on stdin.
median() { sort -n | awk '{ v[NR] = $1 } END { m = int((NR + 1) / 2); print (NR % 2) ? v[m] : int((v[m] + v[m + 1]) / 2) }'; }

# Runs the CLI with the given arguments once; prints "WALL_MS CPU_MS". A failed run stops the
# bench: a figure of a command that did not answer would be a lie.
once() {
    local start end cpu
    start=$(date +%s%N)
    if ! /usr/bin/time -f '%U %S' -o "$work/time" "$bin" "$@" >"$work/stdout" 2>"$work/stderr"; then
        echo "bench-cli: gpucloud $* failed:" >&2
        cat "$work/stderr" >&2
        exit 1
    fi
    end=$(date +%s%N)
    cpu=$(awk '{ printf "%d", ($1 + $2) * 1000 }' "$work/time")
    echo "$(((end - start) / 1000000)) $cpu"
}

# row LABEL TARGET PREPARE -- ARGS...: PREPARE (a shell command) runs before every run.
row() {
    local label=$1 target=$2 prepare=$3
    shift 4
    local walls=() cpus=() out
    for _ in $(seq "$runs"); do
        eval "$prepare"
        out=$(once "$@")
        walls+=("${out% *}")
        cpus+=("${out#* }")
    done
    local wall cpu
    wall=$(printf '%s\n' "${walls[@]}" | median)
    cpu=$(printf '%s\n' "${cpus[@]}" | median)
    printf '%-58s %6s ms %6s ms  %-22s %s\n' "$label" "$wall" "$cpu" "$target" "$(printf '%s ' "${walls[@]}")"
}

forget_all() { rm -rf "$HOME/.cache" "$HOME/.local"; }
keep=":"

echo "gpucloud whole-process bench: $runs runs per row, fakes at ${latency} ms latency, $(nproc) cores"
echo "load before: $(uptime | sed 's/.*load average: //')"
printf '%-58s %9s %9s  %-22s %s\n' "measure" "wall" "cpu" "target" "runs (wall ms)"
# A first run per provider warms the page cache and the fakes' connections.
"$bin" offers --gpu H100 --refresh >/dev/null 2>&1 || true
four=(-p lambda -p fluidstack -p shadeform -p nebius)
row "offers --gpu H100 --refresh, the issue's four clouds" "<= 300 ms" "$keep" -- offers --gpu H100 --refresh "${four[@]}"
row "  the same, all five clouds (Verda too)" "<= 300 ms" "$keep" -- offers --gpu H100 --refresh
row "  nebius alone, first process (no token, no discovery)" "<= 500 ms" forget_all -- offers --gpu H100 --refresh -p nebius
"$bin" offers --gpu H100 --refresh -p nebius >/dev/null 2>&1 || true
row "  nebius alone, second process on" "<= 300 ms" "$keep" -- offers --gpu H100 --refresh -p nebius
for p in lambda fluidstack shadeform verda; do
    row "  $p alone" "<= 227 ms" "$keep" -- offers --gpu H100 --refresh -p "$p"
done
"$bin" offers --gpu H100 >/dev/null 2>&1 || true
row "offers --gpu H100 warm (cached), all five clouds" "<= 15 ms" "$keep" -- offers --gpu H100
row "  lambda alone, warm" "<= 15 ms" "$keep" -- offers --gpu H100 -p lambda
echo "load after: $(uptime | sed 's/.*load average: //')"
