//! Checking a keyspace: everything in it that `--list` refuses, skips, or that Ansible treats
//! differently from how it reads, one finding each. Pure, like the core it asks.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::fmt;

use crate::error::Error;
use crate::inventory::{ALL, Builder, Built, Kv, LayoutError, Report, UNGROUPED};
use crate::layout::{Entry, Prefix, classify, position};
use crate::values::ValueRules;

/// One thing worth knowing about the keyspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// `--list` fails on this.
    Fatal(LayoutError),
    /// A variable whose name Ansible will refuse: ansible-core 2.19 takes it with a
    /// deprecation warning, 2.23 fails the whole inventory. `--list` keeps it and warns.
    InvalidVariableName { key: String, name: String },
    /// A key of no known shape: `--list` skips it.
    UnknownKey(String),
    /// A group named only as someone's child: it has no hosts, vars or children (a typo?).
    /// Not said of children whose key holds a position: `import` wrote those, from a file
    /// that named an empty group, as `ansible-inventory --list` names them.
    EmptyChild { parent: String, child: String },
    /// A group name Ansible warns about on every run, and rewrites when
    /// TRANSFORM_INVALID_GROUP_CHARS asks it to.
    GroupNameRewritten { group: String, safe: String },
    /// A host with variables but in no group: it lands in `ungrouped`.
    Ungrouped { host: String },
}

impl Finding {
    /// Whether `--list` fails because of this.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Finding::Fatal(_))
    }

    /// Whether this is an error: `--list` fails, or Ansible will refuse what it reads.
    pub fn is_error(&self) -> bool {
        matches!(self, Finding::Fatal(_) | Finding::InvalidVariableName { .. })
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Fatal(e) => write!(f, "error: {}", Error::Layout(e.clone())),
            Finding::InvalidVariableName { key, name } => write!(
                f,
                "error: key {key:?} names a variable {name:?}, which Ansible will refuse (ansible-core 2.19 \
                 deprecates it, 2.23 fails the inventory): rename it to letters, digits and _, not starting with a \
                 digit"
            ),
            Finding::UnknownKey(key) => write!(
                f,
                "warning: key {key:?} fits none of hostvars/HOST/VAR, groupvars/GROUP/VAR, hosts/GROUP/HOST, \
                 groups/PARENT/CHILD: --list skips it"
            ),
            Finding::EmptyChild { parent, child } => write!(
                f,
                "warning: group {child:?} is a child of {parent:?} but has no hosts, vars or children of its own \
                 (a misspelt name?)"
            ),
            Finding::GroupNameRewritten { group, safe } => write!(
                f,
                "warning: group {group:?} has characters Ansible flags in group names: it warns on every run, and \
                 with TRANSFORM_INVALID_GROUP_CHARS=always names the group {safe:?}"
            ),
            Finding::Ungrouped { host } => write!(
                f,
                "warning: host {host:?} has variables but is in no group: it lands in \"ungrouped\""
            ),
        }
    }
}

/// A host whose keys are attached to a lease: it registered itself, and leaves the inventory
/// when the lease ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeasedHost {
    pub host: String,
    pub lease: i64,
    /// Seconds the lease has left, as etcd said; negative: expired (etcd deletes the keys
    /// any moment); `None`: not known (etcd would not say, or not looked up).
    pub ttl_s: Option<i64>,
}

impl fmt::Display for LeasedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "leased: host {:?} (lease {:x}): ", self.host, self.lease)?;
        match self.ttl_s {
            Some(ttl) if ttl >= 0 => write!(f, "{ttl} s left"),
            Some(_) => f.write_str("expired, its keys go any moment"),
            None => f.write_str("time left unknown"),
        }
    }
}

/// The hosts whose own keys (memberships, variables) are attached to a lease, by host name
/// then lease, from the leased keys under `prefix`; time left not yet known.
pub fn leased_hosts(prefix: &Prefix, leased_keys: &[(Vec<u8>, i64)]) -> Vec<LeasedHost> {
    let dir = prefix.dir();
    let hosts: BTreeSet<(&str, i64)> = (leased_keys.iter())
        .filter_map(|(key, lease)| {
            let rest = std::str::from_utf8(key).ok()?.strip_prefix(dir.as_str())?;
            match classify(rest, true)? {
                Entry::Member { host, .. } | Entry::HostVar { host, .. } => Some((host, *lease)),
                _ => None,
            }
        })
        .collect();
    (hosts.into_iter())
        .map(|(host, lease)| LeasedHost {
            host: host.to_string(),
            lease,
            ttl_s: None,
        })
        .collect()
}

