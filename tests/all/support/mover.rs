//! A writer that keeps an invariant across keys while reads run: it moves hosts h00, h01, ...
//! between groups `blue` and `green`, one host per transaction (delete one membership, put
//! the other), so every revision has each host in exactly one of them. A read that mixed
//! revisions would show a host in both or in neither.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use etcd_client::{Client, Txn, TxnOp};
use serde_json::Value;

use super::Etcd;

/// Most moves, however long the reads take.
const MAX_MOVES: usize = 100_000;

pub struct HostMover {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<usize>>,
}

impl HostMover {
    /// Puts `hosts` hosts in `blue`, then moves them until stopped, waiting `pause` after
    /// each move (zero: as fast as etcd takes them).
    pub fn start(etcd: &Etcd, hosts: usize, pause: Duration) -> HostMover {
        let blue: Vec<(String, String)> = (0..hosts).map(|i| (key("blue", i), String::new())).collect();
        etcd.put(&blue.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (endpoint, stop) = (etcd.endpoint.clone(), stop.clone());
            std::thread::spawn(move || move_hosts(&endpoint, hosts, pause, &stop))
        };
        HostMover {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the writer and returns how many moves it made.
    pub fn stop(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.take().expect("running until stopped");
        thread.join().expect("the writer")
    }
}

impl Drop for HostMover {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn key(group: &str, host: usize) -> String {
    format!("/ansible/hosts/{group}/h{host:02}")
}

/// Bounded: stops when told, or after [`MAX_MOVES`].
fn move_hosts(endpoint: &str, hosts: usize, pause: Duration, stop: &AtomicBool) -> usize {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut client = Client::connect([endpoint], None).await.expect("connect");
        let mut moves = 0;
        while !stop.load(Ordering::Relaxed) && moves < MAX_MOVES {
            let host = moves % hosts;
            let (from, to) = match (moves / hosts) % 2 {
                0 => ("blue", "green"),
                _ => ("green", "blue"),
            };
            let txn = Txn::new().and_then([
                TxnOp::delete(key(from, host), None),
                TxnOp::put(key(to, host), "", None),
            ]);
            client.txn(txn).await.expect("move a host");
            moves += 1;
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
        moves
    })
}

/// The hosts of `group` in a `--list` answer.
pub fn members(inventory: &Value, group: &str) -> Vec<String> {
    inventory[group]["hosts"].as_array().map_or_else(Vec::new, |hosts| {
        hosts
            .iter()
            .map(|h| h.as_str().expect("a host name").to_string())
            .collect()
    })
}
