//! `register` and `deregister` against a real etcd: a host under a lease appears in
//! `--list`, leaves at once on SIGTERM and after its TTL on SIGKILL, rides out a lost
//! connection and registers again when its lease expired meanwhile; `check` and `import`
//! treat leased keys as the README says; and no read ever shows half a host while leases
//! expire under it.

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::mover::members;
use crate::support::proxy::Proxy;
use crate::support::{Etcd, binary, clean_command, host_names, inventory, run};

/// How long a test waits for something that should happen within a lease's TTL or two.
const PATIENCE: Duration = Duration::from_secs(30);

/// A running `register`: killed by PID and reaped when dropped; stderr collected by a thread.
struct Registrar {
    child: Child,
    stderr: Arc<Mutex<String>>,
    /// The registration line it printed.
    first_line: String,
}

impl Registrar {
    fn start(endpoint: &str, args: &[&str]) -> Registrar {
        let mut command = clean_command(binary());
        command
            .env("ETCDCTL_ENDPOINTS", endpoint)
            .arg("register")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        crate::support::die_with_parent(&mut command);
        let mut child = command.spawn().expect("start register");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        // Ends when the registrar's stderr closes, which its exit does.
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        let mut first_line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        stdout.read_line(&mut first_line).expect("read the registration line");
        let mut registrar = Registrar {
            child,
            stderr,
            first_line,
        };
        assert!(
            registrar.first_line.starts_with("registered "),
            "no registration line: {:?}, stderr {:?}",
            registrar.first_line,
            registrar.stderr()
        );
        // The rest of stdout (the line said on exit) is read by `stop`.
        registrar.child.stdout = Some(stdout.into_inner());
        registrar
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on the PID of our own child, which is not yet reaped.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0, "kill");
    }

    /// Waits (bounded) for the registrar to exit: its exit code and the rest of stdout.
    fn wait(&mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                let mut rest = String::new();
                if let Some(mut out) = self.child.stdout.take() {
                    out.read_to_string(&mut rest).expect("read stdout");
                }
                return (status.code(), rest);
            }
            assert!(Instant::now() < deadline, "register did not exit: {}", self.stderr());
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Registrar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn listed(etcd: &Etcd) -> Value {
    inventory(etcd, &["--list"]).json()
}

