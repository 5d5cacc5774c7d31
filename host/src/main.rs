//! `etcd-inventory`: an Ansible inventory script (`--list`, `--host NAME`, `--graph`) that
//! reads etcd, and the write side (`import`, `check`). Settings are resolved by the component
//! crate's one implementation; the inventory is built by the component, run in a wasmtime
//! sandbox; import and check talk gRPC. Errors: one line on stderr, nothing on stdout, exit 1
//! (usage errors exit 2, as clap does).

use std::io::{Read as _, Write as _};
use std::process::ExitCode;
use std::sync::OnceLock;

use clap::{CommandFactory as _, Parser};
use etcd_inventory::Answer;
use etcd_inventory::cli::Mode;
use etcd_inventory::error::{self, Error};
use etcd_inventory::graph;
use etcd_inventory::inventory::Warnings;
use etcd_inventory::settings::{self, Flags, Settings};
use etcd_inventory_host::cache::{Body, Cache, Entry, Trouble};
use etcd_inventory_host::limits::LimitHit;
use etcd_inventory_host::register::{self, RegisterRequest, Say};
use etcd_inventory_host::sandbox::COMPONENT;
use etcd_inventory_host::sandbox::CheckReport;
use etcd_inventory_host::write_side::{self, ImportRequest};
use etcd_inventory_host::{EgressPolicy, Sandbox};

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
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Print the whole inventory (Ansible inventory-script JSON).
    #[arg(long)]
    list: bool,
    /// Print one host's variables ({} for an unknown host).
    #[arg(long, value_name = "NAME")]
    host: Option<String>,
    /// Print the tree under GROUP (default: all) as `ansible-inventory --graph` does.
    #[arg(long, value_name = "GROUP", num_args = 0..=1, default_missing_value = "all")]
    graph: Option<String>,
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(flatten)]
    values: ValueArgs,
    #[command(flatten)]
    cache: CacheArgs,
    #[command(flatten)]
    limits: LimitArgs,
}

/// Where etcd is and how to talk to it: the same for every command.
#[derive(clap::Args, Debug)]
struct ConnectionArgs {
    /// etcd endpoints, comma-separated [env: ETCDCTL_ENDPOINTS] [default: http://127.0.0.1:2379]
    #[arg(long, value_name = "URLS", global = true)]
    endpoints: Option<String>,
    /// Key prefix of the inventory [env: ETCD_INVENTORY_PREFIX] [default: /ansible]
    #[arg(long, global = true)]
    prefix: Option<String>,
    /// Most keys per range request; pages also stay near 1 MiB [env: ETCD_INVENTORY_PAGE_SIZE] [default: 10000]
    #[arg(long, value_name = "N", global = true)]
    page_size: Option<String>,
    /// Time to connect to one endpoint [env: ETCDCTL_DIAL_TIMEOUT] [default: 2s]
    #[arg(long, value_name = "DURATION", global = true)]
    dial_timeout: Option<String>,
    /// Time to wait for each answer to start, and between its bytes; a stalled member
    /// passes the read to the next [env: ETCDCTL_COMMAND_TIMEOUT] [default: 5s]
    #[arg(long, value_name = "DURATION", global = true)]
    command_timeout: Option<String>,
    /// CA certificate (PEM) that signed etcd's certificate, instead of the public roots
    /// [env: ETCDCTL_CACERT]
    #[arg(long, value_name = "FILE", global = true)]
    cacert: Option<String>,
    /// Client certificate (PEM) for etcd's --client-cert-auth [env: ETCDCTL_CERT]
    #[arg(long, value_name = "FILE", global = true)]
    cert: Option<String>,
    /// Private key (PEM) of the client certificate [env: ETCDCTL_KEY]
    #[arg(long, value_name = "FILE", global = true)]
    key: Option<String>,
    /// etcd user name (the password is not a flag) [env: ETCDCTL_USER, as NAME or NAME:PASSWORD]
    #[arg(long, value_name = "NAME", global = true)]
    user: Option<String>,
    /// File whose first line is the etcd user's password [or env: ETCDCTL_PASSWORD]
    #[arg(long, value_name = "FILE", global = true)]
    password_file: Option<String>,
    /// How reads reach etcd: grpc (the host answers the component's requests from etcd's
    /// gRPC API, fastest) or gateway (etcd's JSON gateway, for proxies that pass only
    /// HTTP/1) [env: ETCD_INVENTORY_TRANSPORT] [default: grpc]
    #[arg(long, value_name = "grpc|gateway", global = true)]
    transport: Option<String>,
}

