//! One host or one group made as asked: what the collection's `host` and `group` modules
//! want, against the keys etcd holds. Pure: the binary's `apply` command reads the keys,
//! asks [`plan`] for the guarded writes, and makes them in one transaction.
//!
//! The keys and their values are the import's (the same writer: typed values, nested keys,
//! Vault text), and a key that already says what is asked is left as it is: a membership or
//! children key keeps its position, a variable stored with other spacing or quoting that
//! reads as the wanted value keeps its text. So a second run with the same request writes
//! nothing, whoever wrote the keys first.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::import::{self, Existing, GroupState, ImportError, ImportOptions, Registration, Write};
use crate::inventory::{self, ALL, Inventory, Kv, LayoutError, UNGROUPED, Vars};
use crate::layout::{Entry, KeyRange, NO_POSITION, Prefix, var_path};
use crate::values::{ValueRules, to_variable};

/// The longest lease etcd grants (its MaxLeaseTTL), in seconds.
pub const MAX_LEASE_TTL_S: i64 = 9_000_000_000;

/// What to make of one host or group: the request the modules send, as JSON.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Request {
    Host(HostRequest),
    Group(GroupRequest),
}

/// Whether the host or group is to be in the inventory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    #[default]
    Present,
    Absent,
}

/// A host: its groups and variables. What is not given (`None`) stays as it is.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostRequest {
    pub name: String,
    #[serde(default)]
    pub state: State,
    /// The groups it is a member of: exactly these, or with `append` these besides its others.
    pub groups: Option<Vec<String>>,
    /// Its variables: exactly these, or with `append` these set and its others kept.
    pub vars: Option<Map<String, Value>>,
    #[serde(default)]
    pub append: bool,
    /// Put every key of the host under one lease of this many seconds.
    pub ttl: Option<i64>,
}

/// A group: its variables and children. What is not given (`None`) stays as it is.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRequest {
    pub name: String,
    #[serde(default)]
    pub state: State,
    pub vars: Option<Map<String, Value>>,
    /// Its child groups: exactly these, or with `append` these besides its others.
    pub children: Option<Vec<String>>,
    #[serde(default)]
    pub append: bool,
}

impl Request {
    /// Reads a request; the error names what is wrong with it.
    pub fn from_json(text: &str) -> Result<Request, ApplyError> {
        serde_json::from_str(text).map_err(|e| ApplyError::Request(e.to_string()))
    }

    /// `host` or `group`, and its name: for messages.
    pub fn describe(&self) -> String {
        match self {
            Request::Host(host) => format!("host {:?}", host.name),
            Request::Group(group) => format!("group {:?}", group.name),
        }
    }
}

/// A lease that etcd still has, as `etcd-inventory` found it before planning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseInfo {
    pub id: i64,
    /// The TTL it was granted, in seconds.
    pub granted_ttl: i64,
}

/// Which lease the keys that are put go under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// None: the keys stay until deleted.
    None,
    /// The lease every key of the host is under already, of the asked TTL: renewed, kept.
    Keep(i64),
    /// A new lease of this TTL, granted just before the writes: every key is put under it.
    New(i64),
}

/// What to write, and what the host or group reads as before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Every write, each guarded by the revision its key was read at: one transaction.
    pub writes: Vec<Write>,
    pub lease: Lease,
    /// A range no key of which may have changed since it was read, besides the keys
    /// written: the tree of groups, when a new child could close a loop with a child
    /// someone else adds meanwhile.
    pub unchanged: Option<KeyRange>,
    /// `{"state": "present", ...}` or `{"state": "absent"}`, values as Ansible would see
    /// them (strings plain, Vault text marked as such).
    pub before: Value,
    pub after: Value,
    /// Variables written as JSON text because they are not strings.
    pub non_strings: u64,
}

impl Plan {
    /// Whether the plan changes etcd: renewing a kept lease alone changes no key.
    pub fn changes(&self) -> bool {
        !self.writes.is_empty()
    }
}

/// Why a request cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyError {
    /// The request is not JSON of the right shape: serde's words.
    Request(String),
    /// A name no key can hold, or keys `--list` would refuse.
    Encode(ImportError),
    /// With the change, the inventory could not be read (a loop among children).
    Layout(LayoutError),
    /// A host present with no group and no variable would have no key at all.
    NoKeys { host: String },
    /// A TTL out of etcd's range.
    Ttl(i64),
    /// `all` and `ungrouped` are always there: they cannot be absent.
    Implicit { group: String },
    /// `all`'s children are every group without a parent: not set by hand.
    AllChildren,
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApplyError::Request(why) => write!(f, "the request is not what apply takes: {why}"),
            ApplyError::Encode(e) => write!(f, "{e}"),
            ApplyError::Layout(e) => write!(
                f,
                "the change would make the inventory unreadable: {}",
                Error::Layout(e.clone())
            ),
            ApplyError::NoKeys { host } => write!(
                f,
                "host {host:?} would have no group and no variable, so no key at all: give groups or vars (a \
                 host in no group is in ungrouped), or state absent"
            ),
            ApplyError::Ttl(ttl) => write!(
                f,
                "ttl {ttl} is not a number of seconds from 1 to {MAX_LEASE_TTL_S} (etcd's longest lease)"
            ),
            ApplyError::Implicit { group } => {
                write!(f, "group {group:?} is always in the inventory: it cannot be absent")
            }
            ApplyError::AllChildren => write!(
                f,
                "the children of group \"all\" are every group without a parent: give a group children, or make it \
                 present, instead"
            ),
        }
    }
}

