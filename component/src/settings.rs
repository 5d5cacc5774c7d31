//! Settings, resolved in one place for every shell: flag > environment > etcd.ini > default.
//! The `etcd-inventory` binary, the component's own `wasi:cli/run` and its `settings` export
//! all call [`resolve`], so `wasmtime run --env ... --dir ...` and Node behave as the binary
//! does. Each setting's flag, variable, etcd.ini key and default are declared once, in
//! [`defs`]; here they are parsed and checked.

mod defs;

pub use defs::*;

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::layout::Prefix;
use crate::values::ValueRules;

pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:2379";
pub const DEFAULT_PREFIX: &str = "/ansible";
/// The most keys in one range request. Pages are also kept to about 1 MiB of answer
/// (see `gateway`); with small values this is the limit that applies.
pub const DEFAULT_PAGE_SIZE: u32 = 10_000;
/// etcdctl's default dial timeout.
pub const DEFAULT_DIAL_TIMEOUT_MS: u32 = 2_000;
/// etcdctl's default command timeout; here it bounds each request (its first byte and every
/// pause between bytes), so a stalled member fails over instead of hanging Ansible.
pub const DEFAULT_COMMAND_TIMEOUT_MS: u32 = 5_000;
/// About five times what 100,000 hosts of 10 variables need (180 to 190 MiB).
pub const DEFAULT_MEMORY_LIMIT_MIB: u32 = 1_024;
/// wasm32's whole address space.
pub const MAX_MEMORY_LIMIT_MIB: u32 = 4_096;
/// Far above a large read (100,000 hosts take about 2 s, 22 s over the gateway), far below
/// "stuck": a deploy waits this long at most.
pub const DEFAULT_TIME_LIMIT_MS: u32 = 120_000;

/// Where the classic script kept its cache.
pub const DEFAULT_CACHE_PATH: &str = "~/.ansible/tmp";
/// The most of a password file read: its first line must end within it.
pub const MAX_PASSWORD_FILE_BYTES: u64 = 4 << 10;
/// The largest etcd.ini read (the classic one is a few hundred bytes).
pub const MAX_INI_BYTES: u64 = 1 << 20;

/// Values given as command-line flags, unparsed, so that every source is validated alike.
/// Each field is the slot of one [`Setting`]'s [`Flag`]: filled and read through the table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    pub endpoints: Option<String>,
    pub prefix: Option<String>,
    pub page_size: Option<String>,
    pub dial_timeout: Option<String>,
    pub command_timeout: Option<String>,
    pub cacert: Option<String>,
    pub cert: Option<String>,
    pub key: Option<String>,
    /// The user name only: a password on the command line would show in `ps`.
    pub user: Option<String>,
    /// A file whose first line is the password.
    pub password_file: Option<String>,
    /// The switches are `Some("true")` when given.
    pub trust_templates: Option<String>,
    pub typed_values: Option<String>,
    pub nested_keys: Option<String>,
    pub transport: Option<String>,
    pub memory_limit: Option<String>,
    pub time_limit: Option<String>,
    pub cache: Option<String>,
    pub cache_path: Option<String>,
    pub cache_max_age: Option<String>,
    pub stale_cache_fallback: Option<String>,
    pub refresh_cache: Option<String>,
}

/// Resolved settings: what the component's `options` record carries, plus the TLS files
/// that only the native host uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Normalised base URLs (`http://host:port`), in order.
    pub endpoints: Vec<String>,
    pub prefix: Prefix,
    pub page_size: u32,
    pub dial_timeout_ms: u32,
    /// Bounds each request: the wait for its first byte and every pause after.
    pub command_timeout_ms: u32,
    /// How values become variables.
    pub values: ValueRules,
    /// etcd's own authentication, when a user is configured.
    pub credentials: Option<Credentials>,
    /// Files for https endpoints; the host makes the TLS connections.
    pub tls: TlsFiles,
    /// How the native host carries the component's requests to etcd.
    pub transport: Transport,
    /// Where `transport` was set (`environment variable ...`, `etcd.ini at ...`), or none
    /// when it is the default: component hosts, which have only the gateway, refuse a `grpc`
    /// that someone set rather than ignore it.
    pub transport_source: Option<String>,
    /// What the native host lets the component use.
    pub limits: SandboxLimits,
    /// The `--list` cache, which the native host keeps.
    pub cache: CacheSettings,
}

/// How the native host carries the component's gateway requests to etcd. The component
/// always speaks the v3 JSON gateway protocol; hosts without a choice (stock wasmtime) send
/// it to etcd's gateway.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transport {
    /// The host answers them itself from etcd's gRPC API: several times faster on large
    /// prefixes, and a tenth of etcd's CPU.
    #[default]
    Grpc,
    /// They go to etcd's JSON gateway as they are (for a proxy that passes only HTTP/1).
    Gateway,
}

/// The native host's bounds on the component, so that no data (or component) can exhaust
/// or hang the machine Ansible runs on. Stock hosts have their own (`wasmtime run -W
/// max-memory-size=...,timeout=...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxLimits {
    /// Most linear memory the component may have, in MiB (1 to 4096, wasm32's ceiling).
    pub memory_mib: u32,
    /// Longest the component may take for one command: reading etcd included.
    pub time_limit_ms: u32,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            memory_mib: DEFAULT_MEMORY_LIMIT_MIB,
            time_limit_ms: DEFAULT_TIME_LIMIT_MS,
        }
    }
}

/// The classic `[cache]` section, and what a cache that validates adds to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    pub enabled: bool,
    /// The directory of the cache files, `~` expanded.
    pub dir: PathBuf,
    /// Seconds during which the cache is served without asking etcd; after that it is
    /// validated against etcd first. 0: always validate.
    pub max_age_s: u64,
    /// Read etcd in full and rewrite the cache.
    pub refresh: bool,
    /// When no endpoint answers, serve the cache, however old, with a warning.
    pub stale_fallback: bool,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            enabled: false,
            dir: PathBuf::from(DEFAULT_CACHE_PATH),
            max_age_s: 0,
            refresh: false,
            stale_fallback: false,
        }
    }
}

/// An etcd user and its password. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// PEM files for TLS: a private CA to trust instead of the public roots, and a client
/// certificate with its key for etcd's `--client-cert-auth`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca_cert: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

impl TlsFiles {
    pub fn is_empty(&self) -> bool {
        self == &TlsFiles::default()
    }
}

