//! Shared test helpers: the etcd fixtures (plain, TLS, auth, cluster), a throwaway PKI,
//! running our binary, loopback fake servers (canned answers, never an answer) and locating
//! external tools (etcd, Ansible, wasmtime, Node), which scripts/test.sh installs: one setting
//! each for the etcd and the Ansible under test ([`etcd_bin`], [`ansible_program`]).
//!
//! etcd is needed by every integration test. The helpers for the other tools exist only with
//! their cargo feature of the host crate (`ansible`, `wasmtime-cli`, `node`), so a test that
//! needs one cannot compile without it; with the feature on, a missing tool is a failure
//! that says what to install, never a skip.

#[cfg(feature = "ansible")]
pub mod collection;
pub mod etcd;
pub mod http_stub;
pub mod mover;
pub mod pki;
pub mod proxy;
#[cfg(feature = "python")]
pub mod python;
pub mod stall;

use std::path::{Path, PathBuf};
use std::process::Command;

pub use etcd::Etcd;
use serde_json::Value;

/// The sample inventory, in the key layout.
pub const SAMPLE_KV: &str = include_str!("../../data/sample.kv");
/// A generated inventory of `hosts` hosts: names out of sorted order, each in one or two of
/// 20 groups under 4 parents, three variables each, group variables.
#[cfg(any(feature = "ansible", feature = "python"))]
pub fn generated(hosts: usize) -> String {
    let mut kv = String::new();
    for g in 0..20 {
        kv.push_str(&format!(
            "groups/parent{}/group{g}\ngroupvars/group{g}/tier=t{g}\n",
            g % 4
        ));
    }
    for i in 0..hosts {
        // A multiplicative walk over 0..hosts: hosts arrive in no sorted order.
        let n = (i * 7919) % hosts;
        let host = format!("host{n}.example.com");
        kv.push_str(&format!("hosts/group{}/{host}\n", n % 20));
        if n.is_multiple_of(3) && (n / 3) % 20 != n % 20 {
            kv.push_str(&format!("hosts/group{}/{host}\n", (n / 3) % 20));
        }
        kv.push_str(&format!(
            "hostvars/{host}/ansible_host=10.{}.{}.{}\nhostvars/{host}/rack=r{}\nhostvars/{host}/weight={}\n",
            n / 65536,
            (n / 256) % 256,
            n % 256,
            n % 7,
            n % 100
        ));
    }
    kv
}

/// Path of the same inventory as static YAML.
#[cfg(feature = "ansible")]
pub fn sample_yaml() -> PathBuf {
    repo_root().join("tests/data/sample.yml")
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// A string as the inventory emits it by default: marked so Ansible never templates it.
pub fn marked(text: &str) -> Value {
    serde_json::json!({ "__ansible_unsafe": text })
}

/// Path of our binary.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_etcd-inventory")
}

/// A command with the settings environment cleared: no variable of the developer's shell
/// leaks into a test.
pub fn clean_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    for var in etcd_inventory::settings::env_vars() {
        command.env_remove(var);
    }
    command
}

/// The hosts of a `--list` answer, sorted.
pub fn host_names(inventory: &Value) -> Vec<String> {
    let mut hosts: Vec<String> = inventory["_meta"]["hostvars"]
        .as_object()
        .expect("_meta.hostvars")
        .keys()
        .cloned()
        .collect();
    hosts.sort();
    hosts
}

/// The port of a `scheme://host:port` URL.
pub fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a URL with a port")
}

/// What a process did.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success and parses stdout as JSON.
    pub fn json(&self) -> Value {
        assert_eq!(self.code, Some(0), "expected success, got {self:#?}");
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }

    /// Asserts the error discipline: exit 1, nothing on stdout, one line on stderr
    /// containing every one of `needles`; returns that line.
    pub fn failure(&self, needles: &[&str]) -> String {
        assert_eq!(self.code, Some(1), "expected exit 1: {self:#?}");
        assert_eq!(self.stdout, "", "stdout must stay empty on error: {self:#?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one stderr line: {self:#?}");
        for needle in needles {
            assert!(lines[0].contains(needle), "stderr should mention {needle:?}: {self:#?}");
        }
        lines[0].to_string()
    }
}

