//! The component's exports and its `wasi:http` transport (wasm32 only). Everything here is
//! glue: settings, reading and building come from the rest of the crate.

use std::io::Write as _;

use crate::error::{EndpointFailure, Error, GatewayFailure};
use crate::gateway::{HttpResponse, Transport};
use crate::inventory::{LayoutError, Tally, Vars};
use crate::settings::{self, Credentials, Endpoint, Settings};
use crate::values::ValueRules;
use crate::{Answer, Listed, cli};

wit_bindgen::generate!({
    path: "../wit",
    world: "etcd-inventory",
    generate_all,
});

use exports::etcd_inventory::inventory::inventory as wit;
use wasi::http::outgoing_handler;
use wasi::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme};
use wasi::io::streams::StreamError;

mod settings_export;

/// The largest answer read from one request: a bound on memory and on the read loop.
const MAX_ANSWER_BYTES: usize = 256 << 20;

struct Component;

export!(Component);

impl wit::Guest for Component {
    fn list_inventory(options: wit::Options) -> Result<wit::Output, wit::Error> {
        let settings = from_options(options)?;
        let answer = crate::list_inventory(&mut WasiHttp::new(&settings), &settings)?;
        Ok(answer.into())
    }

    fn read_inventory(options: wit::Options) -> Result<wit::InventoryData, wit::Error> {
        let settings = from_options(options)?;
        let listed = crate::read_inventory(&mut WasiHttp::new(&settings), &settings)?;
        Ok(listed.into())
    }

    fn host_vars(options: wit::Options, host: String) -> Result<wit::Output, wit::Error> {
        let settings = from_options(options)?;
        let answer = crate::host_vars(&mut WasiHttp::new(&settings), &settings, &host)?;
        Ok(answer.into())
    }

    fn check_inventory(options: wit::Options) -> Result<wit::CheckReport, wit::Error> {
        let settings = from_options(options)?;
        let checked = crate::check_inventory(&mut WasiHttp::new(&settings), &settings)?;
        Ok(wit::CheckReport {
            findings: (checked.findings.iter())
                .map(|finding| wit::Finding {
                    error: finding.is_error(),
                    text: finding.to_string(),
                })
                .collect(),
            revision: checked.revision,
            key_count: checked.key_count,
            leased: (checked.leased.into_iter())
                .map(|h| wit::LeasedHost {
                    host: h.host,
                    lease: h.lease,
                    ttl_seconds: h.ttl_s,
                })
                .collect(),
        })
    }

    fn inventory_unchanged(options: wit::Options, revision: i64, key_count: u64) -> Result<Option<i64>, wit::Error> {
        let settings = from_options(options)?;
        Ok(crate::inventory_unchanged(
            &mut WasiHttp::new(&settings),
            &settings,
            revision,
            key_count,
        )?)
    }
}

impl exports::wasi::cli::run::Guest for Component {
    /// The command for stock hosts: same flags, environment and etcd.ini as the binary.
    fn run() -> Result<(), ()> {
        let mut args = std::env::args();
        let program = args.next().unwrap_or_default();
        let (mode, mut flags) = match cli::parse(args) {
            Ok(cli::Command::Run { mode, flags }) => (mode, *flags),
            Ok(cli::Command::Help) => {
                println!("{}", cli::USAGE);
                return Ok(());
            }
            Err(usage) => {
                eprintln!("etcd-inventory: {usage}\n{}", cli::USAGE);
                return Err(());
            }
        };
        // The cache is the native host's (it needs a 0600 file, which wasi:filesystem cannot
        // make): here every run reads etcd, whatever etcd.ini's [cache] says.
        flags.cache = Some("false".to_string());
        let env = |name: &str| std::env::var(name).ok();
        let result = settings::load_ini(&env, Some(std::path::Path::new(&program)))
            .and_then(|ini| settings::resolve(&flags, &env, ini.as_ref()))
            .and_then(refuse_tls_files)
            .and_then(|settings| {
                let mut http = WasiHttp::new(&settings);
                let answer = match &mode {
                    cli::Mode::List => crate::list_inventory(&mut http, &settings),
                    cli::Mode::Host(host) => crate::host_vars(&mut http, &settings, host),
                    cli::Mode::Graph(root) => crate::graph_inventory(&mut http, &settings, root),
                }?;
                Ok((answer, settings.prefix))
            });
        match result {
            Ok((answer, prefix)) => {
                for warning in answer.warnings.lines(&prefix) {
                    eprintln!("etcd-inventory: warning: {warning}");
                }
                let mut out = std::io::stdout().lock();
                out.write_all(answer.json.as_bytes())
                    .and_then(|()| out.write_all(b"\n"))
                    .and_then(|()| out.flush())
                    .map_err(|e| eprintln!("etcd-inventory: cannot write the inventory: {e}"))
            }
            Err(e) => {
                eprintln!("etcd-inventory: {e}");
                Err(())
            }
        }
    }
}