impl Settings {
    /// Settings that arrive already resolved, as the component's typed `options` record:
    /// checked by the same rules as [`resolve`]. Errors name the record's fields.
    pub fn checked(
        endpoints: &[String],
        prefix: &str,
        page_size: u32,
        dial_timeout_ms: u32,
        command_timeout_ms: u32,
        values: ValueRules,
        credentials: Option<Credentials>,
    ) -> Result<Settings, Error> {
        for (field, value) in [
            ("page-size", page_size),
            ("connect-timeout-ms", dial_timeout_ms),
            ("request-timeout-ms", command_timeout_ms),
        ] {
            if value == 0 {
                return Err(Error::InvalidOptions(format!("options.{field} must be at least 1")));
            }
        }
        if endpoints.is_empty() {
            return Err(Error::InvalidOptions("options.endpoints is empty".to_string()));
        }
        if credentials.as_ref().is_some_and(|c| c.user.is_empty()) {
            return Err(Error::InvalidOptions("options.credentials.user is empty".to_string()));
        }
        let endpoints = endpoints
            .iter()
            .map(|e| {
                Endpoint::parse(e)
                    .map(|p| p.url())
                    .map_err(|why| Error::InvalidOptions(format!("options.endpoints: {}: {why}", quoted_endpoints(e))))
            })
            .collect::<Result<_, _>>()?;
        Ok(Settings {
            endpoints,
            prefix: Prefix::new(prefix),
            page_size,
            dial_timeout_ms,
            command_timeout_ms,
            values,
            credentials,
            tls: TlsFiles::default(),
            transport: Transport::default(),
            transport_source: None,
            limits: SandboxLimits::default(),
            cache: CacheSettings::default(),
        })
    }
}

/// An etcd.ini file's path and text; reading it is the shell's job ([`load_ini`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniFile {
    pub path: String,
    pub text: String,
}

/// One setting's raw text and where it came from, for error messages.
struct Sourced {
    value: String,
    source: String,
    /// Whether it came from etcd.ini, whose relative paths are taken from its directory.
    from_ini: bool,
}

/// Looks settings up in precedence order: flag, environment variable, etcd.ini key, each
/// as the setting's row in [`SETTINGS`] names them.
struct Sources<'a> {
    flags: &'a Flags,
    env: &'a dyn Fn(&str) -> Option<String>,
    ini: Option<&'a ClassicIni>,
}

impl Sources<'_> {
    fn get(&self, setting: &Setting) -> Option<Sourced> {
        self.given(setting).or_else(|| {
            let key = setting.ini?;
            self.ini?.get(key.section, key.key)
        })
    }

    /// From the flag or the environment only.
    fn given(&self, setting: &Setting) -> Option<Sourced> {
        debug_assert!(setting.is_declared(), "{setting:?} is not in SETTINGS");
        if let Some(value) = self.flags.get(setting) {
            return Some(Sourced {
                value: value.to_string(),
                source: setting.flag_name(),
                from_ini: false,
            });
        }
        let var = setting.env?;
        (self.env)(var).map(|value| Sourced {
            value,
            source: format!("environment variable {var}"),
            from_ini: false,
        })
    }

    fn number(&self, setting: &Setting, default: u32) -> Result<u32, Error> {
        match self.get(setting) {
            None => Ok(default),
            Some(s) => match s.value.trim().parse::<u32>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(invalid(&s, "expected a whole number, at least 1")),
            },
        }
    }

    fn duration(&self, setting: &Setting, default: u32) -> Result<u32, Error> {
        match self.get(setting) {
            None => Ok(default),
            Some(s) => parse_duration_ms(&s.value).map_err(|e| invalid(&s, &e)),
        }
    }

    /// A switch, off unless set.
    fn switch(&self, setting: &Setting) -> Result<bool, Error> {
        match self.get(setting) {
            None => Ok(false),
            Some(s) => parse_bool(&s.value).ok_or_else(|| invalid(&s, "expected true or false")),
        }
    }

    /// A file path; relative paths in etcd.ini are taken from the file's own directory, so
    /// the file works wherever Ansible runs from.
    fn path(&self, setting: &Setting) -> Option<PathBuf> {
        let s = self.get(setting)?;
        let path = PathBuf::from(s.value.trim());
        match self.ini.and_then(|i| Path::new(&i.path).parent()) {
            Some(dir) if s.from_ini && path.is_relative() && !path.starts_with("~") => Some(dir.join(path)),
            _ => Some(path),
        }
    }
}

/// Resolves every setting. `env` looks up an environment variable. The one file read here
/// is `--password-file`, when given.
pub fn resolve(flags: &Flags, env: &dyn Fn(&str) -> Option<String>, ini: Option<&IniFile>) -> Result<Settings, Error> {
    let ini = ini.map(ClassicIni::parse).transpose()?;
    let sources = Sources {
        flags,
        env,
        ini: ini.as_ref(),
    };

    // etcd.ini's `endpoints`, or the classic `host`, `port` and `secure`.
    let endpoints = match sources.given(&ENDPOINTS) {
        Some(s) => s,
        None => match ini.as_ref().map(ClassicIni::endpoints).transpose()?.flatten() {
            Some(s) => s,
            None => Sourced {
                value: DEFAULT_ENDPOINT.to_string(),
                source: "the default".to_string(),
                from_ini: false,
            },
        },
    };
    let endpoints = parse_endpoint_list(&endpoints.value).map_err(|e| {
        Error::InvalidOptions(format!(
            "invalid value {} from {}: {e}",
            quoted_endpoints(&endpoints.value),
            endpoints.source
        ))
    })?;

    let prefix = sources
        .get(&PREFIX)
        .map_or_else(|| DEFAULT_PREFIX.to_string(), |s| s.value);

    let tls = TlsFiles {
        ca_cert: sources.path(&CACERT),
        client_cert: sources.path(&CERT),
        client_key: sources.path(&KEY),
    };
    if tls.client_cert.is_some() != tls.client_key.is_some() {
        return Err(Error::InvalidOptions(
            "a client certificate and its key go together: set both --cert and --key (ETCDCTL_CERT and \
             ETCDCTL_KEY, or client_cert and client_key in etcd.ini)"
                .to_string(),
        ));
    }

    let (transport, transport_source) = transport(&sources)?;
    Ok(Settings {
        endpoints,
        prefix: Prefix::new(&prefix),
        page_size: sources.number(&PAGE_SIZE, DEFAULT_PAGE_SIZE)?,
        dial_timeout_ms: sources.duration(&DIAL_TIMEOUT, DEFAULT_DIAL_TIMEOUT_MS)?,
        command_timeout_ms: sources.duration(&COMMAND_TIMEOUT, DEFAULT_COMMAND_TIMEOUT_MS)?,
        values: ValueRules {
            trust_templates: sources.switch(&TRUST_TEMPLATES)?,
            typed_values: sources.switch(&TYPED_VALUES)?,
            nested_keys: sources.switch(&NESTED_KEYS)?,
        },
        credentials: credentials(&sources)?,
        tls,
        transport,
        transport_source,
        limits: limits(&sources)?,
        cache: cache_settings(&sources)?,
    })
}

