//! Faults between the binary and a real etcd, injected by a loopback proxy
//! ([`crate::support::proxy`]): a member killed between pages, history compacted between
//! pages, answers cut, garbled or stalled; and writers moving hosts while reads run. Whatever
//! happens, the answer is the whole inventory of one revision, or exit 1 with one line on
//! stderr and nothing on stdout: never part of an inventory.
//!
//! The prefix holds 18,000 keys: more than the gRPC transport's first etcd read (16,384
//! keys), so its reads span two etcd reads; under `--transport gateway` with pages of 500
//! keys, 36 pages, each on its own connection through the proxy.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::etcd::EtcdCluster;
use crate::support::mover::{HostMover, members};
use crate::support::proxy::{Action, Fault, Proxy};
use crate::support::{Etcd, Run, binary, clean_command, host_names, run};

const HOSTS: usize = 3000;
const VARS: usize = 5;
/// Keys per page: many pages, and under the gateway many connections.
const PAGE: &str = "500";
/// Under the gateway, the connection (page) a fault lands on: the read is well under way.
const FAULT_PAGE: usize = 5;
/// Bytes into a gateway answer: past its headers (about 230 bytes), inside its body.
const MID_BODY: usize = 3000;
/// Bytes into the gRPC connection: inside the answer to the first etcd read (about 740 KB).
const MID_FIRST_READ: usize = 300_000;
/// A bound far above the 1 s command timeout the stall cases use, and far below the 600 s a
/// request would wait with no timeout at all: no tight timing on a loaded machine.
const PROMPT: Duration = Duration::from_secs(30);

/// The bulk inventory: `HOSTS` hosts in groups g0..g6, `VARS` variables each.
fn bulk() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut pairs = Vec::new();
    for h in 0..HOSTS {
        pairs.push((format!("/ansible/hosts/g{}/node{h:04}", h % 7).into_bytes(), Vec::new()));
        for v in 0..VARS {
            let key = format!("/ansible/hostvars/node{h:04}/v{v}");
            pairs.push((key.into_bytes(), format!("{h}-{v}").into_bytes()));
        }
    }
    pairs
}

/// `--list` through `transport` from `endpoints`, in order, with more `args`.
fn list(endpoints: &[&str], transport: &str, args: &[&str]) -> Run {
    run(clean_command(binary())
        .args(["--list", "--transport", transport, "--endpoints", &endpoints.join(",")])
        .args(args))
}

/// Prints what a faulted read did (run with --nocapture to collect them).
fn observed(case: &str, run: &Run, took: Duration) {
    match run.code {
        Some(0) => eprintln!("observed: {case}: success ({} bytes) in {took:.1?}", run.stdout.len()),
        _ => eprintln!(
            "observed: {case}: exit {:?} in {took:.1?}: {}",
            run.code,
            run.stderr.trim_end()
        ),
    }
}

/// The read gave all of `full`, byte for byte, or failed cleanly (exit 1, nothing on stdout,
/// one line on stderr): anything else, a partial inventory above all, fails the test.
/// Returns whether it succeeded.
fn whole_or_clean_failure(run: &Run, full: &Run, case: &str) -> bool {
    if run.code == Some(0) {
        assert!(
            run.stdout == full.stdout,
            "{case}: an inventory other than the whole one"
        );
        assert_eq!(run.stderr, "", "{case}");
        true
    } else {
        run.failure(&[]);
        false
    }
}

