//! https endpoints: a private CA, and client certificates for etcd's `--client-cert-auth`.
//! The certificates are generated per test; etcd serves https on a loopback port.

use crate::support::pki::TestPki;
use crate::support::{Etcd, SAMPLE_KV, binary, clean_command, run};

/// A TLS etcd holding the sample inventory, and the test's certificates.
fn tls_etcd(client_cert_auth: bool) -> (Etcd, TestPki, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = TestPki::generate(dir.path());
    let etcd = Etcd::start_tls(&pki, client_cert_auth);
    etcd.load("/ansible", SAMPLE_KV);
    let endpoint = etcd.tls_endpoint.clone().expect("https endpoint");
    // The certificates live as long as the test: keep the directory.
    std::mem::forget(dir);
    (etcd, pki, endpoint)
}

fn list(endpoint: &str, args: &[&str], env: &[(&str, &std::path::Path)]) -> crate::support::Run {
    let mut command = clean_command(binary());
    command.args(["--list", "--endpoints", endpoint]).args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    run(&mut command)
}

#[test]
fn https_with_the_private_ca_reads_the_inventory() {
    let (_etcd, pki, endpoint) = tls_etcd(false);
    let ca = pki.ca_cert.to_str().expect("utf-8 path");
    let by_flag = list(&endpoint, &["--cacert", ca], &[]);
    assert_eq!(by_flag.json()["web"]["hosts"], serde_json::json!(["web01", "web02"]));
    let by_env = list(&endpoint, &[], &[("ETCDCTL_CACERT", &pki.ca_cert)]);
    assert_eq!(by_env.stdout, by_flag.stdout);
}

#[test]
fn an_etcd_ini_names_the_ca_relative_to_itself() {
    let (etcd, pki, _) = tls_etcd(false);
    let ini_dir = pki.ca_cert.parent().expect("pki dir");
    let ini = ini_dir.join("etcd.ini");
    std::fs::write(
        &ini,
        format!(
            "[etcd]\nhost = 127.0.0.1\nport = {}\nsecure = true\nca_cert = {}\n",
            crate::support::port_of(etcd.tls_endpoint.as_ref().unwrap()),
            pki.ca_cert.file_name().unwrap().to_str().unwrap()
        ),
    )
    .expect("etcd.ini");
    let run = run(clean_command(binary()).arg("--list").env("ETCD_INI_PATH", &ini));
    assert_eq!(run.json()["db"]["hosts"], serde_json::json!(["db01"]));
}

#[test]
fn https_without_the_right_ca_is_a_certificate_error() {
    let (_etcd, pki, endpoint) = tls_etcd(false);
    // No CA: the public roots do not know the test CA.
    list(&endpoint, &[], &[]).failure(&[&endpoint, "TLS certificate of etcd not trusted", "set --cacert"]);
    // Another CA.
    let other = pki.other_ca_cert.to_str().unwrap();
    list(&endpoint, &["--cacert", other], &[]).failure(&["not trusted", "is --cacert"]);
}

#[test]
fn client_certificates_are_presented_by_the_host() {
    let (_etcd, pki, endpoint) = tls_etcd(true);
    let (ca, cert, key) = (
        pki.ca_cert.to_str().unwrap(),
        pki.client_cert.to_str().unwrap(),
        pki.client_key.to_str().unwrap(),
    );
    let ok = list(&endpoint, &["--cacert", ca, "--cert", cert, "--key", key], &[]);
    assert_eq!(ok.json()["ungrouped"]["hosts"], serde_json::json!(["bastion"]));
    let by_env = list(
        &endpoint,
        &[],
        &[
            ("ETCDCTL_CACERT", &pki.ca_cert),
            ("ETCDCTL_CERT", &pki.client_cert),
            ("ETCDCTL_KEY", &pki.client_key),
        ],
    );
    assert_eq!(by_env.stdout, ok.stdout);
    list(&endpoint, &["--cacert", ca], &[]).failure(&[&endpoint, "etcd wants a client certificate", "--cert"]);
}

#[test]
fn unreadable_tls_files_are_named() {
    let (_etcd, pki, endpoint) = tls_etcd(false);
    list(&endpoint, &["--cacert", "/nonexistent/ca.pem"], &[]).failure(&["/nonexistent/ca.pem", "--cacert"]);
    // A key file is not a certificate.
    let key = pki.client_key.to_str().unwrap();
    list(&endpoint, &["--cacert", key], &[]).failure(&["no PEM certificate", "CA certificate"]);
    list(&endpoint, &["--cert", key], &[]).failure(&["--cert and --key"]);
}

#[test]
fn mutual_tls_and_etcd_auth_work_together() {
    let (etcd, pki, endpoint) = tls_etcd(true);
    etcd.enable_auth("root-Secret-1");
    etcd.add_reader("alice", "alice-Secret-2", "/ansible/");
    // etcd 3.4's gateway refuses client certificates with a common name once auth is on.
    let (ca, cert, key) = (
        pki.ca_cert.to_str().unwrap(),
        pki.client_cert_no_cn.to_str().unwrap(),
        pki.client_key_no_cn.to_str().unwrap(),
    );
    let run = run(clean_command(binary())
        .args([
            "--list",
            "--endpoints",
            &endpoint,
            "--cacert",
            ca,
            "--cert",
            cert,
            "--key",
            key,
        ])
        .env("ETCDCTL_USER", "alice:alice-Secret-2"));
    assert!(!run.stderr.contains("alice-Secret-2"));
    assert_eq!(run.json()["web"]["hosts"], serde_json::json!(["web01", "web02"]));
}