/// How stored values are read (and, for typed values, written by import).
#[derive(clap::Args, Debug)]
struct ValueArgs {
    /// Emit values as plain strings that Ansible renders as templates; by default they are
    /// marked unsafe [env: ETCD_INVENTORY_TRUST_TEMPLATES]
    #[arg(long, global = true)]
    trust_templates: bool,
    /// Decode values that are JSON into booleans, numbers, lists and maps; import then
    /// quotes strings that would decode [env: ETCD_INVENTORY_TYPED_VALUES]
    #[arg(long, global = true)]
    typed_values: bool,
    /// Build nested maps from deeper keys such as hostvars/HOST/nginx/port
    /// [env: ETCD_INVENTORY_NESTED_KEYS]
    #[arg(long, global = true)]
    nested_keys: bool,
}

/// The `--list` cache.
#[derive(clap::Args, Debug)]
struct CacheArgs {
    /// Keep the --list answer in a cache file, validated against etcd before use
    /// [env: ETCD_INVENTORY_CACHE] [etcd.ini: [cache] enabled]
    #[arg(long)]
    cache: bool,
    /// Directory of the cache files [env: ETCD_INVENTORY_CACHE_PATH] [default: ~/.ansible/tmp]
    #[arg(long, value_name = "DIR")]
    cache_path: Option<String>,
    /// Seconds during which the cache is served without asking etcd; 0 validates every time
    /// [env: ETCD_INVENTORY_CACHE_MAX_AGE] [default: 0]
    #[arg(long, value_name = "SECONDS")]
    cache_max_age: Option<String>,
    /// When no endpoint answers, serve the cache however old, with a warning
    /// [env: ETCD_INVENTORY_STALE_CACHE_FALLBACK]
    #[arg(long)]
    stale_cache_fallback: bool,
    /// Read etcd in full and rewrite the cache [env: ETCD_INVENTORY_REFRESH_CACHE]
    #[arg(long)]
    refresh_cache: bool,
}

