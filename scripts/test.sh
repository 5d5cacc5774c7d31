#!/usr/bin/env bash
# Runs every check and test of etcd-inventory, installing what is missing first, so it works
# on a brand-new machine: the wasm32-wasip2 target, Debian's etcd-server (etcd 3.4, the real
# etcd the tests start), etcd 3.5.1 in .tools/, protoc (etcd-client's build needs it),
# ansible-core 2.19 in .venv and the newest 2.16, 2.17 and 2.18 in .venv-ansible-2.1x, the
# stock wasmtime CLI of the same version as our wasmtime crates (a lean build), Node with
# embed/node's pinned jco, wasmtime-py (embed/python's pin) in .venv-python and in each
# Ansible's venv, and the packaging tools (maturin, ziglang, auditwheel, ansible-builder) in
# .venv-release.
#
# Then it builds what a release publishes (scripts/dist.sh's dist/: the manylinux2014 wheel,
# checked by auditwheel, and the collection's tarball) and installs the wheel with ansible-core
# into a fresh venv, .venv-wheel, with no Rust toolchain on PATH: the tests of feature `wheel`
# use them as a user would, and check the execution environment's build context.
#
# The matrix: every test against etcd 3.4 and ansible-core 2.19; the integration tests again
# against etcd 3.5; the tests that ran Ansible again under each older ansible-core. Every run
# has --all-features: the tests that need Ansible, the wasmtime CLI, Node, wasmtime-py or the
# built artifacts are behind host features (`ansible`, `wasmtime-cli`, `node`, `python`,
# `wheel`) that plain `cargo test` leaves off, and with them on, a missing tool fails its
# tests rather than skipping them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_wasm_target
ensure_apt_tools etcd:etcd-server protoc:protobuf-compiler
ensure_ansible
ensure_older_ansibles
ensure_etcd35
ensure_wasmtime_cli
ensure_node
ensure_python_host
ensure_release_tools

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy (native, all targets, every test tier)"
cargo clippy --locked --workspace --all-targets --all-features -- -D warnings
step "cargo clippy (native, all targets, the default tier of a bare clone)"
cargo clippy --locked --workspace --all-targets -- -D warnings
step "cargo clippy (component and gateway, wasm32-wasip2)"
cargo clippy --locked -p etcd-inventory-component --target wasm32-wasip2 -- -D warnings
cargo clippy --locked -p etcd-inventory-gateway --target wasm32-wasip2 -- -D warnings
build_dist
make_wheel_venv .venv-wheel
export ETCD_INVENTORY_DIST="$PWD/$DIST_DIR" ETCD_INVENTORY_WHEEL_VENV="$PWD/.venv-wheel"

log=$(mktemp)
ansible_tests=$(mktemp)
trap 'rm -f "$log" "$ansible_tests"' EXIT
failed=0
step "ansible-test sanity on the collection (pylint, pep8, validate-modules, ansible-doc, yamllint, ...)"
bash scripts/sanity.sh || failed=1
# cargo_test WHAT ARGS...: one cargo test run, its output kept for the closing line. A failed
# run does not stop the others: the closing line counts them all.
cargo_test() {
    step "$1"
    shift
    local start=$SECONDS
    cargo test --locked "$@" 2>&1 | tee -a "$log" || failed=1
    echo "(this run: $((SECONDS - start)) s)"
}
# First lines of --version (read whole: Ansible fails on a closed pipe).
etcd_version() { "$1" --version | sed -n 1p; }
ansible_version() { "$1/ansible" --version | sed -n 1p; }

export ETCD_BIN ANSIBLE_BIN_DIR
ETCD_BIN=$(command -v etcd)
ANSIBLE_BIN_DIR="$PWD/.venv/bin"
ETCD_INVENTORY_ANSIBLE_TESTS=$ansible_tests cargo_test \
    "cargo test: unit tests, then integration tests against real etcd, Ansible, wasmtime and Node ($(etcd_version "$ETCD_BIN"), $(ansible_version "$ANSIBLE_BIN_DIR"))" \
    --workspace --all-features

ETCD_BIN="$PWD/$ETCD35_DIR/etcd"
cargo_test "integration tests again, against $(etcd_version "$ETCD_BIN")" --all-features --test all

ETCD_BIN=$(command -v etcd)
# The tests that ran an Ansible program above, by their exact names.
mapfile -t names < <(sort -u "$ansible_tests")
if [ ${#names[@]} -eq 0 ]; then
    echo "no test noted that it ran Ansible: nothing to run under the older ansible-cores" >&2
    failed=1
fi
for venv in $( [ ${#names[@]} -eq 0 ] || older_ansible_venvs); do
    ANSIBLE_BIN_DIR="$PWD/$venv/bin"
    cargo_test "the ${#names[@]} tests that run Ansible, against $(ansible_version "$ANSIBLE_BIN_DIR")" \
        --all-features --test all -- --exact "${names[@]}"
done

# One closing line for every run: cargo prints one per test binary, the last of which is
# often a doc-test run with nothing in it.
awk '/^test result:/ { p += $4; f += $6 } END { printf "\ntotal: %d passed, %d failed\n", p, f }' "$log"
exit $failed
