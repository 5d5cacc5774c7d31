//! The pure core: etcd key-value pairs in, a validated Ansible inventory out. No I/O, so
//! every layout rule is unit-tested natively and the component only adds reading and
//! printing around it.

use std::collections::{BTreeMap, BTreeSet};

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::error::printable;
use crate::layout::{Entry, Prefix, classify, position, var_path};
use crate::values::{UNSAFE, VAULT, ValueRules, Variable, to_variable};

/// One key-value pair as etcd stores it: bytes, which need not be UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kv {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// Variables of a host or group. Sorted, so the output is byte-for-byte deterministic.
pub type Vars = BTreeMap<String, Variable>;

/// Ansible's implicit group that contains every group that has no parent.
pub const ALL: &str = "all";
/// Ansible's implicit group of hosts that are in no other group.
pub const UNGROUPED: &str = "ungrouped";
/// The top-level key of the script convention that holds host variables; no group may use it.
pub const META: &str = "_meta";
/// Names that Ansible's JSON decoder takes for a type marker wherever they are an object's
/// key (`{"__ansible_unsafe": ...}`): as the name of a host, group or variable, one makes
/// Ansible reject the whole inventory.
pub const JSON_MARKERS: [&str; 3] = [UNSAFE, VAULT, "__ansible_type"];
/// Most levels of nested variables (`hostvars/HOST/a/b/...`). Each is a level of JSON, and
/// readers recurse: Python's JSON parser (Ansible's) stops near 1,000, the component's
/// stack near 2,000.
pub const MAX_NESTING: usize = 100;

/// Variable names Ansible's templating reserves (`JINJA_KEYWORDS` in ansible-core 2.19).
const RESERVED_VARIABLE_NAMES: [&str; 7] = ["true", "false", "none", "True", "False", "None", "not"];

/// Whether Ansible takes `name` as a variable name: an ASCII identifier (a letter or `_`,
/// then letters, digits and `_`) that its templating does not reserve. ansible-core 2.19
/// warns of every other name as deprecated, and 2.23 refuses the inventory.
pub fn is_valid_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    starts_well && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && !RESERVED_VARIABLE_NAMES.contains(&name)
}

/// One group in the script convention. Field order is the output order.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Group {
    pub hosts: Members,
    pub vars: Vars,
    pub children: Members,
}

/// The hosts or children of a group, in inventory order: names whose key gives a
/// [`position`] first, by position (by name where two share one), then the others by name.
/// Data without positions (the classic script's, keys written by hand) so reads sorted, as
/// it always did; `import` writes positions, so a group reads in the order of its file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Members {
    by_name: BTreeMap<String, Option<u64>>,
    /// How many names have a position: none, and name order is the order.
    positioned: usize,
}

impl Members {
    /// Adds `name` at `position`, or moves it there.
    pub fn insert(&mut self, name: &str, position: Option<u64>) {
        let old = match self.by_name.get_mut(name) {
            Some(slot) => std::mem::replace(slot, position),
            None => {
                self.by_name.insert(name.to_string(), position);
                None
            }
        };
        self.positioned = self.positioned + usize::from(position.is_some()) - usize::from(old.is_some());
    }

    /// Adds `name` without a position, unless it is there already.
    pub fn add(&mut self, name: &str) {
        if !self.by_name.contains_key(name) {
            self.by_name.insert(name.to_string(), None);
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    pub fn remove(&mut self, name: &str) {
        if let Some(Some(_)) = self.by_name.remove(name) {
            self.positioned -= 1;
        }
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.by_name.retain(|name, _| keep(name));
        self.positioned = self.by_name.values().filter(|p| p.is_some()).count();
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// The names sorted by name, whatever their positions: for walks whose order only
    /// needs to be the same every time.
    pub fn by_name(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// The names in inventory order.
    pub fn in_order(&self) -> Vec<&str> {
        let mut names: Vec<(Option<u64>, &str)> = self.by_name.iter().map(|(n, p)| (*p, n.as_str())).collect();
        if self.positioned > 0 {
            // Stable, and the names come sorted: equal positions stay in name order.
            names.sort_by_key(|(position, _)| (position.is_none(), *position));
        }
        names.into_iter().map(|(_, name)| name).collect()
    }
}

impl Serialize for Members {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.positioned == 0 {
            serializer.collect_seq(self.by_name())
        } else {
            serializer.collect_seq(self.in_order())
        }
    }
}

/// A whole inventory; serialises to exactly what `--list` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub groups: BTreeMap<String, Group>,
    pub hostvars: BTreeMap<String, Vars>,
}

impl Serialize for Inventory {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Meta<'a> {
            hostvars: &'a BTreeMap<String, Vars>,
        }
        let mut map = serializer.serialize_map(Some(self.groups.len() + 1))?;
        for (name, group) in &self.groups {
            map.serialize_entry(name, group)?;
        }
        map.serialize_entry(
            META,
            &Meta {
                hostvars: &self.hostvars,
            },
        )?;
        map.end()
    }
}

/// Keys of one kind worth a warning: how many, and an example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    pub count: u64,
    /// The first such key, in the order the keys came (etcd's key order).
    pub example: String,
}

impl Tally {
    /// Counts `key` into `tally`.
    fn note(tally: &mut Option<Tally>, key: &str) {
        match tally {
            Some(t) => t.count += 1,
            None => {
                *tally = Some(Tally {
                    count: 1,
                    example: key.to_string(),
                })
            }
        }
    }
}