fn limits(sources: &Sources) -> Result<SandboxLimits, Error> {
    let memory_mib = sources.number(&MEMORY_LIMIT, DEFAULT_MEMORY_LIMIT_MIB)?;
    if memory_mib > MAX_MEMORY_LIMIT_MIB {
        let s = sources.get(&MEMORY_LIMIT);
        let s = s.expect("only a given limit is above the maximum");
        return Err(invalid(&s, "expected MiB, at most 4096 (wasm32 addresses 4 GiB)"));
    }
    Ok(SandboxLimits {
        memory_mib,
        time_limit_ms: sources.duration(&TIME_LIMIT, DEFAULT_TIME_LIMIT_MS)?,
    })
}

/// The transport, and where it was set (none: the default).
fn transport(sources: &Sources) -> Result<(Transport, Option<String>), Error> {
    match sources.get(&TRANSPORT) {
        None => Ok((Transport::default(), None)),
        Some(s) => match s.value.trim().to_ascii_lowercase().as_str() {
            "grpc" => Ok((Transport::Grpc, Some(s.source))),
            "gateway" => Ok((Transport::Gateway, Some(s.source))),
            _ => Err(invalid(&s, "expected grpc or gateway")),
        },
    }
}

/// The cache's settings; `~` in its path is the user's home (`HOME`), as the classic
/// script expanded it.
fn cache_settings(sources: &Sources) -> Result<CacheSettings, Error> {
    let enabled = sources.switch(&CACHE)?;
    let dir = sources
        .path(&CACHE_PATH)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CACHE_PATH));
    let dir = match (dir.strip_prefix("~"), (sources.env)("HOME")) {
        (Ok(rest), Some(home)) => Path::new(&home).join(rest),
        (Ok(_), None) if enabled => {
            return Err(Error::InvalidOptions(format!(
                "the cache path {} starts with ~ but HOME is not set",
                dir.display()
            )));
        }
        _ => dir,
    };
    let max_age_s = match sources.get(&CACHE_MAX_AGE) {
        None => 0,
        Some(s) => s
            .value
            .trim()
            .parse::<u64>()
            .map_err(|_| invalid(&s, "expected whole seconds, 0 or more"))?,
    };
    Ok(CacheSettings {
        enabled,
        dir,
        max_age_s,
        refresh: sources.switch(&REFRESH_CACHE)?,
        stale_fallback: sources.switch(&STALE_CACHE_FALLBACK)?,
    })
}

/// The etcd user and password. `ETCDCTL_USER` may carry both as `name:password`, as
/// etcdctl reads it; `--user` takes the name only. No message here quotes a password.
fn credentials(sources: &Sources) -> Result<Option<Credentials>, Error> {
    // `--password-file` names a file; the variable and etcd.ini hold the password itself.
    let password = sources.given(&PASSWORD_FILE).or_else(|| sources.get(&PASSWORD));
    let (user_var, password_var) = (USER.var(), PASSWORD.var());
    let Some(user) = sources.get(&USER) else {
        return match password {
            Some(p) => Err(Error::InvalidOptions(format!(
                "a password is set (from {}) but no etcd user: set --user, {user_var} or username in etcd.ini",
                p.source
            ))),
            None => Ok(None),
        };
    };
    let (name, inline_password) = match user.value.split_once(':') {
        Some(_) if sources.flags.get(&USER).is_some() => {
            return Err(Error::InvalidOptions(format!(
                "--user takes the user name only (a password on the command line shows in ps): give the \
                 password with --password-file or {password_var}"
            )));
        }
        Some((name, password)) => (name.to_string(), Some(password.to_string())),
        None => (user.value.clone(), None),
    };
    if name.trim().is_empty() {
        return Err(Error::InvalidOptions(format!(
            "the etcd user name from {} is empty",
            user.source
        )));
    }
    let password = match (inline_password, sources.flags.get(&PASSWORD_FILE), password) {
        (Some(inline), _, _) => inline,
        (None, Some(path), _) => read_password_file(path)?,
        (None, None, Some(p)) => p.value,
        (None, None, None) => {
            return Err(Error::InvalidOptions(format!(
                "no password for etcd user {name:?} (from {}): set {password_var}, --password-file or password in \
                 etcd.ini",
                user.source
            )));
        }
    };
    Ok(Some(Credentials { user: name, password }))
}

/// The first line of a password file, without its line ending. Only its first
/// [`MAX_PASSWORD_FILE_BYTES`] are read, and only from a regular file (see [`read_file`]).
fn read_password_file(path: &str) -> Result<String, Error> {
    let refused =
        |why: String| Error::InvalidOptions(format!("cannot read the password file {path} (--password-file): {why}"));
    let bytes = read_file(Path::new(path), MAX_PASSWORD_FILE_BYTES).map_err(|e| refused(e.to_string()))?;
    let line = match bytes.iter().position(|&b| b == b'\n') {
        Some(end) => &bytes[..end],
        None if bytes.len() as u64 == MAX_PASSWORD_FILE_BYTES => {
            return Err(refused(format!(
                "its first line is longer than {} KiB",
                MAX_PASSWORD_FILE_BYTES >> 10
            )));
        }
        None => &bytes[..],
    };
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8(line.to_vec()).map_err(|_| refused("its first line is not UTF-8 text".to_string()))
}

/// Reads at most `max` bytes of the file at `path`, which must be a regular file: a FIFO
/// would block (before any time limit applies), a device such as /dev/zero never ends, and
/// neither is a settings file. The type is looked at before the file is opened (opening a
/// FIFO blocks too), and again on the open file.
pub fn read_file(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let not_regular = || std::io::Error::other("not a regular file (a FIFO, device or directory is refused)");
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let file = std::fs::File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// A warning when a password file is open to group or others, as ssh refuses a private
/// key that is (`chmod 600` it).
#[cfg(unix)]
pub fn password_file_warning(path: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "the password file {path} (--password-file) is accessible to group or others (mode {mode:04o}): \
             chmod 600 it"
        )
    })
}

