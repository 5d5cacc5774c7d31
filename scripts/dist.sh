#!/usr/bin/env bash
# Builds what a release publishes into dist/: the etcd-inventory wheel (manylinux2014, glibc
# 2.17+ x86-64, checked by auditwheel) and the etcd_inventory.etcd collection's tarball.
# Installs what is missing first (the wasm32-wasip2 target, protoc, the packaging tools in
# .venv-release/, ansible-core in .venv/). Publishing them is a separate, manual step (README,
# "Release").
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_wasm_target
ensure_apt_tools protoc:protobuf-compiler
build_dist