/// What a read found worth a warning, one line each whatever the count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Warnings {
    /// Keys that fit none of the four kinds: left out.
    pub skipped: Option<Tally>,
    /// Variables whose names Ansible will refuse ([`is_valid_variable_name`]): kept, as
    /// ansible-core 2.19 still takes them, with a deprecation warning for each.
    pub invalid_names: Option<Tally>,
}

impl Warnings {
    /// The warning lines, without the program's name.
    pub fn lines(&self, prefix: &Prefix) -> Vec<String> {
        let dir = prefix.dir();
        let dir = printable(&dir);
        let skipped = self.skipped.as_ref().map(|t| {
            format!(
                "skipped {} key(s) under {dir} that fit none of hostvars/HOST/VAR, groupvars/GROUP/VAR, \
                 hosts/GROUP/HOST, groups/PARENT/CHILD, e.g. {}",
                t.count,
                printable(&t.example)
            )
        });
        let invalid = self.invalid_names.as_ref().map(|t| {
            format!(
                "{} variable(s) under {dir} have names Ansible will refuse (ansible-core 2.19 deprecates them, \
                 2.23 fails the inventory), e.g. {}: rename them to letters, digits and _, not starting with a digit",
                t.count,
                printable(&t.example)
            )
        });
        skipped.into_iter().chain(invalid).collect()
    }
}

/// A result of the core together with what is worth a warning: [`Warnings`], or what
/// another [`Report`] gathered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built<T, W = Warnings> {
    pub value: T,
    pub warnings: W,
}

/// Where a [`Builder`] reports what it meets, as it meets it: each rule the pairs break,
/// each key it skips, each variable name Ansible will refuse. The one place each layout
/// rule is checked, for `--list` ([`Warnings`]: stops at the first refusal) and `check`
/// (collects every one).
pub trait Report {
    /// What stops a build: a report that never stops (`Stop` =
    /// [`std::convert::Infallible`]) has the builder go on past every refusal.
    type Stop;

    /// A rule the pairs break. `Ok`: the builder goes on as the rule's refusal says (it
    /// leaves out what cannot be read or would make the inventory wrong), so that later
    /// rules are still checked.
    fn refuse(&mut self, error: LayoutError) -> Result<(), Self::Stop>;

    /// A key that fits none of the four kinds: left out.
    fn skip(&mut self, key: &str);

    /// A variable whose name Ansible will refuse ([`is_valid_variable_name`]): kept.
    fn invalid_name(&mut self, key: &str, name: &str);

    /// Each key that fits a kind, as read, before its rules are checked: for a report that
    /// looks further than the builder does.
    fn read(&mut self, _entry: &Entry<'_>, _value: &[u8]) {}
}

impl Report for Warnings {
    type Stop = LayoutError;

    fn refuse(&mut self, error: LayoutError) -> Result<(), LayoutError> {
        Err(error)
    }

    fn skip(&mut self, key: &str) {
        Tally::note(&mut self.skipped, key);
    }

    fn invalid_name(&mut self, key: &str, _name: &str) {
        Tally::note(&mut self.invalid_names, key);
    }
}

/// Data in etcd that cannot become a correct inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayoutError {
    /// Children form a loop; the groups along it, the first repeated at the end.
    ChildrenCycle(Vec<String>),
    /// `groups/{parent}/all`: `all` contains every group and cannot be anyone's child.
    AllAsChild { parent: String },
    /// A group named `_meta` would clash with the script convention's `_meta` key.
    ReservedGroupName { group: String },
    /// A key that is not UTF-8, shown with invalid bytes replaced.
    NonUtf8Key { key: String },
    /// A variable whose value is not UTF-8.
    NonUtf8Value { key: String },
    /// With nested keys, `value_key` holds a value where `map_key` needs a map.
    NestedClash { value_key: String, map_key: String },
    /// A host, group or variable named like one of Ansible's JSON type markers.
    MarkerName { key: String, name: String },
    /// With nested keys, a variable key more than [`MAX_NESTING`] levels deep.
    NestedTooDeep { key: String },
}

/// Builds the whole inventory from every pair under `prefix`.
pub fn build(prefix: &Prefix, pairs: &[Kv], rules: &ValueRules) -> Result<Built<Inventory>, LayoutError> {
    let mut builder = Builder::new(prefix, rules);
    for kv in pairs {
        builder.add(&kv.key, kv.value.clone())?;
    }
    builder.finish()
}

/// Builds an inventory from pairs given one at a time, so that a reader can hand over each
/// page as it arrives and drop it. Pairs may come in any order; etcd's key order is the
/// fast path (a host's variables are neighbours, so its map is looked up once, not once
/// per variable). What it meets goes to its [`Report`]: by default [`Warnings`], which
/// stops at the first refusal.
#[derive(Debug)]
pub struct Builder<'r, R = Warnings> {
    prefix: &'r Prefix,
    dir: String,
    rules: &'r ValueRules,
    inv: Inventory,
    /// Children that some group names: everything else hangs directly under `all`.
    has_parent: BTreeSet<String>,
    /// Hosts that belong to a group other than `all` and `ungrouped`.
    grouped: BTreeSet<String>,
    /// Variables as read, assembled into maps once every key is known.
    host_vars: BTreeMap<String, Vec<VarEntry>>,
    group_vars: BTreeMap<String, Vec<VarEntry>>,
    /// The host whose variables came last, and those variables.
    current: Option<(String, Vec<VarEntry>)>,
    report: R,
    /// Bytes of keys and values given: a good guess of the output's size.
    bytes: usize,
}

