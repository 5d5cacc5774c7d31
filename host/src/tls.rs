//! The host's https. `wasi:http` gives a guest no TLS settings and wasmtime's stock sender
//! trusts the public roots only, so the host makes every https connection itself: with the
//! configured CA (else the public roots) and client certificate. The private key is read
//! here and never enters the component's memory.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use etcd_inventory::error::Error as SettingsError;
use etcd_inventory::settings::TlsFiles;
use http_body::{Body, Frame};
use http_body_util::BodyExt as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{AlertDescription, ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// What wasi-http waits for when a guest sets no timeout; the guest always sets them.
const UNSET_TIMEOUT: Duration = Duration::from_secs(600);

/// A response and the future that finishes its connection, as `WasiHttpHooks` returns them.
pub type Sent = (
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
);

/// Makes https requests with one TLS configuration.
#[derive(Debug)]
pub struct HttpsClient {
    config: Arc<ClientConfig>,
    /// Whether a private CA replaced the public roots, and whether a client certificate is
    /// presented: both shape the hint of a TLS error.
    private_ca: bool,
    client_identity: bool,
}

impl HttpsClient {
    /// Reads the PEM files. Errors name the file and the settings that set it.
    pub fn new(files: &TlsFiles) -> Result<HttpsClient, SettingsError> {
        let roots = match &files.ca_cert {
            Some(path) => {
                let mut store = RootCertStore::empty();
                for cert in read_certificates(path, CA_CERT)? {
                    store.add(cert).map_err(|e| invalid_file(path, CA_CERT, e))?;
                }
                store
            }
            None => RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
        };
        // An explicit provider: no dependency on which crypto backend the build turned on.
        let builder = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| SettingsError::InvalidOptions(format!("cannot set up TLS: {e}")))?
            .with_root_certificates(roots);
        let config = match (&files.client_cert, &files.client_key) {
            (Some(cert), Some(key)) => {
                let chain = read_certificates(cert, CLIENT_CERT)?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|e| invalid_file(key, CLIENT_KEY, e))?;
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    SettingsError::InvalidOptions(format!(
                        "the client certificate {} and key do not make a TLS identity: {e}",
                        cert.display()
                    ))
                })?
            }
            _ => builder.with_no_client_auth(),
        };
        Ok(HttpsClient {
            config: Arc::new(config),
            private_ca: files.ca_cert.is_some(),
            client_identity: files.client_cert.is_some(),
        })
    }

    /// Sends one request over a new TLS connection, honouring the guest's timeouts: connect
    /// (TCP and handshake), first byte, and between bytes of the body.
    pub async fn send(
        self: Arc<Self>,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<Sent, Error> {
        let timeout =
            |pick: fn(&RequestOptions) -> Option<Duration>| options.as_ref().and_then(pick).unwrap_or(UNSET_TIMEOUT);
        let connect_timeout = timeout(|o| o.connect_timeout);
        let first_byte_timeout = timeout(|o| o.first_byte_timeout);
        let between_bytes_timeout = timeout(|o| o.between_bytes_timeout).max(Duration::from_millis(1));

        let authority = request.uri().authority().ok_or(Error::HttpRequestUriInvalid)?.clone();
        let port = authority.port_u16().unwrap_or(443);
        let host = authority.host().trim_start_matches('[').trim_end_matches(']');
        let server_name = ServerName::try_from(host.to_string()).map_err(|_| Error::HttpRequestUriInvalid)?;

        let tcp = tokio::time::timeout(connect_timeout, TcpStream::connect((host, port)))
            .await
            .map_err(|_| Error::ConnectionTimeout)?
            .map_err(Error::Connect)?;
        let connector = tokio_rustls::TlsConnector::from(self.config.clone());
        let stream = tokio::time::timeout(connect_timeout, connector.connect(server_name, tcp))
            .await
            .map_err(|_| Error::ConnectionTimeout)?
            .map_err(|e| self.tls_error(&e).unwrap_or(Error::Tls(e)))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(Error::Hyper)?;
        // The connection is driven by its own task; its end is what wasi-http awaits.
        let connection = tokio::spawn(connection);

        // On the wire the request names the path only; scheme and authority are the
        // connection's.
        let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
        *request.uri_mut() = http::Uri::try_from(path).map_err(|_| Error::HttpRequestUriInvalid)?;

        let response = tokio::time::timeout(first_byte_timeout, sender.send_request(request))
            .await
            .map_err(|_| Error::ConnectionReadTimeout)?
            .map_err(|e| self.hyper_error(e))?;
        let response = response.map(|incoming| {
            TimedBody {
                incoming,
                pause: between_bytes_timeout,
                deadline: Box::pin(tokio::time::sleep(between_bytes_timeout)),
            }
            .boxed_unsync()
        });
        let finished = async move {
            match connection.await {
                Ok(result) => result.map_err(Error::Hyper),
                Err(_) => Ok(()),
            }
        };
        Ok((response, Box::new(finished)))
    }

    /// A hyper error whose cause is a TLS alert: etcd refused us after the handshake (with
    /// TLS 1.3, a missing or untrusted client certificate shows up at the first read).
    fn hyper_error(&self, error: hyper::Error) -> Error {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(e) = cause {
            if let Some(described) = e.downcast_ref::<std::io::Error>().and_then(|io| self.tls_error(io)) {
                return described;
            }
            cause = e.source();
        }
        Error::Hyper(error)
    }

    /// A TLS failure in words, with what to check, for the guest's "unreachable" line.
    fn tls_error(&self, error: &std::io::Error) -> Option<Error> {
        let tls = error.get_ref()?.downcast_ref::<rustls::Error>()?;
        Some(Error::InternalError(Some(describe_tls(
            tls,
            self.private_ca,
            self.client_identity,
        ))))
    }
}

