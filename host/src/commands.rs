//! The commands besides the inventory script (`listing`): `check`, which runs in the
//! component's sandbox, the write side (`import`, `register`, `deregister`, `apply`) over
//! gRPC, and `component`, which writes the embedded component out.

use std::io::Read as _;

use etcd_inventory::apply::Request;
use etcd_inventory::settings::Settings;

use crate::apply::{self, ApplyReport};
use crate::args::{ApplyArgs, ImportArgs, RegisterArgs};
use crate::error::Failure;
use crate::register::{self, RegisterRequest, Say};
use crate::sandbox::{COMPONENT, CheckReport};
use crate::say::{line, warn};
use crate::write_side::{self, ImportRequest};
use crate::{EgressPolicy, Sandbox};

/// `check`: the component reads etcd and checks the keys in its sandbox, within the same
/// memory and time limits as `--list` (the keys come from etcd, which is not ours to trust).
pub fn check(runtime: &tokio::runtime::Runtime, settings: &Settings) -> Result<CheckReport, Failure> {
    let egress = EgressPolicy::for_settings(settings).map_err(Failure::Connection)?;
    let sandbox = Sandbox::new(&settings.limits, settings.transport).map_err(Failure::Load)?;
    runtime
        .block_on(sandbox.check(settings, &egress))
        .map_err(Failure::from_call)?
        .map_err(Failure::Core)
}

/// `component --output FILE`: the embedded component, byte for byte. `None` when it goes
/// to standard output (`-`), else the line that says where it went.
pub fn write_component(path: &str) -> Result<Option<String>, Failure> {
    if path == "-" {
        return Ok(None);
    }
    std::fs::write(path, COMPONENT).map_err(Failure::io(format!("write the component to {path}")))?;
    Ok(Some(format!("wrote {path} ({} bytes)", COMPONENT.len())))
}

/// `import`: the file (or standard input) checked whole, then written.
pub async fn import(settings: &Settings, args: ImportArgs) -> Result<String, Failure> {
    let (json, source) = if args.file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(Failure::io("read the inventory from standard input"))?;
        (text, "standard input".to_string())
    } else {
        let text = std::fs::read_to_string(&args.file).map_err(Failure::io(format!("read {}", args.file)))?;
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
    let report = write_side::import(settings, request).await.map_err(Failure::Command)?;
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

/// `register`: the request checked before anything is sent, the stop signals set up before
/// the lease exists (a signal during registration then revokes it right after).
pub async fn register(settings: &Settings, args: RegisterArgs) -> Result<String, Failure> {
    let ttl_s = register::parse_ttl(&args.ttl).map_err(Failure::Command)?;
    let strings = args.vars.iter().map(|v| register::parse_var(v, false));
    let json = args.json_vars.iter().map(|v| register::parse_var(v, true));
    let request = RegisterRequest {
        host: args.host,
        groups: args.groups,
        vars: strings
            .chain(json)
            .collect::<Result<_, _>>()
            .map_err(Failure::Command)?,
        ttl_s,
        once: args.once,
    };
    register::encode(settings, &request).map_err(Failure::Command)?;
    // `--once` keeps the default actions: a signal ends it at once, as any command.
    let stop: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> = if request.once {
        Box::pin(std::future::pending())
    } else {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind| signal(kind).map_err(Failure::io("listen for signals"));
        let (mut term, mut int) = (listen(SignalKind::terminate())?, listen(SignalKind::interrupt())?);
        Box::pin(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    };
    // The registration is announced as it happens: a supervisor may wait for the line.
    let say = Say {
        line: &line,
        warn: &warn,
    };
    register::register(settings, &request, say, stop)
        .await
        .map_err(Failure::Command)
}

/// `deregister`: the host's own keys, in one transaction.
pub async fn deregister(settings: &Settings, host: &str) -> Result<String, Failure> {
    register::deregister(settings, host).await.map_err(Failure::Command)
}

/// The most bytes of an `apply` request: far above a host's or group's keys, which one
/// transaction must carry (etcd takes 1.5 MiB by default).
const MAX_REQUEST_BYTES: u64 = 4 << 20;

/// `apply`: the request read from standard input (bounded), made, and said as one line.
pub async fn apply(settings: &Settings, args: ApplyArgs) -> Result<String, Failure> {
    let mut text = String::new();
    std::io::stdin()
        .take(MAX_REQUEST_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(Failure::io("read the request from standard input"))?;
    if text.len() as u64 > MAX_REQUEST_BYTES {
        return Err(Failure::Command(format!(
            "the request on standard input is larger than {} MiB",
            MAX_REQUEST_BYTES >> 20
        )));
    }
    let request = Request::from_json(&text).map_err(|e| Failure::Command(e.to_string()))?;
    let report: ApplyReport = apply::apply(settings, &request, args.dry_run)
        .await
        .map_err(Failure::Command)?;
    if report.non_strings > 0 && !settings.values.typed_values {
        warn(&format!(
            "{} value(s) are not strings: written as JSON text, which reads back as the same types only with \
             typed values on (typed_values, ETCD_INVENTORY_TYPED_VALUES or typed_values in etcd.ini)",
            report.non_strings
        ));
    }
    Ok(report.to_json())
}