/// The component's sandbox: what it may use.
#[derive(clap::Args, Debug, Default)]
struct LimitArgs {
    /// Most memory the component may use, in MiB (at most 4096)
    /// [env: ETCD_INVENTORY_MEMORY_LIMIT] [default: 1024]
    #[arg(long, value_name = "MIB")]
    memory_limit: Option<String>,
    /// Longest the component may take, reading etcd included; every read of the command
    /// shares it [env: ETCD_INVENTORY_TIME_LIMIT] [default: 120s]
    #[arg(long, value_name = "DURATION")]
    time_limit: Option<String>,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Write an inventory into etcd: script-convention JSON, as `ansible-inventory -i ANY
    /// --list --export` or `etcd-inventory --list` prints it.
    #[command(long_about = IMPORT_HELP)]
    Import(ImportArgs),
    /// Report, one line each, what in the keyspace --list would refuse or skip, and what
    /// Ansible would treat differently; exit 1 on an error (--list would fail, or Ansible
    /// will refuse a variable name). It runs in the component's sandbox, within the same
    /// limits as --list.
    Check(LimitArgs),
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

#[derive(clap::Args, Debug)]
struct RegisterArgs {
    /// The host's inventory name (no \"/\").
    #[arg(value_name = "HOST")]
    host: String,
    /// A group to be a member of; repeat for more.
    #[arg(long = "group", value_name = "GROUP")]
    groups: Vec<String>,
    /// A variable whose value is the text after the first = (a string); repeat for more.
    #[arg(long = "var", value_name = "NAME=TEXT")]
    vars: Vec<String>,
    /// A variable whose value is JSON (a number, list, map, or a string in quotes); repeat
    /// for more.
    #[arg(long = "json-var", value_name = "NAME=JSON")]
    json_vars: Vec<String>,
    /// Seconds the host stays after its registrar stops renewing (1 to 9000000000; etcd
    /// may grant a little more than asked for very short leases).
    #[arg(long, value_name = "SECONDS", default_value = "60")]
    ttl: String,
    /// Register and exit, without keeping the lease alive.
    #[arg(long)]
    once: bool,
}

#[derive(clap::Args, Debug)]
struct ImportArgs {
    /// The JSON file, or - for standard input.
    #[arg(value_name = "FILE")]
    file: String,
    /// Report what would change, and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also delete keys under the prefix that the file does not have (not atomic: see --help).
    #[arg(long)]
    replace: bool,
    /// Most writes per transaction: at most etcd's own --max-txn-ops.
    #[arg(long, value_name = "N", default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..))]
    max_txn_ops: u32,
    /// Refuse a name listed in children without an entry of its own, as a misspelt group,
    /// instead of taking it as an empty group (as ansible-inventory --list names them).
    #[arg(long)]
    strict: bool,
    /// Accepted for scripts written before empty groups became the default; does nothing.
    #[arg(long, hide = true, conflicts_with = "strict")]
    empty_groups: bool,
}

/// How many groups an import took as empty, and the first few of them.
fn empty_groups_note(groups: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut names: Vec<String> = groups.iter().take(SHOWN).map(|g| format!("{g:?}")).collect();
    if groups.len() > SHOWN {
        names.push("...".to_string());
    }
    format!(
        "{} group(s) named only as children taken as empty groups (ansible-inventory --list names empty groups \
         so): {}; --strict refuses them",
        groups.len(),
        names.join(", ")
    )
}

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
    match run(cli) {
        Ok(printed) => {
            let mut out = std::io::stdout().lock();
            let body = match &printed.output {
                Output::Text(text) => out.write_all(text.as_bytes()).and_then(|()| out.write_all(b"\n")),
                Output::Cached(body) => body.write_to(&mut out).and_then(|()| out.write_all(b"\n")),
                Output::Binary(bytes) => out.write_all(bytes),
            };
            match body.and_then(|()| out.flush()) {
                Ok(()) if printed.failed => ExitCode::FAILURE,
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(format!("cannot write to stdout: {e}")),
            }
        }
        Err(message) => fail(message),
    }
}