/// A TLS failure in words, with what to check: whether a private CA (`--cacert`) and a
/// client certificate (`--cert`) were configured decides the advice. Shared by both
/// transports, so they say it alike.
pub fn describe_tls(error: &rustls::Error, private_ca: bool, client_identity: bool) -> String {
    match error {
        rustls::Error::InvalidCertificate(why) => {
            let check = if private_ca {
                "is --cacert (ETCDCTL_CACERT, ca_cert) the CA that signed etcd's certificate, for this address?"
            } else {
                "set --cacert (ETCDCTL_CACERT, ca_cert) to the CA that signed etcd's certificate"
            };
            format!("TLS certificate of etcd not trusted ({why:?}): {check}")
        }
        rustls::Error::AlertReceived(
            alert @ (AlertDescription::CertificateRequired
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown),
        ) => format!(
            "etcd refused the TLS connection ({alert:?}): {}",
            client_certificate_check(client_identity)
        ),
        other => format!("TLS failed: {other}"),
    }
}

/// What to check when etcd refuses us for our client certificate, or the lack of one.
pub fn client_certificate_check(client_identity: bool) -> &'static str {
    if client_identity {
        "is the client certificate (--cert, ETCDCTL_CERT, client_cert) signed by a CA etcd trusts?"
    } else {
        "etcd wants a client certificate: set --cert and --key (ETCDCTL_CERT and ETCDCTL_KEY, or client_cert and \
         client_key)"
    }
}

/// A response body that fails when no bytes arrive for `pause`, as wasi-http's own does.
struct TimedBody {
    incoming: hyper::body::Incoming,
    pause: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let next = tokio::time::Instant::now() + self.pause;
                self.deadline.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Error::Hyper(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Error::ConnectionReadTimeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }
}

/// One of the TLS files: what it is, and the settings that name it (for errors).
#[derive(Debug, Clone, Copy)]
pub struct TlsFile {
    what: &'static str,
    settings: &'static str,
}

pub const CA_CERT: TlsFile = TlsFile {
    what: "CA certificate",
    settings: "--cacert, ETCDCTL_CACERT or ca_cert",
};
pub const CLIENT_CERT: TlsFile = TlsFile {
    what: "client certificate",
    settings: "--cert, ETCDCTL_CERT or client_cert",
};
pub const CLIENT_KEY: TlsFile = TlsFile {
    what: "client key",
    settings: "--key, ETCDCTL_KEY or client_key",
};

/// A PEM file's bytes, for clients that parse PEM themselves (the gRPC side's tonic),
/// refused with the same words as here.
pub fn read_pem(path: &Path, file: TlsFile) -> Result<Vec<u8>, SettingsError> {
    std::fs::read(path).map_err(|e| invalid_file(path, file, e))
}

fn read_certificates(path: &Path, file: TlsFile) -> Result<Vec<CertificateDer<'static>>, SettingsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| invalid_file(path, file, e))?;
    if certs.is_empty() {
        return Err(invalid_file(path, file, "no PEM certificate in it"));
    }
    Ok(certs)
}

fn invalid_file(path: &Path, file: TlsFile, why: impl std::fmt::Display) -> SettingsError {
    SettingsError::InvalidOptions(format!(
        "cannot use the {} {} (from {}): {why}",
        file.what,
        path.display(),
        file.settings
    ))
}
