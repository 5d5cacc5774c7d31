//! The released artifacts as a user gets them (cargo feature `wheel`): the wheel installed by
//! pip into a fresh venv, the collection installed from its tarball by `ansible-galaxy
//! collection install`, and the execution environment's build context. scripts/test.sh builds
//! them (scripts/lib.sh's `build_dist`, `make_wheel_venv`) and names them here:
//! `$ETCD_INVENTORY_DIST` (the wheel and the collection's tarball) and
//! `$ETCD_INVENTORY_WHEEL_VENV` (a venv holding the wheel and ansible-core, made with no Rust
//! toolchain on `PATH`). Every program these tests run is found on a `PATH` of that venv's
//! `bin` and the system's directories, without cargo or rustc, as on a user's machine.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{Etcd, Run, SAMPLE_KV, binary, clean_command, host_names, inventory, repo_root, run};

const DIST: &str = "ETCD_INVENTORY_DIST";
const WHEEL_VENV: &str = "ETCD_INVENTORY_WHEEL_VENV";
/// ansible-builder: `$ANSIBLE_BUILDER_BIN`, else the repository's .venv-release.
const ANSIBLE_BUILDER: &str = "ANSIBLE_BUILDER_BIN";
const HOW: &str = "scripts/test.sh sets it; by hand: `scripts/dist.sh`, then `source scripts/lib.sh && \
                   make_wheel_venv .venv-wheel`, then ETCD_INVENTORY_DIST=dist ETCD_INVENTORY_WHEEL_VENV=.venv-wheel";

/// A directory named by the environment variable `var`, which must be set (a relative path
/// is taken from the repository's root).
fn dir_from(var: &str) -> PathBuf {
    let dir = std::env::var_os(var)
        .map(|path| repo_root().join(path))
        .unwrap_or_else(|| panic!("${var} is unset: the tests of cargo feature `wheel` need it ({HOW})"));
    assert!(dir.is_dir(), "${var} ({}) is no directory ({HOW})", dir.display());
    dir.canonicalize().expect("a directory's canonical path")
}

/// The one file of `$ETCD_INVENTORY_DIST` whose name starts with `prefix` and ends with
/// `suffix`.
fn dist_file(prefix: &str, suffix: &str) -> PathBuf {
    let dist = dir_from(DIST);
    let found: Vec<PathBuf> = std::fs::read_dir(&dist)
        .expect("the dist directory")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.starts_with(prefix) && name.ends_with(suffix)
        })
        .collect();
    match found.as_slice() {
        [one] => one.clone(),
        _ => panic!(
            "expected one {prefix}*{suffix} in {}, found {found:?} ({HOW})",
            dist.display()
        ),
    }
}

fn wheel() -> PathBuf {
    dist_file("etcd_inventory-", ".whl")
}

fn collection_tarball() -> PathBuf {
    dist_file("etcd_inventory-etcd-", ".tar.gz")
}

/// A user of the README's install lines: the wheel's venv, a home of their own (where
/// `ansible-galaxy collection install` puts the collection) and a `PATH` without Rust.
struct User {
    venv: PathBuf,
    home: tempfile::TempDir,
    path: OsString,
}

impl User {
    fn new() -> User {
        let venv = dir_from(WHEEL_VENV);
        let bin = venv.join("bin");
        for program in [
            "etcd-inventory",
            "ansible-galaxy",
            "ansible-inventory",
            "ansible-playbook",
        ] {
            assert!(bin.join(program).is_file(), "no {program} in {} ({HOW})", bin.display());
        }
        let rest = std::env::var_os("PATH").unwrap_or_default();
        let system = std::env::split_paths(&rest)
            .filter(|dir| !["cargo", "rustc", "rustup"].iter().any(|tool| dir.join(tool).exists()));
        let path = std::env::join_paths(std::iter::once(bin).chain(system)).expect("a PATH");
        let user = User {
            venv,
            home: tempfile::tempdir().expect("temp home"),
            path,
        };
        let cargo = user.sh("command -v cargo rustc");
        assert_eq!(cargo.stdout, "", "a Rust toolchain is on the user's PATH: {cargo:#?}");
        user
    }