pub fn run(command: &mut Command) -> Run {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs our binary against `etcd` with `args`.
pub fn inventory(etcd: &Etcd, args: &[&str]) -> Run {
    run(clean_command(binary())
        .env("ETCDCTL_ENDPOINTS", &etcd.endpoint)
        .args(args))
}

/// An external tool: `$VAR` if set, else the first on `PATH`. Panics when it is not there,
/// naming the tests that need it (`needed_by`) and how to get it.
pub fn tool(name: &str, var: &str, needed_by: &str) -> PathBuf {
    let found = match std::env::var_os(var) {
        Some(path) => Some(PathBuf::from(path)).filter(|p| p.is_file()),
        None => on_path(name),
    };
    found.unwrap_or_else(|| {
        let looked = match std::env::var_os(var) {
            Some(path) => format!("${var} ({}) is no file", Path::new(&path).display()),
            None => format!("not on PATH and ${var} unset"),
        };
        panic!("{name} not found: {looked}; {needed_by} need it (scripts/test.sh installs it)")
    })
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The one setting that picks the etcd every test runs: `ETCD_BIN`, else `etcd` on `PATH`
/// (Debian's 3.4). scripts/test.sh runs the tests again with etcd 3.5's.
pub fn etcd_bin() -> PathBuf {
    tool("etcd", "ETCD_BIN", "all integration tests")
}

/// The stock `wasmtime` CLI: `$WASMTIME_BIN`, else `wasmtime` on `PATH`.
#[cfg(feature = "wasmtime-cli")]
pub fn wasmtime_cli() -> PathBuf {
    tool("wasmtime", "WASMTIME_BIN", "the tests of cargo feature `wasmtime-cli`")
}

/// Node's program `name` (`node`, `npm`): `$var`, else `PATH`.
#[cfg(feature = "node")]
pub fn node_program(name: &str, var: &str) -> PathBuf {
    tool(name, var, "the tests of cargo feature `node`")
}

/// The one setting that picks the Ansible every test runs: the directory of its programs
/// (`ansible`, `ansible-inventory`, `ansible-playbook`, `ansible-vault`).
#[cfg(feature = "ansible")]
pub const ANSIBLE_BIN_DIR: &str = "ANSIBLE_BIN_DIR";
/// When set, a file where every test that runs an Ansible program adds its name (once per
/// run of a program, one line each): scripts/test.sh runs exactly those again under each
/// older ansible-core, so a new test that runs Ansible joins that matrix by itself.
#[cfg(feature = "ansible")]
pub const ANSIBLE_TESTS_FILE: &str = "ETCD_INVENTORY_ANSIBLE_TESTS";

/// Ansible's program `name`: from `$ANSIBLE_BIN_DIR` if set (scripts/test.sh points it at
/// each venv of its matrix), else the repository's .venv, else `PATH`.
#[cfg(feature = "ansible")]
pub fn ansible_program(name: &str) -> PathBuf {
    note_ansible_test();
    let found = match std::env::var_os(ANSIBLE_BIN_DIR) {
        Some(dir) => Some(Path::new(&dir).join(name)).filter(|p| p.is_file()),
        None => Some(repo_root().join(".venv/bin").join(name))
            .filter(|p| p.is_file())
            .or_else(|| on_path(name)),
    };
    found.unwrap_or_else(|| {
        let looked = match std::env::var_os(ANSIBLE_BIN_DIR) {
            Some(dir) => format!("not in ${ANSIBLE_BIN_DIR} ({})", Path::new(&dir).display()),
            None => format!("not in .venv/bin nor on PATH, and ${ANSIBLE_BIN_DIR} unset"),
        };
        panic!(
            "{name} not found: {looked}; the tests of cargo feature `ansible` need ansible-core \
             (scripts/test.sh installs it)"
        )
    })
}

/// Adds the running test's name to `$ETCD_INVENTORY_ANSIBLE_TESTS`.
#[cfg(feature = "ansible")]
fn note_ansible_test() {
    use std::io::Write as _;
    let Some(file) = std::env::var_os(ANSIBLE_TESTS_FILE) else {
        return;
    };
    // libtest runs each test on a thread named after it.
    let thread = std::thread::current();
    let name = thread
        .name()
        .filter(|n| *n != "main")
        .expect("Ansible runs on a test's own thread (its name is the test's)");
    // One short append per line: lines from concurrent tests do not interleave.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)
        .and_then(|mut f| f.write_all(format!("{name}\n").as_bytes()))
        .unwrap_or_else(|e| panic!("cannot note this test in {}: {e}", Path::new(&file).display()));
}

/// The Vault ciphertext of `plaintext` under the password in `password_file`, as
/// `ansible-vault encrypt_string` writes it (without its `!vault |` line and indentation).
#[cfg(feature = "ansible")]
pub fn vault_ciphertext(password_file: &Path, plaintext: &str) -> String {
    let home = tempfile::tempdir().expect("temp home");
    let encrypted = run(clean_command(ansible_program("ansible-vault"))
        .env("HOME", home.path())
        .args(["encrypt_string", "--vault-password-file"])
        .arg(password_file)
        .arg(plaintext));
    assert_eq!(encrypted.code, Some(0), "{encrypted:#?}");
    let lines: Vec<&str> = encrypted.stdout.lines().skip(1).map(str::trim).collect();
    let ciphertext = lines.join("\n");
    assert!(ciphertext.starts_with("$ANSIBLE_VAULT;"), "{encrypted:#?}");
    ciphertext
}

/// The (major, minor) version of the Ansible the tests run (`ansible --version` prints
/// `ansible [core 2.16.19]` first), read once. Tests branch on it where ansible-core
/// versions behave differently, saying which expects what.
#[cfg(feature = "ansible")]
pub fn ansible_version() -> (u32, u32) {
    static VERSION: std::sync::OnceLock<(u32, u32)> = std::sync::OnceLock::new();
    *VERSION.get_or_init(|| {
        let ran = run(clean_command(ansible_program("ansible")).arg("--version"));
        let first = ran.stdout.lines().next().unwrap_or_default();
        let version = first
            .split_once("[core ")
            .and_then(|(_, rest)| rest.split_once(']'))
            .map(|(v, _)| v)
            .unwrap_or_else(|| panic!("ansible --version printed no core version: {ran:#?}"));
        let mut parts = version.split('.').map(|p| p.parse::<u32>());
        match (parts.next(), parts.next()) {
            (Some(Ok(major)), Some(Ok(minor))) => (major, minor),
            _ => panic!("ansible --version: cannot read {version:?}"),
        }
    })
}

/// An Ansible command (`ansible-inventory`, `ansible-playbook`) reading `inventory`, with
/// its own home and unparsable inventories made fatal (by default Ansible only warns and
/// goes on with an empty inventory). The temporary home lives as long as the command.
#[cfg(feature = "ansible")]
pub fn ansible_command(program: &str, inventory: &Path, etcd: &Etcd) -> (std::process::Command, tempfile::TempDir) {
    let home = tempfile::tempdir().expect("temp home");
    let mut command = clean_command(ansible_program(program));
    command
        .arg("-i")
        .arg(inventory)
        .env("HOME", home.path())
        .env("ANSIBLE_LOCAL_TEMP", home.path().join("tmp"))
        .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "true")
        .env("ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED", "true")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ETCDCTL_ENDPOINTS", &etcd.endpoint);
    (command, home)
}

/// `ansible-inventory -i SOURCE ARGS` with `env`, parsed as JSON (it must succeed).
#[cfg(feature = "ansible")]
pub fn ansible_json(source: &Path, etcd: &Etcd, args: &[&str], env: &[(&str, &str)]) -> Value {
    let (mut command, _home) = ansible_command("ansible-inventory", source, etcd);
    command.args(args).envs(env.iter().copied());
    let run = run(&mut command);
    assert_eq!(
        run.code,
        Some(0),
        "ansible-inventory -i {} {args:?}: {run:#?}",
        source.display()
    );
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("ansible-inventory printed no JSON ({e}): {run:#?}"))
}

/// Sorts every list, for comparing what an inventory holds whatever its order (data
/// without positions reads sorted; the order itself is tested in `migration`).
pub fn sorted(value: Value) -> Value {
    match value {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.into_iter().map(sorted).collect();
            items.sort_by_key(|v| v.to_string());
            Value::Array(items)
        }
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, sorted(v))).collect()),
        other => other,
    }
}

/// Makes a spawned server die with the test process, even if the test aborts before Drop.
pub fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec here.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
