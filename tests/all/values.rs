//! Values as Ansible sees them, through the real ansible-core: never templated by default,
//! Vault ciphertexts passed through encrypted, JSON types and nested maps on request.

#[cfg(feature = "ansible")]
use std::path::Path;

use serde_json::json;

use crate::support::{Etcd, inventory};
#[cfg(feature = "ansible")]
use crate::support::{Run, ansible_command, ansible_version, binary, run, vault_ciphertext};

/// `ansible -i <our binary> h1 -m debug -a ARGS` on the controller itself.
#[cfg(feature = "ansible")]
fn debug(etcd: &Etcd, args: &str, env: &[(&str, &str)], extra: &[&str]) -> Run {
    let (mut command, _home) = ansible_command("ansible", Path::new(binary()), etcd);
    command
        .args(["h1", "-c", "local", "-m", "debug", "-a", args])
        .args(extra);
    for (name, value) in env {
        command.env(name, value);
    }
    let run = run(&mut command);
    assert_eq!(run.code, Some(0), "ansible {args}: {run:#?}");
    run
}

fn one_host(etcd: &Etcd, vars: &[(&str, &str)]) {
    let mut pairs = vec![("/ansible/hosts/g/h1".to_string(), String::new())];
    pairs.extend(
        vars.iter()
            .map(|(k, v)| (format!("/ansible/hostvars/h1/{k}"), v.to_string())),
    );
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    etcd.put(&refs);
}

#[cfg(feature = "ansible")]
const TRUST: (&str, &str) = ("ETCD_INVENTORY_TRUST_TEMPLATES", "true");

#[cfg(feature = "ansible")]
#[test]
fn templates_in_values_are_not_rendered_unless_trusted() {
    let etcd = Etcd::start();
    one_host(&etcd, &[("x", "{{ 7*6 }}")]);
    let safe = debug(&etcd, "var=x", &[], &[]);
    assert!(safe.stdout.contains(r#""x": "{{ 7*6 }}""#), "{safe:#?}");
    let trusted = debug(&etcd, "var=x", &[TRUST], &[]);
    // Rendered either way; ansible-core 2.19 keeps the template's native type (42), 2.16-2.18
    // render templates to text ("42").
    let rendered = if ansible_version() >= (2, 19) {
        r#""x": 42"#
    } else {
        r#""x": "42""#
    };
    assert!(trusted.stdout.contains(rendered), "{trusted:#?}");
}

#[cfg(feature = "ansible")]
#[test]
fn a_pipe_lookup_in_a_value_runs_nothing_by_default() {
    let etcd = Etcd::start();
    let marker = etcd.dir().join("pwned");
    one_host(
        &etcd,
        &[("x", &format!("{{{{ lookup('pipe', 'touch {}') }}}}", marker.display()))],
    );
    debug(&etcd, "var=x", &[], &[]);
    assert!(!marker.exists(), "the lookup ran on the controller");
    // The same value, trusted, does run: the test above can fail.
    debug(&etcd, "var=x", &[TRUST], &[]);
    assert!(marker.exists(), "trusted templates are rendered");
}

#[cfg(feature = "ansible")]
#[test]
fn vault_values_stay_encrypted_and_decrypt_only_in_ansible() {
    let etcd = Etcd::start();
    let password_file = etcd.dir().join("vault-password");
    std::fs::write(&password_file, "correct horse battery staple\n").expect("password file");
    let ciphertext = vault_ciphertext(&password_file, "plain-s3cret-value");
    one_host(&etcd, &[("secret", &ciphertext)]);

    let ours = inventory(&etcd, &["--list"]);
    assert_eq!(
        ours.json()["_meta"]["hostvars"]["h1"]["secret"],
        json!({"__ansible_vault": ciphertext})
    );
    let (mut list, _home) = ansible_command("ansible-inventory", Path::new(binary()), &etcd);
    let listed = run(list.arg("--list"));
    assert_eq!(listed.code, Some(0), "loads without a vault password: {listed:#?}");
    for output in [&ours.stdout, &listed.stdout] {
        assert!(!output.contains("plain-s3cret-value"), "plaintext leaked: {output}");
    }

    let password = format!("--vault-password-file={}", password_file.display());
    let decrypted = debug(&etcd, "var=secret", &[], &[&password]);
    assert!(
        decrypted.stdout.contains(r#""secret": "plain-s3cret-value""#),
        "{decrypted:#?}"
    );
}

#[cfg(feature = "ansible")]
#[test]
fn typed_values_and_nested_keys_reach_ansible_as_their_types() {
    let etcd = Etcd::start();
    one_host(
        &etcd,
        &[
            ("http_port", "8080"),
            ("enabled", "true"),
            ("users", r#"["alice", "bob"]"#),
            ("limits", r#"{"files": 4096}"#),
            ("nginx/worker/count", "4"),
            ("label", "web 01"),
        ],
    );
    let env = [
        ("ETCD_INVENTORY_TYPED_VALUES", "true"),
        ("ETCD_INVENTORY_NESTED_KEYS", "true"),
    ];
    let types = "msg={{ [http_port, enabled, users, limits, nginx, nginx.worker.count, users[0], label] | map('type_debug') | join(' ') }}";
    let run = debug(&etcd, types, &env, &[]);
    assert!(
        run.stdout.contains(r#""msg": "int bool list dict dict int "#),
        "{run:#?}"
    );
    let values = r#"msg="{{ http_port + 1 }} {{ users | join(',') }} {{ limits.files }} {{ nginx.worker.count * 2 }} {{ label }}""#;
    let run = debug(&etcd, values, &env, &[]);
    assert!(
        run.stdout.contains(r#""msg": "8081 alice,bob 4096 8 web 01""#),
        "{run:#?}"
    );

    // Without the switches the same keys are strings, and the nested key is skipped.
    let plain = debug(
        &etcd,
        r#"msg="{{ http_port | type_debug }} {{ nginx is defined }}""#,
        &[],
        &[],
    );
    assert!(plain.stdout.contains(r#" False""#), "{plain:#?}");
    assert!(!plain.stdout.contains(r#""msg": "int"#), "{plain:#?}");
}

#[test]
fn a_value_where_nested_keys_need_a_map_fails_naming_both_keys() {
    let etcd = Etcd::start();
    one_host(&etcd, &[("nginx", "on"), ("nginx/port", "80")]);
    inventory(&etcd, &["--list", "--nested-keys"])
        .failure(&["/ansible/hostvars/h1/nginx\"", "/ansible/hostvars/h1/nginx/port"]);
    // Without nested keys the deeper key is only skipped, with a warning.
    let run = inventory(&etcd, &["--list"]);
    assert_eq!(
        run.json()["_meta"]["hostvars"]["h1"]["nginx"],
        json!({"__ansible_unsafe": "on"})
    );
    assert!(run.stderr.contains("skipped 1 key(s)"), "{run:#?}");
}
