//! A real etcd per test: free loopback ports, a temporary data directory, a health check
//! with a deadline, and the process killed by PID when the fixture is dropped. Variants:
//! TLS (beside the plain listener), authentication, and a cluster of several members.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use etcd_client::{Client, ConnectOptions, Permission, Txn, TxnOp};

use super::pki::TestPki;

/// How long etcd may take to become healthy on a loaded 2-core machine.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// How long one request of the fixture may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a cluster write may keep failing while the members elect a new leader.
const CLUSTER_WRITE_DEADLINE: Duration = Duration::from_secs(30);
/// How long one attempt of a cluster write may take: after its leader died, a follower
/// holds a write for etcd's request timeout (7 s) before failing it.
const CLUSTER_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// etcd's default limit of operations in one transaction.
const MAX_TXN_OPS: usize = 128;

/// Raw key-value pairs.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

pub struct Etcd {
    child: Child,
    /// `http://127.0.0.1:PORT`: always there, also for a TLS etcd.
    pub endpoint: String,
    /// `https://127.0.0.1:PORT` for an etcd from [`Etcd::start_tls`].
    pub tls_endpoint: Option<String>,
    log: PathBuf,
    dir: tempfile::TempDir,
    /// Set by [`Etcd::enable_auth`]: the fixture's own requests then log in as root.
    root_password: OnceLock<String>,
}

/// The TLS listener of one etcd.
struct Tls<'a> {
    pki: &'a TestPki,
    port: u16,
    client_cert_auth: bool,
}

/// How to launch one etcd process.
struct Launch<'a> {
    name: &'a str,
    client_port: u16,
    peer_port: u16,
    /// `--initial-cluster` (every member's `name=peer-url`) and `--initial-cluster-token`;
    /// `None` for a cluster of this member alone.
    cluster: Option<(&'a str, &'a str)>,
    tls: Option<Tls<'a>>,
    /// More etcd flags.
    extra: &'a [&'a str],
}

impl Etcd {
    /// Starts etcd and waits until it answers `/health`. Panics with etcd's log on failure.
    pub fn start() -> Etcd {
        Self::start_with(&[])
    }

    /// Starts etcd with more flags, such as `--enable-grpc-gateway=false`.
    pub fn start_with(extra: &[&str]) -> Etcd {
        retry("etcd", || {
            let [client, peer] = free_ports();
            Self::start_one(Launch {
                name: "test",
                client_port: client,
                peer_port: peer,
                cluster: None,
                tls: None,
                extra,
            })
        })
    }

    /// Starts etcd serving the plain `endpoint` as usual and, beside it, HTTPS on
    /// `tls_endpoint` with `pki`'s server certificate. With `client_cert_auth`, the HTTPS
    /// listener demands a client certificate signed by `pki`'s CA (`--client-cert-auth`).
    pub fn start_tls(pki: &TestPki, client_cert_auth: bool) -> Etcd {
        retry("etcd with TLS", || {
            let [client, peer, tls] = free_ports();
            Self::start_one(Launch {
                name: "test",
                client_port: client,
                peer_port: peer,
                cluster: None,
                tls: Some(Tls {
                    pki,
                    port: tls,
                    client_cert_auth,
                }),
                extra: &[],
            })
        })
    }

    fn start_one(launch: Launch<'_>) -> Result<Etcd, String> {
        let mut members = [Self::spawn(launch)];
        wait_healthy(&mut members)?;
        let [etcd] = members;
        Ok(etcd)
    }

