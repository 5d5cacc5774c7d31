//! The host's gRPC side (etcd-client), for the write side and checks: a connection made
//! from the same settings the reader uses, consistent paged reads of a prefix, guarded
//! transactions, and etcd's errors said in one line.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, Compare, CompareOp, ConnectOptions, PutOptions, Txn, TxnOp};
use etcd_inventory::etcd::code::{INVALID_ARGUMENT, PERMISSION_DENIED, UNAUTHENTICATED, UNAVAILABLE};
use etcd_inventory::etcd::{EndpointFailure, EtcdError};
use etcd_inventory::import::{Existing, Write};
use etcd_inventory::inventory::Kv;
use etcd_inventory::layout::{KeyRange, Prefix};
use etcd_inventory::settings::Settings;

use crate::reader::Reader;
use crate::tls;

/// Keys handed over at a time by a read (the reader reads etcd in larger reads behind them).
const PAGE_KEYS: u32 = 100_000;

/// A connected client, and what its errors need to name.
#[derive(Clone)]
pub struct GrpcClient {
    client: Client,
    /// Reads go through the reader `--list` uses: its failover, paging and read-ahead.
    reader: Arc<tokio::sync::Mutex<Reader>>,
    endpoints: String,
    user: Option<String>,
}

impl std::fmt::Debug for GrpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcClient")
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

/// Everything under a range at one revision.
#[derive(Debug)]
pub struct Snapshot {
    pub revision: i64,
    pub kvs: Vec<Existing>,
}