    /// `program` found on the user's `PATH`, with the user's home and nothing of the
    /// developer's settings, Ansible configuration or cargo's environment.
    fn command(&self, program: &str) -> Command {
        let mut command = clean_command(program);
        for (name, _) in std::env::vars_os() {
            let name_text = name.to_string_lossy();
            if ["CARGO", "RUST", "ANSIBLE_"].iter().any(|p| name_text.starts_with(p)) {
                command.env_remove(&name);
            }
        }
        command
            .env("PATH", &self.path)
            .env("HOME", self.home.path())
            .env("ANSIBLE_LOCAL_TEMP", self.home.path().join("tmp"))
            .env("ANSIBLE_NOCOLOR", "1")
            // By default Ansible only warns about an inventory it cannot read, and goes on.
            .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "true")
            .env("ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED", "true")
            .current_dir(self.home.path());
        command
    }

    fn sh(&self, script: &str) -> Run {
        run(self.command("sh").args(["-c", script]))
    }

    /// The README's `ansible-galaxy collection install` line, into the user's home.
    fn install_collection(&self) {
        let ran = run(self
            .command("ansible-galaxy")
            .args(["collection", "install"])
            .arg(collection_tarball()));
        assert_eq!(ran.code, Some(0), "ansible-galaxy collection install: {ran:#?}");
    }

    /// The README's three-line `inventory.etcd.yml`, pointing at `etcd`.
    fn plugin_inventory(&self, etcd: &Etcd) -> PathBuf {
        let file = self.home.path().join("inventory.etcd.yml");
        let text = format!(
            "plugin: etcd_inventory.etcd.etcd\nendpoints: {}\nprefix: /ansible\n",
            etcd.endpoint
        );
        std::fs::write(&file, text).expect("write inventory.etcd.yml");
        file
    }

    /// A playbook printing each host's variables from the sample, on the hosts of `web`.
    fn playbook(&self) -> PathBuf {
        let file = self.home.path().join("site.yml");
        std::fs::write(
            &file,
            "- hosts: web\n  gather_facts: false\n  connection: local\n  tasks:\n    - debug:\n        msg: \"ran on {{ inventory_hostname }} port={{ http_port }} env={{ env }} ntp={{ ntp_server }}\"\n",
        )
        .expect("write the playbook");
        file
    }

    /// The `etcd-inventory` the user's `PATH` finds.
    fn script(&self) -> PathBuf {
        self.venv.join("bin/etcd-inventory")
    }
}

/// Asserts `ansible-playbook` ran [`User::playbook`] on web01 and web02 (with the sample's
/// variables) and on no other host.
fn assert_ran_on_web(ran: &Run) {
    assert_eq!(ran.code, Some(0), "{ran:#?}");
    for host in ["web01", "web02"] {
        let line = format!("ran on {host} port=8080 env=production ntp=ntp.example.com");
        assert!(ran.stdout.contains(&line), "expected {line:?} in {ran:#?}");
    }
    assert_eq!(
        ran.stdout.matches("ran on ").count(),
        2,
        "only the hosts of web: {ran:#?}"
    );
    assert!(ran.stdout.contains("ok=1"), "{ran:#?}");
}

#[test]
fn the_wheel_is_named_for_the_workspace_version_and_glibc_2_17() {
    let name = wheel().file_name().expect("a file name").to_string_lossy().into_owned();
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        name,
        format!("etcd_inventory-{version}-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl")
    );
}

#[test]
fn the_wheel_puts_the_binary_on_path_and_it_lists_what_the_built_binary_lists() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let user = User::new();
    let found = user.sh("command -v etcd-inventory");
    assert_eq!(found.stdout.trim_end(), user.script().to_string_lossy(), "{found:#?}");

    let version = run(user.command("etcd-inventory").arg("--version"));
    assert_eq!(
        version.stdout.trim_end(),
        format!("etcd-inventory {}", env!("CARGO_PKG_VERSION")),
        "{version:#?}"
    );
    let listed = run(user
        .command("etcd-inventory")
        .arg("--list")
        .env("ETCDCTL_ENDPOINTS", &etcd.endpoint));
    assert_eq!(listed.code, Some(0), "{listed:#?}");
    assert_eq!(host_names(&listed.json()), ["bastion", "db01", "web01", "web02"]);
    // The same program: byte for byte what this build's binary prints.
    let ours = inventory(&etcd, &["--list"]);
    assert_eq!(listed.stdout, ours.stdout, "the wheel's binary and {} differ", binary());
}