impl From<ImportError> for ApplyError {
    fn from(e: ImportError) -> Self {
        ApplyError::Encode(e)
    }
}

/// The writes that make etcd say `request`. `keys` are what etcd holds: for a host its own
/// keys ([`Prefix::is_own_key`]); for a group its variables, members and children and the
/// tree of groups ([`Prefix::children_range`]). Other keys among them are left alone.
/// `leases`: the leases of those keys that etcd still has.
pub fn plan(
    prefix: &Prefix,
    rules: &ValueRules,
    request: &Request,
    keys: &[Existing],
    leases: &[LeaseInfo],
) -> Result<Plan, ApplyError> {
    match request {
        Request::Host(host) => plan_host(prefix, rules, host, keys, leases),
        Request::Group(group) => plan_group(prefix, rules, group, keys),
    }
}

fn plan_host(
    prefix: &Prefix,
    rules: &ValueRules,
    request: &HostRequest,
    keys: &[Existing],
    leases: &[LeaseInfo],
) -> Result<Plan, ApplyError> {
    let host = request.name.as_str();
    import::check_name("host", host)?;
    let own: Vec<&Existing> = keys.iter().filter(|e| prefix.is_own_key(&e.key, host)).collect();
    let lease_now = shared_lease(own.iter().copied()).and_then(|id| leases.iter().find(|l| l.id == id));
    let before = host_view(
        prefix,
        rules,
        host,
        own.iter().map(|e| kv(&e.key, &e.value)),
        lease_now.map(|l| l.granted_ttl),
    );
    if request.state == State::Absent {
        return Ok(deleting(&own, before));
    }
    if let Some(ttl) = request.ttl.filter(|ttl| !(1..=MAX_LEASE_TTL_S).contains(ttl)) {
        return Err(ApplyError::Ttl(ttl));
    }

    let groups_now = own.iter().filter_map(|e| match prefix.entry(&e.key) {
        Some(Entry::Member { group, .. }) => Some(group.to_string()),
        _ => None,
    });
    let groups = merged(groups_now.collect(), request.groups.as_deref(), request.append);
    let given: Vec<(String, Value)> = (request.vars.iter().flatten())
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let options = ImportOptions {
        values: *rules,
        strict: false,
    };
    let registration = Registration {
        host,
        groups: &groups,
        vars: &given,
    };
    let encoded = import::encode_registration(prefix, registration, options)?;
    let mut wanted: BTreeMap<Vec<u8>, Vec<u8>> = encoded.pairs.into_iter().map(|kv| (kv.key, kv.value)).collect();
    for e in &own {
        if let Some(Entry::HostVar { var, .. }) = prefix.entry(&e.key)
            && keeps_var(var, request.vars.as_ref(), request.append)
        {
            wanted.insert(e.key.clone(), e.value.clone());
        }
    }
    if wanted.is_empty() {
        return Err(ApplyError::NoKeys { host: host.to_string() });
    }
    readable(prefix, rules, &wanted)?;
    let lease = match (request.ttl, lease_now) {
        (None, _) => Lease::None,
        (Some(ttl), Some(now)) if now.granted_ttl == ttl => Lease::Keep(now.id),
        (Some(ttl), _) => Lease::New(ttl),
    };
    let (writes, after) = writes(prefix, rules, keys, |e| prefix.is_own_key(&e.key, host), wanted, lease);
    let after_ttl = match lease {
        Lease::None => None,
        Lease::Keep(_) => lease_now.map(|l| l.granted_ttl),
        Lease::New(ttl) => Some(ttl),
    };
    let after = host_view(
        prefix,
        rules,
        host,
        after.iter().map(|kv| (&kv.key[..], &kv.value[..])),
        after_ttl,
    );
    Ok(Plan {
        writes,
        lease,
        unchanged: None,
        before,
        after,
        non_strings: encoded.non_strings,
    })
}

