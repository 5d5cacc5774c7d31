//! The collection's inventory plugin (`etcd_inventory.etcd.etcd`), installed by
//! ansible-galaxy and run by the real ansible-core: it sees exactly what Ansible sees through
//! the same binary as an inventory script (groups, hosts in their order, children, variables
//! and their types, vault values), adds constructed groups and variables, trusts templates
//! only when told, shows our warnings as warnings, and fails a source with one line.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::collection::collection_command;
use crate::support::etcd::free_port;
use crate::support::{
    Etcd, Run, SAMPLE_KV, ansible_program, ansible_version, binary, clean_command, generated, repo_root, run,
    vault_ciphertext,
};

const TRUST: (&str, &str) = ("ETCD_INVENTORY_TRUST_TEMPLATES", "true");
const TYPED: (&str, &str) = ("ETCD_INVENTORY_TYPED_VALUES", "true");
const NESTED: (&str, &str) = ("ETCD_INVENTORY_NESTED_KEYS", "true");

/// An `inventory.etcd.yml` in `dir`: the plugin, this etcd, and `extra` YAML lines.
fn source(dir: &Path, etcd: &Etcd, extra: &str) -> PathBuf {
    let path = dir.join("inventory.etcd.yml");
    let text = format!(
        "plugin: etcd_inventory.etcd.etcd\nendpoints: {}\nprefix: /ansible\n{extra}",
        etcd.endpoint
    );
    std::fs::write(&path, text).expect("write inventory.etcd.yml");
    path
}

/// `program -i SOURCE ARGS` with `env`, the collection installed and our binary on PATH.
fn ansible(program: &str, source: &Path, etcd: &Etcd, args: &[&str], env: &[(&str, &str)]) -> Run {
    let (mut command, _home) = collection_command(program, source, etcd);
    command.args(args).envs(env.iter().copied());
    run(&mut command)
}

/// `ansible-inventory -i SOURCE --list` (it must succeed), parsed.
fn listed(source: &Path, etcd: &Etcd, env: &[(&str, &str)]) -> Value {
    let ran = ansible("ansible-inventory", source, etcd, &["--list"], env);
    assert_eq!(ran.code, Some(0), "ansible-inventory -i {}: {ran:#?}", source.display());
    serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("no JSON ({e}): {ran:#?}"))
}

/// What Ansible lists through the plugin and through the binary as a script, for `env`.
fn plugin_and_script(etcd: &Etcd, env: &[(&str, &str)]) -> (Value, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let plugin = listed(&source(dir.path(), etcd, ""), etcd, env);
    let script = listed(Path::new(binary()), etcd, env);
    (plugin, script)
}

/// Every group's `hosts` and `children` lists, in order, and every variable (exact JSON:
/// key order aside, serde_json compares maps by content).
fn assert_same_inventory(plugin: &Value, script: &Value, what: &str) {
    assert_eq!(
        plugin, script,
        "{what}: the plugin's inventory differs from the script's"
    );
    // Order is part of it: compare the lists as text, where order cannot hide.
    for (group, body) in script.as_object().expect("an object") {
        for list in ["hosts", "children"] {
            assert_eq!(
                plugin[group][list].to_string(),
                body[list].to_string(),
                "{what}: {group}.{list} in order"
            );
        }
    }
}

