//! The component's own command line, for stock hosts (`wasmtime run ... --list`). It takes
//! the same flags as the `etcd-inventory` binary and hands them to [`crate::settings`].

use crate::settings::Flags;

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
pub enum Command {
    // Boxed: the flags are large next to `Help`.
    Run { mode: Mode, flags: Box<Flags> },
    Help,
}

pub const USAGE: &str = "\
usage: etcd_inventory.wasm (--list | --host NAME | --graph [GROUP]) [--endpoints URLS] [--prefix PREFIX]
                           [--page-size N] [--dial-timeout DURATION] [--command-timeout DURATION]
                           [--user NAME] [--password-file FILE]
                           [--trust-templates] [--typed-values] [--nested-keys]

An Ansible inventory script that reads the inventory from etcd's v3 JSON gateway.
Settings: flag > environment (ETCDCTL_ENDPOINTS, ETCD_INVENTORY_PREFIX, ...) > etcd.ini
(ETCD_INI_PATH) > default (http://127.0.0.1:2379, /ansible). The password comes from
ETCDCTL_USER (name:password), ETCDCTL_PASSWORD, --password-file or etcd.ini, never a flag.
--cacert, --cert and --key need the native etcd-inventory binary: wasi:http gives a
component no TLS settings, so here https reaches publicly trusted certificates only.";

/// Parses arguments without the program name. `Err` is a usage error, for exit status 2.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let mut mode = None;
    let mut flags = Flags::default();
    let text = |v: std::ffi::OsString| v.into_string().map_err(|_| "arguments must be UTF-8".to_string());
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        let slot = match arg {
            Long("list") => {
                set_mode(&mut mode, Mode::List)?;
                continue;
            }
            Long("host") => {
                let name = text(parser.value().map_err(|e| e.to_string())?)?;
                set_mode(&mut mode, Mode::Host(name))?;
                continue;
            }
            Long("graph") => {
                // An optional value, as ansible-inventory takes it: `--graph` or `--graph web`.
                let mut raw = parser.raw_args().map_err(|e| e.to_string())?;
                let group = raw.next_if(|next| !next.to_string_lossy().starts_with('-'));
                let group = group.map(text).transpose()?.unwrap_or_else(|| "all".to_string());
                set_mode(&mut mode, Mode::Graph(group))?;
                continue;
            }
            Long("help") | Short('h') => return Ok(Command::Help),
            Long("trust-templates") => {
                flags.trust_templates = Some("true".to_string());
                continue;
            }
            Long("typed-values") => {
                flags.typed_values = Some("true".to_string());
                continue;
            }
            Long("nested-keys") => {
                flags.nested_keys = Some("true".to_string());
                continue;
            }
            Long("endpoints") => &mut flags.endpoints,
            Long("prefix") => &mut flags.prefix,
            Long("page-size") => &mut flags.page_size,
            Long("dial-timeout") => &mut flags.dial_timeout,
            Long("command-timeout") => &mut flags.command_timeout,
            Long("user") => &mut flags.user,
            Long("password-file") => &mut flags.password_file,
            // Accepted so that settings refuse them with the reason, rather than as unknown.
            Long("cacert") => &mut flags.cacert,
            Long("cert") => &mut flags.cert,
            Long("key") => &mut flags.key,
            other => return Err(other.unexpected().to_string()),
        };
        *slot = Some(text(parser.value().map_err(|e| e.to_string())?)?);
    }
    match mode {
        Some(mode) => Ok(Command::Run {
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
            Ok(Command::Run {
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
            Ok(Command::Run {
                mode: Mode::Host("web01".into()),
                flags: Box::default()
            })
        );
    }

    #[test]
    fn graph_takes_an_optional_group() {
        let mode = |a: &[&str]| match parse(args(a)) {
            Ok(Command::Run { mode, .. }) => mode,
            other => panic!("{a:?}: {other:?}"),
        };
        assert_eq!(mode(&["--graph"]), Mode::Graph("all".into()));
        assert_eq!(mode(&["--graph", "web"]), Mode::Graph("web".into()));
        assert_eq!(mode(&["--graph", "--prefix", "/x"]), Mode::Graph("all".into()));
        assert_eq!(mode(&["--prefix", "/x", "--graph"]), Mode::Graph("all".into()));
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
