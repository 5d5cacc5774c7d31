//! A real etcd per test: a free loopback port, a temporary data directory, a health check
//! with a deadline, and the process killed by PID when the fixture is dropped.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use etcd_client::{Client, Txn, TxnOp};

/// How long etcd may take to become healthy on a loaded 2-core machine.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// etcd's default limit of operations in one transaction.
const MAX_TXN_OPS: usize = 128;

pub struct Etcd {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    log: PathBuf,
    dir: tempfile::TempDir,
}

impl Etcd {
    /// Starts etcd and waits until it answers `/health`. Panics with etcd's log on failure.
    pub fn start() -> Etcd {
        // A port picked by the kernel can be taken by another test before etcd binds it:
        // try a few times.
        let mut last_log = String::new();
        for _ in 0..3 {
            match Self::try_start() {
                Ok(etcd) => return etcd,
                Err(log) => last_log = log,
            }
        }
        panic!("etcd did not start; its log:\n{last_log}");
    }

    fn try_start() -> Result<Etcd, String> {
        // /dev/shm keeps etcd's fsyncs cheap; any temp dir works.
        let base = Path::new("/dev/shm");
        let dir = if base.is_dir() {
            tempfile::tempdir_in(base)
        } else {
            tempfile::tempdir()
        }
        .expect("temp dir");
        let (client, peer) = (free_port(), free_port());
        let endpoint = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let log = dir.path().join("etcd.log");
        let log_file = std::fs::File::create(&log).expect("etcd log file");
        let mut command = Command::new(super::tool("etcd", "ETCD_BIN"));
        command
            .args(["--name", "test", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--listen-client-urls", &endpoint, "--advertise-client-urls", &endpoint])
            .args([
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
            ])
            .args(["--initial-cluster", &format!("test={peer_url}")])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file);
        super::die_with_parent(&mut command);
        let child = command
            .spawn()
            .expect("spawn etcd (is etcd-server installed? run scripts/test.sh)");
        let mut etcd = Etcd {
            child,
            endpoint,
            log,
            dir,
        };
        let deadline = Instant::now() + START_DEADLINE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = etcd.child.try_wait() {
                return Err(etcd.log());
            }
            if healthy(client) {
                return Ok(etcd);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("not healthy after {START_DEADLINE:?}\n{}", etcd.log()))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The port etcd listens on.
    pub fn port(&self) -> u16 {
        self.endpoint
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port")
    }

    /// A directory that is removed with the fixture, for files a test needs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes raw key-value pairs, in transactions of at most 128 operations.
    pub fn put_raw(&self, pairs: &[(Vec<u8>, Vec<u8>)]) {
        self.with_client(|mut client| async move {
            for batch in pairs.chunks(MAX_TXN_OPS) {
                let ops: Vec<TxnOp> = batch
                    .iter()
                    .map(|(k, v)| TxnOp::put(k.clone(), v.clone(), None))
                    .collect();
                client.txn(Txn::new().and_then(ops)).await.expect("put keys");
            }
        })
    }

    /// Writes text pairs.
    pub fn put(&self, pairs: &[(&str, &str)]) {
        let raw: Vec<_> = pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        self.put_raw(&raw);
    }

    /// Writes an inventory file in the `key` / `key=value` format of tests/data/sample.kv
    /// under `prefix`.
    pub fn load(&self, prefix: &str, kv_text: &str) {
        let pairs: Vec<(String, String)> = kv_text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap_or((l, ""));
                (format!("{}/{k}", prefix.trim_end_matches('/')), v.to_string())
            })
            .collect();
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.put(&refs);
    }

    /// The cluster's current revision.
    pub fn revision(&self) -> i64 {
        self.with_client(|mut client| async move {
            // Any read carries the cluster's revision in its header.
            client
                .get("\0", None)
                .await
                .expect("get")
                .header()
                .expect("header")
                .revision()
        })
    }

    fn with_client<'a, F, Fut, T>(&'a self, f: F) -> T
    where
        F: FnOnce(Client) -> Fut,
        Fut: std::future::Future<Output = T> + 'a,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let client = Client::connect([self.endpoint.as_str()], None)
                .await
                .expect("connect to etcd");
            f(client).await
        })
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
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
