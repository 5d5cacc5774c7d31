//! A loopback TCP proxy in front of one etcd member that can break one connection on
//! purpose: cut it, garble it, stall it, or run a hook (kill a member, compact etcd) at a
//! chosen point. Faults are placed by connection and by bytes sent downstream (etcd to
//! client): under `--transport gateway` every page is a fresh connection, so "connection N"
//! means "page N"; under gRPC one connection carries the whole read, so bytes place it.
//!
//! Plain std threads: one acceptor, two pumps per connection. Every loop polls the stop
//! flag (sockets have short read timeouts), connections are capped, and Drop joins every
//! thread, so a test never leaves one behind.

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Connections served; later ones are refused (the listener is closed), never queued forever.
const MAX_CONNECTIONS: usize = 4096;
/// How often blocked threads look at the stop flag.
const POLL: Duration = Duration::from_millis(20);
/// A write to a peer that stopped reading gives up after this long, so a pump always ends.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// What the garbage is made of: not JSON, not HTTP, not an HTTP/2 frame header that parses.
const GARBAGE: u8 = b'~';

/// What to do to the chosen connection once the chosen byte is reached.
pub enum Action {
    /// Forward nothing more and close both sides: a truncated answer, or one closed mid-body.
    Close,
    /// Replace the next `n` bytes with garbage, then forward the rest untouched.
    Garbage(usize),
    /// Forward nothing more but keep the connection open (until the proxy is dropped).
    Stall,
    /// Run the hook, then forward on. With `after_bytes: 0` it runs when the connection is
    /// accepted, before the request reaches etcd.
    Hook(Box<dyn FnOnce() + Send>),
    /// Run the hook (one that kills the member), then close both sides: the client sees the
    /// answer end at this very byte, however much the member had sent before it died.
    Die(Box<dyn FnOnce() + Send>),
}

/// One fault: on connection `connection` (0-based, in accept order), after `after_bytes`
/// bytes of etcd's answer were forwarded on it, do `action`. It fires at most once. With
/// `after_bytes: 0`, Close, Stall, Die and Hook act as the connection is accepted, before
/// its request reaches etcd; Garbage garbles the answer's first bytes.
pub struct Fault {
    pub connection: usize,
    pub after_bytes: usize,
    pub action: Action,
}

impl Fault {
    pub fn new(connection: usize, after_bytes: usize, action: Action) -> Fault {
        Fault {
            connection,
            after_bytes,
            action,
        }
    }

    /// Runs `hook` when connection `connection` is accepted, before its request is forwarded.
    pub fn hook_at_connection(connection: usize, hook: impl FnOnce() + Send + 'static) -> Fault {
        Fault::new(connection, 0, Action::Hook(Box::new(hook)))
    }
}

struct Shared {
    upstream: SocketAddr,
    stop: AtomicBool,
    accepted: AtomicUsize,
    /// Bytes forwarded from etcd to clients, over every connection.
    downstream: AtomicUsize,
    /// Faults that fired.
    fired: AtomicUsize,
    /// Faults still waiting for their connection.
    faults: Mutex<Vec<Fault>>,
    /// An outage: every connection is closed and new ones are closed as they come.
    outage: AtomicBool,
}

