//! The gRPC transport: the host answers the component's gateway requests itself.
//!
//! The component always speaks etcd's v3 JSON gateway protocol over `wasi:http` (that is
//! what stock wasmtime and other hosts give it). etcd's own gateway is slow: it turns every
//! key from protobuf into JSON, and at 100,000 hosts one read of the prefix through it takes
//! longer than the classic script. Here the host takes the component's `POST /v3/kv/range`
//! and `POST /v3/auth/authenticate`, asks etcd the same over gRPC (etcd-client), and writes
//! the gateway's JSON answer itself. Same component, same requests, same answers.
//!
//! etcd 3.4 also counts every key left in the range to answer each page, so the
//! component's pages of about 1 MiB (thousands of keys) would cost it quadratic work on a
//! large prefix. Pages are therefore served from reads of up to [`MAX_READ_KEYS`] keys at the
//! same pinned revision: etcd sees a few large reads, the component its usual pages.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use etcd_client::{Client, ConnectOptions, GetOptions, GetResponse, KeyValue, KvClient, ResponseHeader};
use etcd_inventory::gateway::{
    AUTHENTICATE_PATH, AuthenticateRequest, LEASE_TTL_PATH, LeaseTtlRequest, RANGE_PATH, RangeRequest,
};
use etcd_inventory::settings::Settings;
use http_body_util::{BodyExt, Full};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

use crate::grpc::{INVALID_ARGUMENT, UNAUTHENTICATED};

/// Keys in the first gRPC read behind the component's pages: small, so that the component
/// starts work early while etcd reads on (10,000 hosts: 190 ms instead of 220).
const FIRST_READ_KEYS: i64 = 1 << 14;
/// Keys in each later read. etcd 3.4 visits every key left in the range for each read
/// (about 0.15 µs a key here), so n keys cost it n²/2p visits in reads of p: for 1.1
/// million keys, 0.9 s of etcd CPU at 100,000, 0.36 s at 250,000. A read of 262,144
/// inventory keys is about 25 MB in the host.
const MAX_READ_KEYS: i64 = 1 << 18;
/// ... and fewer when values are large: about this many bytes of keys and values per read,
/// judged by the first read, so that one read stays well inside the request timeout.
const MAX_READ_BYTES: usize = 32 << 20;
/// The largest gRPC answer accepted (tonic's default, 4 MiB, is far below one read ahead).
const MAX_ANSWER_BYTES: usize = 1 << 30;

/// Answers the component's gateway requests over gRPC. Cheap to clone (shared state).
#[derive(Clone)]
pub struct GrpcGateway {
    inner: Arc<tokio::sync::Mutex<Inner>>,
}

impl std::fmt::Debug for GrpcGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcGateway").finish_non_exhaustive()
    }
}

struct Inner {
    dial_timeout: Duration,
    tls: Option<etcd_client::TlsOptions>,
    private_ca: bool,
    client_identity: bool,
    /// One gRPC client per endpoint and user; an authenticated one is named to the
    /// component by an opaque token, `grpc-session-N`, its index here.
    sessions: Vec<Session>,
    ahead: Option<ReadAhead>,
}

struct Session {
    endpoint: String,
    /// Only sessions without a user are shared by requests that carry no token.
    authenticated: bool,
    kv: KvClient,
    lease: etcd_client::LeaseClient,
}

/// Keys read from etcd beyond the page the component asked for, kept for its next pages,
/// and the read after them already under way: etcd works on it while the component
/// builds the inventory from these.
struct ReadAhead {
    session: usize,
    kv: KvClient,
    end: Vec<u8>,
    /// Keys asked for in the last read.
    limit: i64,
    /// Bytes of key and value per key in the first read.
    key_bytes: usize,
    /// The revision these keys were read at: the component pins its later pages to it.
    revision: i64,
    /// What the component asks for next: the last key served plus a zero byte.
    next_key: Vec<u8>,
    header: Option<ResponseHeader>,
    kvs: VecDeque<KeyValue>,
    /// Keys in `[next_key, end)` at `revision`: the `count` of the next page.
    count: i64,
    /// Whether etcd holds keys in the range beyond `kvs`.
    more: bool,
    next: Option<tokio::task::JoinHandle<Result<GetResponse, etcd_client::Error>>>,
}

