//! Every setting, declared once: its flag, environment variable, etcd.ini key, default,
//! kind, which commands take it, and its help. As ripgrep declares its flags once
//! (`crates/core/flags/defs.rs`), the rest is derived from this table or checked against it
//! by a test:
//! - the binary's clap arguments and `--help` (`host/src/args.rs`);
//! - [`Flags`], filled through each setting's [`Flag`], and the lookups of [`super::resolve`];
//! - the component's own command line and usage text ([`crate::cli`]);
//! - the variables a host passes on ([`env_vars`]) and those `embed/wasmtime-inventory.sh`
//!   forwards, and the README's settings table (`component/tests/settings_table.rs`).
//!
//! How a value is parsed and checked stays in [`super::resolve`]: the low-level → high-level
//! step, as ripgrep's `LowArgs` → `HiArgs`.

use super::Flags;

/// One setting and every way to give it.
#[derive(Debug)]
pub struct Setting {
    /// Its flag, when it has one (`ETCD_INI_PATH` has none: it says where the rest is).
    pub flag: Option<Flag>,
    /// Its environment variable, named as etcdctl names it where etcdctl has one.
    pub env: Option<&'static str>,
    /// A word on what the variable holds, when it is not simply the flag's value.
    pub env_note: Option<&'static str>,
    /// Its key in etcd.ini.
    pub ini: Option<IniKey>,
    /// What else etcd.ini may give instead (the classic `host`, `port`, `secure`).
    pub ini_note: Option<&'static str>,
    /// What applies when no source gives it.
    pub default: Fallback,
    /// What kind of value it takes.
    pub kind: Kind,
    /// Which commands take it.
    pub takers: Takers,
    /// One line of help: `--help`, and the README's "meaning" column.
    pub help: &'static str,
}

/// A setting's command-line flag and its slot in [`Flags`].
pub struct Flag {
    /// The long name, without `--`.
    pub long: &'static str,
    get: fn(&Flags) -> &Option<String>,
    set: fn(&mut Flags) -> &mut Option<String>,
}

impl std::fmt::Debug for Flag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "--{}", self.long)
    }
}

/// `flag!("page-size", page_size)`: the flag `--page-size`, whose raw value goes into
/// `Flags::page_size`.
macro_rules! flag {
    ($long:literal, $field:ident) => {
        Some(Flag {
            long: $long,
            get: |flags| &flags.$field,
            set: |flags| &mut flags.$field,
        })
    };
}

/// A key of etcd.ini.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IniKey {
    /// `etcd` (the classic script's section) or `cache`.
    pub section: &'static str,
    pub key: &'static str,
}

const fn etcd_ini(key: &'static str) -> Option<IniKey> {
    Some(IniKey { section: "etcd", key })
}

const fn cache_ini(key: &'static str) -> Option<IniKey> {
    Some(IniKey { section: "cache", key })
}

/// A setting's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// This value, written as a user would write it (a unit test checks that resolving it
    /// gives what resolving nothing gives).
    Value(&'static str),
    /// None: the words say what that means.
    Unset(&'static str),
}

/// What a setting's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// On or off: a flag without a value; `true`/`false` (`yes`/`no`, `on`/`off`, `1`/`0`)
    /// in the environment and etcd.ini.
    Switch,
    /// Text; the word is its placeholder in usage lines.
    Text(&'static str),
    /// A whole number; the word is its placeholder.
    Number(&'static str),
    /// A duration as etcdctl writes them: `500ms`, `5s`, `1m`.
    Duration,
    /// A file's path: a host that gives the component no files cannot pass it on.
    File,
    /// A directory's path.
    Dir,
    /// One of these words.
    Choice(&'static [&'static str]),
}

impl Kind {
    /// The placeholder of its value in usage lines (`N`, `DURATION`, `grpc|gateway`); none
    /// for a switch.
    pub fn placeholder(&self) -> Option<String> {
        match self {
            Kind::Switch => None,
            Kind::Text(word) | Kind::Number(word) => Some(word.to_string()),
            Kind::Duration => Some("DURATION".to_string()),
            Kind::File => Some("FILE".to_string()),
            Kind::Dir => Some("DIR".to_string()),
            Kind::Choice(words) => Some(words.join("|")),
        }
    }
}

/// Which commands take a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Takers {
    /// The `etcd-inventory` binary's commands.
    pub binary: Commands,
    /// Whether the component's own command line takes it too (`wasmtime run ...`, and the
    /// `settings` export for embedders).
    pub component: bool,
    /// Whether the write side (`import`, `register`, `deregister`, `apply`: gRPC from the
    /// host, no sandbox) reads it: the connection and how values are written. The
    /// collection's modules take exactly these as options.
    pub write_side: bool,
}