impl<'r> Builder<'r> {
    /// A builder that stops at the first refusal, as `--list` does.
    pub fn new(prefix: &'r Prefix, rules: &'r ValueRules) -> Builder<'r> {
        Builder::reporting_to(prefix, rules, Warnings::default())
    }
}

impl<'r, R: Report> Builder<'r, R> {
    /// A builder that reports to `report`: `check` passes one that collects every finding.
    pub fn reporting_to(prefix: &'r Prefix, rules: &'r ValueRules, report: R) -> Builder<'r, R> {
        Builder {
            prefix,
            dir: prefix.dir(),
            rules,
            inv: Inventory::default(),
            has_parent: BTreeSet::new(),
            grouped: BTreeSet::new(),
            host_vars: BTreeMap::new(),
            group_vars: BTreeMap::new(),
            current: None,
            report,
            bytes: 0,
        }
    }

    /// Bytes of keys and values given so far.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn prefix(&self) -> &'r Prefix {
        self.prefix
    }

    pub fn rules(&self) -> &'r ValueRules {
        self.rules
    }

    /// Takes one pair. Values of membership and children keys are read only as a
    /// [`position`], so other bytes there do not matter.
    pub fn add(&mut self, key: &[u8], value: Vec<u8>) -> Result<(), R::Stop> {
        self.bytes += key.len() + value.len();
        let Some((entry, key)) = read_key(&self.dir, key, self.rules.nested_keys, &mut self.report)? else {
            return Ok(());
        };
        self.report.read(&entry, &value);
        check_key(&entry, key, &mut self.report)?;
        match entry {
            Entry::HostVar { host, var } => {
                let entry = VarEntry::new(var, text(key, value, &mut self.report)?, self.rules);
                match &mut self.current {
                    Some((current, entries)) if current == host => entries.push(entry),
                    _ => {
                        self.flush_host();
                        self.current = Some((host.to_string(), vec![entry]));
                    }
                }
            }
            Entry::GroupVar { group, var } => {
                self.group(group)?;
                let entry = VarEntry::new(var, text(key, value, &mut self.report)?, self.rules);
                match self.group_vars.get_mut(group) {
                    Some(entries) => entries.push(entry),
                    None => {
                        self.group_vars.insert(group.to_string(), vec![entry]);
                    }
                }
            }
            Entry::Member { group, host } => {
                self.group(group)?.hosts.insert(host, position(&value));
                self.host(host);
                if group != ALL && group != UNGROUPED && !self.grouped.contains(host) {
                    self.grouped.insert(host.to_string());
                }
            }
            Entry::Child { parent, child } => {
                if child == ALL {
                    // Goes on without the edge: `all` holds every group.
                    self.report.refuse(LayoutError::AllAsChild {
                        parent: parent.to_string(),
                    })?;
                    self.group(parent)?;
                    return Ok(());
                }
                self.group(child)?;
                self.group(parent)?.children.insert(child, position(&value));
                self.has_parent.insert(child.to_string());
            }
        }
        Ok(())
    }

    /// The inventory of every pair given, checked: no loops among children.
    pub fn finish(mut self) -> Result<Built<Inventory, R>, R::Stop> {
        self.flush_host();
        let prefix = self.prefix;
        for (host, entries) in std::mem::take(&mut self.host_vars) {
            let key_of = |var: &str| prefix.key(Entry::HostVar { host: &host, var });
            let vars = assemble(entries, key_of, &mut self.report)?;
            self.inv.hostvars.insert(host, vars);
        }
        for (group, entries) in std::mem::take(&mut self.group_vars) {
            let key_of = |var: &str| prefix.key(Entry::GroupVar { group: &group, var });
            let vars = assemble(entries, key_of, &mut self.report)?;
            self.group(&group)?.vars = vars;
        }
        self.refuse_loops()?;
        let Builder {
            mut inv,
            has_parent,
            grouped,
            report,
            ..
        } = self;

        let ungrouped: Vec<String> = inv
            .hostvars
            .keys()
            .filter(|host| !grouped.contains(*host))
            .cloned()
            .collect();
        let ungrouped_group = inv.groups.entry(UNGROUPED.to_string()).or_default();
        // A host listed under hosts/ungrouped/ but also in another group is not ungrouped:
        // Ansible takes it out too (reconcile_inventory), so --list and --graph agree with it.
        ungrouped_group.hosts.retain(|host| !grouped.contains(host));
        for host in &ungrouped {
            ungrouped_group.hosts.add(host);
        }

        let roots: Vec<String> = inv
            .groups
            .keys()
            .filter(|name| *name != ALL && !has_parent.contains(*name))
            .cloned()
            .collect();
        let all = inv.groups.entry(ALL.to_string()).or_default();
        for root in roots.iter().map(String::as_str).chain([UNGROUPED]) {
            all.children.add(root);
        }

        Ok(Built {
            value: inv,
            warnings: report,
        })
    }

    /// Refuses each loop among children. Goes on without the loop's last edge, so that
    /// the next search finds another loop: at most one search per edge.
    fn refuse_loops(&mut self) -> Result<(), R::Stop> {
        let edges: usize = self.inv.groups.values().map(|group| group.children.len()).sum();
        for _ in 0..=edges {
            let Some(cycle) = find_cycle(&self.inv.groups) else {
                break;
            };
            if let [.., from, to] = cycle.as_slice()
                && let Some(group) = self.inv.groups.get_mut(from)
            {
                group.children.remove(to);
            }
            self.report.refuse(LayoutError::ChildrenCycle(cycle))?;
        }
        Ok(())
    }

    /// Moves the variables of the host read last to the others.
    fn flush_host(&mut self) {
        if let Some((host, entries)) = self.current.take() {
            self.host(&host);
            self.host_vars.entry(host).or_default().extend(entries);
        }
    }

    fn host(&mut self, host: &str) {
        if !self.inv.hostvars.contains_key(host) {
            self.inv.hostvars.insert(host.to_string(), Vars::new());
        }
    }

    fn group(&mut self, group: &str) -> Result<&mut Group, R::Stop> {
        if !self.inv.groups.contains_key(group) {
            if group == META {
                // Refused once, where first named; goes on with the group.
                self.report.refuse(LayoutError::ReservedGroupName {
                    group: group.to_string(),
                })?;
            }
            self.inv.groups.insert(group.to_string(), Group::default());
        }
        Ok(self.inv.groups.get_mut(group).expect("inserted above"))
    }
}

