//! A loopback server that accepts connections and never answers: it reads and discards
//! whatever arrives and holds the connections open, so a client waits for an answer that
//! never comes (timeouts). Everything is closed, and the thread joined, when it is dropped.

use std::io::{ErrorKind, Read as _};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// At most this many connections are held; later ones wait in the listen backlog.
const MAX_CONNECTIONS: usize = 256;

pub struct StallingServer {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StallingServer {
    pub fn start() -> StallingServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (stop, accepted) = (stop.clone(), accepted.clone());
            std::thread::spawn(move || hold(&listener, &stop, &accepted))
        };
        StallingServer {
            endpoint,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    /// How many connections were accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }
}

/// Polls every 20 ms: accepts, drains, forgets connections the peer closed; until `stop`.
fn hold(listener: &TcpListener, stop: &AtomicBool, accepted: &AtomicUsize) {
    let mut held: Vec<TcpStream> = Vec::new();
    let mut sink = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        while held.len() < MAX_CONNECTIONS {
            let Ok((stream, _)) = listener.accept() else { break };
            if stream.set_nonblocking(true).is_ok() {
                accepted.fetch_add(1, Ordering::Relaxed);
                held.push(stream);
            }
        }
        held.retain_mut(|stream| {
            loop {
                match stream.read(&mut sink) {
                    Ok(0) => return false,
                    Ok(_) => continue,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => return false,
                }
            }
        });
        std::thread::sleep(Duration::from_millis(20));
    }
    // Dropping `held` (and the listener, with the thread's closure) closes everything.
}

impl Drop for StallingServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
