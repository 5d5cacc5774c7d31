//! The component's own command line, for stock hosts (`wasmtime run ... --list`) and for
//! embedders (the `settings` export). It takes the flags of the `etcd-inventory` binary
//! that the settings table ([`crate::settings::SETTINGS`]) marks for the component, and
//! hands them to [`crate::settings`]; its usage text is drawn from the same table.

use crate::settings::{Flags, SETTINGS, Setting};

/// What an inventory script is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `--list`: the whole inventory.
    List,
    /// `--host NAME`: one host's variables.
    Host(String),
    /// `--graph [GROUP]`: the tree under a group (`all` by default), for people.
    Graph(String),
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    // Boxed: the flags are large next to `Help`.
    Run { mode: Mode, flags: Box<Flags> },
    Help,
}

/// The usage text (`--help`), drawn from the settings table: print it with `{}`.
pub const USAGE: Usage = Usage;

/// See [`USAGE`].
#[derive(Debug, Clone, Copy)]
pub struct Usage;

const PROGRAM: &str = "usage: etcd_inventory.wasm ";
const MODES: &str = "(--list | --host NAME | --graph [GROUP])";
/// Where usage lines wrap.
const WIDTH: usize = 100;

const ABOUT: &str = "\
An Ansible inventory script that reads the inventory from etcd's v3 JSON gateway.
Settings: flag > environment (ETCDCTL_ENDPOINTS, ETCD_INVENTORY_PREFIX, ...) > etcd.ini
(ETCD_INI_PATH) > default (http://127.0.0.1:2379, /ansible). The password comes from
ETCDCTL_USER (name:password), ETCDCTL_PASSWORD, --password-file or etcd.ini, never a flag.
--cacert, --cert and --key need the native etcd-inventory binary: wasi:http gives a
component no TLS settings, so here https reaches publicly trusted certificates only.";

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let indent = " ".repeat(PROGRAM.len());
        let mut line = format!("{PROGRAM}{MODES}");
        for setting in taken() {
            let flag = setting.flag_name();
            let word = match setting.kind.placeholder() {
                Some(placeholder) => format!("[{flag} {placeholder}]"),
                None => format!("[{flag}]"),
            };
            if line.len() + 1 + word.len() > WIDTH {
                writeln!(f, "{line}")?;
                line = indent.clone();
            } else {
                line.push(' ');
            }
            line.push_str(&word);
        }
        write!(f, "{line}\n\n{ABOUT}")
    }
}

/// The settings whose flags the component takes.
fn taken() -> impl Iterator<Item = &'static Setting> {
    SETTINGS
        .iter()
        .copied()
        .filter(|s| s.takers.component && s.flag.is_some())
}

/// Parses arguments without the program name. `Err` is a usage error, for exit status 2.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let mut mode = None;
    let mut flags = Flags::default();
    let text = |v: std::ffi::OsString| v.into_string().map_err(|_| "arguments must be UTF-8".to_string());
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Long("list") => set_mode(&mut mode, Mode::List)?,
            Long("host") => {
                let name = text(parser.value().map_err(|e| e.to_string())?)?;
                set_mode(&mut mode, Mode::Host(name))?;
            }
            Long("graph") => {
                // An optional value, as ansible-inventory takes it: `--graph` or `--graph web`.
                let mut raw = parser.raw_args().map_err(|e| e.to_string())?;
                let group = raw.next_if(|next| !next.to_string_lossy().starts_with('-'));
                let group = group.map(text).transpose()?.unwrap_or_else(|| "all".to_string());
                set_mode(&mut mode, Mode::Graph(group))?;
            }
            Long("help") | Short('h') => return Ok(Parsed::Help),
            // The TLS files are taken so that settings refuse them with the reason, rather
            // than as unknown flags.
            Long(long) if let Some(setting) = taken().find(|s| s.flag.as_ref().is_some_and(|f| f.long == long)) => {
                let value = match setting.is_switch() {
                    true => "true".to_string(),
                    false => text(parser.value().map_err(|e| e.to_string())?)?,
                };
                flags.set(setting, value);
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    match mode {
        Some(mode) => Ok(Parsed::Run {
            mode,
            flags: Box::new(flags),
        }),
        None => Err("one of --list, --host NAME or --graph [GROUP] is required".to_string()),
    }
}

fn set_mode(mode: &mut Option<Mode>, new: Mode) -> Result<(), String> {
    if mode.is_some() {
        return Err("--list, --host and --graph are exclusive, and each is given once".to_string());
    }
    *mode = Some(new);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn list_and_host_with_flags() {
        assert_eq!(
            parse(args(&["--list", "--prefix", "/x", "--endpoints=http://a:1"])),
            Ok(Parsed::Run {
                mode: Mode::List,
                flags: Box::new(Flags {
                    prefix: Some("/x".into()),
                    endpoints: Some("http://a:1".into()),
                    ..Flags::default()
                })
            })
        );
        assert_eq!(
            parse(args(&["--host", "web01"])),
            Ok(Parsed::Run {
                mode: Mode::Host("web01".into()),
                flags: Box::default()
            })
        );
    }

    #[test]
    fn graph_takes_an_optional_group() {
        let mode = |a: &[&str]| match parse(args(a)) {
            Ok(Parsed::Run { mode, .. }) => mode,
            other => panic!("{a:?}: {other:?}"),
        };
        assert_eq!(mode(&["--graph"]), Mode::Graph("all".into()));
        assert_eq!(mode(&["--graph", "web"]), Mode::Graph("web".into()));
        assert_eq!(mode(&["--graph", "--prefix", "/x"]), Mode::Graph("all".into()));
        assert_eq!(mode(&["--prefix", "/x", "--graph"]), Mode::Graph("all".into()));
    }

    #[test]
    fn every_flag_the_table_gives_the_component_is_taken_and_in_the_usage() {
        let usage = USAGE.to_string();
        for setting in taken() {
            let flag = setting.flag_name();
            let mut line = vec!["--list".to_string(), flag.clone()];
            line.extend((!setting.is_switch()).then(|| "v".to_string()));
            let Ok(Parsed::Run { flags, .. }) = parse(line) else {
                panic!("{flag} is refused");
            };
            let expected = if setting.is_switch() { "true" } else { "v" };
            assert_eq!(flags.get(setting), Some(expected), "{flag}");
            assert!(usage.contains(&format!("[{flag}")), "{flag} missing from {usage}");
        }
        for flag in ["--transport", "--memory-limit", "--cache"] {
            assert!(
                parse(args(&["--list", flag, "x"])).is_err(),
                "{flag} is the binary's only"
            );
        }
        assert!(usage.lines().all(|l| l.len() <= WIDTH), "{usage}");
    }

    #[test]
    fn usage_errors() {
        for bad in [
            &[][..],
            &["--list", "--host", "a"],
            &["--graph", "--list"],
            &["--host"],
            &["--list", "--bogus"],
            &["web01"],
        ] {
            assert!(parse(args(bad)).is_err(), "{bad:?} should be a usage error");
        }
    }
}
