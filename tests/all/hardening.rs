//! What an attacker, or a careless operator, tries against the binary and a real etcd: a
//! cache planted where others could write, endpoints that answer with HTML, escape
//! sequences or the request itself, settings files that never end or never open, duplicate
//! etcd.ini keys, impossible ports. Each ends in one clean line (a warning, or the error),
//! quickly, and never with a secret in it.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::http_stub::HttpStub;
use crate::support::stall::StallingServer;
use crate::support::{Etcd, Run, SAMPLE_KV, binary, clean_command, inventory, run};

/// Far above what any of these runs needs, far below "blocked for good".
const WATCHDOG: Duration = Duration::from_secs(60);

/// Runs `command`, killing it (by PID) if it still runs after [`WATCHDOG`]: a read that
/// blocks fails the test instead of hanging it. Returns what it did and how long it took.
fn run_watched(command: &mut Command) -> (Run, Duration) {
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    // Bounded by the watchdog; the outputs here are far below a pipe's buffer.
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > WATCHDOG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after {WATCHDOG:?}, killed: {command:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = started.elapsed();
    let output = child.wait_with_output().expect("output");
    let run = Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    (run, took)
}

/// A FIFO at `path`, which nobody ever opens for writing.
fn mkfifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("a path");
    // SAFETY: a valid NUL-terminated path; mkfifo touches nothing else.
    assert_eq!(
        unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) },
        0,
        "mkfifo {}",
        path.display()
    );
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// An inventory that runs a command on the controller if Ansible templates it.
const FORGED: &str = r#"{"_meta":{"hostvars":{"web01":{"x":"{{ lookup('pipe', 'id') }}"}}},"all":{"children":["ungrouped"]},"ungrouped":{"hosts":["web01"]}}"#;

/// An etcd with the sample, a private cache directory, and its one cache file written.
struct Planted {
    etcd: Etcd,
    dir: tempfile::TempDir,
    file: PathBuf,
    /// What --list prints without a cache.
    fresh: String,
}

impl Planted {
    fn new() -> Planted {
        let etcd = Etcd::start();
        etcd.load("/ansible", SAMPLE_KV);
        let dir = tempfile::tempdir().expect("cache dir");
        let fresh = inventory(&etcd, &["--list"]).stdout;
        let mut planted = Planted {
            etcd,
            dir,
            file: PathBuf::new(),
            fresh,
        };
        assert_eq!(planted.list().0.stdout, planted.fresh);
        let files: Vec<PathBuf> = planted.listing().into_iter().collect();
        assert_eq!(files.len(), 1, "{files:?}");
        planted.file = files[0].clone();
        planted
    }

    fn list(&self) -> (Run, Duration) {
        run_watched(
            clean_command(binary())
                .args(["--list", "--time-limit", "20s"])
                .env("ETCDCTL_ENDPOINTS", &self.etcd.endpoint)
                .env("ETCD_INVENTORY_CACHE", "true")
                .env("ETCD_INVENTORY_CACHE_PATH", self.dir.path()),
        )
    }

    fn listing(&self) -> std::collections::BTreeSet<PathBuf> {
        std::fs::read_dir(self.dir.path())
            .expect("cache dir")
            .map(|e| e.expect("entry").path())
            .collect()
    }

    /// Replaces the cached body with [`FORGED`], its header kept but for the length and
    /// checksum, which anyone can recompute: revision and key count still match etcd.
    fn forge(&self) -> Vec<u8> {
        let text = std::fs::read_to_string(&self.file).expect("cache file");
        let (header, _) = text.split_once('\n').expect("a header line");
        let mut header: Value = serde_json::from_str(header).expect("header JSON");
        header["length"] = FORGED.len().into();
        header["checksum"] = format!("{:08x}", crc32fast::hash(FORGED.as_bytes())).into();
        let forged = format!("{header}\n{FORGED}").into_bytes();
        std::fs::write(&self.file, &forged).expect("forge");
        forged
    }

