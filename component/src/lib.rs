//! etcd-inventory: an Ansible inventory read from etcd, as a WASI component.
//!
//! The crate is the component (`wasm32-wasip2`, a cdylib) and, natively, the library its
//! host and tests share. The modules split the work:
//! - [`layout`]: which keys mean what (the key layout, in one place);
//! - [`inventory`]: the pure core, key-value pairs to a validated inventory;
//! - [`values`]: how a stored value becomes a variable (unsafe, vault, typed);
//! - [`etcd`]: etcd as the core reads it (the WIT `etcd` interface as a trait), and the one
//!   paged, revision-pinned reader;
//! - [`graph`]: the `--graph` tree view;
//! - [`import`], [`apply`] and [`check`]: the write side's pure parts (the host does the
//!   writing);
//! - [`settings`]: flag > environment > etcd.ini > default, for every shell;
//! - [`cli`]: the component's own command line for stock hosts;
//! - [`error`]: the one error type and its rendering.
//!
//! The WIT bindings live in a private module compiled only for wasm32 (with the `component`
//! feature: the gateway component links this crate as a library, without its exports).

pub mod apply;
pub mod check;
pub mod cli;
pub mod error;
pub mod etcd;
pub mod graph;
pub mod import;
pub mod inventory;
pub mod layout;
pub mod settings;
pub mod values;

#[cfg(all(target_arch = "wasm32", feature = "component"))]
mod guest;

use error::Error;
use etcd::Etcd;
use inventory::Warnings;
use settings::Settings;

/// A rendered answer: the JSON an inventory script prints, and what to warn about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub json: String,
    pub warnings: Warnings,
    /// The etcd revision everything was read at.
    pub revision: i64,
    /// How many keys were read: with the revision, what [`inventory_unchanged`] checks.
    pub key_count: u64,
}

/// The inventory as data, and what its read found: `--list` before it is rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub inventory: inventory::Inventory,
    pub warnings: Warnings,
    /// The etcd revision everything was read at.
    pub revision: i64,
    /// How many keys were read.
    pub key_count: u64,
    /// About how long the JSON is: the keys' and values' bytes.
    pub bytes: usize,
}

/// `--list`: reads the whole prefix in one snapshot and renders the inventory.
pub fn list_inventory(etcd: &mut dyn Etcd, settings: &Settings) -> Result<Answer, Error> {
    let listed = read_inventory(etcd, settings)?;
    Ok(Answer {
        // One allocation, no regrowth.
        json: to_json(&listed.inventory, listed.bytes),
        warnings: listed.warnings,
        revision: listed.revision,
        key_count: listed.key_count,
    })
}

/// Reads every key under the prefix in one snapshot, page by page into `sink`.
fn read_whole_prefix(etcd: &mut dyn Etcd, settings: &Settings, sink: &mut dyn etcd::Sink) -> Result<etcd::Read, Error> {
    etcd::read_into(etcd, &settings.prefix.range(), settings.page_size, sink)
}

/// Reads the whole prefix in one snapshot and builds the inventory, as data.
pub fn read_inventory(etcd: &mut dyn Etcd, settings: &Settings) -> Result<Listed, Error> {
    // Each page goes into the builder as it arrives: the range is never held whole.
    let mut builder = inventory::Builder::new(&settings.prefix, &settings.values);
    let read = read_whole_prefix(etcd, settings, &mut builder)?;
    // The output is about as long as the keys and values.
    let bytes = builder.bytes();
    let built = builder.finish()?;
    Ok(Listed {
        inventory: built.value,
        warnings: built.warnings,
        revision: read.revision,
        key_count: read.keys,
        bytes,
    })
}

/// Whether the prefix still holds what a `--list` read at `revision` found in `key_count`
/// keys: the check that makes a cached inventory exact (see [`etcd::unchanged_since`]).
/// `Some(r)`: unchanged as of revision `r`.
pub fn inventory_unchanged(
    etcd: &mut dyn Etcd,
    settings: &Settings,
    revision: i64,
    key_count: u64,
) -> Result<Option<i64>, Error> {
    Ok(etcd::unchanged_since(
        etcd,
        &settings.prefix.range(),
        revision,
        key_count,
    )?)
}