/// A boolean as Python's configparser reads one (`getboolean`), for every source alike.
fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

fn invalid(setting: &Sourced, problem: &str) -> Error {
    Error::InvalidOptions(format!(
        "invalid value {:?} from {}: {problem}",
        setting.value, setting.source
    ))
}

/// An etcd endpoint split into the parts an HTTP request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `http` or `https`.
    pub scheme: String,
    /// `host:port`, as it goes into the request.
    pub authority: String,
}

impl Endpoint {
    /// Parses a normalised endpoint such as `http://127.0.0.1:2379`, or one as etcdctl
    /// accepts it (`127.0.0.1:2379` means http). Paths, queries and user info are refused:
    /// the gateway lives at the root.
    pub fn parse(raw: &str) -> Result<Endpoint, String> {
        let raw = raw.trim();
        let (scheme, rest) = match raw.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => ("http".to_string(), raw),
        };
        if scheme != "http" && scheme != "https" {
            return Err(format!("scheme {scheme:?} is not http or https"));
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() {
            return Err("no host".to_string());
        }
        if raw.contains('@') {
            return Err(USER_INFO_REFUSED.to_string());
        }
        if let Some(bad) = authority
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '#'))
        {
            return Err(format!("unexpected {bad:?}: give scheme://host:port only"));
        }
        check_port(authority)?;
        Ok(Endpoint {
            scheme,
            authority: authority.to_string(),
        })
    }

    /// The canonical text, `scheme://authority`.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }
}

/// The port of `host:port` or `[v6]:port`, when there is one, is a port number: 1 to
/// 65535 (0 and 99999 are a mistake in the setting, not a connection to refuse).
fn check_port(authority: &str) -> Result<(), String> {
    let port = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((_, "")) => None,
            Some((_, rest)) => Some(rest.strip_prefix(':').ok_or("unexpected text after the IPv6 address")?),
            None => return Err("an IPv6 address without its closing ]".to_string()),
        },
        None => authority.rsplit_once(':').map(|(_, port)| port),
    };
    match port.map(|p| (p, p.parse::<u16>())) {
        None | Some((_, Ok(1..))) => Ok(()),
        Some((port, _)) => Err(format!("port {port:?} is not a port number (1 to 65535)")),
    }
}

/// Why an endpoint with user info is refused; the endpoint is not quoted, as what precedes
/// its @ may be a password.
const USER_INFO_REFUSED: &str = "an endpoint has user info (user:password@), which is not taken there: give the \
                                 user with --user, ETCDCTL_USER or username in etcd.ini, and its password apart";

/// Endpoint text for a message: not quoted when it holds user info, which may be a
/// password (`http://user:password@host`).
fn quoted_endpoints(raw: &str) -> String {
    match raw.contains('@') {
        true => "(not shown: it holds user info)".to_string(),
        false => format!("{raw:?}"),
    }
}

/// A comma-separated list of endpoints, as etcdctl takes them, normalised to URLs.
fn parse_endpoint_list(raw: &str) -> Result<Vec<String>, String> {
    // Before the split: a password may hold a comma too.
    if raw.contains('@') {
        return Err(USER_INFO_REFUSED.to_string());
    }
    let endpoints: Vec<String> = raw
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            Endpoint::parse(s)
                .map(|e| e.url())
                .map_err(|e| format!("endpoint {}: {e}", quoted_endpoints(s.trim())))
        })
        .collect::<Result<_, _>>()?;
    if endpoints.is_empty() {
        return Err("no endpoint given".to_string());
    }
    Ok(endpoints)
}

/// A duration as etcdctl writes them (`500ms`, `2s`, `1.5s`, `1m`); a bare number is seconds.
pub fn parse_duration_ms(raw: &str) -> Result<u32, String> {
    let text = raw.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "ms" => 1.0,
        "" | "s" => 1_000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return Err(format!("unknown unit {unit:?}: use ms, s, m or h")),
    };
    let number: f64 = number
        .parse()
        .map_err(|_| "expected a duration such as 500ms, 5s or 1m".to_string())?;
    let ms = (number * scale).round();
    if !(1.0..=f64::from(u32::MAX)).contains(&ms) {
        return Err("must be between 1ms and about 49 days".to_string());
    }
    Ok(ms as u32)
}

/// Where etcd.ini is: `ETCD_INI_PATH` if set (then it must exist), else `etcd.ini` beside
/// the executable, as the classic script looked for it (then it may be absent).
pub fn ini_location(env: &dyn Fn(&str) -> Option<String>, executable: Option<&Path>) -> Option<(PathBuf, bool)> {
    match env(INI_PATH.var()) {
        Some(path) if !path.is_empty() => Some((PathBuf::from(path), true)),
        _ => executable.map(|exe| (exe.with_file_name("etcd.ini"), false)),
    }
}

/// Reads etcd.ini from [`ini_location`]. A file that was named explicitly must exist.
pub fn load_ini(env: &dyn Fn(&str) -> Option<String>, executable: Option<&Path>) -> Result<Option<IniFile>, Error> {
    let Some((path, explicit)) = ini_location(env, executable) else {
        return Ok(None);
    };
    let named_by = match explicit {
        true => format!("named by {}", INI_PATH.var()),
        false => "beside the executable".to_string(),
    };
    let refused = |why: String| {
        Error::InvalidOptions(format!(
            "cannot read etcd.ini at {} ({named_by}): {why}",
            path.display()
        ))
    };
    // One byte more than allowed tells a file at the limit from a longer one.
    let bytes = match read_file(&path, MAX_INI_BYTES + 1) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(None),
        Err(e) => return Err(refused(e.to_string())),
    };
    if bytes.len() as u64 > MAX_INI_BYTES {
        return Err(refused(format!("larger than {} MiB", MAX_INI_BYTES >> 20)));
    }
    let text = String::from_utf8(bytes).map_err(|_| refused("not UTF-8 text".to_string()))?;
    Ok(Some(IniFile {
        path: path.display().to_string(),
        text,
    }))
}

/// The `[etcd]` section of an etcd.ini, read as Python's configparser reads it (keys are
/// case-insensitive; `=` or `:`; `#` and `;` comments). The classic script's keys keep
/// their meaning; every other setting has a key of its own (see the README's table).
struct ClassicIni {
    path: String,
    /// Values by lower-case section and key.
    sections: std::collections::HashMap<String, std::collections::HashMap<String, String>>,
}

