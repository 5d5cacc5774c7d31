//! Property tests of the pure core: arbitrary key-value sets (well-formed layout keys over
//! small name alphabets, so groups and hosts collide and nest, mixed with mangled keys,
//! junk bytes, invalid UTF-8, empty segments and loops among groups) go through the same
//! public functions the shells use. The core must either refuse the data with an error or
//! produce an inventory that keeps Ansible's invariants, the same one whatever the order
//! the keys came in, and the same one a paged read builds.

use std::collections::{BTreeMap, BTreeSet};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use etcd_inventory::check::{self, Finding};
use etcd_inventory::etcd::{self, Etcd, EtcdError, Page, RangeStamp};
use etcd_inventory::inventory::{self, Builder, Inventory, Kv};
use etcd_inventory::layout::{KeyRange, Prefix};
use etcd_inventory::values::ValueRules;

// ---------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------

const PREFIXES: &[&str] = &["/ansible", "/ansible/", "/", "", "/a/b"];

/// Group names in the order children edges usually follow (parent before child), so most
/// hierarchies are trees and diamonds; a few edges go backwards and may close a loop.
const GROUP_ORDER: &[&str] = &["all", "a", "b", "c", "web", "db", "x.y", "ungrouped"];

/// Host and group names: a few common ones so that they collide, some that Ansible
/// reserves, and now and then a random one that may hold a `/`, a NUL or be empty.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        400 => select(&["a", "b", "c", "web", "db", "h1", "h2"][..]).prop_map(String::from),
        60 => select(&["all", "ungrouped"][..]).prop_map(String::from),
        40 => select(&["x.y", "é", "a b", "A", "-"][..]).prop_map(String::from),
        3 => Just("_meta".to_string()),
        2 => select(&["__ansible_unsafe", "__ansible_vault", "__ansible_type", "__ansible_x"][..]).prop_map(String::from),
        20 => vec(select(&['a', 'b', '/', ' ', '\0', 'é', '\u{2028}', '"', '\\'][..]), 0..4)
            .prop_map(|chars| chars.into_iter().collect::<String>()),
    ]
}

/// Variable names: flat ones, paths (variables of nested maps, when nested keys are on),
/// and rarely one that clashes with a path or mimics Ansible's markers.
fn var() -> impl Strategy<Value = String> {
    prop_oneof![
        40 => select(&["x", "y", "port", "nginx/port", "nginx/tls/cert", "db/name", "x y"][..])
            .prop_map(String::from),
        1 => select(&["nginx", "nginx/tls", "db"][..]).prop_map(String::from),
        1 => select(&["__ansible_unsafe", "__ansible_vault", "__ansible_type", "nginx/__ansible_unsafe", "__ansible_x"][..])
            .prop_map(String::from),
        1 => vec(select(&['v', '/', '_', 'é', '\0'][..]), 0..4).prop_map(|chars| chars.into_iter().collect::<String>()),
    ]
}

/// Values: typical text, JSON of every kind (for typed values), templates, Vault
/// ciphertexts, forged markers, arbitrary text, and rarely bytes that are not UTF-8.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        300 => select(
            &[
                "", "0", "1", "2", "007", "80", "true", "null", "1.5", "-0", "1e400", "[1,\"a\"]", "{\"k\":{\"s\":\"{{ x }}\"}}",
                "{\"a\":1,\"a\":2}", "\"quoted\"", "{{ lookup('pipe','id') }}", "  $ANSIBLE_VAULT;1.1;AES256\n6162\n",
                "{\"__ansible_unsafe\":\"x\"}", "\u{2028}", "web 01",
            ][..]
        )
        .prop_map(|s| s.as_bytes().to_vec()),
        60 => any::<String>().prop_map(String::into_bytes),
        3 => vec(any::<u8>(), 0..6),
    ]
}