/// Polls `--list` (bounded) until `done` holds; returns how long it took.
fn until(etcd: &Etcd, what: &str, done: impl Fn(&Value) -> bool) -> Duration {
    let start = Instant::now();
    while !done(&listed(etcd)) {
        assert!(start.elapsed() < PATIENCE, "waited {PATIENCE:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

fn is_listed(json: &Value, host: &str) -> bool {
    host_names(json).iter().any(|h| h == host)
}

fn import(etcd: &Etcd, json: &Value, args: &[&str]) -> String {
    let file = etcd.dir().join("inventory.json");
    std::fs::write(&file, json.to_string()).unwrap();
    let run = inventory(etcd, &[&["import"], args, &[file.to_str().unwrap()]].concat());
    assert_eq!(run.code, Some(0), "{run:#?}");
    run.stdout
}

#[test]
fn a_registered_host_is_listed_after_the_imported_ones_and_leaves_at_once_on_sigterm() {
    let etcd = Etcd::start();
    import(&etcd, &serde_json::json!({"web": {"hosts": ["b", "a"]}}), &[]);
    let mut registrar = Registrar::start(
        &etcd.endpoint,
        &[
            "web-7",
            "--group",
            "web",
            "--group",
            "eu",
            "--var",
            "ip=10.0.0.7",
            "--ttl",
            "30",
        ],
    );
    let json = listed(&etcd);
    // No position: after the imported hosts, which keep the file's order.
    assert_eq!(members(&json, "web"), ["b", "a", "web-7"]);
    assert_eq!(members(&json, "eu"), ["web-7"]);
    assert_eq!(json["_meta"]["hostvars"]["web-7"]["ip"]["__ansible_unsafe"], "10.0.0.7");
    let keys = etcd.get_prefix("/ansible/hosts/eu/");
    assert_eq!(keys["/ansible/hosts/eu/web-7"], "", "{keys:?}");
    let checked = inventory(&etcd, &["check"]);
    let leased: Vec<&str> = checked.stdout.lines().filter(|l| l.starts_with("leased:")).collect();
    assert_eq!(leased.len(), 1, "{checked:#?}");
    let left: u64 = leased[0]
        .strip_prefix("leased: host \"web-7\" (lease ")
        .and_then(|rest| rest.split_once("): "))
        .and_then(|(_, left)| left.strip_suffix(" s left"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{checked:#?}"));
    assert!((1..=30).contains(&left), "{left}");
    // The same over the gateway.
    let gateway = inventory(&etcd, &["check", "--transport", "gateway"]);
    assert!(
        gateway.stdout.contains("leased: host \"web-7\" (lease "),
        "{gateway:#?}"
    );

    let start = Instant::now();
    registrar.signal(libc::SIGTERM);
    let (code, rest) = registrar.wait();
    let took = start.elapsed();
    assert_eq!(code, Some(0), "{}", registrar.stderr());
    assert!(rest.starts_with("deregistered \"web-7\": lease "), "{rest:?}");
    // Gone as the registrar exits: no waiting for a TTL.
    let json = listed(&etcd);
    assert!(!is_listed(&json, "web-7"), "{json}");
    assert_eq!(members(&json, "web"), ["b", "a"]);
    eprintln!("measured: SIGTERM to registrar exit with the host gone: {took:?}");
}

#[test]
fn sigint_also_revokes_and_sigkill_leaves_the_host_until_its_ttl_runs_out() {
    let etcd = Etcd::start();
    let mut registrar = Registrar::start(&etcd.endpoint, &["h1", "--group", "g", "--ttl", "30"]);
    registrar.signal(libc::SIGINT);
    assert_eq!(registrar.wait().0, Some(0), "{}", registrar.stderr());
    assert!(!is_listed(&listed(&etcd), "h1"));

    let ttl = 4;
    let mut registrar = Registrar::start(&etcd.endpoint, &["h2", "--group", "g", "--ttl", &ttl.to_string()]);
    registrar.signal(libc::SIGKILL);
    let killed = Instant::now();
    registrar.wait();
    assert!(is_listed(&listed(&etcd), "h2"), "a killed registrar revokes nothing");
    until(&etcd, "the lease of a killed registrar to expire", |json| {
        !is_listed(json, "h2")
    });
    let gone = killed.elapsed();
    eprintln!("measured: SIGKILL to host gone: {gone:?} (TTL {ttl} s)");
    // etcd checks for expired leases twice a second; slack for a busy machine.
    assert!(gone < Duration::from_secs(ttl + 10), "{gone:?}");
}

#[test]
fn registering_again_changes_groups_and_variables_in_one_transaction() {
    let etcd = Etcd::start();
    etcd.put(&[("/ansible/hosts/web/other", ""), ("/ansible/hostvars/h10/a", "x")]);
    let once = |args: &[&str]| {
        let run = inventory(&etcd, &[&["register", "h", "--once", "--ttl", "60"], args].concat());
        assert_eq!(run.code, Some(0), "{run:#?}");
        run.stdout
    };
    let said = once(&["--group", "web", "--var", "a=1", "--var", "b=2"]);
    assert!(
        said.starts_with("registered \"h\" under /ansible/ with 3 key(s), lease "),
        "{said}"
    );
    let before = etcd.revision();
    once(&[
        "--group",
        "db",
        "--var",
        "a=3",
        "--typed-values",
        "--var",
        "port=8080",
        "--json-var",
        "n=[1,2]",
    ]);
    // One transaction: one revision, whatever it put and deleted.
    assert_eq!(etcd.revision(), before + 1);
    let keys = etcd.get_prefix("/ansible/");
    let expected: Vec<(&str, &str)> = vec![
        ("/ansible/hosts/db/h", ""),
        ("/ansible/hosts/web/other", ""),
        // As import writes strings for typed readers: quoted when they would decode.
        ("/ansible/hostvars/h/a", "\"3\""),
        ("/ansible/hostvars/h/n", "[1,2]"),
        ("/ansible/hostvars/h/port", "\"8080\""),
        ("/ansible/hostvars/h10/a", "x"),
    ];
    let keys: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(keys, expected);
    let json = inventory(&etcd, &["--list", "--typed-values"]).json();
    assert_eq!(json["_meta"]["hostvars"]["h"]["port"]["__ansible_unsafe"], "8080");
    assert_eq!(json["_meta"]["hostvars"]["h"]["n"], serde_json::json!([1, 2]));
}

#[test]
fn deregister_deletes_the_hosts_own_keys_and_nothing_else() {
    let etcd = Etcd::start();
    etcd.put(&[
        ("/ansible/hosts/web/h", "0"),
        ("/ansible/hosts/db/h", ""),
        ("/ansible/hosts/web/h2", "1"),
        ("/ansible/hosts/h/x", ""),
        ("/ansible/hostvars/h/a", "1"),
        ("/ansible/hostvars/h/nested/b", "1"),
        ("/ansible/hostvars/h2/a", "1"),
        ("/ansible/groupvars/h/a", "1"),
        ("/ansible/groups/web/h", ""),
    ]);
    let before = etcd.revision();
    let run = inventory(&etcd, &["deregister", "h"]);
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert_eq!(run.stdout, "deregistered \"h\": 4 key(s) deleted under /ansible/\n");
    assert_eq!(etcd.revision(), before + 1, "one transaction");
    let left: Vec<String> = etcd.get_prefix("/ansible/").into_keys().collect();
    assert_eq!(
        left,
        [
            "/ansible/groups/web/h",
            "/ansible/groupvars/h/a",
            "/ansible/hosts/h/x",
            "/ansible/hosts/web/h2",
            "/ansible/hostvars/h2/a"
        ]
    );
    let again = inventory(&etcd, &["deregister", "h"]);
    assert_eq!(again.stdout, "deregistered \"h\": 0 key(s) deleted under /ansible/\n");
    inventory(&etcd, &["deregister", "a/b"]).failure(&["host name \"a/b\""]);
}

#[test]
fn bad_input_is_one_line_exit_1_and_nothing_written() {
    let etcd = Etcd::start();
    let cases: [(&[&str], &str); 8] = [
        (&["a/b", "--group", "g"], "host name \"a/b\" cannot be a key segment"),
        (&["h", "--group", "a/b"], "group name \"a/b\""),
        (&["h", "--var", "novalue"], "--var \"novalue\" is not NAME=VALUE"),
        (&["h", "--json-var", "n=nope"], "--json-var n: the value is not JSON"),
        (&["h", "--var", "a=1", "--var", "a=2"], "variable \"a\" is given twice"),
        (
            &["h", "--group", "g", "--ttl", "0"],
            "--ttl \"0\" is not a number of seconds from 1 to 9000000000",
        ),
        (&["h", "--group", "g", "--ttl", "9000000001"], "from 1 to 9000000000"),
        (&["h"], "nothing to register"),
    ];
    for (args, needle) in cases {
        inventory(&etcd, &[&["register"], args].concat()).failure(&[needle]);
    }
    assert!(etcd.get_prefix("/ansible/").is_empty());
    let unreachable = run(clean_command(binary())
        .env("ETCDCTL_ENDPOINTS", "http://127.0.0.1:1")
        .args(["register", "h", "--group", "g"]));
    unreachable.failure(&["cannot reach etcd at http://127.0.0.1:1"]);
}

#[test]
fn import_leaves_leased_keys_alone_unless_replace_and_says_how_many() {
    let etcd = Etcd::start();
    let run = inventory(
        &etcd,
        &[
            "register", "h", "--group", "web", "--var", "ip=1", "--once", "--ttl", "60",
        ],
    );
    assert_eq!(run.code, Some(0), "{run:#?}");
    let file = serde_json::json!({"web": {"hosts": ["a", "h"]}, "_meta": {"hostvars": {"h": {"ip": "2"}}}});
    let said = import(&etcd, &file, &[]);
    assert_eq!(
        said,
        "1 key(s) created, 0 changed, 0 unchanged, 0 deleted under /ansible/; 2 leased key(s) of registered \
         hosts left as they are (--replace rewrites them)\n"
    );
    assert_eq!(etcd.get_prefix("/ansible/hostvars/")["/ansible/hostvars/h/ip"], "1");
    assert!(inventory(&etcd, &["check"]).stdout.contains("leased: host \"h\""));
    let said = import(&etcd, &file, &["--replace"]);
    // The membership key already reads as the file's order (h, unpositioned, after a): kept.
    assert!(
        said.contains(" 1 changed, 2 unchanged")
            && said.contains("; 1 of the keys changed or deleted were registered hosts' leased keys"),
        "{said}"
    );
    assert_eq!(etcd.get_prefix("/ansible/hostvars/")["/ansible/hostvars/h/ip"], "2");
    // The variable was rewritten without a lease; the membership, kept, still has it.
    assert!(inventory(&etcd, &["check"]).stdout.contains("leased: host \"h\""));
}

#[test]
fn a_lost_connection_is_retried_and_an_expired_lease_is_registered_again() {
    let etcd = Etcd::start();
    let proxy = Proxy::start(&etcd.endpoint);
    let mut registrar = Registrar::start(&proxy.endpoint, &["h", "--group", "g", "--ttl", "6"]);

    // A short outage (well inside the TTL): the host stays throughout, the registrar says
    // it lost etcd and that it is back.
    proxy.set_outage(true);
    let outage = Instant::now();
    while !registrar.stderr().contains("cannot renew lease") {
        assert!(outage.elapsed() < PATIENCE, "no renewal failed: {}", registrar.stderr());
        assert!(is_listed(&listed(&etcd), "h"));
        std::thread::sleep(Duration::from_millis(50));
    }
    proxy.set_outage(false);
    let back = Instant::now();
    while !registrar.stderr().contains("etcd answers again") {
        assert!(back.elapsed() < PATIENCE, "never renewed again: {}", registrar.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(is_listed(&listed(&etcd), "h"));
    eprintln!("measured: outage end to renewed lease: {:?}", back.elapsed());

    // An outage longer than the TTL: the lease expires and the host leaves; once etcd is
    // reachable again the registrar registers it anew.
    proxy.set_outage(true);
    let expired = until(&etcd, "the lease to expire during the outage", |json| {
        !is_listed(json, "h")
    });
    proxy.set_outage(false);
    let back = Instant::now();
    until(&etcd, "the host to be registered again", |json| is_listed(json, "h"));
    let again = back.elapsed();
    assert!(
        registrar.stderr().contains("the lease had expired: registered \"h\""),
        "{}",
        registrar.stderr()
    );
    eprintln!("measured: host gone {expired:?} into the outage; registered again {again:?} after it ended");

    registrar.signal(libc::SIGTERM);
    assert_eq!(registrar.wait().0, Some(0), "{}", registrar.stderr());
    assert!(!is_listed(&listed(&etcd), "h"));
}

/// Part 3: every host's keys are under one lease, so etcd deletes them in one revision;
/// a read pinned to one revision then never shows a host with memberships and no
/// variables, or the reverse, however many leases expire while it pages.
#[test]
fn leases_expiring_during_paged_reads_never_leave_half_a_host() {
    const HOSTS: usize = 24;
    let etcd = Etcd::start();
    for transport in ["grpc", "gateway"] {
        // TTLs from 2 to 5 s, so leases expire one after another during the reads.
        for i in 0..HOSTS {
            let ttl = (2 + i % 4).to_string();
            let host = format!("{transport}-{i:02}");
            let run = inventory(
                &etcd,
                &[
                    "register", &host, "--once", "--ttl", &ttl, "--group", "a", "--group", "b", "--var", "x=1",
                    "--var", "y=2", "--var", "z=3",
                ],
            );
            assert_eq!(run.code, Some(0), "{run:#?}");
        }
        let mut sizes = Vec::new();
        let start = Instant::now();
        loop {
            // Two keys a page: one host's six keys span three pages.
            let json = inventory(&etcd, &["--list", "--page-size", "2", "--transport", transport]).json();
            let hosts = host_names(&json);
            for host in &hosts {
                let vars = json["_meta"]["hostvars"][host].as_object().map_or(0, |v| v.len());
                assert_eq!(vars, 3, "{host} has {vars} of its 3 variables: {json}");
            }
            for group in ["a", "b"] {
                assert_eq!(
                    members(&json, group),
                    hosts,
                    "group {group} and the hosts with variables: {json}"
                );
            }
            sizes.push(hosts.len());
            if hosts.is_empty() {
                break;
            }
            assert!(start.elapsed() < PATIENCE, "the leases did not expire: {sizes:?}");
        }
        // The reads saw the leases expire in steps, not all at once (else this proved nothing).
        assert!(
            sizes.iter().any(|&n| n > 0 && n < HOSTS),
            "{transport}: no read saw some leases expired and others not: {sizes:?}"
        );
        eprintln!("measured: {transport}: hosts seen by successive paged reads: {sizes:?}");
    }
}
