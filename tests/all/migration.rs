//! Migrations keep what Ansible sees: a static inventory moved into etcd through
//! `ansible-inventory --list` (with and without `--export`) and `import` plays its hosts in
//! the same order, for every group and pattern, as the file did; values come back byte for
//! byte; our own `--list` imports as no change; empty groups need no flag; data without
//! positions reads sorted as it always did.

use std::io::Write as _;
#[cfg(feature = "ansible")]
use std::path::{Path, PathBuf};
use std::process::Stdio;

#[cfg(feature = "ansible")]
use serde_json::Value;
use serde_json::json;

use crate::support::{Etcd, Run, binary, clean_command, inventory, run};
#[cfg(feature = "ansible")]
use crate::support::{ansible_command, ansible_json};

/// Deliberately unsorted: hosts and groups in no name order, groups nested three levels
/// below `all`, two empty groups (which `ansible-inventory --list` names only as
/// children), ungrouped hosts, a host in two groups, and variables of several kinds.
#[cfg(feature = "ansible")]
const UNSORTED_INI: &str = "\
u2
u1 ansible_port=2222

[zeta]
z3 rack=r9
z1
z2

[web]
w9
w1 http_port=8080
w5

[db]
d2
d1

[alpha]
a2
w1
a1

[dc_east:children]
web
db
empty_east

[dc_west:children]
zeta
alpha

[prod:children]
dc_west
dc_east

[prod:vars]
env=production

[empty_east]

[spare]

[lonely_parent:children]
spare
";

/// Every group, and patterns that combine them (union, intersection, exclusion, wildcard).
#[cfg(feature = "ansible")]
const PATTERNS: &[&str] = &[
    "all",
    "ungrouped",
    "zeta",
    "web",
    "db",
    "alpha",
    "dc_east",
    "dc_west",
    "prod",
    "zeta:web",
    "alpha:zeta:u1",
    "dc_east:&web",
    "prod:!db",
    "all:!alpha",
    "w*",
];

/// How a migrated team reads its inventory: typed values, plain (trusted) strings, as an
/// INI or YAML file's are.
#[cfg(feature = "ansible")]
const READ_AS_FILE: [(&str, &str); 2] = [
    ("ETCD_INVENTORY_TYPED_VALUES", "true"),
    ("ETCD_INVENTORY_TRUST_TEMPLATES", "true"),
];

/// Ansible walks groups nested two or more levels below a pattern's groups through a set
/// of Group objects, hashed by address, so that part of the order differs between two runs
/// of the same file. Hashing groups by name (and a fixed hash seed) makes it the same every
/// run and for every source with the same groups in the same order: then a difference is
/// ours, not Ansible's.
#[cfg(feature = "ansible")]
const PIN_GROUP_HASHING: &str = "\
import ansible.inventory.group as _group
_group.Group.__hash__ = lambda self: hash(self.name)
";