impl ReadAhead {
    /// Makes sure keys are at hand when etcd has more, and that the read after them is
    /// under way.
    async fn refill(&mut self) -> Result<(), etcd_client::Error> {
        if self.kvs.is_empty() && self.more {
            let mut read = match self.next.take() {
                Some(next) => next
                    .await
                    .map_err(|e| etcd_client::Error::IoError(std::io::Error::other(e)))??,
                None => self.read_after(&self.next_key.clone()).await?,
            };
            self.more = read.more();
            self.kvs = read.take_kvs().into();
        }
        if self.more && self.next.is_none() {
            let after = match self.kvs.back() {
                Some(last) => [last.key(), &[0]].concat(),
                None => self.next_key.clone(),
            };
            let read = self.read_after(&after);
            self.next = Some(tokio::spawn(read));
        }
        Ok(())
    }

    /// The read of the next keys from `start` on, at the pinned revision: many at once,
    /// for etcd's sake, up to [`MAX_READ_KEYS`] and [`MAX_READ_BYTES`].
    fn read_after(&mut self, start: &[u8]) -> impl Future<Output = Result<GetResponse, etcd_client::Error>> + use<> {
        let fitting = i64::try_from(MAX_READ_BYTES / self.key_bytes.max(1)).unwrap_or(MAX_READ_KEYS);
        self.limit = fitting.clamp(1, MAX_READ_KEYS);
        read(
            self.kv.clone(),
            start.to_vec(),
            self.end.clone(),
            self.limit,
            self.revision,
        )
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        if let Some(next) = self.next.take() {
            next.abort();
        }
    }
}

/// Up to `limit` keys of `[start, end)` at `revision` (0: the newest).
async fn read(
    mut kv: KvClient,
    start: Vec<u8>,
    end: Vec<u8>,
    limit: i64,
    revision: i64,
) -> Result<GetResponse, etcd_client::Error> {
    let options = GetOptions::new()
        .with_range(end)
        .with_limit(limit)
        .with_revision(revision);
    kv.get(start, Some(options)).await
}

/// An answer for the component: HTTP status and JSON body, as etcd's gateway would send.
type Answer = (u16, Vec<u8>);

impl GrpcGateway {
    /// A transport for the endpoints of `settings`, with its TLS files (read here) and dial
    /// timeout. Nothing is connected until the component sends its first request.
    pub fn new(settings: &Settings) -> Result<GrpcGateway, String> {
        let tls = match settings.endpoints.iter().any(|e| e.starts_with("https://")) {
            true => Some(crate::grpc::tls_options(settings)?),
            false => None,
        };
        Ok(GrpcGateway {
            inner: Arc::new(tokio::sync::Mutex::new(Inner {
                dial_timeout: Duration::from_millis(settings.dial_timeout_ms.into()),
                tls,
                private_ca: settings.tls.ca_cert.is_some(),
                client_identity: settings.tls.client_cert.is_some(),
                sessions: Vec::new(),
                ahead: None,
            })),
        })
    }

    /// Whether this transport answers `path` (the component sends nothing else).
    pub fn serves(path: &str) -> bool {
        path == RANGE_PATH || path == AUTHENTICATE_PATH || path == LEASE_TTL_PATH
    }

    /// Answers one request of the component, as the gateway at its URL would. `Err` is a
    /// failure to reach etcd at all, which the component takes as "try the next endpoint".
    pub async fn send(
        self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<http::Response<WasiBody>, HttpError> {
        let uri = request.uri();
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(HttpError::HttpRequestUriInvalid);
        };
        let endpoint = format!("{scheme}://{authority}");
        let https = scheme == "https";
        let path = uri.path().to_string();
        let token = (request.headers().get(http::header::AUTHORIZATION))
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = request.into_body().collect().await?.to_bytes();
        let options = options.unwrap_or_default();
        let mut inner = self.inner.lock().await;
        let dial = options.connect_timeout.unwrap_or(inner.dial_timeout);
        let advice = TlsAdvice {
            https,
            private_ca: inner.private_ca,
            client_identity: inner.client_identity,
        };
        let call = async {
            match path.as_str() {
                AUTHENTICATE_PATH => inner.authenticate(&endpoint, &body, dial, advice).await,
                LEASE_TTL_PATH => inner.lease_ttl(&endpoint, token.as_deref(), &body, dial, advice).await,
                _ => inner.range(&endpoint, token.as_deref(), &body, dial, advice).await,
            }
        };
        // The component's request timeout bounds the whole call, connection included, as
        // it bounds the wait for the gateway's first byte.
        let (status, body) = match options.first_byte_timeout {
            Some(limit) => tokio::time::timeout(limit, call)
                .await
                .map_err(|_| HttpError::ConnectionReadTimeout)??,
            None => call.await?,
        };
        http::Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(
                Full::new(Bytes::from(body))
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .map_err(|e| HttpError::InternalError(Some(e.to_string())))
    }
}

impl Inner {
    /// `/v3/auth/authenticate`: a client logged in as that user (etcd-client renews its
    /// token), named to the component by an opaque token of ours.
    async fn authenticate(
        &mut self,
        endpoint: &str,
        body: &[u8],
        dial: Duration,
        advice: TlsAdvice,
    ) -> Result<Answer, HttpError> {
        let request: AuthenticateRequest = match serde_json::from_slice(body) {
            Ok(request) => request,
            Err(e) => {
                return Ok(error_answer(
                    INVALID_ARGUMENT,
                    &format!("bad authenticate request: {e}"),
                ));
            }
        };
        let options = self.options(dial).with_user(request.name, request.password);
        let client = match Client::connect([endpoint], Some(options)).await {
            Ok(client) => client,
            Err(e) => return failure(e, advice),
        };
        self.sessions.push(Session {
            endpoint: endpoint.to_string(),
            authenticated: true,
            kv: kv_client(&client),
            lease: client.lease_client(),
        });
        let token = format!("grpc-session-{}", self.sessions.len() - 1);
        Ok((
            200,
            serde_json::to_vec(&serde_json::json!({ "token": token })).expect("JSON"),
        ))
    }