fn plan_group(
    prefix: &Prefix,
    rules: &ValueRules,
    request: &GroupRequest,
    keys: &[Existing],
) -> Result<Plan, ApplyError> {
    let group = request.name.as_str();
    import::check_name("group", group)?;
    // Its own keys, which say its variables and children, and the keys that name it.
    let is_own = |e: &Existing| match prefix.entry(&e.key) {
        Some(Entry::GroupVar { group: g, .. } | Entry::Child { parent: g, .. }) => g == group,
        _ => false,
    };
    let names_it = |e: &Existing| match prefix.entry(&e.key) {
        Some(Entry::Member { group: g, .. } | Entry::Child { child: g, .. }) => g == group,
        _ => false,
    };
    let mine: Vec<&Existing> = keys.iter().filter(|&e| is_own(e) || names_it(e)).collect();
    let before = group_view(prefix, rules, group, mine.iter().map(|e| kv(&e.key, &e.value)));
    if request.state == State::Absent {
        if group == ALL || group == UNGROUPED {
            return Err(ApplyError::Implicit {
                group: group.to_string(),
            });
        }
        return Ok(deleting(&mine, before));
    }
    if group == ALL && request.children.is_some() {
        return Err(ApplyError::AllChildren);
    }

    let children_now = keys.iter().filter_map(|e| match prefix.entry(&e.key) {
        Some(Entry::Child { parent, child }) if parent == group => Some(child.to_string()),
        _ => None,
    });
    let children = merged(children_now.collect(), request.children.as_deref(), request.append);
    let given: Vec<(String, Value)> = (request.vars.iter().flatten())
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let options = ImportOptions {
        values: *rules,
        strict: false,
    };
    let state = GroupState {
        group,
        vars: &given,
        children: &children,
    };
    let encoded = import::encode_group(prefix, state, options)?;
    let mut wanted: BTreeMap<Vec<u8>, Vec<u8>> = encoded.pairs.into_iter().map(|kv| (kv.key, kv.value)).collect();
    for e in keys.iter().filter(|&e| is_own(e)) {
        if let Some(Entry::GroupVar { var, .. }) = prefix.entry(&e.key)
            && keeps_var(var, request.vars.as_ref(), request.append)
        {
            wanted.insert(e.key.clone(), e.value.clone());
        }
    }
    // A group that no key names is not there: the key import gives an empty group.
    let named_elsewhere = keys.iter().any(names_it);
    if wanted.is_empty() && !named_elsewhere && group != ALL && group != UNGROUPED {
        let key = prefix.key(Entry::Child {
            parent: ALL,
            child: group,
        });
        wanted.insert(key.into_bytes(), NO_POSITION.as_bytes().to_vec());
    }
    readable(prefix, rules, &wanted)?;
    let (writes, after) = writes(prefix, rules, keys, is_own, wanted, Lease::None);
    let new_child = writes.iter().any(|w| match w {
        Write::Create { key, .. } => matches!(prefix.entry(key), Some(Entry::Child { parent, .. }) if parent == group),
        _ => false,
    });
    if new_child {
        // The tree as it will be: no loop, `all` nobody's child.
        let tree = tree_after(prefix, keys, &writes);
        inventory::build(prefix, &tree, rules).map_err(ApplyError::Layout)?;
    }
    // The keys that name it stay, so they are part of what it reads as after.
    let kept_names = mine
        .iter()
        .filter(|&&e| names_it(e) && !after.iter().any(|kv| kv.key == e.key))
        .map(|e| kv(&e.key, &e.value));
    let after_keys: Vec<(&[u8], &[u8])> = after
        .iter()
        .map(|kv| (&kv.key[..], &kv.value[..]))
        .chain(kept_names)
        .collect();
    Ok(Plan {
        writes,
        lease: Lease::None,
        unchanged: new_child.then(|| prefix.children_range()),
        before,
        after: group_view(prefix, rules, group, after_keys.into_iter()),
        non_strings: encoded.non_strings,
    })
}

/// Refuses keys `--list` would refuse (a group named `_meta`, a name like Ansible's JSON
/// markers), kept ones included.
fn readable(prefix: &Prefix, rules: &ValueRules, keys: &BTreeMap<Vec<u8>, Vec<u8>>) -> Result<(), ApplyError> {
    let pairs: Vec<Kv> = keys
        .iter()
        .map(|(key, value)| Kv {
            key: key.clone(),
            value: value.clone(),
        })
        .collect();
    inventory::build(prefix, &pairs, rules).map_err(ApplyError::Layout)?;
    Ok(())
}

/// Deletes every key of `keys`, each guarded by its revision.
fn deleting(keys: &[&Existing], before: Value) -> Plan {
    let writes = keys
        .iter()
        .map(|e| Write::Delete {
            key: e.key.clone(),
            mod_revision: e.mod_revision,
        })
        .collect();
    Plan {
        writes,
        lease: Lease::None,
        unchanged: None,
        before,
        after: json!({"state": "absent"}),
        non_strings: 0,
    }
}

/// The names there are now, those `given`, or both (`append`); sorted, each once.
fn merged(now: BTreeSet<String>, given: Option<&[String]>, append: bool) -> Vec<String> {
    match given {
        None => now.into_iter().collect(),
        Some(given) if append => now
            .into_iter()
            .chain(given.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        Some(given) => given.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect(),
    }
}

/// Whether a variable key already in etcd stays: when no variables are given, or, with
/// `append`, when none given has its name (its first segment, for a nested key).
fn keeps_var(var: &str, given: Option<&Map<String, Value>>, append: bool) -> bool {
    match given {
        None => true,
        Some(given) => append && var_path(var).next().is_none_or(|name| !given.contains_key(name)),
    }
}

/// The one lease every key is under, if they share one (and have one): the only lease a
/// plan can keep, so the only one whose TTL [`plan`] needs to know.
pub fn shared_lease<'a>(keys: impl IntoIterator<Item = &'a Existing>) -> Option<i64> {
    let mut keys = keys.into_iter();
    let first = keys.next()?.lease;
    (first != 0 && keys.all(|e| e.lease == first)).then_some(first)
}

