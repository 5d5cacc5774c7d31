//! Importing: an inventory in the script convention (what `ansible-inventory --list` and our
//! own `--list` print) becomes the keys that say it, and is compared with what etcd holds.
//! Pure: the host's `import` command reads the file and etcd, and writes, around it.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::inventory::{self, ALL, Inventory, Kv, LayoutError, META, UNGROUPED};
use crate::layout::{Entry, NO_POSITION, Prefix, classify, position_value};
use crate::values::{UNSAFE, VAULT, ValueRules};

/// How the file becomes keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// How readers read values. With typed values, strings that would decode as something
    /// else are written JSON-quoted, so they read back as the same strings; and a value
    /// already stored is kept when it reads as the file's (see [`keep_equivalent`]).
    pub values: ValueRules,
    /// Refuse a name listed in `children` without an entry of its own, as a misspelt
    /// group, rather than take it as an empty group (as `ansible-inventory --list` names
    /// empty groups).
    pub strict: bool,
}

/// The keys an inventory needs, with their values, sorted by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encoded {
    pub pairs: Vec<Kv>,
    /// Variables whose value is not a string (written as JSON text).
    pub non_strings: u64,
    /// Groups named only as children, taken as empty groups, sorted.
    pub empty_groups: Vec<String>,
}

/// Why a file cannot be imported. Nothing is written when any of these is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportError {
    /// Not JSON at all: serde's message, with line and column.
    NotJson(String),
    /// JSON of the wrong shape: where, and what was expected there.
    Shape { at: String, expected: &'static str },
    /// A group lists a child that the file does not define.
    UndefinedChild { parent: String, child: String },
    /// A host, group or variable name that no key can hold.
    BadName { kind: &'static str, name: String },
    /// The inventory would be refused by `--list` (a loop, `all` as a child, ...).
    Layout(LayoutError),
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::NotJson(why) => write!(f, "not JSON: {why}"),
            ImportError::Shape { at, expected } => write!(f, "{at}: expected {expected}"),
            ImportError::UndefinedChild { parent, child } => write!(
                f,
                "group {parent:?} lists child {child:?}, which the file does not define (--strict refuses such \
                 names: fix the name, or leave out --strict to take it as an empty group)"
            ),
            ImportError::BadName { kind, name } => write!(
                f,
                "{kind} name {name:?} cannot be a key segment (names must be non-empty and contain no \"/\")"
            ),
            ImportError::Layout(e) => write!(f, "{}", Error::Layout(e.clone())),
        }
    }
}

/// What one group of the file says.
#[derive(Default)]
struct GroupData<'a> {
    hosts: Vec<&'a str>,
    vars: Vec<(&'a str, &'a Value)>,
    children: Vec<&'a str>,
}

/// Turns script-convention JSON into the keys under `prefix` that say the same inventory,
/// and proves it by building it as `--list` would.
pub fn encode(prefix: &Prefix, json: &str, options: ImportOptions) -> Result<Encoded, ImportError> {
    let (pairs, non_strings, empty_groups) = collect(prefix, json, options)?;
    // Moved, not copied: a large inventory has a million keys.
    let pairs: Vec<Kv> = pairs
        .into_iter()
        .map(|(k, v)| Kv {
            key: k.into_bytes(),
            value: v.into_bytes(),
        })
        .collect();
    // The reader's own rules decide what it would refuse; one source of truth.
    inventory::build(prefix, &pairs, &ValueRules::default()).map_err(ImportError::Layout)?;
    Ok(Encoded {
        pairs,
        non_strings,
        empty_groups,
    })
}

/// Host variables by host, each value still JSON text: a large file's millions of values
/// are decoded one at a time as they are written, never all at once.
type RawHostVars<'a> = BTreeMap<Cow<'a, str>, BTreeMap<Cow<'a, str>, &'a RawValue>>;

/// The `_meta` entry; other fields (ansible-inventory 2.19 adds "profile") say nothing
/// about the inventory.
#[derive(serde::Deserialize)]
struct Meta<'a> {
    #[serde(borrow, default)]
    hostvars: RawHostVars<'a>,
}

/// Every key with its value, how many values were not strings, and the groups named only
/// as children.
type Collected = (BTreeMap<String, String>, u64, Vec<String>);

fn collect(prefix: &Prefix, json: &str, options: ImportOptions) -> Result<Collected, ImportError> {
    let top: BTreeMap<Cow<str>, &RawValue> = serde_json::from_str(json).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => shape("the file", "an object of groups and _meta"),
        _ => ImportError::NotJson(e.to_string()),
    })?;
    let mut hostvars = RawHostVars::new();
    let mut group_docs: BTreeMap<&str, Value> = BTreeMap::new();
    for (name, raw) in &top {
        if name == META {
            // (serde would also take a struct from a list of its fields.)
            if !raw.get().starts_with('{') {
                return Err(meta_shape_error(raw));
            }
            hostvars = serde_json::from_str::<Meta>(raw.get())
                .map_err(|_| meta_shape_error(raw))?
                .hostvars;
        } else {
            // Groups are few and small next to the variables: decoded whole.
            let doc = serde_json::from_str(raw.get()).map_err(|e| ImportError::NotJson(e.to_string()))?;
            group_docs.insert(name, doc);
        }
    }
    let mut groups: BTreeMap<&str, GroupData> = BTreeMap::new();
    for (name, doc) in &group_docs {
        groups.insert(name, read_group(name, doc)?);
    }
    check_names(&groups, &hostvars)?;
    let mut empty_groups = BTreeSet::new();
    for (parent, data) in &groups {
        for child in data.children.iter().filter(|c| !is_defined(c, &groups)) {
            if options.strict {
                return Err(ImportError::UndefinedChild {
                    parent: parent.to_string(),
                    child: child.to_string(),
                });
            }
            empty_groups.insert(child.to_string());
        }
    }

    let mut out = Writer::new(prefix, options);
    for (host, vars) in &hostvars {
        for (var, raw) in vars {
            let value: Value = serde_json::from_str(raw.get()).expect("checked as JSON with the file");
            out.var(Entry::HostVar { host, var }, &value, host);
        }
    }
    for (group, data) in &groups {
        for (var, value) in &data.vars {
            out.var(Entry::GroupVar { group, var }, value, group);
        }
        // Each value is the name's position in its list: groups read in the file's order.
        for (i, host) in data.hosts.iter().enumerate() {
            out.key(Entry::Member { group, host }, [group, host], position_value(i));
        }
        // `all`'s children (every group without a parent, which `--list` implies without
        // keys) are written too: their order is the file's.
        for (i, child) in data.children.iter().enumerate() {
            out.key(Entry::Child { parent: group, child }, [group, child], position_value(i));
        }
    }
    // A group with no key would vanish: give it the one key that keeps it.
    let named = groups.keys().chain(groups.values().flat_map(|d| d.children.iter()));
    let loose_groups: BTreeSet<&str> = named
        .copied()
        .filter(|g| *g != ALL && *g != UNGROUPED && !out.present.contains(g))
        .collect();
    for group in loose_groups {
        out.key(
            Entry::Child {
                parent: ALL,
                child: group,
            },
            [group, group],
            String::new(),
        );
    }
    Ok((out.pairs, out.non_strings, empty_groups.into_iter().collect()))
}