/// One key, built for the inventory under `dir` (the prefix's directory).
fn key(dir: String) -> impl Strategy<Value = Vec<u8>> {
    let d = dir.clone();
    let well_formed = prop_oneof![
        3 => (name(), var()).prop_map(move |(h, v)| format!("{d}hostvars/{h}/{v}")),
        2 => (name(), var()).prop_map({
            let d = dir.clone();
            move |(g, v)| format!("{d}groupvars/{g}/{v}")
        }),
        3 => (name(), name()).prop_map({
            let d = dir.clone();
            move |(g, h)| format!("{d}hosts/{g}/{h}")
        }),
        3 => (0..GROUP_ORDER.len(), 0..GROUP_ORDER.len(), prop::bool::weighted(0.04)).prop_map({
            let d = dir.clone();
            move |(i, j, backwards)| {
                let (parent, child) = if backwards { (i, j) } else { (i.min(j), i.max(j)) };
                // A group that is its own child is a loop: only when backwards on purpose.
                let child = if parent == child && !backwards { GROUP_ORDER.len() - 1 } else { child };
                format!("{d}groups/{}/{}", GROUP_ORDER[parent], GROUP_ORDER[child])
            }
        }),
        1 => (name(), name()).prop_map({
            let d = dir.clone();
            move |(p, c)| format!("{d}groups/{p}/{c}")
        }),
    ];
    let kind = select(&["hostvars", "groupvars", "hosts", "groups", "Hosts", "other", ""][..]);
    let mangled = (kind, name(), name(), 0..7usize).prop_map({
        let d = dir.clone();
        move |(kind, a, b, how)| {
            let sibling = format!("{}2/", d.trim_end_matches('/'));
            match how {
                0 => format!("{sibling}{kind}/{a}/{b}"),
                1 => format!("{d}{kind}/{a}"),
                2 => format!("{d}{kind}/{a}/{b}/"),
                3 => format!("{d}{kind}//{b}"),
                4 => format!("{d}{kind}/{a}/{b}/{a}"),
                5 => format!("{kind}/{a}/{b}"),
                _ => format!("{d}{kind}"),
            }
        }
    });
    let bytes = prop_oneof![
        20 => vec(select(&[b'a', b'/', b'/', b'.', b' ', 0, b'h', b's'][..]), 0..10),
        1 => vec(any::<u8>(), 0..10),
    ];
    let junk = (any::<bool>(), bytes).prop_map({
        let d = dir.clone();
        move |(under, bytes)| {
            let mut key = if under { d.clone().into_bytes() } else { Vec::new() };
            key.extend(bytes);
            key
        }
    });
    let not_utf8 = (well_formed.clone(), any::<prop::sample::Index>(), 0x80u8..=0xff).prop_map(|(key, at, byte)| {
        let mut key = key.into_bytes();
        key.insert(at.index(key.len() + 1), byte);
        key
    });
    prop_oneof![
        600 => well_formed.prop_map(String::into_bytes),
        60 => mangled.prop_map(String::into_bytes),
        30 => junk,
        3 => not_utf8,
    ]
}

/// An input: the prefix, the value rules, and etcd's pairs (unique keys, in key order).
#[derive(Clone)]
struct Case {
    prefix: &'static str,
    rules: ValueRules,
    pairs: Vec<Kv>,
    /// Drives the shuffles of the order-independence checks.
    seed: u64,
    /// Keys per page of the gateway read.
    page_size: u32,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "prefix {:?}, {:?}, page size {}",
            self.prefix, self.rules, self.page_size
        )?;
        for kv in &self.pairs {
            writeln!(
                f,
                "  {:?} = {:?}",
                kv.key.escape_ascii().to_string(),
                kv.value.escape_ascii().to_string()
            )?;
        }
        Ok(())
    }
}

fn case() -> impl Strategy<Value = Case> {
    (select(PREFIXES), any::<(bool, bool, bool)>())
        .prop_flat_map(|(prefix, (trust_templates, typed_values, nested_keys))| {
            let dir = Prefix::new(prefix).dir();
            (
                Just(prefix),
                Just(ValueRules {
                    trust_templates,
                    typed_values,
                    nested_keys,
                }),
                vec((key(dir), value()), 0..32),
                any::<u64>(),
                1..6u32,
            )
        })
        .prop_map(|(prefix, rules, pairs, seed, page_size)| {
            // etcd's keys are unique and come in byte order.
            let pairs: BTreeMap<Vec<u8>, Vec<u8>> = pairs.into_iter().collect();
            Case {
                prefix,
                rules,
                pairs: pairs.into_iter().map(|(key, value)| Kv { key, value }).collect(),
                seed,
                page_size,
            }
        })
}

