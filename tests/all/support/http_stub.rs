//! A loopback HTTP server that gives every request the same canned answer, or the request's
//! own body: a stand-in for something at the endpoint that is not etcd's gateway. It serves a
//! bounded number of connections and stops with the fixture.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

pub struct HttpStub {
    pub endpoint: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpStub {
    /// Serves `status` with `body` to up to 16 connections.
    pub fn start(status: &str, body: &str) -> HttpStub {
        let body = body.to_string();
        HttpStub::answering(status, move |_| body.clone())
    }

    /// Serves `status` with the body of the request it got as the answer's body: an
    /// endpoint that echoes (a debugging proxy, a misrouted service).
    pub fn echo(status: &str) -> HttpStub {
        HttpStub::answering(status, |request| {
            let text = String::from_utf8_lossy(request);
            text.split_once("\r\n\r\n")
                .map_or(text.as_ref(), |(_, body)| body)
                .to_string()
        })
    }

    fn answering(status: &str, body: impl Fn(&[u8]) -> String + Send + 'static) -> HttpStub {
        let status = status.to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut served = 0;
            // Bounded: 16 answers or 60 s of polling, whichever comes first.
            for _ in 0..6000 {
                if stopped.load(Ordering::Relaxed) || served == 16 {
                    return;
                }
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        served += 1;
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                        let body = body(&read_request(&mut stream));
                        let answer = format!(
                            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                             connection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = stream.write_all(answer.as_bytes());
                        linger(&mut stream);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        HttpStub {
            endpoint,
            stop,
            thread: Some(thread),
        }
    }
}

/// Closes as a web server does: the answer is sent first, then whatever else the client
/// still sends (an HTTP/2 client's frames after its preface) is read and dropped, so that
/// closing does not reset the connection before the client has read the answer.
fn linger(stream: &mut std::net::TcpStream) {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 4096];
    // Bounded: at most 1 MiB, or until the client closes or goes quiet for 500 ms.
    for _ in 0..256 {
        match stream.read(&mut sink) {
            Ok(n) if n > 0 => {}
            _ => return,
        }
    }
}

/// Reads one request, headers and `content-length` body, so that closing the connection
/// afterwards does not reset it under the client; returns what it read. Bounded by size and
/// the read timeout.
fn read_request(stream: &mut std::net::TcpStream) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    while seen.len() < 1 << 20 {
        let Ok(n) = stream.read(&mut chunk) else { return seen };
        if n == 0 {
            return seen;
        }
        seen.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&seen);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if seen.len() >= end + 4 + length {
                return seen;
            }
        }
    }
    seen
}

impl Drop for HttpStub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