/// The x86-64 CPU features the precompiled components in `binary` were compiled for, each
/// with whether it is on: wasmtime writes its compiler settings into each precompiled
/// artifact (the `.wasmtime.engine` section), every flag as its length, its name and a
/// tagged bool (`2`, then `0` or `1`).
fn precompiled_cpu_features(binary: &[u8]) -> Vec<(String, bool)> {
    let mut found = Vec::new();
    for (at, _) in binary.windows(4).enumerate().filter(|(_, w)| *w == b"has_") {
        let name_len = binary[at..]
            .iter()
            .position(|b| !(b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_'))
            .unwrap_or(0);
        let (before, after) = (at.wrapping_sub(1), at + name_len);
        if at == 0 || usize::from(binary[before]) != name_len || binary.get(after) != Some(&2) {
            continue; // a name elsewhere in the binary, not a flag of an engine section
        }
        let on = match binary.get(after + 1) {
            Some(0) => false,
            Some(1) => true,
            _ => continue,
        };
        found.push((String::from_utf8_lossy(&binary[at..after]).into_owned(), on));
    }
    found
}

#[test]
fn the_wheels_precompiled_code_needs_no_cpu_feature_beyond_baseline_x86_64() {
    // wasmtime refuses to load precompiled code that uses a feature the CPU lacks: code
    // compiled for the build machine's CPU would fail on older machines.
    let user = User::new();
    let bytes = std::fs::read(user.script()).expect("the wheel's binary");
    let features = precompiled_cpu_features(&bytes);
    // Two precompiled components (the core, the composed file), each naming every flag.
    assert!(
        features.iter().filter(|(name, _)| name == "has_avx2").count() >= 2,
        "no engine settings found in the binary (has wasmtime's format changed?): {features:?}"
    );
    let on: Vec<&String> = features.iter().filter(|(_, on)| *on).map(|(name, _)| name).collect();
    assert!(
        on.is_empty(),
        "precompiled for CPU features {on:?}: build.rs must set a target without them"
    );
}

#[test]
fn ansible_playbook_runs_with_the_wheels_binary_as_inventory_script() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let user = User::new();
    let ran = run(user
        .command("ansible-playbook")
        .arg("-i")
        .arg(user.script())
        .arg(user.playbook())
        .env("ETCDCTL_ENDPOINTS", &etcd.endpoint));
    assert_ran_on_web(&ran);
}

#[test]
fn the_installed_collections_plugin_lists_what_the_script_lists() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let user = User::new();
    user.install_collection();
    // The script reads etcd's address from the environment, the plugin from its file.
    let list = |source: &Path, env: &[(&str, &str)]| -> Value {
        let ran = run(user
            .command("ansible-inventory")
            .arg("-i")
            .arg(source)
            .arg("--list")
            .envs(env.iter().copied()));
        assert_eq!(ran.code, Some(0), "ansible-inventory -i {}: {ran:#?}", source.display());
        serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {ran:#?}"))
    };
    let through_plugin = list(&user.plugin_inventory(&etcd), &[]);
    let through_script = list(&user.script(), &[("ETCDCTL_ENDPOINTS", &etcd.endpoint)]);
    assert_eq!(host_names(&through_plugin), ["bastion", "db01", "web01", "web02"]);
    assert_eq!(through_plugin, through_script);
}

#[test]
fn ansible_playbook_runs_through_the_installed_collections_plugin() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let user = User::new();
    user.install_collection();
    // No ETCDCTL_ENDPOINTS: the inventory file says where etcd is.
    let ran = run(user
        .command("ansible-playbook")
        .arg("-i")
        .arg(user.plugin_inventory(&etcd))
        .arg(user.playbook()));
    assert_ran_on_web(&ran);
}

/// The value of `ARG name="value"` in a Containerfile.
fn build_arg<'a>(containerfile: &'a str, name: &str) -> &'a str {
    let start = format!("ARG {name}=\"");
    containerfile
        .lines()
        .find_map(|line| line.strip_prefix(&start)?.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no ARG {name} in the Containerfile:\n{containerfile}"))
}

/// The ansible-core version scripts/lib.sh pins (`ANSIBLE_CORE_VERSION=...`): the one the
/// tests run, and the one the execution environment must hold.
fn pinned_ansible_core() -> String {
    let lib = std::fs::read_to_string(repo_root().join("scripts/lib.sh")).expect("scripts/lib.sh");
    lib.lines()
        .find_map(|line| line.strip_prefix("ANSIBLE_CORE_VERSION="))
        .expect("ANSIBLE_CORE_VERSION= in scripts/lib.sh")
        .to_string()
}

/// The files a shell glob of the form `PREFIX*SUFFIX` (one `*`) matches among `names`.
fn glob_matches<'a>(pattern: &str, names: &'a [String]) -> Vec<&'a String> {
    let (prefix, suffix) = pattern.split_once('*').expect("a glob with one *");
    names
        .iter()
        .filter(|n| n.len() >= prefix.len() + suffix.len() && n.starts_with(prefix) && n.ends_with(suffix))
        .collect()
}

