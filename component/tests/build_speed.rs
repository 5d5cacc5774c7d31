//! How long the pure core takes to build `--list`'s inventory (and `check`'s findings) of
//! 100,000 hosts with 10 variables each, the shape `scripts/bench.py` loads into etcd. A
//! measurement, not a timed assertion: it prints the best of 5 and checks only what was
//! built. Ignored by default (slow in a debug build); run it in release:
//!
//! ```sh
//! cargo test --release -p etcd-inventory-component --test build_speed -- --ignored --nocapture
//! ```

use std::time::{Duration, Instant};

use etcd_inventory::check;
use etcd_inventory::inventory::{self, Kv};
use etcd_inventory::layout::Prefix;
use etcd_inventory::values::ValueRules;

const HOSTS: usize = 100_000;
const VARS: usize = 10;
const GROUPS: usize = 20;
const RUNS: usize = 5;

/// `scripts/bench.py`'s pairs, in etcd's key order.
fn bench_pairs() -> Vec<Kv> {
    let kv = |key: String, value: String| Kv {
        key: key.into_bytes(),
        value: value.into_bytes(),
    };
    let mut pairs = Vec::with_capacity(GROUPS + HOSTS * (VARS + 1));
    for g in 0..GROUPS {
        pairs.push(kv(format!("/ansible/groupvars/group{g:02}/role"), format!("role{g}")));
    }
    for h in 0..HOSTS {
        let name = format!("host{h:06}.example.com");
        pairs.push(kv(
            format!("/ansible/hosts/group{:02}/{name}", h % GROUPS),
            String::new(),
        ));
        for v in 0..VARS {
            pairs.push(kv(format!("/ansible/hostvars/{name}/var{v}"), format!("value-{h}-{v}")));
        }
    }
    pairs.sort_by(|a, b| a.key.cmp(&b.key));
    pairs
}

/// The best of [`RUNS`] runs of `work`.
fn best_of<T>(mut work: impl FnMut() -> T, mut verify: impl FnMut(T)) -> Duration {
    (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let out = work();
            let took = start.elapsed();
            verify(out);
            took
        })
        .min()
        .expect("RUNS > 0")
}

#[test]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
fn build_100000_hosts_with_10_variables() {
    let pairs = bench_pairs();
    let prefix = Prefix::new("/ansible");
    let rules = ValueRules::default();
    let list = best_of(
        || inventory::build(&prefix, &pairs, &rules),
        |built| {
            let built = built.expect("builds");
            assert_eq!(built.value.hostvars.len(), HOSTS);
            assert!(built.value.hostvars.values().all(|vars| vars.len() == VARS));
        },
    );
    let checked = best_of(
        || check::check(&prefix, &pairs, &rules),
        |findings| assert_eq!(findings, []),
    );
    println!(
        "{} pairs: --list's build {:.1} ms, check {:.1} ms (best of {RUNS})",
        pairs.len(),
        list.as_secs_f64() * 1e3,
        checked.as_secs_f64() * 1e3
    );
}
