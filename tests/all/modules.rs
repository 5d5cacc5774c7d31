//! The collection's `host` and `group` modules under the real `ansible-playbook`, against a
//! real etcd, as a provisioning play runs them (on the controller, `connection: local`): the
//! keys they write, a second run that reports ok and writes nothing (etcd's revision stays),
//! check mode, diff, absent, leases, failures as one line, and `ansible-doc`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::support::collection::{collection_command, collections_path};
use crate::support::{Etcd, Run, SAMPLE_KV, ansible_program, clean_command, inventory, run, vault_ciphertext};

/// Runs one play on localhost with a task per `(module, args)` (`etcd_inventory.etcd.` is
/// added to the module's name), each registered and kept going past a failure, and returns
/// the run and each task's result, as the play wrote them to a file at its end.
fn play(etcd: &Etcd, tasks: &[(&str, Value)], flags: &[&str]) -> (Run, Vec<Value>) {
    play_with(etcd, &[], "", tasks, flags)
}

/// [`play`] with `env` set for ansible-playbook (and so for the modules it runs locally),
/// and `vars`, lines of YAML, among the play's variables.
fn play_with(
    etcd: &Etcd,
    env: &[(&str, &str)],
    vars: &str,
    tasks: &[(&str, Value)],
    flags: &[&str],
) -> (Run, Vec<Value>) {
    let (mut command, home) = collection_command("ansible-playbook", Path::new("localhost,"), etcd);
    command.envs(env.iter().copied());
    let out = home.path().join("results.json");
    let mut yaml = format!(
        "- hosts: localhost\n  gather_facts: false\n  connection: local\n  \
         vars:\n    ansible_python_interpreter: \"{{{{ ansible_playbook_python }}}}\"\n{vars}  tasks:\n",
    );
    let mut names = Vec::new();
    for (i, (module, args)) in tasks.iter().enumerate() {
        // JSON is YAML: the arguments go in as they are.
        yaml.push_str(&format!(
            "    - etcd_inventory.etcd.{module}: {args}\n      register: r{i}\n      ignore_errors: true\n"
        ));
        names.push(format!("r{i}"));
    }
    yaml.push_str(&format!(
        "    - ansible.builtin.copy:\n        content: \"{{{{ [{}] | to_json }}}}\"\n        dest: {}\n      \
         check_mode: false\n      diff: false\n",
        names.join(", "),
        out.display()
    ));
    let playbook = home.path().join("play.yml");
    std::fs::write(&playbook, yaml).expect("write the playbook");
    let ran = run(command.args(flags).arg(&playbook));
    assert_eq!(ran.code, Some(0), "ansible-playbook: {ran:#?}");
    let text = std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("no results ({e}): {ran:#?}"));
    let results: Vec<Value> = serde_json::from_str(&text).expect("the results as JSON");
    (ran, results)
}

/// One task's result, which must not have failed.
fn one(etcd: &Etcd, module: &str, args: Value, flags: &[&str]) -> (Run, Value) {
    let (ran, mut results) = play(etcd, &[(module, args)], flags);
    let result = results.remove(0);
    assert_ne!(result["failed"], true, "{result:#}\n{ran:#?}");
    (ran, result)
}

fn keys(etcd: &Etcd) -> BTreeMap<String, String> {
    etcd.get_prefix("/ansible/")
}

fn listed(etcd: &Etcd) -> Value {
    inventory(etcd, &["--list", "--trust-templates"]).json()
}

fn sorted_names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = (list.as_array().expect("a list").iter())
        .map(|v| v.as_str().expect("a name").to_string())
        .collect();
    names.sort();
    names
}

const VAULTED: &str = "$ANSIBLE_VAULT;1.1;AES256\n6162636465\n";

#[test]
fn the_host_module_writes_a_host_and_a_second_run_is_ok() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let args = json!({
        "name": "web-7",
        "groups": ["web", "eu"],
        "vars": {"ansible_host": "10.0.0.7", "http_port": 8080, "secret": VAULTED},
    });
    let (ran, first) = one(&etcd, "host", args.clone(), &[]);
    assert_eq!(first["changed"], true, "{first:#}");
    let now = keys(&etcd);
    for (key, value) in [
        ("hosts/web/web-7", ""),
        ("hosts/eu/web-7", ""),
        ("hostvars/web-7/ansible_host", "10.0.0.7"),
        ("hostvars/web-7/http_port", "8080"),
        ("hostvars/web-7/secret", VAULTED),
    ] {
        assert_eq!(
            now.get(&format!("/ansible/{key}")).map(String::as_str),
            Some(value),
            "{key}"
        );
    }
    assert_eq!(now.len(), 18 - 4 + 5, "only the host's keys were added: {now:#?}");
    // Not a string: written as JSON text, and Ansible shows our warning as its own.
    assert!(
        ran.stderr.contains("1 value(s) are not strings") || ran.stdout.contains("1 value(s) are not strings"),
        "{ran:#?}"
    );
    let inventory = listed(&etcd);
    assert_eq!(inventory["eu"]["hosts"], json!(["web-7"]));
    // The sample's keys hold no positions either: the group reads by name.
    assert_eq!(inventory["web"]["hosts"], json!(["web-7", "web01", "web02"]));
    assert_eq!(
        inventory["_meta"]["hostvars"]["web-7"]["secret"],
        json!({"__ansible_vault": VAULTED})
    );

    let revision = etcd.revision();
    let (_, second) = one(&etcd, "host", args, &[]);
    assert_eq!(second["changed"], false, "{second:#}");
    assert_eq!(second["after"], first["after"]);
    assert_eq!(etcd.revision(), revision, "a second run wrote to etcd");
}