/// A permutation of `pairs` decided by `seed` (Fisher-Yates with xorshift).
fn shuffled(pairs: &[Kv], seed: u64) -> Vec<Kv> {
    let mut out = pairs.to_vec();
    let mut state = seed | 1;
    for i in (1..out.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.swap(i, (state % (i as u64 + 1)) as usize);
    }
    out
}

// ---------------------------------------------------------------------------------------
// What the shells do with the core
// ---------------------------------------------------------------------------------------

/// What `--list` prints: the inventory as compact JSON, as lib.rs renders it.
fn render(inventory: &Inventory) -> String {
    serde_json::to_string(inventory).expect("an inventory serialises")
}

type Outcome = Result<(String, Option<u64>), String>;

fn build(case: &Case, pairs: &[Kv]) -> Outcome {
    let prefix = Prefix::new(case.prefix);
    inventory::build(&prefix, pairs, &case.rules)
        .map(|built| (render(&built.value), built.warnings.skipped.map(|s| s.count)))
        .map_err(|e| format!("{e:?}"))
}

/// The pairs of `pairs` inside `range`, as etcd would answer a range read.
fn in_range<'p>(pairs: &'p [Kv], range: &KeyRange) -> impl Iterator<Item = &'p Kv> {
    pairs
        .iter()
        .filter(move |kv| kv.key >= range.start && (range.end == [0] || kv.key < range.end))
}

/// An etcd that answers paged reads from a fixed set of pairs at one revision.
struct FakeEtcd {
    pairs: Vec<Kv>,
    revision: i64,
    /// The read under way: the pairs still to come, and the page size.
    pending: std::collections::VecDeque<Kv>,
    page_size: usize,
    pages: usize,
}

impl Etcd for FakeEtcd {
    fn read(&mut self, range: &KeyRange, page_size: u32) -> Result<(), EtcdError> {
        self.pending = in_range(&self.pairs, range).cloned().collect();
        self.page_size = page_size as usize;
        Ok(())
    }

    fn next_page(&mut self) -> Result<Option<Page>, EtcdError> {
        self.pages += 1;
        assert!(self.pages <= 100_000, "the read does not end");
        if self.pending.is_empty() {
            return Ok(None);
        }
        let taken = self.page_size.min(self.pending.len());
        let mut page = Page::new(self.revision);
        for kv in self.pending.drain(..taken) {
            page.push(&kv.key, &kv.value, 0);
        }
        Ok(Some(page))
    }

    fn current_revision(&mut self, _key: &[u8]) -> Result<i64, EtcdError> {
        Ok(self.revision)
    }

    fn stamp(&mut self, _range: &KeyRange, _after: i64) -> Result<RangeStamp, EtcdError> {
        unreachable!("--list does not stamp")
    }

    fn lease_ttl(&mut self, _lease: i64) -> Result<Option<i64>, EtcdError> {
        unreachable!("--list reads no lease")
    }
}

/// `--list` as lib.rs does it: a paged read into a builder.
fn list_through_gateway(case: &Case) -> Outcome {
    let prefix = Prefix::new(case.prefix);
    let mut etcd = FakeEtcd {
        pairs: case.pairs.clone(),
        revision: 42,
        pending: Default::default(),
        page_size: 0,
        pages: 0,
    };
    let mut builder = Builder::new(&prefix, &case.rules);
    let read =
        etcd::read_into(&mut etcd, &prefix.range(), case.page_size, &mut builder).map_err(|e| format!("{e:?}"))?;
    assert_eq!(read.revision, if read.keys == 0 { 0 } else { 42 });
    assert_eq!(read.keys as usize, in_range(&case.pairs, &prefix.range()).count());
    let built = builder.finish().map_err(|e| format!("{e:?}"))?;
    Ok((render(&built.value), built.warnings.skipped.map(|s| s.count)))
}