    /// `/v3/kv/range`: page requests are served from a read ahead; anything else (the
    /// cache's checks) goes to etcd as asked.
    async fn range(
        &mut self,
        endpoint: &str,
        token: Option<&str>,
        body: &[u8],
        dial: Duration,
        advice: TlsAdvice,
    ) -> Result<Answer, HttpError> {
        let request = match parse_range(body) {
            Ok(request) => request,
            Err(message) => return Ok(error_answer(INVALID_ARGUMENT, &message)),
        };
        let session = match token {
            None => match self.anonymous_session(endpoint, dial).await {
                Ok(session) => session,
                Err(e) => return failure(e, advice),
            },
            Some(token) => match self.session_of(endpoint, token) {
                Some(session) => session,
                None => return Ok(error_answer(UNAUTHENTICATED, "etcdserver: invalid auth token")),
            },
        };
        let paging = request.limit > 0 && !request.count_only && !request.keys_only && request.min_mod_revision == 0;
        let result = match paging {
            true => self.page(session, &request).await,
            false => self.direct(session, &request).await,
        };
        result.or_else(|e| failure(e, advice))
    }

    /// One page: from the keys read ahead when it continues the last page served, else
    /// from a new read at the requested revision.
    async fn page(&mut self, session: usize, request: &Range) -> Result<Answer, etcd_client::Error> {
        let continues = self.ahead.as_ref().is_some_and(|a| {
            a.session == session && a.end == request.end && a.revision == request.revision && a.next_key == request.key
        });
        if !continues {
            let kv = self.sessions[session].kv.clone();
            let limit = FIRST_READ_KEYS.max(request.limit);
            let mut read = read(
                kv.clone(),
                request.key.clone(),
                request.end.clone(),
                limit,
                request.revision,
            )
            .await?;
            let header = read.take_header();
            let kvs = read.take_kvs();
            let key_bytes = kvs.iter().map(|kv| kv.key().len() + kv.value().len()).sum::<usize>() / kvs.len().max(1);
            let revision = match request.revision {
                0 => header.as_ref().map_or(0, |h| h.revision()),
                pinned => pinned,
            };
            self.ahead = Some(ReadAhead {
                session,
                kv,
                end: request.end.clone(),
                revision,
                limit,
                key_bytes,
                next_key: request.key.clone(),
                header,
                count: read.count(),
                more: read.more(),
                kvs: kvs.into(),
                next: None,
            });
        }
        let ahead = self.ahead.as_mut().expect("a read ahead was just made");
        ahead.refill().await?;
        let served = usize::try_from(request.limit)
            .unwrap_or(usize::MAX)
            .min(ahead.kvs.len());
        let page: Vec<KeyValue> = ahead.kvs.drain(..served).collect();
        let more = !ahead.kvs.is_empty() || ahead.more;
        let body = encode_range(ahead.header.as_ref(), &page, more, ahead.count);
        ahead.count -= page.len() as i64;
        if let Some(last) = page.last() {
            ahead.next_key = [last.key(), &[0]].concat();
        }
        Ok((200, body))
    }