#[test]
fn check_mode_writes_nothing_and_reports_the_change_with_a_diff() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let (before, revision) = (keys(&etcd), etcd.revision());
    let args = json!({"name": "web01", "groups": ["web", "canary"], "vars": {"ansible_host": "10.0.0.99"}});
    let (ran, result) = one(&etcd, "host", args, &["--check", "--diff"]);
    assert_eq!(result["changed"], true, "{result:#}");
    assert_eq!((keys(&etcd), etcd.revision()), (before, revision), "check mode wrote");
    assert_eq!(result["diff"]["before"]["groups"], json!(["web"]));
    assert_eq!(result["diff"]["after"]["groups"], json!(["canary", "web"]));
    assert_eq!(result["diff"]["after"]["vars"], json!({"ansible_host": "10.0.0.99"}));
    for line in ["--- before: host web01", "+++ after: host web01", "10.0.0.99"] {
        assert!(ran.stdout.contains(line), "no {line:?} in the diff: {ran:#?}");
    }
    // Without --diff, no diff.
    let (_, quiet) = one(&etcd, "host", json!({"name": "web01", "state": "absent"}), &["--check"]);
    assert_eq!((quiet["changed"].clone(), quiet.get("diff")), (json!(true), None));
    assert_eq!(etcd.revision(), revision);
}

#[test]
fn absent_removes_exactly_the_host_s_own_keys() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    // A group named like the host, and a variable of a group named so: not the host's.
    etcd.put(&[("/ansible/groupvars/web01/x", "1"), ("/ansible/hosts/web01/db01", "")]);
    let before = keys(&etcd);
    let (_, result) = one(&etcd, "host", json!({"name": "web01", "state": "absent"}), &[]);
    assert_eq!(result["changed"], true);
    let after = keys(&etcd);
    let gone: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    assert_eq!(
        gone,
        [
            "/ansible/hosts/web/web01",
            "/ansible/hostvars/web01/ansible_connection",
            "/ansible/hostvars/web01/ansible_host"
        ]
    );
    assert!(after.iter().all(|(k, v)| before.get(k) == Some(v)), "a key changed");
    let (_, again) = one(&etcd, "host", json!({"name": "web01", "state": "absent"}), &[]);
    assert_eq!(again["changed"], false);
}

#[test]
fn the_group_module_sets_vars_and_children_and_refuses_a_loop() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let prod = json!({
        "name": "prod",
        "children": ["web", "edge"],
        "vars": {"env": "production", "tier": 1, "port": "8080"},
        "typed_values": true,
    });
    let (ran, results) = play(
        &etcd,
        &[("group", json!({"name": "edge"})), ("group", prod.clone())],
        &[],
    );
    assert!(results.iter().all(|r| r["changed"] == true), "{results:#?}\n{ran:#?}");
    let now = keys(&etcd);
    assert_eq!(now.get("/ansible/groups/all/edge").map(String::as_str), Some(""));
    assert_eq!(now.get("/ansible/groups/prod/edge").map(String::as_str), Some(""));
    assert!(!now.contains_key("/ansible/groups/prod/db"), "{now:#?}");
    // Typed values: a number as JSON, a string that would read as one quoted.
    assert_eq!(now.get("/ansible/groupvars/prod/tier").map(String::as_str), Some("1"));
    assert_eq!(
        now.get("/ansible/groupvars/prod/port").map(String::as_str),
        Some("\"8080\"")
    );
    let typed = inventory(&etcd, &["--list", "--typed-values", "--trust-templates"]).json();
    assert_eq!(sorted_names(&typed["prod"]["children"]), ["edge", "web"]);
    assert_eq!(
        typed["prod"]["vars"],
        json!({"env": "production", "tier": 1, "port": "8080"})
    );
    assert_eq!(results[1]["after"]["children"], json!(["edge", "web"]));

    let revision = etcd.revision();
    let loop_ = json!({"name": "edge", "children": ["prod"]});
    let (_, results) = play(&etcd, &[("group", prod), ("group", loop_)], &[]);
    assert_eq!(results[0]["changed"], false, "{:#}", results[0]);
    assert_eq!(results[1]["failed"], true, "{:#}", results[1]);
    let msg = results[1]["msg"].as_str().expect("msg");
    assert!(
        msg.contains("loop: edge -> prod -> edge") && !msg.contains('\n'),
        "{msg}"
    );
    assert_eq!(etcd.revision(), revision);

    // Absent: every key that names db goes; db01 keeps its variables, so stays, ungrouped.
    let (_, gone) = one(&etcd, "group", json!({"name": "db", "state": "absent"}), &[]);
    assert_eq!(gone["before"]["hosts"], json!(["db01"]));
    let inventory = listed(&etcd);
    assert!(inventory.get("db").is_none(), "{inventory:#}");
    assert!(
        inventory["ungrouped"]["hosts"]
            .as_array()
            .unwrap()
            .contains(&json!("db01"))
    );
    assert!(!keys(&etcd).keys().any(|k| k.contains("/db/")), "{:#?}", keys(&etcd));
}

