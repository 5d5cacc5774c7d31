//! The same component in Python, through wasmtime-py: embed/python's inventory script prints
//! what the binary prints over `--transport gateway`, byte for byte; the compiled component
//! is cached on disk and a second run loads it; a damaged or unsafe cache is ignored with a
//! warning; the memory and time limits trip with one line each. With `ansible` too, the
//! collection's plugin under `backend: wasm` gives Ansible the inventory `backend: binary`
//! gives it, refuses what only the binary does, and needs no binary at all.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::python::{python_code, script, shared_cache_home};
use crate::support::stall::StallingServer;
use crate::support::{Etcd, Run, SAMPLE_KV, binary, clean_command, etcd::free_port, generated, repo_root, run};

/// The Python script with `env` and `args`, its compile cache under `cache_home`.
fn python_script(cache_home: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    run(script(cache_home).envs(env.iter().copied()).args(args))
}

/// Our binary over the gateway, as the component reaches etcd in Python.
fn binary_gateway(env: &[(&str, &str)], args: &[&str]) -> Run {
    run(clean_command(binary())
        .envs(env.iter().copied())
        .env("ETCD_INVENTORY_TRANSPORT", "gateway")
        .args(args))
}

#[test]
fn python_script_prints_what_the_binary_prints_over_the_gateway() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    etcd.load("/generated", &generated(3000));
    etcd.put(&[
        ("/ansible/hostvars/web01/deep/key", "x"),
        ("/ansible/hostvars/db01/port", "5432"),
        ("/ansible/hostvars/db01/1st", "a name Ansible refuses"),
        ("/ansible/stray", "a key that fits no kind"),
    ]);
    let endpoint = ("ETCDCTL_ENDPOINTS", etcd.endpoint.as_str());
    let defaults = [endpoint];
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
    let generated = [endpoint, ("ETCD_INVENTORY_PREFIX", "/generated")];
    for (env, args) in [
        (&defaults[..], &["--list"][..]),
        (&defaults, &["--host", "web01"]),
        (&defaults, &["--host", "nobody"]),
        (&settings, &["--list"]),
        (&settings, &["--host", "web01"]),
        (
            &defaults,
            &["--list", "--page-size", "2", "--nested-keys", "--typed-values"],
        ),
        (
            &defaults,
            &["--host", "web01", "--prefix", "/ansible/", "--trust-templates"],
        ),
        (&generated, &["--list"]),
        (&generated, &["--list", "--typed-values", "--page-size", "500"]),
        (&generated, &["--host", "host42.example.com"]),
    ] {
        let python = python_script(shared_cache_home(), env, args);
        let ours = binary_gateway(env, args);
        assert_eq!(python.code, Some(0), "{args:?}: {python:#?}");
        assert!(python.stdout == ours.stdout, "{args:?} with {env:?}: byte for byte");
        assert_eq!(python.stderr, ours.stderr, "{args:?} with {env:?}: the same warnings");
        if args[0] == "--list" && env[0..] != generated[..] {
            assert!(python.stderr.contains("warning: skipped"), "{args:?}: {python:#?}");
        }
    }
    let listed: serde_json::Value =
        serde_json::from_str(&python_script(shared_cache_home(), &generated, &["--list"]).stdout).expect("JSON");
    assert_eq!(listed["_meta"]["hostvars"].as_object().map(|h| h.len()), Some(3000));
}

#[test]
fn python_reads_the_inventory_as_typed_data() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let code = "import os\n\
                from etcd_inventory_wasm import Host\n\
                host = Host()\n\
                resolved = host.resolve(['--list'], os.environ)\n\
                data = host.read_inventory(resolved)\n\
                for g in data['groups']:\n\
                \x20   print(g['name'], ' '.join(g['hosts']), ' '.join(g['children']), ' '.join(v['name'] for v in g['vars']))\n\
                print(len(data['hosts']), data['key_count'], data['revision'], data['warnings'])\n\
                print(host.inventory_unchanged(resolved, data['revision'], data['key_count']) is not None)\n";
    let ran = run(python_code(shared_cache_home(), code).env("ETCDCTL_ENDPOINTS", &etcd.endpoint));
    assert_eq!((ran.code, ran.stderr.as_str()), (Some(0), ""), "{ran:#?}");
    let keys = etcd.get_prefix("/ansible/").len();
    let expected = [
        "all  prod ungrouped ntp_server".to_string(),
        "db db01  ".to_string(),
        "prod  db web env".to_string(),
        "ungrouped bastion  ".to_string(),
        "web web01 web02  http_port".to_string(),
        format!("4 {keys} {} []", etcd.revision()),
        // Unchanged as of a revision (Some), which it is.
        "True".to_string(),
    ];
    assert_eq!(ran.stdout.lines().collect::<Vec<_>>(), expected, "{ran:#?}");
    // A key written under the prefix since: changed (None).
    let (revision, count) = (etcd.revision(), keys);
    etcd.put(&[("/ansible/hostvars/web01/new", "1")]);
    let code = format!(
        "import os\nfrom etcd_inventory_wasm import Host\nhost = Host()\n\
         print(host.inventory_unchanged(host.resolve(['--list'], os.environ), {revision}, {count}))\n"
    );
    let ran = run(python_code(shared_cache_home(), &code).env("ETCDCTL_ENDPOINTS", &etcd.endpoint));
    assert_eq!((ran.code, ran.stdout.as_str()), (Some(0), "None\n"), "{ran:#?}");
}