    /// A request passed to etcd as it is.
    async fn direct(&mut self, session: usize, request: &Range) -> Result<Answer, etcd_client::Error> {
        let mut options = GetOptions::new()
            .with_range(request.end.clone())
            .with_limit(request.limit)
            .with_revision(request.revision)
            .with_min_mod_revision(request.min_mod_revision);
        if request.count_only {
            options = options.with_count_only();
        }
        if request.keys_only {
            options = options.with_keys_only();
        }
        let mut kv = self.sessions[session].kv.clone();
        let answer: GetResponse = kv.get(request.key.clone(), Some(options)).await?;
        Ok((
            200,
            encode_range(answer.header(), answer.kvs(), answer.more(), answer.count()),
        ))
    }

    /// `/v3/lease/timetolive`: how long a lease has left, `-1` when etcd no longer has it
    /// (as etcd answers; the gateway sends the same).
    async fn lease_ttl(
        &mut self,
        endpoint: &str,
        token: Option<&str>,
        body: &[u8],
        dial: Duration,
        advice: TlsAdvice,
    ) -> Result<Answer, HttpError> {
        let id = match serde_json::from_slice::<LeaseTtlRequest>(body).map(|r| r.id.parse::<i64>()) {
            Ok(Ok(id)) => id,
            _ => return Ok(error_answer(INVALID_ARGUMENT, "bad lease time-to-live request")),
        };
        let session = match self.session(endpoint, token, dial).await {
            Ok(Some(session)) => session,
            Ok(None) => return Ok(error_answer(UNAUTHENTICATED, "etcdserver: invalid auth token")),
            Err(e) => return failure(e, advice),
        };
        match self.sessions[session].lease.time_to_live(id, None).await {
            Ok(answer) => Ok((
                200,
                serde_json::to_vec(&serde_json::json!({ "ID": id.to_string(), "TTL": answer.ttl().to_string() }))
                    .expect("JSON"),
            )),
            Err(e) => failure(e, advice),
        }
    }

    /// The session a request with `token` (or without) goes to; `None`: a token we did not give.
    async fn session(
        &mut self,
        endpoint: &str,
        token: Option<&str>,
        dial: Duration,
    ) -> Result<Option<usize>, etcd_client::Error> {
        match token {
            None => self.anonymous_session(endpoint, dial).await.map(Some),
            Some(token) => Ok(self.session_of(endpoint, token)),
        }
    }

    fn options(&self, dial: Duration) -> ConnectOptions {
        let options = ConnectOptions::new().with_connect_timeout(dial);
        match &self.tls {
            Some(tls) => options.with_tls(tls.clone()),
            None => options,
        }
    }

    /// The session for requests without a token: one per endpoint, connected lazily (the
    /// first request finds out whether etcd is there).
    async fn anonymous_session(&mut self, endpoint: &str, dial: Duration) -> Result<usize, etcd_client::Error> {
        if let Some(index) = self
            .sessions
            .iter()
            .position(|s| !s.authenticated && s.endpoint == endpoint)
        {
            return Ok(index);
        }
        let client = Client::connect([endpoint], Some(self.options(dial))).await?;
        self.sessions.push(Session {
            endpoint: endpoint.to_string(),
            authenticated: false,
            kv: kv_client(&client),
            lease: client.lease_client(),
        });
        Ok(self.sessions.len() - 1)
    }

