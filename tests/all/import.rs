//! `etcd-inventory import`: a static inventory migrated into a real etcd through
//! `ansible-inventory --list`, read back by Ansible as the same inventory; idempotence and
//! its report; --dry-run and --replace; bad input that writes nothing; etcd's limits and
//! permissions; the same connection settings as the reader (TLS, users).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{Value, json};

use crate::support::pki::TestPki;
use crate::support::{Etcd, Run, SAMPLE_KV, binary, clean_command, inventory, run};
#[cfg(feature = "ansible")]
use crate::support::{ansible_json, repo_root};

#[cfg(feature = "ansible")]
fn migrate_yaml() -> PathBuf {
    repo_root().join("tests/data/migrate.yml")
}

/// Typed values (the file has numbers, booleans, lists and maps) and trusted strings (a YAML
/// file's strings are plain): how a migrated team would read its inventory.
#[cfg(feature = "ansible")]
const READ_AS_YAML: [(&str, &str); 2] = [
    ("ETCD_INVENTORY_TYPED_VALUES", "true"),
    ("ETCD_INVENTORY_TRUST_TEMPLATES", "true"),
];

/// Writes `text` to a file in the fixture's directory and returns its path.
fn file(etcd: &Etcd, name: &str, text: &str) -> PathBuf {
    let path = etcd.dir().join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

fn import(etcd: &Etcd, file: &Path, args: &[&str]) -> Run {
    let mut command = clean_command(binary());
    command
        .env("ETCDCTL_ENDPOINTS", &etcd.endpoint)
        .arg("import")
        .arg(file)
        .args(args);
    run(&mut command)
}

/// The migration the README shows, for both forms of `ansible-inventory --list`: with
/// `--export` group variables stay on groups, without they are merged into hosts.
#[cfg(feature = "ansible")]
#[test]
fn a_static_inventory_migrates_into_etcd_and_ansible_sees_the_same() {
    for export in [true, false] {
        let etcd = Etcd::start();
        let yaml = migrate_yaml();
        let mut args = vec!["--list"];
        if export {
            args.push("--export");
        }
        let listed = ansible_json(&yaml, &etcd, &args, &[]);
        let listed = file(&etcd, "listed.json", &listed.to_string());

        let mut command = clean_command(binary());
        command
            .env("ETCDCTL_ENDPOINTS", &etcd.endpoint)
            .envs(READ_AS_YAML)
            .arg("import")
            .arg(&listed);
        let imported = run(&mut command);
        assert_eq!(imported.code, Some(0), "export={export}: {imported:#?}");
        assert!(
            imported.stdout.contains(" created, 0 changed, 0 unchanged, 0 deleted"),
            "{imported:#?}"
        );
        // Typed values on: no warning about them; only the empty group the file names.
        assert_eq!(
            imported.stderr,
            "etcd-inventory: warning: 1 group(s) named only as children taken as empty groups \
             (ansible-inventory --list names empty groups so): \"canary\"; --strict refuses them\n"
        );

        let ours = run(clean_command(binary())
            .env("ETCDCTL_ENDPOINTS", &etcd.endpoint)
            .envs(READ_AS_YAML)
            .arg("--list"));
        ours.json();
        let from_etcd = ansible_json(Path::new(binary()), &etcd, &["--list"], &READ_AS_YAML);
        let from_yaml = ansible_json(&yaml, &etcd, &["--list"], &[]);
        // Every list in the file's order: compared as they are, not sorted.
        assert_eq!(from_etcd, from_yaml, "export={export}");
        if export {
            // Group variables stayed on their groups: web's port is one key, not one per host.
            let keys = etcd.get_prefix("/ansible/");
            assert_eq!(keys["/ansible/groupvars/web/http_port"], "\"8080\"");
            assert!(!keys.contains_key("/ansible/hostvars/web01/http_port"));
            let canary = &keys["/ansible/groups/all/canary"];
            assert!(
                canary.parse::<u64>().is_ok(),
                "the empty group is kept, at its position: {canary:?}"
            );
        }
    }
}

#[test]
fn importing_twice_changes_nothing_and_reports_counts() {
    let etcd = Etcd::start();
    let sample = file(&etcd, "sample.json", &sample_listing());
    let first = import(&etcd, &sample, &[]);
    assert_eq!(first.code, Some(0), "{first:#?}");
    let count = etcd.get_prefix("/ansible/").len();
    assert_eq!(
        first.stdout,
        format!("{count} key(s) created, 0 changed, 0 unchanged, 0 deleted under /ansible/\n")
    );
    let revision = etcd.revision();
    let second = import(&etcd, &sample, &[]);
    assert_eq!(
        second.stdout,
        format!("0 key(s) created, 0 changed, {count} unchanged, 0 deleted under /ansible/\n")
    );
    assert_eq!(etcd.revision(), revision, "nothing was written");
    // Imported keys read back as the inventory they came from.
    assert_eq!(
        inventory(&etcd, &["--list"]).json(),
        serde_json::from_str::<Value>(&sample_listing()).unwrap()
    );
}

#[test]
fn dry_run_reports_and_replace_deletes_only_under_the_prefix() {
    let etcd = Etcd::start();
    let sample = file(&etcd, "sample.json", &sample_listing());
    assert_eq!(import(&etcd, &sample, &[]).code, Some(0));
    etcd.put(&[
        ("/ansible/hosts/old/gone01", ""),
        ("/ansible/junk", "x"),
        ("/ansible2/hosts/web/x", ""),
    ]);
    let changed = sample_listing().replace("10.0.0.11", "10.0.0.99");
    let changed = file(&etcd, "changed.json", &changed);

    let revision = etcd.revision();
    let dry = import(&etcd, &changed, &["--dry-run", "--replace"]);
    assert_eq!(dry.code, Some(0), "{dry:#?}");
    assert!(
        dry.stdout.contains("0 key(s) would be created, 1 would be changed, ")
            && dry
                .stdout
                .contains(" unchanged, 2 would be deleted under /ansible/; nothing written (--dry-run)"),
        "{dry:#?}"
    );
    assert_eq!(etcd.revision(), revision, "a dry run writes nothing");

    let real = import(&etcd, &changed, &["--replace"]);
    assert!(
        real.stdout.contains("0 key(s) created, 1 changed, ") && real.stdout.contains(" 2 deleted"),
        "{real:#?}"
    );
    let keys = etcd.get_prefix("/ansible");
    assert_eq!(keys["/ansible/hostvars/web01/ansible_host"], "10.0.0.99");
    assert!(!keys.contains_key("/ansible/hosts/old/gone01") && !keys.contains_key("/ansible/junk"));
    assert_eq!(keys["/ansible2/hosts/web/x"], "", "another prefix is not touched");
}

#[test]
fn bad_input_is_refused_before_anything_is_written() {
    let etcd = Etcd::start();
    etcd.put(&[("/ansible/hosts/web/keep", "")]);
    let revision = etcd.revision();
    let cases: [(&str, &[&str]); 8] = [
        ("{\"web\": [", &["not JSON", "line 1"]),
        ("[\"web\"]", &["the file: expected an object of groups"]),
        (
            "{\"web\": {\"hosts\": \"web01\"}}",
            &["group \"web\", hosts: expected a list of host names"],
        ),
        (
            "{\"web\": {\"vars\": [1]}}",
            &["group \"web\", vars: expected an object of variables"],
        ),
        ("{\"a/b\": [\"web01\"]}", &["group name \"a/b\""]),
        ("{\"web\": [\"x/y\"]}", &["host name \"x/y\""]),
        (
            "{\"_meta\": {\"hostvars\": {\"h\": {\"a/b\": 1}}}}",
            &["variable name \"a/b\""],
        ),
        (
            "{\"a\": {\"children\": [\"b\"]}, \"b\": {\"children\": [\"a\"]}}",
            &["loop: a -> b -> a"],
        ),
    ];
    for (i, (text, needles)) in cases.iter().enumerate() {
        let path = file(&etcd, &format!("bad{i}.json"), text);
        let line = import(&etcd, &path, &[]).failure(needles);
        assert!(line.contains(&format!("cannot import {}", path.display())), "{line}");
    }
    import(&etcd, &etcd.dir().join("missing.json"), &[]).failure(&["cannot read", "missing.json"]);
    assert_eq!(etcd.revision(), revision, "nothing was written");
}

#[test]
fn import_reads_standard_input_and_writes_many_transactions() {
    let etcd = Etcd::start();
    let listing = web_hosts(300);
    let mut child = clean_command(binary())
        .env("ETCDCTL_ENDPOINTS", &etcd.endpoint)
        .args(["import", "-", "--max-txn-ops", "7"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn import");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(listing.to_string().as_bytes())
        .expect("write stdin");
    let output = child.wait_with_output().expect("import ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout,
        "1200 key(s) created, 0 changed, 0 unchanged, 0 deleted under /ansible/\n"
    );
    let listed = inventory(&etcd, &["--list"]).json();
    assert_eq!(listed["web"]["hosts"].as_array().map(Vec::len), Some(300));
    assert_eq!(listed["_meta"]["hostvars"]["host299"]["c"]["__ansible_unsafe"], "3");
}

#[test]
fn import_follows_etcds_limits_and_roles() {
    let etcd = Etcd::start();
    let big = file(&etcd, "big.json", &web_hosts(200).to_string());
    // etcd's own limit is 128 operations per transaction.
    import(&etcd, &big, &["--max-txn-ops", "500"]).failure(&["too many operations", "--max-txn-ops"]);
    let sample = file(&etcd, "sample.json", &sample_listing());

    etcd.enable_auth("rootpw");
    etcd.add_reader("alice", "alicepw", "/ansible/");
    let mut command = clean_command(binary());
    command
        .env("ETCDCTL_ENDPOINTS", &etcd.endpoint)
        .env("ETCDCTL_USER", "alice:alicepw")
        .arg("import")
        .arg(&sample);
    run(&mut command).failure(&["refused the write", "permission denied", "as user \"alice\""]);
    let mut command = clean_command(binary());
    command
        .env("ETCDCTL_ENDPOINTS", &etcd.endpoint)
        .env("ETCDCTL_USER", "alice:wrong")
        .arg("import")
        .arg(&sample);
    run(&mut command).failure(&["authentication failed", "ETCDCTL_USER"]);

    // A user whose role may write the prefix imports, and reads the inventory back.
    etcd.add_writer("bob", "bobpw", "/ansible/");
    let password_file = file(&etcd, "bob.password", "bobpw\n");
    let mut command = clean_command(binary());
    command
        .env("ETCDCTL_ENDPOINTS", &etcd.endpoint)
        .args(["import", "--user", "bob", "--password-file"])
        .arg(&password_file)
        .arg(&sample);
    let imported = run(&mut command);
    assert_eq!(imported.code, Some(0), "{imported:#?}");
    let mut command = clean_command(binary());
    command
        .env("ETCDCTL_ENDPOINTS", &etcd.endpoint)
        .env("ETCDCTL_USER", "bob:bobpw")
        .arg("--list");
    assert_eq!(
        run(&mut command).json(),
        serde_json::from_str::<Value>(&sample_listing()).unwrap()
    );
}

#[test]
fn import_and_check_use_the_readers_tls_settings() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = TestPki::generate(dir.path());
    let etcd = Etcd::start_tls(&pki, true);
    let endpoint = etcd.tls_endpoint.clone().expect("https endpoint");
    let sample = file(&etcd, "sample.json", &sample_listing());
    let tls = |command: &mut std::process::Command| {
        command
            .env("ETCDCTL_ENDPOINTS", &endpoint)
            .env("ETCDCTL_CACERT", &pki.ca_cert)
            .env("ETCDCTL_CERT", &pki.client_cert)
            .env("ETCDCTL_KEY", &pki.client_key);
    };
    let mut command = clean_command(binary());
    tls(&mut command);
    let imported = run(command.arg("import").arg(&sample));
    assert_eq!(imported.code, Some(0), "{imported:#?}");
    let mut command = clean_command(binary());
    tls(&mut command);
    let checked = run(command.arg("check"));
    assert_eq!(checked.code, Some(0), "{checked:#?}");
    let mut command = clean_command(binary());
    tls(&mut command);
    let listed = run(command.arg("--list")).json();
    assert_eq!(listed, serde_json::from_str::<Value>(&sample_listing()).unwrap());
    // Without the CA, the private certificate is not trusted.
    let mut command = clean_command(binary());
    command.env("ETCDCTL_ENDPOINTS", &endpoint);
    run(command.arg("check")).failure(&["cannot reach etcd"]);
}

/// `count` hosts in group web, with three variables each: 4 keys per host.
fn web_hosts(count: usize) -> Value {
    let hosts: Vec<String> = (0..count).map(|i| format!("host{i:03}")).collect();
    let hostvars: serde_json::Map<String, Value> = hosts
        .iter()
        .map(|h| (h.clone(), json!({"a": "1", "b": "2", "c": "3"})))
        .collect();
    json!({"_meta": {"hostvars": hostvars}, "web": {"hosts": hosts}})
}

/// Our own `--list` of the sample inventory, as JSON text: what `import` is given. Read
/// once from an etcd of its own.
fn sample_listing() -> String {
    static LISTING: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    LISTING
        .get_or_init(|| {
            let etcd = Etcd::start();
            etcd.load("/ansible", SAMPLE_KV);
            inventory(&etcd, &["--list"]).stdout
        })
        .clone()
}