#[test]
fn the_plugin_lists_what_the_script_lists_values_vault_and_types_included() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let password_file = etcd.dir().join("vault-password");
    std::fs::write(&password_file, "correct horse battery staple\n").expect("password file");
    let ciphertext = vault_ciphertext(&password_file, "plain-s3cret-value");
    etcd.put(&[
        ("/ansible/hostvars/web02/secret", &ciphertext),
        ("/ansible/hostvars/web02/motd", "{{ 7*6 }}"),
        (
            "/ansible/hostvars/web02/limits",
            r#"{"files": 4096, "names": ["a", "b"]}"#,
        ),
        ("/ansible/hostvars/db01/nginx/worker/count", "4"),
        ("/ansible/groupvars/web/enabled", "true"),
    ]);
    for env in [vec![], vec![TRUST], vec![TYPED, NESTED], vec![TRUST, TYPED, NESTED]] {
        let (plugin, script) = plugin_and_script(&etcd, &env);
        assert_same_inventory(&plugin, &script, &format!("{env:?}"));
        assert_eq!(
            plugin["_meta"]["hostvars"]["web02"]["secret"],
            json!({"__ansible_vault": ciphertext}),
            "{env:?}"
        );
        assert_eq!(plugin["web"]["hosts"], json!(["web01", "web02"]));
    }
    let (typed, _) = plugin_and_script(&etcd, &[TRUST, TYPED, NESTED]);
    assert_eq!(typed["_meta"]["hostvars"]["web02"]["limits"]["files"], 4096);
    assert_eq!(
        typed["_meta"]["hostvars"]["db01"]["nginx"],
        json!({"worker": {"count": 4}})
    );

    // The vault value decrypts where used, with the run's vault password.
    let dir = tempfile::tempdir().expect("temp dir");
    let source = source(dir.path(), &etcd, "");
    let password = format!("--vault-password-file={}", password_file.display());
    let ran = ansible(
        "ansible",
        &source,
        &etcd,
        &["web02", "-c", "local", "-m", "debug", "-a", "var=secret", &password],
        &[],
    );
    assert_eq!(ran.code, Some(0), "{ran:#?}");
    assert!(ran.stdout.contains(r#""secret": "plain-s3cret-value""#), "{ran:#?}");
}

#[test]
fn the_plugin_keeps_the_script_s_inventory_and_host_order_with_thousands_of_hosts() {
    let etcd = Etcd::start();
    etcd.load("/ansible", &generated(3000));
    let (plugin, script) = plugin_and_script(&etcd, &[TYPED]);
    assert_same_inventory(&plugin, &script, "3000 hosts");
    let hosts = plugin["_meta"]["hostvars"].as_object().expect("hostvars").len();
    assert_eq!(hosts, 3000);

    // Ansible's own order of a group's hosts, through each source. Through a parent of
    // nested groups (and `all`) Ansible's order is not even the same from one run of one
    // source to the next (it walks child groups through a set hashed by address): there
    // only the hosts are compared.
    let dir = tempfile::tempdir().expect("temp dir");
    let source = source(dir.path(), &etcd, "");
    for (pattern, ordered) in [("group7", true), ("group13", true), ("parent1", false), ("all", false)] {
        let hosts = |source: &Path| {
            let ran = ansible("ansible", source, &etcd, &[pattern, "--list-hosts"], &[]);
            assert_eq!(ran.code, Some(0), "{ran:#?}");
            let mut hosts: Vec<String> = ran.stdout.lines().skip(1).map(|l| l.trim().to_string()).collect();
            if !ordered {
                hosts.sort();
            }
            hosts
        };
        let through_plugin = hosts(&source);
        assert!(through_plugin.len() > 100, "{pattern}: {through_plugin:?}");
        assert_eq!(
            through_plugin,
            hosts(Path::new(binary())),
            "{pattern}: hosts (ordered: {ordered})"
        );
    }
}

#[test]
fn ansible_playbook_runs_through_the_plugin() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let dir = tempfile::tempdir().expect("temp dir");
    let source = source(dir.path(), &etcd, "");
    let playbook = dir.path().join("site.yml");
    std::fs::write(
        &playbook,
        "- hosts: web\n  gather_facts: false\n  connection: local\n  tasks:\n    - debug:\n        msg: \"{{ inventory_hostname }} port={{ http_port }} env={{ env }} ntp={{ ntp_server }}\"\n",
    )
    .expect("playbook");
    let ran = ansible(
        "ansible-playbook",
        &source,
        &etcd,
        &[playbook.to_str().expect("utf-8")],
        &[],
    );
    assert_eq!(ran.code, Some(0), "{ran:#?}");
    for host in ["web01", "web02"] {
        let line = format!("{host} port=8080 env=production ntp=ntp.example.com");
        assert!(ran.stdout.contains(&line), "expected {line:?} in {ran:#?}");
    }
    assert!(!ran.stdout.contains("db01"), "db01 is not in web: {ran:#?}");
}

