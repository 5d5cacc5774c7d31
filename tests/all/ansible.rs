//! The real `ansible-inventory` reads our binary as an inventory script and sees exactly
//! what it sees in the equivalent static YAML inventory; Ansible shows our warnings.

use std::path::Path;

use serde_json::Value;

use crate::support::{
    Etcd, SAMPLE_KV, ansible_command, ansible_json, ansible_version, binary, inventory, run, sample_yaml, sorted,
};

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

#[test]
fn ansible_shows_our_warning_as_its_error_and_still_uses_the_inventory() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    etcd.put(&[("/ansible/stray", "a key that fits no kind")]);
    let ours = inventory(&etcd, &["--list"]);
    assert_eq!(ours.code, Some(0), "{ours:#?}");
    let warning = ours.stderr.trim_end();
    assert!(
        warning.starts_with("etcd-inventory: warning: skipped 1 key(s)"),
        "{ours:#?}"
    );
    assert!(warning.len() > 80, "long enough to show the wrapping: {warning}");

    let (mut command, _home) = ansible_command("ansible", Path::new(binary()), &etcd);
    let run = run(command.args(["web01", "-c", "local", "-m", "debug", "-a", "var=http_port"]));
    assert_eq!(run.code, Some(0), "a warning is no failure: {run:#?}");
    assert!(run.stdout.contains(r#""http_port": "8080""#), "{run:#?}");
    // Ansible shows whatever an inventory script writes to stderr as an error of its own.
    let lines: Vec<&str> = run.stderr.lines().collect();
    if ansible_version() >= (2, 19) {
        // 2.19: one line, the warning as we wrote it.
        assert!(lines.contains(&format!("[ERROR]: {warning}").as_str()), "{run:#?}");
    } else {
        // 2.16-2.18: indented by a space and wrapped at 80 columns.
        let first = lines
            .iter()
            .position(|l| l.starts_with(" [ERROR]: etcd-inventory: warning: "))
            .unwrap_or_else(|| panic!("no \" [ERROR]: \" line: {run:#?}"));
        let shown: Vec<&str> = lines[first..]
            .iter()
            .take_while(|l| !l.trim_start().starts_with('[') || l.contains("etcd-inventory: warning"))
            .copied()
            .collect();
        assert!(shown.len() > 1 && shown.iter().all(|l| l.len() <= 80), "{shown:#?}");
        assert_eq!(shown.join(" "), format!(" [ERROR]: {warning}"));
    }
}