/// Everything but printing: what to print, or the one line that says what failed.
fn run(cli: Cli) -> Result<Printed, String> {
    if let Some(Command::Component { output }) = &cli.command {
        return write_component(output);
    }
    let settings = resolve_settings(&cli)?;
    if let Some(credentials) = &settings.credentials {
        // Every line printed from here on is checked for it, whatever an endpoint sends.
        let _ = PASSWORD.set(credentials.password.clone());
        if let Some(warning) = cli
            .connection
            .password_file
            .as_deref()
            .and_then(settings::password_file_warning)
        {
            warn(&warning);
        }
    }
    if settings.credentials.is_some() || settings.tls.client_key.is_some() {
        keep_out_of_core_dumps()?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the I/O runtime: {e}"))?;
    match cli.command {
        Some(Command::Import(args)) => runtime.block_on(import(&settings, args)).map(Printed::ok),
        Some(Command::Register(args)) => runtime.block_on(register(&settings, args)).map(Printed::ok),
        Some(Command::Deregister { host }) => runtime
            .block_on(register::deregister(&settings, &host))
            .map(Printed::ok),
        Some(Command::Component { .. }) => unreachable!("answered above, without settings"),
        Some(Command::Check(_)) => {
            let report = check(&runtime, &settings)?;
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
            read_inventory(&runtime, &settings, &mode).map(Printed::output)
        }
    }
}

fn resolve_settings(cli: &Cli) -> Result<Settings, String> {
    let (c, v, k, l) = (&cli.connection, &cli.values, &cli.cache, &cli.limits);
    // `check` also takes the limits after its name, as it runs in the sandbox (import does
    // not); given there, they win.
    let given_to_check = match &cli.command {
        Some(Command::Check(limits)) => limits,
        _ => &LimitArgs::default(),
    };
    let flags = Flags {
        endpoints: c.endpoints.clone(),
        prefix: c.prefix.clone(),
        page_size: c.page_size.clone(),
        dial_timeout: c.dial_timeout.clone(),
        command_timeout: c.command_timeout.clone(),
        cacert: c.cacert.clone(),
        cert: c.cert.clone(),
        key: c.key.clone(),
        user: c.user.clone(),
        password_file: c.password_file.clone(),
        trust_templates: switch(v.trust_templates),
        typed_values: switch(v.typed_values),
        nested_keys: switch(v.nested_keys),
        transport: c.transport.clone(),
        memory_limit: given_to_check.memory_limit.clone().or_else(|| l.memory_limit.clone()),
        time_limit: given_to_check.time_limit.clone().or_else(|| l.time_limit.clone()),
        cache: switch(k.cache),
        cache_path: k.cache_path.clone(),
        cache_max_age: k.cache_max_age.clone(),
        stale_cache_fallback: switch(k.stale_cache_fallback),
        refresh_cache: switch(k.refresh_cache),
    };
    let env = |name: &str| std::env::var(name).ok();
    let exe = std::env::current_exe().ok();
    let ini = settings::load_ini(&env, exe.as_deref()).map_err(|e| e.to_string())?;
    settings::resolve(&flags, &env, ini.as_ref()).map_err(|e| e.to_string())
}

/// `component --output FILE`: the embedded component, byte for byte.
fn write_component(path: &str) -> Result<Printed, String> {
    if path == "-" {
        return Ok(Printed::output(Output::Binary(COMPONENT)));
    }
    std::fs::write(path, COMPONENT).map_err(|e| format!("cannot write the component to {path}: {e}"))?;
    Ok(Printed::ok(format!("wrote {path} ({} bytes)", COMPONENT.len())))
}

/// `check`: the component reads etcd and checks the keys in its sandbox, within the same
/// memory and time limits as `--list` (the keys come from etcd, which is not ours to trust).
fn check(runtime: &tokio::runtime::Runtime, settings: &Settings) -> Result<CheckReport, String> {
    let egress = EgressPolicy::for_settings(settings)?;
    let sandbox = Sandbox::new(&settings.limits, settings.transport)
        .map_err(|e| format!("cannot load the component: {}", one_line(&e)))?;
    runtime
        .block_on(sandbox.check(settings, &egress))
        .map_err(trapped)?
        .map_err(|e| e.to_string())
}

/// `--list`, `--host` and `--graph`: the component reads etcd in its sandbox.
fn read_inventory(runtime: &tokio::runtime::Runtime, settings: &Settings, mode: &Mode) -> Result<Output, String> {
    let egress = EgressPolicy::for_settings(settings)?;
    let sandbox = Sandbox::new(&settings.limits, settings.transport)
        .map_err(|e| format!("cannot load the component: {}", one_line(&e)))?;
    let call = Call {
        runtime,
        sandbox: &sandbox,
        settings,
        egress: &egress,
    };
    // `--graph` is drawn from the list (the sandbox reads the list for it), cached or not.
    let output = match mode {
        Mode::List | Mode::Graph(_) if settings.cache.enabled => call.list_cached()?,
        _ => {
            let answer = call.answer(mode)?;
            warn_all(settings, &answer.warnings);
            Output::Text(answer.json)
        }
    };
    let graph = |json: &str, root: &str| graph::render(json, root).map(Output::Text).map_err(|e| e.to_string());
    match (mode, output) {
        (Mode::Graph(root), Output::Text(json)) => graph(&json, root),
        (Mode::Graph(root), Output::Cached(body)) => graph(
            &body
                .read_to_string()
                .map_err(|e| format!("cannot read the cache: {e}"))?,
            root,
        ),
        (_, output) => Ok(output),
    }
}

async fn import(settings: &Settings, args: ImportArgs) -> Result<String, String> {
    let (json, source) = if args.file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the inventory from standard input: {e}"))?;
        (text, "standard input".to_string())
    } else {
        let text = std::fs::read_to_string(&args.file).map_err(|e| format!("cannot read {}: {e}", args.file))?;
        (text, args.file.clone())
    };
    let request = ImportRequest {
        json,
        source,
        dry_run: args.dry_run,
        replace: args.replace,
        max_txn_ops: args.max_txn_ops as usize,
        strict: args.strict,
    };
    let report = write_side::import(settings, request).await?;
    if !report.empty_groups.is_empty() {
        warn(&empty_groups_note(&report.empty_groups));
    }
    if report.non_strings > 0 && !settings.values.typed_values {
        warn(&format!(
            "{} value(s) are not strings: written as JSON text, which reads back as the same types only with \
             typed values on (--typed-values, ETCD_INVENTORY_TYPED_VALUES or typed_values in etcd.ini)",
            report.non_strings
        ));
    }
    Ok(report.to_string())
}

