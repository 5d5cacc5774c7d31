//! Settings, resolved in one place for every shell: flag > environment > etcd.ini > default.
//! The `etcd-inventory` binary and the component's own `wasi:cli/run` both call [`resolve`],
//! so `wasmtime run --env ... --dir ...` behaves as the binary does.

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
pub const DEFAULT_REQUEST_TIMEOUT_MS: u32 = 30_000;

/// Environment variables read, as etcdctl names them where it has one.
pub const ENV_ENDPOINTS: &str = "ETCDCTL_ENDPOINTS";
pub const ENV_DIAL_TIMEOUT: &str = "ETCDCTL_DIAL_TIMEOUT";
pub const ENV_PREFIX: &str = "ETCD_INVENTORY_PREFIX";
pub const ENV_PAGE_SIZE: &str = "ETCD_INVENTORY_PAGE_SIZE";
pub const ENV_REQUEST_TIMEOUT: &str = "ETCD_INVENTORY_REQUEST_TIMEOUT";
pub const ENV_TRUST_TEMPLATES: &str = "ETCD_INVENTORY_TRUST_TEMPLATES";
pub const ENV_TYPED_VALUES: &str = "ETCD_INVENTORY_TYPED_VALUES";
pub const ENV_NESTED_KEYS: &str = "ETCD_INVENTORY_NESTED_KEYS";
/// The classic script's variable naming its etcd.ini.
pub const ENV_INI_PATH: &str = "ETCD_INI_PATH";
/// Every variable [`resolve`] and [`ini_location`] read: a host passes only these on.
pub const ENV_VARS: [&str; 9] = [
    ENV_ENDPOINTS,
    ENV_DIAL_TIMEOUT,
    ENV_PREFIX,
    ENV_PAGE_SIZE,
    ENV_REQUEST_TIMEOUT,
    ENV_TRUST_TEMPLATES,
    ENV_TYPED_VALUES,
    ENV_NESTED_KEYS,
    ENV_INI_PATH,
];

/// Values given as command-line flags, unparsed, so that every source is validated alike.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    pub endpoints: Option<String>,
    pub prefix: Option<String>,
    pub page_size: Option<String>,
    pub dial_timeout: Option<String>,
    pub request_timeout: Option<String>,
    /// The switches are `Some("true")` when given.
    pub trust_templates: Option<String>,
    pub typed_values: Option<String>,
    pub nested_keys: Option<String>,
}

/// Resolved settings: what the component's `options` record carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Normalised base URLs (`http://host:port`), in order.
    pub endpoints: Vec<String>,
    pub prefix: Prefix,
    pub page_size: u32,
    pub dial_timeout_ms: u32,
    pub request_timeout_ms: u32,
    /// How values become variables.
    pub values: ValueRules,
}

