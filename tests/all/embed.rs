//! The portable component outside our binary: written out by `etcd-inventory component`,
//! run by stock wasmtime through the three-line wrapper in embed/, and called as a typed
//! library by another Rust program (host/examples/embed.rs). (Node: `node.rs`.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::support::{Etcd, SAMPLE_KV, binary, clean_command, inventory, run};
#[cfg(all(feature = "ansible", feature = "wasmtime-cli"))]
use crate::support::{ansible_json, sorted};
#[cfg(feature = "wasmtime-cli")]
use crate::support::{repo_root, wasmtime_cli};

/// The component build.rs built and precompiled.
const WASM: &str = env!("ETCD_INVENTORY_WASM");

/// Writes the binary's component into `dir` as the wrapper expects it; returns its path.
fn write_component(dir: &Path) -> PathBuf {
    let path = dir.join("etcd_inventory.wasm");
    let written = run(clean_command(binary()).args(["component", "--output"]).arg(&path));
    assert_eq!((written.code, written.stderr.as_str()), (Some(0), ""), "{written:#?}");
    path
}

#[test]
fn the_binary_writes_the_very_component_it_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let written = std::fs::read(write_component(dir.path())).expect("read the written component");
    assert_eq!(
        written,
        std::fs::read(WASM).expect("read the built component"),
        "byte for byte"
    );
    let output = clean_command(binary())
        .args(["component", "-o", "-"])
        .output()
        .expect("run");
    assert!(
        output.status.success() && output.stdout == written,
        "the same bytes on stdout"
    );

    let missing = dir.path().join("no/such/dir/c.wasm");
    run(clean_command(binary()).args(["component", "--output"]).arg(&missing))
        .failure(&["cannot write the component to", "no/such/dir/c.wasm"]);
}

#[cfg(feature = "wasmtime-cli")]
#[test]
fn the_wasmtime_wrapper_is_an_inventory_script_for_ansible() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let dir = tempfile::tempdir().expect("temp dir");
    write_component(dir.path());
    let wrapper = dir.path().join("wasmtime-inventory.sh");
    std::fs::copy(repo_root().join("embed/wasmtime-inventory.sh"), &wrapper).expect("copy the wrapper");
    // The wrapper runs `wasmtime` from PATH, as a user's would.
    let wasmtime = wasmtime_cli();
    let path = std::env::join_paths(
        std::iter::once(wasmtime.parent().expect("wasmtime's directory").to_path_buf())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .expect("PATH");
    let path = path.to_str().expect("a UTF-8 PATH");

    for args in [&["--list"][..], &["--host", "web01"], &["--host", "nobody"]] {
        let wrapped = run(clean_command(&wrapper)
            .env("PATH", path)
            .env("ETCDCTL_ENDPOINTS", &etcd.endpoint)
            .args(args));
        assert_eq!(wrapped.code, Some(0), "{args:?}: {wrapped:#?}");
        assert_eq!(wrapped.stdout, inventory(&etcd, args).stdout, "{args:?}");
    }
    #[cfg(feature = "ansible")]
    {
        let env = [("PATH", path), ("ETCD_INVENTORY_TRUST_TEMPLATES", "true")];
        let through_wrapper = ansible_json(&wrapper, &etcd, &["--list"], &env);
        let through_binary = ansible_json(Path::new(binary()), &etcd, &["--list"], &env);
        assert_eq!(sorted(through_wrapper), sorted(through_binary));
    }
}

#[test]
fn another_rust_program_gets_the_inventory_as_typed_data() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    etcd.put(&[("/ansible/hostvars/web01/quote", "say \"hi\"")]);
    let dir = tempfile::tempdir().expect("temp dir");
    let wasm = write_component(dir.path());
    let example = example_binary("embed");
    let printed = run(clean_command(&example).arg(&wasm).arg(&etcd.endpoint));
    assert_eq!((printed.code, printed.stderr.as_str()), (Some(0), ""), "{printed:#?}");

    // The same inventory as --list, group by group and host by host.
    let list = inventory(&etcd, &["--list", "--trust-templates"]).json();
    let mut expected = BTreeSet::new();
    for (name, group) in list
        .as_object()
        .expect("an object")
        .iter()
        .filter(|(n, _)| *n != "_meta")
    {
        let names = |field: &str| -> String {
            let items = group[field].as_array().map(Vec::as_slice).unwrap_or_default();
            let names: Vec<&str> = items.iter().map(|v| v.as_str().expect("a name")).collect();
            names.join(",")
        };
        let vars: Vec<&str> = group["vars"]
            .as_object()
            .expect("vars")
            .keys()
            .map(String::as_str)
            .collect();
        expected.insert(format!(
            "group {name} hosts={} children={} vars={}",
            names("hosts"),
            names("children"),
            vars.join(",")
        ));
    }
    for (host, vars) in list["_meta"]["hostvars"].as_object().expect("hostvars") {
        let vars: Vec<String> = (vars.as_object().expect("vars").iter())
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        expected.insert(format!("host {host} {}", vars.join(" ")));
    }
    let lines: BTreeSet<String> = printed.stdout.lines().map(str::to_string).collect();
    assert_eq!(lines, expected);
    assert!(
        lines.contains(r#"host web01 ansible_connection="local" ansible_host="10.0.0.11" quote="say \"hi\"""#),
        "values are JSON text: {lines:#?}"
    );

    // Errors come back as the WIT variant, typed: the example names the case.
    let unreachable = run(clean_command(&example).arg(&wasm).arg("http://127.0.0.1:1"));
    assert_ne!(unreachable.code, Some(0), "{unreachable:#?}");
    assert_eq!(unreachable.stdout, "");
    assert!(unreachable.stderr.contains("Unreachable"), "{unreachable:#?}");
}

/// An example program of the host package, which `cargo test` builds beside the tests.
fn example_binary(name: &str) -> PathBuf {
    let test_binary = std::env::current_exe().expect("the test binary's path");
    // target/debug/deps/all-HASH -> target/debug/examples/NAME
    let profile_dir = test_binary.parent().and_then(Path::parent).expect("target/PROFILE");
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build --example {name}` (cargo test --workspace does)",
        path.display()
    );
    path
}