/// Which of the binary's commands take a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commands {
    /// Every command: a global flag.
    All,
    /// The inventory script: `--list`, `--host`, `--graph`.
    Script,
    /// The inventory script and `check`, which runs in the same sandbox (given after
    /// `check`, it wins).
    ScriptAndCheck,
}

const EVERYWHERE: Takers = Takers {
    binary: Commands::All,
    component: true,
    write_side: true,
};

/// Every command takes it, but only readers act on it.
const READERS: Takers = Takers {
    binary: Commands::All,
    component: true,
    write_side: false,
};

const BINARY_ONLY: Takers = Takers {
    binary: Commands::All,
    component: false,
    write_side: false,
};

pub static ENDPOINTS: Setting = Setting {
    flag: flag!("endpoints", endpoints),
    env: Some("ETCDCTL_ENDPOINTS"),
    env_note: None,
    ini: etcd_ini("endpoints"),
    ini_note: Some("or `host` + `port` + `secure`"),
    default: Fallback::Value("http://127.0.0.1:2379"),
    kind: Kind::Text("URLS"),
    takers: EVERYWHERE,
    help: "etcd members, comma-separated, tried in order",
};

pub static PREFIX: Setting = Setting {
    flag: flag!("prefix", prefix),
    env: Some("ETCD_INVENTORY_PREFIX"),
    env_note: None,
    ini: etcd_ini("prefix"),
    ini_note: None,
    default: Fallback::Value("/ansible"),
    kind: Kind::Text("PREFIX"),
    takers: EVERYWHERE,
    help: "Key prefix of the inventory: where its keys live",
};

pub static USER: Setting = Setting {
    flag: flag!("user", user),
    env: Some("ETCDCTL_USER"),
    env_note: Some("as NAME or NAME:PASSWORD"),
    ini: etcd_ini("username"),
    ini_note: None,
    default: Fallback::Unset("none"),
    kind: Kind::Text("NAME"),
    takers: EVERYWHERE,
    help: "etcd user name, when etcd has auth on (the password is never a flag: a command line shows in ps)",
};

pub static PASSWORD_FILE: Setting = Setting {
    flag: flag!("password-file", password_file),
    env: None,
    env_note: None,
    ini: None,
    ini_note: None,
    default: Fallback::Unset("none"),
    kind: Kind::File,
    takers: EVERYWHERE,
    help: "File whose first line is the etcd user's password (within its first 4 KiB; a regular file only; a \
           warning if group or others may read or write it); beats the password in the environment or etcd.ini",
};

/// The password itself: never a flag, whose value would show in `ps`.
pub static PASSWORD: Setting = Setting {
    flag: None,
    env: Some("ETCDCTL_PASSWORD"),
    env_note: None,
    ini: etcd_ini("password"),
    ini_note: None,
    default: Fallback::Unset("none"),
    kind: Kind::Text("PASSWORD"),
    takers: EVERYWHERE,
    help: "The etcd user's password (never a flag: give it here, in ETCDCTL_USER as NAME:PASSWORD, or in a \
           --password-file)",
};

pub static CACERT: Setting = Setting {
    flag: flag!("cacert", cacert),
    env: Some("ETCDCTL_CACERT"),
    env_note: None,
    ini: etcd_ini("ca_cert"),
    ini_note: None,
    default: Fallback::Unset("public roots"),
    kind: Kind::File,
    // The component takes the TLS files only to refuse them with the reason.
    takers: EVERYWHERE,
    help: "CA certificate (PEM) that signed etcd's certificate, instead of the public roots",
};

pub static CERT: Setting = Setting {
    flag: flag!("cert", cert),
    env: Some("ETCDCTL_CERT"),
    env_note: None,
    ini: etcd_ini("client_cert"),
    ini_note: None,
    default: Fallback::Unset("none"),
    kind: Kind::File,
    takers: EVERYWHERE,
    help: "Client certificate (PEM) for etcd's --client-cert-auth",
};

