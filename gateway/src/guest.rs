//! The gateway component's export of the `etcd` interface, and its `wasi:http` transport
//! (wasm32 only). Everything here is glue: the reading is [`crate::Gateway`]'s.

use std::cell::RefCell;
use std::rc::Rc;

use etcd_inventory::etcd::EtcdError;
use etcd_inventory::layout::KeyRange;
use etcd_inventory::settings::{Credentials, Endpoint};

use crate::{Gateway, HttpPost, HttpResponse, PageCursor};

wit_bindgen::generate!({
    path: "../wit",
    world: "gateway",
    generate_all,
});

use exports::etcd_inventory::inventory::etcd as wit;
use wasi::http::outgoing_handler;
use wasi::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme};
use wasi::io::streams::StreamError;

/// The largest answer read from one request: a bound on memory and on the read loop.
const MAX_ANSWER_BYTES: usize = 256 << 20;

struct Component;

export!(Component);

impl wit::Guest for Component {
    type Client = Client;
    type RangeRead = RangeRead;
}

/// A connection, shared with the reads it starts (they use its endpoints and token).
struct Client(Rc<RefCell<Gateway<WasiHttp>>>);

/// A read under way, and the connection it goes through.
struct RangeRead {
    gateway: Rc<RefCell<Gateway<WasiHttp>>>,
    read: RefCell<PageCursor>,
}

impl wit::GuestClient for Client {
    fn connect(connection: wit::Connection) -> Result<wit::Client, wit::Error> {
        let credentials = connection.credentials.clone().map(|c| Credentials {
            user: c.user,
            password: c.password,
        });
        let transport = WasiHttp::new(&connection);
        let gateway = Gateway::connect(transport, &connection.endpoints, credentials)?;
        Ok(wit::Client::new(Client(Rc::new(RefCell::new(gateway)))))
    }

    fn read(&self, start: Vec<u8>, end: Vec<u8>, page_size: u32) -> Result<wit::RangeRead, wit::Error> {
        Ok(wit::RangeRead::new(RangeRead {
            gateway: Rc::clone(&self.0),
            read: RefCell::new(PageCursor::new(&KeyRange { start, end }, page_size)),
        }))
    }

    fn current_revision(&self, key: Vec<u8>) -> Result<i64, wit::Error> {
        use etcd_inventory::etcd::Etcd as _;
        Ok(self.0.borrow_mut().current_revision(&key)?)
    }

    fn stamp(&self, start: Vec<u8>, end: Vec<u8>, after: i64) -> Result<wit::RangeStamp, wit::Error> {
        use etcd_inventory::etcd::Etcd as _;
        let stamp = self.0.borrow_mut().stamp(&KeyRange { start, end }, after)?;
        Ok(wit::RangeStamp {
            revision: stamp.revision,
            count: stamp.count,
            modified: stamp.modified,
        })
    }

    fn lease_time_to_live(&self, lease: i64) -> Result<Option<i64>, wit::Error> {
        use etcd_inventory::etcd::Etcd as _;
        Ok(self.0.borrow_mut().lease_ttl(lease)?)
    }
}

impl wit::GuestRangeRead for RangeRead {
    fn next(&self) -> Result<Option<wit::Page>, wit::Error> {
        let page = self.gateway.borrow_mut().page(&mut self.read.borrow_mut())?;
        Ok(page.map(|page| wit::Page {
            revision: page.revision,
            bytes: page.bytes,
            key_lengths: page.key_lengths,
            value_lengths: page.value_lengths,
            leases: page.leases,
        }))
    }
}

/// POSTs through the host's `wasi:http/outgoing-handler`.
struct WasiHttp {
    connect_timeout_ns: u64,
    request_timeout_ns: u64,
}

impl WasiHttp {
    fn new(connection: &wit::Connection) -> Self {
        WasiHttp {
            connect_timeout_ns: u64::from(connection.connect_timeout_ms) * 1_000_000,
            request_timeout_ns: u64::from(connection.request_timeout_ms) * 1_000_000,
        }
    }
}