#[test]
fn a_member_killed_between_gateway_pages_passes_the_read_to_the_next_member() {
    let cluster = EtcdCluster::start(3);
    cluster.put_raw(&bulk());
    let e = cluster.endpoints();
    let full = list(&[&e[1]], "gateway", &["--page-size", PAGE]);
    assert_eq!(host_names(&full.json()).len(), HOSTS);

    // The proxy in front of member 0 kills it when page FAULT_PAGE's connection arrives:
    // the pages before came from member 0, the rest must come from member 1 at the same
    // revision. Member 0 leads: the others elect a new leader meanwhile, the hard case.
    cluster.make_leader(0);
    let cluster = Arc::new(Mutex::new(cluster));
    let kill = {
        let cluster = cluster.clone();
        move || cluster.lock().expect("cluster").stop(0)
    };
    let proxy = Proxy::with_fault(&e[0], Fault::hook_at_connection(FAULT_PAGE, kill));
    // A faithful proxy in front of member 1 shows that the read went on there.
    let next = Proxy::start(&e[1]);
    let started = Instant::now();
    let read = list(
        &[&proxy.endpoint, &next.endpoint, &e[2]],
        "gateway",
        &["--page-size", PAGE],
    );
    observed("gateway, member killed between pages", &read, started.elapsed());
    assert_eq!(proxy.fired(), 1, "the member was killed mid-read");
    assert!(
        whole_or_clean_failure(&read, &full, "member killed"),
        "a clean failure, but members 1 and 2 could serve the read: {}",
        read.stderr
    );
    assert_eq!(proxy.connections(), FAULT_PAGE + 1, "member 0 served the first pages");
    assert!(next.connections() > 0, "member 1 served the rest");
}

#[test]
fn a_member_killed_between_grpc_reads_passes_the_read_to_the_next_member() {
    let cluster = EtcdCluster::start(3);
    cluster.put_raw(&bulk());
    let e = cluster.endpoints();
    let full = list(&[&e[1]], "grpc", &[]);
    assert_eq!(host_names(&full.json()).len(), HOSTS);
    // Where the second etcd read travels: the first (16,384 of 18,000 keys) is about 91%
    // of the bytes, so 97% is inside the second, after the component pinned the revision
    // and took its first pages.
    let faithful = Proxy::start(&e[0]);
    assert!(list(&[&faithful.endpoint], "grpc", &[]).stdout == full.stdout);
    let second_read = faithful.bytes_down() * 97 / 100;
    drop(faithful);

    // Member 0 leads: the others elect a new leader meanwhile, the hard case.
    cluster.make_leader(0);
    let cluster = Arc::new(Mutex::new(cluster));
    let kill = {
        let cluster = cluster.clone();
        move || cluster.lock().expect("cluster").stop(0)
    };
    // The member dies at that byte: the answer ends there.
    let proxy = Proxy::with_fault(&e[0], Fault::new(0, second_read, Action::Die(Box::new(kill))));
    let next = Proxy::start(&e[1]);
    let started = Instant::now();
    let read = list(
        &[&proxy.endpoint, &next.endpoint, &e[2]],
        "grpc",
        &["--page-size", PAGE],
    );
    observed(
        "grpc, member killed during the second etcd read",
        &read,
        started.elapsed(),
    );
    assert_eq!(proxy.fired(), 1, "the member was killed mid-read");
    assert!(
        whole_or_clean_failure(&read, &full, "member killed"),
        "a clean failure, but members 1 and 2 could serve the read: {}",
        read.stderr
    );
    // Only what the first read left: far less than the whole read member 0 sent.
    let rest = next.bytes_down();
    assert!(
        rest > 0 && rest < second_read / 2,
        "member 1 served the rest: {rest} bytes"
    );
}

/// Writes host `host` into group `late` and compacts etcd's history up to the write: a read
/// pinned to an older revision can no longer go on.
fn write_and_compact(etcd: &Etcd, host: &str) {
    etcd.put(&[(&format!("/ansible/hosts/late/{host}"), "")]);
    etcd.compact(etcd.revision());
}