/// The one compile-cache file under `cache_home`: its path, and what a rewrite changes.
fn cache_file(cache_home: &Path) -> (std::path::PathBuf, (u64, i64, i64)) {
    let dir = cache_home.join("etcd-inventory-wasm");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 1, "one compiled component, no temporary left: {files:?}");
    let meta = std::fs::metadata(&files[0]).expect("the cache file");
    (files[0].clone(), (meta.ino(), meta.mtime(), meta.mtime_nsec()))
}

/// Whether loading the component compiled it (`Host.compiled`), with the cache under `home`.
fn compiled(home: &Path) -> Run {
    run(&mut python_code(
        home,
        "from etcd_inventory_wasm import Host\nprint(Host(warn=print).compiled)",
    ))
}

#[test]
fn the_second_run_loads_the_compiled_component_from_the_cache() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let home = tempfile::tempdir().expect("temp dir");
    let env = [("ETCDCTL_ENDPOINTS", etcd.endpoint.as_str())];
    let first = python_script(home.path(), &env, &["--list"]);
    assert_eq!((first.code, first.stderr.as_str()), (Some(0), ""), "{first:#?}");
    let (path, written) = cache_file(home.path());
    let dir_mode = std::fs::metadata(path.parent().expect("dir"))
        .expect("dir")
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700, "the cache directory is the user's alone");
    let file_mode = std::fs::metadata(&path).expect("file").permissions().mode();
    assert_eq!(file_mode & 0o777, 0o600, "the cache file is the user's alone");
    let name = path.file_name().expect("name").to_string_lossy().into_owned();
    assert!(name.contains("-wasmtime-50.0.1"), "keyed by wasmtime's version: {name}");

    let second = python_script(home.path(), &env, &["--list"]);
    assert_eq!(
        (second.code, second.stdout.as_str()),
        (Some(0), first.stdout.as_str()),
        "{second:#?}"
    );
    assert_eq!(cache_file(home.path()).1, written, "a hit leaves the file as it is");
    // The loader says where the code came from: the file, not the compiler.
    let loaded = compiled(home.path());
    assert_eq!(loaded.stdout, "False\n", "{loaded:#?}");
    let fresh = tempfile::tempdir().expect("temp dir");
    assert_eq!(compiled(fresh.path()).stdout, "True\n", "an empty cache compiles");
    assert_eq!(compiled(fresh.path()).stdout, "False\n", "and then loads");
}

