//! `etcd-inventory`: an Ansible inventory script (`--list`, `--host NAME`) that reads etcd.
//! Settings are resolved by the component crate's one implementation; the inventory is
//! built by the component, run in a wasmtime sandbox. Errors: one line on stderr, nothing on
//! stdout, exit 1 (usage errors exit 2, as clap does).

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use etcd_inventory::Answer;
use etcd_inventory::cli::Mode;
use etcd_inventory::error::Error;
use etcd_inventory::inventory::Skipped;
use etcd_inventory::settings::{self, Flags, Settings};
use etcd_inventory_host::cache::{Cache, Entry};
use etcd_inventory_host::{EgressPolicy, Sandbox};

/// Ansible dynamic inventory from etcd (v3 JSON gateway), run in a WebAssembly sandbox.
///
/// Settings: flag > environment > etcd.ini (ETCD_INI_PATH, else etcd.ini beside this
/// binary; [etcd] host, port, secure, ca_cert, client_cert, client_key, username,
/// password, prefix, ...) > default. The password is never a flag: use ETCDCTL_USER
/// (name:password), ETCDCTL_PASSWORD, --password-file or etcd.ini.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["list", "host"])))]
struct Cli {
    /// Print the whole inventory (Ansible inventory-script JSON).
    #[arg(long)]
    list: bool,
    /// Print one host's variables ({} for an unknown host).
    #[arg(long, value_name = "NAME")]
    host: Option<String>,
    /// etcd endpoints, comma-separated [env: ETCDCTL_ENDPOINTS] [default: http://127.0.0.1:2379]
    #[arg(long, value_name = "URLS")]
    endpoints: Option<String>,
    /// Key prefix of the inventory [env: ETCD_INVENTORY_PREFIX] [default: /ansible]
    #[arg(long)]
    prefix: Option<String>,
    /// Most keys per range request; pages also stay near 1 MiB [env: ETCD_INVENTORY_PAGE_SIZE] [default: 10000]
    #[arg(long, value_name = "N")]
    page_size: Option<String>,
    /// Time to connect to one endpoint [env: ETCDCTL_DIAL_TIMEOUT] [default: 2s]
    #[arg(long, value_name = "DURATION")]
    dial_timeout: Option<String>,
    /// Time to wait for each answer to start, and between its bytes; a stalled member
    /// passes the read to the next [env: ETCDCTL_COMMAND_TIMEOUT] [default: 5s]
    #[arg(long, value_name = "DURATION")]
    command_timeout: Option<String>,
    /// CA certificate (PEM) that signed etcd's certificate, instead of the public roots
    /// [env: ETCDCTL_CACERT]
    #[arg(long, value_name = "FILE")]
    cacert: Option<String>,
    /// Client certificate (PEM) for etcd's --client-cert-auth [env: ETCDCTL_CERT]
    #[arg(long, value_name = "FILE")]
    cert: Option<String>,
    /// Private key (PEM) of the client certificate [env: ETCDCTL_KEY]
    #[arg(long, value_name = "FILE")]
    key: Option<String>,
    /// etcd user name (the password is not a flag) [env: ETCDCTL_USER, as NAME or NAME:PASSWORD]
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// File whose first line is the etcd user's password [or env: ETCDCTL_PASSWORD]
    #[arg(long, value_name = "FILE")]
    password_file: Option<String>,
    /// Emit values as plain strings that Ansible renders as templates; by default they are
    /// marked unsafe [env: ETCD_INVENTORY_TRUST_TEMPLATES]
    #[arg(long)]
    trust_templates: bool,
    /// Decode values that are JSON into booleans, numbers, lists and maps
    /// [env: ETCD_INVENTORY_TYPED_VALUES]
    #[arg(long)]
    typed_values: bool,
    /// Build nested maps from deeper keys such as hostvars/HOST/nginx/port
    /// [env: ETCD_INVENTORY_NESTED_KEYS]
    #[arg(long)]
    nested_keys: bool,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(json) => {
            let mut out = std::io::stdout().lock();
            match out
                .write_all(json.as_bytes())
                .and_then(|()| out.write_all(b"\n"))
                .and_then(|()| out.flush())
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(format!("cannot write the inventory: {e}")),
            }
        }
        Err(message) => fail(message),
    }
}