#[test]
fn keyed_groups_groups_and_compose_make_what_they_should() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let dir = tempfile::tempdir().expect("temp dir");
    let constructed = "\
keyed_groups:
  - key: role
    prefix: role
  - key: env
    prefix: env
groups:
  webservers: \"'web' in group_names\"
  numbered: inventory_hostname.endswith('02')
compose:
  next_port: (http_port | int) + 1
  where: ansible_host ~ '@' ~ env
";
    let listed = listed(&source(dir.path(), &etcd, constructed), &etcd, &[TRUST]);
    let hosts = |group: &str| listed[group]["hosts"].clone();
    assert_eq!(hosts("role_primary"), json!(["db01"]), "{listed:#}");
    // env comes from prod's group variables: the constructed groups see group variables.
    let mut production: Vec<String> = serde_json::from_value(hosts("env_production")).expect("names");
    production.sort();
    assert_eq!(production, ["db01", "web01", "web02"], "{listed:#}");
    assert_eq!(hosts("webservers"), json!(["web01", "web02"]), "{listed:#}");
    assert_eq!(hosts("numbered"), json!(["web02"]), "{listed:#}");
    let vars = &listed["_meta"]["hostvars"];
    // 2.16-2.18 compose text, 2.19 keeps the type.
    let next_port = match ansible_version() >= (2, 19) {
        true => json!(8081),
        false => json!("8081"),
    };
    assert_eq!(vars["web01"]["next_port"], next_port, "{listed:#}");
    // 2.19 lists a composed string, which no one marked trusted, with the unsafe marker.
    let text = |v: &Value| v.get("__ansible_unsafe").unwrap_or(v).clone();
    assert_eq!(text(&vars["db01"]["where"]), "10.0.0.21@production", "{listed:#}");
    // Not strict: a host without http_port simply gets no next_port.
    assert!(vars["db01"].get("next_port").is_none(), "{listed:#}");

    // Strict: the same missing variable fails the source, naming it.
    let strict = source(
        dir.path(),
        &etcd,
        "strict: true\ncompose:\n  next_port: (http_port | int) + 1\n",
    );
    let ran = ansible("ansible-inventory", &strict, &etcd, &["--list"], &[]);
    assert_ne!(ran.code, Some(0), "{ran:#?}");
    assert!(ran.stderr.contains("http_port"), "{ran:#?}");
}

#[test]
fn templates_in_values_render_only_with_trust_templates() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    etcd.put(&[("/ansible/hostvars/web02/motd", "{{ 7*6 }}")]);
    let dir = tempfile::tempdir().expect("temp dir");
    let debug = |extra: &str| {
        let source = source(dir.path(), &etcd, extra);
        let ran = ansible(
            "ansible",
            &source,
            &etcd,
            &["web02", "-c", "local", "-m", "debug", "-a", "var=motd"],
            &[],
        );
        assert_eq!(ran.code, Some(0), "{ran:#?}");
        ran
    };
    let untrusted = debug("");
    assert!(untrusted.stdout.contains(r#""motd": "{{ 7*6 }}""#), "{untrusted:#?}");
    let trusted = debug("trust_templates: true\n");
    // 2.16-2.18 render a trusted template to text, 2.19 keeps its type.
    let rendered = match ansible_version() >= (2, 19) {
        true => r#""motd": 42"#,
        false => r#""motd": "42""#,
    };
    assert!(trusted.stdout.contains(rendered), "{trusted:#?}");
}

#[test]
fn our_warnings_are_ansible_warnings_not_errors() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    etcd.put(&[("/ansible/stray", "a key that fits no kind")]);
    let dir = tempfile::tempdir().expect("temp dir");
    let ran = ansible(
        "ansible-inventory",
        &source(dir.path(), &etcd, ""),
        &etcd,
        &["--list"],
        &[],
    );
    assert_eq!(ran.code, Some(0), "{ran:#?}");
    assert!(
        ran.stderr.contains("[WARNING]: etcd-inventory: skipped 1 key(s)"),
        "{ran:#?}"
    );
    assert!(!ran.stderr.contains("ERROR"), "{ran:#?}");
}