/// Every finding for the pairs under `prefix`: fatal ones first, then other errors, then
/// warnings, each kind in key order. The fatal ones and the errors are what the
/// [`Builder`] that `--list` runs reports, as it goes on past each; so there are fatal
/// findings exactly when [`build`](crate::inventory::build) fails on the same pairs.
pub fn check(prefix: &Prefix, pairs: &[Kv], rules: &ValueRules) -> Vec<Finding> {
    let mut builder = Builder::reporting_to(prefix, rules, Collected::default());
    for kv in pairs {
        let Ok(()) = builder.add(&kv.key, kv.value.clone());
    }
    let Ok(Built {
        value: inventory,
        warnings: mut found,
    }) = builder.finish();

    found.fatal.sort_by_key(stage);
    let mut warnings = found.unknown_keys;
    for (parent, child, positioned) in &found.edges {
        // `groups/all/X` declares an empty group on purpose (import writes it so).
        if parent != ALL && child != ALL && child != UNGROUPED && !positioned && !found.own_content.contains(child) {
            warnings.push(Finding::EmptyChild {
                parent: parent.clone(),
                child: child.clone(),
            });
        }
    }
    for group in inventory.groups.keys() {
        if let Some(safe) = safe_group_name(group) {
            warnings.push(Finding::GroupNameRewritten {
                group: group.clone(),
                safe,
            });
        }
    }
    for host in found.with_vars.difference(&found.members) {
        warnings.push(Finding::Ungrouped { host: host.clone() });
    }

    let errors = found.fatal.into_iter().map(Finding::Fatal).chain(found.invalid_names);
    errors.chain(warnings).collect()
}

/// What `check` gathers while the builder reads: every refusal, skipped key and invalid
/// variable name it reports, and what each key says, for the warnings of its own.
#[derive(Debug, Default)]
struct Collected {
    fatal: Vec<LayoutError>,
    invalid_names: Vec<Finding>,
    unknown_keys: Vec<Finding>,
    /// Groups that have hosts, vars or children of their own.
    own_content: BTreeSet<String>,
    /// (parent, child, whether the key holds a position)
    edges: Vec<(String, String, bool)>,
    /// Hosts with variables, and hosts named as some group's member.
    with_vars: BTreeSet<String>,
    members: BTreeSet<String>,
}

impl Report for Collected {
    type Stop = Infallible;

    fn refuse(&mut self, error: LayoutError) -> Result<(), Infallible> {
        self.fatal.push(error);
        Ok(())
    }

    fn skip(&mut self, key: &str) {
        self.unknown_keys.push(Finding::UnknownKey(key.to_string()));
    }

    fn invalid_name(&mut self, key: &str, name: &str) {
        self.invalid_names.push(Finding::InvalidVariableName {
            key: key.to_string(),
            name: name.to_string(),
        });
    }

    fn read(&mut self, entry: &Entry<'_>, value: &[u8]) {
        match *entry {
            Entry::HostVar { host, .. } => note(&mut self.with_vars, host),
            Entry::GroupVar { group, .. } => note(&mut self.own_content, group),
            Entry::Member { group, host } => {
                note(&mut self.own_content, group);
                note(&mut self.members, host);
            }
            Entry::Child { parent, child } => {
                note(&mut self.own_content, parent);
                self.edges
                    .push((parent.to_string(), child.to_string(), position(value).is_some()));
            }
        }
    }
}

/// Adds `name` to `names`, copying it only if new: most keys name a host or group met
/// before.
fn note(names: &mut BTreeSet<String>, name: &str) {
    if !names.contains(name) {
        names.insert(name.to_string());
    }
}

/// Where a refusal comes among the fatal findings: those of single keys (in key order),
/// then of group names, children, loops, and last clashes of nested variables.
fn stage(error: &LayoutError) -> u8 {
    match error {
        LayoutError::NonUtf8Key { .. }
        | LayoutError::MarkerName { .. }
        | LayoutError::NestedTooDeep { .. }
        | LayoutError::NonUtf8Value { .. } => 0,
        LayoutError::ReservedGroupName { .. } => 1,
        LayoutError::AllAsChild { .. } => 2,
        LayoutError::ChildrenCycle(_) => 3,
        LayoutError::NestedClash { .. } => 4,
    }
}

