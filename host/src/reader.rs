//! The host's one reader of etcd over gRPC (etcd-client): the component's `etcd` import
//! under `--transport grpc`, and the reads of `import`, `register` and `deregister`.
//!
//! It owns what the JSON gateway component owns on its side: a connection per member (with
//! the user's token, renewed once if etcd rejects it), failover to the next member when one
//! cannot be reached, stalls or has no leader, and paged reads pinned to the revision of
//! the first page. It reads ahead: etcd 3.4 counts every key left in the range to answer
//! each read, so small pages would cost it quadratic work on a large prefix. Pages are
//! therefore served from reads of up to [`MAX_READ_KEYS`] keys, and the read after them is
//! under way while the component builds the inventory from these.

use std::collections::VecDeque;
use std::time::Duration;

use etcd_client::{Client, ConnectOptions, GetOptions, GetResponse, KeyValue, KvClient};
use etcd_inventory::etcd::{EndpointFailure, EtcdError, RangeStamp, Refusal, code};
use etcd_inventory::layout::KeyRange;
use etcd_inventory::settings::{Credentials, Settings};

/// Keys in the first read: small, so that the component starts work early.
const FIRST_READ_KEYS: i64 = 1 << 14;
/// Keys in each later read. etcd 3.4 visits every key left in the range for each read
/// (about 0.15 µs a key here), so n keys cost it n²/2p visits in reads of p: for 1.1
/// million keys, 0.9 s of etcd CPU at 100,000 hosts. A read of 262,144 inventory keys is
/// about 25 MB in the host.
const MAX_READ_KEYS: i64 = 1 << 18;
/// ... and fewer when values are large: about this many bytes of keys and values per read,
/// judged by the first read, so that one read stays well inside the request timeout.
const MAX_READ_BYTES: usize = 32 << 20;
/// The largest gRPC answer accepted (tonic's default, 4 MiB, is far below one read ahead).
const MAX_ANSWER_BYTES: usize = 1 << 30;
/// Before each round over the endpoints: the first goes at once, the others wait for a
/// leader to be elected (etcd's default election timeout is 1 s).
const UNAVAILABLE_PAUSES_MS: [u64; 5] = [0, 250, 750, 1500, 3000];

/// etcd over gRPC: one lazily made connection per endpoint, tried in order from the one
/// that answered last.
pub struct Reader {
    endpoints: Vec<String>,
    credentials: Option<Credentials>,
    dial: Duration,
    request: Duration,
    tls: Option<etcd_client::TlsOptions>,
    private_ca: bool,
    client_identity: bool,
    sessions: Vec<Option<Session>>,
    current: usize,
    /// Set once a rejected token was renewed: a second rejection is an error, not a loop.
    reauthenticated: bool,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").field("endpoints", &self.endpoints).finish()
    }
}

#[derive(Clone)]
struct Session {
    kv: KvClient,
    lease: etcd_client::LeaseClient,
}

/// Why one attempt on one endpoint failed.
enum Attempt {
    /// Not reached (refused, timed out, broken off): try the next one.
    Unreachable(String),
    /// Reached, but it has no leader now: try the next, and come round again.
    Unavailable(String),
    /// etcd refused the user name or password.
    AuthFailed,
    /// etcd's answer: final.
    Refused(Refusal),
}

impl Reader {
    /// A reader for the endpoints, user, timeouts and TLS files of `settings` (the files
    /// are read here). Nothing is connected before the first request.
    pub fn new(settings: &Settings) -> Result<Reader, String> {
        let tls = match settings.endpoints.iter().any(|e| e.starts_with("https://")) {
            true => Some(crate::grpc::tls_options(settings)?),
            false => None,
        };
        Ok(Reader {
            endpoints: settings.endpoints.clone(),
            credentials: settings.credentials.clone(),
            dial: Duration::from_millis(settings.dial_timeout_ms.into()),
            request: Duration::from_millis(settings.command_timeout_ms.into()),
            tls,
            private_ca: settings.tls.ca_cert.is_some(),
            client_identity: settings.tls.client_cert.is_some(),
            sessions: vec![None; settings.endpoints.len()],
            current: 0,
            reauthenticated: false,
        })
    }