impl GrpcClient {
    /// Connects (and authenticates, when a user is set) with the reader's settings:
    /// endpoints, TLS files, credentials, dial and command timeouts.
    pub async fn connect(settings: &Settings) -> Result<GrpcClient, String> {
        let mut options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_millis(settings.dial_timeout_ms.into()))
            .with_timeout(Duration::from_millis(settings.command_timeout_ms.into()));
        if let Some(credentials) = &settings.credentials {
            options = options.with_user(credentials.user.clone(), credentials.password.clone());
        }
        if settings.endpoints.iter().any(|e| e.starts_with("https://")) {
            options = options.with_tls(tls_options(settings)?);
        }
        let endpoints = settings.endpoints.join(",");
        let user = settings.credentials.as_ref().map(|c| c.user.clone());
        let client = Client::connect(&settings.endpoints, Some(options))
            .await
            .map_err(|e| describe(&e, &endpoints, user.as_deref(), "connection"))?;
        Ok(GrpcClient {
            client,
            reader: Arc::new(tokio::sync::Mutex::new(Reader::new(settings)?)),
            endpoints,
            user,
        })
    }

    /// Every key in `range` with its value and last change, read by the one reader
    /// `--list` reads with ([`Reader`]): in pages pinned to the revision of the first, so
    /// that the result is one consistent snapshot. A revision compacted mid-read restarts
    /// the read once, at the newest revision.
    pub async fn read(&self, range: &KeyRange) -> Result<Snapshot, String> {
        let mut reader = self.reader.lock().await;
        match read_pinned(&mut reader, range).await {
            Err(EtcdError::Compacted(_)) => read_pinned(&mut reader, range).await,
            other => other,
        }
        .map_err(|e| e.to_string())
    }

    /// Applies `writes` in one transaction, each guarded by the revision it was planned
    /// against. `Ok(false)`: some key changed meanwhile and nothing in it was written.
    pub async fn apply(&self, writes: &[Write]) -> Result<bool, String> {
        self.apply_guarded(writes, None, None).await
    }

    /// As [`GrpcClient::apply`], with every put under `lease` when one is given, and, with
    /// `unchanged` (a range and the revision it was read at), only if no key in that range
    /// changed since: etcd compares every key of a range alike.
    pub async fn apply_guarded(
        &self,
        writes: &[Write],
        lease: Option<i64>,
        unchanged: Option<(&KeyRange, i64)>,
    ) -> Result<bool, String> {
        let mut compares = Vec::with_capacity(writes.len() + 1);
        let mut ops = Vec::with_capacity(writes.len());
        let put_options = || lease.map(|id| PutOptions::new().with_lease(id));
        if let Some((range, revision)) = unchanged {
            let compare = Compare::mod_revision(range.start.clone(), CompareOp::Less, revision + 1);
            compares.push(compare.with_range(range.end.clone()));
        }
        for write in writes {
            match write {
                Write::Create { key, value } => {
                    compares.push(Compare::create_revision(key.clone(), CompareOp::Equal, 0));
                    ops.push(TxnOp::put(key.clone(), value.clone(), put_options()));
                }
                Write::Change {
                    key,
                    value,
                    mod_revision,
                } => {
                    compares.push(Compare::mod_revision(key.clone(), CompareOp::Equal, *mod_revision));
                    ops.push(TxnOp::put(key.clone(), value.clone(), put_options()));
                }
                Write::Delete { key, mod_revision } => {
                    compares.push(Compare::mod_revision(key.clone(), CompareOp::Equal, *mod_revision));
                    ops.push(TxnOp::delete(key.clone(), None));
                }
            }
        }
        let txn = Txn::new().when(compares).and_then(ops);
        let answer = self
            .client
            .kv_client()
            .txn(txn)
            .await
            .map_err(|e| self.describe(&e, "write"))?;
        Ok(answer.succeeded())
    }

    /// A host's own keys (see [`Prefix::is_own_key`]): its memberships, found among every
    /// membership key, and its variables.
    pub async fn own_keys(&self, prefix: &Prefix, host: &str) -> Result<Vec<Existing>, String> {
        let mut own = self.read(&prefix.members_range()).await?.kvs;
        own.retain(|kv| prefix.is_own_key(&kv.key, host));
        own.extend(self.read(&prefix.host_vars_range(host)).await?.kvs);
        Ok(own)
    }

    /// A new lease of `ttl_s` seconds: its id and the TTL etcd granted.
    pub async fn grant(&self, ttl_s: i64) -> Result<(i64, i64), String> {
        let answer = (self.client.lease_client().grant(ttl_s, None).await).map_err(|e| self.describe(&e, "lease"))?;
        Ok((answer.id(), answer.ttl()))
    }

    /// In one transaction: every `wanted` key put under `lease`, and every key of `own` that
    /// is not wanted deleted. Guarded: `Ok(false)` when one of `own` changed since it was
    /// read, and nothing was written.
    pub async fn put_leased(&self, lease: i64, wanted: &[Kv], own: &[Existing]) -> Result<bool, String> {
        let compares = own
            .iter()
            .map(|old| Compare::mod_revision(old.key.clone(), CompareOp::Equal, old.mod_revision));
        let deletes = (own.iter())
            .filter(|old| !wanted.iter().any(|kv| kv.key == old.key))
            .map(|old| TxnOp::delete(old.key.clone(), None));
        let puts = (wanted.iter()).map(|kv| {
            TxnOp::put(
                kv.key.clone(),
                kv.value.clone(),
                Some(PutOptions::new().with_lease(lease)),
            )
        });
        let txn = Txn::new()
            .when(compares.collect::<Vec<_>>())
            .and_then(deletes.chain(puts).collect::<Vec<_>>());
        let answer = (self.client.kv_client().txn(txn).await).map_err(|e| self.describe(&e, "write"))?;
        Ok(answer.succeeded())
    }

    /// The TTL `lease` was granted, or `None` when etcd no longer has it.
    pub async fn granted_ttl(&self, lease: i64) -> Result<Option<i64>, String> {
        let answer = (self.client.lease_client().time_to_live(lease, None).await)
            .map_err(|e| self.describe(&e, "lease lookup"))?;
        // An expired lease answers a TTL of -1.
        Ok((answer.ttl() >= 0).then_some(answer.granted_ttl()))
    }

    /// Renews `lease` once. `Ok(false)`: etcd no longer has it (it expired).
    pub async fn keep_alive(&self, lease: i64) -> Result<bool, String> {
        match self.client.lease_client().keep_alive(lease).await {
            Ok(_) => Ok(true),
            // What etcd-client says when the answer's TTL is 0: the lease is gone.
            Err(etcd_client::Error::LeaseKeepAliveError(message)) if message == "lease not found" => Ok(false),
            Err(e) => Err(self.describe(&e, "lease renewal")),
        }
    }

    /// Revokes `lease`: etcd deletes every key attached to it, at once.
    pub async fn revoke(&self, lease: i64) -> Result<(), String> {
        match self.client.lease_client().revoke(lease).await {
            Ok(_) => Ok(()),
            // Already gone: its keys went with it.
            Err(etcd_client::Error::GRpcStatus(status)) if status.message().contains("requested lease not found") => {
                Ok(())
            }
            Err(e) => Err(self.describe(&e, "lease revocation")),
        }
    }

    fn describe(&self, error: &etcd_client::Error, doing: &str) -> String {
        describe(error, &self.endpoints, self.user.as_deref(), doing)
    }
}

async fn read_pinned(reader: &mut Reader, range: &KeyRange) -> Result<Snapshot, EtcdError> {
    let mut read = reader.read(range, PAGE_KEYS);
    let mut kvs = Vec::new();
    // Bounded: the reader ends the read when etcd has no more keys, and every read before
    // that brings at least one.
    while let Some(page) = read.next_page(reader).await? {
        kvs.extend(page.into_iter().map(|item| {
            let (mod_revision, lease) = (item.mod_revision(), item.lease());
            let (key, value) = item.into_key_value();
            Existing {
                key,
                value,
                mod_revision,
                lease,
            }
        }));
    }
    Ok(Snapshot {
        revision: read.revision(),
        kvs,
    })
}