/// A host that registers itself (`etcd-inventory register`): its groups and variables.
#[derive(Debug, Clone, Copy)]
pub struct Registration<'a> {
    pub host: &'a str,
    pub groups: &'a [String],
    /// Variables as the file's `_meta.hostvars` would give them: strings or any JSON.
    pub vars: &'a [(String, Value)],
}

/// The keys that say a registered host: a membership key per group, holding no position
/// ([`NO_POSITION`]), and its variables, each value written as `import` writes a file's
/// (typed values, nested keys, vault text: the same writer). Checked as `--list` would read
/// them, like a file.
pub fn encode_registration(
    prefix: &Prefix,
    registration: Registration<'_>,
    options: ImportOptions,
) -> Result<Encoded, ImportError> {
    let Registration { host, groups, vars } = registration;
    let error = first_bad("host", std::iter::once(host))
        .or_else(|| first_bad("group", groups.iter().map(String::as_str)))
        .or_else(|| first_bad("variable", vars.iter().map(|(name, _)| name.as_str())));
    if let Some(error) = error {
        return Err(error);
    }
    let mut out = Writer::new(prefix, options);
    for (var, value) in vars {
        out.var(Entry::HostVar { host, var }, value, host);
    }
    for group in groups {
        out.key(Entry::Member { group, host }, [group, host], NO_POSITION.to_string());
    }
    out.finish(options)
}

/// A group as the collection's `group` module gives it: its variables and children.
#[derive(Debug, Clone, Copy)]
pub struct GroupState<'a> {
    pub group: &'a str,
    /// Variables as a file's group `vars` would give them: strings or any JSON.
    pub vars: &'a [(String, Value)],
    pub children: &'a [String],
}

/// The keys that say a group's variables and children: each variable written as `import`
/// writes a file's (the same writer), each children key holding no position
/// ([`NO_POSITION`]: a child added so follows the imported ones, by name). Checked as
/// `--list` would read them.
pub fn encode_group(prefix: &Prefix, state: GroupState<'_>, options: ImportOptions) -> Result<Encoded, ImportError> {
    let GroupState { group, vars, children } = state;
    let names = std::iter::once(group).chain(children.iter().map(String::as_str));
    let error = first_bad("group", names).or_else(|| first_bad("variable", vars.iter().map(|(name, _)| name.as_str())));
    if let Some(error) = error {
        return Err(error);
    }
    let mut out = Writer::new(prefix, options);
    for (var, value) in vars {
        out.var(Entry::GroupVar { group, var }, value, group);
    }
    for child in children {
        out.key(
            Entry::Child { parent: group, child },
            [group, child],
            NO_POSITION.to_string(),
        );
    }
    out.finish(options)
}

/// Where `_meta` went wrong: found by walking it, which only an error needs.
fn meta_shape_error(raw: &RawValue) -> ImportError {
    let at = |what: &str| shape(what.to_string(), "an object with hostvars, an object of hosts");
    let Ok(Value::Object(meta)) = serde_json::from_str::<Value>(raw.get()) else {
        return shape("_meta", "an object with hostvars");
    };
    let Some(Value::Object(hosts)) = meta.get("hostvars") else {
        return at("_meta, hostvars");
    };
    match hosts.iter().find(|(_, vars)| !vars.is_object()) {
        Some((host, _)) => shape(format!("_meta, hostvars of {host:?}"), "an object of variables"),
        None => at("_meta"),
    }
}

/// Collects keys, and which hosts and groups some key already mentions.
struct Writer<'p, 'a> {
    prefix: &'p Prefix,
    typed: bool,
    /// Readers build maps from nested keys: maps are written as nested keys.
    nested: bool,
    pairs: BTreeMap<String, String>,
    non_strings: u64,
    present: BTreeSet<&'a str>,
}

impl<'p, 'a> Writer<'p, 'a> {
    fn new(prefix: &'p Prefix, options: ImportOptions) -> Self {
        Writer {
            prefix,
            typed: options.values.typed_values,
            nested: options.values.nested_keys,
            pairs: BTreeMap::new(),
            non_strings: 0,
            present: BTreeSet::new(),
        }
    }

    /// The keys written, checked as `--list` would read them with `options`' rules.
    fn finish(self, options: ImportOptions) -> Result<Encoded, ImportError> {
        let pairs: Vec<Kv> = (self.pairs.into_iter())
            .map(|(k, v)| Kv {
                key: k.into_bytes(),
                value: v.into_bytes(),
            })
            .collect();
        inventory::build(self.prefix, &pairs, &options.values).map_err(ImportError::Layout)?;
        Ok(Encoded {
            pairs,
            non_strings: self.non_strings,
            empty_groups: Vec::new(),
        })
    }

    fn key(&mut self, entry: Entry<'a>, names: [&'a str; 2], value: String) {
        self.present.extend(names);
        self.pairs.insert(self.prefix.key(entry), value);
    }

    fn var(&mut self, entry: Entry<'a>, value: &Value, owner: &'a str) {
        self.present.insert(owner);
        self.value(entry, value, 1);
    }

    /// Writes the value of the variable `entry` names, `depth` levels deep.
    fn value(&mut self, entry: Entry<'_>, value: &Value, depth: usize) {
        if self.nested
            && depth < inventory::MAX_NESTING
            && let Some(map) = nestable(value)
        {
            for (name, inner) in map {
                let path;
                let below = match entry {
                    Entry::HostVar { host, var } => {
                        path = format!("{var}/{name}");
                        Entry::HostVar { host, var: &path }
                    }
                    Entry::GroupVar { group, var } => {
                        path = format!("{var}/{name}");
                        Entry::GroupVar { group, var: &path }
                    }
                    Entry::Member { .. } | Entry::Child { .. } => unreachable!("only variables have values"),
                };
                self.value(below, inner, depth + 1);
            }
            return;
        }
        let text = match unmarked_text(value) {
            Some(text) if self.typed && serde_json::from_str::<Value>(text).is_ok() => {
                serde_json::to_string(text).expect("a string serialises")
            }
            Some(text) => text.to_string(),
            None => {
                self.non_strings += 1;
                serde_json::to_string(&unmark(value)).expect("JSON serialises")
            }
        };
        self.pairs.insert(self.prefix.key(entry), text);
    }
}