fn kv<'k>(key: &'k [u8], value: &'k [u8]) -> (&'k [u8], &'k [u8]) {
    (key, value)
}

/// The guarded writes that turn the keys `managed` picks out of `keys` into `wanted`
/// (whose other keys are looked up in `keys` too), and the wanted keys as they will be.
/// A wanted key that is there keeps its value where the value says the same: always for a
/// membership or children key (its value is its position), and for a variable when it
/// reads as the wanted value by `rules`. Keys are put again when their lease is not the
/// one asked for.
fn writes(
    prefix: &Prefix,
    rules: &ValueRules,
    keys: &[Existing],
    managed: impl Fn(&Existing) -> bool,
    wanted: BTreeMap<Vec<u8>, Vec<u8>>,
    lease: Lease,
) -> (Vec<Write>, Vec<Kv>) {
    let now: BTreeMap<&[u8], &Existing> = keys.iter().map(|e| (e.key.as_slice(), e)).collect();
    let mut writes = Vec::new();
    let mut after = Vec::with_capacity(wanted.len());
    for (key, value) in wanted {
        let Some(old) = now.get(key.as_slice()) else {
            writes.push(Write::Create {
                key: key.clone(),
                value: value.clone(),
            });
            after.push(Kv { key, value });
            continue;
        };
        let same = match prefix.entry(&key) {
            Some(Entry::HostVar { .. } | Entry::GroupVar { .. }) => {
                old.value == value || reads_the_same(&old.value, &value, rules)
            }
            _ => true,
        };
        let value = if same { old.value.clone() } else { value };
        let lease_ok = match lease {
            Lease::None => old.lease == 0,
            Lease::Keep(id) => old.lease == id,
            Lease::New(_) => false,
        };
        if !same || !lease_ok {
            writes.push(Write::Change {
                key: key.clone(),
                value: value.clone(),
                mod_revision: old.mod_revision,
            });
        }
        after.push(Kv { key, value });
    }
    let wanted_keys: BTreeSet<&[u8]> = after.iter().map(|kv| kv.key.as_slice()).collect();
    for old in keys
        .iter()
        .filter(|&e| managed(e) && !wanted_keys.contains(e.key.as_slice()))
    {
        writes.push(Write::Delete {
            key: old.key.clone(),
            mod_revision: old.mod_revision,
        });
    }
    (writes, after)
}

/// Whether two stored values read as the same variable by `rules`.
fn reads_the_same(old: &[u8], new: &[u8], rules: &ValueRules) -> bool {
    match (std::str::from_utf8(old), std::str::from_utf8(new)) {
        (Ok(old), Ok(new)) => to_variable(old.to_string(), rules) == to_variable(new.to_string(), rules),
        _ => false,
    }
}

/// Every children key after `writes`.
fn tree_after(prefix: &Prefix, keys: &[Existing], writes: &[Write]) -> Vec<Kv> {
    let is_child = |key: &[u8]| matches!(prefix.entry(key), Some(Entry::Child { .. }));
    let mut tree: BTreeMap<Vec<u8>, Vec<u8>> = (keys.iter())
        .filter(|e| is_child(e.key.as_slice()))
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect();
    for write in writes {
        match write {
            Write::Create { key, value } | Write::Change { key, value, .. } if is_child(key.as_slice()) => {
                tree.insert(key.clone(), value.clone());
            }
            Write::Delete { key, .. } => {
                tree.remove(key);
            }
            _ => {}
        }
    }
    tree.into_iter().map(|(key, value)| Kv { key, value }).collect()
}

/// Values as a playbook would use them: strings plain, Vault text as `{"__ansible_vault":
/// ...}`, typed and nested as the settings read them.
fn display_rules(rules: &ValueRules) -> ValueRules {
    ValueRules {
        trust_templates: true,
        ..*rules
    }
}

/// The inventory the keys alone say, or, if `--list` would refuse them, their text by key.
fn vars_of<'k>(
    prefix: &Prefix,
    rules: &ValueRules,
    keys: &[(&'k [u8], &'k [u8])],
    pick: impl Fn(&Inventory) -> Option<&Vars>,
) -> Value {
    let pairs: Vec<Kv> = keys
        .iter()
        .map(|(k, v)| Kv {
            key: k.to_vec(),
            value: v.to_vec(),
        })
        .collect();
    match inventory::build(prefix, &pairs, &display_rules(rules)) {
        Ok(built) => {
            serde_json::to_value(pick(&built.value).cloned().unwrap_or_default()).expect("variables serialise")
        }
        Err(_) => {
            let dir = prefix.dir();
            let raw: Map<String, Value> = (pairs.iter())
                .map(|kv| {
                    let key = String::from_utf8_lossy(&kv.key);
                    let key = key.strip_prefix(dir.as_str()).unwrap_or(&key).to_string();
                    (key, Value::String(String::from_utf8_lossy(&kv.value).into_owned()))
                })
                .collect();
            Value::Object(raw)
        }
    }
}