// ---------------------------------------------------------------------------------------
// Invariants of any inventory-script JSON
// ---------------------------------------------------------------------------------------

fn strings(value: &Value, what: &str) -> Vec<String> {
    let items = value.as_array().unwrap_or_else(|| panic!("{what} is not an array"));
    let names: Vec<String> = items
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("{what} holds a non-string"))
                .to_string()
        })
        .collect();
    let unique: BTreeSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "{what} names one twice: {names:?}");
    names
}

/// The groups of an inventory: name to (hosts, children).
type Groups = BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>;

/// Checks the shape and the invariants Ansible relies on; returns the groups and hosts.
fn check_inventory(json: &str) -> (Groups, BTreeSet<String>) {
    let doc: Value = serde_json::from_str(json).expect("the output is JSON");
    let top = doc.as_object().expect("the output is an object");
    let meta = top["_meta"].as_object().expect("_meta is an object");
    assert_eq!(meta.keys().collect::<Vec<_>>(), ["hostvars"]);
    let hostvars = meta["hostvars"].as_object().expect("_meta.hostvars is an object");
    for (host, vars) in hostvars {
        assert!(vars.is_object(), "the variables of {host:?} are not an object");
    }
    let hosts: BTreeSet<String> = hostvars.keys().cloned().collect();

    let mut groups = Groups::new();
    for (name, group) in top.iter().filter(|(name, _)| *name != "_meta") {
        let fields = group
            .as_object()
            .unwrap_or_else(|| panic!("group {name:?} is not an object"));
        assert_eq!(
            fields.keys().collect::<Vec<_>>(),
            ["children", "hosts", "vars"],
            "group {name:?}"
        );
        assert!(fields["vars"].is_object(), "vars of {name:?}");
        let members = strings(&fields["hosts"], &format!("{name}.hosts"));
        let children = strings(&fields["children"], &format!("{name}.children"));
        groups.insert(
            name.clone(),
            (members.into_iter().collect(), children.into_iter().collect()),
        );
    }
    assert!(groups.contains_key("all") && groups.contains_key("ungrouped"));

    for (name, (members, children)) in &groups {
        for host in members {
            assert!(
                hosts.contains(host),
                "host {host:?} of group {name:?} is not in _meta.hostvars"
            );
        }
        for child in children {
            assert!(groups.contains_key(child), "child {child:?} of {name:?} is no group");
            assert_ne!(child, "all", "all is a child of {name:?}");
        }
    }

    // No loops: Kahn's algorithm removes every group.
    let mut parents: BTreeMap<&str, usize> = groups.keys().map(|g| (g.as_str(), 0)).collect();
    for (_, children) in groups.values() {
        for child in children {
            *parents.get_mut(child.as_str()).unwrap() += 1;
        }
    }
    let mut free: Vec<&str> = parents.iter().filter(|(_, n)| **n == 0).map(|(g, _)| *g).collect();
    let mut removed = 0;
    while let Some(group) = free.pop() {
        removed += 1;
        for child in &groups[group].1 {
            let n = parents.get_mut(child.as_str()).unwrap();
            *n -= 1;
            if *n == 0 {
                free.push(child);
            }
        }
    }
    assert_eq!(removed, groups.len(), "the children graph has a loop");

    // Everything hangs under all.
    let mut reached = BTreeSet::new();
    let mut todo = vec!["all"];
    while let Some(group) = todo.pop() {
        if reached.insert(group) {
            todo.extend(groups[group].1.iter().map(String::as_str));
        }
    }
    for group in groups.keys() {
        assert!(reached.contains(group.as_str()), "group {group:?} is not under all");
    }
    let reachable: BTreeSet<&String> = reached.iter().flat_map(|g| &groups[*g].0).collect();
    for host in &hosts {
        assert!(reachable.contains(host), "host {host:?} is not reachable from all");
    }

    // Hosts in no group but all and ungrouped are in ungrouped.
    for host in &hosts {
        let in_other = groups
            .iter()
            .any(|(g, (members, _))| g != "all" && g != "ungrouped" && members.contains(host));
        if !in_other {
            assert!(
                groups["ungrouped"].0.contains(host),
                "host {host:?} is in no group but not in ungrouped"
            );
        }
    }
    (groups, hosts)
}