#[test]
fn options_beat_the_environment_and_unset_ones_leave_etcd_ini_and_defaults_their_say() {
    let etcd = Etcd::start();
    etcd.load("/ansible", "hosts/g/from-ansible\nhostvars/from-ansible/port=8080\n");
    etcd.load("/other", "hosts/g/from-other\n");
    etcd.load("/ini", "hosts/g/from-ini\n");
    let dir = tempfile::tempdir().expect("temp dir");
    let hosts_of = |yaml: &str, env: &[(&str, &str)]| {
        let path = dir.path().join("inventory.etcd.yml");
        std::fs::write(&path, format!("plugin: etcd_inventory.etcd.etcd\n{yaml}")).expect("write source");
        let listed = listed(&path, &etcd, env);
        let hosts = listed["g"]["hosts"].clone();
        (hosts, listed)
    };
    // Neither: the binary's default prefix. The environment: its variable. Both: the option.
    assert_eq!(hosts_of("", &[]).0, json!(["from-ansible"]));
    assert_eq!(
        hosts_of("", &[("ETCD_INVENTORY_PREFIX", "/other")]).0,
        json!(["from-other"])
    );
    assert_eq!(
        hosts_of("prefix: /ansible\n", &[("ETCD_INVENTORY_PREFIX", "/other")]).0,
        json!(["from-ansible"])
    );
    // etcd.ini, by the ini_path option, as an existing user of the classic script has it.
    let ini = dir.path().join("etcd.ini");
    std::fs::write(&ini, format!("[etcd]\nendpoints = {}\nprefix = /ini\n", etcd.endpoint)).expect("write etcd.ini");
    let from_ini = format!("ini_path: {}\n", ini.display());
    assert_eq!(hosts_of(&from_ini, &[]).0, json!(["from-ini"]));
    assert_eq!(
        hosts_of(&format!("{from_ini}prefix: /other\n"), &[]).0,
        json!(["from-other"])
    );
    // A switch set false in the file beats the same switch on in the environment.
    let (_, typed) = hosts_of("typed_values: false\n", &[TYPED, TRUST]);
    assert_eq!(typed["_meta"]["hostvars"]["from-ansible"]["port"], "8080");
    let (_, typed) = hosts_of("", &[TYPED, TRUST]);
    assert_eq!(typed["_meta"]["hostvars"]["from-ansible"]["port"], 8080);
}

#[test]
fn a_vault_encrypted_password_option_logs_in() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    etcd.add_reader("reader", "reader-pw", "/ansible/");
    etcd.enable_auth("root-pw");
    let password_file = etcd.dir().join("vault-password");
    std::fs::write(&password_file, "vault pw\n").expect("password file");
    let ciphertext = vault_ciphertext(&password_file, "reader-pw");
    let indented: String = ciphertext.lines().map(|l| format!("  {l}\n")).collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let source = source(
        dir.path(),
        &etcd,
        &format!("user: reader\npassword: !vault |\n{indented}"),
    );
    let password = format!("--vault-password-file={}", password_file.display());
    let ran = ansible("ansible-inventory", &source, &etcd, &["--list", &password], &[]);
    assert_eq!(ran.code, Some(0), "{ran:#?}");
    let listed: Value = serde_json::from_str(&ran.stdout).expect("JSON");
    assert_eq!(listed["web"]["hosts"], json!(["web01", "web02"]));

    // The wrong password is etcd's refusal, in one line.
    let wrong = source_with(dir.path(), &etcd, "user: reader\npassword: not-it\n");
    let ran = ansible("ansible-inventory", &wrong, &etcd, &["--list"], &[]);
    assert_failed_source(&ran, &["etcd-inventory failed", "reader"]);
}

/// As [`source`], under another name in the same directory.
fn source_with(dir: &Path, etcd: &Etcd, extra: &str) -> PathBuf {
    let path = dir.join("other.etcd.yml");
    std::fs::write(
        &path,
        format!(
            "plugin: etcd_inventory.etcd.etcd\nendpoints: {}\n{extra}",
            etcd.endpoint
        ),
    )
    .expect("write other.etcd.yml");
    path
}