    /// Up to `limit` keys of `[start, end)` at `revision` (0: the newest), with failover.
    pub async fn range(
        &mut self,
        start: &[u8],
        end: &[u8],
        limit: i64,
        revision: i64,
    ) -> Result<GetResponse, EtcdError> {
        let options = GetOptions::new()
            .with_range(end.to_vec())
            .with_limit(limit)
            .with_revision(revision);
        self.get(start, options).await
    }

    /// The cluster's current revision, from a count-only lookup of `key`.
    pub async fn current_revision(&mut self, key: &[u8]) -> Result<i64, EtcdError> {
        let answer = self.get(key, GetOptions::new().with_count_only()).await?;
        Ok(answer.header().map_or(0, |h| h.revision()))
    }

    /// How many keys `range` holds and whether one was written after `after`: one key,
    /// no value, read.
    pub async fn stamp(&mut self, range: &KeyRange, after: i64) -> Result<RangeStamp, EtcdError> {
        let options = GetOptions::new()
            .with_range(range.end.clone())
            .with_limit(1)
            .with_keys_only()
            // Saturating: a stamp of i64::MAX then reads as changed, never as an overflow.
            .with_min_mod_revision(after.saturating_add(1));
        let answer = self.get(&range.start, options).await?;
        Ok(RangeStamp {
            revision: answer.header().map_or(0, |h| h.revision()),
            count: u64::try_from(answer.count()).unwrap_or(0),
            modified: !answer.kvs().is_empty(),
        })
    }

