//! The key layout: which etcd keys under a prefix mean what. This is the one place that
//! knows the four key kinds; everything else asks it.

/// An inventory prefix such as `/ansible`, normalised without trailing slashes so that
/// `/ansible` and `/ansible/` name the same inventory and neither matches `/ansible2/...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix(String);

impl Prefix {
    /// Normalises `raw`; `/` alone (or the empty string) is the root of the keyspace.
    pub fn new(raw: &str) -> Prefix {
        Prefix(raw.trim_end_matches('/').to_string())
    }

    /// The prefix as users write it, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Every inventory key starts with this: the prefix and one `/`.
    pub fn dir(&self) -> String {
        format!("{}/", self.0)
    }

    /// The etcd key range `[start, end)` that holds the whole inventory.
    pub fn range(&self) -> KeyRange {
        KeyRange::with_prefix(self.dir().into_bytes())
    }

    /// The key that says `entry` under this prefix: the inverse of [`classify`].
    pub fn key(&self, entry: Entry<'_>) -> String {
        let (kind, a, b) = match entry {
            Entry::HostVar { host, var } => (HOSTVARS, host, var),
            Entry::GroupVar { group, var } => (GROUPVARS, group, var),
            Entry::Member { group, host } => (HOSTS, group, host),
            Entry::Child { parent, child } => (GROUPS, parent, child),
        };
        format!("{}/{kind}/{a}/{b}", self.0)
    }

    /// The key range that holds every membership key (`hosts/GROUP/HOST`).
    pub fn members_range(&self) -> KeyRange {
        KeyRange::with_prefix(format!("{}/{}/", self.0, HOSTS).into_bytes())
    }

    /// Whether `key` is one of `host`'s own keys: a membership of it, or a variable of it
    /// (nested variable keys too, whatever the reader's settings: they are the host's).
    pub fn is_own_key(&self, key: &[u8], host: &str) -> bool {
        match self.entry(key) {
            Some(Entry::Member { host: h, .. } | Entry::HostVar { host: h, .. }) => h == host,
            _ => false,
        }
    }

    /// The key range that holds the variables of one host.
    pub fn host_vars_range(&self, host: &str) -> KeyRange {
        KeyRange::with_prefix(format!("{}/{}/{}/", self.0, HOSTVARS, host).into_bytes())
    }

    /// The key range that holds the variables of one group.
    pub fn group_vars_range(&self, group: &str) -> KeyRange {
        KeyRange::with_prefix(format!("{}/{}/{}/", self.0, GROUPVARS, group).into_bytes())
    }

    /// The key range that holds the membership keys of one group (`hosts/GROUP/HOST`).
    pub fn group_members_range(&self, group: &str) -> KeyRange {
        KeyRange::with_prefix(format!("{}/{}/{}/", self.0, HOSTS, group).into_bytes())
    }

    /// The key range that holds every children key (`groups/PARENT/CHILD`): the whole
    /// tree of groups, which a new child must not turn into a loop.
    pub fn children_range(&self) -> KeyRange {
        KeyRange::with_prefix(format!("{}/{}/", self.0, GROUPS).into_bytes())
    }

    /// What `key` says, if it is under this prefix and of one of the four kinds; variable
    /// keys of any depth are variables (of their host or group), whatever the settings.
    pub fn entry<'k>(&self, key: &'k [u8]) -> Option<Entry<'k>> {
        let rest = std::str::from_utf8(key).ok()?.strip_prefix(self.dir().as_str())?;
        classify(rest, true)
    }
}

/// A half-open etcd key range, as the range API takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    pub start: Vec<u8>,
    pub end: Vec<u8>,
}

impl KeyRange {
    /// All keys that begin with `prefix`: etcd's "prefix end" is the prefix with its last
    /// byte below 0xff incremented (what etcdctl's `--prefix` computes).
    pub fn with_prefix(prefix: Vec<u8>) -> KeyRange {
        let mut end = prefix.clone();
        while let Some(last) = end.pop() {
            if last < 0xff {
                end.push(last + 1);
                break;
            }
        }
        // All 0xff (or empty): `\0` as range_end means "every key from start on".
        if end.is_empty() {
            end.push(0);
        }
        KeyRange { start: prefix, end }
    }
}

const HOSTVARS: &str = "hostvars";
const GROUPVARS: &str = "groupvars";
const HOSTS: &str = "hosts";
const GROUPS: &str = "groups";