pub static KEY: Setting = Setting {
    flag: flag!("key", key),
    env: Some("ETCDCTL_KEY"),
    env_note: None,
    ini: etcd_ini("client_key"),
    ini_note: None,
    default: Fallback::Unset("none"),
    kind: Kind::File,
    takers: EVERYWHERE,
    help: "Private key (PEM) of the client certificate",
};

pub static DIAL_TIMEOUT: Setting = Setting {
    flag: flag!("dial-timeout", dial_timeout),
    env: Some("ETCDCTL_DIAL_TIMEOUT"),
    env_note: None,
    ini: etcd_ini("dial_timeout"),
    ini_note: None,
    default: Fallback::Value("2s"),
    kind: Kind::Duration,
    takers: EVERYWHERE,
    help: "Time to connect to one member (TCP and TLS)",
};

pub static COMMAND_TIMEOUT: Setting = Setting {
    flag: flag!("command-timeout", command_timeout),
    env: Some("ETCDCTL_COMMAND_TIMEOUT"),
    env_note: None,
    ini: etcd_ini("command_timeout"),
    ini_note: None,
    default: Fallback::Value("5s"),
    kind: Kind::Duration,
    takers: EVERYWHERE,
    help: "Time for each answer to start, and between its bytes; a stalled member passes the read to the next",
};

pub static PAGE_SIZE: Setting = Setting {
    flag: flag!("page-size", page_size),
    env: Some("ETCD_INVENTORY_PAGE_SIZE"),
    env_note: None,
    ini: etcd_ini("page_size"),
    ini_note: None,
    default: Fallback::Value("10000"),
    kind: Kind::Number("N"),
    takers: READERS,
    help: "Most keys per range request; pages also stay near 1 MiB",
};

pub static TRANSPORT: Setting = Setting {
    flag: flag!("transport", transport),
    env: Some("ETCD_INVENTORY_TRANSPORT"),
    env_note: None,
    ini: etcd_ini("transport"),
    ini_note: None,
    default: Fallback::Value("grpc"),
    kind: Kind::Choice(&["grpc", "gateway"]),
    takers: BINARY_ONLY,
    help: "How the binary carries the component's reads: grpc (etcd's gRPC API, fastest) or gateway (etcd's JSON \
           gateway, for a proxy that passes only HTTP/1)",
};

pub static MEMORY_LIMIT: Setting = Setting {
    flag: flag!("memory-limit", memory_limit),
    env: Some("ETCD_INVENTORY_MEMORY_LIMIT"),
    env_note: None,
    ini: etcd_ini("memory_limit"),
    ini_note: None,
    default: Fallback::Value("1024"),
    kind: Kind::Number("MIB"),
    takers: Takers {
        binary: Commands::ScriptAndCheck,
        component: false,
        write_side: false,
    },
    help: "Most memory the component may use, in MiB (at most 4096; 100,000 hosts of 10 variables need about 190), \
           for --list, --host, --graph and check",
};

pub static TIME_LIMIT: Setting = Setting {
    flag: flag!("time-limit", time_limit),
    env: Some("ETCD_INVENTORY_TIME_LIMIT"),
    env_note: None,
    ini: etcd_ini("time_limit"),
    ini_note: None,
    default: Fallback::Value("120s"),
    kind: Kind::Duration,
    takers: Takers {
        binary: Commands::ScriptAndCheck,
        component: false,
        write_side: false,
    },
    help: "Longest the component may take for one command, reading etcd included (every read of the command \
           shares it); the same four commands",
};

pub static TRUST_TEMPLATES: Setting = Setting {
    flag: flag!("trust-templates", trust_templates),
    env: Some("ETCD_INVENTORY_TRUST_TEMPLATES"),
    env_note: None,
    ini: etcd_ini("trust_templates"),
    ini_note: None,
    default: Fallback::Unset("off"),
    kind: Kind::Switch,
    takers: READERS,
    help: "Emit values as plain strings that Ansible renders as templates; by default they are marked unsafe",
};

pub static TYPED_VALUES: Setting = Setting {
    flag: flag!("typed-values", typed_values),
    env: Some("ETCD_INVENTORY_TYPED_VALUES"),
    env_note: None,
    ini: etcd_ini("typed_values"),
    ini_note: None,
    default: Fallback::Unset("off"),
    kind: Kind::Switch,
    takers: EVERYWHERE,
    help: "Decode values that are JSON into booleans, numbers, lists and maps; import then quotes strings that \
           would decode",
};