/// Everything but printing: the JSON to print, or the one line that says what failed.
fn run(cli: Cli) -> Result<String, String> {
    let mode = match cli.host {
        Some(host) => Mode::Host(host),
        None => Mode::List,
    };
    let flags = Flags {
        endpoints: cli.endpoints,
        prefix: cli.prefix,
        page_size: cli.page_size,
        dial_timeout: cli.dial_timeout,
        command_timeout: cli.command_timeout,
        cacert: cli.cacert,
        cert: cli.cert,
        key: cli.key,
        user: cli.user,
        password_file: cli.password_file,
        trust_templates: switch(cli.trust_templates),
        typed_values: switch(cli.typed_values),
        nested_keys: switch(cli.nested_keys),
        cache: switch(cli.cache),
        cache_path: cli.cache_path,
        cache_max_age: cli.cache_max_age,
        stale_cache_fallback: switch(cli.stale_cache_fallback),
        refresh_cache: switch(cli.refresh_cache),
    };
    let env = |name: &str| std::env::var(name).ok();
    let exe = std::env::current_exe().ok();
    let ini = settings::load_ini(&env, exe.as_deref()).map_err(|e| e.to_string())?;
    let settings = settings::resolve(&flags, &env, ini.as_ref()).map_err(|e| e.to_string())?;
    let egress = EgressPolicy::new(&settings.endpoints, &settings.tls).map_err(|e| e.to_string())?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the I/O runtime: {e}"))?;
    let sandbox = Sandbox::new().map_err(|e| format!("cannot load the component: {}", one_line(&e)))?;
    let call = Call {
        runtime: &runtime,
        sandbox: &sandbox,
        settings: &settings,
        egress: &egress,
    };
    let answer = match mode {
        Mode::List if settings.cache.enabled => return call.list_cached(),
        mode => call.answer(&mode)?,
    };
    warn_skipped(&settings, answer.skipped.as_ref());
    Ok(answer.json)
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
    fn list_cached(&self) -> Result<String, String> {
        let options = &self.settings.cache;
        let cache = Cache::new(self.settings);
        let entry = cache.load().unwrap_or_else(|warning| {
            warn(&warning);
            None
        });
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
        warn_skipped(self.settings, answer.skipped.as_ref());
        Ok(answer.json)
    }

    /// With the stale fallback on and no endpoint answering, the cached inventory, with a
    /// warning saying how old it is; otherwise the error.
    fn stale_or(&self, entry: Entry, error: Error) -> Result<String, String> {
        if !(self.settings.cache.stale_fallback && matches!(error, Error::Unreachable(_))) {
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
    fn serve(&self, entry: Entry) -> String {
        warn_skipped(self.settings, entry.skipped.as_ref());
        entry.json
    }
}

fn warn(message: &str) {
    eprintln!("etcd-inventory: warning: {message}");
}

fn warn_skipped(settings: &Settings, skipped: Option<&Skipped>) {
    if let Some(skipped) = skipped {
        warn(&etcd_inventory::skipped_warning(&settings.prefix, skipped));
    }
}

fn trapped(trap: wasmtime::Error) -> String {
    format!("the component failed: {}", one_line(&trap))
}

/// A wasmtime error's chain on one line, without the guest backtrace a trap carries on the
/// lines after it: the user gets one line, as for every other error.
fn one_line(error: &wasmtime::Error) -> String {
    format!("{error:#}").lines().next().unwrap_or_default().to_string()
}

/// A switch given on the command line, as settings take it: `Some("true")` when present.
fn switch(given: bool) -> Option<String> {
    given.then(|| "true".to_string())
}

fn fail(message: String) -> ExitCode {
    eprintln!("etcd-inventory: {message}");
    ExitCode::FAILURE
}
