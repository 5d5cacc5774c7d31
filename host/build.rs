//! Builds the component for wasm32-wasip2 with a nested cargo (its own target directory, so
//! the outer build lock is not waited on) and compiles it ahead of time, so a run of
//! `etcd-inventory` loads machine code instead of compiling the component again.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "src/engine_config.rs"]
mod engine_config;

const WASM_TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "wasm";

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .expect("host/ sits in the workspace")
        .to_path_buf();
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| if dir.is_relative() { root.join(dir) } else { dir })
        .unwrap_or_else(|| root.join("target"))
        .join("component");

    let wasm = build_component(&root, &target_dir);
    let bytes = std::fs::read(&wasm).unwrap_or_else(|e| panic!("cannot read {}: {e}", wasm.display()));

    let mut config = engine_config::config();
    // The binary's own target, without the build machine's CPU features: the precompiled
    // code then runs on any machine of that architecture.
    config
        .target(&env("TARGET"))
        .expect("wasmtime supports the host target");
    let engine = wasmtime::Engine::new(&config).expect("engine");
    let compiled = engine.precompile_component(&bytes).expect("the component compiles");
    let out = PathBuf::from(env("OUT_DIR"));
    std::fs::write(out.join("etcd_inventory.cwasm"), compiled).expect("write the precompiled component");
    // The very bytes compiled above, for `etcd-inventory component --output FILE`.
    std::fs::write(out.join("etcd_inventory.wasm"), &bytes).expect("write the component");

    // The portable component, for tests that run it under other hosts.
    println!("cargo:rustc-env=ETCD_INVENTORY_WASM={}", wasm.display());
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!("cargo:rerun-if-changed={}", root.join("Cargo.lock").display());
    // The workspace manifest holds the `wasm` profile the component is built with.
    println!("cargo:rerun-if-changed={}", root.join("Cargo.toml").display());
    println!("cargo:rerun-if-changed={}", root.join("component/Cargo.toml").display());
    // The engine settings the precompiled code must match.
    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("src/engine_config.rs").display()
    );
}

/// Runs `cargo build` of the component and returns the path of the `.wasm`. Every source
/// file the compiler read (from its dep-info file) reruns this script when it changes.
fn build_component(root: &Path, target_dir: &Path) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .args([
            "build",
            "--package",
            "etcd-inventory-component",
            "--target",
            WASM_TARGET,
            "--profile",
            PROFILE,
        ])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        // The outer build's settings are for the native host, not for the component.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        // Under `cargo clippy` these make the nested build check only and produce no .wasm.
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .status()
        .expect("cannot run cargo for the component");
    if !status.success() {
        panic!(
            "building the component for {WASM_TARGET} failed (see above); if the target is missing, run `rustup target add {WASM_TARGET}`"
        );
    }
    let out = target_dir.join(WASM_TARGET).join(PROFILE);
    let depinfo = std::fs::read_to_string(out.join("etcd_inventory.d")).expect("the component's dep-info file");
    for path in depinfo
        .lines()
        .flat_map(|line| line.split_once(':').map(|(_, deps)| deps))
        .flat_map(str::split_whitespace)
    {
        println!("cargo:rerun-if-changed={path}");
    }
    out.join("etcd_inventory.wasm")
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo sets {name} for build scripts"))
}