#[test]
fn a_damaged_or_unsafe_cache_is_ignored_with_a_warning() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let home = tempfile::tempdir().expect("temp dir");
    let env = [("ETCDCTL_ENDPOINTS", etcd.endpoint.as_str())];
    let good = python_script(home.path(), &env, &["--list"]);
    assert_eq!(good.code, Some(0), "{good:#?}");
    let (path, written) = cache_file(home.path());

    // One flipped byte in the compiled code.
    let mut bytes = std::fs::read(&path).expect("cache file");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&path, &bytes).expect("damage the cache file");
    let damaged = python_script(home.path(), &env, &["--list"]);
    assert_eq!(
        (damaged.code, damaged.stdout.as_str()),
        (Some(0), good.stdout.as_str()),
        "{damaged:#?}"
    );
    let warning = format!(
        "etcd-inventory: warning: ignored the compiled component cache file {}: its checksum does not match (a \
         damaged file); compiling again\n",
        path.display()
    );
    assert_eq!(damaged.stderr, warning, "{damaged:#?}");
    let (_, rewritten) = cache_file(home.path());
    assert_ne!(rewritten, written, "the damaged file is replaced");
    assert_eq!(
        python_script(home.path(), &env, &["--list"]).stderr,
        "",
        "and the new one is good"
    );

    // Another program's file under the same name, and a file others may read.
    std::fs::write(&path, b"not a compiled component\n").expect("a foreign file");
    let foreign = python_script(home.path(), &env, &["--list"]);
    assert_eq!(foreign.code, Some(0), "{foreign:#?}");
    assert!(
        foreign.stderr.contains("written for another wasmtime or component"),
        "{foreign:#?}"
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let open = python_script(home.path(), &env, &["--list"]);
    assert!(
        open.stderr.contains("group or others may use it (mode 0644)"),
        "{open:#?}"
    );
    assert_eq!(
        std::fs::metadata(&path).expect("file").permissions().mode() & 0o777,
        0o600,
        "rewritten 0600"
    );

    // A cache directory others may write: nothing is read from it or written to it.
    let dir = path.parent().expect("the cache directory");
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let (_, before) = cache_file(home.path());
    let unsafe_dir = python_script(home.path(), &env, &["--list"]);
    assert_eq!(
        (unsafe_dir.code, unsafe_dir.stdout.as_str()),
        (Some(0), good.stdout.as_str())
    );
    assert!(
        unsafe_dir
            .stderr
            .contains("not caching the compiled component: the directory")
            && unsafe_dir.stderr.contains("is writable by group or others (mode 0777)"),
        "{unsafe_dir:#?}"
    );
    assert_eq!(cache_file(home.path()).1, before, "left alone");
}

#[test]
fn the_limits_trip_with_their_one_line_messages() {
    let etcd = Etcd::start();
    etcd.load("/ansible", &generated(5000));
    let endpoint = ("ETCDCTL_ENDPOINTS", etcd.endpoint.as_str());
    let cache = shared_cache_home();
    let fits = python_script(cache, &[endpoint, ("ETCD_INVENTORY_MEMORY_LIMIT", "256")], &["--list"]);
    assert_eq!(fits.code, Some(0), "{fits:#?}");
    let memory = "memory_limit (ETCD_INVENTORY_MEMORY_LIMIT, or memory_limit in etcd.ini)";
    // Below what 5,000 hosts need, and below the component's initial memory.
    python_script(cache, &[endpoint, ("ETCD_INVENTORY_MEMORY_LIMIT", "4")], &["--list"]).failure(&[
        "the component needed more memory than its limit of 4 MiB: raise it with",
        memory,
    ]);
    python_script(cache, &[endpoint, ("ETCD_INVENTORY_MEMORY_LIMIT", "1")], &["--list"])
        .failure(&["memory than its limit of 1 MiB", memory]);
    // etcd.ini sets it too.
    let dir = tempfile::tempdir().expect("temp dir");
    let ini = dir.path().join("etcd.ini");
    std::fs::write(&ini, "[etcd]\nmemory_limit = 4\n").expect("write etcd.ini");
    let ini_path = ("ETCD_INI_PATH", ini.to_str().expect("utf-8"));
    python_script(cache, &[endpoint, ini_path], &["--list"]).failure(&["limit of 4 MiB"]);

    let time = "time_limit (ETCD_INVENTORY_TIME_LIMIT, or time_limit in etcd.ini)";
    // Busy wasm: far less time than 55,000 variables take to build.
    python_script(cache, &[endpoint, ("ETCD_INVENTORY_TIME_LIMIT", "5ms")], &["--list"]).failure(&[
        "the component did not finish within its time limit of 5 ms: raise it with",
        time,
    ]);
    // A wait on etcd that the request timeout would allow.
    let stalled = StallingServer::start();
    let started = Instant::now();
    python_script(
        cache,
        &[
            ("ETCDCTL_ENDPOINTS", &stalled.endpoint),
            ("ETCDCTL_COMMAND_TIMEOUT", "3s"),
            ("ETCD_INVENTORY_TIME_LIMIT", "1s"),
        ],
        &["--list"],
    )
    .failure(&["did not finish within its time limit of 1 s", time]);
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    // A bad limit is the component's refusal, naming its source.
    python_script(cache, &[endpoint, ("ETCD_INVENTORY_MEMORY_LIMIT", "5000")], &["--list"])
        .failure(&["ETCD_INVENTORY_MEMORY_LIMIT", "at most 4096"]);
}

