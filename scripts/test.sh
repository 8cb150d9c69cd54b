#!/usr/bin/env bash
# Runs every test of PerfAnalysis: formatting, clippy, the Rust tests (SQLite and
# PostgreSQL), the browser tests (headless Chromium) and the examples (the
# Python module in bindings-python/ is not built yet, so there are no Python
# tests). Installs what it needs on a fresh Debian machine (apt-get, pip). Exits non-zero if anything failed or could
# not run.
#
#   scripts/test.sh            # everything
#   SKIP_INSTALL=1 scripts/test.sh   # do not apt-get/pip install (already there)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ARTIFACTS="$ROOT/test-artifacts"
mkdir -p "$ARTIFACTS"

log() { printf '\n== %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi

apt_install() {
    [ "${SKIP_INSTALL:-0}" = 1 ] && return 0
    local missing=()
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq || true
    $SUDO apt-get install -y -qq "${missing[@]}"
}

# --- toolchain -------------------------------------------------------------
if ! command -v cargo >/dev/null; then
    echo "cargo is required (https://rustup.rs)" >&2
    exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true
apt_install pkg-config gcc

# --- checks ----------------------------------------------------------------
log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

. scripts/pg-env.sh  # PostgreSQL for the store tests: DATABASE_URL, 127.0.0.1:5432 or a throwaway cluster
log "cargo test"
[ "${SKIP_INSTALL:-0}" = 1 ] || scripts/ensure-chromium.sh
cargo test --workspace --locked

log "examples"
EX_CAPTURE="$ROOT/../shared/fixtures/upstream/azure-b1s-ubuntu/pcc_collection.json"
EX_OUT=$(mktemp -d)
cargo run -q --locked -p perfanalysis-examples --example live_sample
cargo run -q --locked -p perfanalysis-examples --example capture_to_report -- "$EX_CAPTURE" "$EX_OUT/report.html"
grep -q '<svg' "$EX_OUT/report.html"
cargo run -q --locked -p perfanalysis-examples --example store_summary -- "$EX_CAPTURE" "sqlite://$EX_OUT/example.db" >"$EX_OUT/summary.txt"
grep -q 'stored 131, already present 0' "$EX_OUT/summary.txt"
grep -q '^cpu_user_pct .* max     100.00' "$EX_OUT/summary.txt"
rm -rf "$EX_OUT"

log "all tests passed"