    /// Seconds `lease` has left (-1: etcd no longer has it); `None` when etcd refuses to
    /// say (a user without permission): `check` goes on without it.
    pub async fn lease_ttl(&mut self, lease: i64) -> Result<Option<i64>, EtcdError> {
        let answer = self
            .call(b"", |session| async move {
                let mut lease_client = session.lease;
                lease_client.time_to_live(lease, None).await
            })
            .await;
        match answer {
            Ok(answer) => Ok(Some(answer.ttl())),
            Err(EtcdError::Refused(_) | EtcdError::PermissionDenied { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A paged read of `range`, pinned to the revision of its first page.
    pub fn read(&self, range: &KeyRange, page_size: u32) -> PagedRead {
        PagedRead {
            range: range.clone(),
            page_size: page_size.max(1) as usize,
            revision: 0,
            next_key: range.start.clone(),
            buffered: VecDeque::new(),
            more: true,
            started: false,
            key_bytes: 0,
            ahead: None,
        }
    }

    async fn get(&mut self, key: &[u8], options: GetOptions) -> Result<GetResponse, EtcdError> {
        self.call(key, |session| {
            let (mut kv, key, options) = (session.kv, key.to_vec(), options.clone());
            async move { kv.get(key, Some(options)).await }
        })
        .await
    }

    /// Runs `op` on the current endpoint, then on each other in turn, until one answers.
    /// Members without a leader count as no answer; when only such answers came, waits and
    /// goes round again, a bounded number of times: an election takes a second or two.
    /// `start` is the key the request is about, for a permission error.
    async fn call<T, F, Fut>(&mut self, start: &[u8], op: F) -> Result<T, EtcdError>
    where
        F: Fn(Session) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let mut failures = Vec::new();
        let mut rounds = UNAVAILABLE_PAUSES_MS.iter();
        // Bounded: five rounds, and one more after the one renewal of a rejected token.
        while let Some(pause_ms) = rounds.next() {
            tokio::time::sleep(Duration::from_millis(*pause_ms)).await;
            failures.clear();
            let mut any_unavailable = false;
            for step in 0..self.endpoints.len() {
                let index = (self.current + step) % self.endpoints.len();
                let endpoint = self.endpoints[index].clone();
                let attempt = match self.session(index).await {
                    Ok(session) => match tokio::time::timeout(self.request, op(session)).await {
                        Ok(Ok(answer)) => {
                            self.current = index;
                            return Ok(answer);
                        }
                        Ok(Err(e)) => self.attempt(&e),
                        Err(_) => Attempt::Unreachable("timed out waiting for an answer".to_string()),
                    },
                    Err(attempt) => attempt,
                };
                let reason = match attempt {
                    Attempt::Unreachable(reason) => {
                        // A broken connection is made again on the next try.
                        self.sessions[index] = None;
                        reason
                    }
                    Attempt::Unavailable(message) => {
                        any_unavailable = true;
                        format!("unavailable ({message})")
                    }
                    Attempt::AuthFailed => {
                        let user = self.credentials.as_ref().map(|c| c.user.clone()).unwrap_or_default();
                        return Err(EtcdError::AuthFailed { user, endpoint });
                    }
                    Attempt::Refused(refusal)
                        if refusal.code == Some(code::UNAUTHENTICATED)
                            && self.credentials.is_some()
                            && !self.reauthenticated =>
                    {
                        // The token expired: log in again once, and send the request again.
                        self.reauthenticated = true;
                        self.sessions[index] = None;
                        rounds = UNAVAILABLE_PAUSES_MS[..1].iter();
                        any_unavailable = true;
                        break;
                    }
                    Attempt::Refused(mut refusal) => {
                        refusal.endpoint = endpoint;
                        let user = self.credentials.as_ref().map(|c| c.user.clone());
                        return Err(EtcdError::from_refusal(refusal, user, start));
                    }
                };
                failures.push(EndpointFailure { endpoint, reason });
            }
            if !any_unavailable {
                break;
            }
        }
        Err(EtcdError::Unreachable(failures))
    }

    /// The connection to endpoint `index`, made (and logged in) on first use. etcd without
    /// auth enabled refuses a login: the reads then go on without a user, as etcdctl does.
    async fn session(&mut self, index: usize) -> Result<Session, Attempt> {
        if let Some(session) = &self.sessions[index] {
            return Ok(session.clone());
        }
        let endpoint = self.endpoints[index].clone();
        let mut options = ConnectOptions::new().with_connect_timeout(self.dial);
        if let Some(tls) = &self.tls {
            options = options.with_tls(tls.clone());
        }
        let anonymous = options.clone();
        if let Some(c) = &self.credentials {
            options = options.with_user(c.user.clone(), c.password.clone());
        }
        let connect = |options| async {
            match tokio::time::timeout(self.dial + self.request, Client::connect([&endpoint], Some(options))).await {
                Ok(connected) => connected.map_err(|e| self.attempt(&e)),
                Err(_) => Err(Attempt::Unreachable("connection timed out".to_string())),
            }
        };
        let client = match connect(options).await {
            Err(Attempt::Refused(r)) if r.code == Some(code::FAILED_PRECONDITION) => connect(anonymous).await,
            Err(Attempt::Refused(r)) if self.credentials.is_some() && r.code == Some(code::INVALID_ARGUMENT) => {
                Err(Attempt::AuthFailed)
            }
            other => other,
        }?;
        let session = Session {
            kv: client.kv_client().max_decoding_message_size(MAX_ANSWER_BYTES),
            lease: client.lease_client(),
        };
        self.sessions[index] = Some(session.clone());
        Ok(session)
    }

    /// What an etcd-client error says about the endpoint: a status from etcd itself has no
    /// cause beneath it; one made by the client for a broken connection has the transport
    /// error there.
    fn attempt(&self, error: &etcd_client::Error) -> Attempt {
        match error {
            etcd_client::Error::GRpcStatus(status) if std::error::Error::source(status).is_none() => {
                let code = i32::from(status.code());
                if code == code::UNAVAILABLE {
                    return Attempt::Unavailable(status.message().to_string());
                }
                Attempt::Refused(Refusal {
                    endpoint: String::new(),
                    http_status: None,
                    code: Some(code),
                    message: status.message().to_string(),
                })
            }
            _ => Attempt::Unreachable(crate::grpc::unreachable_reason(
                error,
                self.tls.is_some(),
                self.private_ca,
                self.client_identity,
            )),
        }
    }
}

/// A read under way: keys read from etcd beyond the pages served, and the read after them.
pub struct PagedRead {
    range: KeyRange,
    page_size: usize,
    /// The revision every read is pinned to: that of the first (0 before it).
    revision: i64,
    /// Where the next read from etcd starts: the last key read plus a zero byte.
    next_key: Vec<u8>,
    buffered: VecDeque<KeyValue>,
    /// Whether etcd holds keys beyond `next_key`.
    more: bool,
    started: bool,
    /// Bytes of key and value per key in the first read.
    key_bytes: usize,
    ahead: Option<tokio::task::JoinHandle<Result<GetResponse, etcd_client::Error>>>,
}

impl std::fmt::Debug for PagedRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PagedRead").field("revision", &self.revision).finish()
    }
}

impl Drop for PagedRead {
    fn drop(&mut self) {
        if let Some(ahead) = self.ahead.take() {
            ahead.abort();
        }
    }
}

impl PagedRead {
    /// The revision the read is pinned to (0 before the first page).
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// The next page of at most the page size, in key order; `None` after the last.
    pub async fn next_page(&mut self, reader: &mut Reader) -> Result<Option<Vec<KeyValue>>, EtcdError> {
        if self.buffered.is_empty() && (self.more || !self.started) {
            self.refill(reader).await?;
        }
        if self.buffered.is_empty() {
            return Ok(None);
        }
        let served = self.page_size.min(self.buffered.len());
        let page: Vec<KeyValue> = self.buffered.drain(..served).collect();
        if self.more && self.ahead.is_none() {
            self.start_ahead(reader);
        }
        Ok(Some(page))
    }

