//! The same component in Node, through jco: embed/node/inventory.mjs, an Ansible inventory
//! script, calls the typed interface of the component `etcd-inventory component` writes,
//! transpiled by the jco that embed/node/package-lock.json pins. scripts/test.sh installs
//! Node and runs `npm ci` there; these tests come with the `node` feature, and with it on
//! but Node or jco missing they fail and say so.

#[cfg(feature = "ansible")]
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::support::{Etcd, Run, SAMPLE_KV, binary, clean_command, etcd::free_port, node_program, repo_root, run};
#[cfg(feature = "ansible")]
use crate::support::{ansible_json, sorted};

fn package_dir() -> PathBuf {
    repo_root().join("embed/node")
}

/// PATH with Node's directory first, so that npm, jco and the script's `#!/usr/bin/env node`
/// run the Node these tests found.
fn path_with_node() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let node = node_program("node", "NODE_BIN");
        let inherited = std::env::var_os("PATH").unwrap_or_default();
        let dirs = std::iter::once(node.parent().expect("node's directory").to_path_buf())
            .chain(std::env::split_paths(&inherited));
        let path = std::env::join_paths(dirs).expect("PATH");
        path.into_string().expect("a UTF-8 PATH")
    })
}

/// The component the binary writes, transpiled by `npm run transpile` once per test process
/// into embed/node/out/test-PID: inside the package, so that the output's imports of
/// `@bytecodealliance/preview2-shim` resolve to embed/node/node_modules. Such directories of
/// test processes that have ended are removed first.
fn transpiled() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let path = path_with_node();
        let npm = node_program("npm", "NPM_BIN");
        let package = package_dir();
        let jco = package.join("node_modules/.bin/jco");
        assert!(
            jco.exists(),
            "{} is missing: run scripts/test.sh (it runs npm ci in embed/node)",
            jco.display()
        );
        let out = package.join("out");
        for entry in std::fs::read_dir(&out).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.strip_prefix("test-").filter(|p| p.parse::<u32>().is_ok());
            if pid.is_some_and(|pid| !Path::new("/proc").join(pid).exists()) {
                std::fs::remove_dir_all(entry.path()).unwrap_or_else(|e| panic!("remove {name}: {e}"));
            }
        }
        let dir = out.join(format!("test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let wasm = dir.join("etcd_inventory.wasm");
        let written = run(clean_command(binary()).args(["component", "--output"]).arg(&wasm));
        assert_eq!(written.code, Some(0), "{written:#?}");
        let transpile = run(clean_command(npm)
            .args(["run", "--silent", "transpile"])
            .current_dir(&package)
            .env("PATH", path)
            .env("ETCD_INVENTORY_WASM", &wasm)
            .env("ETCD_INVENTORY_JCO_OUT", &dir));
        assert_eq!(transpile.code, Some(0), "npm run transpile: {transpile:#?}");
        dir
    })
}

/// `node embed/node/inventory.mjs ARGS` with `env`.
fn node_script(env: &[(&str, &str)], args: &[&str]) -> Run {
    let node = node_program("node", "NODE_BIN");
    let out = transpiled();
    run(clean_command(node)
        .arg(package_dir().join("inventory.mjs"))
        .env("ETCD_INVENTORY_JCO_OUT", out)
        .envs(env.iter().copied())
        .args(args))
}

/// Our binary with `env` and `args`.
fn binary_with(env: &[(&str, &str)], args: &[&str]) -> Run {
    run(clean_command(binary()).envs(env.iter().copied()).args(args))
}

#[test]
fn node_script_prints_what_the_binary_prints() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    etcd.put(&[
        ("/ansible/hostvars/web01/deep/key", "x"),
        ("/ansible/hostvars/db01/port", "5432"),
        ("/ansible/stray", "a key that fits no kind"),
    ]);
    let endpoint = ("ETCDCTL_ENDPOINTS", etcd.endpoint.as_str());
    let defaults = [endpoint];
    // Settings in the environment, none at its default.
    let settings = [
        endpoint,
        ("ETCD_INVENTORY_PREFIX", "/ansible/"),
        ("ETCD_INVENTORY_PAGE_SIZE", "3"),
        ("ETCDCTL_DIAL_TIMEOUT", "1500ms"),
        ("ETCDCTL_COMMAND_TIMEOUT", "3s"),
        ("ETCD_INVENTORY_TRUST_TEMPLATES", "true"),
        ("ETCD_INVENTORY_TYPED_VALUES", "yes"),
        ("ETCD_INVENTORY_NESTED_KEYS", "on"),
    ];
    for (env, args) in [
        (&defaults[..], &["--list"][..]),
        (&defaults, &["--host", "web01"]),
        (&defaults, &["--host", "nobody"]),
        (&settings, &["--list"]),
        (&settings, &["--host", "web01"]),
        // The binary's flags, which the component's `settings` export takes too.
        (
            &defaults,
            &["--list", "--page-size", "2", "--nested-keys", "--typed-values"],
        ),
        (
            &defaults,
            &["--host", "web01", "--prefix", "/ansible/", "--trust-templates"],
        ),
    ] {
        let node = node_script(env, args);
        let ours = binary_with(env, args);
        assert_eq!(node.code, Some(0), "{args:?}: {node:#?}");
        assert_eq!(node.stdout, ours.stdout, "{args:?} with {env:?}: byte for byte");
        assert_eq!(node.stderr, ours.stderr, "{args:?} with {env:?}: the same warning");
        if args[0] == "--list" {
            assert!(node.stderr.contains("warning: skipped"), "{args:?}: {node:#?}");
        }
    }
}

