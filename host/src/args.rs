//! The binary's command line: clap's derive for the modes and commands, and the settings'
//! flags built from the settings table (`etcd_inventory::settings::SETTINGS`) with clap's
//! builder, so that a setting declared there is a flag here, with its help, variable and
//! default in `--help`.

use clap::{Arg, ArgAction, ArgMatches, Parser};
use etcd_inventory::settings::{Commands, Flags, SETTINGS, Setting};

/// Ansible dynamic inventory from etcd (v3 JSON gateway), run in a WebAssembly sandbox;
/// and the tools to put an inventory into etcd and check it.
///
/// Settings: flag > environment > etcd.ini (ETCD_INI_PATH, else etcd.ini beside this
/// binary; [etcd] host, port, secure, ca_cert, client_cert, client_key, username,
/// password, prefix, ...) > default. The password is never a flag: use ETCDCTL_USER
/// (name:password), ETCDCTL_PASSWORD, --password-file or etcd.ini.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
#[command(subcommand_negates_reqs = true)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["list", "host", "graph"])))]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Print the whole inventory (Ansible inventory-script JSON).
    #[arg(long)]
    pub list: bool,
    /// Print one host's variables ({} for an unknown host).
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Print the tree under GROUP (default: all) as `ansible-inventory --graph` does.
    #[arg(long, value_name = "GROUP", num_args = 0..=1, default_missing_value = "all")]
    pub graph: Option<String>,
    /// Every setting the inventory script takes, from the settings table.
    #[command(flatten)]
    pub settings: SettingArgs,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Write an inventory into etcd: script-convention JSON, as `ansible-inventory -i ANY
    /// --list --export` or `etcd-inventory --list` prints it.
    #[command(long_about = IMPORT_HELP)]
    Import(ImportArgs),
    /// Report, one line each, what in the keyspace --list would refuse or skip, and what
    /// Ansible would treat differently; exit 1 on an error (--list would fail, or Ansible
    /// will refuse a variable name). It runs in the component's sandbox, within the same
    /// limits as --list.
    Check(CheckArgs),
    /// Put HOST into the inventory under a lease of --ttl seconds, in one transaction, and
    /// keep the lease alive until SIGTERM or SIGINT, which revokes it: the host leaves at once.
    #[command(long_about = REGISTER_HELP)]
    Register(RegisterArgs),
    /// Delete HOST's own keys (its memberships hosts/*/HOST and its variables
    /// hostvars/HOST/*) in one transaction, and nothing else.
    Deregister {
        /// The host's inventory name.
        #[arg(value_name = "HOST")]
        host: String,
    },
    /// Make one host or group as a JSON request on standard input says, in one guarded
    /// transaction, and print what it was and is as JSON (the Ansible collection's host and
    /// group modules run this).
    #[command(long_about = APPLY_HELP)]
    Apply(ApplyArgs),
    /// Write the embedded WebAssembly component (the very one this binary runs), for
    /// `wasmtime run -S http`, jco or a program of your own.
    Component {
        /// The file to write, or - for standard output.
        #[arg(long, short, value_name = "FILE")]
        output: String,
    },
}

const IMPORT_HELP: &str = "\
Write an inventory into etcd: script-convention JSON, as `ansible-inventory -i ANY --list \
--export` or `etcd-inventory --list` prints it. The whole file is checked before anything is \
written: not JSON, a wrong shape, a child group the file does not define, a name with \"/\", or \
anything --list would refuse is an error, and etcd is left as it was.

Importing is idempotent: keys that already hold the value are not written, and the report \
counts keys created, changed, unchanged and deleted. Values that are not strings are written as \
JSON text, which --typed-values reads back as the same types.

Keys are written in transactions of at most --max-txn-ops writes (and 1 MiB), each guarded by \
the revision the key was read at: if someone else changes a key meanwhile, that transaction \
writes nothing and the import stops with an error; run it again. A large import is therefore \
not one atomic change. A reader meanwhile sees some transactions and not others; each \
etcd-inventory --list is still one consistent snapshot, at one revision. With --replace, \
deletes run after every put: a host moved between groups may appear in both for a moment, \
never in neither.";