#[test]
fn history_compacted_between_gateway_pages_restarts_the_read_once() {
    let etcd = Arc::new(Etcd::start());
    etcd.put_raw(&bulk());
    let before = list(&[&etcd.endpoint], "gateway", &["--page-size", PAGE]);
    assert!(
        !before.json()["_meta"]["hostvars"]
            .as_object()
            .unwrap()
            .contains_key("late01")
    );

    let hook = {
        let etcd = etcd.clone();
        move || write_and_compact(&etcd, "late01")
    };
    let proxy = Proxy::with_fault(&etcd.endpoint, Fault::hook_at_connection(FAULT_PAGE, hook));
    let started = Instant::now();
    let read = list(&[&proxy.endpoint], "gateway", &["--page-size", PAGE]);
    observed("gateway, compacted between pages", &read, started.elapsed());
    assert_eq!(proxy.fired(), 1);
    let after = list(&[&etcd.endpoint], "gateway", &["--page-size", PAGE]);
    assert_eq!(
        read.json()["late"]["hosts"],
        serde_json::json!(["late01"]),
        "read again"
    );
    assert!(read.stdout == after.stdout, "the whole inventory at the new revision");

    // Exactly one restart: FAULT_PAGE pages, the refused one, then one full read.
    let faithful = Proxy::start(&etcd.endpoint);
    assert!(list(&[&faithful.endpoint], "gateway", &["--page-size", PAGE]).stdout == after.stdout);
    assert_eq!(proxy.connections(), FAULT_PAGE + 1 + faithful.connections());
}

#[test]
fn history_compacted_twice_in_one_gateway_read_is_one_line_of_error() {
    let etcd = Arc::new(Etcd::start());
    etcd.put_raw(&bulk());
    let compact = |host: &'static str| {
        let etcd = etcd.clone();
        move || write_and_compact(&etcd, host)
    };
    // Connection FAULT_PAGE is refused and the read restarts; FAULT_PAGE + 1 + FAULT_PAGE is
    // the restarted read's page FAULT_PAGE.
    let second = 2 * FAULT_PAGE + 1;
    let proxy = Proxy::with_faults(
        &etcd.endpoint,
        vec![
            Fault::hook_at_connection(FAULT_PAGE, compact("late01")),
            Fault::hook_at_connection(second, compact("late02")),
        ],
    );
    let started = Instant::now();
    let read = list(&[&proxy.endpoint], "gateway", &["--page-size", PAGE]);
    observed("gateway, compacted twice during one read", &read, started.elapsed());
    assert_eq!(proxy.fired(), 2);
    read.failure(&[&proxy.endpoint, "compacted", "try again"]);
}

#[test]
fn history_compacted_during_a_grpc_read_gives_one_snapshot() {
    let etcd = Arc::new(Etcd::start());
    etcd.put_raw(&bulk());
    let before = list(&[&etcd.endpoint], "grpc", &[]);
    before.json();

    // The compaction lands while the first etcd read's answer is on its way: the second
    // read, pinned to the first's revision, finds that revision compacted.
    let hook = {
        let etcd = etcd.clone();
        move || write_and_compact(&etcd, "late01")
    };
    let proxy = Proxy::with_fault(
        &etcd.endpoint,
        Fault::new(0, MID_FIRST_READ, Action::Hook(Box::new(hook))),
    );
    let started = Instant::now();
    let read = list(&[&proxy.endpoint], "grpc", &["--page-size", PAGE]);
    observed("grpc, compacted during the first etcd read", &read, started.elapsed());
    assert_eq!(proxy.fired(), 1);
    let after = list(&[&etcd.endpoint], "grpc", &[]);
    assert_eq!(read.code, Some(0), "{read:?}");
    assert!(
        read.stdout == before.stdout || read.stdout == after.stdout,
        "one snapshot: the inventory before the write or after it"
    );
    let restarted = read.stdout == after.stdout;
    eprintln!(
        "observed: grpc compaction gave the inventory {}",
        if restarted { "after" } else { "before" }
    );
}

/// One way to break one answer: where it starts, what it does, and what the one error line
/// must say besides the endpoint.
struct Break {
    name: &'static str,
    after: usize,
    action: fn() -> Action,
    says: &'static str,
}

