//! `etcd-inventory check` on a real etcd: every problem one line, exit 1 exactly when
//! `--list` fails on the same keys.

use crate::support::{Etcd, SAMPLE_KV, inventory};

#[test]
fn a_clean_inventory_checks_clean() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let checked = inventory(&etcd, &["check"]);
    assert_eq!(checked.code, Some(0), "{checked:#?}");
    let revision = etcd.revision();
    // bastion has variables and no group: worth knowing, not an error.
    assert_eq!(
        checked.stdout,
        format!(
            "warning: host \"bastion\" has variables but is in no group: it lands in \"ungrouped\"\n\
             0 error(s), 1 warning(s) in 14 key(s) under /ansible/ at revision {revision}\n"
        )
    );
    assert_eq!(checked.stderr, "");
}

#[test]
fn every_problem_is_reported_and_the_exit_status_follows_list() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    etcd.put(&[
        ("/ansible/groups/a/b", ""),
        ("/ansible/groups/b/a", ""),
        ("/ansible/groups/web/edge", ""),
        ("/ansible/hosts/web-servers/web01", ""),
        ("/ansible/stray", "x"),
        ("/ansible/hosts/web/x/y", ""),
    ]);
    etcd.put_raw(&[(b"/ansible/hostvars/web01/blob".to_vec(), b"\xff\xfe".to_vec())]);
    let checked = inventory(&etcd, &["check"]);
    assert_eq!(checked.code, Some(1), "{checked:#?}");
    let lines: Vec<&str> = checked.stdout.lines().collect();
    let expected = [
        "error: the value of key \"/ansible/hostvars/web01/blob\" is not valid UTF-8",
        "error: group children form a loop: a -> b -> a",
        "warning: key \"/ansible/hosts/web/x/y\" fits none of",
        "warning: key \"/ansible/stray\" fits none of",
        "warning: group \"edge\" is a child of \"web\" but has no hosts, vars or children of its own",
        "warning: group \"web-servers\" has characters Ansible flags in group names",
        "warning: host \"bastion\" has variables but is in no group",
        "2 error(s), 5 warning(s) in 21 key(s) under /ansible/ at revision",
    ];
    assert_eq!(lines.len(), expected.len(), "{checked:#?}");
    for (line, start) in lines.iter().zip(expected) {
        assert!(line.starts_with(start), "{line:?} should start with {start:?}");
    }
    inventory(&etcd, &["--list"]).failure(&["not valid UTF-8"]);

    // Without the fatal keys, --list works and check exits 0 with the warnings (one more:
    // with the loop broken, group b is an empty child of a).
    etcd.delete("/ansible/hostvars/web01/blob");
    etcd.delete("/ansible/groups/b/a");
    let checked = inventory(&etcd, &["check"]);
    assert_eq!(checked.code, Some(0), "{checked:#?}");
    assert!(
        checked
            .stdout
            .contains("group \"b\" is a child of \"a\" but has no hosts"),
        "{checked:#?}"
    );
    assert!(checked.stdout.contains("0 error(s), 6 warning(s)"), "{checked:#?}");
    inventory(&etcd, &["--list"]).json();
}

#[test]
fn check_honours_the_prefix_and_nested_keys() {
    let etcd = Etcd::start();
    etcd.put(&[
        ("/team/hostvars/h/nginx", "on"),
        ("/team/hostvars/h/nginx/port", "80"),
        ("/team/hosts/g/h", ""),
    ]);
    // Flat keys: the deeper key is of no known shape, and --list skips it.
    let flat = inventory(&etcd, &["check", "--prefix", "/team"]);
    assert_eq!(flat.code, Some(0), "{flat:#?}");
    assert!(
        flat.stdout.contains("key \"/team/hostvars/h/nginx/port\" fits none of"),
        "{flat:#?}"
    );
    // Nested keys: the same keys clash, as --list says.
    let nested = inventory(&etcd, &["check", "--prefix", "/team", "--nested-keys"]);
    assert_eq!(nested.code, Some(1), "{nested:#?}");
    assert!(
        nested
            .stdout
            .starts_with("error: key \"/team/hostvars/h/nginx\" holds a value"),
        "{nested:#?}"
    );
    inventory(&etcd, &["--list", "--prefix", "/team", "--nested-keys"]).failure(&["holds a value"]);
}

#[test]
fn check_and_import_name_an_unreachable_etcd_as_list_does() {
    let endpoint = format!("http://127.0.0.1:{}", crate::support::etcd::free_port());
    let data = tempfile::tempdir().expect("temp dir");
    let file = data.path().join("inventory.json");
    std::fs::write(&file, "{\"web\": [\"web01\"]}").expect("write file");
    let mut list = crate::support::clean_command(crate::support::binary());
    list.args(["--list", "--endpoints", &endpoint]);
    let mut check = crate::support::clean_command(crate::support::binary());
    check.args(["check", "--endpoints", &endpoint]);
    let mut import = crate::support::clean_command(crate::support::binary());
    import.args(["import", "--endpoints", &endpoint]).arg(&file);
    for mut command in [list, check, import] {
        crate::support::run(&mut command).failure(&[
            &format!("cannot reach etcd at {endpoint}: "),
            "onnection refused",
            "set --endpoints, ETCDCTL_ENDPOINTS or etcd.ini",
        ]);
    }
}