#[test]
fn a_ttl_makes_a_leased_host_that_a_second_run_renews() {
    let etcd = Etcd::start();
    let args = json!({"name": "batch-3", "groups": ["batch"], "ttl": 300});
    let (_, first) = one(&etcd, "host", args.clone(), &[]);
    let lease = first["lease"].as_str().expect("a lease").to_string();
    assert_eq!(first["after"]["ttl"], 300);
    let check = inventory(&etcd, &["check"]);
    assert!(
        check
            .stdout
            .contains(&format!("leased: host \"batch-3\" (lease {lease})")),
        "{check:#?}"
    );
    let revision = etcd.revision();
    let (_, second) = one(&etcd, "host", args, &[]);
    assert_eq!(
        (second["changed"].clone(), second["lease"].clone()),
        (json!(false), json!(lease))
    );
    assert_eq!(etcd.revision(), revision);
    let (_, longer) = one(&etcd, "host", json!({"name": "batch-3", "ttl": 600}), &[]);
    assert_eq!(longer["changed"], true);
    assert_ne!(longer["lease"], json!(lease), "another TTL, another lease");
}

#[test]
fn bad_options_a_missing_binary_and_an_unreachable_etcd_fail_in_one_line() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let revision = etcd.revision();
    let dead = format!("http://127.0.0.1:{}", crate::support::etcd::free_port());
    let cases = [
        (
            json!({"name": "h", "groups": ["g"], "ttl": 0}),
            "ttl 0 is not a number of seconds".to_string(),
        ),
        (
            json!({"name": "a/b", "groups": ["g"]}),
            "host name \"a/b\" cannot be a key segment".to_string(),
        ),
        (json!({"name": "h"}), "would have no group and no variable".to_string()),
        (json!({"name": "h", "grups": ["g"]}), "grups".to_string()),
        (
            json!({"name": "h", "groups": ["g"], "executable": "/nonexistent/etcd-inventory"}),
            "executable '/nonexistent/etcd-inventory' is not an executable file".to_string(),
        ),
        (
            json!({"name": "h", "groups": ["g"], "endpoints": dead, "dial_timeout": "1s"}),
            format!("cannot reach etcd at {dead}"),
        ),
    ];
    let tasks: Vec<(&str, Value)> = cases.iter().map(|(args, _)| ("host", args.clone())).collect();
    let (ran, results) = play(&etcd, &tasks, &[]);
    for ((args, expected), result) in cases.iter().zip(&results) {
        assert_eq!(result["failed"], true, "{args}: {result:#}");
        let msg = result["msg"].as_str().expect("msg");
        assert!(
            msg.contains(expected.as_str()),
            "{args}: expected {expected:?} in {msg:?}\n{ran:#?}"
        );
        assert!(!msg.contains('\n'), "{args}: {msg:?}");
    }
    assert_eq!(etcd.revision(), revision);
}