    /// Keys from the read already under way, else (it failed, or none was started) from a
    /// new read with failover.
    async fn refill(&mut self, reader: &mut Reader) -> Result<(), EtcdError> {
        let ahead = match self.ahead.take() {
            Some(mut ahead) => match tokio::time::timeout(reader.request, &mut ahead).await {
                Ok(Ok(Ok(answer))) => Some(answer),
                // Broken off, refused or stalled: read again, from the next endpoint if need be.
                _ => {
                    ahead.abort();
                    None
                }
            },
            None => None,
        };
        let mut answer = match ahead {
            Some(answer) => answer,
            None => {
                let limit = self.limit();
                (reader.range(&self.next_key, &self.range.end, limit, self.revision)).await?
            }
        };
        if !self.started {
            self.started = true;
            self.revision = answer.header().map_or(0, |h| h.revision());
        }
        self.more = answer.more();
        let kvs = answer.take_kvs();
        if self.key_bytes == 0 && !kvs.is_empty() {
            self.key_bytes = kvs.iter().map(|kv| kv.key().len() + kv.value().len()).sum::<usize>() / kvs.len();
        }
        match kvs.last() {
            Some(last) => self.next_key = [last.key(), &[0]].concat(),
            None if self.more => {
                return Err(EtcdError::Malformed(EndpointFailure {
                    endpoint: reader.endpoints[reader.current].clone(),
                    reason: "reported more keys but sent none".to_string(),
                }));
            }
            None => {}
        }
        self.buffered = kvs.into();
        Ok(())
    }

    /// Keys to ask for in the next read: few at first, then many, fewer when values are large.
    fn limit(&self) -> i64 {
        if !self.started {
            return FIRST_READ_KEYS;
        }
        let fitting = i64::try_from(MAX_READ_BYTES / self.key_bytes.max(1)).unwrap_or(MAX_READ_KEYS);
        fitting.clamp(1, MAX_READ_KEYS)
    }

    /// Starts the next read from etcd in the background, on the endpoint that answered last.
    fn start_ahead(&mut self, reader: &Reader) {
        let Some(session) = reader.sessions[reader.current].clone() else {
            return;
        };
        let mut kv = session.kv;
        let options = GetOptions::new()
            .with_range(self.range.end.clone())
            .with_limit(self.limit())
            .with_revision(self.revision);
        let start = self.next_key.clone();
        self.ahead = Some(tokio::spawn(async move { kv.get(start, Some(options)).await }));
    }
}