#[test]
fn python_script_reports_errors_on_one_stderr_line() {
    let cache = shared_cache_home();
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let down = ("ETCDCTL_ENDPOINTS", endpoint.as_str());
    python_script(cache, &[down], &["--list"])
        .failure(&[&format!("cannot reach etcd at {endpoint}: connection refused")]);
    python_script(cache, &[("ETCD_INVENTORY_PAGE_SIZE", "0")], &["--list"])
        .failure(&["invalid value \"0\" from environment variable ETCD_INVENTORY_PAGE_SIZE"]);
    python_script(cache, &[("ETCDCTL_CACERT", "/ca.pem")], &["--list"]).failure(&["use the etcd-inventory binary"]);
    python_script(cache, &[("ETCD_INVENTORY_TRANSPORT", "grpc")], &["--list"]).failure(&[
        "transport grpc is set (from environment variable ETCD_INVENTORY_TRANSPORT)",
        "set transport to gateway or leave it unset",
    ]);
    let dir = tempfile::tempdir().expect("temp dir");
    let ini = dir.path().join("etcd.ini");
    std::fs::write(&ini, "[etcd]\ntransport = grpc\n").expect("write etcd.ini");
    python_script(cache, &[("ETCD_INI_PATH", ini.to_str().expect("utf-8"))], &["--list"])
        .failure(&["transport grpc is set (from etcd.ini at"]);
    python_script(cache, &[("ETCD_INI_PATH", "/nonexistent/etcd.ini")], &["--list"])
        .failure(&["cannot read etcd.ini at /nonexistent/etcd.ini (named by ETCD_INI_PATH)"]);
    // A command line the component does not take: exit 2, as the binary's.
    for args in [&["--list", "--bogus"][..], &["--graph"], &[]] {
        let usage = python_script(cache, &[], args);
        assert_eq!(
            (usage.code, usage.stdout.as_str()),
            (Some(2), ""),
            "{args:?}: {usage:#?}"
        );
        assert_eq!(usage.stderr.lines().count(), 1, "{usage:#?}");
        assert!(
            usage
                .stderr
                .starts_with("etcd-inventory: usage: etcd-inventory-wasm --list"),
            "{usage:#?}"
        );
    }
}

#[test]
fn python_script_reads_an_absolute_password_file_as_the_binary_does() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    etcd.enable_auth("root-Secret-1");
    etcd.add_reader("alice", "alice-Secret-2", "/ansible/");
    let dir = tempfile::tempdir().expect("temp dir");
    let password = dir.path().join("password");
    std::fs::write(&password, "alice-Secret-2\n").expect("password file");
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let env = [("ETCDCTL_ENDPOINTS", etcd.endpoint.as_str())];
    let args = [
        "--list",
        "--user",
        "alice",
        "--password-file",
        password.to_str().expect("utf-8"),
    ];
    let python = python_script(shared_cache_home(), &env, &args);
    assert_eq!(python.code, Some(0), "{python:#?}");
    assert_eq!(python.stdout, binary_gateway(&env, &args).stdout);
    // The component sees the filesystem from "/" (its working directory): a relative path is
    // one clear error naming the file (the plugin's path options are absolute).
    let relative = run(script(shared_cache_home())
        .envs(env)
        .args(["--list", "--user", "alice", "--password-file", "password"])
        .current_dir(dir.path()));
    relative.failure(&["cannot read the password file password (--password-file)"]);
    let wrong = [
        ("ETCDCTL_ENDPOINTS", etcd.endpoint.as_str()),
        ("ETCDCTL_USER", "alice:wrong"),
    ];
    let line =
        python_script(shared_cache_home(), &wrong, &["--list"]).failure(&["refused the password of user \"alice\""]);
    assert!(!line.contains("wrong"), "the password stays out of the error: {line}");
}

#[test]
fn the_python_package_s_version_is_the_workspace_s() {
    let pyproject = std::fs::read_to_string(repo_root().join("embed/python/pyproject.toml")).expect("pyproject.toml");
    let version = pyproject
        .lines()
        .find_map(|l| l.strip_prefix("version = "))
        .expect("the project's version");
    assert_eq!(version, format!("\"{}\"", env!("CARGO_PKG_VERSION")));
}

#[cfg(feature = "ansible")]
mod plugin {
    //! The plugin's `backend: wasm`, in each ansible-core's own Python.

