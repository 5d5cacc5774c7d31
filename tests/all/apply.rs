//! `apply` against a real etcd, without Ansible (the modules that run it are tested in
//! `modules`): a JSON request on stdin, one JSON line out; a second run writes nothing (etcd's
//! revision stays); `--dry-run` writes nothing; a ttl puts the host under a lease; bad requests
//! are one line; and concurrent changes to the tree of groups never leave a loop in it.

use std::io::Write as _;
use std::process::Stdio;

use serde_json::{Value, json};

use crate::support::{Etcd, Run, SAMPLE_KV, binary, clean_command, inventory};

/// `etcd-inventory apply ARGS` with `request` on stdin.
fn apply(etcd: &Etcd, request: &Value, args: &[&str]) -> Run {
    apply_at(&etcd.endpoint, request, args)
}

fn apply_at(endpoint: &str, request: &Value, args: &[&str]) -> Run {
    apply_with(endpoint, &[], request, args)
}

fn apply_with(endpoint: &str, env: &[(&str, &str)], request: &Value, args: &[&str]) -> Run {
    let mut child = clean_command(binary())
        .env("ETCDCTL_ENDPOINTS", endpoint)
        .envs(env.iter().copied())
        .env("ETCDCTL_DIAL_TIMEOUT", "1s")
        .arg("apply")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn etcd-inventory apply");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(request.to_string().as_bytes())
        .expect("write the request");
    drop(stdin);
    let out = child.wait_with_output().expect("wait for apply");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn apply_writes_a_host_once_and_then_nothing() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let request = json!({"kind": "host", "name": "web-7", "groups": ["web"], "vars": {"ansible_host": "10.0.0.7"}});
    let first = apply(&etcd, &request, &[]).json();
    assert_eq!(first["changed"], true, "{first}");
    assert_eq!(first["before"], json!({"state": "absent"}));
    assert_eq!(
        first["after"],
        json!({"state": "present", "groups": ["web"], "vars": {"ansible_host": "10.0.0.7"}, "ttl": null})
    );
    let keys = etcd.get_prefix("/ansible/");
    assert_eq!(keys.get("/ansible/hosts/web/web-7").map(String::as_str), Some(""));
    assert_eq!(
        keys.get("/ansible/hostvars/web-7/ansible_host").map(String::as_str),
        Some("10.0.0.7")
    );
    let listed = inventory(&etcd, &["--list", "--trust-templates"]).json();
    // The sample's keys hold no positions either: the group reads by name.
    assert_eq!(listed["web"]["hosts"], json!(["web-7", "web01", "web02"]), "{listed}");

    let revision = etcd.revision();
    let second = apply(&etcd, &request, &[]).json();
    assert_eq!(second["changed"], false, "{second}");
    assert_eq!(second["before"], first["after"]);
    assert_eq!(etcd.revision(), revision, "a second run wrote");

    // An imported host given what it has keeps its keys as they are.
    let imported = json!({"kind": "host", "name": "web01", "groups": ["web"], "vars": {"ansible_host": "10.0.0.11", "ansible_connection": "local"}});
    assert_eq!(apply(&etcd, &imported, &[]).json()["changed"], false);
    assert_eq!(etcd.revision(), revision);
}

#[test]
fn apply_dry_run_plans_and_writes_nothing() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let before = etcd.get_prefix("/ansible/");
    let revision = etcd.revision();
    let request = json!({"kind": "group", "name": "prod", "children": ["web"], "vars": {"env": "staging"}});
    let planned = apply(&etcd, &request, &["--dry-run"]).json();
    assert_eq!(planned["changed"], true);
    assert_eq!(planned["before"]["children"], json!(["db", "web"]));
    assert_eq!(planned["after"]["children"], json!(["web"]));
    assert_eq!(planned["after"]["vars"], json!({"env": "staging"}));
    let ttl = json!({"kind": "host", "name": "w9", "groups": ["web"], "ttl": 60});
    let leased = apply(&etcd, &ttl, &["--dry-run"]).json();
    assert_eq!(
        (leased["changed"].clone(), leased["lease"].clone()),
        (json!(true), Value::Null)
    );
    assert_eq!(etcd.revision(), revision, "a dry run wrote");
    assert_eq!(etcd.get_prefix("/ansible/"), before);
    let check = inventory(&etcd, &["check"]);
    assert!(
        !check.stdout.contains("leased"),
        "a dry run granted a lease: {check:#?}"
    );
}

#[test]
fn apply_with_a_ttl_leases_the_host_and_renews_the_same_lease() {
    let etcd = Etcd::start();
    let request = json!({"kind": "host", "name": "batch-3", "groups": ["batch"], "ttl": 120});
    let first = apply(&etcd, &request, &[]).json();
    let lease = first["lease"].as_str().expect("a lease id").to_string();
    assert_eq!(first["after"]["ttl"], 120);
    let check = inventory(&etcd, &["check"]);
    assert!(
        check
            .stdout
            .contains(&format!("leased: host \"batch-3\" (lease {lease})")),
        "{check:#?}"
    );
    let again = apply(&etcd, &request, &[]).json();
    assert_eq!(
        (again["changed"].clone(), again["lease"].clone()),
        (json!(false), json!(lease))
    );
    // Without a ttl, the keys are put again under no lease: they stay.
    let unleased = apply(&etcd, &json!({"kind": "host", "name": "batch-3"}), &[]).json();
    assert_eq!(
        (unleased["changed"].clone(), unleased["lease"].clone()),
        (json!(true), Value::Null)
    );
    assert!(!inventory(&etcd, &["check"]).stdout.contains("leased"));
}