    fn session_of(&self, endpoint: &str, token: &str) -> Option<usize> {
        let index: usize = token.strip_prefix("grpc-session-")?.parse().ok()?;
        let session = self.sessions.get(index)?;
        (session.authenticated && session.endpoint == endpoint).then_some(index)
    }
}

fn kv_client(client: &Client) -> KvClient {
    client.kv_client().max_decoding_message_size(MAX_ANSWER_BYTES)
}

/// A range request with its keys decoded and its numbers parsed.
#[derive(Debug, PartialEq, Eq)]
struct Range {
    key: Vec<u8>,
    end: Vec<u8>,
    limit: i64,
    revision: i64,
    count_only: bool,
    keys_only: bool,
    min_mod_revision: i64,
}

/// The component's request, read as etcd's gateway reads it (a bad one gets its 400).
fn parse_range(body: &[u8]) -> Result<Range, String> {
    let request: RangeRequest = serde_json::from_slice(body).map_err(|e| format!("bad range request: {e}"))?;
    let bytes = |field: &str, text: &str| {
        BASE64
            .decode(text)
            .map_err(|e| format!("bad range request: {field} is not base64 ({e})"))
    };
    let number = |field: &str, text: &Option<String>| match text {
        None => Ok(0),
        Some(text) => text
            .parse::<i64>()
            .map_err(|e| format!("bad range request: {field} {text:?} ({e})")),
    };
    Ok(Range {
        key: bytes("key", &request.key)?,
        end: bytes("range_end", request.range_end.as_deref().unwrap_or_default())?,
        limit: number("limit", &request.limit)?,
        revision: number("revision", &request.revision)?,
        count_only: request.count_only,
        keys_only: request.keys_only,
        min_mod_revision: number("min_mod_revision", &request.min_mod_revision)?,
    })
}

/// A range answer in the gateway's JSON: the protobuf JSON mapping with original field
/// names, int64 as strings, bytes as base64, fields at their default left out.
fn encode_range(header: Option<&ResponseHeader>, kvs: &[KeyValue], more: bool, count: i64) -> Vec<u8> {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(
        128 + kvs
            .iter()
            .map(|kv| 96 + 2 * (kv.key().len() + kv.value().len()))
            .sum::<usize>(),
    );
    out.push_str("{\"header\":{");
    if let Some(h) = header {
        let fields = [
            ("cluster_id", h.cluster_id().to_string()),
            ("member_id", h.member_id().to_string()),
            ("revision", h.revision().to_string()),
            ("raft_term", h.raft_term().to_string()),
        ];
        let mut first = true;
        for (name, value) in fields.iter().filter(|(_, v)| v != "0") {
            let comma = if std::mem::take(&mut first) { "" } else { "," };
            let _ = write!(out, "{comma}\"{name}\":\"{value}\"");
        }
    }
    out.push('}');
    if !kvs.is_empty() {
        out.push_str(",\"kvs\":[");
        for (i, kv) in kvs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('{');
            let mut first = true;
            let mut field = |out: &mut String, name: &str| {
                let comma = if std::mem::take(&mut first) { "" } else { "," };
                let _ = write!(out, "{comma}\"{name}\":");
            };
            if !kv.key().is_empty() {
                field(&mut out, "key");
                base64_string(&mut out, kv.key());
            }
            for (name, number) in [
                ("create_revision", kv.create_revision()),
                ("mod_revision", kv.mod_revision()),
                ("version", kv.version()),
            ] {
                if number != 0 {
                    field(&mut out, name);
                    let _ = write!(out, "\"{number}\"");
                }
            }
            if !kv.value().is_empty() {
                field(&mut out, "value");
                base64_string(&mut out, kv.value());
            }
            if kv.lease() != 0 {
                field(&mut out, "lease");
                let _ = write!(out, "\"{}\"", kv.lease());
            }
            out.push('}');
        }
        out.push(']');
    }
    if more {
        out.push_str(",\"more\":true");
    }
    if count != 0 {
        let _ = write!(out, ",\"count\":\"{count}\"");
    }
    out.push('}');
    out.into_bytes()
}

fn base64_string(out: &mut String, bytes: &[u8]) {
    out.push('"');
    BASE64.encode_string(bytes, out);
    out.push('"');
}

/// An error answer as etcd's gateway writes it: the HTTP status grpc-gateway gives the
/// gRPC code, and a body with the code and etcd's message.
fn error_answer(code: i32, message: &str) -> Answer {
    let status = match code {
        3 | 9 | 11 => 400,
        16 => 401,
        7 => 403,
        5 => 404,
        6 | 10 => 409,
        8 => 429,
        1 => 499,
        12 => 501,
        14 => 503,
        4 => 504,
        _ => 500,
    };
    let body = serde_json::json!({ "error": message, "message": message, "code": code });
    (status, serde_json::to_vec(&body).expect("JSON"))
}

/// etcd's refusal becomes the gateway's error answer; a failure to reach etcd at all becomes
/// the `wasi:http` error a failed connection gives, so the component fails over as it
/// does for the gateway.
fn failure(error: etcd_client::Error, tls: TlsAdvice) -> Result<Answer, HttpError> {
    match &error {
        // A status that came from etcd has no cause beneath it; one made by the client
        // for a broken connection has the transport error there.
        etcd_client::Error::GRpcStatus(status) if std::error::Error::source(status).is_none() => {
            Ok(error_answer(status.code().into(), status.message()))
        }
        _ => Err(unreachable(&error, tls)),
    }
}

/// What the TLS advice depends on: the endpoint's scheme and the files configured.
#[derive(Debug, Clone, Copy)]
struct TlsAdvice {
    https: bool,
    private_ca: bool,
    client_identity: bool,
}