    use std::path::{Path, PathBuf};

    use serde_json::{Value, json};

    use crate::support::collection::collection_command;
    use crate::support::python::site;
    use crate::support::{Etcd, Run, SAMPLE_KV, ansible_json, ansible_program, binary, generated, run, sorted};

    /// `name` in `dir`: the plugin, this etcd, `backend` and `extra` YAML lines (the prefix
    /// is the default, /ansible, unless `extra` sets it).
    fn source(dir: &Path, name: &str, etcd: &Etcd, backend: &str, extra: &str) -> PathBuf {
        let path = dir.join(name);
        let text = format!(
            "plugin: etcd_inventory.etcd.etcd\nendpoints: {}\n{backend}{extra}",
            etcd.endpoint
        );
        std::fs::write(&path, text).expect("write the source");
        path
    }

    /// `ansible-inventory -i SOURCE --list` with the package on PYTHONPATH and `env`.
    fn inventory(source: &Path, etcd: &Etcd, env: &[(&str, &str)]) -> Run {
        let (mut command, _home) = collection_command("ansible-inventory", source, etcd);
        command
            .arg("--list")
            .env("PYTHONPATH", site())
            .envs(env.iter().copied());
        let ran = run(&mut command);
        assert!(
            !ran.stderr.contains("Traceback"),
            "nothing left to Python's exit: {ran:#?}"
        );
        ran
    }