/// A map that nested keys can say: not a marker, not empty (no key would hold it), every
/// name a key segment.
fn nestable(value: &Value) -> Option<&Map<String, Value>> {
    match value {
        Value::Object(map)
            if unmarked_text(value).is_none()
                && !map.is_empty()
                && map.keys().all(|k| !k.is_empty() && !k.contains('/')) =>
        {
            Some(map)
        }
        _ => None,
    }
}

/// The text of a string, or of Ansible's `{"__ansible_unsafe": s}` / `{"__ansible_vault": s}`
/// (the reader marks strings again by its own settings, and knows Vault text by its header).
fn unmarked_text(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        Value::Object(map) if map.len() == 1 => match map.iter().next() {
            Some((k, Value::String(s))) if k == UNSAFE || k == VAULT => Some(s),
            _ => None,
        },
        _ => None,
    }
}

/// A compound value with every marker inside replaced by its text.
fn unmark(value: &Value) -> Value {
    if let Some(text) = unmarked_text(value) {
        return Value::String(text.to_string());
    }
    match value {
        Value::Array(items) => Value::Array(items.iter().map(unmark).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), unmark(v))).collect()),
        other => other.clone(),
    }
}

fn is_defined(group: &str, groups: &BTreeMap<&str, GroupData>) -> bool {
    group == ALL || group == UNGROUPED || groups.contains_key(group)
}

fn read_group<'a>(name: &str, data: &'a Value) -> Result<GroupData<'a>, ImportError> {
    let at = || format!("group {name:?}");
    match data {
        // The convention's short form: a group that is just a list of hosts.
        Value::Array(_) => Ok(GroupData {
            hosts: names(data, at, "a list of host names")?,
            ..GroupData::default()
        }),
        Value::Object(fields) => {
            let mut group = GroupData::default();
            for (field, value) in fields {
                match field.as_str() {
                    "hosts" => group.hosts = names(value, || format!("{}, hosts", at()), "a list of host names")?,
                    "children" => {
                        group.children = names(value, || format!("{}, children", at()), "a list of group names")?
                    }
                    "vars" => group.vars = vars(value, || format!("{}, vars", at()))?,
                    _ => {
                        return Err(shape(
                            format!("{}, field {field:?}", at()),
                            "only hosts, vars and children",
                        ));
                    }
                }
            }
            Ok(group)
        }
        _ => Err(shape(
            at(),
            "an object with hosts, vars and children, or a list of hosts",
        )),
    }
}

fn names<'a>(value: &'a Value, at: impl Fn() -> String, expected: &'static str) -> Result<Vec<&'a str>, ImportError> {
    let items = value.as_array().ok_or_else(|| shape(at(), expected))?;
    items
        .iter()
        .map(|item| item.as_str().ok_or_else(|| shape(at(), expected)))
        .collect()
}

fn vars(value: &Value, at: impl Fn() -> String) -> Result<Vec<(&str, &Value)>, ImportError> {
    let map: &Map<String, Value> = value.as_object().ok_or_else(|| shape(at(), "an object of variables"))?;
    Ok(map.iter().map(|(k, v)| (k.as_str(), v)).collect())
}

fn check_names(groups: &BTreeMap<&str, GroupData>, hostvars: &RawHostVars) -> Result<(), ImportError> {
    let group_names = groups
        .keys()
        .chain(groups.values().flat_map(|g| g.children.iter()))
        .copied();
    let host_names = hostvars.keys().map(|h| h.as_ref());
    let host_names = host_names.chain(groups.values().flat_map(|g| g.hosts.iter().copied()));
    let var_names = hostvars.values().flat_map(|vars| vars.keys().map(|v| v.as_ref()));
    let var_names = var_names.chain(groups.values().flat_map(|g| g.vars.iter().map(|(name, _)| *name)));
    let error = first_bad("group", group_names)
        .or_else(|| first_bad("host", host_names))
        .or_else(|| first_bad("variable", var_names));
    error.map_or(Ok(()), Err)
}

/// A host, group or variable name as one key segment: `Err` names what is wrong with it.
pub fn check_name(kind: &'static str, name: &str) -> Result<(), ImportError> {
    first_bad(kind, std::iter::once(name)).map_or(Ok(()), Err)
}

fn first_bad<'a>(kind: &'static str, mut names: impl Iterator<Item = &'a str>) -> Option<ImportError> {
    names
        .find(|n| n.is_empty() || n.contains('/'))
        .map(|n| ImportError::BadName {
            kind,
            name: n.to_string(),
        })
}

fn shape(at: impl Into<String>, expected: &'static str) -> ImportError {
    ImportError::Shape {
        at: at.into(),
        expected,
    }
}

/// A key as etcd holds it now, with the revision that last changed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub mod_revision: i64,
    /// The lease the key is attached to (a registered host's), or 0.
    pub lease: i64,
}

impl Existing {
    /// Whether the key belongs to a lease: a registered host's, which `import` leaves alone
    /// unless asked to replace.
    pub fn is_leased(&self) -> bool {
        self.lease != 0
    }
}

/// One write, guarded so that a key someone else changed since it was read is not
/// overwritten: the transaction that carries it fails instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Create a key that must still be absent.
    Create { key: Vec<u8>, value: Vec<u8> },
    /// Change a key still at `mod_revision`.
    Change {
        key: Vec<u8>,
        value: Vec<u8>,
        mod_revision: i64,
    },
    /// Delete a key still at `mod_revision` (`--replace`).
    Delete { key: Vec<u8>, mod_revision: i64 },
}

impl Write {
    /// Bytes this write adds to a transaction request: the key twice (compare and op), the
    /// value, and some framing.
    pub fn request_bytes(&self) -> usize {
        const FRAMING: usize = 32;
        match self {
            Write::Create { key, value } | Write::Change { key, value, .. } => 2 * key.len() + value.len() + FRAMING,
            Write::Delete { key, .. } => 2 * key.len() + FRAMING,
        }
    }
}