/// Why etcd could not be reached, in the words the gateway transport uses where the causes
/// are the same (refused, timed out, TLS), and with what to check otherwise.
fn unreachable(error: &etcd_client::Error, tls: TlsAdvice) -> HttpError {
    let (message, source): (String, Option<&(dyn std::error::Error + 'static)>) = match error {
        etcd_client::Error::GRpcStatus(status) => (status.message().to_string(), std::error::Error::source(status)),
        etcd_client::Error::TransportError(e) => (String::new(), Some(e)),
        other => (other.to_string(), None),
    };
    let causes = std::iter::successors(source, |cause| cause.source());
    for cause in causes {
        let io = cause.downcast_ref::<std::io::Error>();
        match io.map(std::io::Error::kind) {
            Some(std::io::ErrorKind::ConnectionRefused) => return HttpError::ConnectionRefused,
            Some(std::io::ErrorKind::TimedOut) => return HttpError::ConnectionTimeout,
            _ => {}
        }
        let rustls = (io.and_then(|io| io.get_ref()))
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .or_else(|| cause.downcast_ref::<rustls::Error>());
        if let Some(rustls) = rustls {
            let described = crate::tls::describe_tls(rustls, tls.private_ca, tls.client_identity);
            return HttpError::InternalError(Some(described));
        }
    }
    let text = crate::grpc::with_sources(&message, source);
    // An HTTP/1 answer read as HTTP/2 frames: its first bytes make an impossible frame
    // length. (A real etcd's stream cut short says "bytes remaining on stream" instead.)
    let advice = if text.contains("frame with invalid size") {
        "; this is not etcd's gRPC API: if only etcd's JSON gateway can be reached there, set --transport gateway"
            .to_string()
    } else if tls.https
        && !tls.client_identity
        && ["closed", "canceled", "received fatal alert"]
            .iter()
            .any(|end| text.contains(end))
    {
        // With TLS 1.3, etcd refuses a missing client certificate after the handshake: the
        // connection ends, or, as timing has it, its alert (BadCertificate) comes as text.
        format!(
            "; etcd closed the TLS connection, so perhaps {}",
            crate::tls::client_certificate_check(false)
        )
    } else {
        String::new()
    };
    HttpError::InternalError(Some(format!("gRPC: {text}{advice}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_body(request: &RangeRequest) -> Vec<u8> {
        serde_json::to_vec(request).unwrap()
    }

    #[test]
    fn a_range_request_reads_back_as_the_component_wrote_it() {
        let written = RangeRequest {
            key: BASE64.encode(b"/ansible/"),
            range_end: Some(BASE64.encode(b"/ansible0")),
            limit: Some("1000".into()),
            revision: Some("42".into()),
            ..RangeRequest::default()
        };
        assert_eq!(
            parse_range(&request_body(&written)),
            Ok(Range {
                key: b"/ansible/".to_vec(),
                end: b"/ansible0".to_vec(),
                limit: 1000,
                revision: 42,
                count_only: false,
                keys_only: false,
                min_mod_revision: 0,
            })
        );
        let check = RangeRequest {
            key: BASE64.encode(b"k"),
            count_only: true,
            min_mod_revision: Some("7".into()),
            ..RangeRequest::default()
        };
        let read = parse_range(&request_body(&check)).unwrap();
        assert_eq!(
            (read.end.len(), read.limit, read.count_only, read.min_mod_revision),
            (0, 0, true, 7)
        );
    }

    #[test]
    fn a_bad_range_request_gets_a_message_naming_the_field() {
        assert!(
            parse_range(b"{\"key\":\"%%\"}")
                .unwrap_err()
                .contains("key is not base64")
        );
        assert!(
            parse_range(b"{\"key\":\"\",\"limit\":\"ten\"}")
                .unwrap_err()
                .contains("limit \"ten\"")
        );
        assert!(parse_range(b"not json").unwrap_err().starts_with("bad range request"));
    }

    #[test]
    fn errors_carry_the_status_and_body_etcd_gateway_gives_them() {
        for (code, status) in [
            (3, 400),
            (7, 403),
            (9, 400),
            (11, 400),
            (14, 503),
            (16, 401),
            (8, 429),
            (2, 500),
        ] {
            let (got, body) = error_answer(code, "etcdserver: something");
            assert_eq!(got, status, "code {code}");
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                body,
                serde_json::json!({"error": "etcdserver: something", "message": "etcdserver: something", "code": code})
            );
        }
    }
}
