//! Several members: a stopped or stalled member passes the read to the next; when none
//! answers, the one error names every endpoint and why.

use std::time::{Duration, Instant};

use crate::support::etcd::EtcdCluster;
use crate::support::stall::StallingServer;
use crate::support::{Etcd, SAMPLE_KV, binary, clean_command, run};

fn list(endpoints: &[&str], extra: &[&str]) -> crate::support::Run {
    run(clean_command(binary())
        .args(["--list", "--endpoints", &endpoints.join(",")])
        .args(extra))
}

#[test]
fn a_three_member_cluster_serves_the_inventory_with_members_down() {
    let mut cluster = EtcdCluster::start(3);
    cluster.load("/ansible", SAMPLE_KV);
    let e = cluster.endpoints();
    let full = list(&[&e[0], &e[1], &e[2]], &[]).json();
    assert_eq!(full["web"]["hosts"], serde_json::json!(["web01", "web02"]));

    cluster.stop(2);
    assert_eq!(list(&[&e[0], &e[1], &e[2]], &[]).json(), full, "one member stopped");
    assert_eq!(
        list(&[&e[2], &e[0], &e[1]], &[]).json(),
        full,
        "the first listed one stopped"
    );

    cluster.stop(0);
    cluster.stop(1);
    let line = list(&[&e[0], &e[1], &e[2]], &[]).failure(&["cannot reach etcd at any of 3 endpoints"]);
    for endpoint in &e {
        assert!(line.contains(&format!("{endpoint}: connection refused")), "{line}");
    }
}

#[test]
fn a_stalled_member_fails_over_within_the_command_timeout() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let stalled = StallingServer::start();
    let started = Instant::now();
    let failed_over = list(&[&stalled.endpoint, &etcd.endpoint], &["--command-timeout", "1s"]);
    assert_eq!(failed_over.json()["db"]["hosts"], serde_json::json!(["db01"]));
    // A bound far above 1 s, far below the 600 s a request waits with no timeout at all.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert!(stalled.connections() >= 1, "the stalled member was tried first");

    let only_stalled = run(clean_command(binary())
        .args(["--list", "--endpoints", &stalled.endpoint])
        .env("ETCDCTL_COMMAND_TIMEOUT", "500ms"));
    only_stalled.failure(&[&stalled.endpoint, "timed out waiting for an answer"]);
}
