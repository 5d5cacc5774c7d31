#!/usr/bin/env bash
# The demo: starts a throwaway etcd on a free loopback port, loads the sample inventory
# (tests/data/sample.kv), prints `etcd-inventory --list`, `--host web01` and `--graph`, checks
# the keyspace, imports the listing as a copy under another prefix, and stops etcd.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_wasm_target
# protoc: etcd-client (import and check speak gRPC) generates its code at build time.
ensure_apt_tools etcd:etcd-server etcdctl:etcd-client protoc:protobuf-compiler
step "building etcd-inventory (cargo build --release)"
cargo build --release --locked
bin=$PWD/target/release/etcd-inventory

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
dir=$(mktemp -d)
client="http://127.0.0.1:$(free_port)"
peer="http://127.0.0.1:$(free_port)"
etcd --name demo --data-dir "$dir/data" --listen-client-urls "$client" --advertise-client-urls "$client" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" --initial-cluster "demo=$peer" \
    >"$dir/etcd.log" 2>&1 &
etcd_pid=$!
# Stops etcd and keeps the script's own exit status (not that of the killed etcd).
cleanup() {
    local status=$?
    kill "$etcd_pid" 2>/dev/null
    wait "$etcd_pid" 2>/dev/null || true
    rm -rf "$dir"
    exit "$status"
}
trap cleanup EXIT

export ETCDCTL_API=3 ETCDCTL_ENDPOINTS="$client"
for _ in $(seq 1 100); do
    etcdctl endpoint health >/dev/null 2>&1 && break
    sleep 0.2
done
etcdctl endpoint health >/dev/null 2>&1 || { cat "$dir/etcd.log" >&2; echo "etcd did not start" >&2; exit 1; }

step "loading tests/data/sample.kv under /ansible into etcd at $client"
grep -v -e '^#' -e '^$' tests/data/sample.kv | while IFS= read -r line; do
    key=${line%%=*}
    value=""
    [ "$key" != "$line" ] && value=${line#*=}
    etcdctl put "/ansible/$key" "$value" >/dev/null
    echo "  /ansible/$key${value:+ = $value}"
done

step "etcd-inventory --list"
"$bin" --list | python3 -m json.tool
step "etcd-inventory --host web01"
"$bin" --host web01 | python3 -m json.tool
step "etcd-inventory --graph"
"$bin" --graph
step "etcd-inventory check"
"$bin" check
step "etcd-inventory --list | etcd-inventory import --prefix /copy -   (written over gRPC)"
"$bin" --list | "$bin" import --prefix /copy -
step "the same import again: nothing to write"
"$bin" --list | "$bin" import --prefix /copy -
step "etcd-inventory --graph --prefix /copy"
"$bin" --graph --prefix /copy