/// Whose key it is: the one list or map of `--list` that the key belongs to. The keys of
/// one owner together say that list or map, and nothing else does, except for the lists
/// `--list` completes itself (`all`'s children, `ungrouped`'s hosts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Owner<'a> {
    HostVars(&'a str),
    GroupVars(&'a str),
    Members(&'a str),
    Children(&'a str),
}

impl<'a> Owner<'a> {
    fn of(entry: Entry<'a>) -> Owner<'a> {
        match entry {
            Entry::HostVar { host, .. } => Owner::HostVars(host),
            Entry::GroupVar { group, .. } => Owner::GroupVars(group),
            Entry::Member { group, .. } => Owner::Members(group),
            Entry::Child { parent, .. } => Owner::Children(parent),
        }
    }

    /// A list that `--list` completes from other keys: whether it reads the same depends on
    /// every other owner too.
    fn is_completed(self) -> bool {
        self == Owner::Children(ALL) || self == Owner::Members(UNGROUPED)
    }

    /// What this owner's keys read as in `inv`, as `--list` prints it.
    fn reads_as(self, inv: &Inventory) -> Option<String> {
        fn json(value: &impl serde::Serialize) -> String {
            serde_json::to_string(value).expect("inventory parts serialise")
        }
        match self {
            Owner::HostVars(host) => inv.hostvars.get(host).map(json),
            Owner::GroupVars(group) => inv.groups.get(group).map(|g| json(&g.vars)),
            Owner::Members(group) => inv.groups.get(group).map(|g| json(&g.hosts)),
            Owner::Children(parent) => inv.groups.get(parent).map(|g| json(&g.children)),
        }
    }
}

/// Keeps the keys etcd already holds wherever they read as what the file says, so that an
/// import changes only what `--list` would print differently: a value stored JSON-quoted or
/// with other spacing, membership keys without positions (the classic script's) whose
/// sorted order is the file's order, nested keys where the file has their map. An import of
/// our own `--list` output so changes nothing, whatever the settings it was read with.
///
/// Per owner (a host's variables, a group's variables, hosts or children) whose keys differ:
/// when the existing keys read exactly as the wanted ones, the existing keys replace the
/// wanted ones. Such a list or map reads from its own keys only, so keeping them changes
/// nothing else. The two lists `--list` completes from other keys (`all`'s children,
/// `ungrouped`'s hosts) are kept only when the keys etcd will hold after the import
/// (`existing` overlaid with the result, or the result alone with `replace`) still read
/// them as the wanted keys would: a replace may delete what completed them. `existing`
/// comes sorted by key, as etcd reads it.
pub fn keep_equivalent(
    prefix: &Prefix,
    rules: &ValueRules,
    wanted: Vec<Kv>,
    existing: &[Existing],
    replace: bool,
) -> Vec<Kv> {
    // Nothing to keep where nothing is there (a first import) or every wanted key already
    // holds its value (a repeated one): skip the work, seconds at 100,000 hosts.
    let holds = |kv: &Kv| {
        (existing.binary_search_by(|e| e.key.as_slice().cmp(&kv.key))).is_ok_and(|i| existing[i].value == kv.value)
    };
    if existing.is_empty() || wanted.iter().all(holds) {
        return wanted;
    }
    let owners = Owners::new(prefix, rules);
    let want = owners.group(wanted.iter().map(|kv| (kv.key.as_slice(), kv.value.as_slice())));
    let have = owners.group(existing.iter().map(|e| (e.key.as_slice(), e.value.as_slice())));
    // Only owners whose keys differ can gain from keeping.
    let (completed, local): (Vec<Owner>, Vec<Owner>) = (want.iter())
        .filter(|(owner, keys)| have.get(*owner) != Some(*keys))
        .map(|(owner, _)| *owner)
        .partition(|owner| owner.is_completed());

    let mut keep: BTreeSet<Owner> = BTreeSet::new();
    let subset = |keys: &Grouped, of: &[Owner]| -> Vec<Kv> {
        let pairs = of.iter().flat_map(|o| keys.get(o).into_iter().flatten());
        pairs.map(|&(key, value)| kv(key, value)).collect()
    };
    if let (Ok(w), Ok(h)) = (
        inventory::build(prefix, &subset(&want, &local), rules),
        inventory::build(prefix, &subset(&have, &local), rules),
    ) {
        keep.extend(local.iter().filter(|o| o.reads_as(&w.value) == o.reads_as(&h.value)));
    }

    if !completed.is_empty() {
        let (w, h) = (owners.outline(want.iter()), owners.outline(have.iter()));
        let same: Vec<Owner> = (completed.into_iter())
            .filter(|o| matches!((&w, &h), (Some(w), Some(h)) if o.reads_as(w) == o.reads_as(h)))
            .collect();
        // The completed lists of what etcd will hold after the import, keeping `kept`.
        let every_owner: BTreeSet<Owner> = want.keys().chain(have.keys()).copied().collect();
        let after = |kept: &[Owner]| {
            let keys = every_owner.iter().map(|owner| {
                let have = have.get(owner).map_or(&[][..], Vec::as_slice);
                let keys: Vec<(&[u8], &[u8])> = match want.get(owner) {
                    None if replace => vec![],
                    None => have.to_vec(),
                    Some(_) if kept.contains(owner) => have.to_vec(),
                    Some(want) if replace => want.clone(),
                    // Each owner's keys come sorted: etcd's order, and the file's keys' map.
                    Some(want) => (have.iter())
                        .filter(|(k, _)| want.binary_search_by(|(w, _)| w.cmp(k)).is_err())
                        .chain(want)
                        .copied()
                        .collect(),
                };
                (owner, keys)
            });
            let outline = owners.outline(keys)?;
            Some([Owner::Children(ALL), Owner::Members(UNGROUPED)].map(|o| o.reads_as(&outline)))
        };
        if !same.is_empty() && after(&same).is_some_and(|kept| Some(kept) == after(&[])) {
            keep.extend(same);
        }
    }

    if keep.is_empty() {
        return wanted;
    }
    let kept = |kv: &Kv| owners.of(&kv.key).is_some_and(|o| keep.contains(&o));
    let mut keys: Vec<Kv> = wanted.iter().filter(|kv| !kept(kv)).cloned().collect();
    for owner in &keep {
        keys.extend(
            have.get(owner)
                .into_iter()
                .flatten()
                .map(|&(key, value)| kv(key, value)),
        );
    }
    keys
}

/// Keys and values by their owner, each owner's in key order.
type Grouped<'k> = BTreeMap<Owner<'k>, Vec<(&'k [u8], &'k [u8])>>;

/// Tells the owner of a key under one prefix, as the reader classifies it.
struct Owners<'p> {
    prefix: &'p Prefix,
    dir: String,
    rules: &'p ValueRules,
}

impl<'p> Owners<'p> {
    fn new(prefix: &'p Prefix, rules: &'p ValueRules) -> Self {
        Owners {
            prefix,
            dir: prefix.dir(),
            rules,
        }
    }

    fn of<'k>(&self, key: &'k [u8]) -> Option<Owner<'k>> {
        let rest = std::str::from_utf8(key).ok()?.strip_prefix(self.dir.as_str())?;
        classify(rest, self.rules.nested_keys).map(Owner::of)
    }

    /// The pairs by owner; keys of no owner (which `--list` skips) are left out.
    fn group<'k>(&self, pairs: impl Iterator<Item = (&'k [u8], &'k [u8])>) -> Grouped<'k> {
        let mut grouped = Grouped::new();
        for (key, value) in pairs {
            if let Some(owner) = self.of(key) {
                grouped.entry(owner).or_default().push((key, value));
            }
        }
        grouped
    }

    /// The inventory's outline from each owner's keys: its groups, hosts and children,
    /// each variable map cut to one empty value. Enough for the completed lists, at a
    /// fraction of a full build.
    fn outline<'k, 'o, K>(&self, owners: impl Iterator<Item = (&'o Owner<'k>, K)>) -> Option<Inventory>
    where
        'k: 'o,
        K: AsRef<[(&'k [u8], &'k [u8])]>,
    {
        let mut builder = inventory::Builder::new(self.prefix, self.rules);
        for (owner, keys) in owners {
            let keys = keys.as_ref();
            match owner {
                Owner::HostVars(_) | Owner::GroupVars(_) => {
                    if let Some(&(key, _)) = keys.first() {
                        builder.add(key, Vec::new()).ok()?;
                    }
                }
                Owner::Members(_) | Owner::Children(_) => {
                    for &(key, value) in keys {
                        builder.add(key, value.to_vec()).ok()?;
                    }
                }
            }
        }
        builder.finish().ok().map(|built| built.value)
    }
}

fn kv(key: &[u8], value: &[u8]) -> Kv {
    Kv {
        key: key.to_vec(),
        value: value.to_vec(),
    }
}

/// What an import does: the writes, puts before deletes, and the counts it reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub writes: Vec<Write>,
    pub created: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub deleted: u64,
    /// Leased keys (registered hosts') that differ from the file and were left as they are.
    pub leased_kept: u64,
    /// Leased keys changed or deleted (`replace` only): a change detaches the key from its
    /// lease, as the import's puts carry none.
    pub leased_touched: u64,
}