    /// Spawns one etcd process, in its own temporary directory, without waiting for it.
    fn spawn(launch: Launch<'_>) -> Etcd {
        // /dev/shm keeps etcd's fsyncs cheap; any temp dir works.
        let base = Path::new("/dev/shm");
        let dir = if base.is_dir() {
            tempfile::tempdir_in(base)
        } else {
            tempfile::tempdir()
        }
        .expect("temp dir");
        let endpoint = format!("http://127.0.0.1:{}", launch.client_port);
        let tls_endpoint = launch.tls.as_ref().map(|tls| format!("https://127.0.0.1:{}", tls.port));
        let client_urls = match &tls_endpoint {
            Some(https) => format!("{endpoint},{https}"),
            None => endpoint.clone(),
        };
        let peer_url = format!("http://127.0.0.1:{}", launch.peer_port);
        let log = dir.path().join("etcd.log");
        let log_file = std::fs::File::create(&log).expect("etcd log file");
        let etcd = super::etcd_bin();
        let mut command = Command::new(&etcd);
        command
            .args(["--name", launch.name, "--data-dir"])
            .arg(dir.path().join("data"))
            .args([
                "--listen-client-urls",
                &client_urls,
                "--advertise-client-urls",
                &client_urls,
            ])
            .args([
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
            ]);
        match launch.cluster {
            Some((members, token)) => command.args([
                "--initial-cluster",
                members,
                "--initial-cluster-state",
                "new",
                "--initial-cluster-token",
                token,
            ]),
            None => command.args(["--initial-cluster", &format!("{}={peer_url}", launch.name)]),
        };
        if let Some(tls) = &launch.tls {
            command
                .arg("--cert-file")
                .arg(&tls.pki.server_cert)
                .arg("--key-file")
                .arg(&tls.pki.server_key);
            if tls.client_cert_auth {
                command
                    .arg("--client-cert-auth")
                    .arg("--trusted-ca-file")
                    .arg(&tls.pki.ca_cert);
            }
        }
        command.args(launch.extra);
        command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file);
        super::die_with_parent(&mut command);
        let child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "spawn {} ({e}; set ETCD_BIN, or run scripts/test.sh, which installs etcd)",
                etcd.display()
            )
        });
        Etcd {
            child,
            endpoint,
            tls_endpoint,
            log,
            dir,
            root_password: OnceLock::new(),
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The port of the plain `endpoint`.
    pub fn port(&self) -> u16 {
        super::port_of(&self.endpoint)
    }

    /// A directory that is removed with the fixture, for files a test needs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes raw key-value pairs, in transactions of at most 128 operations.
    pub fn put_raw(&self, pairs: &[(Vec<u8>, Vec<u8>)]) {
        self.try_put_raw(pairs, REQUEST_TIMEOUT)
            .unwrap_or_else(|e| panic!("put keys into etcd at {}: {e}", self.endpoint));
    }

    /// Writes text pairs.
    pub fn put(&self, pairs: &[(&str, &str)]) {
        self.put_raw(&text_pairs(pairs));
    }

    /// Writes an inventory file in the `key` / `key=value` format of tests/data/sample.kv
    /// under `prefix`.
    pub fn load(&self, prefix: &str, kv_text: &str) {
        self.put_raw(&kv_pairs(prefix, kv_text));
    }

    /// Deletes one key.
    pub fn delete(&self, key: &str) {
        self.try_with_client(REQUEST_TIMEOUT, |mut client| async move {
            client.delete(key, None).await?;
            Ok(())
        })
        .unwrap_or_else(|e| panic!("delete from etcd at {}: {e}", self.endpoint))
    }

    /// Every key under `prefix` with its value, as text.
    pub fn get_prefix(&self, prefix: &str) -> std::collections::BTreeMap<String, String> {
        self.try_with_client(REQUEST_TIMEOUT, |mut client| async move {
            let answer = client
                .get(prefix, Some(etcd_client::GetOptions::new().with_prefix()))
                .await?;
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            Ok(answer
                .kvs()
                .iter()
                .map(|kv| (text(kv.key()), text(kv.value())))
                .collect())
        })
        .unwrap_or_else(|e| panic!("get from etcd at {}: {e}", self.endpoint))
    }

    /// The cluster's current revision.
    pub fn revision(&self) -> i64 {
        self.try_with_client(REQUEST_TIMEOUT, |mut client| async move {
            // Any read carries the cluster's revision in its header.
            Ok(client.get("\0", None).await?.header().expect("header").revision())
        })
        .unwrap_or_else(|e| panic!("get from etcd at {}: {e}", self.endpoint))
    }

    /// Compacts etcd's history up to `revision`, physically: once this returns, a read at an
    /// older revision is refused with "required revision has been compacted".
    pub fn compact(&self, revision: i64) {
        self.try_with_client(REQUEST_TIMEOUT, |mut client| async move {
            let options = etcd_client::CompactionOptions::new().with_physical();
            client.compact(revision, Some(options)).await?;
            Ok(())
        })
        .unwrap_or_else(|e| panic!("compact etcd at {} to revision {revision}: {e}", self.endpoint))
    }

    /// Turns authentication on: creates user `root` with `root_password` and role root, then
    /// enables auth. The fixture's own requests (`put`, `load`, ...) log in as root from now on.
    pub fn enable_auth(&self, root_password: &str) {
        assert!(self.root_password.get().is_none(), "auth is already enabled");
        self.try_with_client(REQUEST_TIMEOUT, |mut client| async move {
            client.user_add("root", root_password, None).await?;
            client.user_grant_role("root", "root").await?;
            client.auth_enable().await?;
            Ok(())
        })
        .unwrap_or_else(|e| panic!("enable auth: {e}"));
        self.root_password
            .set(root_password.to_string())
            .expect("auth enabled once");
    }

    /// Creates role `{user}-role`, allowed to read the keys starting with `key_prefix` (all
    /// keys if it is empty), and `user` with `password` and that role. Works before and
    /// after [`Etcd::enable_auth`].
    pub fn add_reader(&self, user: &str, password: &str, key_prefix: &str) {
        self.add_user(user, password, key_prefix, false);
    }

    /// As [`Etcd::add_reader`], with a role that may also write those keys.
    pub fn add_writer(&self, user: &str, password: &str, key_prefix: &str) {
        self.add_user(user, password, key_prefix, true);
    }

    /// Creates role `{user}-role`, allowed to read and write the keys starting with each of
    /// `key_prefixes` and nothing else, and `user` with `password` and that role.
    pub fn add_user_writing(&self, user: &str, password: &str, key_prefixes: &[&str]) {
        let role = format!("{user}-role");
        self.try_with_client(REQUEST_TIMEOUT, |mut client| async move {
            client.role_add(role.as_str()).await?;
            for prefix in key_prefixes {
                let permission = Permission::read_write(*prefix).with_prefix();
                client.role_grant_permission(role.as_str(), permission).await?;
            }
            client.user_add(user, password, None).await?;
            client.user_grant_role(user, role.as_str()).await?;
            Ok(())
        })
        .unwrap_or_else(|e| panic!("add user {user}: {e}"));
    }

    fn add_user(&self, user: &str, password: &str, key_prefix: &str, write: bool) {
        let role = format!("{user}-role");
        let permission = match (key_prefix.is_empty(), write) {
            // etcd's form of "every key": from "\0" to the end.
            (true, false) => Permission::read([0]).with_range_end([0]),
            (true, true) => Permission::read_write([0]).with_range_end([0]),
            (false, false) => Permission::read(key_prefix).with_prefix(),
            (false, true) => Permission::read_write(key_prefix).with_prefix(),
        };
        self.try_with_client(REQUEST_TIMEOUT, |mut client| async move {
            client.role_add(role.as_str()).await?;
            client.role_grant_permission(role.as_str(), permission).await?;
            client.user_add(user, password, None).await?;
            client.user_grant_role(user, role.as_str()).await?;
            Ok(())
        })
        .unwrap_or_else(|e| panic!("add user {user}: {e}"));
    }

    fn try_put_raw(&self, pairs: &[(Vec<u8>, Vec<u8>)], timeout: Duration) -> Result<(), etcd_client::Error> {
        self.try_with_client(timeout, |mut client| async move {
            for batch in pairs.chunks(MAX_TXN_OPS) {
                let ops: Vec<TxnOp> = batch
                    .iter()
                    .map(|(k, v)| TxnOp::put(k.clone(), v.clone(), None))
                    .collect();
                client.txn(Txn::new().and_then(ops)).await?;
            }
            Ok(())
        })
    }

    /// Runs `f` with a client of the plain endpoint, logged in as root once auth is enabled,
    /// whose requests time out after `timeout`.
    fn try_with_client<'a, F, Fut, T>(&'a self, timeout: Duration, f: F) -> Result<T, etcd_client::Error>
    where
        F: FnOnce(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, etcd_client::Error>> + 'a,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(10))
            .with_timeout(timeout);
        if let Some(password) = self.root_password.get() {
            options = options.with_user("root", password.as_str());
        }
        runtime.block_on(async {
            let client = Client::connect([self.endpoint.as_str()], Some(options)).await?;
            f(client).await
        })
    }

    /// Kills the process and reaps it; the data directory stays until the fixture is dropped.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Several etcd members forming one cluster, each with its own ports and data directory.
