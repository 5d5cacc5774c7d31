#!/usr/bin/env bash
# Runs every check and test of etcd-inventory, installing what is missing first, so it works
# on a brand-new machine: the wasm32-wasip2 target, Debian's etcd-server (the real etcd the
# tests start), protoc (etcd-client's build needs it), ansible-core in .venv, the stock
# wasmtime CLI of the same version as our wasmtime crates (a lean build), and Node with
# embed/node's pinned jco.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_wasm_target
ensure_apt_tools etcd:etcd-server protoc:protobuf-compiler
ensure_ansible
ensure_wasmtime_cli
ensure_node

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy (native, all targets)"
cargo clippy --locked --workspace --all-targets -- -D warnings
step "cargo clippy (component, wasm32-wasip2)"
cargo clippy --locked -p etcd-inventory-component --target wasm32-wasip2 -- -D warnings
step "cargo test (unit tests, then integration tests against real etcd, ansible-inventory, wasmtime and Node)"
export ANSIBLE_INVENTORY_BIN="$PWD/.venv/bin/ansible-inventory"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --locked --workspace 2>&1 | tee "$log"
# One closing line for the whole run: cargo prints one per test binary, the last of which
# is often a doc-test run with nothing in it.
awk '/^test result:/ { p += $4; f += $6 } END { printf "\ntotal: %d passed, %d failed\n", p, f }' "$log"