pub static NESTED_KEYS: Setting = Setting {
    flag: flag!("nested-keys", nested_keys),
    env: Some("ETCD_INVENTORY_NESTED_KEYS"),
    env_note: None,
    ini: etcd_ini("nested_keys"),
    ini_note: None,
    default: Fallback::Unset("off"),
    kind: Kind::Switch,
    takers: EVERYWHERE,
    help: "Build nested maps from deeper keys such as hostvars/HOST/nginx/port (else they are skipped)",
};

pub static CACHE: Setting = Setting {
    flag: flag!("cache", cache),
    env: Some("ETCD_INVENTORY_CACHE"),
    env_note: None,
    ini: cache_ini("enabled"),
    ini_note: None,
    default: Fallback::Unset("off"),
    kind: Kind::Switch,
    takers: SCRIPT_ONLY,
    help: "Keep the --list answer in a cache file, validated against etcd before use",
};

pub static CACHE_PATH: Setting = Setting {
    flag: flag!("cache-path", cache_path),
    env: Some("ETCD_INVENTORY_CACHE_PATH"),
    env_note: None,
    ini: cache_ini("path"),
    ini_note: None,
    default: Fallback::Value(super::DEFAULT_CACHE_PATH),
    kind: Kind::Dir,
    takers: SCRIPT_ONLY,
    help: "Directory of the cache files",
};

pub static CACHE_MAX_AGE: Setting = Setting {
    flag: flag!("cache-max-age", cache_max_age),
    env: Some("ETCD_INVENTORY_CACHE_MAX_AGE"),
    env_note: None,
    ini: cache_ini("max_age"),
    ini_note: None,
    default: Fallback::Value("0"),
    kind: Kind::Number("SECONDS"),
    takers: SCRIPT_ONLY,
    help: "Seconds during which the cache is served without asking etcd; after them it is validated (0: every time)",
};

pub static STALE_CACHE_FALLBACK: Setting = Setting {
    flag: flag!("stale-cache-fallback", stale_cache_fallback),
    env: Some("ETCD_INVENTORY_STALE_CACHE_FALLBACK"),
    env_note: None,
    ini: cache_ini("stale_fallback"),
    ini_note: None,
    default: Fallback::Unset("off"),
    kind: Kind::Switch,
    takers: SCRIPT_ONLY,
    help: "When no endpoint answers, serve the cache however old, with a warning",
};

pub static REFRESH_CACHE: Setting = Setting {
    flag: flag!("refresh-cache", refresh_cache),
    // Ansible passes an inventory script no flags: the variable is `--refresh-cache` for it.
    env: Some("ETCD_INVENTORY_REFRESH_CACHE"),
    env_note: None,
    ini: None,
    ini_note: None,
    default: Fallback::Unset("off"),
    kind: Kind::Switch,
    takers: SCRIPT_ONLY,
    help: "Read etcd in full and rewrite the cache",
};

pub static INI_PATH: Setting = Setting {
    flag: None,
    // The classic script's variable.
    env: Some("ETCD_INI_PATH"),
    env_note: None,
    ini: None,
    ini_note: None,
    default: Fallback::Unset("`etcd.ini` beside the binary"),
    kind: Kind::File,
    takers: EVERYWHERE,
    help: "Where etcd.ini is (a regular file of at most 1 MiB)",
};

const SCRIPT_ONLY: Takers = Takers {
    binary: Commands::Script,
    component: false,
    write_side: false,
};

/// Every setting, in the order `--help` and the README show them.
pub static SETTINGS: [&Setting; 23] = [
    &ENDPOINTS,
    &PREFIX,
    &USER,
    &PASSWORD_FILE,
    &PASSWORD,
    &CACERT,
    &CERT,
    &KEY,
    &DIAL_TIMEOUT,
    &COMMAND_TIMEOUT,
    &PAGE_SIZE,
    &TRANSPORT,
    &MEMORY_LIMIT,
    &TIME_LIMIT,
    &TRUST_TEMPLATES,
    &TYPED_VALUES,
    &NESTED_KEYS,
    &CACHE,
    &CACHE_PATH,
    &CACHE_MAX_AGE,
    &STALE_CACHE_FALLBACK,
    &REFRESH_CACHE,
    &INI_PATH,
];