/// Ansible's `ungrouped`: exactly the hosts in no group other than `all` (and itself).
fn check_ungrouped_is_exact(groups: &Groups, hosts: &BTreeSet<String>) {
    for host in hosts {
        let in_other = groups
            .iter()
            .any(|(g, (members, _))| g != "all" && g != "ungrouped" && members.contains(host));
        let listed = groups["ungrouped"].0.contains(host);
        assert_eq!(
            listed, !in_other,
            "host {host:?}: in ungrouped {listed}, in another group {in_other}"
        );
    }
}

/// Every object that uses one of Ansible's marker keys is a marker the core made: that key
/// alone, and a string. (Ansible's JSON decoder turns any object holding such a key into
/// that marked value, whatever else it holds, or rejects the whole inventory.)
fn check_markers(value: &Value, at: &str) {
    match value {
        Value::Object(map) => {
            if map.keys().any(|k| MARKERS.contains(&k.as_str())) {
                let forged = map.len() != 1
                    || !matches!(map.iter().next(), Some((k, Value::String(_))) if k == "__ansible_unsafe" || k == "__ansible_vault");
                assert!(!forged, "{at} is read by Ansible as a marker: {value}");
            }
            for (k, v) in map {
                check_markers(v, &format!("{at}.{k}"));
            }
        }
        Value::Array(items) => items.iter().for_each(|v| check_markers(v, &format!("{at}[]"))),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------
// A model of the layout, written from its description, not from the code
// ---------------------------------------------------------------------------------------

/// The keys Ansible's JSON decoder reads as type markers wherever they appear.
const MARKERS: &[&str] = &["__ansible_unsafe", "__ansible_vault", "__ansible_type"];
const KINDS: &[&str] = &["hostvars", "groupvars", "hosts", "groups"];

#[derive(Default, Debug)]
struct ModelGroup {
    /// Each host and child with the position its key's value gives, if any.
    hosts: BTreeMap<String, Option<u64>>,
    children: BTreeMap<String, Option<u64>>,
    vars: BTreeSet<String>,
}

/// The layout's position: a value of 1 to 18 ASCII digits, read as a number.
fn model_position(value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(value).ok()?;
    let digits = (1..=18).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| text.parse().expect("18 digits fit"))
}

/// Names in inventory order: positioned ones by position then name, then the rest by name.
fn model_order(names: &BTreeMap<String, Option<u64>>) -> Vec<String> {
    let mut positioned: Vec<(u64, &String)> = names.iter().filter_map(|(n, p)| p.map(|p| (p, n))).collect();
    positioned.sort();
    let rest = names.iter().filter(|(_, p)| p.is_none()).map(|(n, _)| n);
    positioned.into_iter().map(|(_, n)| n).chain(rest).cloned().collect()
}

/// The inventory the key layout says the pairs make, or why they make none.
#[derive(Default, Debug)]
struct Model {
    groups: BTreeMap<String, ModelGroup>,
    /// Host to its variables' top-level names.
    hosts: BTreeMap<String, BTreeSet<String>>,
    /// Every variable: whose (`true` for a host), its path, its value.
    vars: Vec<(bool, String, Vec<String>, Vec<u8>)>,
    has_parent: BTreeSet<String>,
    grouped: BTreeSet<String>,
    skipped: u64,
    invalid: Option<String>,
}

impl Model {
    fn of(case: &Case) -> Model {
        let dir = Prefix::new(case.prefix).dir();
        let mut m = Model::default();
        for kv in &case.pairs {
            let Ok(key) = std::str::from_utf8(&kv.key) else {
                m.refuse("a key is not UTF-8");
                continue;
            };
            let segments: Vec<&str> = match key.strip_prefix(&dir) {
                Some(rest) => rest.split('/').collect(),
                None => vec![],
            };
            let fits = segments.len() >= 3 && segments[1..].iter().all(|s| !s.is_empty());
            let is_var = matches!(segments.first(), Some(&"hostvars" | &"groupvars"));
            if !fits || (segments.len() > 3 && !(is_var && case.rules.nested_keys)) {
                m.skipped += 1;
                continue;
            }
            let (a, b, path) = (segments[1], segments[2], &segments[2..]);
            if segments[1..].iter().any(|name| MARKERS.contains(name)) && KINDS.contains(&segments[0]) {
                m.refuse("a name is one of Ansible's JSON markers");
            }
            if is_var && path.len() > 100 {
                m.refuse("variables nested too deep");
            }
            match segments[0] {
                "hostvars" => {
                    m.hosts.entry(a.into()).or_default().insert(b.into());
                    m.var(true, a, path, &kv.value);
                }
                "groupvars" => {
                    m.group(a).vars.insert(b.into());
                    m.var(false, a, path, &kv.value);
                }
                "hosts" => {
                    m.group(a).hosts.insert(b.into(), model_position(&kv.value));
                    m.hosts.entry(b.into()).or_default();
                    if a != "all" && a != "ungrouped" {
                        m.grouped.insert(b.into());
                    }
                }
                "groups" => {
                    if b == "all" {
                        m.refuse("all is a child");
                    }
                    m.group(b);
                    m.group(a).children.insert(b.into(), model_position(&kv.value));
                    m.has_parent.insert(b.into());
                }
                _ => m.skipped += 1,
            }
        }
        m.check_paths();
        if m.has_loop() {
            m.refuse("a loop");
        }
        m
    }

    fn refuse(&mut self, why: &str) {
        self.invalid.get_or_insert(why.to_string());
    }

    fn group(&mut self, name: &str) -> &mut ModelGroup {
        if name == "_meta" {
            self.refuse("a group is named _meta");
        }
        self.groups.entry(name.into()).or_default()
    }

    fn var(&mut self, of_host: bool, owner: &str, path: &[&str], value: &[u8]) {
        if std::str::from_utf8(value).is_err() {
            self.refuse("a value is not UTF-8");
        }
        let path = path.iter().map(|s| s.to_string()).collect();
        self.vars.push((of_host, owner.into(), path, value.to_vec()));
    }

    /// A variable that holds a value cannot also be a map of nested ones.
    fn check_paths(&mut self) {
        let clash = self.vars.iter().any(|(h, o, path, _)| {
            self.vars
                .iter()
                .any(|(h2, o2, p2, _)| h == h2 && o == o2 && p2.len() > path.len() && p2.starts_with(path))
        });
        if clash {
            self.refuse("a value where a map is needed");
        }
    }

    fn has_loop(&self) -> bool {
        fn visit<'m>(m: &'m Model, g: &'m str, path: &mut Vec<&'m str>, done: &mut BTreeSet<&'m str>) -> bool {
            if path.contains(&g) {
                return true;
            }
            if !done.insert(g) {
                return false;
            }
            path.push(g);
            let found = m.groups[g].children.keys().any(|c| visit(m, c, path, done));
            path.pop();
            found
        }
        let mut done = BTreeSet::new();
        self.groups.keys().any(|g| visit(self, g, &mut vec![], &mut done))
    }

    /// Checks an inventory the core built against this model.
    fn check(&self, json: &str, skipped: Option<u64>, rules: &ValueRules) {
        let doc: Value = serde_json::from_str(json).unwrap();
        assert_eq!(skipped.unwrap_or(0), self.skipped, "skipped keys");
        let mut names: BTreeSet<&str> = self.groups.keys().map(String::as_str).collect();
        names.extend(["all", "ungrouped", "_meta"]);
        let top: BTreeSet<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(top, names, "the groups");

        let hostvars = &doc["_meta"]["hostvars"];
        let hosts: BTreeSet<&str> = hostvars.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(hosts, self.hosts.keys().map(String::as_str).collect(), "the hosts");
        for (host, vars) in &self.hosts {
            assert_eq!(&names_of(&hostvars[host]), vars, "the variables of host {host:?}");
        }

        let empty = ModelGroup::default();
        for name in names.iter().filter(|n| **n != "_meta") {
            let group = self.groups.get(*name).unwrap_or(&empty);
            let out = &doc[*name];
            let mut hosts = group.hosts.clone();
            let mut children = group.children.clone();
            if *name == "ungrouped" {
                // Exactly the hosts in no other group, whatever hosts/ungrouped/ lists; in
                // the order its own keys give, the others after them.
                hosts.retain(|h, _| !self.grouped.contains(h));
                for host in self.hosts.keys().filter(|h| !self.grouped.contains(*h)) {
                    hosts.entry(host.clone()).or_insert(None);
                }
            }
            if *name == "all" {
                let roots = self
                    .groups
                    .keys()
                    .filter(|g| *g != "all" && !self.has_parent.contains(*g));
                for root in roots.chain([&"ungrouped".to_string()]) {
                    children.entry(root.clone()).or_insert(None);
                }
            }
            assert_eq!(
                list_of(&out["hosts"]),
                model_order(&hosts),
                "the hosts of group {name:?}"
            );
            assert_eq!(
                list_of(&out["children"]),
                model_order(&children),
                "the children of group {name:?}"
            );
            assert_eq!(names_of(&out["vars"]), group.vars, "the variables of group {name:?}");
        }

        // Untyped values are their text, marked as the rules say.
        if !rules.typed_values {
            for (of_host, owner, path, value) in &self.vars {
                let mut at = if *of_host {
                    &hostvars[owner]
                } else {
                    &doc[owner]["vars"]
                };
                for segment in path {
                    at = &at[segment];
                }
                let text = String::from_utf8(value.clone()).unwrap();
                let expected = if text.starts_with("$ANSIBLE_VAULT;") {
                    json!({"__ansible_vault": text})
                } else if rules.trust_templates {
                    json!(text)
                } else {
                    json!({"__ansible_unsafe": text})
                };
                assert_eq!(at, &expected, "{owner:?} {path:?}");
            }
        }
    }
}

