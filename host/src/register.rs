//! `register` and `deregister`: a host that puts itself into the inventory under a lease and
//! keeps the lease alive while it runs, and the removal of a host's own keys. The keys are
//! the core's (`import::encode_registration`, the import's value rules); etcd is reached
//! over gRPC with the import's connection settings.

use std::future::Future;
use std::time::Duration;

use etcd_inventory::import::{self, ImportOptions, Registration, Write};
use etcd_inventory::inventory::Kv;
use etcd_inventory::settings::Settings;
use serde_json::Value;

use crate::grpc::GrpcClient;

/// The longest lease etcd grants (its MaxLeaseTTL), in seconds.
pub const MAX_TTL_S: i64 = etcd_inventory::apply::MAX_LEASE_TTL_S;
/// Attempts at a guarded transaction over a host's own keys, which someone else may be
/// changing meanwhile (a second registrar of the same host, an import).
const TXN_ATTEMPTS: usize = 5;
/// The longest pause between retries while etcd cannot be reached.
const MAX_RETRY: Duration = Duration::from_secs(1);

/// What `register` was asked.
#[derive(Debug, Clone)]
pub struct RegisterRequest {
    pub host: String,
    pub groups: Vec<String>,
    pub vars: Vec<(String, Value)>,
    pub ttl_s: i64,
    /// Grant, write and return, without keeping the lease alive.
    pub once: bool,
}

/// A `--ttl` value: whole seconds from 1 to etcd's maximum lease TTL.
pub fn parse_ttl(text: &str) -> Result<i64, String> {
    match text.parse::<i64>() {
        Ok(ttl) if (1..=MAX_TTL_S).contains(&ttl) => Ok(ttl),
        _ => Err(format!(
            "--ttl {text:?} is not a number of seconds from 1 to {MAX_TTL_S} (etcd's longest lease)"
        )),
    }
}

/// A `--var NAME=TEXT` (the text is a string, as a file's string) or, with `json`, a
/// `--json-var NAME=JSON` (any JSON value, as a file's value).
pub fn parse_var(text: &str, json: bool) -> Result<(String, Value), String> {
    let flag = if json { "--json-var" } else { "--var" };
    let Some((name, value)) = text.split_once('=').filter(|(name, _)| !name.is_empty()) else {
        return Err(format!("{flag} {text:?} is not NAME=VALUE"));
    };
    let value = match json {
        true => serde_json::from_str(value).map_err(|e| format!("{flag} {name}: the value is not JSON ({e})"))?,
        false => Value::String(value.to_string()),
    };
    Ok((name.to_string(), value))
}

/// The keys of a registration, checked as `import` checks a file: nothing is sent to etcd
/// when they are wrong.
pub fn encode(settings: &Settings, request: &RegisterRequest) -> Result<Vec<Kv>, String> {
    if request.groups.is_empty() && request.vars.is_empty() {
        return Err(format!(
            "nothing to register for {:?}: give at least one --group, --var or --json-var",
            request.host
        ));
    }
    let mut names: Vec<&str> = request.vars.iter().map(|(name, _)| name.as_str()).collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(format!("variable {:?} is given twice", pair[0]));
    }
    let registration = Registration {
        host: &request.host,
        groups: &request.groups,
        vars: &request.vars,
    };
    let options = ImportOptions {
        values: settings.values,
        strict: false,
    };
    let encoded = import::encode_registration(&settings.prefix, registration, options)
        .map_err(|e| format!("cannot register {:?}: {e}", request.host))?;
    Ok(encoded.pairs)
}

/// A granted lease with the host's keys under it.
#[derive(Debug, Clone, Copy)]
struct Lease {
    id: i64,
    ttl_s: i64,
}

/// Where a running registrar says what happens: the registration line (stdout) and the
/// trouble it rides out (warnings, stderr).
#[derive(Clone, Copy)]
pub struct Say<'a> {
    pub line: &'a dyn Fn(&str),
    pub warn: &'a dyn Fn(&str),
}

impl std::fmt::Debug for Say<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Say")
    }
}