/// TLS as the reader's https client does it: the configured CA, else the public roots,
/// and the client certificate when one is set; files read and refused as it does.
pub(crate) fn tls_options(settings: &Settings) -> Result<etcd_client::TlsOptions, String> {
    let read = |path, file| tls::read_pem(path, file).map_err(|e| e.to_string());
    let files = &settings.tls;
    let mut options = etcd_client::TlsOptions::new();
    options = match &files.ca_cert {
        Some(ca) => options.ca_certificate(etcd_client::Certificate::from_pem(read(ca, tls::CA_CERT)?)),
        None => options.with_webpki_roots(),
    };
    if let (Some(cert), Some(key)) = (&files.client_cert, &files.client_key) {
        let identity = etcd_client::Identity::from_pem(read(cert, tls::CLIENT_CERT)?, read(key, tls::CLIENT_KEY)?);
        options = options.identity(identity);
    }
    Ok(options)
}

/// One line: what failed (`doing`: "connection", "read", "write"), etcd's own words, and
/// what to check. Unreachable etcd reads as it does for `--list`.
fn describe(error: &etcd_client::Error, endpoints: &str, user: Option<&str>, doing: &str) -> String {
    let unreachable = |reason: String| {
        EtcdError::Unreachable(vec![EndpointFailure {
            endpoint: endpoints.to_string(),
            reason,
        }])
        .to_string()
    };
    let status = match error {
        etcd_client::Error::GRpcStatus(status) if i32::from(status.code()) != UNAVAILABLE => status,
        etcd_client::Error::GRpcStatus(status) => {
            return unreachable(with_sources(status.message(), std::error::Error::source(status)));
        }
        other => return unreachable(with_sources(&other.to_string(), std::error::Error::source(other))),
    };
    let message = status.message();
    let hint = match i32::from(status.code()) {
        PERMISSION_DENIED => {
            let user = user.map_or("without a user".to_string(), |u| format!("as user {u:?}"));
            format!(" (the etcd user's roles must allow this on the prefix; {user})")
        }
        UNAUTHENTICATED | INVALID_ARGUMENT if message.contains("authentication failed") => {
            " (check ETCDCTL_USER and ETCDCTL_PASSWORD, --user and --password-file, or etcd.ini)".to_string()
        }
        UNAUTHENTICATED | INVALID_ARGUMENT if message.contains("user name is empty") => {
            " (this etcd requires authentication: set ETCDCTL_USER, --user or username in etcd.ini)".to_string()
        }
        INVALID_ARGUMENT if message.contains("too many operations") => {
            " (lower --max-txn-ops to etcd's --max-txn-ops)".to_string()
        }
        INVALID_ARGUMENT if message.contains("request is too large") => {
            " (a value is larger than etcd's --max-request-bytes, 1.5 MiB by default)".to_string()
        }
        _ => String::new(),
    };
    format!("etcd at {endpoints} refused the {doing}: {message}{hint}")
}

/// A message and the errors beneath it on one line (transport errors keep the useful part,
/// such as "Connection refused", in a source).
pub(crate) fn with_sources(message: &str, mut source: Option<&(dyn std::error::Error + 'static)>) -> String {
    let mut text = message.to_string();
    while let Some(inner) = source {
        let part = inner.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
        source = inner.source();
    }
    text
}

/// Why etcd could not be reached, in the words the gateway component uses where the causes
/// are the same (refused, timed out, TLS), and with what to check otherwise.
pub(crate) fn unreachable_reason(
    error: &etcd_client::Error,
    https: bool,
    private_ca: bool,
    client_identity: bool,
) -> String {
    let (message, source): (String, Option<&(dyn std::error::Error + 'static)>) = match error {
        etcd_client::Error::GRpcStatus(status) => (status.message().to_string(), std::error::Error::source(status)),
        etcd_client::Error::TransportError(e) => (String::new(), Some(e)),
        other => (other.to_string(), None),
    };
    let causes = std::iter::successors(source, |cause| cause.source());
    for cause in causes {
        let io = cause.downcast_ref::<std::io::Error>();
        match io.map(std::io::Error::kind) {
            Some(std::io::ErrorKind::ConnectionRefused) => return "connection refused".to_string(),
            Some(std::io::ErrorKind::TimedOut) => return "connection timed out".to_string(),
            _ => {}
        }
        let rustls = (io.and_then(|io| io.get_ref()))
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .or_else(|| cause.downcast_ref::<rustls::Error>());
        if let Some(rustls) = rustls {
            return tls::describe_tls(rustls, private_ca, client_identity);
        }
    }
    let text = with_sources(&message, source);
    // An HTTP/1 answer read as HTTP/2 frames: its first bytes make an impossible frame
    // length. (A real etcd's stream cut short says "bytes remaining on stream" instead.)
    let advice = if text.contains("frame with invalid size") {
        "; this is not etcd's gRPC API: if only etcd's JSON gateway can be reached there, set --transport gateway"
            .to_string()
    } else if https
        && !client_identity
        && ["closed", "canceled", "received fatal alert"]
            .iter()
            .any(|end| text.contains(end))
    {
        // With TLS 1.3, etcd refuses a missing client certificate after the handshake: the
        // connection ends, or, as timing has it, its alert (BadCertificate) comes as text.
        format!(
            "; etcd closed the TLS connection, so perhaps {}",
            tls::client_certificate_check(false)
        )
    } else {
        String::new()
    };
    format!("gRPC: {text}{advice}")
}