/// What `check` found in the keys under the prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Fatal findings first (see [`check::check`]).
    pub findings: Vec<check::Finding>,
    /// The etcd revision the keys were read at.
    pub revision: i64,
    /// How many keys were read.
    pub key_count: u64,
    /// Hosts whose keys are attached to a lease (registered hosts), by name, with the
    /// time their lease has left.
    pub leased: Vec<check::LeasedHost>,
}

/// Leases whose time left `check` looks up, one request each; hosts beyond are listed
/// with the time unknown.
pub const MAX_LEASE_LOOKUPS: usize = 1000;

/// The pairs of a read, and which keys are attached to a lease.
#[derive(Default)]
struct LeasedPairs {
    kvs: Vec<inventory::Kv>,
    leased: Vec<(Vec<u8>, i64)>,
}

impl etcd::Sink for LeasedPairs {
    fn pair(&mut self, key: &[u8], value: Vec<u8>) -> Result<(), Error> {
        self.kvs.pair(key, value)
    }

    fn leased_pair(&mut self, key: &[u8], value: Vec<u8>, lease: i64) -> Result<(), Error> {
        if lease != 0 {
            self.leased.push((key.to_vec(), lease));
        }
        self.kvs.pair(key, value)
    }

    fn restart(&mut self) {
        *self = LeasedPairs::default();
    }
}

/// `check`: reads the prefix in one snapshot, as `--list` does, and reports every finding
/// rather than failing on the first; then how long each registered host's lease has left
/// (read after the snapshot: a lease's time is not part of a revision). Run in the sandbox,
/// like `--list`, and so within the same memory and time limits.
pub fn check_inventory(etcd: &mut dyn Etcd, settings: &Settings) -> Result<Checked, Error> {
    let mut pairs = LeasedPairs::default();
    let read = read_whole_prefix(etcd, settings, &mut pairs)?;
    let mut leased = check::leased_hosts(&settings.prefix, &pairs.leased);
    let mut leases: Vec<i64> = leased.iter().map(|h| h.lease).collect();
    leases.sort_unstable();
    leases.dedup();
    leases.truncate(MAX_LEASE_LOOKUPS);
    let ttls = (leases.iter())
        .map(|&lease| etcd.lease_ttl(lease))
        .collect::<Result<Vec<_>, _>>()?;
    for host in &mut leased {
        host.ttl_s = leases.binary_search(&host.lease).ok().and_then(|i| ttls[i]);
    }
    Ok(Checked {
        findings: check::check(&settings.prefix, &pairs.kvs, &settings.values),
        revision: read.revision,
        key_count: read.keys,
        leased,
    })
}

/// `--graph GROUP`: the tree under a group, as `ansible-inventory --graph` draws it.
pub fn graph_inventory(etcd: &mut dyn Etcd, settings: &Settings, root: &str) -> Result<Answer, Error> {
    let mut answer = list_inventory(etcd, settings)?;
    answer.json = graph::render(&answer.json, root)?;
    Ok(answer)
}

/// `--host NAME`: reads only that host's variables; `{}` for an unknown host.
pub fn host_vars(etcd: &mut dyn Etcd, settings: &Settings, host: &str) -> Result<Answer, Error> {
    let range = settings.prefix.host_vars_range(host);
    let (read, kvs) = etcd::read_all(etcd, &range, settings.page_size)?;
    let built = inventory::host_vars(&settings.prefix, host, &kvs, &settings.values)?;
    Ok(Answer {
        json: to_json(&built.value, 0),
        warnings: built.warnings,
        revision: read.revision,
        key_count: read.keys,
    })
}

fn to_json(value: &impl serde::Serialize, capacity: usize) -> String {
    let mut out = Vec::with_capacity(capacity);
    // Maps with string keys and string leaves: serialisation cannot fail.
    serde_json::to_writer(&mut out, value).expect("inventory JSON serialises");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}