#[cfg(feature = "ansible")]
fn write(etcd: &Etcd, name: &str, text: &str) -> PathBuf {
    let path = etcd.dir().join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

fn binary_with(etcd: &Etcd, env: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> Run {
    let mut command = clean_command(binary());
    command
        .env("ETCDCTL_ENDPOINTS", &etcd.endpoint)
        .envs(env.iter().copied())
        .args(args);
    let Some(input) = stdin else {
        return run(&mut command);
    };
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn etcd-inventory");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// An Ansible `program` over `source` with group hashing pinned (see [`PIN_GROUP_HASHING`])
/// and `env`; the temporary home lives as long as the command.
#[cfg(feature = "ansible")]
fn pinned_ansible(
    program: &str,
    source: &Path,
    etcd: &Etcd,
    env: &[(&str, &str)],
) -> (std::process::Command, tempfile::TempDir) {
    let (mut command, home) = ansible_command(program, source, etcd);
    let site = home.path().join("site");
    std::fs::create_dir(&site).expect("site dir");
    std::fs::write(site.join("sitecustomize.py"), PIN_GROUP_HASHING).expect("sitecustomize");
    command
        .env("PYTHONPATH", &site)
        .env("PYTHONHASHSEED", "0")
        .envs(env.iter().copied());
    (command, home)
}

/// What one `ansible-playbook` run over `source` sees: the host list of a play on each
/// pattern (the order plays, `serial` and `run_once` follow) and the `groups` variable.
#[cfg(feature = "ansible")]
fn play_orders(source: &Path, etcd: &Etcd, env: &[(&str, &str)]) -> (Value, Value) {
    let (mut command, home) = pinned_ansible("ansible-playbook", source, etcd, env);
    let mut playbook = String::from(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - debug:\n        msg: \"GROUPS|{{ groups | to_json }}\"\n",
    );
    for pattern in PATTERNS {
        playbook.push_str(&format!(
            "- hosts: \"{pattern}\"\n  gather_facts: false\n  tasks:\n    - debug:\n        msg: \"ORDER|{pattern}|{{{{ ansible_play_hosts_all | to_json }}}}\"\n      run_once: true\n"
        ));
    }
    let playbook_path = home.path().join("orders.yml");
    std::fs::write(&playbook_path, playbook).expect("playbook");
    let run = run(command.args(["-e", "ansible_connection=local"]).arg(&playbook_path));
    assert_eq!(run.code, Some(0), "ansible-playbook -i {}: {run:#?}", source.display());
    let mut orders = serde_json::Map::new();
    let mut groups = Value::Null;
    for line in run.stdout.lines() {
        let Some(msg) = line.trim().strip_prefix("\"msg\": ") else {
            continue;
        };
        let msg: String = serde_json::from_str(msg).expect("a JSON string");
        if let Some(json) = msg.strip_prefix("GROUPS|") {
            groups = serde_json::from_str(json).expect("groups as JSON");
        } else if let Some((pattern, hosts)) = msg.strip_prefix("ORDER|").and_then(|m| m.split_once('|')) {
            orders.insert(pattern.to_string(), serde_json::from_str(hosts).expect("hosts as JSON"));
        }
    }
    assert_eq!(orders.len(), PATTERNS.len(), "a play per pattern: {run:#?}");
    (Value::Object(orders), groups)
}

/// `ansible PATTERN --list-hosts` over `source`, hashing pinned as for the plays.
#[cfg(feature = "ansible")]
fn list_hosts(source: &Path, etcd: &Etcd, pattern: &str, env: &[(&str, &str)]) -> String {
    let (mut command, _home) = pinned_ansible("ansible", source, etcd, env);
    let run = run(command.args([pattern, "--list-hosts"]));
    assert_eq!(
        run.code,
        Some(0),
        "ansible {pattern} --list-hosts -i {}: {run:#?}",
        source.display()
    );
    run.stdout
}

/// `import FILE` with no flags, as a new user runs it first.
#[cfg(feature = "ansible")]
fn import_file(etcd: &Etcd, prefix: &str, file: &Path) -> Run {
    let mut env = READ_AS_FILE.to_vec();
    env.push(("ETCD_INVENTORY_PREFIX", prefix));
    binary_with(etcd, &env, &["import", file.to_str().expect("UTF-8 path")], None)
}

#[cfg(feature = "ansible")]
#[test]
fn an_imported_inventory_plays_its_hosts_in_the_order_of_the_original_file() {
    let etcd = Etcd::start();
    let ini = write(&etcd, "hosts.ini", UNSORTED_INI);
    let (file_orders, file_groups) = play_orders(&ini, &etcd, &[]);
    // The file's order is not name order, or this test would prove nothing.
    assert_eq!(file_orders["zeta"], json!(["z3", "z1", "z2"]));
    assert_eq!(file_groups["ungrouped"], json!(["u2", "u1"]));
    let from_file = ansible_json(&ini, &etcd, &["--list"], &[]);

    for (prefix, args) in [("/plain", vec!["--list"]), ("/export", vec!["--list", "--export"])] {
        let listed = ansible_json(&ini, &etcd, &args, &[]);
        let listed = write(&etcd, &format!("{}.json", &prefix[1..]), &listed.to_string());
        let imported = import_file(&etcd, prefix, &listed);
        assert_eq!(imported.code, Some(0), "{args:?}: {imported:#?}");
        // Empty groups need no flag: one line says which were taken as empty.
        assert!(
            imported
                .stderr
                .contains("2 group(s) named only as children taken as empty groups")
                && imported.stderr.contains("\"empty_east\", \"spare\""),
            "{imported:#?}"
        );
        assert_eq!(imported.stderr.lines().count(), 1, "{imported:#?}");

        let env = [READ_AS_FILE[0], READ_AS_FILE[1], ("ETCD_INVENTORY_PREFIX", prefix)];
        let (etcd_orders, etcd_groups) = play_orders(Path::new(binary()), &etcd, &env);
        assert_eq!(etcd_orders, file_orders, "{args:?}: play host order per pattern");
        assert_eq!(etcd_groups, file_groups, "{args:?}: groups[...]");
        for pattern in ["all", "prod", "dc_east:&web"] {
            assert_eq!(
                list_hosts(Path::new(binary()), &etcd, pattern, &env),
                list_hosts(&ini, &etcd, pattern, &[]),
                "{args:?}: ansible {pattern} --list-hosts"
            );
        }
        // Every group's own hosts and children lists too, in order, and all variables.
        let from_etcd = ansible_json(Path::new(binary()), &etcd, &["--list"], &env);
        assert_eq!(from_etcd, from_file, "{args:?}: ansible-inventory --list");

        // --graph draws in that order too, as ansible-inventory --graph does.
        let graph = binary_with(&etcd, &env, &["--graph"], None);
        assert_eq!(graph.code, Some(0), "{graph:#?}");
        let (mut theirs, _home) = ansible_command("ansible-inventory", &ini, &etcd);
        let theirs = run(theirs.arg("--graph"));
        assert_eq!(graph.stdout, theirs.stdout, "{args:?}: --graph");

        // The empty groups are no misspelt names to `check`.
        let checked = binary_with(&etcd, &env, &["check"], None);
        assert_eq!(checked.code, Some(0), "{checked:#?}");
        assert!(!checked.stdout.contains("misspelt"), "{checked:#?}");
    }
}

#[cfg(feature = "ansible")]
#[test]
fn strict_import_refuses_names_listed_only_as_children() {
    let etcd = Etcd::start();
    let ini = write(&etcd, "hosts.ini", UNSORTED_INI);
    let listed = ansible_json(&ini, &etcd, &["--list"], &[]);
    let listed = write(&etcd, "listed.json", &listed.to_string());
    let strict = binary_with(
        &etcd,
        &[],
        &["import", "--strict", listed.to_str().expect("UTF-8 path")],
        None,
    );
    strict.failure(&["lists child \"empty_east\"", "--strict"]);
    assert!(etcd.get_prefix("/ansible/").is_empty(), "nothing written");
    // The flag that asked for empty groups before they were the default still works.
    let old_flag = binary_with(
        &etcd,
        &[],
        &["import", "--empty-groups", listed.to_str().expect("UTF-8 path")],
        None,
    );
    assert_eq!(old_flag.code, Some(0), "{old_flag:#?}");
}

#[test]
fn our_own_list_imports_as_no_change_whatever_the_settings() {
    let etcd = Etcd::start();
    // Classic data (no positions), a JSON-quoted string, a vault text ending in a newline,
    // a list, nested keys, a host only in all.
    etcd.put(&[
        ("/ansible/hosts/web/w2", ""),
        ("/ansible/hosts/web/w1", ""),
        ("/ansible/groups/prod/web", ""),
        ("/ansible/hosts/all/loner", ""),
        ("/ansible/hostvars/w1/name", "\"web\""),
        ("/ansible/hostvars/w1/secret", "$ANSIBLE_VAULT;1.1;AES256\n6162636465\n"),
        ("/ansible/hostvars/w1/nginx/port", "80"),
        ("/ansible/groupvars/web/packages", "[\"nginx\", \"certbot\"]"),
    ]);
    let before = etcd.get_prefix("/ansible/");
    for typed in ["false", "true"] {
        for trust in ["false", "true"] {
            for nested in ["false", "true"] {
                let env = [
                    ("ETCD_INVENTORY_TYPED_VALUES", typed),
                    ("ETCD_INVENTORY_TRUST_TEMPLATES", trust),
                    ("ETCD_INVENTORY_NESTED_KEYS", nested),
                ];
                let listed = binary_with(&etcd, &env, &["--list"], None);
                listed.json();
                // A replace also deletes what --list skipped: the nested key, read flat.
                let skipped = if nested == "true" { 0 } else { 1 };
                for (args, deleted) in [
                    (vec!["import", "--dry-run", "-"], 0),
                    (vec!["import", "--dry-run", "--replace", "-"], skipped),
                ] {
                    let dry = binary_with(&etcd, &env, &args, Some(&listed.stdout));
                    assert_eq!(dry.code, Some(0), "{env:?} {args:?}: {dry:#?}");
                    assert!(
                        dry.stdout
                            .starts_with("0 key(s) would be created, 0 would be changed, ")
                            && dry.stdout.contains(&format!(" {deleted} would be deleted")),
                        "{env:?} {args:?}: {dry:#?}"
                    );
                }
                // And for real: nothing in etcd changes.
                let wrote = binary_with(&etcd, &env, &["import", "-"], Some(&listed.stdout));
                assert_eq!(wrote.code, Some(0), "{wrote:#?}");
                assert_eq!(etcd.get_prefix("/ansible/"), before, "{env:?}");
            }
        }
    }
}

#[cfg(feature = "ansible")]
#[test]
fn vault_text_and_look_alikes_come_back_byte_for_byte() {
    let etcd = Etcd::start();
    let yaml = write(
        &etcd,
        "vaulted.yml",
        "all:\n  hosts:\n    h1:\n      secret: !vault |\n        $ANSIBLE_VAULT;1.1;AES256\n        6162636465\n        6667\n      \
         indented: \"  $ANSIBLE_VAULT;1.1;AES256\"\n",
    );
    let listed = ansible_json(&yaml, &etcd, &["--list", "--export"], &[]);
    let secret = &listed["_meta"]["hostvars"]["h1"]["secret"]["__ansible_vault"];
    assert_eq!(
        secret, "$ANSIBLE_VAULT;1.1;AES256\n6162636465\n6667\n",
        "Ansible's text"
    );
    let file = write(&etcd, "listed.json", &listed.to_string());
    let imported = binary_with(&etcd, &[], &["import", file.to_str().expect("UTF-8 path")], None);
    assert_eq!(imported.code, Some(0), "{imported:#?}");

    let ours = inventory(&etcd, &["--list"]).json();
    let vars = &ours["_meta"]["hostvars"]["h1"];
    assert_eq!(vars["secret"], json!({"__ansible_vault": secret}), "byte for byte");
    // Leading spaces: no vault text for Ansible, so none for us: a string, marked unsafe.
    assert_eq!(
        vars["indented"],
        json!({"__ansible_unsafe": "  $ANSIBLE_VAULT;1.1;AES256"})
    );
    let again = binary_with(&etcd, &[], &["import", "--dry-run", "-"], Some(&ours.to_string()));
    assert!(
        again
            .stdout
            .starts_with("0 key(s) would be created, 0 would be changed"),
        "{again:#?}"
    );
}

#[test]
fn data_without_positions_keeps_its_sorted_output_byte_for_byte() {
    let etcd = Etcd::start();
    // As the classic script and hand-written keys leave them: empty or non-numeric values.
    etcd.put(&[
        ("/ansible/hosts/web/w3", ""),
        ("/ansible/hosts/web/w1", "yes"),
        ("/ansible/hosts/web/w2", ""),
        ("/ansible/groups/prod/web", ""),
        ("/ansible/groups/prod/db", "x"),
        ("/ansible/hosts/db/d1", ""),
        ("/ansible/hostvars/u9/ip", "10.0.0.9"),
        ("/ansible/hostvars/u1/ip", "10.0.0.1"),
    ]);
    let listed = inventory(&etcd, &["--list", "--trust-templates"]);
    assert_eq!(listed.code, Some(0), "{listed:#?}");
    assert_eq!(
        listed.stdout,
        concat!(
            r#"{"all":{"hosts":[],"vars":{},"children":["prod","ungrouped"]},"#,
            r#""db":{"hosts":["d1"],"vars":{},"children":[]},"#,
            r#""prod":{"hosts":[],"vars":{},"children":["db","web"]},"#,
            r#""ungrouped":{"hosts":["u1","u9"],"vars":{},"children":[]},"#,
            r#""web":{"hosts":["w1","w2","w3"],"vars":{},"children":[]},"#,
            r#""_meta":{"hostvars":{"d1":{},"u1":{"ip":"10.0.0.1"},"u9":{"ip":"10.0.0.9"},"w1":{},"w2":{},"w3":{}}}}"#,
            "\n"
        )
    );
}

#[test]
fn variable_names_ansible_will_refuse_are_a_warning_for_list_and_an_error_for_check() {
    let etcd = Etcd::start();
    etcd.put(&[
        ("/ansible/hosts/web/w1", ""),
        ("/ansible/hostvars/w1/bad-var", "1"),
        ("/ansible/hostvars/w1/true", "1"),
        ("/ansible/groupvars/web/ok_var", "1"),
    ]);
    let listed = inventory(&etcd, &["--list"]);
    assert_eq!(listed.code, Some(0), "{listed:#?}");
    assert_eq!(
        listed.json()["_meta"]["hostvars"]["w1"]["bad-var"],
        json!({"__ansible_unsafe": "1"})
    );
    let warnings: Vec<&str> = listed.stderr.lines().collect();
    assert_eq!(warnings.len(), 1, "{listed:#?}");
    assert!(
        warnings[0].contains("warning: 2 variable(s) under /ansible/ have names Ansible will refuse")
            && warnings[0].contains("e.g. /ansible/hostvars/w1/bad-var"),
        "{listed:#?}"
    );
    let checked = inventory(&etcd, &["check"]);
    assert_eq!(checked.code, Some(1), "{checked:#?}");
    for key in ["/ansible/hostvars/w1/bad-var", "/ansible/hostvars/w1/true"] {
        assert!(
            checked
                .stdout
                .contains(&format!("error: key \"{key}\" names a variable")),
            "{key}: {checked:#?}"
        );
    }
    assert!(!checked.stdout.contains("ok_var"), "{checked:#?}");
}