/// The README's registrar role is what the host module needs. The credentials come from the
/// environment the module runs in, or from options; the password shows in no result and no
/// output either way (`ETCDCTL_USER=NAME:PASSWORD` is read by the binary, never made a module
/// argument, and the `password` option is `no_log`).
#[test]
fn credentials_from_the_environment_or_options_work_and_never_show() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    etcd.add_user_writing("registrar", "pw-reg-7x", &["/ansible/hosts/", "/ansible/hostvars/"]);
    etcd.enable_auth("pw-root");
    let from_env = json!({"name": "web-7", "groups": ["web"]});
    let from_options = json!({"name": "web-7", "groups": ["web"], "user": "registrar", "password": "pw-reg-7x"});
    let (ran, results) = play_with(
        &etcd,
        &[("ETCDCTL_USER", "registrar:pw-reg-7x")],
        "",
        &[("host", from_env), ("host", from_options)],
        &["-v"],
    );
    assert_eq!(results[0]["changed"], true, "{:#}\n{ran:#?}", results[0]);
    assert_eq!(results[1]["changed"], false, "{:#}\n{ran:#?}", results[1]);
    assert_eq!(
        results[0]["invocation"]["module_args"]["user"],
        Value::Null,
        "{:#}",
        results[0]
    );
    let everything = format!("{results:?}{}{}", ran.stdout, ran.stderr);
    assert!(!everything.contains("pw-reg-7x"), "the password shows: {ran:#?}");
    // Without them, etcd refuses, and the task says so in one line.
    let (_, refused) = play(&etcd, &[("host", json!({"name": "web-8", "groups": ["web"]}))], &[]);
    let msg = refused[0]["msg"].as_str().expect("msg");
    assert!(
        msg.contains("user name is empty") || msg.contains("authentication"),
        "{msg}"
    );
}

/// What the README says of vault values: one that Ansible holds (`!vault`) reaches the module
/// decrypted, as every module argument does, and is stored so; its ciphertext given as text
/// is stored as it is and read back as a vault value.
#[test]
fn vault_ciphertext_given_as_text_stays_encrypted_and_a_vault_value_does_not() {
    let etcd = Etcd::start();
    let password_file = etcd.dir().join("vault-password");
    std::fs::write(&password_file, "correct horse battery staple\n").expect("password file");
    let ciphertext = vault_ciphertext(&password_file, "plain-s3cret");
    // `!vault |` and the ciphertext's lines, indented.
    let vars = format!(
        "    vaulted: !vault |\n{}",
        ciphertext.lines().map(|l| format!("      {l}\n")).collect::<String>()
    );
    let tasks = [
        ("host", json!({"name": "v1", "vars": {"db_password": "{{ vaulted }}"}})),
        ("host", json!({"name": "v2", "vars": {"db_password": ciphertext}})),
    ];
    let password_flag = format!("--vault-password-file={}", password_file.display());
    let (ran, results) = play_with(&etcd, &[], &vars, &tasks, &[&password_flag]);
    assert!(results.iter().all(|r| r["changed"] == true), "{results:#?}\n{ran:#?}");
    let keys = keys(&etcd);
    assert_eq!(keys["/ansible/hostvars/v1/db_password"], "plain-s3cret");
    assert_eq!(keys["/ansible/hostvars/v2/db_password"], ciphertext);
    let listed = inventory(&etcd, &["--list"]).json();
    assert_eq!(
        listed["_meta"]["hostvars"]["v2"]["db_password"],
        json!({"__ansible_vault": ciphertext})
    );
}

/// `ansible-doc ARGS` with the installed collection.
fn ansible_doc(args: &[&str]) -> Run {
    let home = tempfile::tempdir().expect("temp home");
    run(clean_command(ansible_program("ansible-doc"))
        .args(args)
        .env("HOME", home.path())
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_COLLECTIONS_PATH", collections_path()))
}

#[test]
fn ansible_doc_renders_both_modules_with_their_connection_options() {
    for (module, own) in [
        ("host", ["name", "state", "groups", "vars", "append", "ttl"].as_slice()),
        ("group", ["name", "state", "vars", "children", "append"].as_slice()),
    ] {
        let name = format!("etcd_inventory.etcd.{module}");
        let text = ansible_doc(&[&name]);
        assert_eq!(text.code, Some(0), "{text:#?}");
        assert!(text.stdout.contains("delegate_to: localhost"), "{text:#?}");
        let doc = ansible_doc(&["--json", &name]).json();
        let doc = &doc[&name];
        let options: Vec<&str> = (doc["doc"]["options"].as_object())
            .expect("options")
            .keys()
            .map(String::as_str)
            .collect();
        let connection = [
            "endpoints",
            "prefix",
            "user",
            "password",
            "password_file",
            "cacert",
            "typed_values",
            "executable",
        ];
        for option in own.iter().chain(&connection) {
            assert!(options.contains(option), "{name}: no option {option}: {options:?}");
        }
        // Only what the write side reads.
        for option in ["transport", "cache", "memory_limit", "trust_templates", "page_size"] {
            assert!(!options.contains(&option), "{name}: option {option}");
        }
        assert!(doc["return"]["after"].is_object(), "{name}: {doc:#}");
        assert!(doc["examples"].as_str().is_some_and(|e| e.contains(&name)), "{name}");
    }
}