/// Breaks of the gateway's answer to page FAULT_PAGE.
const GATEWAY_BREAKS: [Break; 7] = [
    Break {
        name: "closed at accept",
        after: 0,
        action: || Action::Close,
        says: "cannot reach etcd",
    },
    Break {
        name: "truncated in the status line",
        after: 12,
        action: || Action::Close,
        says: "not an HTTP answer",
    },
    Break {
        name: "garbled status line",
        after: 5,
        action: || Action::Garbage(4),
        says: "not an HTTP answer",
    },
    Break {
        name: "closed mid-body",
        after: MID_BODY,
        action: || Action::Close,
        says: "the answer broke off",
    },
    Break {
        name: "garbled body",
        after: MID_BODY,
        action: || Action::Garbage(64),
        says: "sent an invalid range response",
    },
    Break {
        name: "stalled before answering",
        after: 0,
        action: || Action::Stall,
        says: "timed out waiting for an answer",
    },
    Break {
        name: "stalled mid-body",
        after: MID_BODY,
        action: || Action::Stall,
        says: "connection read timeout",
    },
];

/// Breaks of the gRPC connection, which carries the whole read.
const GRPC_BREAKS: [Break; 6] = [
    Break {
        name: "closed at accept",
        after: 0,
        action: || Action::Close,
        says: "cannot reach etcd",
    },
    Break {
        name: "truncated in the first frames",
        after: 100,
        action: || Action::Close,
        says: "cannot reach etcd",
    },
    Break {
        name: "closed mid-read",
        after: MID_FIRST_READ,
        action: || Action::Close,
        says: "cannot reach etcd",
    },
    Break {
        name: "garbled mid-read",
        after: MID_FIRST_READ,
        action: || Action::Garbage(64),
        says: "",
    },
    Break {
        name: "stalled before answering",
        after: 0,
        action: || Action::Stall,
        says: "timed out waiting for an answer",
    },
    Break {
        name: "stalled mid-read",
        after: MID_FIRST_READ,
        action: || Action::Stall,
        says: "timed out waiting for an answer",
    },
];

/// Runs every break of `breaks` against a proxy to a fresh etcd as the only endpoint: each
/// is one line of error naming the proxy, promptly.
fn each_break_is_one_line_of_error(transport: &str, connection: usize, breaks: &[Break]) {
    let etcd = Etcd::start();
    etcd.put_raw(&bulk());
    for b in breaks {
        let proxy = Proxy::with_fault(&etcd.endpoint, Fault::new(connection, b.after, (b.action)()));
        let started = Instant::now();
        let read = list(
            &[&proxy.endpoint],
            transport,
            &["--page-size", PAGE, "--command-timeout", "1s"],
        );
        let took = started.elapsed();
        observed(&format!("{transport}, {}", b.name), &read, took);
        assert_eq!(proxy.fired(), 1, "{}: the fault fired", b.name);
        read.failure(&[&proxy.endpoint, b.says]);
        assert!(took < PROMPT, "{}: took {took:?}", b.name);
    }
}

#[test]
fn a_cut_garbled_or_stalled_gateway_answer_is_one_line_of_error() {
    each_break_is_one_line_of_error("gateway", FAULT_PAGE, &GATEWAY_BREAKS);
}

#[test]
fn a_cut_garbled_or_stalled_grpc_answer_is_one_line_of_error() {
    each_break_is_one_line_of_error("grpc", 0, &GRPC_BREAKS);
}

