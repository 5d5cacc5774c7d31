//! Settings end to end: flag > environment > etcd.ini > default, with the classic etcd.ini.

use crate::support::{Etcd, SAMPLE_KV, binary, clean_command, host_names, run};

/// Writes a classic etcd.ini pointing at `etcd` with `prefix`, and returns its path. Its
/// `[cache]` section is off here: tests/all/cache.rs covers the cache.
fn write_ini(etcd: &Etcd, prefix: &str) -> std::path::PathBuf {
    let path = etcd.dir().join("etcd.ini");
    let text = format!(
        "# Ansible etcd external inventory script settings\n[etcd]\nprefix = {prefix}\nhost = 127.0.0.1\nport = {}\n\n[cache]\nenabled = false\npath = ~/.ansible/tmp\nmax_age = 300\n",
        etcd.port()
    );
    std::fs::write(&path, text).expect("write etcd.ini");
    path
}

fn hosts_of(run: crate::support::Run) -> Vec<String> {
    host_names(&run.json())
}

#[test]
fn a_classic_etcd_ini_supplies_endpoint_and_prefix() {
    let etcd = Etcd::start();
    etcd.load("/cmdb", SAMPLE_KV);
    let ini = write_ini(&etcd, "/cmdb");
    let run = run(clean_command(binary()).arg("--list").env("ETCD_INI_PATH", &ini));
    assert_eq!(hosts_of(run), ["bastion", "db01", "web01", "web02"]);
}

#[test]
fn environment_beats_ini_and_flag_beats_environment() {
    let etcd = Etcd::start();
    etcd.put(&[
        ("/ini/hosts/g/from-ini", ""),
        ("/env/hosts/g/from-env", ""),
        ("/flag/hosts/g/from-flag", ""),
    ]);
    let ini = write_ini(&etcd, "/ini");
    let base = || {
        let mut c = clean_command(binary());
        c.arg("--list").env("ETCD_INI_PATH", &ini);
        c
    };
    assert_eq!(hosts_of(run(&mut base())), ["from-ini"]);
    assert_eq!(hosts_of(run(base().env("ETCD_INVENTORY_PREFIX", "/env"))), ["from-env"]);
    assert_eq!(
        hosts_of(run(base()
            .env("ETCD_INVENTORY_PREFIX", "/env")
            .args(["--prefix", "/flag"]))),
        ["from-flag"]
    );
}

#[test]
fn etcd_ini_beside_the_executable_is_read() {
    // Ansible runs the script by its path; the classic script read etcd.ini beside itself.
    let etcd = Etcd::start();
    etcd.load("/beside", SAMPLE_KV);
    let dir = tempfile::tempdir().expect("temp dir");
    let exe = dir.path().join("etcd-inventory");
    std::fs::copy(binary(), &exe).expect("copy binary");
    std::fs::copy(write_ini(&etcd, "/beside"), dir.path().join("etcd.ini")).expect("copy ini");
    assert_eq!(
        hosts_of(run(clean_command(&exe).arg("--list"))),
        ["bastion", "db01", "web01", "web02"]
    );
}

#[test]
fn a_named_etcd_ini_that_is_missing_is_an_error() {
    let run = run(clean_command(binary())
        .arg("--list")
        .env("ETCD_INI_PATH", "/nonexistent/etcd.ini"));
    run.failure(&["/nonexistent/etcd.ini", "ETCD_INI_PATH"]);
}