impl ClassicIni {
    fn parse(file: &IniFile) -> Result<ClassicIni, Error> {
        if let Some(duplicate) = find_duplicate(&file.text) {
            return Err(Error::InvalidOptions(format!(
                "etcd.ini at {}: {duplicate} (Python's configparser refuses such a file too: keep one)",
                file.path
            )));
        }
        let mut ini = configparser::ini::Ini::new();
        let sections = ini
            .read(file.text.clone())
            .map_err(|e| Error::InvalidOptions(format!("cannot parse etcd.ini at {}: {e}", file.path)))?;
        let sections = sections
            .into_iter()
            .map(|(name, keys)| {
                let keys = keys
                    .into_iter()
                    .filter_map(|(key, value)| Some((key, value?)))
                    .collect();
                (name, keys)
            })
            .collect();
        Ok(ClassicIni {
            path: file.path.clone(),
            sections,
        })
    }

    /// A key's value. An empty value counts as unset, except for `[etcd] prefix`, where it
    /// means the whole keyspace.
    fn get(&self, section: &str, name: &str) -> Option<Sourced> {
        let value = self.sections.get(section)?.get(name);
        let whole_keyspace = (section, name) == ("etcd", "prefix");
        let value = value.filter(|v| whole_keyspace || !v.trim().is_empty())?;
        Some(Sourced {
            value: value.clone(),
            source: format!("etcd.ini at {} ([{section}] {name})", self.path),
            from_ini: true,
        })
    }

    /// `endpoints`, or the classic `host`, `port` and `secure` (one endpoint).
    fn endpoints(&self) -> Result<Option<Sourced>, Error> {
        let (host, port) = (self.get("etcd", "host"), self.get("etcd", "port"));
        let list = ENDPOINTS.ini.and_then(|key| self.get(key.section, key.key));
        if let Some(list) = list {
            if host.is_some() || port.is_some() {
                return Err(Error::InvalidOptions(format!(
                    "etcd.ini at {} sets both endpoints and host/port: keep one",
                    self.path
                )));
            }
            return Ok(Some(list));
        }
        if host.is_none() && port.is_none() {
            return Ok(None);
        }
        let secure = match self.get("etcd", "secure") {
            None => false,
            Some(s) => parse_bool(&s.value).ok_or_else(|| invalid(&s, "expected true or false"))?,
        };
        let port = match port {
            None => 2379,
            Some(p) => match p.value.trim().parse::<u16>() {
                Ok(port @ 1..) => port,
                _ => return Err(invalid(&p, "expected a port number, 1 to 65535")),
            },
        };
        let host = host.map_or_else(|| "127.0.0.1".to_string(), |h| h.value.trim().to_string());
        let scheme = if secure { "https" } else { "http" };
        Ok(Some(Sourced {
            value: format!("{scheme}://{host}:{port}"),
            source: format!("etcd.ini at {} ([etcd] host, port)", self.path),
            from_ini: true,
        }))
    }
}