#[test]
fn node_script_reads_the_inventory_as_typed_data() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let data = node_script(&[("ETCDCTL_ENDPOINTS", &etcd.endpoint)], &["--data"]);
    assert_eq!((data.code, data.stderr.as_str()), (Some(0), ""), "{data:#?}");
    let keys = etcd.get_prefix("/ansible/").len();
    let expected = [
        "all: 0 host(s), children: prod ungrouped, vars: ntp_server",
        "db: 1 host(s)",
        "prod: 0 host(s), children: db web, vars: env",
        "ungrouped: 1 host(s)",
        "web: 2 host(s), vars: http_port",
        &format!("4 host(s), {keys} key(s) read at revision {}", etcd.revision()),
    ];
    assert_eq!(data.stdout.lines().collect::<Vec<_>>(), expected, "{data:#?}");
}

#[cfg(feature = "ansible")]
#[test]
fn ansible_inventory_runs_the_node_script() {
    let script = package_dir().join("inventory.mjs");
    let mode = std::fs::metadata(&script).expect("inventory.mjs").permissions().mode();
    assert!(mode & 0o111 != 0, "{} must be executable", script.display());
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let out = transpiled().to_str().expect("a UTF-8 path");
    let env = [
        ("PATH", path_with_node()),
        ("ETCD_INVENTORY_JCO_OUT", out),
        ("ETCD_INVENTORY_TRUST_TEMPLATES", "true"),
    ];
    let through_node = ansible_json(&script, &etcd, &["--list"], &env);
    let through_binary = ansible_json(Path::new(binary()), &etcd, &["--list"], &env);
    assert_eq!(sorted(through_node), sorted(through_binary));
    let host = ansible_json(&script, &etcd, &["--host", "web01"], &env);
    assert_eq!(host["ansible_host"], "10.0.0.11", "{host:#}");
}

#[test]
fn node_script_reports_errors_on_one_stderr_line() {
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    node_script(&[("ETCDCTL_ENDPOINTS", &endpoint)], &["--list"])
        .failure(&[&format!("cannot reach etcd at {endpoint}: connection refused")]);
    node_script(&[("ETCDCTL_ENDPOINTS", &endpoint)], &["--host", "web01"]).failure(&["cannot reach etcd"]);
    node_script(&[("ETCD_INVENTORY_PAGE_SIZE", "0")], &["--list"])
        .failure(&["invalid value \"0\" from environment variable ETCD_INVENTORY_PAGE_SIZE"]);
    node_script(&[("ETCD_INVENTORY_TYPED_VALUES", "constructor")], &["--list"])
        .failure(&["ETCD_INVENTORY_TYPED_VALUES: expected true or false"]);
    // Resolved by the component's `settings` export, which names the source as the binary does.
    node_script(&[("ETCDCTL_ENDPOINTS", "ftp://127.0.0.1:1")], &["--list"]).failure(&[
        "from environment variable ETCDCTL_ENDPOINTS",
        "scheme \"ftp\" is not http or https",
    ]);
    node_script(&[], &["--list", "--bogus"]).failure(&["usage: inventory.mjs", "--bogus"]);
    node_script(&[("ETCDCTL_CACERT", "/ca.pem")], &["--list"]).failure(&["use the etcd-inventory binary"]);
    node_script(&[], &["--graph"]).failure(&["usage: inventory.mjs --list | --host NAME | --data"]);
}

#[test]
fn node_script_authenticates_as_etcdctl_user() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    etcd.enable_auth("root-Secret-1");
    etcd.add_reader("alice", "alice-Secret-2", "/ansible/");
    let endpoint = ("ETCDCTL_ENDPOINTS", etcd.endpoint.as_str());
    for env in [
        &[endpoint, ("ETCDCTL_USER", "alice:alice-Secret-2")][..],
        &[
            endpoint,
            ("ETCDCTL_USER", "alice"),
            ("ETCDCTL_PASSWORD", "alice-Secret-2"),
        ],
    ] {
        let node = node_script(env, &["--list"]);
        assert_eq!(node.code, Some(0), "{node:#?}");
        assert_eq!(node.stdout, binary_with(env, &["--list"]).stdout);
    }
    let wrong = [endpoint, ("ETCDCTL_USER", "alice"), ("ETCDCTL_PASSWORD", "wrong")];
    let line = node_script(&wrong, &["--list"]).failure(&["refused the password of user \"alice\""]);
    assert!(!line.contains("wrong"), "the password stays out of the error: {line}");
    node_script(&[endpoint], &["--list"]).failure(&["requires authentication and no user is set"]);
}
