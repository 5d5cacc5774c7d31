# Shared by scripts/test.sh, scripts/demo.sh and benchmarks: install what is missing, once.
# shellcheck shell=bash

# The wasmtime CLI must be the version of our wasmtime crates (Cargo.lock).
WASMTIME_VERSION=$(awk '/^name = "wasmtime"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
ANSIBLE_CORE_VERSION=2.19.14

step() { printf '\n== %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_wasm_target() {
    if ! rustup target list --installed | grep -qx wasm32-wasip2; then
        step "installing the wasm32-wasip2 target"
        rustup target add wasm32-wasip2
    fi
}

# ensure_apt_tools COMMAND:PACKAGE...: installs each package whose command is missing.
ensure_apt_tools() {
    local missing=() pair
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        step "installing ${missing[*]} (apt-get)"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

ensure_ansible() {
    if ! .venv/bin/ansible-inventory --version 2>/dev/null | grep -q "core $ANSIBLE_CORE_VERSION"; then
        step "installing ansible-core $ANSIBLE_CORE_VERSION into .venv"
        # Debian's own python3 needs python3-venv for this; other Pythons have it built in.
        python3 -m venv .venv 2>/dev/null || { ensure_apt_tools :python3-venv; rm -rf .venv; python3 -m venv .venv; }
        .venv/bin/pip install --quiet --disable-pip-version-check "ansible-core==$ANSIBLE_CORE_VERSION"
    fi
}

# A lean wasmtime CLI (run + component model + wasi-http + cranelift): minutes, where a
# full-featured install took 42 minutes here.
ensure_wasmtime_cli() {
    if ! wasmtime --version 2>/dev/null | grep -q "^wasmtime $WASMTIME_VERSION\b"; then
        step "installing wasmtime-cli $WASMTIME_VERSION (lean build, several minutes)"
        cargo install wasmtime-cli --version "$WASMTIME_VERSION" --locked \
            --no-default-features --features run,component-model,wasi-http,cranelift
    fi
    export WASMTIME_BIN
    WASMTIME_BIN=$(command -v wasmtime || echo "${CARGO_HOME:-$HOME/.cargo}/bin/wasmtime")
}

# Node and npm for embed/node (the component under Node, through jco), then embed/node's
# locked packages when node_modules is missing or older than the lockfile. Debian's own
# nodejs will do: the pinned jco (1.24) runs on bookworm's Node 18; jco 1.26 and later need
# Node 20.19 (their native bindings are skipped on older Node).
ensure_node() {
    ensure_apt_tools node:nodejs npm:npm
    local lock=embed/node/package-lock.json installed=embed/node/node_modules/.package-lock.json
    if [ ! -f "$installed" ] || [ "$lock" -nt "$installed" ] || [ embed/node/package.json -nt "$installed" ]; then
        step "installing embed/node's packages (npm ci)"
        (cd embed/node && npm ci --no-audit --no-fund)
    fi
}