/// The variables of one host, from the pairs under `prefix`; other keys are ignored, so
/// the caller may pass just the host's own range. An unknown host has no variables.
pub fn host_vars(prefix: &Prefix, host: &str, pairs: &[Kv], rules: &ValueRules) -> Result<Built<Vars>, LayoutError> {
    let dir = prefix.dir();
    let mut entries = Vec::new();
    let mut warnings = Warnings::default();
    for kv in pairs {
        if let Some((entry @ Entry::HostVar { host: h, var }, key)) =
            read_key(&dir, &kv.key, rules.nested_keys, &mut warnings)?
            && h == host
        {
            check_key(&entry, key, &mut warnings)?;
            entries.push(VarEntry::new(var, text(key, kv.value.clone(), &mut warnings)?, rules));
        }
    }
    let key_of = |var: &str| prefix.key(Entry::HostVar { host, var });
    Ok(Built {
        value: assemble(entries, key_of, &mut warnings)?,
        warnings,
    })
}

/// One variable as read: where it goes (one segment, or several with nested keys) and its
/// value.
#[derive(Debug)]
struct VarEntry {
    var: String,
    value: Variable,
}

impl VarEntry {
    fn new(var: &str, text: String, rules: &ValueRules) -> Self {
        VarEntry {
            var: var.to_string(),
            value: to_variable(text, rules),
        }
    }
}

/// Whether `inner` is a nested key below `outer` (`nginx/port` below `nginx`).
fn is_below(outer: &str, inner: &str) -> bool {
    inner.strip_prefix(outer).is_some_and(|rest| rest.starts_with('/'))
}

/// Builds a (possibly nested) map of variables; `key_of` names a variable's etcd key, for
/// refusals. Sorted by path, a variable and the keys below it are neighbours, so one pass
/// over neighbours finds every clash.
fn assemble<R: Report>(
    mut entries: Vec<VarEntry>,
    key_of: impl Fn(&str) -> String,
    report: &mut R,
) -> Result<Vars, R::Stop> {
    entries.sort_by(|a, b| var_path(&a.var).cmp(var_path(&b.var)));
    if entries.windows(2).any(|pair| is_below(&pair[0].var, &pair[1].var)) {
        entries = refuse_clashes(entries, key_of, report)?;
    }
    let mut vars = Vars::new();
    for VarEntry { var, value } in entries {
        let Some((parents, leaf)) = var.rsplit_once('/') else {
            vars.insert(var, value);
            continue;
        };
        let mut map = &mut vars;
        for parent in var_path(parents) {
            map = match map
                .entry(parent.to_string())
                .or_insert_with(|| Variable::Map(Vars::new()))
            {
                Variable::Map(inner) => inner,
                // No value sits where a map is needed: clashes were left out above.
                _ => unreachable!("clashes are left out before assembly"),
            };
        }
        map.insert(leaf.to_string(), value);
    }
    Ok(vars)
}

/// Refuses each variable below one that holds a value (`nginx/port` below `nginx`), in
/// sorted `entries`, and goes on without it.
fn refuse_clashes<R: Report>(
    entries: Vec<VarEntry>,
    key_of: impl Fn(&str) -> String,
    report: &mut R,
) -> Result<Vec<VarEntry>, R::Stop> {
    let mut kept: Vec<VarEntry> = Vec::with_capacity(entries.len());
    for entry in entries {
        if let Some(value) = kept.last()
            && is_below(&value.var, &entry.var)
        {
            report.refuse(LayoutError::NestedClash {
                value_key: key_of(&value.var),
                map_key: key_of(&entry.var),
            })?;
            continue;
        }
        kept.push(entry);
    }
    Ok(kept)
}

/// Reads one key: what it says and the key as text, or `None` for a key left out: one
/// that is not UTF-8 (refused) or fits no kind (skipped).
fn read_key<'k, R: Report>(
    dir: &str,
    key: &'k [u8],
    nested: bool,
    report: &mut R,
) -> Result<Option<(Entry<'k>, &'k str)>, R::Stop> {
    let Ok(key) = std::str::from_utf8(key) else {
        report.refuse(LayoutError::NonUtf8Key {
            key: String::from_utf8_lossy(key).into_owned(),
        })?;
        return Ok(None);
    };
    match key.strip_prefix(dir).and_then(|rest| classify(rest, nested)) {
        Some(entry) => Ok(Some((entry, key))),
        None => {
            report.skip(key);
            Ok(None)
        }
    }
}