    fn listed(source: &Path, etcd: &Etcd, env: &[(&str, &str)]) -> Value {
        let ran = inventory(source, etcd, env);
        assert_eq!(ran.code, Some(0), "ansible-inventory -i {}: {ran:#?}", source.display());
        serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("no JSON ({e}): {ran:#?}"))
    }

    /// The source failed with every needle in Ansible's message (2.16-2.18 wrap it at 80
    /// columns: compared with lines joined), and nothing else went wrong.
    fn assert_failed_source(ran: &Run, needles: &[&str]) {
        assert_ne!(ran.code, Some(0), "{ran:#?}");
        assert_eq!(ran.stdout, "", "{ran:#?}");
        let joined = ran.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
        for needle in needles {
            assert!(joined.contains(needle), "stderr should mention {needle:?}: {ran:#?}");
        }
        assert!(!ran.stderr.contains("Traceback"), "{ran:#?}");
    }

    #[test]
    fn the_plugin_gives_ansible_the_same_inventory_with_both_backends() {
        let etcd = Etcd::start();
        etcd.load("/ansible", SAMPLE_KV);
        etcd.load("/generated", &generated(3000));
        etcd.put(&[
            ("/ansible/hostvars/web02/motd", "{{ 7*6 }}"),
            (
                "/ansible/hostvars/web02/limits",
                r#"{"files": 4096, "names": ["a", "b"]}"#,
            ),
            ("/ansible/hostvars/db01/nginx/worker/count", "4"),
            ("/ansible/groupvars/web/enabled", "true"),
        ]);
        let dir = tempfile::tempdir().expect("temp dir");
        for extra in [
            "",
            "trust_templates: true\n",
            "typed_values: true\nnested_keys: true\n",
            "prefix: /generated\n",
        ] {
            let wasm = listed(
                &source(dir.path(), "wasm.etcd.yml", &etcd, "backend: wasm\n", extra),
                &etcd,
                &[],
            );
            let binary = listed(
                &source(dir.path(), "binary.etcd.yml", &etcd, "backend: binary\n", extra),
                &etcd,
                &[],
            );
            assert_eq!(wasm, binary, "{extra:?}: the same inventory");
            for (group, body) in binary.as_object().expect("an object") {
                for list in ["hosts", "children"] {
                    assert_eq!(
                        wasm[group][list].to_string(),
                        body[list].to_string(),
                        "{extra:?}: {group}.{list} in order"
                    );
                }
            }
        }
        // The environment variable picks the backend too.
        let plain = source(dir.path(), "env.etcd.yml", &etcd, "", "");
        let through_env = listed(
            &plain,
            &etcd,
            &[("ETCD_INVENTORY_BACKEND", "wasm"), ("PATH", "/usr/bin:/bin")],
        );
        assert_eq!(through_env["web"]["hosts"], json!(["web01", "web02"]));
    }

    #[test]
    fn backend_wasm_lists_the_sample_without_any_binary() {
        let etcd = Etcd::start();
        etcd.load("/ansible", SAMPLE_KV);
        let python = ansible_program("ansible-inventory");
        let venv_bin = python.parent().expect("the venv's bin");
        assert!(
            !venv_bin.join("etcd-inventory").exists(),
            "this test needs an Ansible venv without the binary: {}",
            venv_bin.display()
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let no_binary = [("PATH", "/usr/bin:/bin")];
        let expected = sorted(ansible_json(Path::new(binary()), &etcd, &["--list"], &[]));
        for backend in ["backend: wasm\n", "backend: auto\n", ""] {
            let source = source(dir.path(), "inventory.etcd.yml", &etcd, backend, "");
            let ran = inventory(&source, &etcd, &no_binary);
            assert_eq!(ran.code, Some(0), "{backend:?}: {ran:#?}");
            let listed: Value = serde_json::from_str(&ran.stdout).expect("JSON");
            assert_eq!(sorted(listed), expected, "{backend:?}");
        }
        // backend: binary still wants the binary.
        let source = source(dir.path(), "inventory.etcd.yml", &etcd, "backend: binary\n", "");
        assert_failed_source(
            &inventory(&source, &etcd, &no_binary),
            &["etcd-inventory was not found on PATH"],
        );
    }

    #[test]
    fn backend_wasm_refuses_tls_files_and_grpc_with_one_line_naming_the_setting() {
        let etcd = Etcd::start();
        etcd.load("/ansible", SAMPLE_KV);
        let dir = tempfile::tempdir().expect("temp dir");
        for (extra, needles) in [
            (
                "cacert: /etc/ssl/ca.pem\n",
                &[
                    "etcd-inventory failed",
                    "ETCDCTL_CACERT",
                    "use the etcd-inventory binary",
                ][..],
            ),
            (
                "cert: /c.pem\nkey: /k.pem\n",
                &["etcd-inventory failed", "--cacert/--cert/--key"],
            ),
            (
                "transport: grpc\n",
                &[
                    "etcd-inventory failed: transport grpc is set",
                    "ETCD_INVENTORY_TRANSPORT",
                ],
            ),
        ] {
            let source = source(dir.path(), "inventory.etcd.yml", &etcd, "backend: wasm\n", extra);
            assert_failed_source(&inventory(&source, &etcd, &[]), needles);
        }
        let gateway = source(
            dir.path(),
            "inventory.etcd.yml",
            &etcd,
            "backend: wasm\n",
            "transport: gateway\n",
        );
        assert_eq!(listed(&gateway, &etcd, &[])["web"]["hosts"], json!(["web01", "web02"]));
    }

    #[test]
    fn backend_wasm_warns_through_ansible_and_bounds_the_component() {
        let etcd = Etcd::start();
        etcd.load("/ansible", SAMPLE_KV);
        etcd.put(&[("/ansible/stray", "a key that fits no kind")]);
        etcd.load("/generated", &generated(5000));
        let dir = tempfile::tempdir().expect("temp dir");
        let source_with = |extra: &str| source(dir.path(), "inventory.etcd.yml", &etcd, "backend: wasm\n", extra);
        let ran = inventory(&source_with(""), &etcd, &[]);
        assert_eq!(ran.code, Some(0), "{ran:#?}");
        assert!(
            ran.stderr.contains("[WARNING]: etcd-inventory: skipped 1 key(s)"),
            "{ran:#?}"
        );
        assert!(!ran.stderr.contains("ERROR"), "{ran:#?}");
        let ran = inventory(&source_with("prefix: /generated\nmemory_limit: 4\n"), &etcd, &[]);
        assert_failed_source(
            &ran,
            &["etcd-inventory failed: the component needed more memory than its limit of 4 MiB"],
        );
        let ran = inventory(&source_with("prefix: /generated\ntime_limit: 5ms\n"), &etcd, &[]);
        assert_failed_source(
            &ran,
            &["etcd-inventory failed: the component did not finish within its time limit of 5 ms"],
        );
    }

    #[test]
    fn backend_wasm_without_the_package_is_one_clear_error() {
        let etcd = Etcd::start();
        let dir = tempfile::tempdir().expect("temp dir");
        let source = source(dir.path(), "inventory.etcd.yml", &etcd, "backend: wasm\n", "");
        let (mut command, _home) = collection_command("ansible-inventory", &source, &etcd);
        let ran = run(command.arg("--list"));
        assert_failed_source(&ran, &["backend wasm needs the Python package etcd-inventory-wasm"]);
    }
}