impl Setting {
    /// Its environment variable; for settings that have one (all do today).
    pub fn var(&self) -> &'static str {
        self.env.expect("a setting with an environment variable")
    }

    /// `--long`, for messages; the variable for a setting without a flag.
    pub fn flag_name(&self) -> String {
        match &self.flag {
            Some(flag) => format!("--{}", flag.long),
            None => self.var().to_string(),
        }
    }

    /// Whether this is a switch (a flag without a value).
    pub fn is_switch(&self) -> bool {
        self.kind == Kind::Switch
    }

    /// Whether it is in [`SETTINGS`]: every lookup in `resolve` asserts it, so that a
    /// setting cannot be read without being declared.
    pub(super) fn is_declared(&self) -> bool {
        SETTINGS.iter().any(|s| std::ptr::eq(*s, self))
    }

    /// The help line with where else the setting comes from, as `--help` shows it:
    /// `... [env: VAR] [etcd.ini: key] [default: value]`.
    pub fn long_help(&self) -> String {
        let mut help = self.help.to_string();
        if let Some(var) = self.env {
            match self.env_note {
                Some(note) => help.push_str(&format!(" [env: {var}, {note}]")),
                None => help.push_str(&format!(" [env: {var}]")),
            }
        }
        if let Some(ini) = self.ini {
            let key = match ini.section {
                "etcd" => ini.key.to_string(),
                section => format!("[{section}] {}", ini.key),
            };
            match self.ini_note {
                Some(note) => help.push_str(&format!(" [etcd.ini: {key}, {}]", note.replace('`', ""))),
                None => help.push_str(&format!(" [etcd.ini: {key}]")),
            }
        }
        if let Fallback::Value(value) = self.default {
            help.push_str(&format!(" [default: {value}]"));
        }
        help
    }
}

impl Flags {
    /// The raw value given for `setting`'s flag.
    pub fn get(&self, setting: &Setting) -> Option<&str> {
        setting.flag.as_ref().and_then(|f| (f.get)(self).as_deref())
    }

    /// Records `value` as given for `setting`'s flag (`"true"` for a switch). Settings
    /// without a flag are not taken from the command line.
    pub fn set(&mut self, setting: &Setting, value: String) {
        if let Some(flag) = &setting.flag {
            *(flag.set)(self) = Some(value);
        }
    }

    /// `other`'s values where it has them: flags given after a command's name win over
    /// the same flags given before it.
    pub fn overlay(&mut self, other: &Flags) {
        for setting in SETTINGS {
            if let Some(value) = other.get(setting) {
                self.set(setting, value.to_string());
            }
        }
    }
}

/// Every environment variable the settings read: a host passes only these on, and a test
/// clears them.
pub fn env_vars() -> Vec<&'static str> {
    SETTINGS.iter().filter_map(|s| s.env).collect()
}

/// The setting whose flag is `--long`.
pub fn by_flag(long: &str) -> Option<&'static Setting> {
    SETTINGS
        .iter()
        .copied()
        .find(|s| s.flag.as_ref().is_some_and(|f| f.long == long))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique() {
        let mut flags = HashSet::new();
        let mut vars = HashSet::new();
        let mut keys = HashSet::new();
        for s in SETTINGS {
            assert!(s.flag.as_ref().is_none_or(|f| flags.insert(f.long)), "{s:?}");
            assert!(s.env.is_none_or(|v| vars.insert(v)), "{s:?}");
            assert!(s.ini.is_none_or(|k| keys.insert(k)), "{s:?}");
        }
    }

    #[test]
    fn every_field_of_flags_is_some_setting_s_flag() {
        let mut flags = Flags::default();
        for (i, s) in SETTINGS.iter().enumerate() {
            flags.set(s, i.to_string());
        }
        let shown = format!("{flags:?}");
        assert!(!shown.contains("None"), "a field of Flags no setting fills: {shown}");
        for (i, s) in SETTINGS.iter().enumerate().filter(|(_, s)| s.flag.is_some()) {
            assert_eq!(flags.get(s), Some(i.to_string().as_str()), "{s:?}: its own slot");
        }
    }

    #[test]
    fn every_value_kind_has_a_placeholder_and_only_switches_lack_one() {
        for s in SETTINGS {
            assert_eq!(s.kind.placeholder().is_none(), s.is_switch(), "{s:?}");
        }
    }
}
