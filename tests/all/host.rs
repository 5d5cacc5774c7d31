//! `--host NAME`: one host's variables, read from that host's keys only.

use serde_json::json;

use crate::support::{Etcd, SAMPLE_KV, inventory, marked as u};

#[test]
fn host_prints_its_variables() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    // A host whose name extends web01's must not leak into it.
    etcd.put(&[("/ansible/hostvars/web010/ansible_host", "10.9.9.9")]);
    let run = inventory(&etcd, &["--host", "web01"]);
    assert_eq!(
        run.json(),
        json!({"ansible_host": u("10.0.0.11"), "ansible_connection": u("local")})
    );
    assert_eq!(run.stderr, "");
}

#[test]
fn an_unknown_host_prints_an_empty_object() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let run = inventory(&etcd, &["--host", "nosuchhost"]);
    assert_eq!(run.json(), json!({}));
    assert_eq!(run.stdout, "{}\n");
}

#[test]
fn a_host_that_is_only_a_member_has_no_variables() {
    let etcd = Etcd::start();
    etcd.put(&[("/ansible/hosts/web/w1", "")]);
    assert_eq!(inventory(&etcd, &["--host", "w1"]).json(), json!({}));
}