/// The source failed, Ansible printed no inventory, and its error holds every needle.
fn assert_failed_source(ran: &Run, needles: &[&str]) {
    assert_ne!(ran.code, Some(0), "{ran:#?}");
    assert_eq!(ran.stdout, "", "no inventory on stdout: {ran:#?}");
    for needle in needles {
        assert!(
            ran.stderr.contains(needle),
            "stderr should mention {needle:?}: {ran:#?}"
        );
    }
}

#[test]
fn a_missing_binary_a_failed_read_and_a_bad_option_each_fail_the_source_with_one_line() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let dir = tempfile::tempdir().expect("temp dir");
    let good = source(dir.path(), &etcd, "");

    // No binary on PATH (nor beside Ansible's Python), no executable option.
    let (mut command, _home) = collection_command("ansible-inventory", &good, &etcd);
    let ran = run(command.arg("--list").env("PATH", "/usr/bin:/bin"));
    assert_failed_source(&ran, &["etcd-inventory was not found on PATH", "executable option"]);
    // The same PATH, the binary named by the executable option: it lists.
    let named = source_with(dir.path(), &etcd, &format!("executable: {}\n", binary()));
    let (mut command, _home) = collection_command("ansible-inventory", &named, &etcd);
    let ran = run(command.arg("--list").env("PATH", "/usr/bin:/bin"));
    assert_eq!(ran.code, Some(0), "{ran:#?}");
    let missing = source_with(dir.path(), &etcd, "executable: /nonexistent/etcd-inventory\n");
    let ran = ansible("ansible-inventory", &missing, &etcd, &["--list"], &[]);
    assert_failed_source(&ran, &["/nonexistent/etcd-inventory", "not an executable file"]);

    // Nothing listens: the binary's own line about the endpoint.
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let down = source_with(
        dir.path(),
        &etcd,
        &format!("endpoints: {endpoint}\ndial_timeout: 500ms\n"),
    );
    let (mut command, _home) = collection_command("ansible-inventory", &down, &etcd);
    let ran = run(command.arg("--list").env_remove("ETCDCTL_ENDPOINTS"));
    assert_failed_source(&ran, &["etcd-inventory failed", &endpoint]);

    // A value the binary refuses names its setting; one Ansible refuses, the option.
    let bad = source_with(dir.path(), &etcd, "dial_timeout: soon\n");
    let ran = ansible("ansible-inventory", &bad, &etcd, &["--list"], &[]);
    assert_failed_source(&ran, &["etcd-inventory failed", "ETCDCTL_DIAL_TIMEOUT", "soon"]);
    let bad = source_with(dir.path(), &etcd, "transport: pigeon\n");
    let ran = ansible("ansible-inventory", &bad, &etcd, &["--list"], &[]);
    assert_failed_source(&ran, &["transport", "pigeon"]);

    // An executable that is not etcd-inventory: what it prints is refused, not half-used.
    for (printed, needle) in [
        ("not json", "etcd-inventory printed no JSON inventory"),
        ("{}", "etcd-inventory printed JSON without _meta.hostvars"),
        (
            r#"{"web": [1], "_meta": {"hostvars": {}}}"#,
            "etcd-inventory printed an inventory of another shape",
        ),
    ] {
        let impostor = dir.path().join("impostor");
        std::fs::write(&impostor, format!("#!/bin/sh\ncat <<'EOF'\n{printed}\nEOF\n")).expect("impostor");
        std::fs::set_permissions(&impostor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("0755");
        let source = source_with(dir.path(), &etcd, &format!("executable: {}\n", impostor.display()));
        let ran = ansible("ansible-inventory", &source, &etcd, &["--list"], &[]);
        assert_failed_source(&ran, &[needle]);
    }
}