/// The name Ansible makes of `group` when it rewrites invalid characters, or `None` when it
/// has none. Ansible's rule (`INVALID_VARIABLE_NAMES`, `^[\d\W]|[^\w]` on text): a leading
/// digit or any character that is not a letter, digit or `_` becomes `_`.
pub fn safe_group_name(group: &str) -> Option<String> {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let safe: String = group
        .chars()
        .enumerate()
        .map(|(i, c)| if !word(c) || (i == 0 && c.is_numeric()) { '_' } else { c })
        .collect();
    // `all` and `ungrouped` are Ansible's own and always valid.
    (safe != group).then_some(safe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory;

    fn kv(key: &str, value: &[u8]) -> Kv {
        Kv {
            key: key.as_bytes().to_vec(),
            value: value.to_vec(),
        }
    }

    #[test]
    fn leased_hosts_are_the_hosts_of_leased_memberships_and_variables() {
        let leased: Vec<(Vec<u8>, i64)> = [
            ("/ansible/hosts/web/h2", 9),
            ("/ansible/hostvars/h2/ip", 9),
            ("/ansible/hosts/db/h1", 5),
            ("/ansible/groupvars/web/x", 3),
            ("/ansible/stray", 4),
        ]
        .iter()
        .map(|(k, l)| (k.as_bytes().to_vec(), *l))
        .collect();
        let hosts = leased_hosts(&Prefix::new("/ansible"), &leased);
        let said: Vec<(String, i64)> = hosts.iter().map(|h| (h.host.clone(), h.lease)).collect();
        assert_eq!(said, [("h1".to_string(), 5), ("h2".to_string(), 9)]);
        let line = |ttl_s| {
            LeasedHost {
                ttl_s,
                ..hosts[0].clone()
            }
            .to_string()
        };
        assert_eq!(line(Some(42)), "leased: host \"h1\" (lease 5): 42 s left");
        assert_eq!(
            line(Some(-1)),
            "leased: host \"h1\" (lease 5): expired, its keys go any moment"
        );
        assert_eq!(line(None), "leased: host \"h1\" (lease 5): time left unknown");
    }

    fn lines(pairs: &[Kv]) -> Vec<String> {
        check(&Prefix::new("/ansible"), pairs, &ValueRules::default())
            .iter()
            .map(|f| f.to_string())
            .collect()
    }

    #[test]
    fn a_clean_keyspace_has_no_findings() {
        let pairs = [
            kv("/ansible/groups/prod/web", b""),
            kv("/ansible/groupvars/all/ntp", b"x"),
            kv("/ansible/hosts/web/web01", b""),
            kv("/ansible/hostvars/web01/ip", b"10.0.0.1"),
            kv("/ansible/hosts/ungrouped/bare", b""),
        ];
        assert_eq!(lines(&pairs), Vec::<String>::new());
    }

    #[test]
    fn every_problem_is_one_line_fatal_first() {
        let pairs = [
            kv("/ansible/groups/a/b", b""),
            kv("/ansible/groups/b/a", b""),
            kv("/ansible/groups/c/d", b""),
            kv("/ansible/groups/d/c", b""),
            kv("/ansible/groups/web/all", b""),
            kv("/ansible/groups/web/edge", b""),
            kv("/ansible/hosts/web-servers/w1", b""),
            kv("/ansible/hosts/2fa/w1", b""),
            kv("/ansible/hostvars/lonely/ip", b"x"),
            kv("/ansible/hostvars/w1/bad", b"\xff"),
            kv("/ansible/hostvars/w1/bad-name", b"x"),
            kv("/ansible/hosts/web/w1", b"\xff"),
            kv("/ansible/junk", b""),
        ];
        let got = lines(&pairs);
        let expected = [
            "error: the value of key \"/ansible/hostvars/w1/bad\" is not valid UTF-8",
            "error: group \"web\" names \"all\" as a child",
            "error: group children form a loop: a -> b -> a",
            "error: group children form a loop: c -> d -> c",
            "error: key \"/ansible/hostvars/w1/bad-name\" names a variable \"bad-name\", which Ansible will refuse",
            "warning: key \"/ansible/junk\" fits none of",
            "warning: group \"edge\" is a child of \"web\" but has no hosts",
            "warning: group \"2fa\" has characters Ansible flags in group names: it warns on every run, and with \
             TRANSFORM_INVALID_GROUP_CHARS=always names the group \"_fa\"",
            "warning: group \"web-servers\" has characters",
            "warning: host \"lonely\" has variables but is in no group",
        ];
        assert_eq!(got.len(), expected.len(), "{got:#?}");
        for (line, start) in got.iter().zip(expected) {
            assert!(line.starts_with(start), "{line:?} should start with {start:?}");
        }
    }

    #[test]
    fn fatal_findings_agree_with_the_reader() {
        let nested = ValueRules {
            nested_keys: true,
            ..ValueRules::default()
        };
        let cases: Vec<(Vec<Kv>, ValueRules)> = vec![
            (
                vec![kv("/ansible/hostvars/h/a", b"1"), kv("/ansible/hostvars/h/a/b", b"2")],
                nested,
            ),
            (vec![kv("/ansible/groupvars/_meta/x", b"1")], ValueRules::default()),
            (
                vec![Kv {
                    key: b"/ansible/\xff".to_vec(),
                    value: vec![],
                }],
                ValueRules::default(),
            ),
            (vec![kv("/ansible/hosts/g/h", b"\xff")], ValueRules::default()),
            (vec![kv("/ansible/groups/g/g", b"")], ValueRules::default()),
            (
                vec![kv("/ansible/hostvars/h/__ansible_unsafe", b"x")],
                ValueRules::default(),
            ),
            (
                vec![kv(&format!("/ansible/hostvars/h/{}", vec!["a"; 101].join("/")), b"x")],
                nested,
            ),
        ];
        for (pairs, rules) in cases {
            let prefix = Prefix::new("/ansible");
            let fails = inventory::build(&prefix, &pairs, &rules).is_err();
            let fatal = check(&prefix, &pairs, &rules).iter().any(Finding::is_fatal);
            assert_eq!(fatal, fails, "{pairs:?}");
        }
    }

    #[test]
    fn every_nested_clash_is_reported_beside_other_fatal_findings() {
        let nested = ValueRules {
            nested_keys: true,
            ..ValueRules::default()
        };
        let pairs = [
            kv("/ansible/groupvars/g/a", b"1"),
            kv("/ansible/groupvars/g/a/b", b"2"),
            kv("/ansible/groupvars/g/a/b/c", b"3"),
            kv("/ansible/hostvars/h/x", b"1"),
            kv("/ansible/hostvars/h/x/y", b"2"),
            kv("/ansible/hostvars/h/z", b"\xff"),
            kv("/ansible/hosts/g/h", b""),
        ];
        let clash = |value_key: &str, map_key: &str| {
            Finding::Fatal(LayoutError::NestedClash {
                value_key: value_key.into(),
                map_key: map_key.into(),
            })
        };
        assert_eq!(
            check(&Prefix::new("/ansible"), &pairs, &nested),
            [
                Finding::Fatal(LayoutError::NonUtf8Value {
                    key: "/ansible/hostvars/h/z".into()
                }),
                clash("/ansible/hostvars/h/x", "/ansible/hostvars/h/x/y"),
                clash("/ansible/groupvars/g/a", "/ansible/groupvars/g/a/b"),
                clash("/ansible/groupvars/g/a", "/ansible/groupvars/g/a/b/c"),
            ]
        );
    }

    #[test]
    fn invalid_variable_names_are_errors_naming_the_key_but_not_fatal() {
        let nested = ValueRules {
            nested_keys: true,
            ..ValueRules::default()
        };
        let pairs = [
            kv("/ansible/groupvars/web/http-port", b"80"),
            kv("/ansible/hostvars/h/true", b"x"),
            kv("/ansible/hostvars/h/ok_name", b"x"),
            kv("/ansible/hostvars/h/nginx/listen-port", b"80"),
            kv("/ansible/hosts/web/h", b""),
        ];
        let findings = check(&Prefix::new("/ansible"), &pairs, &nested);
        let names: Vec<_> = findings
            .iter()
            .map(|f| match f {
                Finding::InvalidVariableName { key, name } => (key.as_str(), name.as_str()),
                other => panic!("unexpected finding {other}"),
            })
            .collect();
        // A map's keys below a variable are no variable names: `nginx` is fine.
        assert_eq!(
            names,
            [
                ("/ansible/groupvars/web/http-port", "http-port"),
                ("/ansible/hostvars/h/true", "true")
            ]
        );
        assert!(findings.iter().all(|f| f.is_error() && !f.is_fatal()));
    }

    #[test]
    fn children_with_a_position_are_not_called_misspelt() {
        let pairs = [
            kv("/ansible/groups/web/typo", b""),
            kv("/ansible/groups/web/empty", b"1"),
            kv("/ansible/hosts/web/h", b"0"),
        ];
        let got = lines(&pairs);
        assert_eq!(got.len(), 1, "{got:#?}");
        assert!(
            got[0].starts_with("warning: group \"typo\" is a child of \"web\""),
            "{got:#?}"
        );
    }

    #[test]
    fn safe_names_follow_ansible() {
        assert_eq!(safe_group_name("web_01"), None);
        assert_eq!(safe_group_name("café"), None);
        assert_eq!(safe_group_name("web-01.eu"), Some("web_01_eu".into()));
        assert_eq!(safe_group_name("1st"), Some("_st".into()));
        assert_eq!(safe_group_name("a1"), None);
    }
}