/// A host as the modules show it: `{"state": "absent"}` without keys, else its groups
/// (those it has a membership key of), its variables and the TTL of its lease.
fn host_view<'k>(
    prefix: &Prefix,
    rules: &ValueRules,
    host: &str,
    keys: impl Iterator<Item = (&'k [u8], &'k [u8])>,
    ttl: Option<i64>,
) -> Value {
    let keys: Vec<(&[u8], &[u8])> = keys.collect();
    if keys.is_empty() {
        return json!({"state": "absent"});
    }
    let mut groups = BTreeSet::new();
    let mut var_keys = Vec::new();
    for (key, value) in &keys {
        match prefix.entry(key) {
            Some(Entry::Member { group, .. }) => {
                groups.insert(group);
            }
            Some(Entry::HostVar { .. }) => var_keys.push((*key, *value)),
            _ => {}
        }
    }
    let vars = vars_of(prefix, rules, &var_keys, |inv| inv.hostvars.get(host));
    json!({"state": "present", "groups": groups, "vars": vars, "ttl": ttl})
}

/// A group as the modules show it: `{"state": "absent"}` when no key names it, else its
/// variables, children and hosts (those of its own membership keys), names sorted.
fn group_view<'k>(
    prefix: &Prefix,
    rules: &ValueRules,
    group: &str,
    keys: impl Iterator<Item = (&'k [u8], &'k [u8])>,
) -> Value {
    let keys: Vec<(&[u8], &[u8])> = keys.collect();
    if keys.is_empty() && group != ALL && group != UNGROUPED {
        return json!({"state": "absent"});
    }
    let (mut children, mut hosts, mut var_keys) = (BTreeSet::new(), BTreeSet::new(), Vec::new());
    for (key, value) in &keys {
        match prefix.entry(key) {
            Some(Entry::Child { parent, child }) if parent == group => {
                children.insert(child);
            }
            Some(Entry::Member { host, .. }) => {
                hosts.insert(host);
            }
            Some(Entry::GroupVar { .. }) => var_keys.push((*key, *value)),
            _ => {}
        }
    }
    let vars = vars_of(prefix, rules, &var_keys, |inv| inv.groups.get(group).map(|g| &g.vars));
    json!({"state": "present", "vars": vars, "children": children, "hosts": hosts})
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "/ansible";

    fn prefix() -> Prefix {
        Prefix::new(PREFIX)
    }

    fn existing(key: &str, value: &str, mod_revision: i64, lease: i64) -> Existing {
        Existing {
            key: format!("{PREFIX}/{key}").into_bytes(),
            value: value.as_bytes().to_vec(),
            mod_revision,
            lease,
        }
    }

    fn request(json: Value) -> Request {
        Request::from_json(&json.to_string()).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    fn plan_of(json: Value, keys: &[Existing], leases: &[LeaseInfo], rules: ValueRules) -> Result<Plan, ApplyError> {
        plan(&prefix(), &rules, &request(json), keys, leases)
    }

    /// The writes as (verb, key after the prefix, value) for short assertions.
    fn said(plan: &Plan) -> Vec<(&'static str, String, String)> {
        let rest = |key: &[u8]| String::from_utf8_lossy(&key[PREFIX.len() + 1..]).into_owned();
        let text = |value: &[u8]| String::from_utf8_lossy(value).into_owned();
        plan.writes
            .iter()
            .map(|w| match w {
                Write::Create { key, value } => ("create", rest(key), text(value)),
                Write::Change { key, value, .. } => ("change", rest(key), text(value)),
                Write::Delete { key, .. } => ("delete", rest(key), String::new()),
            })
            .collect()
    }

    fn w(verb: &'static str, key: &str, value: &str) -> (&'static str, String, String) {
        (verb, key.to_string(), value.to_string())
    }

    /// Etcd as it is after `plan`'s writes, from `keys` as they were.
    fn applied(keys: &[Existing], plan: &Plan, revision: i64) -> Vec<Existing> {
        let mut now: BTreeMap<Vec<u8>, Existing> = keys.iter().map(|e| (e.key.clone(), e.clone())).collect();
        let lease = match plan.lease {
            Lease::None => 0,
            Lease::Keep(id) => id,
            Lease::New(_) => 0x99,
        };
        for write in &plan.writes {
            match write {
                Write::Create { key, value } | Write::Change { key, value, .. } => {
                    now.insert(
                        key.clone(),
                        Existing {
                            key: key.clone(),
                            value: value.clone(),
                            mod_revision: revision,
                            lease,
                        },
                    );
                }
                Write::Delete { key, .. } => {
                    now.remove(key);
                }
            }
        }
        now.into_values().collect()
    }

    #[test]
    fn requests_are_read_strictly() {
        let host = request(json!({"kind": "host", "name": "h", "groups": ["web"]}));
        assert_eq!(
            host,
            Request::Host(HostRequest {
                name: "h".into(),
                state: State::Present,
                groups: Some(vec!["web".into()]),
                vars: None,
                append: false,
                ttl: None,
            })
        );
        for (bad, expected) in [
            (
                json!({"kind": "host", "name": "h", "grups": []}),
                "unknown field `grups`",
            ),
            (json!({"kind": "hosts", "name": "h"}), "unknown variant `hosts`"),
            (
                json!({"kind": "group", "name": "g", "state": "gone"}),
                "unknown variant `gone`",
            ),
            (json!({"kind": "group", "name": "g", "ttl": 5}), "unknown field `ttl`"),
            (json!({"kind": "host"}), "missing field `name`"),
            (json!({"kind": "host", "name": "h", "vars": []}), "expected a map"),
        ] {
            let error = Request::from_json(&bad.to_string()).unwrap_err().to_string();
            assert!(error.contains(expected), "{bad}: {error}");
        }
    }

    #[test]
    fn a_new_host_gets_its_memberships_and_variables_and_a_second_run_writes_nothing() {
        let rules = ValueRules::default();
        let ask =
            json!({"kind": "host", "name": "web-7", "groups": ["web", "eu"], "vars": {"ip": "10.0.0.7", "port": 8080}});
        let first = plan_of(ask.clone(), &[], &[], rules).unwrap();
        assert_eq!(
            said(&first),
            [
                w("create", "hosts/eu/web-7", ""),
                w("create", "hosts/web/web-7", ""),
                w("create", "hostvars/web-7/ip", "10.0.0.7"),
                w("create", "hostvars/web-7/port", "8080"),
            ]
        );
        assert_eq!(first.before, json!({"state": "absent"}));
        assert_eq!(
            first.after,
            json!({"state": "present", "groups": ["eu", "web"], "vars": {"ip": "10.0.0.7", "port": "8080"}, "ttl": null})
        );
        assert_eq!(first.non_strings, 1);
        let now = applied(&[], &first, 10);
        let second = plan_of(ask, &now, &[], rules).unwrap();
        assert!(!second.changes(), "{:?}", said(&second));
        assert_eq!(second.before, first.after);
        assert_eq!(second.after, first.after);
    }

    #[test]
    fn an_imported_host_keeps_its_positions_and_equivalent_values() {
        let rules = ValueRules {
            typed_values: true,
            ..ValueRules::default()
        };
        let keys = [
            existing("hosts/web/h", "3", 5, 0),
            existing("hostvars/h/list", "[1,  2]", 6, 0),
            existing("hostvars/h/name", "\"web\"", 6, 0),
        ];
        let ask = json!({"kind": "host", "name": "h", "groups": ["web"], "vars": {"list": [1, 2], "name": "web"}});
        let plan = plan_of(ask, &keys, &[], rules).unwrap();
        assert!(!plan.changes(), "{:?}", said(&plan));
        assert_eq!(plan.after["vars"], json!({"list": [1, 2], "name": "web"}));
    }

    #[test]
    fn exact_groups_and_vars_replace_and_append_adds() {
        let rules = ValueRules::default();
        let keys = [
            existing("hosts/web/h", "0", 5, 0),
            existing("hosts/db/h", "", 5, 0),
            existing("hostvars/h/a", "1", 6, 0),
            existing("hostvars/h/b", "2", 6, 0),
            // Not the host's: left alone whatever the request.
            existing("hosts/web/h2", "", 7, 0),
            existing("groupvars/h/a", "x", 7, 0),
        ];
        let exact = plan_of(
            json!({"kind": "host", "name": "h", "groups": ["web", "eu"], "vars": {"a": "1"}}),
            &keys,
            &[],
            rules,
        )
        .unwrap();
        assert_eq!(
            said(&exact),
            [
                w("create", "hosts/eu/h", ""),
                w("delete", "hosts/db/h", ""),
                w("delete", "hostvars/h/b", ""),
            ]
        );
        let append = plan_of(
            json!({"kind": "host", "name": "h", "groups": ["eu"], "vars": {"b": "3"}, "append": true}),
            &keys,
            &[],
            rules,
        )
        .unwrap();
        assert_eq!(
            said(&append),
            [w("create", "hosts/eu/h", ""), w("change", "hostvars/h/b", "3")]
        );
        assert_eq!(append.after["groups"], json!(["db", "eu", "web"]));
        assert_eq!(append.after["vars"], json!({"a": "1", "b": "3"}));
        // Not given: as it is.
        let groups_only = plan_of(
            json!({"kind": "host", "name": "h", "groups": ["db", "web"]}),
            &keys,
            &[],
            rules,
        )
        .unwrap();
        assert!(!groups_only.changes(), "{:?}", said(&groups_only));
        // Guarded by the revisions they were read at.
        assert!(exact.writes.contains(&Write::Delete {
            key: b"/ansible/hosts/db/h".to_vec(),
            mod_revision: 5
        }));
    }

    #[test]
    fn absent_deletes_exactly_the_host_s_own_keys() {
        let keys = [
            existing("hosts/web/h", "0", 5, 0),
            existing("hostvars/h/a", "1", 6, 0),
            existing("hostvars/h/n/m", "1", 6, 0),
            existing("hosts/web/h2", "", 7, 0),
            existing("hosts/h/x", "", 7, 0),
            existing("groupvars/h/a", "x", 7, 0),
        ];
        let plan = plan_of(
            json!({"kind": "host", "name": "h", "state": "absent", "groups": ["x"]}),
            &keys,
            &[],
            ValueRules::default(),
        )
        .unwrap();
        assert_eq!(
            said(&plan),
            [
                w("delete", "hosts/web/h", ""),
                w("delete", "hostvars/h/a", ""),
                w("delete", "hostvars/h/n/m", "")
            ]
        );
        assert_eq!(plan.after, json!({"state": "absent"}));
        assert_eq!(plan.before["groups"], json!(["web"]));
        let gone = plan_of(
            json!({"kind": "host", "name": "zz", "state": "absent"}),
            &keys,
            &[],
            ValueRules::default(),
        )
        .unwrap();
        assert!(!gone.changes());
    }

    #[test]
    fn a_ttl_puts_every_key_under_one_lease_and_keeps_a_lease_of_the_same_ttl() {
        let rules = ValueRules::default();
        let ask = json!({"kind": "host", "name": "h", "groups": ["web"], "ttl": 60});
        let keys = [existing("hosts/web/h", "0", 5, 0), existing("hostvars/h/a", "1", 6, 0)];
        let leased = plan_of(ask.clone(), &keys, &[], rules).unwrap();
        assert_eq!(leased.lease, Lease::New(60));
        // Unchanged values are put again, under the new lease.
        assert_eq!(
            said(&leased),
            [w("change", "hosts/web/h", "0"), w("change", "hostvars/h/a", "1")]
        );
        assert_eq!(leased.after["ttl"], json!(60));
        let under = |lease| {
            [
                existing("hosts/web/h", "0", 8, lease),
                existing("hostvars/h/a", "1", 8, lease),
            ]
        };
        let lease = LeaseInfo {
            id: 0x1d,
            granted_ttl: 60,
        };
        let again = plan_of(ask.clone(), &under(0x1d), &[lease], rules).unwrap();
        assert_eq!(again.lease, Lease::Keep(0x1d));
        assert!(!again.changes(), "{:?}", said(&again));
        assert_eq!(again.before["ttl"], json!(60));
        // Another TTL, an expired lease, or keys under two leases: a new lease.
        let longer = plan_of(
            json!({"kind": "host", "name": "h", "ttl": 600}),
            &under(0x1d),
            &[lease],
            rules,
        )
        .unwrap();
        assert_eq!(longer.lease, Lease::New(600));
        assert_eq!(
            plan_of(ask.clone(), &under(0x1d), &[], rules).unwrap().lease,
            Lease::New(60)
        );
        let mixed = [
            existing("hosts/web/h", "0", 8, 0x1d),
            existing("hostvars/h/a", "1", 8, 0x2e),
        ];
        assert_eq!(plan_of(ask, &mixed, &[lease], rules).unwrap().lease, Lease::New(60));
        // Without a ttl, leased keys are put again without one: they no longer expire.
        let unleased = plan_of(json!({"kind": "host", "name": "h"}), &under(0x1d), &[lease], rules).unwrap();
        assert_eq!((unleased.lease, unleased.writes.len()), (Lease::None, 2));
        assert_eq!(unleased.after["ttl"], Value::Null);
    }

    #[test]
    fn bad_host_requests_are_refused() {
        let rules = ValueRules::default();
        for (ask, expected) in [
            (
                json!({"kind": "host", "name": "a/b", "groups": ["g"]}),
                "host name \"a/b\"",
            ),
            (
                json!({"kind": "host", "name": "h", "groups": ["x/y"]}),
                "group name \"x/y\"",
            ),
            (
                json!({"kind": "host", "name": "h", "vars": {"a/b": 1}}),
                "variable name \"a/b\"",
            ),
            (json!({"kind": "host", "name": "h", "groups": ["_meta"]}), "_meta"),
            (json!({"kind": "host", "name": "h"}), "no key at all"),
            (
                json!({"kind": "host", "name": "h", "groups": [], "vars": {}}),
                "no key at all",
            ),
            (json!({"kind": "host", "name": "h", "groups": ["g"], "ttl": 0}), "ttl 0"),
            (
                json!({"kind": "host", "name": "h", "groups": ["g"], "ttl": 9_000_000_001_i64}),
                "ttl 9000000001",
            ),
        ] {
            let error = plan_of(ask.clone(), &[], &[], rules).unwrap_err().to_string();
            assert!(error.contains(expected), "{ask}: {error}");
        }
    }

    #[test]
    fn a_new_group_is_kept_by_one_key_and_gets_its_vars_and_children() {
        let rules = ValueRules::default();
        let empty = plan_of(json!({"kind": "group", "name": "edge"}), &[], &[], rules).unwrap();
        assert_eq!(said(&empty), [w("create", "groups/all/edge", "")]);
        assert_eq!(
            empty.after,
            json!({"state": "present", "vars": {}, "children": [], "hosts": []})
        );
        let ask = json!({"kind": "group", "name": "prod", "vars": {"env": "prod"}, "children": ["web", "db"]});
        let keys = [
            existing("groups/prod/web", "0", 4, 0),
            existing("hosts/prod/h", "", 4, 0),
        ];
        let plan = plan_of(ask.clone(), &keys, &[], rules).unwrap();
        assert_eq!(
            said(&plan),
            [
                w("create", "groups/prod/db", ""),
                w("create", "groupvars/prod/env", "prod")
            ]
        );
        assert_eq!(plan.unchanged, Some(prefix().children_range()));
        assert_eq!(
            plan.after,
            json!({"state": "present", "vars": {"env": "prod"}, "children": ["db", "web"], "hosts": ["h"]})
        );
        let second = plan_of(ask, &applied(&keys, &plan, 9), &[], rules).unwrap();
        assert!(!second.changes(), "{:?}", said(&second));
        assert_eq!(second.unchanged, None);
    }

    #[test]
    fn group_children_are_exact_unless_appended_and_never_make_a_loop() {
        let rules = ValueRules::default();
        let keys = [
            existing("groups/prod/web", "0", 4, 0),
            existing("groups/prod/db", "1", 4, 0),
            existing("groups/web/edge", "", 4, 0),
            existing("groupvars/prod/a", "1", 4, 0),
        ];
        let exact = plan_of(
            json!({"kind": "group", "name": "prod", "children": ["web"]}),
            &keys,
            &[],
            rules,
        )
        .unwrap();
        assert_eq!(said(&exact), [w("delete", "groups/prod/db", "")]);
        let append = plan_of(
            json!({"kind": "group", "name": "prod", "children": ["x"], "append": true}),
            &keys,
            &[],
            rules,
        )
        .unwrap();
        assert_eq!(said(&append), [w("create", "groups/prod/x", "")]);
        for (ask, expected) in [
            (json!({"kind": "group", "name": "edge", "children": ["prod"]}), "loop"),
            (json!({"kind": "group", "name": "edge", "children": ["edge"]}), "loop"),
            (json!({"kind": "group", "name": "edge", "children": ["all"]}), "\"all\""),
            (
                json!({"kind": "group", "name": "all", "children": ["x"]}),
                "every group without a parent",
            ),
            (
                json!({"kind": "group", "name": "all", "state": "absent"}),
                "always in the inventory",
            ),
            (json!({"kind": "group", "name": "_meta"}), "_meta"),
            (
                json!({"kind": "group", "name": "g", "vars": {"a/b": 1}}),
                "variable name",
            ),
        ] {
            let error = plan_of(ask.clone(), &keys, &[], rules).unwrap_err().to_string();
            assert!(error.contains(expected), "{ask}: {error}");
        }
    }

    #[test]
    fn an_absent_group_loses_every_key_that_names_it_and_nothing_else() {
        let keys = [
            existing("groups/all/web", "", 3, 0),
            existing("groups/prod/web", "0", 4, 0),
            existing("groups/web/edge", "", 4, 0),
            existing("groupvars/web/a", "1", 4, 0),
            existing("hosts/web/h", "", 4, 0),
            existing("hostvars/web/a", "1", 4, 0),
            existing("hosts/webs/h", "", 4, 0),
            existing("groups/prod/db", "1", 4, 0),
        ];
        let plan = plan_of(
            json!({"kind": "group", "name": "web", "state": "absent"}),
            &keys,
            &[],
            ValueRules::default(),
        )
        .unwrap();
        let mut deleted: Vec<String> = said(&plan).into_iter().map(|(_, key, _)| key).collect();
        deleted.sort();
        assert_eq!(
            deleted,
            [
                "groups/all/web",
                "groups/prod/web",
                "groups/web/edge",
                "groupvars/web/a",
                "hosts/web/h"
            ]
        );
        assert_eq!(plan.before["hosts"], json!(["h"]));
        assert_eq!(plan.after, json!({"state": "absent"}));
    }

    #[test]
    fn nested_and_typed_group_vars_are_written_by_the_import_rules() {
        let rules = ValueRules {
            typed_values: true,
            nested_keys: true,
            trust_templates: false,
        };
        let vault = "$ANSIBLE_VAULT;1.1;AES256\n6162";
        let ask = json!({"kind": "group", "name": "web", "vars": {"nginx": {"port": 80}, "s": "8080", "secret": {"__ansible_vault": vault}}});
        let plan = plan_of(ask, &[], &[], rules).unwrap();
        assert_eq!(
            said(&plan),
            [
                w("create", "groupvars/web/nginx/port", "80"),
                w("create", "groupvars/web/s", "\"8080\""),
                w("create", "groupvars/web/secret", vault),
            ]
        );
        assert_eq!(
            plan.after["vars"],
            json!({"nginx": {"port": 80}, "s": "8080", "secret": {"__ansible_vault": vault}})
        );
    }
}