#[test]
fn ansible_builder_create_writes_a_context_installing_the_wheel_and_the_collection() {
    let builder = std::env::var_os(ANSIBLE_BUILDER)
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv-release/bin/ansible-builder"));
    assert!(
        builder.is_file(),
        "ansible-builder not found at {} (${ANSIBLE_BUILDER}, else .venv-release/bin; scripts/test.sh installs it)",
        builder.display()
    );
    // The definition beside a `dist` of this test's artifacts: its paths are relative to it.
    let work = tempfile::tempdir().expect("temp dir");
    let definition = work.path().join("execution-environment.yml");
    std::fs::copy(repo_root().join("execution-environment.yml"), &definition).expect("copy the definition");
    std::os::unix::fs::symlink(dir_from(DIST), work.path().join("dist")).expect("link dist");
    let context = work.path().join("context");
    let ran = run(Command::new(&builder)
        .args(["create", "--file"])
        .arg(&definition)
        .arg("--context")
        .arg(&context)
        // Else Dockerfile where podman is missing.
        .args(["--output-filename", "Containerfile"])
        .current_dir(work.path()));
    assert_eq!(ran.code, Some(0), "ansible-builder create: {ran:#?}");
    assert!(
        !ran.stderr.contains("No matches"),
        "a build file was not found: {ran:#?}"
    );

    // The wheel and the collection, byte for byte, in the context.
    let copied = context.join("_build/dist");
    let mut names: Vec<String> = std::fs::read_dir(&copied)
        .unwrap_or_else(|e| panic!("no {} ({e}): {ran:#?}", copied.display()))
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    for artifact in [wheel(), collection_tarball()] {
        let name = artifact.file_name().expect("a file name");
        let in_context = std::fs::read(copied.join(name))
            .unwrap_or_else(|e| panic!("{name:?} is not in the context ({e}): {names:?}"));
        assert!(
            in_context == std::fs::read(&artifact).expect("the artifact"),
            "{name:?} differs in the context"
        );
    }
    assert_eq!(names.len(), 2, "only the wheel and the collection: {names:?}");

    let containerfile = std::fs::read_to_string(context.join("Containerfile")).expect("the Containerfile");
    assert_eq!(
        build_arg(&containerfile, "EE_BASE_IMAGE"),
        "registry.access.redhat.com/ubi9/ubi:latest"
    );
    assert_eq!(build_arg(&containerfile, "PYCMD"), "/usr/bin/python3.11");
    assert_eq!(build_arg(&containerfile, "PYPKG"), "python3.11");
    let refs: Vec<&str> = build_arg(&containerfile, "ANSIBLE_INSTALL_REFS").split(' ').collect();
    assert_eq!(refs[0], format!("ansible-core=={}", pinned_ansible_core()), "{refs:?}");
    assert!(refs[1].starts_with("ansible-runner=="), "{refs:?}");

    // The final stage copies _build/dist in and installs, by glob, exactly the two files.
    let final_stage = containerfile
        .split_once("FROM base AS final")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("no final stage:\n{containerfile}"));
    let copy = "COPY _build/dist/ /tmp/etcd-inventory-dist/";
    assert!(
        final_stage.contains(copy),
        "no {copy:?} in the final stage:\n{final_stage}"
    );
    let install = final_stage
        .lines()
        .find(|line| line.starts_with("RUN ") && line.contains("/tmp/etcd-inventory-dist/"))
        .unwrap_or_else(|| {
            panic!("no RUN installing from /tmp/etcd-inventory-dist/ in the final stage:\n{final_stage}")
        });
    let globs: Vec<&str> = install
        .split_whitespace()
        .filter_map(|word| word.strip_prefix("/tmp/etcd-inventory-dist/"))
        .filter(|word| word.contains('*'))
        .collect();
    assert_eq!(globs.len(), 2, "two globs in {install:?}");
    let mut installed: Vec<&String> = globs
        .iter()
        .flat_map(|glob| {
            let matched = glob_matches(glob, &names);
            assert_eq!(matched.len(), 1, "{glob:?} must match one of {names:?}");
            matched
        })
        .collect();
    installed.sort();
    assert_eq!(installed, names.iter().collect::<Vec<_>>(), "{install:?}");
    assert!(
        install.contains("$PYCMD -m pip install --no-cache-dir /tmp/etcd-inventory-dist/etcd_inventory-*.whl"),
        "{install:?}"
    );
    assert!(install.contains("ansible-galaxy collection install --collections-path /usr/share/ansible/collections /tmp/etcd-inventory-dist/etcd_inventory-etcd-*.tar.gz"), "{install:?}");
}