/// Registers the host, then (unless `once`) keeps its lease alive until `stop` completes,
/// and revokes it then. Returns the last line to print.
pub async fn register(
    settings: &Settings,
    request: &RegisterRequest,
    say: Say<'_>,
    stop: impl Future<Output = ()>,
) -> Result<String, String> {
    let warn = say.warn;
    let wanted = encode(settings, request)?;
    let etcd = GrpcClient::connect(settings).await?;
    let mut lease = write_under_new_lease(&etcd, settings, request, &wanted).await?;
    let line = |lease: Lease| {
        format!(
            "registered {:?} under {}/ with {} key(s), lease {:x} (TTL {} s)",
            request.host,
            settings.prefix.as_str(),
            wanted.len(),
            lease.id,
            lease.ttl_s
        )
    };
    if request.once {
        return Ok(line(lease));
    }
    (say.line)(&line(lease));

    // Renewed at a third of the TTL, so two renewals may fail before the lease expires;
    // while etcd cannot be reached, tried again at least every second.
    let interval = Duration::from_millis((lease.ttl_s as u64).saturating_mul(1000) / 3).max(Duration::from_millis(200));
    let retry = interval.min(MAX_RETRY);
    // Each attempt (a reconnection included) is bounded, so the loop keeps its pace.
    let attempt_limit =
        Duration::from_millis(u64::from(settings.dial_timeout_ms) + u64::from(settings.command_timeout_ms));
    let mut client = Some(etcd);
    let mut lost: Option<String> = None;
    let mut stop = std::pin::pin!(stop);
    // Ends only when `stop` does (SIGTERM, SIGINT).
    loop {
        let pause = if lost.is_some() { retry } else { interval };
        tokio::select! {
            () = &mut stop => break,
            () = tokio::time::sleep(pause) => {}
        }
        let renewal = async {
            tokio::time::timeout(
                attempt_limit,
                renew(settings, request, &wanted, &mut client, &mut lease),
            )
            .await
            .unwrap_or_else(|_| Err(format!("etcd did not answer within {} ms", attempt_limit.as_millis())))
        };
        let outcome = tokio::select! {
            () = &mut stop => break,
            outcome = renewal => outcome,
        };
        match outcome {
            Ok(Renewal::Renewed) => {
                if lost.take().is_some() {
                    warn(&format!(
                        "etcd answers again; lease {:x} held, {:?} stays registered",
                        lease.id, request.host
                    ));
                }
            }
            Ok(Renewal::Again) => {
                lost = None;
                warn(&format!("the lease had expired: {}", line(lease)));
            }
            Err(e) => {
                // Reconnect on the next attempt: a fresh client, a fresh token.
                client = None;
                if lost.is_none() {
                    warn(&format!(
                        "cannot renew lease {:x}, retrying every {} ms (the host stays until the TTL runs out): {e}",
                        lease.id,
                        retry.as_millis()
                    ));
                }
                lost = Some(e);
            }
        }
    }
    revoke(settings, client, lease, attempt_limit).await?;
    Ok(format!(
        "deregistered {:?}: lease {:x} revoked, its keys deleted",
        request.host, lease.id
    ))
}

/// What one renewal did.
enum Renewal {
    Renewed,
    /// The lease was gone (it expired while etcd could not be reached): registered again.
    Again,
}

async fn renew(
    settings: &Settings,
    request: &RegisterRequest,
    wanted: &[Kv],
    client: &mut Option<GrpcClient>,
    lease: &mut Lease,
) -> Result<Renewal, String> {
    let etcd = match client {
        Some(etcd) => etcd,
        None => client.insert(GrpcClient::connect(settings).await?),
    };
    if etcd.keep_alive(lease.id).await? {
        return Ok(Renewal::Renewed);
    }
    *lease = write_under_new_lease(etcd, settings, request, wanted).await?;
    Ok(Renewal::Again)
}

/// Grants a lease and, in one transaction, puts the wanted keys under it and deletes the
/// host's own keys that are no longer wanted.
async fn write_under_new_lease(
    etcd: &GrpcClient,
    settings: &Settings,
    request: &RegisterRequest,
    wanted: &[Kv],
) -> Result<Lease, String> {
    let (id, ttl_s) = etcd.grant(request.ttl_s).await?;
    let lease = Lease { id, ttl_s };
    for _ in 0..TXN_ATTEMPTS {
        let written = async {
            let own = etcd.own_keys(&settings.prefix, &request.host).await?;
            etcd.put_leased(id, wanted, &own).await
        };
        match written.await {
            Ok(true) => return Ok(lease),
            Ok(false) => continue,
            Err(e) => {
                // Best effort: an unused lease would expire anyway.
                let _ = etcd.revoke(id).await;
                return Err(e);
            }
        }
    }
    let _ = etcd.revoke(id).await;
    Err(format!(
        "the keys of {:?} kept changing while registering ({TXN_ATTEMPTS} attempts): is another registrar or \
         an import writing them?",
        request.host
    ))
}

async fn revoke(settings: &Settings, client: Option<GrpcClient>, lease: Lease, limit: Duration) -> Result<(), String> {
    let revoked = async {
        let etcd = match client {
            Some(etcd) => etcd,
            None => GrpcClient::connect(settings).await?,
        };
        etcd.revoke(lease.id).await
    };
    tokio::time::timeout(limit, revoked)
        .await
        .unwrap_or_else(|_| Err(format!("etcd did not answer within {} ms", limit.as_millis())))
        .map_err(|e| {
            format!(
                "cannot revoke lease {:x} (the host stays registered until its TTL of {} s runs out): {e}",
                lease.id, lease.ttl_s
            )
        })
}

/// `deregister HOST`: deletes the host's own keys (memberships and variables) in one
/// guarded transaction, whatever wrote them; nothing else.
pub async fn deregister(settings: &Settings, host: &str) -> Result<String, String> {
    import::check_name("host", host).map_err(|e| format!("cannot deregister: {e}"))?;
    let etcd = GrpcClient::connect(settings).await?;
    for _ in 0..TXN_ATTEMPTS {
        let own = etcd.own_keys(&settings.prefix, host).await?;
        let deletes: Vec<Write> = (own.iter())
            .map(|old| Write::Delete {
                key: old.key.clone(),
                mod_revision: old.mod_revision,
            })
            .collect();
        if deletes.is_empty() || etcd.apply(&deletes).await? {
            return Ok(format!(
                "deregistered {host:?}: {} key(s) deleted under {}/",
                deletes.len(),
                settings.prefix.as_str()
            ));
        }
    }
    Err(format!(
        "the keys of {host:?} kept changing while deregistering ({TXN_ATTEMPTS} attempts): is a registrar of it \
         still running?"
    ))
}
