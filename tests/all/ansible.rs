//! The real `ansible-inventory` reads our binary as an inventory script and sees exactly
//! what it sees in the equivalent static YAML inventory.

use std::path::Path;

use serde_json::Value;

use crate::support::{Etcd, SAMPLE_KV, ansible_command, ansible_json, binary, run, sample_yaml, sorted};

/// `ansible-inventory -i SOURCE --list`. Values are trusted: a YAML inventory's plain
/// strings are what our strings are then (unsafe marking is tested in `values`).
fn ansible_inventory(source: &Path, etcd: &Etcd) -> Value {
    ansible_json(source, etcd, &["--list"], &[("ETCD_INVENTORY_TRUST_TEMPLATES", "true")])
}

#[test]
fn ansible_inventory_sees_the_same_inventory_as_from_static_yaml() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let from_yaml = sorted(ansible_inventory(&sample_yaml(), &etcd));
    let from_etcd = sorted(ansible_inventory(Path::new(binary()), &etcd));
    assert_eq!(from_etcd, from_yaml);
    // The host with only host variables is kept, in ungrouped, with its variables.
    assert_eq!(from_etcd["ungrouped"]["hosts"], serde_json::json!(["bastion"]));
    assert_eq!(from_etcd["_meta"]["hostvars"]["bastion"]["ansible_host"], "10.0.0.1");
}

#[test]
fn ansible_playbook_runs_against_the_hosts_and_vars_from_etcd() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let (mut command, home) = ansible_command("ansible-playbook", Path::new(binary()), &etcd);
    let playbook = home.path().join("site.yml");
    std::fs::write(
        &playbook,
        "- hosts: web\n  gather_facts: false\n  connection: local\n  tasks:\n    - debug:\n        msg: \"{{ inventory_hostname }} port={{ http_port }} env={{ env }} ntp={{ ntp_server }}\"\n",
    )
    .expect("playbook");
    let run = run(command.arg(&playbook));
    assert_eq!(run.code, Some(0), "{run:#?}");
    for host in ["web01", "web02"] {
        let line = format!("{host} port=8080 env=production ntp=ntp.example.com");
        assert!(run.stdout.contains(&line), "expected {line:?} in {run:#?}");
    }
    assert!(!run.stdout.contains("db01"), "db01 is not in web: {run:#?}");
}