const REGISTER_HELP: &str = "\
Put HOST into the inventory under a lease of --ttl seconds: its memberships (hosts/GROUP/HOST, \
empty values: a registered host follows the imported hosts of its groups, by name) and its \
variables (hostvars/HOST/NAME, written by the import's rules, --typed-values and --nested-keys \
included), all in one transaction that also deletes the host's own keys it no longer wants. \
Then keep the lease alive until SIGTERM or SIGINT, which revokes it: the host leaves the \
inventory at once. If etcd cannot be reached, renewals are retried every second at most; if the \
lease expired meanwhile, the host is registered again under a new one. With --once, register \
and exit: the host stays until the TTL runs out, unless registered again.";

const APPLY_HELP: &str = "\
Make one host or group as a JSON request on standard input says (at most 4 MiB), and print one \
line of JSON: {\"changed\": BOOL, \"before\": {...}, \"after\": {...}, \"lease\": HEX|null}. The \
Ansible collection's etcd_inventory.etcd.host and .group modules run this; their documentation \
(ansible-doc) describes each field.

A host: {\"kind\": \"host\", \"name\": HOST, \"state\": \"present\"|\"absent\", \"groups\": [...], \
\"vars\": {...}, \"append\": BOOL, \"ttl\": SECONDS}. A group: {\"kind\": \"group\", \"name\": GROUP, \
\"state\": ..., \"vars\": {...}, \"children\": [...], \"append\": BOOL}. Groups, children and \
variables given are exactly those afterwards (with append, added to the others); those not given \
stay as they are. Absent deletes the host's own keys (hosts/*/HOST, hostvars/HOST/...), or every \
key that names the group. Values are written by the import's rules; a key that already says what \
is asked is left as it is, so a second run changes nothing. A ttl puts every key of the host \
under one lease of that TTL; a lease of the same TTL that holds them already is renewed and kept.

The keys are read, the change planned and written in one transaction guarded by the revisions \
they were read at (planned again if someone changed them meanwhile); with --dry-run, only \
planned. A key changed counts as changed; a lease renewed alone does not.";

#[derive(clap::Args, Debug)]
pub struct ApplyArgs {
    /// Plan only: say what would change, and write nothing (no lease is granted or renewed).
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(clap::Args, Debug)]
pub struct RegisterArgs {
    /// The host's inventory name (no \"/\").
    #[arg(value_name = "HOST")]
    pub host: String,
    /// A group to be a member of; repeat for more.
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
    /// A variable whose value is the text after the first = (a string); repeat for more.
    #[arg(long = "var", value_name = "NAME=TEXT")]
    pub vars: Vec<String>,
    /// A variable whose value is JSON (a number, list, map, or a string in quotes); repeat
    /// for more.
    #[arg(long = "json-var", value_name = "NAME=JSON")]
    pub json_vars: Vec<String>,
    /// Seconds the host stays after its registrar stops renewing (1 to 9000000000; etcd
    /// may grant a little more than asked for very short leases).
    #[arg(long, value_name = "SECONDS", default_value = "60")]
    pub ttl: String,
    /// Register and exit, without keeping the lease alive.
    #[arg(long)]
    pub once: bool,
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The JSON file, or - for standard input.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Report what would change, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also delete keys under the prefix that the file does not have (not atomic: see --help).
    #[arg(long)]
    pub replace: bool,
    /// Most writes per transaction: at most etcd's own --max-txn-ops.
    #[arg(long, value_name = "N", default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_txn_ops: u32,
    /// Refuse a name listed in children without an entry of its own, as a misspelt group,
    /// instead of taking it as an empty group (as ansible-inventory --list names them).
    #[arg(long)]
    pub strict: bool,
    /// Accepted for scripts written before empty groups became the default; does nothing.
    #[arg(long, hide = true, conflicts_with = "strict")]
    pub empty_groups: bool,
}

/// The settings' flags as the top level takes them: global for every command, or for the
/// inventory script (`--list`, `--host`, `--graph`) only.
#[derive(Debug, Default)]
pub struct SettingArgs(pub Flags);

/// The settings `check` takes after its name (those of its sandbox); given there, they win.
/// Boxed: the flags are large next to the other commands' arguments.
#[derive(Debug, Default)]
pub struct CheckArgs(pub Box<Flags>);

impl Cli {
    /// The raw flags of every setting given, for `settings::resolve`.
    pub fn flags(&self) -> Flags {
        let mut flags = self.settings.0.clone();
        if let Some(Command::Check(given_to_check)) = &self.command {
            flags.overlay(&given_to_check.0);
        }
        flags
    }
}

/// A setting's flag as clap takes it: its long name is its id.
fn arg(setting: &Setting, global: bool) -> Option<Arg> {
    let flag = setting.flag.as_ref()?;
    let arg = Arg::new(flag.long)
        .long(flag.long)
        .help(setting.long_help())
        .global(global);
    Some(match setting.kind.placeholder() {
        None => arg.action(ArgAction::SetTrue),
        Some(placeholder) => arg
            .value_name(placeholder)
            .action(ArgAction::Set)
            .value_parser(clap::value_parser!(String)),
    })
}

/// Every setting's flag given in `matches`, among `settings`.
fn given(matches: &ArgMatches, settings: impl Iterator<Item = &'static Setting>) -> Flags {
    let mut flags = Flags::default();
    for setting in settings {
        let Some(flag) = &setting.flag else { continue };
        let value = match setting.is_switch() {
            true => matches.get_flag(flag.long).then(|| "true".to_string()),
            false => matches.get_one::<String>(flag.long).cloned(),
        };
        if let Some(value) = value {
            flags.set(setting, value);
        }
    }
    flags
}

fn at_top() -> impl Iterator<Item = &'static Setting> {
    SETTINGS.iter().copied()
}

