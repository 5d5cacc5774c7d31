//! One consistent snapshot while others write: every page of a read is pinned to the
//! revision of the first, so an invariant that each write keeps holds in every output.

use std::time::Duration;

use crate::support::mover::{HostMover, members};
use crate::support::{Etcd, inventory};

const HOSTS: usize = 12;

#[test]
fn every_list_is_one_snapshot_while_a_writer_moves_hosts_between_groups() {
    let etcd = Etcd::start();
    // Every revision has each host in exactly one of blue and green.
    let writer = HostMover::start(&etcd, HOSTS, Duration::ZERO);

    let mut outputs = Vec::new();
    for _ in 0..8 {
        // Two keys a page: a read spans many pages, and many writes happen meanwhile.
        outputs.push(inventory(&etcd, &["--list", "--page-size", "2"]).json());
    }
    let moves = writer.stop();
    assert!(moves > 0, "the writer made no move");

    for json in outputs {
        let (blue, green) = (members(&json, "blue"), members(&json, "green"));
        assert_eq!(
            blue.len() + green.len(),
            HOSTS,
            "each host in exactly one group: blue {blue:?} green {green:?}"
        );
        assert!(blue.iter().all(|h| !green.contains(h)), "blue {blue:?} green {green:?}");
    }
}
