//! The same component under the stock `wasmtime` CLI (`wasmtime run -S http`): same flags,
//! environment and etcd.ini as the binary, same output.

use std::path::PathBuf;

use crate::support::{Etcd, Run, SAMPLE_KV, clean_command, etcd::free_port, inventory, run, wasmtime_cli};

/// The component build.rs built and precompiled.
const WASM: &str = env!("ETCD_INVENTORY_WASM");

fn wasmtime_run(env: &[(&str, &str)], extra: &[&str], args: &[&str]) -> Run {
    let mut command = clean_command(wasmtime_cli());
    command.args(["run", "-S", "http"]);
    for (name, value) in env {
        command.arg("--env").arg(format!("{name}={value}"));
    }
    command.args(extra).arg(WASM).args(args);
    run(&mut command)
}

#[test]
fn stock_wasmtime_prints_what_the_binary_prints() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    etcd.put(&[("/ansible/hostvars/web01/deep/key", "x")]);
    let env = [("ETCDCTL_ENDPOINTS", etcd.endpoint.as_str())];
    for args in [
        &["--list"][..],
        &["--host", "web01"],
        &["--host", "nobody"],
        &["--list", "--page-size", "3"],
        &["--graph"],
        &["--graph", "web"],
    ] {
        let stock = wasmtime_run(&env, &[], args);
        let ours = inventory(&etcd, args);
        assert_eq!(stock.code, Some(0), "{args:?}: {stock:#?}");
        assert_eq!(stock.stdout, ours.stdout, "{args:?}");
        assert_eq!(stock.stderr, ours.stderr, "{args:?}: the same warning");
    }
}

#[test]
fn stock_wasmtime_reads_etcd_ini_from_a_preopened_directory() {
    let etcd = Etcd::start();
    etcd.load("/cmdb", SAMPLE_KV);
    let config: PathBuf = etcd.dir().join("config");
    std::fs::create_dir(&config).expect("config dir");
    let ini = format!("[etcd]\nprefix = /cmdb\nhost = 127.0.0.1\nport = {}\n", etcd.port());
    std::fs::write(config.join("etcd.ini"), ini).expect("etcd.ini");
    let dir = format!("{}::/config", config.display());
    let stock = wasmtime_run(&[("ETCD_INI_PATH", "/config/etcd.ini")], &["--dir", &dir], &["--list"]);
    assert_eq!(stock.code, Some(0), "{stock:#?}");
    let json: serde_json::Value = serde_json::from_str(&stock.stdout).expect("json");
    assert_eq!(json["ungrouped"]["hosts"], serde_json::json!(["bastion"]));
}

#[test]
fn stock_wasmtime_reports_errors_on_stderr_only() {
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let stock = wasmtime_run(&[("ETCDCTL_ENDPOINTS", &endpoint)], &[], &["--list"]);
    assert_ne!(stock.code, Some(0), "{stock:#?}");
    assert_eq!(stock.stdout, "");
    assert!(
        stock.stderr.contains(&format!("cannot reach etcd at {endpoint}")),
        "{stock:#?}"
    );
}

#[test]
fn stock_wasmtime_authenticates_with_credentials_from_its_environment() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    etcd.enable_auth("root-Secret-1");
    etcd.add_reader("alice", "alice-Secret-2", "/ansible/");
    let env = [
        ("ETCDCTL_ENDPOINTS", etcd.endpoint.as_str()),
        ("ETCDCTL_USER", "alice"),
        ("ETCDCTL_PASSWORD", "alice-Secret-2"),
    ];
    let stock = wasmtime_run(&env, &[], &["--list"]);
    assert_eq!(stock.code, Some(0), "{stock:#?}");
    let json: serde_json::Value = serde_json::from_str(&stock.stdout).expect("json");
    assert_eq!(json["db"]["hosts"], serde_json::json!(["db01"]));
}

#[test]
fn stock_wasmtime_refuses_tls_files_it_cannot_apply() {
    let env = [
        ("ETCDCTL_ENDPOINTS", "https://127.0.0.1:2379"),
        ("ETCDCTL_CACERT", "/ca.pem"),
    ];
    let stock = wasmtime_run(&env, &[], &["--list"]);
    assert_ne!(stock.code, Some(0), "{stock:#?}");
    assert_eq!(stock.stdout, "");
    assert!(stock.stderr.contains("use the etcd-inventory binary"), "{stock:#?}");
}
