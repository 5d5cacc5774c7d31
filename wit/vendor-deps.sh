#!/usr/bin/env bash
# Re-vendors the WASI WIT packages into wit/deps/ from the wasmtime-wasi-http crate that
# Cargo.lock pins, so the guest and the host agree on one WASI version. Run it after bumping
# wasmtime; review the diff and commit it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(awk '/^name = "wasmtime-wasi-http"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$root/Cargo.lock")
[ -n "$version" ] || { echo "wasmtime-wasi-http is not in Cargo.lock" >&2; exit 1; }
cargo fetch --manifest-path "$root/Cargo.toml" --locked --quiet
src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"wasmtime-wasi-http-$version"/wit/deps | head -n 1)
[ -d "$src" ] || { echo "no WIT sources for wasmtime-wasi-http $version" >&2; exit 1; }
rm -rf "$root/wit/deps"
mkdir -p "$root/wit/deps"
cp "$src"/*.wit "$root/wit/deps/"
echo "wasmtime-wasi-http $version" > "$root/wit/deps/VENDORED_FROM"
echo "vendored WASI WIT from wasmtime-wasi-http $version"