/// A running proxy; dropping it stops and joins every thread and closes every connection.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`, to list among the endpoints.
    pub endpoint: String,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    /// A proxy to `upstream` (`http://127.0.0.1:PORT`) that forwards everything faithfully.
    pub fn start(upstream: &str) -> Proxy {
        Self::with_faults(upstream, Vec::new())
    }

    /// A proxy to `upstream` that injects `fault` once.
    pub fn with_fault(upstream: &str, fault: Fault) -> Proxy {
        Self::with_faults(upstream, vec![fault])
    }

    /// A proxy to `upstream` that injects each of `faults` once (at most one per connection).
    pub fn with_faults(upstream: &str, faults: Vec<Fault>) -> Proxy {
        let upstream: SocketAddr = upstream
            .strip_prefix("http://")
            .unwrap_or(upstream)
            .parse()
            .expect("a loopback http://IP:PORT upstream");
        assert!(upstream.ip().is_loopback(), "the proxy only talks to loopback");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let shared = Arc::new(Shared {
            upstream,
            stop: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            downstream: AtomicUsize::new(0),
            fired: AtomicUsize::new(0),
            faults: Mutex::new(faults),
            outage: AtomicBool::new(false),
        });
        let acceptor = {
            let shared = shared.clone();
            std::thread::spawn(move || accept(listener, &shared))
        };
        Proxy {
            endpoint,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Bytes forwarded from etcd to clients so far, over every connection: measured on a
    /// faithful run, it tells where in a read a fault lands.
    pub fn bytes_down(&self) -> usize {
        self.shared.downstream.load(Ordering::SeqCst)
    }

    /// Starts (`true`) or ends an outage: while it lasts, open connections are closed and
    /// new ones closed as they are accepted, as if etcd were cut off from its clients.
    pub fn set_outage(&self, on: bool) {
        self.shared.outage.store(on, Ordering::SeqCst);
    }

    /// How many faults fired (a test should check: a fault that never fired proved nothing).
    pub fn fired(&self) -> usize {
        self.shared.fired.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Accepts until stopped or [`MAX_CONNECTIONS`]; joins every pump before returning.
fn accept(listener: TcpListener, shared: &Arc<Shared>) {
    let mut pumps: Vec<JoinHandle<()>> = Vec::new();
    let mut listener = Some(listener);
    while !shared.stop.load(Ordering::SeqCst) {
        let accepted = listener.as_ref().map(TcpListener::accept);
        match accepted {
            Some(Ok((client, _))) => {
                let index = shared.accepted.fetch_add(1, Ordering::SeqCst);
                if index + 1 >= MAX_CONNECTIONS {
                    // Later clients are refused rather than left in the backlog.
                    listener = None;
                }
                let fault = {
                    let mut faults = shared.faults.lock().expect("faults lock");
                    let due = faults.iter().position(|f| f.connection == index);
                    due.map(|i| faults.remove(i))
                };
                pumps.extend(connect(client, fault, shared));
            }
            _ => std::thread::sleep(POLL),
        }
        // Forget the pumps that ended, so the list stays short.
        let (done, running): (Vec<_>, Vec<_>) = pumps.into_iter().partition(JoinHandle::is_finished);
        for pump in done {
            let _ = pump.join();
        }
        pumps = running;
    }
    drop(listener);
    for pump in pumps {
        let _ = pump.join();
    }
}

/// Sets up one connection: applies a fault due at accept time, connects upstream, and starts
/// a pump each way. Returns the pumps' handles.
fn connect(client: TcpStream, mut fault: Option<Fault>, shared: &Arc<Shared>) -> Vec<JoinHandle<()>> {
    if shared.outage.load(Ordering::SeqCst) {
        return Vec::new(); // dropping `client` closes it
    }
    let mut garbage = 0;
    if fault.as_ref().is_some_and(|f| f.after_bytes == 0) {
        let f = fault.take().expect("a fault");
        shared.fired.fetch_add(1, Ordering::SeqCst);
        match f.action {
            Action::Close => return Vec::new(), // dropping `client` closes it
            Action::Stall => {
                let shared = shared.clone();
                return vec![std::thread::spawn(move || stall(&client, &shared))];
            }
            Action::Garbage(n) => garbage = n,
            Action::Hook(hook) => hook(),
            Action::Die(hook) => {
                hook();
                return Vec::new();
            }
        }
    }
    // The member may be gone (a hook killed it): the client then sees its connection
    // closed before an answer, as it would from a member that died under it.
    let Ok(upstream) = TcpStream::connect_timeout(&shared.upstream, Duration::from_secs(2)) else {
        return Vec::new();
    };
    let streams = [&client, &upstream];
    for stream in streams {
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(POLL));
        let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    }
    let (Ok(client2), Ok(upstream2)) = (client.try_clone(), upstream.try_clone()) else {
        return Vec::new();
    };
    let up = {
        let shared = shared.clone();
        std::thread::spawn(move || pump(client2, upstream2, None, 0, &shared))
    };
    let down = {
        let shared = shared.clone();
        std::thread::spawn(move || pump(upstream, client, fault, garbage, &shared))
    };
    vec![up, down]
}

/// Copies `from` to `to` until either side ends or the proxy stops, applying `fault` (only
/// ever given to the downstream pump) when its byte comes; `garbage` bytes are garbled first.
fn pump(mut from: TcpStream, mut to: TcpStream, mut fault: Option<Fault>, mut garbage: usize, shared: &Shared) {
    // The downstream pump (reading from etcd) counts the bytes.
    let down = from.peer_addr().ok() == Some(shared.upstream);
    let count = |n: usize| {
        if down {
            shared.downstream.fetch_add(n, Ordering::SeqCst);
        }
    };
    let mut buffer = [0u8; 16 * 1024];
    let mut forwarded = 0usize;
    while !shared.stop.load(Ordering::SeqCst) {
        if shared.outage.load(Ordering::SeqCst) {
            return cut(&from, &to);
        }
        let n = match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(_) => break,
        };
        let mut chunk = &mut buffer[..n];
        if let Some(f) = fault.as_ref().filter(|f| forwarded + chunk.len() > f.after_bytes) {
            // Forward up to the chosen byte, then act.
            let before = f.after_bytes - forwarded;
            if to.write_all(&chunk[..before]).is_err() {
                break;
            }
            forwarded += before;
            count(before);
            chunk = &mut chunk[before..];
            shared.fired.fetch_add(1, Ordering::SeqCst);
            match fault.take().expect("a fault").action {
                Action::Close => return cut(&from, &to),
                Action::Stall => return stall(&to, shared),
                Action::Garbage(n) => garbage = n,
                Action::Hook(hook) => hook(),
                Action::Die(hook) => {
                    hook();
                    return cut(&from, &to);
                }
            }
        }
        let garbled = garbage.min(chunk.len());
        chunk[..garbled].fill(GARBAGE);
        garbage -= garbled;
        if to.write_all(chunk).is_err() {
            break;
        }
        forwarded += chunk.len();
        count(chunk.len());
    }
    // Pass the end on: the other side then sees EOF and its pump ends too.
    let _ = to.shutdown(Shutdown::Write);
}

/// Closes both connections both ways: each peer sees its stream end here, and the other
/// pump's read ends too.
fn cut(a: &TcpStream, b: &TcpStream) {
    let _ = a.shutdown(Shutdown::Both);
    let _ = b.shutdown(Shutdown::Both);
}

/// Holds `stream` open, sending nothing, until the proxy stops.
fn stall(stream: &TcpStream, shared: &Shared) {
    while !shared.stop.load(Ordering::SeqCst) {
        std::thread::sleep(POLL);
    }
    let _ = stream.shutdown(Shutdown::Both);
}