/// `register`: the request checked before anything is sent, the stop signals set up before
/// the lease exists (a signal during registration then revokes it right after).
async fn register(settings: &Settings, args: RegisterArgs) -> Result<String, String> {
    let ttl_s = register::parse_ttl(&args.ttl)?;
    let strings = args.vars.iter().map(|v| register::parse_var(v, false));
    let json = args.json_vars.iter().map(|v| register::parse_var(v, true));
    let request = RegisterRequest {
        host: args.host,
        groups: args.groups,
        vars: strings.chain(json).collect::<Result<_, _>>()?,
        ttl_s,
        once: args.once,
    };
    register::encode(settings, &request)?;
    // `--once` keeps the default actions: a signal ends it at once, as any command.
    let stop: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> = if request.once {
        Box::pin(std::future::pending())
    } else {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind| signal(kind).map_err(|e| format!("cannot listen for signals: {e}"));
        let (mut term, mut int) = (listen(SignalKind::terminate())?, listen(SignalKind::interrupt())?);
        Box::pin(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    };
    let line = |text: &str| {
        // The registration is announced as it happens: a supervisor may wait for the line.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", printable_line(text)).and_then(|()| out.flush());
    };
    register::register(
        settings,
        &request,
        Say {
            line: &line,
            warn: &warn,
        },
        stop,
    )
    .await
}

/// What every call into the component needs.
struct Call<'a> {
    runtime: &'a tokio::runtime::Runtime,
    sandbox: &'a Sandbox,
    settings: &'a Settings,
    egress: &'a EgressPolicy,
}

impl Call<'_> {
    fn answer(&self, mode: &Mode) -> Result<Answer, String> {
        self.read(mode)?.map_err(|e| e.to_string())
    }

    /// The component's answer; the outer `Err` is a trap, already in words.
    fn read(&self, mode: &Mode) -> Result<Result<Answer, Error>, String> {
        self.runtime
            .block_on(self.sandbox.run(mode, self.settings, self.egress))
            .map_err(trapped)
    }

    /// `--list` through the cache: served within `max_age`, else after etcd confirms it
    /// is unchanged, else read in full and rewritten. Cache trouble is a warning, never a
    /// failure; etcd's errors stay errors unless the stale fallback was asked for.
    fn list_cached(&self) -> Result<Output, String> {
        let options = &self.settings.cache;
        let cache = Cache::new(self.settings);
        let entry = match cache.load() {
            Ok(entry) => entry,
            Err(Trouble::Unusable(warning)) => {
                warn(&warning);
                None
            }
            // Written by someone else, perhaps: read etcd, and write nothing there.
            Err(Trouble::Unsafe(warning)) => {
                warn(&warning);
                let answer = self.answer(&Mode::List)?;
                warn_all(self.settings, &answer.warnings);
                return Ok(Output::Text(answer.json));
            }
        };
        if let Some(cached) = entry.as_ref().filter(|_| !options.refresh) {
            let unchanged = if cached.age_s() < options.max_age_s {
                // The classic behaviour: young enough to serve without asking etcd.
                Ok(Some(cached.revision))
            } else {
                self.runtime
                    .block_on(
                        self.sandbox
                            .unchanged(self.settings, self.egress, cached.revision, cached.key_count),
                    )
                    .map_err(trapped)?
            };
            match unchanged {
                Ok(Some(revision)) => {
                    // Confirmed as of a later revision: the next check can start from it.
                    if revision > cached.revision
                        && let Err(warning) = cache.stamp(cached, revision)
                    {
                        warn(&warning);
                    }
                    return Ok(self.serve(entry.expect("checked above")));
                }
                Ok(None) => {}
                Err(e) => return self.stale_or(entry.expect("checked above"), e),
            }
        }
        let answer = match self.read(&Mode::List)? {
            Ok(answer) => answer,
            Err(e) => {
                return match entry {
                    Some(entry) => self.stale_or(entry, e),
                    None => Err(e.to_string()),
                };
            }
        };
        if let Err(warning) = cache.store(&answer) {
            warn(&warning);
        }
        warn_all(self.settings, &answer.warnings);
        Ok(Output::Text(answer.json))
    }

    /// With the stale fallback on and no endpoint answering, the cached inventory, with a
    /// warning saying how old it is; otherwise the error.
    fn stale_or(&self, entry: Entry, error: Error) -> Result<Output, String> {
        if !(self.settings.cache.stale_fallback
            && matches!(error, Error::Etcd(etcd_inventory::etcd::EtcdError::Unreachable(_))))
        {
            return Err(error.to_string());
        }
        warn(&format!(
            "serving the cached inventory read {} s ago at revision {} (stale fallback): {error}",
            entry.age_s(),
            entry.revision
        ));
        Ok(self.serve(entry))
    }

    /// The cached inventory, with the warning its read gave; moved, not copied (it can be
    /// tens of MiB).
    fn serve(&self, entry: Entry) -> Output {
        warn_all(self.settings, &entry.warnings);
        Output::Cached(entry.body)
    }
}