/// The rules of the names a key holds, whatever its kind: refuses what no reader of the
/// output could take (a JSON type marker as a name, variables nested too deep; the first
/// of them, and goes on with the key), and notes a variable name Ansible will refuse.
fn check_key<R: Report>(entry: &Entry, key: &str, report: &mut R) -> Result<(), R::Stop> {
    if let Some(error) = name_error(entry, key) {
        report.refuse(error)?;
    }
    if let Some(name) = variable_name(entry).filter(|name| !is_valid_variable_name(name)) {
        report.invalid_name(key, name);
    }
    Ok(())
}

/// What the key names that no reader of the output could take, if anything.
fn name_error(entry: &Entry, key: &str) -> Option<LayoutError> {
    let (owner, rest, is_var) = match *entry {
        Entry::HostVar { host, var } => (host, var, true),
        Entry::GroupVar { group, var } => (group, var, true),
        Entry::Member { group, host } => (group, host, false),
        Entry::Child { parent, child } => (parent, child, false),
    };
    let mut depth = 0;
    for name in std::iter::once(owner).chain(var_path(rest)) {
        depth += 1;
        if name.starts_with("__ansible_") && JSON_MARKERS.contains(&name) {
            return Some(LayoutError::MarkerName {
                key: key.to_string(),
                name: name.to_string(),
            });
        }
    }
    (is_var && depth - 1 > MAX_NESTING).then(|| LayoutError::NestedTooDeep { key: key.to_string() })
}

/// The name of the variable `entry` sets, if it is one: the first segment of a nested key
/// (the segments below it are keys of a map, which Ansible does not check).
fn variable_name<'a>(entry: &Entry<'a>) -> Option<&'a str> {
    match *entry {
        Entry::HostVar { var, .. } | Entry::GroupVar { var, .. } => var_path(var).next(),
        Entry::Member { .. } | Entry::Child { .. } => None,
    }
}

/// A variable's value as text; refused if it is not UTF-8, and then read lossily.
fn text<R: Report>(key: &str, value: Vec<u8>, report: &mut R) -> Result<String, R::Stop> {
    match String::from_utf8(value) {
        Ok(text) => Ok(text),
        Err(not_utf8) => {
            report.refuse(LayoutError::NonUtf8Value { key: key.to_string() })?;
            Ok(String::from_utf8_lossy(not_utf8.as_bytes()).into_owned())
        }
    }
}