#[test]
fn a_cut_or_stalled_answer_passes_the_read_to_the_next_endpoint() {
    let etcd = Etcd::start();
    etcd.put_raw(&bulk());
    let full = list(&[&etcd.endpoint], "grpc", &[]);
    full.json();
    let cases = [
        ("gateway", FAULT_PAGE, &GATEWAY_BREAKS[3]),
        ("gateway", FAULT_PAGE, &GATEWAY_BREAKS[6]),
        ("grpc", 0, &GRPC_BREAKS[2]),
        ("grpc", 0, &GRPC_BREAKS[5]),
    ];
    for (transport, connection, b) in cases {
        let proxy = Proxy::with_fault(&etcd.endpoint, Fault::new(connection, b.after, (b.action)()));
        let started = Instant::now();
        let read = list(
            &[&proxy.endpoint, &etcd.endpoint],
            transport,
            &["--page-size", PAGE, "--command-timeout", "1s"],
        );
        let took = started.elapsed();
        observed(
            &format!("{transport}, {}, then a healthy endpoint", b.name),
            &read,
            took,
        );
        assert_eq!(proxy.fired(), 1, "{}: the fault fired", b.name);
        assert_eq!((read.code, read.stderr.as_str()), (Some(0), ""), "{}: {read:?}", b.name);
        assert!(read.stdout == full.stdout, "{}: the whole inventory", b.name);
        assert!(took < PROMPT, "{}: took {took:?}", b.name);
    }
}

/// A gRPC answer from a real etcd that breaks off mid-stream is an h2 error too, but not
/// the one an endpoint without gRPC gives: no advice to switch transports.
#[test]
fn a_grpc_answer_cut_mid_read_is_not_blamed_on_an_endpoint_without_grpc() {
    let etcd = Etcd::start();
    etcd.put_raw(&bulk());
    let proxy = Proxy::with_fault(&etcd.endpoint, Fault::new(0, MID_FIRST_READ, Action::Close));
    let read = list(&[&proxy.endpoint], "grpc", &[]);
    assert_eq!(proxy.fired(), 1);
    let line = read.failure(&[&proxy.endpoint]);
    assert!(
        !line.contains("not etcd's gRPC API") && !line.contains("set --transport gateway"),
        "a broken connection to a real etcd is not a sign of a missing gRPC API: {line}"
    );
}

/// Hosts the writer moves between groups blue and green.
const MOVING: usize = 12;

#[test]
fn every_list_is_one_snapshot_while_a_writer_moves_hosts_between_groups() {
    let etcd = Etcd::start();
    etcd.put_raw(&bulk());
    // Keys sort hostvars (15,000), hosts/blue, hosts/g0..g6 (3,000), hosts/green: blue and
    // green are pages apart, and under gRPC in different etcd reads (the first ends at
    // 16,384 keys, among hosts/g*). Hundreds of moves a second, not all the CPU: the reads
    // must run too.
    let writer = HostMover::start(&etcd, MOVING, Duration::from_millis(1));
    // 30 reads: both transports, large pages and small.
    let reads: [(&str, &str); 6] = [
        ("grpc", "10000"),
        ("grpc", "50"),
        ("gateway", "10000"),
        ("gateway", "300"),
        ("grpc", "200"),
        ("gateway", "1000"),
    ];
    let mut outputs = Vec::new();
    for (transport, page) in reads.iter().cycle().take(30) {
        let read = list(&[&etcd.endpoint], transport, &["--page-size", page]);
        outputs.push((*transport, *page, read));
    }
    let moves = writer.stop();
    eprintln!("observed: concurrent writer: {moves} moves during 30 reads, each one snapshot");
    assert!(moves > 30, "the writer kept writing during the reads: {moves} moves");

    let mut seen = std::collections::BTreeSet::new();
    for (transport, page, read) in outputs {
        let inventory = read.json();
        let (blue, green) = (members(&inventory, "blue"), members(&inventory, "green"));
        let case = format!("{transport} --page-size {page}: blue {blue:?} green {green:?}");
        assert_eq!(blue.len() + green.len(), MOVING, "each host in one group: {case}");
        assert!(blue.iter().all(|h| !green.contains(h)), "{case}");
        assert_eq!(
            host_names(&inventory).len(),
            HOSTS + MOVING,
            "the whole inventory: {case}"
        );
        seen.insert(blue);
    }
    // The reads saw different revisions: the writes really went on between and during them.
    assert!(seen.len() > 1, "every read saw the same groups: {seen:?}");
}