/// What one key under the prefix says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry<'a> {
    /// `hostvars/{host}/{var}`: the value is the host's variable. With nested keys on,
    /// `var` may be a path such as `nginx/port` (see [`var_path`]).
    HostVar { host: &'a str, var: &'a str },
    /// `groupvars/{group}/{var}`: the value is the group's variable; `var` as for hosts.
    GroupVar { group: &'a str, var: &'a str },
    /// `hosts/{group}/{host}`: the host is a member of the group; the value, its
    /// [`position`] among the group's hosts.
    Member { group: &'a str, host: &'a str },
    /// `groups/{parent}/{child}`: the child is a child group of parent; the value, its
    /// [`position`] among the parent's children.
    Child { parent: &'a str, child: &'a str },
}

/// Most digits a position may have: every 18-digit number fits a `u64`.
const MAX_POSITION_DIGITS: usize = 18;

/// The position a membership or children key's value gives its host or child in the
/// group's list: a decimal number (`0`, `1`, ...), as `import` writes the file's order.
/// Anything else (empty, as the classic script and hand-written keys leave it, or any
/// other text) gives none: such names follow the positioned ones, sorted by name.
pub fn position(value: &[u8]) -> Option<u64> {
    let digits = !value.is_empty() && value.len() <= MAX_POSITION_DIGITS && value.iter().all(u8::is_ascii_digit);
    // All digits and short enough: the parse cannot fail.
    digits.then(|| std::str::from_utf8(value).ok()?.parse().ok()).flatten()
}

/// The value of a membership key that gives no [`position`]: a host that registers itself
/// (`etcd-inventory register`) has no place in a file's order, so it follows the imported
/// hosts of its groups, sorted by name.
pub const NO_POSITION: &str = "";

/// The value that gives a host or child `index` as its [`position`].
pub fn position_value(index: usize) -> String {
    index.to_string()
}

/// Reads `rest`, a key with the prefix directory already removed. Returns `None` for keys
/// of any other shape: another kind, too few or too many segments, or an empty segment.
/// With `nested`, variable keys may have more segments (`hostvars/web01/nginx/port`), which
/// build nested maps.
pub fn classify(rest: &str, nested: bool) -> Option<Entry<'_>> {
    let (kind, tail) = rest.split_once('/')?;
    let (a, b) = tail.split_once('/')?;
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let is_var = kind == HOSTVARS || kind == GROUPVARS;
    if b.contains('/') && !(nested && is_var && b.split('/').all(|s| !s.is_empty())) {
        return None;
    }
    Some(match kind {
        HOSTVARS => Entry::HostVar { host: a, var: b },
        GROUPVARS => Entry::GroupVar { group: a, var: b },
        HOSTS => Entry::Member { group: a, host: b },
        GROUPS => Entry::Child { parent: a, child: b },
        _ => return None,
    })
}

