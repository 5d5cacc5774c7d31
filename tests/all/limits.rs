//! The sandbox's limits: a component that needs more memory, or more time, than it is
//! given stops with one line naming the limit and the setting that raises it, under both
//! transports, and nothing on stdout.

use std::time::{Duration, Instant};

use crate::support::stall::StallingServer;
use crate::support::{Etcd, SAMPLE_KV, binary, clean_command, inventory, run};

/// An etcd holding the sample and `hosts` more hosts of ten variables each.
fn etcd_with_hosts(hosts: usize) -> Etcd {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let pairs: Vec<(String, String)> = (0..hosts)
        .flat_map(|h| {
            let member = (format!("/ansible/hosts/bulk/bulk{h:05}"), String::new());
            let vars = (0..10).map(move |v| (format!("/ansible/hostvars/bulk{h:05}/var{v}"), format!("value {h} {v}")));
            std::iter::once(member).chain(vars)
        })
        .collect();
    for chunk in pairs.chunks(1_000) {
        let chunk: Vec<(&str, &str)> = chunk.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        etcd.put(&chunk);
    }
    etcd
}

#[test]
fn the_memory_limit_stops_a_read_that_needs_more_with_a_clear_error() {
    let etcd = etcd_with_hosts(5_000);
    for transport in ["grpc", "gateway"] {
        let fits = inventory(&etcd, &["--list", "--transport", transport, "--memory-limit", "256"]);
        assert_eq!(fits.json()["bulk"]["hosts"].as_array().map(Vec::len), Some(5_000));

        let line = inventory(&etcd, &["--list", "--transport", transport, "--memory-limit", "4"]).failure(&[
            "memory than its limit of 4 MiB",
            "--memory-limit MIB (ETCD_INVENTORY_MEMORY_LIMIT, or memory_limit in etcd.ini)",
        ]);
        assert!(
            !line.contains("unreachable"),
            "named as the limit, not as a trap: {line}"
        );
    }
    // The environment variable and etcd.ini set it too.
    run(clean_command(binary())
        .arg("--list")
        .env("ETCDCTL_ENDPOINTS", &etcd.endpoint)
        .env("ETCD_INVENTORY_MEMORY_LIMIT", "4"))
    .failure(&["limit of 4 MiB"]);
    let dir = tempfile::tempdir().expect("temp dir");
    let ini = dir.path().join("etcd.ini");
    std::fs::write(&ini, "[etcd]\nmemory_limit = 4\n").expect("write etcd.ini");
    run(clean_command(binary())
        .arg("--list")
        .env("ETCDCTL_ENDPOINTS", &etcd.endpoint)
        .env("ETCD_INI_PATH", &ini))
    .failure(&["limit of 4 MiB"]);
}

#[test]
fn the_time_limit_ends_a_wait_that_the_request_timeout_would_allow() {
    let stalled = StallingServer::start();
    for transport in ["grpc", "gateway"] {
        let started = Instant::now();
        run(clean_command(binary()).args([
            "--list",
            "--endpoints",
            &stalled.endpoint,
            "--transport",
            transport,
            "--dial-timeout",
            "60s",
            "--command-timeout",
            "60s",
            "--time-limit",
            "1s",
        ]))
        .failure(&[
            "did not finish within its time limit of 1 s",
            "--time-limit DURATION (ETCD_INVENTORY_TIME_LIMIT, or time_limit in etcd.ini)",
        ]);
        // Far below the 60 s the request would have waited; far above 1 s on a busy machine.
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{transport}: {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn check_runs_within_the_same_limits_as_list() {
    let etcd = etcd_with_hosts(5_000);
    let checked = inventory(&etcd, &["check", "--memory-limit", "256"]);
    assert_eq!(checked.code, Some(0), "{checked:#?}");
    assert!(
        checked.stdout.contains(" in 55014 key(s) under /ansible/"),
        "{checked:#?}"
    );
    inventory(&etcd, &["check", "--memory-limit", "4"]).failure(&[
        "memory than its limit of 4 MiB",
        "--memory-limit MIB (ETCD_INVENTORY_MEMORY_LIMIT, or memory_limit in etcd.ini)",
    ]);
    let stalled = StallingServer::start();
    let started = Instant::now();
    run(clean_command(binary()).args([
        "check",
        "--endpoints",
        &stalled.endpoint,
        "--command-timeout",
        "60s",
        "--time-limit",
        "1s",
    ]))
    .failure(&["did not finish within its time limit of 1 s"]);
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
}

#[test]
fn the_time_limit_stops_a_long_read() {
    let etcd = etcd_with_hosts(5_000);
    // Most of this read is the component's own work (building 55,000 variables, pages
    // served from the host's memory without waiting), so the deadline mostly falls while
    // wasm runs: the epoch check stops it there, the host's timer during a wait.
    let started = Instant::now();
    inventory(&etcd, &["--list", "--time-limit", "5ms"]).failure(&["time limit of 5 ms"]);
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    // A bad limit is refused before anything is read.
    inventory(&etcd, &["--list", "--time-limit", "soon"]).failure(&["--time-limit", "unknown unit \"soon\""]);
    inventory(&etcd, &["--list", "--memory-limit", "5000"]).failure(&["--memory-limit", "at most 4096"]);
}
