//! `etcd-inventory`: an Ansible inventory script (`--list`, `--host NAME`) that reads etcd.
//! Settings are resolved by the component crate's one implementation; the inventory is
//! built by the component, run in a wasmtime sandbox. Errors: one line on stderr, nothing on
//! stdout, exit 1 (usage errors exit 2, as clap does).

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use etcd_inventory::cli::Mode;
use etcd_inventory::settings::{self, Flags};
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
    let answer = runtime
        .block_on(sandbox.run(&mode, &settings, &egress))
        .map_err(|trap| format!("the component failed: {}", one_line(&trap)))?
        .map_err(|e| e.to_string())?;
    if let Some(skipped) = &answer.skipped {
        eprintln!(
            "etcd-inventory: warning: {}",
            etcd_inventory::skipped_warning(&settings.prefix, skipped)
        );
    }
    Ok(answer.json)
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