fn list_of(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn names_of(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

// ---------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------

/// 256 cases per property, a second or two in a debug build; `PROPTEST_CASES=N` for a
/// longer search.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok());
    ProptestConfig {
        cases: cases.unwrap_or(256),
        // Failures are shrunk and printed; no regression files are written into the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// The core refuses exactly what the layout forbids, and otherwise builds the inventory
    /// the layout describes, which keeps every invariant Ansible relies on.
    #[test]
    fn the_core_builds_what_the_layout_says_or_refuses(case in case()) {
        let model = Model::of(&case);
        match build(&case, &case.pairs) {
            Err(e) => prop_assert!(model.invalid.is_some(), "refused valid data: {e}"),
            Ok((json, skipped)) => {
                prop_assert!(model.invalid.is_none(), "accepted data with {:?}", model.invalid);
                check_inventory(&json);
                model.check(&json, skipped, &case.rules);
            }
        }
    }

    /// The same pairs in any order give the same bytes (or both an error).
    #[test]
    fn the_output_does_not_depend_on_the_order_of_the_keys(case in case()) {
        let sorted = build(&case, &case.pairs);
        let mixed = build(&case, &shuffled(&case.pairs, case.seed));
        let reversed: Vec<Kv> = case.pairs.iter().rev().cloned().collect();
        let reversed = build(&case, &reversed);
        match (&sorted, &mixed, &reversed) {
            (Ok(a), Ok(b), Ok(c)) => {
                prop_assert_eq!(a, b);
                prop_assert_eq!(a, c);
            }
            (Err(_), Err(_), Err(_)) => {}
            _ => prop_assert!(false, "sorted {sorted:?}, shuffled {mixed:?}, reversed {reversed:?}"),
        }
    }

    /// `--list` through the gateway, page by page into a builder, prints what the core
    /// builds from the keys in the prefix's range, whatever the page size.
    #[test]
    fn a_paged_read_builds_the_same_inventory(case in case()) {
        let range = Prefix::new(case.prefix).range();
        let in_prefix: Vec<Kv> = in_range(&case.pairs, &range).cloned().collect();
        let direct = build(&case, &in_prefix);
        let paged = list_through_gateway(&case);
        match (&direct, &paged) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            _ => prop_assert!(false, "direct {direct:?}, paged {paged:?}"),
        }
    }

    /// `--host NAME`, reading only that host's range, gives the variables `--list` puts in
    /// `_meta.hostvars`, and `{}` for a host that is not there; `--graph` draws any output.
    #[test]
    fn host_and_graph_agree_with_list(case in case(), stranger in name()) {
        let prefix = Prefix::new(case.prefix);
        let Ok((json, _)) = build(&case, &case.pairs) else { return Ok(()) };
        let doc: Value = serde_json::from_str(&json).unwrap();
        let hostvars = doc["_meta"]["hostvars"].as_object().unwrap();
        let mut asked: Vec<&str> = hostvars.keys().map(String::as_str).collect();
        asked.push(&stranger);
        for host in asked {
            let range = prefix.host_vars_range(host);
            let pairs: Vec<Kv> = in_range(&case.pairs, &range).cloned().collect();
            let one = inventory::host_vars(&prefix, host, &pairs, &case.rules);
            let one = one.map_err(|e| TestCaseError::fail(format!("--host {host:?}: {e:?}")))?;
            let got = serde_json::to_value(&one.value).unwrap();
            let want = hostvars.get(host).cloned().unwrap_or_else(|| json!({}));
            prop_assert_eq!(got, want, "--host {:?}", host);
        }
        for group in doc.as_object().unwrap().keys().filter(|g| *g != "_meta") {
            etcd_inventory::graph::render(&json, group).expect("--graph of a group in the output");
        }
    }

    /// `check` reports what `--list` meets, from the same rules: a fatal finding exactly
    /// when the build fails, the build's refusal among them; otherwise as many unknown keys
    /// and invalid variable names as `--list` warns of, the first of each its example.
    #[test]
    fn check_reports_what_list_meets(case in case()) {
        let prefix = Prefix::new(case.prefix);
        let findings = check::check(&prefix, &case.pairs, &case.rules);
        let fatal: Vec<_> = findings.iter().filter_map(|f| match f {
            Finding::Fatal(e) => Some(e),
            _ => None,
        }).collect();
        match inventory::build(&prefix, &case.pairs, &case.rules) {
            Err(e) => prop_assert!(fatal.contains(&&e), "{e:?} not among {fatal:?}"),
            Ok(built) => {
                prop_assert!(fatal.is_empty(), "{fatal:?}, yet --list builds");
                let keys = |wanted: fn(&Finding) -> Option<&str>| -> Vec<&str> {
                    findings.iter().filter_map(wanted).collect()
                };
                let unknown = keys(|f| match f {
                    Finding::UnknownKey(key) => Some(key),
                    _ => None,
                });
                let invalid = keys(|f| match f {
                    Finding::InvalidVariableName { key, .. } => Some(key),
                    _ => None,
                });
                for (tally, keys) in [(&built.warnings.skipped, &unknown), (&built.warnings.invalid_names, &invalid)] {
                    let said = tally.as_ref().map(|t| (t.count as usize, t.example.as_str()));
                    prop_assert_eq!(said, keys.first().map(|first| (keys.len(), *first)));
                }
            }
        }
    }

    /// No key smuggles one of Ansible's JSON markers into the output.
    #[test]
    fn no_key_forges_an_ansible_marker(case in case()) {
        if let Ok((json, _)) = build(&case, &case.pairs) {
            check_markers(&serde_json::from_str(&json).unwrap(), "$");
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// Ansible's `ungrouped` holds exactly the hosts in no other group, even a host written
    /// as a member of `ungrouped` (`hosts/ungrouped/H`) that is in another group too, as
    /// ansible-inventory (2.19) drops it from `ungrouped` as it reads the JSON. (Found here:
    /// `/ansible/hosts/a/h` and `/ansible/hosts/ungrouped/h` once listed h in both.)
    #[test]
    fn ungrouped_holds_exactly_the_hosts_in_no_other_group(case in case()) {
        if let Ok((json, _)) = build(&case, &case.pairs) {
            let (groups, hosts) = check_inventory(&json);
            check_ungrouped_is_exact(&groups, &hosts);
        }
    }
}
