//! Builds the two components for wasm32-wasip2 with nested cargos (their own target
//! directory, so the outer build lock is not waited on): the inventory core, which imports
//! the `etcd` interface, and the gateway component, which implements it over `wasi:http`.
//! Composes them (wac-graph) into the portable `etcd_inventory.wasm`, and compiles the core
//! (for the gRPC transport, where this binary implements `etcd`) and the composed file (for
//! `--transport gateway`) ahead of time, so a run loads machine code instead of compiling.

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

    // Two builds in two target directories, not one: in one build cargo would unify the
    // core's features, and the gateway would carry the core's exports; in one directory, the
    // gateway's build would leave its export-less build of the core as etcd_inventory.wasm.
    let core = read(&build_component(
        &root,
        &target_dir.join("core"),
        "etcd-inventory-component",
        "etcd_inventory",
    ));
    let gateway = read(&build_component(
        &root,
        &target_dir.join("gateway"),
        "etcd-inventory-gateway",
        "etcd_gateway",
    ));
    let composed = compose(&core, &gateway);

    let mut config = engine_config::config();
    // The binary's own target, without the build machine's CPU features: the precompiled
    // code then runs on any machine of that architecture.
    config
        .target(&env("TARGET"))
        .expect("wasmtime supports the host target");
    let engine = wasmtime::Engine::new(&config).expect("engine");
    let out = PathBuf::from(env("OUT_DIR"));
    for (bytes, name) in [(&core, "core.cwasm"), (&composed, "etcd_inventory.cwasm")] {
        let compiled = engine.precompile_component(bytes).expect("the component compiles");
        std::fs::write(out.join(name), compiled).expect("write a precompiled component");
    }
    // The very bytes compiled above, for `etcd-inventory component --output FILE`, and for
    // tests that run it under other hosts.
    std::fs::write(out.join("etcd_inventory.wasm"), &composed).expect("write the component");
    let portable = target_dir.join("etcd_inventory.wasm");
    std::fs::write(&portable, &composed).expect("write the component");
    println!("cargo:rustc-env=ETCD_INVENTORY_WASM={}", portable.display());
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!("cargo:rerun-if-changed={}", root.join("Cargo.lock").display());
    // The workspace manifest holds the `wasm` profile the components are built with.
    println!("cargo:rerun-if-changed={}", root.join("Cargo.toml").display());
    for manifest in ["component/Cargo.toml", "gateway/Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", root.join(manifest).display());
    }
    // The engine settings the precompiled code must match.
    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("src/engine_config.rs").display()
    );
}

/// The name of the interface the core imports and the gateway exports.
const ETCD_INTERFACE: &str = "etcd-inventory:inventory/etcd@0.1.0";

/// The core with its `etcd` import filled by the gateway's export: a component that
/// imports only WASI. It exports the core's exports and the gateway's `etcd` too: the
/// `inventory` interface uses types of `etcd`, which an export may only name if they are
/// exported (or imported) themselves.
fn compose(core: &[u8], gateway: &[u8]) -> Vec<u8> {
    use wac_graph::{CompositionGraph, EncodeOptions, types::Package};
    let mut graph = CompositionGraph::new();
    let mut register = |name: &str, bytes: &[u8]| {
        let package = Package::from_bytes(name, None, bytes.to_vec(), graph.types_mut())
            .unwrap_or_else(|e| panic!("{name} is not a component: {e:?}"));
        graph
            .register_package(package)
            .unwrap_or_else(|e| panic!("cannot register {name}: {e:?}"))
    };
    let core_package = register("etcd-inventory:core", core);
    let gateway_package = register("etcd-inventory:gateway", gateway);
    let fail = |e: &dyn std::fmt::Debug| -> ! { panic!("cannot compose the components: {e:?}") };

    let gateway = graph.instantiate(gateway_package);
    let etcd = (graph.alias_instance_export(gateway, ETCD_INTERFACE)).unwrap_or_else(|e| fail(&e));
    let core = graph.instantiate(core_package);
    (graph.set_instantiation_argument(core, ETCD_INTERFACE, etcd)).unwrap_or_else(|e| fail(&e));
    // `etcd` first: an export may only name types exported before it.
    graph.export(etcd, ETCD_INTERFACE).unwrap_or_else(|e| fail(&e));
    let exports: Vec<String> = graph.types()[graph[core_package].ty()]
        .exports
        .keys()
        .cloned()
        .collect();
    for name in exports {
        let export = (graph.alias_instance_export(core, &name)).unwrap_or_else(|e| fail(&e));
        graph.export(export, &name).unwrap_or_else(|e| fail(&e));
    }
    graph
        .encode(EncodeOptions::default())
        .unwrap_or_else(|e| panic!("cannot encode the composed component: {e:?}"))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Runs `cargo build` of a component's package and returns the path of its `.wasm` (`file`
/// is its library name). Every source file the compiler read (from its dep-info file)
/// reruns this script when it changes.
fn build_component(root: &Path, target_dir: &Path, package: &str, file: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .args([
            "build",
            "--package",
            package,
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
            "building {package} for {WASM_TARGET} failed (see above); if the target is missing, run `rustup target add {WASM_TARGET}`"
        );
    }
    let out = target_dir.join(WASM_TARGET).join(PROFILE);
    let depinfo = std::fs::read_to_string(out.join(format!("{file}.d"))).expect("the component's dep-info file");
    for path in depinfo
        .lines()
        .flat_map(|line| line.split_once(':').map(|(_, deps)| deps))
        .flat_map(str::split_whitespace)
    {
        println!("cargo:rerun-if-changed={path}");
    }
    out.join(format!("{file}.wasm"))
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo sets {name} for build scripts"))
}