impl Settings {
    /// Settings that arrive already resolved, as the component's typed `options` record:
    /// checked by the same rules as [`resolve`]. Errors name the record's fields.
    pub fn checked(
        endpoints: &[String],
        prefix: &str,
        page_size: u32,
        dial_timeout_ms: u32,
        request_timeout_ms: u32,
        values: ValueRules,
    ) -> Result<Settings, Error> {
        for (field, value) in [
            ("page-size", page_size),
            ("connect-timeout-ms", dial_timeout_ms),
            ("request-timeout-ms", request_timeout_ms),
        ] {
            if value == 0 {
                return Err(Error::InvalidOptions(format!("options.{field} must be at least 1")));
            }
        }
        if endpoints.is_empty() {
            return Err(Error::InvalidOptions("options.endpoints is empty".to_string()));
        }
        let endpoints = endpoints
            .iter()
            .map(|e| {
                Endpoint::parse(e)
                    .map(|p| p.url())
                    .map_err(|why| Error::InvalidOptions(format!("options.endpoints: {e:?}: {why}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Settings {
            endpoints,
            prefix: Prefix::new(prefix),
            page_size,
            dial_timeout_ms,
            request_timeout_ms,
            values,
        })
    }
}

/// An etcd.ini file's path and text; reading it is the shell's job ([`load_ini`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniFile {
    pub path: String,
    pub text: String,
}

/// Resolves every setting. `env` looks up an environment variable.
pub fn resolve(flags: &Flags, env: &dyn Fn(&str) -> Option<String>, ini: Option<&IniFile>) -> Result<Settings, Error> {
    let ini = ini.map(ClassicIni::parse).transpose()?;
    let ini = ini.as_ref();

    let (raw, source) = pick(&flags.endpoints, "--endpoints", env, ENV_ENDPOINTS)
        .or_else(|| ini.and_then(|i| i.endpoint.clone()))
        .unwrap_or_else(|| (DEFAULT_ENDPOINT.to_string(), "the default".to_string()));
    let endpoints = parse_endpoint_list(&raw).map_err(|e| invalid(&source, &raw, &e))?;

    let (prefix, _) = pick(&flags.prefix, "--prefix", env, ENV_PREFIX)
        .or_else(|| ini.and_then(|i| i.prefix.clone()))
        .unwrap_or_else(|| (DEFAULT_PREFIX.to_string(), String::new()));

    let page_size = match pick(&flags.page_size, "--page-size", env, ENV_PAGE_SIZE) {
        None => DEFAULT_PAGE_SIZE,
        Some((raw, source)) => match raw.trim().parse::<u32>() {
            Ok(n) if n >= 1 => n,
            _ => {
                return Err(invalid(&source, &raw, "expected a whole number of keys, at least 1"));
            }
        },
    };
    let dial_timeout_ms = duration_setting(
        &flags.dial_timeout,
        "--dial-timeout",
        env,
        ENV_DIAL_TIMEOUT,
        DEFAULT_DIAL_TIMEOUT_MS,
    )?;
    let request_timeout_ms = duration_setting(
        &flags.request_timeout,
        "--request-timeout",
        env,
        ENV_REQUEST_TIMEOUT,
        DEFAULT_REQUEST_TIMEOUT_MS,
    )?;

    let switch = |flag: &Option<String>, flag_name: &str, var: &str, ini_value: Option<&(String, String)>| match pick(
        flag, flag_name, env, var,
    )
    .or_else(|| ini_value.cloned())
    {
        None => Ok(false),
        Some((raw, source)) => parse_bool(&raw).ok_or_else(|| invalid(&source, &raw, "expected true or false")),
    };
    let values = ValueRules {
        trust_templates: switch(
            &flags.trust_templates,
            "--trust-templates",
            ENV_TRUST_TEMPLATES,
            ini.and_then(|i| i.trust_templates.as_ref()),
        )?,
        typed_values: switch(
            &flags.typed_values,
            "--typed-values",
            ENV_TYPED_VALUES,
            ini.and_then(|i| i.typed_values.as_ref()),
        )?,
        nested_keys: switch(
            &flags.nested_keys,
            "--nested-keys",
            ENV_NESTED_KEYS,
            ini.and_then(|i| i.nested_keys.as_ref()),
        )?,
    };

    Ok(Settings {
        endpoints,
        prefix: Prefix::new(&prefix),
        page_size,
        dial_timeout_ms,
        request_timeout_ms,
        values,
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

/// The flag if given, else the environment variable if set: the value and where it came from.
fn pick(
    flag: &Option<String>,
    flag_name: &str,
    env: &dyn Fn(&str) -> Option<String>,
    var: &str,
) -> Option<(String, String)> {
    flag.as_ref()
        .map(|v| (v.clone(), flag_name.to_string()))
        .or_else(|| env(var).map(|v| (v, format!("environment variable {var}"))))
}

fn duration_setting(
    flag: &Option<String>,
    flag_name: &str,
    env: &dyn Fn(&str) -> Option<String>,
    var: &str,
    default: u32,
) -> Result<u32, Error> {
    match pick(flag, flag_name, env, var) {
        None => Ok(default),
        Some((raw, source)) => parse_duration_ms(&raw).map_err(|e| invalid(&source, &raw, &e)),
    }
}

fn invalid(source: &str, raw: &str, problem: &str) -> Error {
    Error::InvalidOptions(format!("invalid value {raw:?} from {source}: {problem}"))
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
        if let Some(bad) = authority
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '#' | '@'))
        {
            return Err(format!("unexpected {bad:?}: give scheme://host:port only"));
        }
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

/// A comma-separated list of endpoints, as etcdctl takes them, normalised to URLs.
fn parse_endpoint_list(raw: &str) -> Result<Vec<String>, String> {
    let endpoints: Vec<String> = raw
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            Endpoint::parse(s)
                .map(|e| e.url())
                .map_err(|e| format!("endpoint {:?}: {e}", s.trim()))
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
    match env(ENV_INI_PATH) {
        Some(path) if !path.is_empty() => Some((PathBuf::from(path), true)),
        _ => executable.map(|exe| (exe.with_file_name("etcd.ini"), false)),
    }
}

/// Reads etcd.ini from [`ini_location`]. A file that was named explicitly must exist.
pub fn load_ini(env: &dyn Fn(&str) -> Option<String>, executable: Option<&Path>) -> Result<Option<IniFile>, Error> {
    let Some((path, explicit)) = ini_location(env, executable) else {
        return Ok(None);
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(IniFile {
            path: path.display().to_string(),
            text,
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(None),
        Err(e) => Err(Error::InvalidOptions(format!(
            "cannot read etcd.ini at {} (named by {ENV_INI_PATH}): {e}",
            path.display()
        ))),
    }
}

/// What the classic etcd.ini can say, read as Python's configparser reads it (keys are
/// case-insensitive; `=` or `:`; `#` and `;` comments).
struct ClassicIni {
    /// Built from `[etcd] host`, `port` and `secure`, with the source for error messages.
    endpoint: Option<(String, String)>,
    prefix: Option<(String, String)>,
    trust_templates: Option<(String, String)>,
    typed_values: Option<(String, String)>,
    nested_keys: Option<(String, String)>,
}

impl ClassicIni {
    fn parse(file: &IniFile) -> Result<ClassicIni, Error> {
        let mut ini = configparser::ini::Ini::new();
        ini.read(file.text.clone())
            .map_err(|e| Error::InvalidOptions(format!("cannot parse etcd.ini at {}: {e}", file.path)))?;
        let source = |key: &str| format!("etcd.ini at {} ([etcd] {key})", file.path);
        let get = |key: &str| ini.get("etcd", key).filter(|v| !v.trim().is_empty());

        let secure = match get("secure") {
            None => false,
            Some(v) => parse_bool(&v).ok_or_else(|| invalid(&source("secure"), &v, "expected true or false"))?,
        };
        let with_source = |key: &str| get(key).map(|v| (v, source(key)));
        let host = get("host");
        let port = get("port");
        let endpoint = if host.is_some() || port.is_some() {
            let host = host.unwrap_or_else(|| "127.0.0.1".to_string());
            let port = match port {
                None => 2379,
                Some(p) => p
                    .trim()
                    .parse::<u16>()
                    .map_err(|_| invalid(&source("port"), &p, "expected a port number"))?,
            };
            let scheme = if secure { "https" } else { "http" };
            Some((format!("{scheme}://{}:{port}", host.trim()), source("host, port")))
        } else {
            None
        };
        Ok(ClassicIni {
            endpoint,
            prefix: ini.get("etcd", "prefix").map(|p| (p, source("prefix"))),
            trust_templates: with_source("trust_templates"),
            typed_values: with_source("typed_values"),
            nested_keys: with_source("nested_keys"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
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
    fn flag_beats_environment_beats_ini() {
        let file = ini("[etcd]\nprefix = /from-ini\nhost = ini.example\nport = 4001\n");
        let env = env_of(&[(ENV_PREFIX, "/from-env"), (ENV_ENDPOINTS, "http://env.example:2379")]);
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
        let s = resolve(&Flags::default(), &env_of(&[]), Some(&file)).unwrap();
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
        let env = env_of(&[(ENV_ENDPOINTS, "127.0.0.1:2379, https://b.example:2379/ ,")]);
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
        let env = env_of(&[(ENV_PAGE_SIZE, "0")]);
        assert!(
            resolve(&Flags::default(), &env, None)
                .unwrap_err()
                .to_string()
                .contains(ENV_PAGE_SIZE)
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
            (ENV_DIAL_TIMEOUT, "1.5s"),
            (ENV_REQUEST_TIMEOUT, "250ms"),
            (ENV_PAGE_SIZE, "7"),
        ]);
        let s = resolve(&Flags::default(), &env, None).unwrap();
        assert_eq!((s.dial_timeout_ms, s.request_timeout_ms, s.page_size), (1500, 250, 7));
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
        let env = env_of(&[(ENV_TRUST_TEMPLATES, "false")]);
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
        let err = resolve(&Flags::default(), &env_of(&[(ENV_TYPED_VALUES, "maybe")]), None).unwrap_err();
        assert!(err.to_string().contains(ENV_TYPED_VALUES), "{err}");
    }

    #[test]
    fn typed_options_are_checked_like_resolved_ones() {
        let ok = Settings::checked(&["127.0.0.1:2379".into()], "/a/", 5, 1, 1, ValueRules::default()).unwrap();
        assert_eq!(ok.endpoints, ["http://127.0.0.1:2379"]);
        assert_eq!(ok.prefix.as_str(), "/a");
        let err = |r: Result<Settings, Error>| r.unwrap_err().to_string();
        assert!(err(Settings::checked(&[], "/a", 5, 1, 1, ValueRules::default())).contains("options.endpoints"));
        assert!(
            err(Settings::checked(
                &["ftp://x".into()],
                "/a",
                5,
                1,
                1,
                ValueRules::default()
            ))
            .contains("ftp")
        );
        assert!(
            err(Settings::checked(&["x:1".into()], "/a", 0, 1, 1, ValueRules::default())).contains("options.page-size")
        );
        assert!(
            err(Settings::checked(&["x:1".into()], "/a", 1, 1, 0, ValueRules::default()))
                .contains("options.request-timeout-ms")
        );
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
            ini_location(&env_of(&[(ENV_INI_PATH, "/etc/x.ini")]), Some(exe)),
            Some((PathBuf::from("/etc/x.ini"), true))
        );
    }

    #[test]
    fn a_named_ini_file_must_exist_a_default_one_need_not() {
        let env = env_of(&[(ENV_INI_PATH, "/nonexistent/etcd.ini")]);
        assert!(
            load_ini(&env, None)
                .unwrap_err()
                .to_string()
                .contains("/nonexistent/etcd.ini")
        );
        assert_eq!(load_ini(&env_of(&[]), Some(Path::new("/nonexistent/bin"))), Ok(None));
    }
}