/// The password, once settings named one: no line this process prints may show it.
static PASSWORD: OnceLock<String> = OnceLock::new();

/// A line as it may be printed: the password redacted (whatever an endpoint sent back)
/// and control characters escaped, so that it stays one line and drives no terminal.
fn printable_line(message: &str) -> String {
    let redacted = match PASSWORD.get() {
        Some(password) => error::redact(message, password),
        None => message.into(),
    };
    error::printable(&redacted).into_owned()
}

fn warn(message: &str) {
    eprintln!("etcd-inventory: warning: {}", printable_line(message));
}

fn warn_all(settings: &Settings, warnings: &Warnings) {
    for line in warnings.lines(&settings.prefix) {
        warn(&line);
    }
}

/// A failed call: a limit says which and how to raise it; anything else is a trap.
fn trapped(trap: wasmtime::Error) -> String {
    match LimitHit::of(&trap) {
        Some(limit) => limit.to_string(),
        None => format!("the component failed: {}", one_line(&trap)),
    }
}

/// A wasmtime error's chain on one line, without the guest backtrace a trap carries: the
/// user gets one line, as for every other error, that still says why (`wasm trap: call
/// stack exhausted`).
fn one_line(error: &wasmtime::Error) -> String {
    let causes = error.chain().map(|cause| cause.to_string());
    let causes: Vec<String> = causes
        .map(|text| {
            text.lines()
                .next()
                .unwrap_or_default()
                .trim_end_matches(':')
                .to_string()
        })
        .filter(|text| !text.is_empty() && text != "error while executing at wasm backtrace")
        .collect();
    causes.join(": ")
}

/// A switch given on the command line, as settings take it: `Some("true")` when present.
fn switch(given: bool) -> Option<String> {
    given.then(|| "true".to_string())
}

fn fail(message: String) -> ExitCode {
    eprintln!("etcd-inventory: {}", printable_line(&message));
    ExitCode::FAILURE
}

/// From here on the process holds a password or a private key: as ssh-agent and gpg-agent
/// do, it is made non-dumpable, so a crash writes no core file with the secret in it (and
/// other processes of the same user may not ptrace it or read its memory).
fn keep_out_of_core_dumps() -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_DUMPABLE takes one integer and touches no memory of ours.
        if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
            return Err(format!(
                "cannot keep the password and key out of core dumps (prctl PR_SET_DUMPABLE): {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}