#[test]
fn bad_requests_are_one_line_and_write_nothing() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let revision = etcd.revision();
    for (request, expected) in [
        (
            json!({"kind": "host", "name": "h", "grups": ["web"]}),
            "unknown field `grups`",
        ),
        (
            json!({"kind": "host", "name": "a/b", "groups": ["web"]}),
            "host name \"a/b\"",
        ),
        (json!({"kind": "host", "name": "h"}), "no key at all"),
        (json!({"kind": "group", "name": "web", "children": ["prod"]}), "loop"),
        (
            json!({"kind": "group", "name": "all", "state": "absent"}),
            "cannot be absent",
        ),
    ] {
        apply(&etcd, &request, &[]).failure(&[expected]);
    }
    let not_json = {
        let mut command = clean_command(binary());
        command
            .env("ETCDCTL_ENDPOINTS", &etcd.endpoint)
            .arg("apply")
            .stdin(Stdio::null());
        crate::support::run(&mut command)
    };
    not_json.failure(&["the request is not what apply takes"]);
    assert_eq!(etcd.revision(), revision);
}

#[test]
fn apply_cannot_reach_a_dead_etcd_and_says_so() {
    let endpoint = format!("http://127.0.0.1:{}", crate::support::etcd::free_port());
    let request = json!({"kind": "host", "name": "h", "groups": ["g"]});
    apply_at(&endpoint, &request, &[]).failure(&[endpoint.as_str()]);
}

/// Two plays at once, one making `b` a child of `a`, the other `a` a child of `b`: each may
/// be planned on a tree without a loop, and each alone is fine. The transaction of each is
/// guarded by the tree as it read it, so exactly one of them is written, whatever the
/// timing: the inventory never ends with a loop.
#[test]
fn concurrent_children_never_make_a_loop() {
    let etcd = Etcd::start();
    const ROUNDS: usize = 8;
    for round in 0..ROUNDS {
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        let one = json!({"kind": "group", "name": a, "children": [b]});
        let other = json!({"kind": "group", "name": b, "children": [a]});
        let runs = std::thread::scope(|scope| {
            let first = scope.spawn(|| apply(&etcd, &one, &[]));
            let second = scope.spawn(|| apply(&etcd, &other, &[]));
            [first.join().expect("first"), second.join().expect("second")]
        });
        // The second to commit finds the other's child when it plans again, and refuses.
        let written = runs.iter().filter(|r| r.code == Some(0)).count();
        assert_eq!(written, 1, "round {round}: {runs:#?}");
        for refused in runs.iter().filter(|r| r.code != Some(0)) {
            refused.failure(&["loop"]);
        }
        inventory(&etcd, &["--list"]).json();
    }
}

/// The README's registrar role (Security): read and write under `hosts/` and `hostvars/`.
/// Enough to register, deregister and apply a host; not enough for a group's variables; and,
/// as the README says plainly, enough to write another machine's keys too.
#[test]
fn the_readme_s_registrar_role_registers_and_cannot_be_limited_to_one_host() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    etcd.add_user_writing("registrar", "pw-registrar", &["/ansible/hosts/", "/ansible/hostvars/"]);
    etcd.enable_auth("pw-root");
    let user = [("ETCDCTL_USER", "registrar:pw-registrar")];
    let binary_as_registrar = |args: &[&str]| {
        crate::support::run(
            clean_command(binary())
                .env("ETCDCTL_ENDPOINTS", &etcd.endpoint)
                .envs(user)
                .args(args),
        )
    };
    let registered = binary_as_registrar(&["register", "web-7", "--group", "web", "--var", "a=1", "--once"]);
    assert_eq!(registered.code, Some(0), "{registered:#?}");
    let host = json!({"kind": "host", "name": "web-7", "groups": ["web", "eu"], "vars": {"a": "2"}});
    assert_eq!(apply_with(&etcd.endpoint, &user, &host, &[]).json()["changed"], true);
    let deregistered = binary_as_registrar(&["deregister", "web-7"]);
    assert_eq!(deregistered.code, Some(0), "{deregistered:#?}");
    // Not a group's keys.
    let group = json!({"kind": "group", "name": "web", "vars": {"x": "1"}});
    apply_with(&etcd.endpoint, &user, &group, &[])
        .failure(&["user \"registrar\" may not read the keys under /ansible/groups/"]);
    // But any host's: db01 is not this machine, and its address is rewritten all the same.
    let other = json!({"kind": "host", "name": "db01", "vars": {"ansible_host": "10.9.9.9"}, "append": true});
    assert_eq!(apply_with(&etcd.endpoint, &user, &other, &[]).json()["changed"], true);
    assert_eq!(
        etcd.get_prefix("/ansible/hostvars/db01/ansible_host")
            .values()
            .next()
            .map(String::as_str),
        Some("10.9.9.9")
    );
}

/// The README's role for the `group` module: read and write under `groups/`, `groupvars/`
/// and `hosts/`.
#[test]
fn the_readme_s_group_role_is_enough_for_the_group_module() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let prefixes = ["/ansible/groups/", "/ansible/groupvars/", "/ansible/hosts/"];
    etcd.add_user_writing("grouper", "pw-grouper", &prefixes);
    etcd.enable_auth("pw-root");
    let user = [("ETCDCTL_USER", "grouper:pw-grouper")];
    let prod = json!({"kind": "group", "name": "prod", "children": ["web", "edge"], "vars": {"env": "staging"}});
    assert_eq!(apply_with(&etcd.endpoint, &user, &prod, &[]).json()["changed"], true);
    let db = json!({"kind": "group", "name": "db", "state": "absent"});
    assert_eq!(apply_with(&etcd.endpoint, &user, &db, &[]).json()["changed"], true);
    let keys = etcd.get_prefix("/ansible/");
    assert!(keys.contains_key("/ansible/groups/prod/edge") && !keys.contains_key("/ansible/hosts/db/db01"));
}