impl HttpPost for WasiHttp {
    fn post_json(
        &mut self,
        endpoint: &str,
        path: &str,
        body: &[u8],
        token: Option<&str>,
    ) -> Result<HttpResponse, String> {
        let endpoint = Endpoint::parse(endpoint)?;
        let mut headers = vec![("content-type".to_string(), b"application/json".to_vec())];
        if let Some(token) = token {
            // etcd 3.4 takes the token raw: "Bearer <token>" is rejected.
            headers.push(("authorization".to_string(), token.as_bytes().to_vec()));
        }
        // The error names no header value: the token stays out of messages.
        let headers = Fields::from_list(&headers).map_err(|_| "a request header was refused")?;
        let request = OutgoingRequest::new(headers);
        let scheme = if endpoint.scheme == "https" {
            Scheme::Https
        } else {
            Scheme::Http
        };
        request.set_method(&Method::Post).map_err(|()| "method refused")?;
        request.set_scheme(Some(&scheme)).map_err(|()| "scheme refused")?;
        request
            .set_authority(Some(&endpoint.authority))
            .map_err(|()| "authority refused")?;
        request.set_path_with_query(Some(path)).map_err(|()| "path refused")?;

        // Timeouts a host does not support are left to its own defaults.
        let options = RequestOptions::new();
        let _ = options.set_connect_timeout(Some(self.connect_timeout_ns));
        let _ = options.set_first_byte_timeout(Some(self.request_timeout_ns));
        let _ = options.set_between_bytes_timeout(Some(self.request_timeout_ns));

        let outgoing_body = request.body().map_err(|()| "request body unavailable")?;
        let pending = outgoing_handler::handle(request, Some(options)).map_err(describe)?;
        let written = write_body(outgoing_body, body);

        // Wait for the answer first: when the host refuses the request, the body write fails
        // too, and the answer carries the real reason.
        pending.subscribe().block();
        let response = match pending.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(describe(code)),
            Some(Err(())) | None => return Err("the host lost the response".to_string()),
        };
        written?;

        let status = response.status();
        let incoming = response.consume().map_err(|()| "response body unavailable")?;
        let stream = incoming.stream().map_err(|()| "response body unavailable")?;
        let mut answer = Vec::new();
        loop {
            match stream.blocking_read(1 << 16) {
                Ok(chunk) => answer.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(format!("the answer broke off: {}", e.to_debug_string()));
                }
            }
            if answer.len() > MAX_ANSWER_BYTES {
                return Err(format!(
                    "an answer exceeded {} MiB (lower --page-size)",
                    MAX_ANSWER_BYTES >> 20
                ));
            }
        }
        Ok(HttpResponse { status, body: answer })
    }
}

fn write_body(outgoing: OutgoingBody, body: &[u8]) -> Result<(), String> {
    {
        let stream = outgoing.write().map_err(|()| "request body stream unavailable")?;
        // blocking-write-and-flush takes at most 4096 bytes a call.
        for chunk in body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| format!("sending the request failed: {e:?}"))?;
        }
    }
    OutgoingBody::finish(outgoing, None).map_err(describe)
}

/// A few words for a `wasi:http` error, as they end an "unreachable" line.
fn describe(code: ErrorCode) -> String {
    match code {
        ErrorCode::ConnectionRefused => "connection refused".into(),
        ErrorCode::ConnectionTimeout => "connection timed out".into(),
        ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => "timed out waiting for an answer".into(),
        ErrorCode::ConnectionTerminated => "connection closed before an answer".into(),
        ErrorCode::DnsTimeout => "DNS lookup timed out".into(),
        ErrorCode::DnsError(e) => format!("DNS lookup failed ({})", e.rcode.unwrap_or_default()),
        ErrorCode::DestinationNotFound => "host not found".into(),
        ErrorCode::DestinationUnavailable => "destination unavailable".into(),
        ErrorCode::HttpRequestDenied => "denied by the host (only the configured endpoints may be reached)".into(),
        ErrorCode::TlsCertificateError => "TLS certificate not trusted".into(),
        ErrorCode::HttpProtocolError => "not an HTTP answer".into(),
        ErrorCode::InternalError(Some(text)) => text,
        other => format!("{other:?}"),
    }
}

etcd_inventory::etcd_error_conversions!(_from_wit, to_wit, wit);

impl From<EtcdError> for wit::Error {
    fn from(e: EtcdError) -> Self {
        to_wit(e)
    }
}