/// The first section or key given twice in an ini text, with both line numbers. Python's
/// configparser (strict, as the classic script ran it) refuses such a file; the crate we
/// parse with would keep the last value silently. Names compare as the parser reads them,
/// ignoring case; keys before any section belong to its `default` section. An indented
/// line after a key continues that key's value, as in Python, and is no key of its own.
fn find_duplicate(text: &str) -> Option<String> {
    use std::collections::HashMap;
    let mut sections: HashMap<String, usize> = HashMap::new();
    let mut keys: HashMap<(String, String), usize> = HashMap::new();
    let mut section = "default".to_string();
    let mut after_key = false;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        if after_key && line.starts_with(char::is_whitespace) {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            section = name.trim().to_lowercase();
            after_key = false;
            if let Some(first) = sections.insert(section.clone(), number) {
                return Some(format!(
                    "section [{}] appears twice, on lines {first} and {number}",
                    crate::error::printable(name.trim())
                ));
            }
            continue;
        }
        let key = trimmed.split(['=', ':']).next().unwrap_or_default().trim();
        after_key = true;
        if let Some(first) = keys.insert((section.clone(), key.to_lowercase()), number) {
            return Some(format!(
                "key {key:?} in [{}] is set twice, on lines {first} and {number}",
                crate::error::printable(&section)
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k: &str| map.get(k).cloned()
    }

    fn ini(text: &str) -> IniFile {
        IniFile {
            path: "/etc/etcd.ini".into(),
            text: text.into(),
        }
    }

    #[test]
    fn defaults_without_any_source() {
        let s = resolve(&Flags::default(), &env_of(&[]), None).unwrap();
        assert_eq!(s.endpoints, ["http://127.0.0.1:2379"]);
        assert_eq!(s.prefix, Prefix::new("/ansible"));
        assert_eq!(s.page_size, DEFAULT_PAGE_SIZE);
        assert_eq!(s.dial_timeout_ms, 2000);
    }

    #[test]
    fn each_documented_default_resolves_as_nothing_given_does() {
        let home = env_of(&[("HOME", "/home/op")]);
        let nothing = resolve(&Flags::default(), &home, None).unwrap();
        for setting in SETTINGS.iter().filter(|s| s.flag.is_some()) {
            let Fallback::Value(value) = setting.default else {
                continue;
            };
            let mut flags = Flags::default();
            flags.set(setting, value.to_string());
            // Where the transport came from is kept (component hosts refuse a grpc someone
            // set); the value is what must match.
            let given = resolve(&flags, &home, None).map(|s| Settings {
                transport_source: None,
                ..s
            });
            assert_eq!(given.as_ref(), Ok(&nothing), "{} {value}", setting.flag_name());
        }
    }

    #[test]
    fn flag_beats_environment_beats_ini() {
        let file = ini("[etcd]\nprefix = /from-ini\nhost = ini.example\nport = 4001\n");
        let env = env_of(&[
            (PREFIX.var(), "/from-env"),
            (ENDPOINTS.var(), "http://env.example:2379"),
        ]);
        let flags = Flags {
            prefix: Some("/from-flag".into()),
            ..Flags::default()
        };
        let s = resolve(&flags, &env, Some(&file)).unwrap();
        assert_eq!(s.prefix.as_str(), "/from-flag");
        assert_eq!(s.endpoints, ["http://env.example:2379"]);

        let s = resolve(&Flags::default(), &env_of(&[]), Some(&file)).unwrap();
        assert_eq!(s.prefix.as_str(), "/from-ini");
        assert_eq!(s.endpoints, ["http://ini.example:4001"]);
    }

    #[test]
    fn classic_ini_reads_as_configparser_does() {
        let file = ini(
            "# settings\n[etcd]\n; comment\nPrefix: /cmdb\nhost = 10.1.2.3\nsecure = True\n\n[cache]\nenabled = true\n",
        );
        let s = resolve(&Flags::default(), &env_of(&[("HOME", "/root")]), Some(&file)).unwrap();
        assert_eq!(s.prefix.as_str(), "/cmdb");
        assert_eq!(s.endpoints, ["https://10.1.2.3:2379"]);
    }

    #[test]
    fn bad_ini_port_names_the_file_and_key() {
        let err = resolve(&Flags::default(), &env_of(&[]), Some(&ini("[etcd]\nport = two\n"))).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("/etc/etcd.ini") && text.contains("port") && text.contains("\"two\""),
            "{text}"
        );
    }

    #[test]
    fn endpoints_are_split_and_normalised_like_etcdctl() {
        let env = env_of(&[(ENDPOINTS.var(), "127.0.0.1:2379, https://b.example:2379/ ,")]);
        let s = resolve(&Flags::default(), &env, None).unwrap();
        assert_eq!(s.endpoints, ["http://127.0.0.1:2379", "https://b.example:2379"]);
    }

    #[test]
    fn bad_endpoints_name_their_source() {
        for raw in ["ftp://x:1", "http://a:1/v3", "", " , ", "http://user@a:1"] {
            let flags = Flags {
                endpoints: Some(raw.into()),
                ..Flags::default()
            };
            let err = resolve(&flags, &env_of(&[]), None).unwrap_err();
            assert!(err.to_string().contains("--endpoints"), "{raw:?}: {err}");
        }
    }

    #[test]
    fn page_size_and_timeouts_are_validated() {
        let env = env_of(&[(PAGE_SIZE.var(), "0")]);
        assert!(
            resolve(&Flags::default(), &env, None)
                .unwrap_err()
                .to_string()
                .contains(PAGE_SIZE.var())
        );
        let flags = Flags {
            dial_timeout: Some("soon".into()),
            ..Flags::default()
        };
        assert!(
            resolve(&flags, &env_of(&[]), None)
                .unwrap_err()
                .to_string()
                .contains("--dial-timeout")
        );
        let env = env_of(&[
            (DIAL_TIMEOUT.var(), "1.5s"),
            (COMMAND_TIMEOUT.var(), "250ms"),
            (PAGE_SIZE.var(), "7"),
        ]);
        let s = resolve(&Flags::default(), &env, None).unwrap();
        assert_eq!((s.dial_timeout_ms, s.command_timeout_ms, s.page_size), (1500, 250, 7));
    }

    #[test]
    fn sandbox_limits_come_from_any_source_within_their_range() {
        let s = resolve(&Flags::default(), &env_of(&[]), None).unwrap();
        assert_eq!(s.limits, SandboxLimits::default());
        assert_eq!((s.limits.memory_mib, s.limits.time_limit_ms), (1_024, 120_000));
        let ini = ini("[etcd]\nmemory_limit = 64\ntime_limit = 2m\n");
        let s = resolve(&Flags::default(), &env_of(&[(TIME_LIMIT.var(), "30s")]), Some(&ini)).unwrap();
        assert_eq!((s.limits.memory_mib, s.limits.time_limit_ms), (64, 30_000));
        let flags = Flags {
            memory_limit: Some("4096".into()),
            ..Flags::default()
        };
        assert_eq!(
            resolve(&flags, &env_of(&[]), Some(&ini)).unwrap().limits.memory_mib,
            4_096
        );
        for (value, problem) in [("4097", "at most 4096"), ("0", "at least 1"), ("1g", "whole number")] {
            let flags = Flags {
                memory_limit: Some(value.into()),
                ..Flags::default()
            };
            let error = resolve(&flags, &env_of(&[]), None).unwrap_err().to_string();
            assert!(
                error.contains("--memory-limit") && error.contains(problem),
                "{value}: {error}"
            );
        }
        let error = resolve(&Flags::default(), &env_of(&[(TIME_LIMIT.var(), "0")]), None).unwrap_err();
        assert!(error.to_string().contains(TIME_LIMIT.var()), "{error}");
    }

    #[test]
    fn value_switches_follow_the_same_precedence() {
        let s = resolve(&Flags::default(), &env_of(&[]), None).unwrap();
        assert_eq!(
            s.values,
            ValueRules::default(),
            "strings are unsafe, untyped, flat by default"
        );
        let file = ini("[etcd]\ntrust_templates = yes\ntyped_values = on\nnested_keys = 1\n");
        let s = resolve(&Flags::default(), &env_of(&[]), Some(&file)).unwrap();
        assert_eq!(
            s.values,
            ValueRules {
                trust_templates: true,
                typed_values: true,
                nested_keys: true
            }
        );
        let env = env_of(&[(TRUST_TEMPLATES.var(), "false")]);
        assert!(
            !resolve(&Flags::default(), &env, Some(&file))
                .unwrap()
                .values
                .trust_templates
        );
        let flags = Flags {
            trust_templates: Some("true".into()),
            ..Flags::default()
        };
        assert!(resolve(&flags, &env, Some(&file)).unwrap().values.trust_templates);
        let err = resolve(&Flags::default(), &env_of(&[(TYPED_VALUES.var(), "maybe")]), None).unwrap_err();
        assert!(err.to_string().contains(TYPED_VALUES.var()), "{err}");
    }

    #[test]
    fn typed_options_are_checked_like_resolved_ones() {
        let checked = |endpoints: &[&str], page_size, timeout| {
            let endpoints: Vec<String> = endpoints.iter().map(|e| e.to_string()).collect();
            Settings::checked(&endpoints, "/a/", page_size, 1, timeout, ValueRules::default(), None)
        };
        let ok = checked(&["127.0.0.1:2379"], 5, 1).unwrap();
        assert_eq!(ok.endpoints, ["http://127.0.0.1:2379"]);
        assert_eq!(ok.prefix.as_str(), "/a");
        let err = |r: Result<Settings, Error>| r.unwrap_err().to_string();
        assert!(err(checked(&[], 5, 1)).contains("options.endpoints"));
        assert!(err(checked(&["ftp://x"], 5, 1)).contains("ftp"));
        assert!(err(checked(&["x:1"], 0, 1)).contains("options.page-size"));
        assert!(err(checked(&["x:1"], 1, 0)).contains("options.request-timeout-ms"));
    }

    #[test]
    fn durations_parse_etcdctl_style() {
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("2s"), Ok(2000));
        assert_eq!(parse_duration_ms("3"), Ok(3000));
        assert_eq!(parse_duration_ms("1m"), Ok(60_000));
        assert!(parse_duration_ms("0s").is_err());
        assert!(parse_duration_ms("5 parsecs").is_err());
        assert!(parse_duration_ms("").is_err());
    }

    #[test]
    fn ini_location_prefers_the_environment() {
        let exe = Path::new("/opt/inv/etcd-inventory");
        assert_eq!(
            ini_location(&env_of(&[]), Some(exe)),
            Some((PathBuf::from("/opt/inv/etcd.ini"), false))
        );
        assert_eq!(
            ini_location(&env_of(&[(INI_PATH.var(), "/etc/x.ini")]), Some(exe)),
            Some((PathBuf::from("/etc/x.ini"), true))
        );
    }

    #[test]
    fn a_named_ini_file_must_exist_a_default_one_need_not() {
        let env = env_of(&[(INI_PATH.var(), "/nonexistent/etcd.ini")]);
        assert!(
            load_ini(&env, None)
                .unwrap_err()
                .to_string()
                .contains("/nonexistent/etcd.ini")
        );
        assert_eq!(load_ini(&env_of(&[]), Some(Path::new("/nonexistent/bin"))), Ok(None));
    }

    #[test]
    fn tls_files_come_from_flags_env_or_ini_relative_to_the_ini() {
        let file = ini("[etcd]\nca_cert = certs/ca.pem\nclient_cert = /abs/client.pem\nclient_key = client.key\n");
        let s = resolve(&Flags::default(), &env_of(&[]), Some(&file)).unwrap();
        assert_eq!(s.tls.ca_cert, Some(PathBuf::from("/etc/certs/ca.pem")));
        assert_eq!(s.tls.client_cert, Some(PathBuf::from("/abs/client.pem")));
        assert_eq!(s.tls.client_key, Some(PathBuf::from("/etc/client.key")));

        let env = env_of(&[(CACERT.var(), "rel/ca.pem")]);
        let s = resolve(&Flags::default(), &env, Some(&file)).unwrap();
        assert_eq!(
            s.tls.ca_cert,
            Some(PathBuf::from("rel/ca.pem")),
            "only etcd.ini paths are taken from its directory"
        );
        assert!(resolve(&Flags::default(), &env_of(&[]), None).unwrap().tls.is_empty());
    }

    #[test]
    fn a_client_certificate_needs_its_key() {
        let env = env_of(&[(CERT.var(), "/c.pem")]);
        let err = resolve(&Flags::default(), &env, None).unwrap_err().to_string();
        assert!(err.contains("--cert and --key"), "{err}");
    }

    #[test]
    fn user_and_password_as_etcdctl_takes_them() {
        let s = resolve(&Flags::default(), &env_of(&[(USER.var(), "alice:s3:cret")]), None).unwrap();
        assert_eq!(
            s.credentials,
            Some(Credentials {
                user: "alice".into(),
                password: "s3:cret".into()
            })
        );
        let env = env_of(&[(USER.var(), "bob"), (PASSWORD.var(), "pw")]);
        let s = resolve(&Flags::default(), &env, None).unwrap();
        assert_eq!(s.credentials.unwrap().password, "pw");
        let file = ini("[etcd]\nusername = carol\npassword = from-ini\n");
        let s = resolve(&Flags::default(), &env_of(&[]), Some(&file)).unwrap();
        assert_eq!(
            s.credentials,
            Some(Credentials {
                user: "carol".into(),
                password: "from-ini".into()
            })
        );
        assert_eq!(
            resolve(&Flags::default(), &env_of(&[]), None).unwrap().credentials,
            None
        );
    }

    #[test]
    fn a_password_file_gives_its_first_line() {
        let path = std::env::temp_dir().join(format!("etcd-inventory-pw-{}", std::process::id()));
        std::fs::write(&path, "from-file\nignored\n").unwrap();
        let flags = Flags {
            user: Some("dave".into()),
            password_file: Some(path.display().to_string()),
            ..Flags::default()
        };
        let s = resolve(&flags, &env_of(&[(PASSWORD.var(), "from-env")]), None);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(s.unwrap().credentials.unwrap().password, "from-file");

        let flags = Flags {
            user: Some("dave".into()),
            password_file: Some("/nonexistent/pw".into()),
            ..Flags::default()
        };
        let err = resolve(&flags, &env_of(&[]), None).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/pw"), "{err}");
    }

    #[test]
    fn credential_mistakes_are_clear_and_never_quote_a_password() {
        let flags = Flags {
            user: Some("erin:hunter2".into()),
            ..Flags::default()
        };
        let cases = [
            resolve(&flags, &env_of(&[]), None),
            resolve(&Flags::default(), &env_of(&[(USER.var(), "frank")]), None),
            resolve(&Flags::default(), &env_of(&[(PASSWORD.var(), "hunter2")]), None),
            resolve(&Flags::default(), &env_of(&[(USER.var(), ":hunter2")]), None),
        ];
        let expected = [
            "user name only",
            "no password for etcd user \"frank\"",
            "no etcd user",
            "is empty",
        ];
        for (result, needle) in cases.into_iter().zip(expected) {
            let err = result.unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn ports_outside_1_to_65535_are_a_settings_error() {
        for raw in [
            "http://127.0.0.1:0",
            "127.0.0.1:99999",
            "http://[::1]:0",
            "http://a:",
            "http://a:x1",
        ] {
            let flags = Flags {
                endpoints: Some(raw.into()),
                ..Flags::default()
            };
            let err = resolve(&flags, &env_of(&[]), None).unwrap_err().to_string();
            assert!(
                err.contains("--endpoints") && err.contains("not a port number"),
                "{raw}: {err}"
            );
        }
        for raw in ["http://127.0.0.1:1", "https://[::1]:65535", "http://etcd.example"] {
            assert!(Endpoint::parse(raw).is_ok(), "{raw}");
        }
        for port in ["0", "99999"] {
            let file = ini(&format!("[etcd]\nhost = 127.0.0.1\nport = {port}\n"));
            let err = resolve(&Flags::default(), &env_of(&[]), Some(&file))
                .unwrap_err()
                .to_string();
            assert!(err.contains("[etcd] port") && err.contains("1 to 65535"), "{err}");
        }
    }

    #[test]
    fn an_endpoint_with_user_info_is_refused_without_quoting_it() {
        let env = env_of(&[(
            ENDPOINTS.var(),
            "http://127.0.0.1:1,http://alice:s3cr,et@127.0.0.1:2379",
        )]);
        let err = resolve(&Flags::default(), &env, None).unwrap_err().to_string();
        assert!(err.contains(ENDPOINTS.var()) && err.contains("user info"), "{err}");
        assert!(!err.contains("s3cr") && !err.contains("et@"), "{err}");
        let checked = Settings::checked(
            &["http://bob:hunter2@a:1".to_string()],
            "/a",
            1,
            1,
            1,
            ValueRules::default(),
            None,
        );
        let err = checked.unwrap_err().to_string();
        assert!(err.contains("user info") && !err.contains("hunter2"), "{err}");
    }

    #[test]
    fn a_section_or_key_given_twice_names_both_lines() {
        let err = |text: &str| {
            resolve(&Flags::default(), &env_of(&[]), Some(&ini(text)))
                .unwrap_err()
                .to_string()
        };
        let twice = err("[etcd]\nhost = a\n# note\nport = 1\nHOST: b\n");
        assert!(
            twice.contains("/etc/etcd.ini") && twice.contains("key \"HOST\" in [etcd] is set twice, on lines 2 and 5"),
            "{twice}"
        );
        let section = err("[etcd]\nhost = a\n[cache]\nenabled = false\n[Etcd]\nport = 1\n");
        assert!(
            section.contains("section [Etcd] appears twice, on lines 1 and 5"),
            "{section}"
        );
        // The same key in two sections, and a value's continuation line, are no duplicates.
        let file = ini("[etcd]\nprefix = /a\n  prefix = more\n[cache]\nprefix = x\n");
        assert!(resolve(&Flags::default(), &env_of(&[]), Some(&file)).is_ok());
    }

    #[test]
    fn settings_files_are_read_with_a_bound_and_only_when_regular() {
        let dir = std::env::temp_dir().join(format!("etcd-inventory-bounds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let password = |text: &[u8]| {
            let path = dir.join("pw");
            std::fs::write(&path, text).unwrap();
            let flags = Flags {
                user: Some("dave".into()),
                password_file: Some(path.display().to_string()),
                ..Flags::default()
            };
            resolve(&flags, &env_of(&[]), None).map(|s| s.credentials.unwrap().password)
        };
        let mut long_file = b"first\r\n".to_vec();
        long_file.resize(8 << 20, b'x');
        assert_eq!(password(&long_file).unwrap(), "first", "only the first line is read");
        let err = password(&[b'x'; 5000]).unwrap_err().to_string();
        assert!(
            err.contains("--password-file") && err.contains("longer than 4 KiB"),
            "{err}"
        );
        let flags = Flags {
            user: Some("dave".into()),
            password_file: Some(dir.display().to_string()),
            ..Flags::default()
        };
        let err = resolve(&flags, &env_of(&[]), None).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");

        let big = dir.join("big.ini");
        let mut text = b"[etcd]\n".to_vec();
        text.resize((1 << 20) + 1, b'#');
        std::fs::write(&big, text).unwrap();
        let vars = [(INI_PATH.var(), big.to_str().unwrap())];
        let err = load_ini(&env_of(&vars), None).unwrap_err().to_string();
        assert!(
            err.contains(INI_PATH.var()) && err.contains("larger than 1 MiB"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn debug_output_hides_the_password() {
        let s = resolve(&Flags::default(), &env_of(&[(USER.var(), "alice:hunter2")]), None).unwrap();
        let shown = format!("{s:?}");
        assert!(shown.contains("alice") && !shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn ini_takes_an_endpoint_list_and_every_other_setting() {
        let file = ini(
            "[etcd]\nendpoints = https://a:2379,https://b:2379\ndial_timeout = 1s\ncommand_timeout = 3s\npage_size = 50\n",
        );
        let s = resolve(&Flags::default(), &env_of(&[]), Some(&file)).unwrap();
        assert_eq!(s.endpoints, ["https://a:2379", "https://b:2379"]);
        assert_eq!((s.dial_timeout_ms, s.command_timeout_ms, s.page_size), (1000, 3000, 50));
        let both = ini("[etcd]\nendpoints = http://a:1\nhost = b\n");
        let err = resolve(&Flags::default(), &env_of(&[]), Some(&both))
            .unwrap_err()
            .to_string();
        assert!(err.contains("both endpoints and host"), "{err}");
    }

    #[test]
    fn an_empty_ini_prefix_means_the_whole_keyspace() {
        let s = resolve(&Flags::default(), &env_of(&[]), Some(&ini("[etcd]\nprefix =\n"))).unwrap();
        assert_eq!(s.prefix, Prefix::new(""));
    }

    #[test]
    fn the_classic_cache_section_keeps_its_meaning() {
        let home = env_of(&[("HOME", "/home/op")]);
        let s = resolve(&Flags::default(), &home, None).unwrap();
        assert_eq!(
            s.cache,
            CacheSettings {
                dir: PathBuf::from("/home/op/.ansible/tmp"),
                ..CacheSettings::default()
            }
        );
        let file =
            ini("[etcd]\nprefix = /x\n[cache]\nenabled = true\npath = ~/cache\nmax_age = 300\nstale_fallback = yes\n");
        let s = resolve(&Flags::default(), &home, Some(&file)).unwrap();
        assert_eq!(
            s.cache,
            CacheSettings {
                enabled: true,
                dir: PathBuf::from("/home/op/cache"),
                max_age_s: 300,
                refresh: false,
                stale_fallback: true
            }
        );
        let env = env_of(&[("HOME", "/h"), (REFRESH_CACHE.var(), "1"), (CACHE_MAX_AGE.var(), "0")]);
        let s = resolve(&Flags::default(), &env, Some(&file)).unwrap();
        assert!(s.cache.refresh);
        assert_eq!(s.cache.max_age_s, 0);
        let err = resolve(&Flags::default(), &env_of(&[(CACHE_MAX_AGE.var(), "5 min")]), None).unwrap_err();
        assert!(err.to_string().contains(CACHE_MAX_AGE.var()), "{err}");
    }
}
