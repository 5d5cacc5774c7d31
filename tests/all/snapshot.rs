//! One consistent snapshot while others write: every page of a read is pinned to the
//! revision of the first, so an invariant that each write keeps holds in every output.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use etcd_client::{Client, Txn, TxnOp};

use crate::support::{Etcd, inventory};

const HOSTS: usize = 12;

#[test]
fn every_list_is_one_snapshot_while_a_writer_moves_hosts_between_groups() {
    let etcd = Etcd::start();
    let initial: Vec<(String, String)> = (0..HOSTS)
        .map(|i| (format!("/ansible/hosts/blue/h{i:02}"), String::new()))
        .collect();
    let refs: Vec<(&str, &str)> = initial.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    etcd.put(&refs);

    // The writer moves one host at a time from one group to the other in a transaction:
    // every revision has each host in exactly one group.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, endpoint) = (stop.clone(), etcd.endpoint.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let mut client = Client::connect([endpoint.as_str()], None).await.expect("connect");
                let mut moves = 0;
                // Bounded: stops when told, or after 20,000 moves.
                while !stop.load(Ordering::Relaxed) && moves < 20_000 {
                    let host = moves % HOSTS;
                    let (from, to) = if (moves / HOSTS).is_multiple_of(2) {
                        ("blue", "green")
                    } else {
                        ("green", "blue")
                    };
                    let txn = Txn::new().and_then([
                        TxnOp::delete(format!("/ansible/hosts/{from}/h{host:02}"), None),
                        TxnOp::put(format!("/ansible/hosts/{to}/h{host:02}"), "", None),
                    ]);
                    client.txn(txn).await.expect("move a host");
                    moves += 1;
                }
                moves
            })
        })
    };

    let mut outputs = Vec::new();
    for _ in 0..8 {
        // Two keys a page: a read spans many pages, and many writes happen meanwhile.
        outputs.push(inventory(&etcd, &["--list", "--page-size", "2"]).json());
    }
    stop.store(true, Ordering::Relaxed);
    let moves = writer.join().expect("writer");
    assert!(moves > 0, "the writer made no move");

    for json in outputs {
        let members = |group: &str| -> Vec<String> {
            json[group]["hosts"].as_array().map_or_else(Vec::new, |hosts| {
                hosts
                    .iter()
                    .map(|h| h.as_str().expect("host name").to_string())
                    .collect()
            })
        };
        let (blue, green) = (members("blue"), members("green"));
        assert_eq!(
            blue.len() + green.len(),
            HOSTS,
            "each host in exactly one group: blue {blue:?} green {green:?}"
        );
        assert!(blue.iter().all(|h| !green.contains(h)), "blue {blue:?} green {green:?}");
    }
}
