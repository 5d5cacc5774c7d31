//! `etcd-inventory`: an Ansible inventory script (`--list`, `--host NAME`, `--graph`) that
//! reads etcd, and the write side (`import`, `check`, `register`, `apply`). Parse, run, print: the
//! arguments are in `args`, the inventory script and its cache in `listing`, the other
//! commands in `commands`. Settings are resolved by the component crate's one
//! implementation. Errors: one line on stderr, nothing on stdout, exit 1 (usage errors exit
//! 2, as clap does).

use std::io::Write as _;
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};
use etcd_inventory::cli::Mode;
use etcd_inventory::settings::{self, PASSWORD_FILE, Settings};
use etcd_inventory_host::args::{Cli, Command};
use etcd_inventory_host::cache::Body;
use etcd_inventory_host::commands;
use etcd_inventory_host::error::Failure;
use etcd_inventory_host::listing::{self, Listing};
use etcd_inventory_host::sandbox::COMPONENT;
use etcd_inventory_host::say;

/// What to print on stdout, and whether the exit status says failure anyway (`check`
/// with findings that make --list fail).
struct Printed {
    output: Output,
    failed: bool,
}

/// Text, or a cached inventory still in its file (both printed as a line), or bytes.
enum Output {
    Text(String),
    Cached(Body),
    Binary(&'static [u8]),
}

impl Printed {
    fn ok(text: String) -> Printed {
        Printed::output(Output::Text(text))
    }

    fn output(output: Output) -> Printed {
        Printed { output, failed: false }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // (clap's args_conflicts_with_subcommands would also refuse the global settings.)
    if cli.command.is_some() && (cli.list || cli.host.is_some() || cli.graph.is_some()) {
        let usage = "--list, --host and --graph are not used with a command";
        Cli::command()
            .error(clap::error::ErrorKind::ArgumentConflict, usage)
            .exit();
    }
    match run(cli).and_then(print) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(failure) => {
            say::failure(&failure.to_string());
            ExitCode::FAILURE
        }
    }
}

/// Prints the answer; `Ok(false)` when the exit status says failure anyway.
fn print(printed: Printed) -> Result<bool, Failure> {
    let mut out = std::io::stdout().lock();
    let body = match &printed.output {
        Output::Text(text) => out.write_all(text.as_bytes()).and_then(|()| out.write_all(b"\n")),
        Output::Cached(body) => body.write_to(&mut out).and_then(|()| out.write_all(b"\n")),
        Output::Binary(bytes) => out.write_all(bytes),
    };
    body.and_then(|()| out.flush())
        .map_err(Failure::io("write to stdout"))?;
    Ok(!printed.failed)
}

/// Everything but printing: what to print, or why the command failed.
fn run(cli: Cli) -> Result<Printed, Failure> {
    if let Some(Command::Component { output }) = &cli.command {
        return Ok(match commands::write_component(output)? {
            Some(line) => Printed::ok(line),
            None => Printed::output(Output::Binary(COMPONENT)),
        });
    }
    let flags = cli.flags();
    let settings = resolve_settings(&flags)?;
    if let Some(credentials) = &settings.credentials {
        // Every line printed from here on is checked for it, whatever an endpoint sends.
        say::redact_from_now_on(&credentials.password);
        if let Some(warning) = flags.get(&PASSWORD_FILE).and_then(settings::password_file_warning) {
            say::warn(&warning);
        }
    }
    if settings.credentials.is_some() || settings.tls.client_key.is_some() {
        keep_out_of_core_dumps()?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Failure::io("start the I/O runtime"))?;
    match cli.command {
        Some(Command::Import(args)) => runtime.block_on(commands::import(&settings, args)).map(Printed::ok),
        Some(Command::Register(args)) => runtime.block_on(commands::register(&settings, args)).map(Printed::ok),
        Some(Command::Apply(args)) => runtime.block_on(commands::apply(&settings, args)).map(Printed::ok),
        Some(Command::Deregister { host }) => runtime
            .block_on(commands::deregister(&settings, &host))
            .map(Printed::ok),
        Some(Command::Component { .. }) => unreachable!("answered above, without settings"),
        Some(Command::Check(_)) => {
            let report = commands::check(&runtime, &settings)?;
            let mut text: String = report.findings.iter().map(|(_, f)| format!("{f}\n")).collect();
            text.extend(report.leased.iter().map(|host| format!("{host}\n")));
            text.push_str(&report.summary());
            Ok(Printed {
                failed: report.has_errors(),
                output: Output::Text(text),
            })
        }
        None => {
            let mode = match (cli.host, cli.graph) {
                (Some(host), _) => Mode::Host(host),
                (None, Some(root)) => Mode::Graph(root),
                (None, None) => Mode::List,
            };
            let output = match listing::read_inventory(&runtime, &settings, &mode, &say::warn)? {
                Listing::Text(text) => Output::Text(text),
                Listing::Cached(body) => Output::Cached(body),
            };
            Ok(Printed::output(output))
        }
    }
}

/// Flag > environment > etcd.ini > default.
fn resolve_settings(flags: &settings::Flags) -> Result<Settings, Failure> {
    let env = |name: &str| std::env::var(name).ok();
    let exe = std::env::current_exe().ok();
    let ini = settings::load_ini(&env, exe.as_deref()).map_err(Failure::Settings)?;
    settings::resolve(flags, &env, ini.as_ref()).map_err(Failure::Settings)
}

/// From here on the process holds a password or a private key: as ssh-agent and gpg-agent
/// do, it is made non-dumpable, so a crash writes no core file with the secret in it (and
/// other processes of the same user may not ptrace it or read its memory).
fn keep_out_of_core_dumps() -> Result<(), Failure> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_DUMPABLE takes one integer and touches no memory of ours.
        if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
            return Err(Failure::Io {
                doing: "keep the password and key out of core dumps (prctl PR_SET_DUMPABLE)".to_string(),
                source: std::io::Error::last_os_error(),
            });
        }
    }
    Ok(())
}
