//! `--graph`: the tree `ansible-inventory --graph` draws from our inventory, drawn by us.

#[cfg(feature = "ansible")]
use std::path::Path;

use crate::support::{Etcd, SAMPLE_KV, inventory};
#[cfg(feature = "ansible")]
use crate::support::{ansible_command, binary, run};

#[cfg(feature = "ansible")]
fn ansible_graph(etcd: &Etcd, group: Option<&str>) -> String {
    let (mut command, _home) = ansible_command("ansible-inventory", Path::new(binary()), etcd);
    command.arg("--graph").args(group);
    let run = run(&mut command);
    assert_eq!(run.code, Some(0), "{run:#?}");
    run.stdout
}

#[cfg(feature = "ansible")]
#[test]
fn graph_draws_what_ansible_inventory_draws() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    // More shapes: a group under two parents, a host in two groups, an empty child group.
    etcd.put(&[
        ("/ansible/groups/staging/web", ""),
        ("/ansible/hosts/staging/stage01", ""),
        ("/ansible/hosts/staging/db01", ""),
        ("/ansible/groups/web/canary", ""),
    ]);
    for group in [None, Some("web"), Some("prod"), Some("canary")] {
        let ours = inventory(&etcd, &[&["--graph"][..], group.as_slice()].concat());
        assert_eq!(ours.code, Some(0), "{ours:#?}");
        assert_eq!(ours.stdout, ansible_graph(&etcd, group), "--graph {group:?}");
        assert_eq!(ours.stderr, "");
    }
    let all = inventory(&etcd, &["--graph"]).stdout;
    assert!(all.starts_with("@all:\n  |--@ungrouped:\n  |  |--bastion\n"), "{all}");
}

#[test]
fn graph_of_an_unknown_group_is_an_error() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    inventory(&etcd, &["--graph", "nope"]).failure(&["--graph nope: no group of that name"]);
}