    /// One run against the forged file in an unsafe place: one warning naming the path and
    /// `reason`, etcd's inventory on stdout, and nothing written in the directory.
    fn assert_refused(&self, forged: &[u8], reason: &str) {
        let before = self.listing();
        let (run, took) = self.list();
        assert_eq!(run.code, Some(0), "{run:#?}");
        assert_eq!(run.stdout, self.fresh, "etcd's inventory, never the forged one");
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one warning line: {run:#?}");
        let path = self.file.display().to_string();
        for needle in ["etcd-inventory: warning: not using the cache", path.as_str(), reason] {
            assert!(lines[0].contains(needle), "{needle:?} in {run:#?}");
        }
        assert_eq!(self.listing(), before, "nothing written there");
        if self.file.is_file() {
            assert_eq!(std::fs::read(&self.file).expect("cache"), forged, "left alone");
        }
        eprintln!("refused ({reason}) in {took:?}");
    }
}

#[test]
fn a_forged_cache_is_served_only_where_nobody_else_could_have_written_it() {
    // In a safe place the forgery passes every other check: it is what the user wrote.
    let planted = Planted::new();
    planted.forge();
    assert_eq!(planted.list().0.stdout.trim_end(), FORGED);

    let planted = Planted::new();
    let forged = planted.forge();
    std::fs::set_permissions(&planted.file, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    planted.assert_refused(&forged, "is writable by group or others (mode 0666)");

    let planted = Planted::new();
    let forged = planted.forge();
    std::fs::set_permissions(planted.dir.path(), std::fs::Permissions::from_mode(0o770)).expect("chmod");
    planted.assert_refused(&forged, "is group-writable (mode 0770)");

    if is_root() {
        let planted = Planted::new();
        let forged = planted.forge();
        std::os::unix::fs::chown(&planted.file, Some(65534), Some(65534)).expect("chown nobody");
        planted.assert_refused(&forged, "is owned by another user (uid 65534)");
    } else {
        eprintln!("not root: the file owned by another user is not tried (chown needs root)");
    }
}

#[test]
fn a_fifo_or_a_device_at_the_cache_path_is_refused_at_once() {
    let planted = Planted::new();
    std::fs::remove_file(&planted.file).expect("remove");
    mkfifo(&planted.file);
    planted.assert_refused(&[], "is not a regular file");

    std::fs::remove_file(&planted.file).expect("remove");
    std::os::unix::fs::symlink("/dev/zero", &planted.file).expect("symlink");
    planted.assert_refused(&[], "is a symbolic link");
}

/// `--list --transport gateway` against `stub`, with `env`.
fn through_gateway(stub: &HttpStub, env: &[(&str, &str)]) -> Run {
    let mut command = clean_command(binary());
    command.args(["--list", "--transport", "gateway", "--endpoints", &stub.endpoint]);
    command.envs(env.iter().copied());
    run(&mut command)
}

#[test]
fn an_html_error_page_is_one_line() {
    let page = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>\
                </center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
    let stub = HttpStub::start("502 Bad Gateway", page);
    let line = through_gateway(&stub, &[]).failure(&["answered HTTP 502: <html> <head><title>502 Bad Gateway"]);
    assert!(!line.contains('\r'), "{line:?}");
}

#[test]
fn escape_sequences_from_an_endpoint_never_reach_the_terminal() {
    let body = format!("\u{1b}[2J\u{1b}]0;owned\u{7}\u{1b}[31mred{}", "x".repeat(20_000));
    let stub = HttpStub::start("500 Internal Server Error", &body);
    let line = through_gateway(&stub, &[]).failure(&["answered HTTP 500: \\u{1b}[2J\\u{1b}]0;owned\\u{7}"]);
    assert!(!line.chars().any(char::is_control), "{line:?}");
    assert!(line.len() < 500, "cut to a bounded length: {} bytes", line.len());
}

#[test]
fn an_endpoint_echoing_the_request_never_shows_the_password() {
    let stub = HttpStub::echo("500 Internal Server Error");
    let run = through_gateway(&stub, &[("ETCDCTL_USER", "alice:Echo-Secret-9")]);
    let line = run.failure(&["answered HTTP 500: ", r#"{"name":"alice","password":"<redacted>"}"#]);
    assert!(!line.contains("Echo-Secret-9"), "{line}");
    // Also when the password needs JSON's escapes to travel.
    let run = through_gateway(&stub, &[("ETCDCTL_USER", "alice:Quote\"And\\Back")]);
    let line = run.failure(&["<redacted>"]);
    assert!(!line.contains("Quote") && !line.contains("Back"), "{line}");
}

#[test]
fn an_endpoint_with_a_password_in_it_is_refused_without_quoting_it() {
    let endpoint = "http://alice:Url-Secret-7@127.0.0.1:2379";
    let flag = run(clean_command(binary()).args(["--list", "--endpoints", endpoint]));
    let line = flag.failure(&["--endpoints", "user info (user:password@)"]);
    assert!(!line.contains("Url-Secret-7"), "{line}");
    let env = run(clean_command(binary())
        .arg("--list")
        .env("ETCDCTL_ENDPOINTS", format!("http://127.0.0.1:1,{endpoint}")));
    let line = env.failure(&["ETCDCTL_ENDPOINTS", "user info"]);
    assert!(!line.contains("Url-Secret-7"), "{line}");
}

#[test]
fn impossible_ports_are_a_settings_error() {
    for endpoint in ["http://127.0.0.1:0", "127.0.0.1:99999", "https://[::1]:0"] {
        run(clean_command(binary()).args(["--list", "--endpoints", endpoint]))
            .failure(&["--endpoints", "is not a port number (1 to 65535)"]);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    for port in ["0", "99999"] {
        let ini = dir.path().join("etcd.ini");
        std::fs::write(&ini, format!("[etcd]\nhost = 127.0.0.1\nport = {port}\n")).expect("etcd.ini");
        run(clean_command(binary()).arg("--list").env("ETCD_INI_PATH", &ini))
            .failure(&["([etcd] port)", "expected a port number, 1 to 65535"]);
    }
}

#[test]
fn a_password_file_or_etcd_ini_that_never_ends_or_never_opens_fails_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let fifo = fifo.to_str().expect("UTF-8 path");
    for path in ["/dev/zero", fifo] {
        let (run, took) =
            run_watched(clean_command(binary()).args(["--list", "--user", "alice", "--password-file", path]));
        run.failure(&[
            &format!("cannot read the password file {path} (--password-file)"),
            "not a regular file",
        ]);
        eprintln!("--password-file {path}: refused in {took:?}");
        let (run, took) = run_watched(clean_command(binary()).arg("--list").env("ETCD_INI_PATH", path));
        run.failure(&[
            &format!("cannot read etcd.ini at {path} (named by ETCD_INI_PATH)"),
            "not a regular file",
        ]);
        eprintln!("ETCD_INI_PATH={path}: refused in {took:?}");
    }
    // A regular file that is too large: etcd.ini is read up to 1 MiB.
    let big = dir.path().join("big.ini");
    std::fs::write(&big, "#".repeat((1 << 20) + 1)).expect("big etcd.ini");
    run(clean_command(binary()).arg("--list").env("ETCD_INI_PATH", &big)).failure(&["larger than 1 MiB"]);
}

#[test]
fn a_password_file_others_may_read_gets_one_warning() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    etcd.enable_auth("root-Secret-1");
    etcd.add_reader("alice", "alice-Secret-2", "/ansible/");
    let file = etcd.dir().join("alice.pw");
    std::fs::write(&file, "alice-Secret-2\n").expect("password file");
    let list = |mode: u32| {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).expect("chmod");
        let mut command = clean_command(binary());
        command
            .env("ETCDCTL_ENDPOINTS", &etcd.endpoint)
            .args(["--list", "--user", "alice", "--password-file"])
            .arg(&file);
        run(&mut command)
    };
    let open = list(0o644);
    assert_eq!(open.json()["web"]["hosts"], serde_json::json!(["web01", "web02"]));
    assert_eq!(
        open.stderr,
        format!(
            "etcd-inventory: warning: the password file {} (--password-file) is accessible to group or others \
             (mode 0644): chmod 600 it\n",
            file.display()
        )
    );
    let private = list(0o600);
    assert_eq!(
        (private.stdout.as_str(), private.stderr.as_str()),
        (open.stdout.as_str(), "")
    );
}

#[test]
fn an_etcd_ini_with_a_key_twice_names_both_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ini = dir.path().join("etcd.ini");
    std::fs::write(&ini, "[etcd]\nhost = 127.0.0.1\nport = 2379\n\nport = 2380\n").expect("etcd.ini");
    run(clean_command(binary()).arg("--list").env("ETCD_INI_PATH", &ini)).failure(&[
        &format!("etcd.ini at {}", ini.display()),
        "key \"port\" in [etcd] is set twice, on lines 3 and 5",
    ]);
}

/// The owner of a process's /proc files: the process's own user while it is dumpable, root
/// once it is not (proc(5)), which is how a test can see `PR_SET_DUMPABLE` from outside.
fn proc_owner(pid: u32) -> u32 {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(format!("/proc/{pid}/status"))
        .expect("/proc status")
        .uid()
}

#[test]
fn a_run_that_holds_a_password_cannot_dump_core() {
    use std::os::unix::process::CommandExt as _;
    let stalled = StallingServer::start();
    // As root the run is made someone else's (nobody), or root would own its files anyway.
    // SAFETY: geteuid has no preconditions.
    let runs_as = if is_root() { 65534 } else { unsafe { libc::geteuid() } };
    for (user, expected_owner) in [(None, runs_as), (Some("alice:Dump-Secret-4"), 0)] {
        let mut command = clean_command(binary());
        command
            .args(["--list", "--transport", "gateway", "--endpoints", &stalled.endpoint])
            .args(["--command-timeout", "60s", "--time-limit", "60s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if is_root() {
            command.uid(runs_as).gid(runs_as);
        }
        if let Some(user) = user {
            command.env("ETCDCTL_USER", user);
        }
        let connections = stalled.connections();
        let mut child = command.spawn().expect("spawn");
        // Once it has connected, settings are read and the process is what it will stay.
        let started = Instant::now();
        while stalled.connections() == connections && started.elapsed() < WATCHDOG {
            std::thread::sleep(Duration::from_millis(10));
        }
        let owner = proc_owner(child.id());
        let _ = child.kill();
        let _ = child.wait();
        assert!(stalled.connections() > connections, "it never connected");
        assert_eq!(
            owner, expected_owner,
            "/proc owner with user {user:?}: non-dumpable means root"
        );
    }
}
