//! A throwaway PKI for the TLS tests: a CA, a server certificate for 127.0.0.1 and
//! localhost, client certificates with and without a CommonName, and an unrelated second
//! CA, as PEM files in a directory. Keys are ECDSA P-256, generated with rcgen on ring.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// Common name of [`TestPki::client_cert`]. With `--client-cert-auth` and auth enabled,
/// etcd takes a gRPC client's certificate CN as its user name.
pub const CLIENT_CN: &str = "inventory-client";
/// Common name of [`TestPki::server_cert`]; no etcd user has it. etcd 3.4's gateway
/// presents the server certificate as its own client certificate.
pub const SERVER_CN: &str = "etcd-test-server";

/// Paths of the PEM files; they live as long as the directory given to [`TestPki::generate`].
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA that signed the server and client certificates.
    pub ca_cert: PathBuf,
    /// For 127.0.0.1 and localhost, extended key usage serverAuth and clientAuth.
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// CN [`CLIENT_CN`], extended key usage clientAuth.
    ///
    /// Once auth is enabled on an etcd with `--client-cert-auth`, etcd 3.4's gateway refuses
    /// every `/v3/` request over a client certificate with a CommonName, token or not: HTTP
    /// 400, text body "CommonName of client sending a request against gateway will be
    /// ignored and not used as expected". Use [`TestPki::client_cert_no_cn`] there.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// Like `client_cert` but with no CommonName (subject `O=etcd-inventory tests` only).
    pub client_cert_no_cn: PathBuf,
    pub client_key_no_cn: PathBuf,
    /// A CA that signed nothing here: trusting it instead of `ca_cert` must fail.
    pub other_ca_cert: PathBuf,
}

impl TestPki {
    /// Generates everything into `dir`, which must exist. Private keys are mode 0600.
    pub fn generate(dir: &Path) -> TestPki {
        let (ca_cert, ca) = new_ca("etcd-inventory test CA");
        let (other_ca_cert, _) = new_ca("etcd-inventory unrelated CA");

        let (server_cert, server_key) = leaf(
            &ca,
            Some(SERVER_CN),
            &["127.0.0.1", "localhost"],
            &[ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth],
        );
        let client_usage = [ExtendedKeyUsagePurpose::ClientAuth];
        let (client_cert, client_key) = leaf(&ca, Some(CLIENT_CN), &[], &client_usage);
        let (client_cert_no_cn, client_key_no_cn) = leaf(&ca, None, &[], &client_usage);

        let write = |name: &str, pem: &str, private: bool| {
            let path = dir.join(name);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            if private {
                options.mode(0o600);
            }
            options
                .open(&path)
                .and_then(|mut f| f.write_all(pem.as_bytes()))
                .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            path
        };
        TestPki {
            ca_cert: write("ca.pem", &ca_cert, false),
            server_cert: write("server.pem", &server_cert, false),
            server_key: write("server-key.pem", &server_key, true),
            client_cert: write("client.pem", &client_cert, false),
            client_key: write("client-key.pem", &client_key, true),
            client_cert_no_cn: write("client-no-cn.pem", &client_cert_no_cn, false),
            client_key_no_cn: write("client-no-cn-key.pem", &client_key_no_cn, true),
            other_ca_cert: write("other-ca.pem", &other_ca_cert, false),
        }
    }
}

/// A self-signed CA: its certificate as PEM, and the issuer that signs with it.
fn new_ca(common_name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::new()).expect("CA params");
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().expect("CA key");
    let cert = params.self_signed(&key).expect("self-sign CA");
    (cert.pem(), Issuer::new(params, key))
}

/// A certificate signed by `ca` for `names` (IP addresses or DNS names) and its key, as PEM.
fn leaf(
    ca: &Issuer<'static, KeyPair>,
    common_name: Option<&str>,
    names: &[&str],
    usages: &[ExtendedKeyUsagePurpose],
) -> (String, String) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).expect("leaf params");
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "etcd-inventory tests");
    if let Some(common_name) = common_name {
        params.distinguished_name.push(DnType::CommonName, common_name);
    }
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = usages.to_vec();
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().expect("leaf key");
    let cert = params.signed_by(&key, ca).expect("sign leaf");
    (cert.pem(), key.serialize_pem())
}