/// Compares the wanted keys with the existing ones (all keys under the prefix) in one
/// merge of the two sorted lists. Deletes come last, so that with `replace` a reader never
/// sees a host gone before its new home exists. A key attached to a lease (a registered
/// host's) is neither changed nor deleted unless `replace`; then it is counted.
pub fn plan(mut wanted: Vec<Kv>, mut existing: Vec<Existing>, replace: bool) -> Plan {
    // Both come sorted (a BTreeMap, etcd's key order): then these sorts cost one pass.
    wanted.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    existing.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    let mut plan = Plan::default();
    let mut deletes = Vec::new();
    let mut now = existing.into_iter().peekable();
    for Kv { key, value } in wanted {
        // Existing keys before this one are not wanted.
        while let Some(old) = now.next_if(|old| old.key < key) {
            deletes.push(old);
        }
        match now.next_if(|old| old.key == key) {
            None => {
                plan.created += 1;
                plan.writes.push(Write::Create { key, value });
            }
            Some(old) if old.value == value => plan.unchanged += 1,
            Some(old) if old.is_leased() && !replace => plan.leased_kept += 1,
            Some(old) => {
                plan.changed += 1;
                plan.leased_touched += u64::from(old.is_leased());
                plan.writes.push(Write::Change {
                    key,
                    value,
                    mod_revision: old.mod_revision,
                });
            }
        }
    }
    deletes.extend(now);
    if replace {
        plan.deleted = deletes.len() as u64;
        plan.leased_touched += deletes.iter().filter(|old| old.is_leased()).count() as u64;
        plan.writes.extend(deletes.into_iter().map(|old| Write::Delete {
            key: old.key,
            mod_revision: old.mod_revision,
        }));
    }
    plan
}