/// `wasi:http` carries no TLS settings, and a stock host's sender trusts the public roots
/// only: rather than ignore a configured CA or client certificate, say so.
fn refuse_tls_files(settings: Settings) -> Result<Settings, Error> {
    if settings.tls.is_empty() {
        return Ok(settings);
    }
    Err(Error::InvalidOptions(
        "a CA or client certificate is set (--cacert/--cert/--key, ETCDCTL_CACERT/ETCDCTL_CERT/ETCDCTL_KEY or \
         ca_cert/client_cert/client_key in etcd.ini), but a component host's wasi:http has no TLS settings: \
         use the etcd-inventory binary, whose host makes TLS connections with them"
            .to_string(),
    ))
}

fn from_options(o: wit::Options) -> Result<Settings, Error> {
    let values = ValueRules {
        trust_templates: o.trust_templates,
        typed_values: o.typed_values,
        nested_keys: o.nested_keys,
    };
    Settings::checked(
        &o.endpoints,
        &o.prefix,
        o.page_size,
        o.connect_timeout_ms,
        o.request_timeout_ms,
        values,
        o.credentials.map(|c| Credentials {
            user: c.user,
            password: c.password,
        }),
    )
}

/// POSTs through the host's `wasi:http/outgoing-handler`.
struct WasiHttp {
    connect_timeout_ns: u64,
    request_timeout_ns: u64,
}

impl WasiHttp {
    fn new(settings: &Settings) -> Self {
        WasiHttp {
            connect_timeout_ns: u64::from(settings.dial_timeout_ms) * 1_000_000,
            request_timeout_ns: u64::from(settings.command_timeout_ms) * 1_000_000,
        }
    }
}

impl Transport for WasiHttp {
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

impl From<Answer> for wit::Output {
    fn from(a: Answer) -> Self {
        wit::Output {
            json: a.json,
            skipped: a.warnings.skipped.map(Into::into),
            invalid_names: a.warnings.invalid_names.map(Into::into),
            revision: a.revision,
            key_count: a.key_count,
        }
    }
}

impl From<Listed> for wit::InventoryData {
    fn from(listed: Listed) -> Self {
        let inventory = listed.inventory;
        wit::InventoryData {
            groups: (inventory.groups.into_iter())
                .map(|(name, group)| wit::Group {
                    name,
                    hosts: group.hosts.in_order().into_iter().map(String::from).collect(),
                    children: group.children.in_order().into_iter().map(String::from).collect(),
                    vars: variables(group.vars),
                })
                .collect(),
            hosts: (inventory.hostvars.into_iter())
                .map(|(name, vars)| wit::Host {
                    name,
                    vars: variables(vars),
                })
                .collect(),
            skipped: listed.warnings.skipped.map(Into::into),
            invalid_names: listed.warnings.invalid_names.map(Into::into),
            revision: listed.revision,
            key_count: listed.key_count,
        }
    }
}

impl From<Tally> for wit::KeyTally {
    fn from(s: Tally) -> Self {
        wit::KeyTally {
            count: s.count,
            example: s.example,
        }
    }
}

/// Each value as the JSON text `--list` prints for it.
fn variables(vars: Vars) -> Vec<wit::Variable> {
    vars.into_iter()
        .map(|(name, value)| wit::Variable {
            name,
            // Strings, maps and JSON values: serialisation cannot fail.
            value: serde_json::to_string(&value).expect("a variable serialises"),
        })
        .collect()
}

impl From<EndpointFailure> for wit::EndpointFailure {
    fn from(f: EndpointFailure) -> Self {
        wit::EndpointFailure {
            endpoint: f.endpoint,
            reason: f.reason,
        }
    }
}

impl From<Error> for wit::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidOptions(text) => wit::Error::InvalidOptions(text),
            Error::Unreachable(failures) => wit::Error::Unreachable(failures.into_iter().map(Into::into).collect()),
            Error::Gateway(GatewayFailure {
                endpoint,
                status,
                code,
                message,
            }) => wit::Error::Gateway(wit::GatewayFailure {
                endpoint,
                status,
                code,
                message,
            }),
            Error::MalformedResponse(f) => wit::Error::MalformedResponse(f.into()),
            Error::AuthFailed { user, endpoint } => wit::Error::AuthFailed(wit::AuthFailure { user, endpoint }),
            Error::AuthRequired { endpoint } => wit::Error::AuthRequired(endpoint),
            Error::PermissionDenied { user, keys } => {
                wit::Error::PermissionDenied(wit::PermissionDenied { user, keys })
            }
            Error::Layout(LayoutError::ChildrenCycle(groups)) => wit::Error::ChildrenCycle(groups),
            Error::Layout(LayoutError::AllAsChild { parent }) => wit::Error::AllAsChild(parent),
            Error::Layout(LayoutError::ReservedGroupName { group }) => wit::Error::ReservedGroupName(group),
            Error::Layout(LayoutError::MarkerName { key, name }) => {
                wit::Error::MarkerName(wit::MarkerName { key, name })
            }
            Error::Layout(LayoutError::NestedTooDeep { key }) => wit::Error::NestedTooDeep(key),
            Error::Layout(LayoutError::NonUtf8Key { key }) => wit::Error::NonUtf8Key(key),
            Error::Layout(LayoutError::NonUtf8Value { key }) => wit::Error::NonUtf8Value(key),
            Error::Layout(LayoutError::NestedClash { value_key, map_key }) => {
                wit::Error::NestedClash(wit::NestedClash { value_key, map_key })
            }
        }
    }
}