fn after_check() -> impl Iterator<Item = &'static Setting> {
    SETTINGS
        .iter()
        .copied()
        .filter(|s| s.takers.binary == Commands::ScriptAndCheck)
}

impl clap::Args for SettingArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.args(at_top().filter_map(|s| arg(s, s.takers.binary == Commands::All)))
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl clap::FromArgMatches for SettingArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(SettingArgs(given(matches, at_top())))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.0.overlay(&given(matches, at_top()));
        Ok(())
    }
}

impl clap::Args for CheckArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.args(after_check().filter_map(|s| arg(s, false)))
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl clap::FromArgMatches for CheckArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(CheckArgs(Box::new(given(matches, after_check()))))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.0.overlay(&given(matches, after_check()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etcd_inventory::settings::{MEMORY_LIMIT, PREFIX};

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("etcd-inventory").chain(args.iter().copied()))
    }

    #[test]
    fn every_setting_with_a_flag_is_a_flag_of_the_inventory_script() {
        for setting in SETTINGS.iter().filter(|s| s.flag.is_some()) {
            let flag = setting.flag_name();
            let mut args = vec!["--list", flag.as_str()];
            args.extend((!setting.is_switch()).then_some("v"));
            let cli = parse(&args).unwrap_or_else(|e| panic!("{flag}: {e}"));
            let expected = if setting.is_switch() { "true" } else { "v" };
            assert_eq!(cli.flags().get(setting), Some(expected), "{flag}");
        }
    }

    #[test]
    fn commands_take_the_settings_the_table_gives_them() {
        for setting in SETTINGS.iter().filter(|s| s.flag.is_some() && !s.is_switch()) {
            let flag = setting.flag_name();
            let taken = parse(&["import", "f.json", &flag, "v"]).is_ok();
            assert_eq!(taken, setting.takers.binary == Commands::All, "import {flag}");
            let taken = parse(&["check", &flag, "v"]).is_ok();
            assert_eq!(taken, setting.takers.binary != Commands::Script, "check {flag}");
        }
        // Given after `check`, its sandbox's settings win over the same given before it.
        let cli = parse(&[
            "--memory-limit",
            "64",
            "--prefix",
            "/a",
            "check",
            "--memory-limit",
            "128",
        ])
        .unwrap();
        assert_eq!(cli.flags().get(&MEMORY_LIMIT), Some("128"));
        assert_eq!(cli.flags().get(&PREFIX), Some("/a"));
    }
}