#[test]
fn ansible_doc_renders_every_setting_as_an_option_with_its_variable() {
    let home = tempfile::tempdir().expect("temp home");
    let collections = crate::support::collection::collections_path();
    let doc = |args: &[&str]| {
        run(clean_command(ansible_program("ansible-doc"))
            .args(["-t", "inventory"])
            .args(args)
            .arg("etcd_inventory.etcd.etcd")
            .env("HOME", home.path())
            .env("ANSIBLE_COLLECTIONS_PATH", collections)
            .env("ANSIBLE_NOCOLOR", "1"))
    };
    let text = doc(&[]);
    assert_eq!(text.code, Some(0), "{text:#?}");
    assert!(text.stdout.contains("keyed_groups"), "{text:#?}");
    let json = doc(&["--json"]);
    assert_eq!(json.code, Some(0), "{json:#?}");
    let parsed: Value = serde_json::from_str(&json.stdout).expect("ansible-doc --json");
    let options = parsed["etcd_inventory.etcd.etcd"]["doc"]["options"]
        .as_object()
        .unwrap_or_else(|| panic!("no options: {parsed:#}"));
    let settings = std::fs::read_to_string(repo_root().join("collection/plugins/module_utils/settings.py"))
        .expect("the generated settings list");
    let rows: Vec<Vec<&str>> = settings
        .lines()
        .filter(|l| l.trim_start().starts_with("(\""))
        .map(|l| l.split('"').collect())
        .collect();
    assert_eq!(rows.len(), etcd_inventory::settings::SETTINGS.len(), "{settings}");
    for row in rows {
        let (name, variable) = (row[1], row[3]);
        let option = &options
            .get(name)
            .unwrap_or_else(|| panic!("option {name} is not documented"));
        assert!(
            option.get("default").is_none_or(Value::is_null),
            "{name}: the binary owns defaults"
        );
        if variable.starts_with(|c: char| c.is_ascii_uppercase()) {
            assert_eq!(option["env"], json!([{"name": variable}]), "{name}");
        }
    }
    for own in ["plugin", "executable", "compose", "groups", "keyed_groups", "strict"] {
        assert!(options.contains_key(own), "{own} is not documented");
    }
}

#[test]
fn the_collection_s_version_is_the_workspace_s() {
    let galaxy = std::fs::read_to_string(repo_root().join("collection/galaxy.yml")).expect("galaxy.yml");
    let version = galaxy
        .lines()
        .find_map(|l| l.strip_prefix("version: "))
        .expect("galaxy.yml's version");
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
}

#[test]
fn flush_cache_makes_the_binary_rewrite_its_cache() {
    use std::os::unix::fs::MetadataExt as _;
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).expect("cache dir");
    std::fs::set_permissions(&cache, std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("0700");
    let source = source(
        dir.path(),
        &etcd,
        &format!("cache_enabled: true\ncache_path: {}\n", cache.display()),
    );
    // The cache file (one per settings), and what changes when it is rewritten.
    let state = || {
        let files: Vec<_> = std::fs::read_dir(&cache)
            .expect("cache dir")
            .map(|e| e.expect("entry").path())
            .collect();
        assert_eq!(files.len(), 1, "one cache file: {files:?}");
        let meta = std::fs::metadata(&files[0]).expect("cache file");
        (meta.ino(), meta.mtime_nsec(), meta.mtime())
    };
    let list = |args: &[&str]| {
        let ran = ansible("ansible-inventory", &source, &etcd, args, &[]);
        assert_eq!(ran.code, Some(0), "{ran:#?}");
        serde_json::from_str::<Value>(&ran.stdout).expect("JSON")
    };
    let first = list(&["--list"]);
    let written = state();
    assert_eq!(list(&["--list"]), first);
    assert_eq!(state(), written, "a validated hit leaves the cache file as it is");
    // ansible-playbook has --flush-cache in every ansible-core we test (ansible-inventory
    // only from 2.19).
    let playbook = dir.path().join("site.yml");
    std::fs::write(&playbook, "- hosts: web\n  gather_facts: false\n  tasks: []\n").expect("playbook");
    let playbook = playbook.to_str().expect("utf-8");
    let ran = ansible("ansible-playbook", &source, &etcd, &["--list-hosts", playbook], &[]);
    assert_eq!(ran.code, Some(0), "{ran:#?}");
    assert_eq!(state(), written, "a validated hit leaves the cache file as it is");
    let ran = ansible(
        "ansible-playbook",
        &source,
        &etcd,
        &["--list-hosts", "--flush-cache", playbook],
        &[],
    );
    assert_eq!(ran.code, Some(0), "{ran:#?}");
    assert!(ran.stdout.contains("web02"), "{ran:#?}");
    assert_ne!(state(), written, "--flush-cache rewrites it");
    assert_eq!(list(&["--list"]), first);
}