/// Finds a loop in the children graph by depth-first search, visiting groups and children
/// in sorted order so the reported loop is always the same one.
fn find_cycle(groups: &BTreeMap<String, Group>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        OnPath,
        Done,
    }
    let mut marks: BTreeMap<&str, Mark> = BTreeMap::new();
    for root in groups.keys() {
        if marks.contains_key(root.as_str()) {
            continue;
        }
        // Explicit stack of (group, its children iterator) instead of recursion, so a deep
        // hierarchy cannot overflow the stack.
        let mut path: Vec<&str> = vec![root];
        let mut stack = vec![groups[root].children.by_name()];
        marks.insert(root, Mark::OnPath);
        while let Some(children) = stack.last_mut() {
            match children.next() {
                Some(child) => match marks.get(child) {
                    Some(Mark::OnPath) => {
                        let start = path.iter().position(|g| *g == child).expect("on path");
                        let mut cycle: Vec<String> = path[start..].iter().map(|g| g.to_string()).collect();
                        cycle.push(child.to_string());
                        return Some(cycle);
                    }
                    Some(Mark::Done) => {}
                    None => {
                        marks.insert(child, Mark::OnPath);
                        path.push(child);
                        stack.push(groups[child].children.by_name());
                    }
                },
                None => {
                    stack.pop();
                    let done = path.pop().expect("path follows stack");
                    marks.insert(done, Mark::Done);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Strings unmarked: these tests are about the layout; values have their own below.
    const PLAIN: ValueRules = ValueRules {
        trust_templates: true,
        typed_values: false,
        nested_keys: false,
    };

    fn build_plain(prefix: &Prefix, pairs: &[Kv]) -> Result<Built<Inventory>, LayoutError> {
        build(prefix, pairs, &PLAIN)
    }

    fn host_vars_plain(prefix: &Prefix, host: &str, pairs: &[Kv]) -> Result<Built<Vars>, LayoutError> {
        host_vars(prefix, host, pairs, &PLAIN)
    }

    fn kv(key: &str, value: &str) -> Kv {
        Kv {
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
        }
    }

    fn build_json(pairs: &[Kv]) -> serde_json::Value {
        let built = build_plain(&Prefix::new("/ansible"), pairs).expect("builds");
        serde_json::to_value(&built.value).unwrap()
    }

    #[test]
    fn a_host_listed_in_ungrouped_and_in_another_group_is_not_ungrouped() {
        let got = build_json(&[
            kv("/ansible/hosts/ungrouped/h1", ""),
            kv("/ansible/hosts/web/h1", ""),
            kv("/ansible/hosts/ungrouped/h2", ""),
        ]);
        assert_eq!(got["ungrouped"]["hosts"], json!(["h2"]));
        assert_eq!(got["web"]["hosts"], json!(["h1"]));
    }

    #[test]
    fn json_marker_names_and_too_deep_nesting_are_refused_with_their_key() {
        let prefix = Prefix::new("/ansible");
        for key in [
            "/ansible/hostvars/h1/__ansible_unsafe",
            "/ansible/hostvars/__ansible_vault/x",
            "/ansible/groupvars/g/__ansible_type",
            "/ansible/hosts/__ansible_unsafe/h1",
            "/ansible/groups/p/__ansible_vault",
        ] {
            let error = build_plain(&prefix, &[kv(key, "x")]).unwrap_err();
            assert!(
                matches!(&error, LayoutError::MarkerName { key: k, .. } if k == key),
                "{key}: {error:?}"
            );
        }
        let marker = [kv("/ansible/hostvars/h1/__ansible_unsafe", "x")];
        assert!(
            host_vars_plain(&prefix, "h1", &marker).is_err(),
            "--host refuses it too"
        );
        assert!(build_plain(&prefix, &[kv("/ansible/hostvars/h1/__ansible_other", "x")]).is_ok());

        let nested = ValueRules {
            nested_keys: true,
            ..PLAIN
        };
        let deep = |levels: usize| kv(&format!("/ansible/hostvars/h1/{}", vec!["a"; levels].join("/")), "x");
        assert!(build(&prefix, &[deep(MAX_NESTING)], &nested).is_ok());
        let error = build(&prefix, &[deep(MAX_NESTING + 1)], &nested).unwrap_err();
        assert!(matches!(error, LayoutError::NestedTooDeep { .. }), "{error:?}");
        let marker_below = kv("/ansible/hostvars/h1/nginx/__ansible_unsafe", "x");
        assert!(matches!(
            build(&prefix, &[marker_below], &nested),
            Err(LayoutError::MarkerName { .. })
        ));
    }

    #[test]
    fn builds_every_key_kind() {
        let got = build_json(&[
            kv("/ansible/groups/prod/web", ""),
            kv("/ansible/groupvars/all/ntp", "ntp.example"),
            kv("/ansible/groupvars/web/port", "80"),
            kv("/ansible/hosts/web/web01", ""),
            kv("/ansible/hosts/web/web02", ""),
            kv("/ansible/hosts/db/db01", ""),
            kv("/ansible/hostvars/web01/ip", "10.0.0.1"),
            kv("/ansible/hostvars/lonely/ip", "10.0.0.9"),
        ]);
        let empty = json!({});
        assert_eq!(
            got,
            json!({
                "all": {"hosts": [], "vars": {"ntp": "ntp.example"}, "children": ["db", "prod", "ungrouped"]},
                "prod": {"hosts": [], "vars": {}, "children": ["web"]},
                "web": {"hosts": ["web01", "web02"], "vars": {"port": "80"}, "children": []},
                "db": {"hosts": ["db01"], "vars": {}, "children": []},
                "ungrouped": {"hosts": ["lonely"], "vars": {}, "children": []},
                "_meta": {"hostvars": {
                    "db01": empty, "lonely": {"ip": "10.0.0.9"},
                    "web01": {"ip": "10.0.0.1"}, "web02": empty,
                }},
            })
        );
    }

    #[test]
    fn positions_order_hosts_and_children_and_the_rest_follow_by_name() {
        let got = build_json(&[
            kv("/ansible/hosts/zeta/z1", "1"),
            kv("/ansible/hosts/zeta/z2", "2"),
            kv("/ansible/hosts/zeta/z3", "0"),
            // Added by hand after an import: no position, so after the others, by name.
            kv("/ansible/hosts/zeta/a9", ""),
            kv("/ansible/hosts/zeta/a8", "not a number"),
            kv("/ansible/groups/top/mid", "1"),
            kv("/ansible/groups/top/alpha", "0"),
            kv("/ansible/groups/top/beta", "0"),
            kv("/ansible/groups/all/zeta", "0"),
            kv("/ansible/groups/all/top", "1"),
            kv("/ansible/hosts/ungrouped/u2", "0"),
            kv("/ansible/hostvars/u1/x", "1"),
        ]);
        assert_eq!(got["zeta"]["hosts"], json!(["z3", "z1", "z2", "a8", "a9"]));
        // Equal positions: by name.
        assert_eq!(got["top"]["children"], json!(["alpha", "beta", "mid"]));
        // all: its positioned children, then the implied ones (ungrouped too) by name.
        assert_eq!(got["all"]["children"], json!(["zeta", "top", "ungrouped"]));
        assert_eq!(got["ungrouped"]["hosts"], json!(["u2", "u1"]));
    }

    #[test]
    fn data_without_positions_reads_sorted_as_before() {
        let got = build_json(&[
            kv("/ansible/hosts/web/w3", ""),
            kv("/ansible/hosts/web/w1", ""),
            kv("/ansible/hosts/web/w2", ""),
            kv("/ansible/groups/prod/web", ""),
            kv("/ansible/groups/prod/db", ""),
        ]);
        assert_eq!(got["web"]["hosts"], json!(["w1", "w2", "w3"]));
        assert_eq!(got["prod"]["children"], json!(["db", "web"]));
    }

    #[test]
    fn members_keep_their_order_through_removal_and_moves() {
        let mut members = Members::default();
        members.insert("b", Some(2));
        members.insert("a", None);
        members.insert("c", Some(1));
        assert_eq!(members.in_order(), ["c", "b", "a"]);
        members.insert("a", Some(0));
        assert_eq!(members.in_order(), ["a", "c", "b"]);
        members.add("a");
        members.remove("c");
        members.add("d");
        assert_eq!(members.in_order(), ["a", "b", "d"]);
        members.retain(|name| name != "a");
        assert_eq!(members.in_order(), ["b", "d"]);
        members.remove("b");
        assert_eq!(serde_json::to_value(&members).unwrap(), json!(["d"]));
        assert_eq!(members.by_name().collect::<Vec<_>>(), ["d"]);
    }

    #[test]
    fn variable_names_ansible_refuses_are_counted_and_kept() {
        for name in ["ok", "_x", "a1", "If", "class"] {
            assert!(is_valid_variable_name(name), "{name}");
        }
        for name in ["bad-var", "1st", "café", "a.b", "true", "None", "not", "a b"] {
            assert!(!is_valid_variable_name(name), "{name}");
        }
        let built = build_plain(
            &Prefix::new("/ansible"),
            &[
                kv("/ansible/groupvars/g/http-port", "80"),
                kv("/ansible/hostvars/h/ok", "1"),
                kv("/ansible/hostvars/h/true", "1"),
            ],
        )
        .unwrap();
        assert_eq!(
            built.warnings.invalid_names,
            Some(Tally {
                count: 2,
                example: "/ansible/groupvars/g/http-port".into()
            })
        );
        assert_eq!(built.value.groups["g"].vars.len(), 1, "kept");
        let lines = built.warnings.lines(&Prefix::new("/ansible"));
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].starts_with("2 variable(s) under /ansible/ have names Ansible will refuse"),
            "{lines:?}"
        );
        let one = host_vars_plain(&Prefix::new("/ansible"), "h", &[kv("/ansible/hostvars/h/a-b", "1")]).unwrap();
        assert_eq!(one.warnings.invalid_names.map(|t| t.count), Some(1));
    }

    #[test]
    fn empty_prefix_gives_all_and_ungrouped_only() {
        assert_eq!(
            build_json(&[]),
            json!({
                "all": {"hosts": [], "vars": {}, "children": ["ungrouped"]},
                "ungrouped": {"hosts": [], "vars": {}, "children": []},
                "_meta": {"hostvars": {}},
            })
        );
    }

    #[test]
    fn output_is_the_same_whatever_the_input_order() {
        let mut pairs = vec![
            kv("/ansible/hosts/b/h2", ""),
            kv("/ansible/hosts/a/h1", ""),
            kv("/ansible/groups/a/b", ""),
            kv("/ansible/hostvars/h1/x", "1"),
        ];
        let first = serde_json::to_string(&build_plain(&Prefix::new("/ansible"), &pairs).unwrap().value);
        pairs.reverse();
        let second = serde_json::to_string(&build_plain(&Prefix::new("/ansible"), &pairs).unwrap().value);
        assert_eq!(first.unwrap(), second.unwrap());
    }

    #[test]
    fn group_names_output_before_meta() {
        let built = build_plain(&Prefix::new("/ansible"), &[kv("/ansible/hosts/zz/h", "")]).unwrap();
        let text = serde_json::to_string(&built.value).unwrap();
        assert!(text.ends_with(r#""_meta":{"hostvars":{"h":{}}}}"#), "{text}");
    }

    #[test]
    fn hosts_only_in_all_or_ungrouped_are_ungrouped() {
        let got = build_json(&[
            kv("/ansible/hosts/all/a", ""),
            kv("/ansible/hosts/ungrouped/u", ""),
            kv("/ansible/hosts/web/w", ""),
            kv("/ansible/hosts/all/w", ""),
        ]);
        assert_eq!(got["ungrouped"]["hosts"], json!(["a", "u"]));
        assert_eq!(got["all"]["hosts"], json!(["a", "w"]));
    }

    #[test]
    fn skipped_keys_are_counted_with_the_first_as_example() {
        let built = build_plain(
            &Prefix::new("/ansible"),
            &[
                kv("/ansible/hostvars/web01/nginx/port", "80"),
                kv("/ansible/junk", "x"),
                kv("/ansible/hostvars/web01/ip", "10.0.0.1"),
            ],
        )
        .unwrap();
        assert_eq!(
            built.warnings.skipped,
            Some(Tally {
                count: 2,
                example: "/ansible/hostvars/web01/nginx/port".into()
            })
        );
        assert_eq!(
            serde_json::to_value(&built.value.hostvars["web01"]).unwrap(),
            json!({"ip": "10.0.0.1"})
        );
    }

    #[test]
    fn keys_outside_the_prefix_directory_are_skipped() {
        let built = build_plain(&Prefix::new("/ansible"), &[kv("/ansible2/hosts/a/b", "")]).unwrap();
        assert_eq!(built.warnings.skipped.map(|s| s.count), Some(1));
        assert!(built.value.hostvars.is_empty());
    }

    #[test]
    fn a_loop_of_children_is_an_error_naming_it() {
        let err = build_plain(
            &Prefix::new("/ansible"),
            &[
                kv("/ansible/groups/a/b", ""),
                kv("/ansible/groups/b/c", ""),
                kv("/ansible/groups/c/a", ""),
                kv("/ansible/groups/x/a", ""),
            ],
        )
        .unwrap_err();
        assert_eq!(
            err,
            LayoutError::ChildrenCycle(vec!["a".into(), "b".into(), "c".into(), "a".into()])
        );
    }

    #[test]
    fn a_group_that_is_its_own_child_is_a_loop() {
        let err = build_plain(&Prefix::new("/ansible"), &[kv("/ansible/groups/a/a", "")]).unwrap_err();
        assert_eq!(err, LayoutError::ChildrenCycle(vec!["a".into(), "a".into()]));
    }

    #[test]
    fn diamonds_are_not_loops() {
        let got = build_json(&[
            kv("/ansible/groups/top/left", ""),
            kv("/ansible/groups/top/right", ""),
            kv("/ansible/groups/left/bottom", ""),
            kv("/ansible/groups/right/bottom", ""),
        ]);
        assert_eq!(got["all"]["children"], json!(["top", "ungrouped"]));
    }

    #[test]
    fn all_cannot_be_a_child() {
        let err = build_plain(&Prefix::new("/ansible"), &[kv("/ansible/groups/web/all", "")]).unwrap_err();
        assert_eq!(err, LayoutError::AllAsChild { parent: "web".into() });
    }

    #[test]
    fn meta_is_not_a_group_name() {
        let err = build_plain(&Prefix::new("/ansible"), &[kv("/ansible/hosts/_meta/h", "")]).unwrap_err();
        assert_eq!(err, LayoutError::ReservedGroupName { group: "_meta".into() });
    }

    #[test]
    fn a_non_utf8_value_is_an_error_naming_the_key() {
        let pairs = [Kv {
            key: b"/ansible/hostvars/h/x".to_vec(),
            value: vec![0xff, 0xfe],
        }];
        let err = build_plain(&Prefix::new("/ansible"), &pairs).unwrap_err();
        assert_eq!(
            err,
            LayoutError::NonUtf8Value {
                key: "/ansible/hostvars/h/x".into()
            }
        );
    }

    #[test]
    fn membership_values_are_not_read() {
        let pairs = [Kv {
            key: b"/ansible/hosts/web/h".to_vec(),
            value: vec![0xff],
        }];
        assert!(build_plain(&Prefix::new("/ansible"), &pairs).is_ok());
    }

    #[test]
    fn a_non_utf8_key_is_an_error() {
        let pairs = [Kv {
            key: b"/ansible/hosts/w\xffb/h".to_vec(),
            value: vec![],
        }];
        let err = build_plain(&Prefix::new("/ansible"), &pairs).unwrap_err();
        assert_eq!(
            err,
            LayoutError::NonUtf8Key {
                key: "/ansible/hosts/w\u{fffd}b/h".into()
            }
        );
    }

    #[test]
    fn values_are_unsafe_by_default_in_hosts_and_groups() {
        let pairs = [
            kv("/ansible/hostvars/h/x", "{{ 7*6 }}"),
            kv("/ansible/groupvars/g/y", "1"),
        ];
        let built = build(&Prefix::new("/ansible"), &pairs, &ValueRules::default()).unwrap();
        let got = serde_json::to_value(&built.value).unwrap();
        assert_eq!(
            got["_meta"]["hostvars"]["h"]["x"],
            json!({"__ansible_unsafe": "{{ 7*6 }}"})
        );
        assert_eq!(got["g"]["vars"]["y"], json!({"__ansible_unsafe": "1"}));
        let one = host_vars(&Prefix::new("/ansible"), "h", &pairs, &ValueRules::default()).unwrap();
        assert_eq!(
            serde_json::to_value(&one.value).unwrap(),
            json!({"x": {"__ansible_unsafe": "{{ 7*6 }}"}})
        );
    }

    const NESTED: ValueRules = ValueRules {
        trust_templates: true,
        typed_values: true,
        nested_keys: true,
    };

    #[test]
    fn nested_keys_build_maps() {
        let pairs = [
            kv("/ansible/hostvars/web01/nginx/port", "8080"),
            kv("/ansible/hostvars/web01/nginx/tls/cert", "/etc/cert.pem"),
            kv("/ansible/hostvars/web01/nginx-version", "1.25"),
            kv("/ansible/groupvars/web/limits/files", "4096"),
        ];
        let built = build(&Prefix::new("/ansible"), &pairs, &NESTED).unwrap();
        assert_eq!(built.warnings.skipped, None);
        let got = serde_json::to_value(&built.value).unwrap();
        assert_eq!(
            got["_meta"]["hostvars"]["web01"],
            json!({"nginx": {"port": 8080, "tls": {"cert": "/etc/cert.pem"}}, "nginx-version": 1.25})
        );
        assert_eq!(got["web"]["vars"], json!({"limits": {"files": 4096}}));
    }

    #[test]
    fn without_nested_keys_deeper_keys_are_skipped() {
        let rules = ValueRules {
            nested_keys: false,
            ..NESTED
        };
        let built = build(
            &Prefix::new("/ansible"),
            &[kv("/ansible/hostvars/w/nginx/port", "1")],
            &rules,
        )
        .unwrap();
        assert_eq!(built.warnings.skipped.map(|s| s.count), Some(1));
    }

    #[test]
    fn a_value_where_a_map_is_needed_is_an_error_naming_both_keys() {
        let pairs = [
            kv("/ansible/hostvars/w/nginx", "on"),
            kv("/ansible/hostvars/w/nginx/port", "80"),
        ];
        let err = build(&Prefix::new("/ansible"), &pairs, &NESTED).unwrap_err();
        assert_eq!(
            err,
            LayoutError::NestedClash {
                value_key: "/ansible/hostvars/w/nginx".into(),
                map_key: "/ansible/hostvars/w/nginx/port".into()
            }
        );
        let err = host_vars(&Prefix::new("/ansible"), "w", &pairs, &NESTED).unwrap_err();
        assert!(matches!(err, LayoutError::NestedClash { .. }));
    }

    #[test]
    fn host_vars_reads_one_host() {
        let pairs = [
            kv("/ansible/hostvars/web01/ip", "10.0.0.1"),
            kv("/ansible/hostvars/web01/port", "22"),
            kv("/ansible/hostvars/web02/ip", "10.0.0.2"),
        ];
        let built = host_vars_plain(&Prefix::new("/ansible"), "web01", &pairs).unwrap();
        assert_eq!(
            serde_json::to_value(&built.value).unwrap(),
            json!({"ip": "10.0.0.1", "port": "22"})
        );
        let unknown = host_vars_plain(&Prefix::new("/ansible"), "nope", &pairs).unwrap();
        assert!(unknown.value.is_empty());
    }
}