/// The segments of a variable: `port`, or `nginx`, `port` for a nested key.
pub fn var_path(var: &str) -> impl Iterator<Item = &str> {
    var.split('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ignores_trailing_slashes() {
        assert_eq!(Prefix::new("/ansible/"), Prefix::new("/ansible"));
        assert_eq!(Prefix::new("/ansible//").dir(), "/ansible/");
        assert_eq!(Prefix::new("/").dir(), "/");
    }

    #[test]
    fn prefix_range_excludes_sibling_prefixes() {
        let range = Prefix::new("/ansible").range();
        assert_eq!(range.start, b"/ansible/");
        assert_eq!(range.end, b"/ansible0");
        // `/ansible2/...` sorts after the range end, `/ansible/...` inside it.
        assert!(b"/ansible2/hosts/a/b".as_slice() >= range.end.as_slice());
        assert!(b"/ansible/hosts/a/b".as_slice() < range.end.as_slice());
    }

    #[test]
    fn range_end_carries_over_0xff() {
        assert_eq!(KeyRange::with_prefix(vec![b'a', 0xff]).end, b"b");
        assert_eq!(KeyRange::with_prefix(vec![0xff]).end, vec![0]);
    }

    #[test]
    fn host_vars_range_covers_one_host_only() {
        let range = Prefix::new("/ansible/").host_vars_range("web01");
        assert_eq!(range.start, b"/ansible/hostvars/web01/");
        assert_eq!(range.end, b"/ansible/hostvars/web010");
    }

    #[test]
    fn own_keys_are_a_hosts_memberships_and_variables() {
        let prefix = Prefix::new("/ansible");
        assert_eq!(prefix.members_range().start, b"/ansible/hosts/");
        assert_eq!(prefix.members_range().end, b"/ansible/hosts0");
        for key in ["/ansible/hosts/web/h1", "/ansible/hostvars/h1/ip"] {
            assert!(prefix.is_own_key(key.as_bytes(), "h1"), "{key}");
        }
        for key in [
            "/ansible/hosts/web/h10",
            "/ansible/hosts/h1/x",
            "/ansible/groupvars/h1/ip",
            "/ansible/groups/web/h1",
            "/other/hosts/web/h1",
        ] {
            assert!(!prefix.is_own_key(key.as_bytes(), "h1"), "{key}");
        }
        assert!(prefix.is_own_key(b"/ansible/hostvars/h1/a/b", "h1"));
    }

    #[test]
    fn a_group_s_ranges_hold_its_keys_only() {
        let prefix = Prefix::new("/ansible");
        assert_eq!(prefix.group_vars_range("web").start, b"/ansible/groupvars/web/");
        assert_eq!(prefix.group_vars_range("web").end, b"/ansible/groupvars/web0");
        assert_eq!(prefix.group_members_range("web").start, b"/ansible/hosts/web/");
        assert_eq!(prefix.children_range().start, b"/ansible/groups/");
        assert_eq!(prefix.children_range().end, b"/ansible/groups0");
        assert_eq!(
            prefix.entry(b"/ansible/groupvars/web/a/b"),
            Some(Entry::GroupVar {
                group: "web",
                var: "a/b"
            })
        );
        assert_eq!(prefix.entry(b"/other/hosts/web/h1"), None);
    }

    fn classify_flat(rest: &str) -> Option<Entry<'_>> {
        classify(rest, false)
    }

    #[test]
    fn nested_keys_are_variables_with_paths() {
        assert_eq!(
            classify("hostvars/web01/nginx/port", true),
            Some(Entry::HostVar {
                host: "web01",
                var: "nginx/port"
            })
        );
        assert_eq!(
            classify("groupvars/web/a/b/c", true),
            Some(Entry::GroupVar {
                group: "web",
                var: "a/b/c"
            })
        );
        assert_eq!(var_path("a/b/c").collect::<Vec<_>>(), ["a", "b", "c"]);
        for key in [
            "hostvars/web01/nginx//port",
            "hostvars/web01/nginx/",
            "hosts/g/h/x",
            "groups/a/b/c",
        ] {
            assert_eq!(classify(key, true), None, "{key:?} should not classify");
        }
    }

    #[test]
    fn classify_reads_the_four_kinds() {
        assert_eq!(
            classify_flat("hostvars/web01/port"),
            Some(Entry::HostVar {
                host: "web01",
                var: "port"
            })
        );
        assert_eq!(
            classify_flat("groupvars/web/x"),
            Some(Entry::GroupVar { group: "web", var: "x" })
        );
        assert_eq!(
            classify_flat("hosts/web/web01"),
            Some(Entry::Member {
                group: "web",
                host: "web01"
            })
        );
        assert_eq!(
            classify_flat("groups/prod/web"),
            Some(Entry::Child {
                parent: "prod",
                child: "web"
            })
        );
    }

    #[test]
    fn key_is_the_inverse_of_classify() {
        let prefix = Prefix::new("/ansible/");
        for entry in [
            Entry::HostVar {
                host: "web01",
                var: "ip",
            },
            Entry::GroupVar {
                group: "web",
                var: "port",
            },
            Entry::Member {
                group: "web",
                host: "web01",
            },
            Entry::Child {
                parent: "prod",
                child: "web",
            },
        ] {
            let key = prefix.key(entry);
            let rest = key.strip_prefix(&prefix.dir()).expect("under the prefix");
            assert_eq!(classify(rest, false), Some(entry), "{key}");
        }
        assert_eq!(
            Prefix::new("/").key(Entry::Member { group: "g", host: "h" }),
            "/hosts/g/h"
        );
    }

    #[test]
    fn positions_are_short_decimal_numbers_and_nothing_else() {
        assert_eq!(position(b"0"), Some(0));
        assert_eq!(position(b"42"), Some(42));
        assert_eq!(position(b"007"), Some(7));
        assert_eq!(position(position_value(12).as_bytes()), Some(12));
        assert_eq!(position(b"999999999999999999"), Some(999_999_999_999_999_999));
        for value in [
            &b""[..],
            b"1234567890123456789",
            b"+1",
            b"-1",
            b" 1",
            b"1 ",
            b"1.0",
            b"x",
            b"\xff",
        ] {
            assert_eq!(position(value), None, "{:?}", String::from_utf8_lossy(value));
        }
    }

    #[test]
    fn classify_rejects_other_shapes() {
        for key in [
            "hostvars/web01/nginx/port",
            "hostvars/web01",
            "hostvars/web01/",
            "hostvars//port",
            "hosts",
            "",
            "other/a/b",
            "Hosts/a/b",
        ] {
            assert_eq!(classify_flat(key), None, "{key:?} should not classify");
        }
    }
}