/// Splits writes into transactions of at most `max_ops` writes and, unless one write alone
/// is larger, at most `max_bytes` of request.
pub fn batches(writes: &[Write], max_ops: usize, max_bytes: usize) -> Vec<Range<usize>> {
    let max_ops = max_ops.max(1);
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, write) in writes.iter().enumerate() {
        let size = write.request_bytes();
        if i > start && (i - start == max_ops || bytes + size > max_bytes) {
            out.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < writes.len() {
        out.push(start..writes.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PREFIX: &str = "/ansible";

    fn encode_with(json: &Value, options: ImportOptions) -> Result<Encoded, ImportError> {
        encode(&Prefix::new(PREFIX), &json.to_string(), options)
    }

    fn keys(json: Value) -> BTreeMap<String, String> {
        text_pairs(encode_with(&json, ImportOptions::default()).expect("encodes"))
    }

    fn text_pairs(encoded: Encoded) -> BTreeMap<String, String> {
        let text = |b: Vec<u8>| String::from_utf8(b).expect("UTF-8");
        encoded
            .pairs
            .into_iter()
            .map(|kv| (text(kv.key), text(kv.value)))
            .collect()
    }

    fn kvs(pairs: &BTreeMap<String, String>) -> Vec<Kv> {
        pairs
            .iter()
            .map(|(k, v)| Kv {
                key: k.as_bytes().to_vec(),
                value: v.as_bytes().to_vec(),
            })
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> BTreeMap<String, String> {
        list.iter()
            .map(|(k, v)| (format!("{PREFIX}/{k}"), v.to_string()))
            .collect()
    }

    /// What our own `--list` prints for `pairs`, with the given value rules.
    fn read_back(pairs: &[Kv], rules: &ValueRules) -> Value {
        let built = inventory::build(&Prefix::new(PREFIX), pairs, rules).expect("builds");
        serde_json::to_value(&built.value).unwrap()
    }

    #[test]
    fn writes_the_four_kinds_with_each_list_in_the_file_order() {
        let got = keys(json!({
            "_meta": {"hostvars": {"web01": {"ip": "10.0.0.1"}, "lonely": {"ip": "10.0.0.9"}}, "profile": "x"},
            "all": {"children": ["ungrouped", "prod"], "vars": {"ntp": "ntp.example"}},
            "prod": {"children": ["web"]},
            "web": {"hosts": ["web01", "web02"], "vars": {"port": "80"}},
            "ungrouped": {"hosts": ["lonely"]},
        }));
        assert_eq!(
            got,
            pairs(&[
                ("groups/all/prod", "1"),
                ("groups/all/ungrouped", "0"),
                ("groups/prod/web", "0"),
                ("groupvars/all/ntp", "ntp.example"),
                ("groupvars/web/port", "80"),
                ("hosts/ungrouped/lonely", "0"),
                ("hosts/web/web01", "0"),
                ("hosts/web/web02", "1"),
                ("hostvars/lonely/ip", "10.0.0.9"),
                ("hostvars/web01/ip", "10.0.0.1"),
            ])
        );
    }

    #[test]
    fn hosts_and_groups_without_keys_get_the_one_that_keeps_them() {
        let file = json!({
            "all": {"children": ["ungrouped", "empty", "web"], "hosts": ["in-all"]},
            "web": ["web01"],
            "ungrouped": {"hosts": ["bare"]},
            "spare": {},
        });
        let encoded = encode_with(&file, ImportOptions::default()).unwrap();
        assert_eq!(encoded.empty_groups, ["empty"]);
        assert_eq!(
            text_pairs(encoded),
            pairs(&[
                ("groups/all/empty", "1"),
                ("groups/all/spare", ""),
                ("groups/all/ungrouped", "0"),
                ("groups/all/web", "2"),
                ("hosts/all/in-all", "0"),
                ("hosts/ungrouped/bare", "0"),
                ("hosts/web/web01", "0"),
            ])
        );
    }

    #[test]
    fn reads_back_as_the_same_inventory() {
        // Read back with strings marked unsafe, as by default.
        let u = |text: &str| json!({ "__ansible_unsafe": text });
        let original = json!({
            "_meta": {"hostvars": {
                "web01": {"ip": u("10.0.0.1"), "port": 8080, "tags": [u("a"), u("b")],
                          "secret": {"__ansible_vault": "$ANSIBLE_VAULT;1.1;AES256\n6162"}},
                "db01": {"port": u("5432"), "note": u("null"), "quoted": u("\"x\"")},
                "bare": {},
            }},
            "all": {"hosts": [], "vars": {"debug": false}, "children": ["db", "prod", "ungrouped"]},
            "db": {"hosts": ["db01"], "vars": {}, "children": []},
            "prod": {"hosts": [], "vars": {}, "children": ["web"]},
            "web": {"hosts": ["web01"], "vars": {"nested": {"a": {"b": [1, 2]}}}, "children": []},
            "ungrouped": {"hosts": ["bare"], "vars": {}, "children": []},
        });
        let rules = ValueRules {
            trust_templates: false,
            typed_values: true,
            nested_keys: false,
        };
        let typed = ImportOptions {
            values: rules,
            strict: true,
        };
        let encoded = encode_with(&original, typed).unwrap();
        assert_eq!(encoded.non_strings, 4);
        assert_eq!(read_back(&encoded.pairs, &rules), original);
        // Encoding what was read back writes the very same keys: import is idempotent.
        let again = encode_with(&read_back(&encoded.pairs, &rules), typed).unwrap();
        assert_eq!(again.pairs, encoded.pairs);
    }

    #[test]
    fn reads_back_in_the_order_of_the_file() {
        let original = json!({
            "_meta": {"hostvars": {"z1": {}, "z2": {}, "z3": {}, "b": {}, "a": {}}},
            "all": {"hosts": [], "vars": {}, "children": ["ungrouped", "zeta", "alpha"]},
            "zeta": {"hosts": ["z3", "z1", "z2"], "vars": {}, "children": ["empty", "inner"]},
            "inner": {"hosts": ["z2", "z1"], "vars": {}, "children": []},
            "empty": {"hosts": [], "vars": {}, "children": []},
            "alpha": {"hosts": [], "vars": {}, "children": []},
            "ungrouped": {"hosts": ["b", "a"], "vars": {}, "children": []},
        });
        let encoded = encode_with(&original, ImportOptions::default()).unwrap();
        let rules = ValueRules {
            trust_templates: true,
            ..ValueRules::default()
        };
        assert_eq!(read_back(&encoded.pairs, &rules), original);
    }

    /// The keys a plan would write after [`keep_equivalent`]: (created, changed, deleted).
    fn writes_after_keeping(
        file: &Value,
        now: &[(&str, &str)],
        rules: ValueRules,
        replace: bool,
    ) -> (Plan, Vec<Existing>) {
        let options = ImportOptions {
            values: rules,
            strict: false,
        };
        let wanted = encode_with(file, options).unwrap().pairs;
        let existing: Vec<Existing> = now.iter().map(|(k, v)| existing(k, v, 3)).collect();
        let prefix = Prefix::new(PREFIX);
        let kept = keep_equivalent(&prefix, &rules, wanted, &existing, replace);
        (plan(kept, existing.clone(), replace), existing)
    }

    #[test]
    fn importing_what_list_prints_changes_nothing_whatever_the_settings() {
        // Classic data: no positions, a JSON-quoted string, nested keys, a host only in all.
        let now = [
            ("groups/prod/web", ""),
            ("groups/prod/db", ""),
            ("hosts/web/w2", ""),
            ("hosts/web/w1", ""),
            ("hosts/db/d1", "x"),
            ("hosts/all/loner", ""),
            ("hostvars/w1/name", "\"web\""),
            ("hostvars/w1/port", "8080"),
            ("hostvars/w1/nginx/tls", "on"),
            ("hostvars/w1/nginx/port", "80"),
            ("hostvars/d1/vault", "$ANSIBLE_VAULT;1.1;AES256\n6162\n"),
            ("groupvars/web/list", "[1, 2]"),
        ];
        for trust_templates in [false, true] {
            for typed_values in [false, true] {
                for nested_keys in [false, true] {
                    let rules = ValueRules {
                        trust_templates,
                        typed_values,
                        nested_keys,
                    };
                    let pairs: Vec<Kv> = kvs(&pairs(&now));
                    let listed = read_back(&pairs, &rules);
                    let (plan, _) = writes_after_keeping(&listed, &now, rules, false);
                    assert_eq!(plan.writes, [], "{rules:?}: {plan:?}");
                    // A replace deletes only what --list skipped: nested keys read flat.
                    let (plan, _) = writes_after_keeping(&listed, &now, rules, true);
                    let skipped = if nested_keys { 0 } else { 2 };
                    assert_eq!((plan.created, plan.changed, plan.deleted), (0, 0, skipped), "{plan:?}");
                }
            }
        }
    }

    #[test]
    fn a_new_order_is_written_and_reads_back() {
        let now = [("hosts/web/w1", ""), ("hosts/web/w2", ""), ("hostvars/w1/x", "1")];
        let file = json!({"web": {"hosts": ["w2", "w1"]}, "_meta": {"hostvars": {"w1": {"x": "1"}}}});
        let rules = ValueRules::default();
        let (plan, existing) = writes_after_keeping(&file, &now, rules, true);
        assert_eq!((plan.created, plan.changed, plan.deleted), (0, 2, 0), "{plan:?}");
        // What etcd holds afterwards reads in the file's order.
        let mut after: BTreeMap<Vec<u8>, Vec<u8>> = existing.into_iter().map(|e| (e.key, e.value)).collect();
        for write in plan.writes {
            if let Write::Create { key, value } | Write::Change { key, value, .. } = write {
                after.insert(key, value);
            }
        }
        let after: Vec<Kv> = after.into_iter().map(|(key, value)| Kv { key, value }).collect();
        assert_eq!(read_back(&after, &rules)["web"]["hosts"], json!(["w2", "w1"]));
    }

    #[test]
    fn keys_kept_as_they_are_never_lose_a_host_under_replace() {
        // etcd has `h` in ungrouped through its variables; the file has it there without
        // any. Both read `ungrouped: [h]`, but a replace deletes h's variables, so
        // hosts/ungrouped/h must be written or h would vanish.
        let now = [("hostvars/h/x", "1")];
        let file = json!({"ungrouped": {"hosts": ["h"]}});
        let (plan, _) = writes_after_keeping(&file, &now, ValueRules::default(), true);
        assert!(
            plan.writes.contains(&Write::Create {
                key: b"/ansible/hosts/ungrouped/h".to_vec(),
                value: b"0".to_vec()
            }),
            "{plan:?}"
        );
        assert_eq!(plan.deleted, 1);
        // Without replace the variables stay, and so would h: nothing to write for it.
        let (plan, _) = writes_after_keeping(&file, &now, ValueRules::default(), false);
        assert_eq!(plan.writes, [], "{plan:?}");
    }

    #[test]
    fn strings_are_quoted_only_when_typed_readers_would_decode_them() {
        let file = json!({"_meta": {"hostvars": {"h": {"port": "8080", "name": "web", "n": 8080}}}, "g": ["h"]});
        let plain = text_pairs(encode_with(&file, ImportOptions::default()).unwrap());
        assert_eq!(plain["/ansible/hostvars/h/port"], "8080");
        assert_eq!(plain["/ansible/hostvars/h/n"], "8080");
        let typed = ImportOptions {
            values: ValueRules {
                typed_values: true,
                ..ValueRules::default()
            },
            strict: false,
        };
        let typed = text_pairs(encode_with(&file, typed).unwrap());
        assert_eq!(typed["/ansible/hostvars/h/port"], "\"8080\"");
        assert_eq!(typed["/ansible/hostvars/h/name"], "web");
        assert_eq!(typed["/ansible/hostvars/h/n"], "8080");
    }

    #[test]
    fn undefined_children_are_empty_groups_unless_strict() {
        let file = json!({"all": {"children": ["ungrouped", "web"]}, "web": {"children": ["edge", "ungrouped"]}});
        let strict = ImportOptions {
            strict: true,
            ..ImportOptions::default()
        };
        assert_eq!(
            encode_with(&file, strict),
            Err(ImportError::UndefinedChild {
                parent: "web".into(),
                child: "edge".into()
            })
        );
        let encoded = encode_with(&file, ImportOptions::default()).unwrap();
        assert_eq!(encoded.empty_groups, ["edge"]);
        assert_eq!(
            text_pairs(encoded),
            pairs(&[
                ("groups/all/ungrouped", "0"),
                ("groups/all/web", "1"),
                ("groups/web/edge", "0"),
                ("groups/web/ungrouped", "1")
            ])
        );
    }

    #[test]
    fn bad_input_is_refused_with_where_and_why() {
        let cases = [
            (json!([1]), "the file: expected an object of groups and _meta"),
            (json!({"web": "h1"}), "group \"web\": expected an object with hosts"),
            (
                json!({"web": {"hosts": "h1"}}),
                "group \"web\", hosts: expected a list of host names",
            ),
            (
                json!({"web": {"hosts": [1]}}),
                "group \"web\", hosts: expected a list of host names",
            ),
            (
                json!({"web": {"vars": []}}),
                "group \"web\", vars: expected an object of variables",
            ),
            (
                json!({"web": {"host": []}}),
                "group \"web\", field \"host\": expected only hosts",
            ),
            (json!({"_meta": []}), "_meta: expected an object with hostvars"),
            (
                json!({"_meta": {"hostvars": {"h": 1}}}),
                "_meta, hostvars of \"h\": expected an object",
            ),
            (json!({"a/b": ["h"]}), "group name \"a/b\" cannot be a key segment"),
            (json!({"web": ["a/b"]}), "host name \"a/b\" cannot be a key segment"),
            (json!({"web": ["" ]}), "host name \"\" cannot be a key segment"),
            (
                json!({"_meta": {"hostvars": {"h": {"x/y": 1}}}}),
                "variable name \"x/y\"",
            ),
            (
                json!({"a": {"children": ["b"]}, "b": {"children": ["a"]}}),
                "loop: a -> b -> a",
            ),
            (json!({"a": {"children": ["all"]}}), "names \"all\" as a child"),
        ];
        for (file, expected) in cases {
            let error = encode_with(&file, ImportOptions::default()).expect_err(&file.to_string());
            assert!(error.to_string().contains(expected), "{file}: {error}");
        }
        let not_json = encode(&Prefix::new(PREFIX), "{\"web\": ", ImportOptions::default()).unwrap_err();
        assert!(
            matches!(not_json, ImportError::NotJson(ref m) if m.contains("line 1")),
            "{not_json}"
        );
    }

    fn existing(key: &str, value: &str, mod_revision: i64) -> Existing {
        Existing {
            key: format!("{PREFIX}/{key}").into_bytes(),
            value: value.as_bytes().to_vec(),
            mod_revision,
            lease: 0,
        }
    }

    #[test]
    fn leased_keys_are_left_alone_unless_replacing() {
        let leased = |key: &str, value: &str, rev: i64| Existing {
            lease: 0x1d,
            ..existing(key, value, rev)
        };
        let wanted = pairs(&[
            ("hosts/web/a", "0"),
            ("hostvars/a/ip", "10.0.0.2"),
            ("hostvars/r/ip", "1"),
        ]);
        let now = vec![
            leased("hosts/web/a", "", 5),
            existing("hosts/web/b", "0", 4),
            leased("hostvars/a/ip", "10.0.0.2", 6),
            leased("hostvars/r/ip", "9", 7),
            leased("hosts/web/r", "", 7),
        ];
        let keep = plan(kvs(&wanted), now.clone(), false);
        assert_eq!(
            (keep.changed, keep.unchanged, keep.leased_kept, keep.leased_touched),
            (0, 1, 2, 0)
        );
        assert!(keep.writes.is_empty(), "{:?}", keep.writes);
        let replace = plan(kvs(&wanted), now, true);
        // Two leased keys changed, one leased key deleted (and one unleased).
        assert_eq!((replace.changed, replace.deleted, replace.leased_touched), (2, 2, 3));
    }

    #[test]
    fn a_registration_is_written_by_the_import_rules() {
        let prefix = Prefix::new(PREFIX);
        let groups = ["web".to_string(), "eu".to_string()];
        let vars = [
            ("port".to_string(), json!("8080")),
            ("n".to_string(), json!(3)),
            (
                "secret".to_string(),
                json!({"__ansible_vault": "$ANSIBLE_VAULT;1.1;AES256\n61"}),
            ),
        ];
        let registration = Registration {
            host: "web-7",
            groups: &groups,
            vars: &vars,
        };
        let typed = ImportOptions {
            values: ValueRules {
                typed_values: true,
                ..ValueRules::default()
            },
            ..ImportOptions::default()
        };
        let encoded = encode_registration(&prefix, registration, typed).unwrap();
        assert_eq!(encoded.non_strings, 1);
        assert_eq!(
            text_pairs(encoded),
            pairs(&[
                ("hosts/eu/web-7", ""),
                ("hosts/web/web-7", ""),
                ("hostvars/web-7/n", "3"),
                ("hostvars/web-7/port", "\"8080\""),
                ("hostvars/web-7/secret", "$ANSIBLE_VAULT;1.1;AES256\n61"),
            ])
        );
        for (host, groups, vars, expected) in [
            ("a/b", &groups[..], &vars[..], "host name \"a/b\""),
            ("h", &["x/y".to_string()][..], &vars[..], "group name \"x/y\""),
            (
                "h",
                &groups[..],
                &[("a/b".to_string(), json!(1))][..],
                "variable name \"a/b\"",
            ),
            ("h", &["_meta".to_string()][..], &vars[..], "_meta"),
        ] {
            let registration = Registration { host, groups, vars };
            let error = encode_registration(&prefix, registration, ImportOptions::default()).unwrap_err();
            assert!(error.to_string().contains(expected), "{error}");
        }
    }

    #[test]
    fn plan_counts_and_guards_every_write() {
        let wanted = pairs(&[
            ("hosts/web/a", ""),
            ("hostvars/a/ip", "10.0.0.2"),
            ("hostvars/a/os", "linux"),
        ]);
        let now = vec![
            existing("hosts/web/a", "", 5),
            existing("hostvars/a/ip", "10.0.0.1", 6),
            existing("hosts/old/a", "", 7),
        ];
        let keep = plan(kvs(&wanted), now.clone(), false);
        assert_eq!((keep.created, keep.changed, keep.unchanged, keep.deleted), (1, 1, 1, 0));
        assert_eq!(
            keep.writes,
            vec![
                Write::Change {
                    key: b"/ansible/hostvars/a/ip".to_vec(),
                    value: b"10.0.0.2".to_vec(),
                    mod_revision: 6
                },
                Write::Create {
                    key: b"/ansible/hostvars/a/os".to_vec(),
                    value: b"linux".to_vec()
                },
            ]
        );
        let replace = plan(kvs(&wanted), now.clone(), true);
        assert_eq!(replace.deleted, 1);
        assert_eq!(
            replace.writes.last(),
            Some(&Write::Delete {
                key: b"/ansible/hosts/old/a".to_vec(),
                mod_revision: 7
            })
        );
        // Unwanted keys before, between and after the wanted ones, in any order given.
        let mut more = now;
        more.insert(0, existing("zz/after", "", 9));
        more.push(existing("groups/before/x", "", 8));
        let replace = plan(kvs(&wanted), more, true);
        assert_eq!(
            (replace.created, replace.changed, replace.unchanged, replace.deleted),
            (1, 1, 1, 3)
        );
        let deleted: Vec<&[u8]> = replace
            .writes
            .iter()
            .filter_map(|w| match w {
                Write::Delete { key, .. } => Some(key.as_slice()),
                _ => None,
            })
            .collect();
        assert_eq!(
            deleted,
            [
                &b"/ansible/groups/before/x"[..],
                b"/ansible/hosts/old/a",
                b"/ansible/zz/after"
            ]
        );
    }

    #[test]
    fn batches_respect_ops_and_bytes() {
        let write = |value_len: usize| Write::Create {
            key: b"k".to_vec(),
            value: vec![b'v'; value_len],
        };
        let writes: Vec<Write> = (0..10).map(|_| write(0)).collect();
        assert_eq!(batches(&writes, 4, 1 << 20), vec![0..4, 4..8, 8..10]);
        let big = vec![write(600), write(600), write(2000), write(10)];
        assert_eq!(batches(&big, 128, 1000), vec![0..1, 1..2, 2..3, 3..4]);
        assert_eq!(batches(&[], 128, 1000), Vec::<Range<usize>>::new());
    }
}
