//! `--list`: the layout rules, end to end against a real etcd.

use serde_json::json;

use crate::support::{Etcd, SAMPLE_KV, inventory, marked as u};

/// The sample inventory as `--list` prints it by default: every value marked unsafe.
fn sample_expected() -> serde_json::Value {
    json!({
        "all": {"hosts": [], "vars": {"ntp_server": u("ntp.example.com")}, "children": ["prod", "ungrouped"]},
        "prod": {"hosts": [], "vars": {"env": u("production")}, "children": ["db", "web"]},
        "web": {"hosts": ["web01", "web02"], "vars": {"http_port": u("8080")}, "children": []},
        "db": {"hosts": ["db01"], "vars": {}, "children": []},
        "ungrouped": {"hosts": ["bastion"], "vars": {}, "children": []},
        "_meta": {"hostvars": {
            "bastion": {"ansible_host": u("10.0.0.1")},
            "db01": {"ansible_host": u("10.0.0.21"), "role": u("primary")},
            "web01": {"ansible_host": u("10.0.0.11"), "ansible_connection": u("local")},
            "web02": {"ansible_host": u("10.0.0.12")},
        }},
    })
}

#[test]
fn list_builds_groups_vars_children_ungrouped_and_meta() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let run = inventory(&etcd, &["--list"]);
    assert_eq!(run.json(), sample_expected());
    assert_eq!(run.stderr, "", "no warning without unknown keys");
}

#[test]
fn a_host_listed_in_ungrouped_and_in_another_group_is_only_in_the_other() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    // As Ansible reconciles it: ungrouped holds exactly the hosts in no other group.
    etcd.put(&[
        ("/ansible/hosts/ungrouped/web01", ""),
        ("/ansible/hosts/ungrouped/spare", ""),
    ]);
    let json = inventory(&etcd, &["--list"]).json();
    assert_eq!(json["ungrouped"]["hosts"], json!(["bastion", "spare"]));
    assert_eq!(json["web"]["hosts"], json!(["web01", "web02"]));
}

#[test]
fn list_reads_the_given_prefix_only_with_or_without_trailing_slash() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    etcd.put(&[
        ("/ansible2/hosts/other/intruder", ""),
        ("/ansibl/hosts/x/y", ""),
        ("/ansible", ""),
    ]);
    let plain = inventory(&etcd, &["--list", "--prefix", "/ansible"]);
    let slash = inventory(&etcd, &["--list", "--prefix", "/ansible/"]);
    assert_eq!(plain.json(), sample_expected());
    assert_eq!(plain.stdout, slash.stdout);
    assert_eq!(plain.stderr, "");
}

#[test]
fn list_of_an_empty_prefix_has_all_and_ungrouped_only() {
    let etcd = Etcd::start();
    let run = inventory(&etcd, &["--list", "--prefix", "/nothing/here"]);
    assert_eq!(
        run.json(),
        json!({
            "all": {"hosts": [], "vars": {}, "children": ["ungrouped"]},
            "ungrouped": {"hosts": [], "vars": {}, "children": []},
            "_meta": {"hostvars": {}},
        })
    );
}

#[test]
fn unknown_keys_are_skipped_with_one_warning_naming_count_and_example() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    etcd.put(&[
        ("/ansible/hostvars/web01/nginx/port", "80"),
        ("/ansible/hostvars/web01", "x"),
        ("/ansible/notes/readme", "hello"),
    ]);
    let run = inventory(&etcd, &["--list"]);
    assert_eq!(run.json(), sample_expected());
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one warning line: {run:#?}");
    assert!(lines[0].contains("warning: skipped 3 key(s)"), "{run:#?}");
    assert!(lines[0].contains("e.g. /ansible/hostvars/web01"), "{run:#?}");
}

#[test]
fn output_is_byte_identical_whatever_the_write_order() {
    let etcd = Etcd::start();
    let lines: Vec<&str> = SAMPLE_KV
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    etcd.load("/forward", &lines.join("\n"));
    let reversed: Vec<&str> = lines.iter().rev().copied().collect();
    etcd.load("/backward", &reversed.join("\n"));
    let forward = inventory(&etcd, &["--list", "--prefix", "/forward"]);
    let backward = inventory(&etcd, &["--list", "--prefix", "/backward"]);
    let again = inventory(&etcd, &["--list", "--prefix", "/forward"]);
    assert_eq!(forward.json(), sample_expected());
    assert_eq!(forward.stdout, backward.stdout);
    assert_eq!(forward.stdout, again.stdout);
}

#[test]
fn many_small_pages_give_the_same_inventory_as_one_page() {
    let etcd = Etcd::start();
    let mut pairs = Vec::new();
    for i in 0..300 {
        pairs.push((format!("/ansible/hosts/g{}/h{i:03}", i % 7), String::new()));
        pairs.push((format!("/ansible/hostvars/h{i:03}/n"), i.to_string()));
    }
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    etcd.put(&refs);
    let paged = inventory(&etcd, &["--list", "--page-size", "7"]);
    let whole = inventory(&etcd, &["--list", "--page-size", "100000"]);
    let json = paged.json();
    assert_eq!(json["_meta"]["hostvars"].as_object().map(|m| m.len()), Some(300));
    assert_eq!(json["_meta"]["hostvars"]["h123"]["n"], u("123"));
    assert_eq!(paged.stdout, whole.stdout);
}

#[test]
fn a_children_loop_fails_naming_the_loop() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    etcd.put(&[("/ansible/groups/web/edge", ""), ("/ansible/groups/edge/prod", "")]);
    inventory(&etcd, &["--list"]).failure(&["loop", "edge -> prod -> web -> edge"]);
}

#[test]
fn a_group_that_is_its_own_child_fails() {
    let etcd = Etcd::start();
    etcd.put(&[("/ansible/groups/web/web", "")]);
    inventory(&etcd, &["--list"]).failure(&["web -> web"]);
}

#[test]
fn a_non_utf8_value_fails_naming_the_key() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    etcd.put_raw(&[(b"/ansible/hostvars/web01/blob".to_vec(), vec![0xc3, 0x28, 0xff])]);
    inventory(&etcd, &["--list"]).failure(&["/ansible/hostvars/web01/blob", "UTF-8"]);
}