pub struct EtcdCluster {
    members: Vec<Etcd>,
    stopped: Vec<bool>,
}

impl EtcdCluster {
    /// Starts members m0..m{n-1} and waits until every one is healthy, which needs a leader.
    /// Panics with the members' logs on failure.
    pub fn start(n: usize) -> EtcdCluster {
        assert!(n > 0, "a cluster needs a member");
        retry("etcd cluster", || Self::try_start(n))
    }

    fn try_start(n: usize) -> Result<EtcdCluster, String> {
        static CLUSTERS: AtomicUsize = AtomicUsize::new(0);
        let token = format!(
            "etcd-inventory-test-{}-{}",
            std::process::id(),
            CLUSTERS.fetch_add(1, Ordering::Relaxed)
        );
        let ports = free_port_list(2 * n);
        let (client_ports, peer_ports) = ports.split_at(n);
        let names: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
        let initial_cluster = names
            .iter()
            .zip(peer_ports)
            .map(|(name, port)| format!("{name}=http://127.0.0.1:{port}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut members: Vec<Etcd> = (0..n)
            .map(|i| {
                Etcd::spawn(Launch {
                    name: &names[i],
                    client_port: client_ports[i],
                    peer_port: peer_ports[i],
                    cluster: Some((&initial_cluster, &token)),
                    tls: None,
                    extra: &[],
                })
            })
            .collect();
        wait_healthy(&mut members)?;
        Ok(EtcdCluster {
            stopped: vec![false; n],
            members,
        })
    }

    /// The members' plain endpoints, `http://127.0.0.1:PORT`, in member order.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(|m| m.endpoint.clone()).collect()
    }

    /// Member `i`, for its endpoint, port, directory or log.
    /// Kills member `i` and waits for it to exit.
    pub fn stop(&mut self, i: usize) {
        self.members[i].kill();
        self.stopped[i] = true;
    }

    /// Every member's log, headed by its name.
    pub fn log(&self) -> String {
        self.members
            .iter()
            .enumerate()
            .map(|(i, m)| format!("==> m{i} <==\n{}", m.log()))
            .collect()
    }

    /// Writes raw key-value pairs through a live member, retrying (other members, a new
    /// leader) for up to 30 s. Needs a quorum of live members.
    pub fn put_raw(&self, pairs: &[(Vec<u8>, Vec<u8>)]) {
        let deadline = Instant::now() + CLUSTER_WRITE_DEADLINE;
        let live: Vec<&Etcd> = (self.members.iter().zip(&self.stopped))
            .filter(|(_, stopped)| !**stopped)
            .map(|(m, _)| m)
            .collect();
        assert!(!live.is_empty(), "every member is stopped");
        for member in live.iter().cycle() {
            match member.try_put_raw(pairs, CLUSTER_ATTEMPT_TIMEOUT) {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => {
                    panic!("put keys into the cluster: {e}\n{}", self.log())
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// Writes an inventory file in the format of tests/data/sample.kv under `prefix`.
    pub fn load(&self, prefix: &str, kv_text: &str) {
        self.put_raw(&kv_pairs(prefix, kv_text));
    }

    /// Makes member `i` the leader (etcd's move-leader, asked of the current leader) and waits
    /// until member `i` sees itself lead, for up to 30 s. Needs a quorum of live members.
    pub fn make_leader(&self, i: usize) {
        // (this member's id, the leader's id), as member `m` sees them.
        let status = |m: &Etcd| {
            m.try_with_client(CLUSTER_ATTEMPT_TIMEOUT, |mut client| async move {
                let status = client.status().await?;
                Ok((status.header().map_or(0, |h| h.member_id()), status.leader()))
            })
        };
        let deadline = Instant::now() + CLUSTER_WRITE_DEADLINE;
        loop {
            if let Ok((id, leader)) = status(&self.members[i]) {
                if id == leader {
                    return;
                }
                let current = (self.members.iter().zip(&self.stopped))
                    .find(|(m, stopped)| !**stopped && matches!(status(m), Ok((mid, _)) if mid == leader));
                if let Some((current, _)) = current {
                    let _ = current.try_with_client(CLUSTER_ATTEMPT_TIMEOUT, |mut client| async move {
                        client.move_leader(id).await?;
                        Ok(())
                    });
                }
            }
            assert!(
                Instant::now() < deadline,
                "member {i} did not become the leader\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Tries `attempt` three times: a port picked by the kernel can be taken by another test
/// before etcd binds it. Panics with the last error, which carries etcd's log.
fn retry<T>(what: &str, mut attempt: impl FnMut() -> Result<T, String>) -> T {
    let mut last_log = String::new();
    for _ in 0..3 {
        match attempt() {
            Ok(started) => return started,
            Err(log) => last_log = log,
        }
    }
    panic!("{what} did not start; its log:\n{last_log}");
}

/// Waits until every member answers `/health`; fails as soon as one exits, or at the deadline.
fn wait_healthy(members: &mut [Etcd]) -> Result<(), String> {
    let logs = |members: &[Etcd]| -> String {
        match members {
            [one] => one.log(),
            _ => members
                .iter()
                .enumerate()
                .map(|(i, m)| format!("==> m{i} <==\n{}", m.log()))
                .collect(),
        }
    };
    let deadline = Instant::now() + START_DEADLINE;
    let mut ready = vec![false; members.len()];
    while Instant::now() < deadline {
        if members.iter_mut().any(|m| matches!(m.child.try_wait(), Ok(Some(_)))) {
            return Err(logs(members));
        }
        for (member, ready) in members.iter().zip(ready.iter_mut()) {
            *ready = *ready || healthy(member.port());
        }
        if ready.iter().all(|r| *r) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("not healthy after {START_DEADLINE:?}\n{}", logs(members)))
}

fn text_pairs(pairs: &[(&str, &str)]) -> Pairs {
    pairs
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

/// The pairs of a `key` / `key=value` text under `prefix` (the format tests/data/sample.kv
/// describes): one pair a line, split at the first `=`; blank lines and `#` lines skipped;
/// `\\`, `\n` and `\xNN` (any byte) escaped in keys and values.
fn kv_pairs(prefix: &str, kv_text: &str) -> Pairs {
    kv_text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            let mut key = format!("{}/", prefix.trim_end_matches('/')).into_bytes();
            key.extend(unescape(k, l));
            (key, unescape(v, l))
        })
        .collect()
}

/// The bytes of `text` with its escapes (`\\`, `\n`, `\xNN`) decoded; panics naming `line`
/// on any other backslash.
fn unescape(text: &str, line: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        rest = tail;
        if first != b'\\' {
            bytes.push(first);
            continue;
        }
        let (byte, tail) = match rest {
            [b'\\', tail @ ..] => (b'\\', tail),
            [b'n', tail @ ..] => (b'\n', tail),
            [b'x', hi, lo, tail @ ..] => {
                let hex = [*hi, *lo].iter().all(u8::is_ascii_hexdigit).then(|| {
                    let digits = std::str::from_utf8(&[*hi, *lo])
                        .expect("hex digits are ASCII")
                        .to_string();
                    u8::from_str_radix(&digits, 16).expect("two hex digits")
                });
                (
                    hex.unwrap_or_else(|| panic!("bad \\x escape in .kv line {line:?}")),
                    tail,
                )
            }
            _ => panic!("bad escape in .kv line {line:?}: only \\\\, \\n and \\xNN"),
        };
        bytes.push(byte);
        rest = tail;
    }
    bytes
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// `n` distinct ports that were free a moment ago on 127.0.0.1.
fn free_port_list(n: usize) -> Vec<u16> {
    // Holding every listener until all are picked keeps the kernel from handing one out twice.
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("free port").port())
        .collect()
}

fn free_ports<const N: usize>() -> [u16; N] {
    free_port_list(N).try_into().expect("N ports")
}

/// etcd's `/health` answers `{"health":"true"}` once it serves requests.
fn healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.contains("\"health\":\"true\"")
}
