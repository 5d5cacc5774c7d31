//! The host's sandbox: the component may reach only the configured endpoints.

use etcd_inventory::cli::Mode;
use etcd_inventory::error::Error;
use etcd_inventory::etcd::EtcdError;
use etcd_inventory::settings::{Flags, TlsFiles, Transport, resolve};
use etcd_inventory_host::{EgressPolicy, Sandbox};

use crate::support::{Etcd, SAMPLE_KV, etcd::free_port};

fn settings_for(endpoint: &str) -> etcd_inventory::settings::Settings {
    let flags = Flags {
        endpoints: Some(endpoint.to_string()),
        ..Flags::default()
    };
    let mut settings = resolve(&flags, &|_| None, None).expect("settings");
    // The egress policy is the gateway transport's: the composed component's wasi:http.
    settings.transport = Transport::Gateway;
    settings
}

fn run(settings: &etcd_inventory::settings::Settings, egress: &EgressPolicy) -> Result<etcd_inventory::Answer, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sandbox = Sandbox::new(&Default::default(), Transport::Gateway).expect("load the component");
    runtime
        .block_on(sandbox.run(&Mode::List, settings, egress))
        .expect("no trap")
}

#[test]
fn requests_outside_the_egress_policy_are_denied() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let settings = settings_for(&etcd.endpoint);
    // The component is told to read the real etcd, but the host allows only another port.
    let elsewhere =
        EgressPolicy::new(&[format!("http://127.0.0.1:{}", free_port())], &TlsFiles::default()).expect("policy");
    match run(&settings, &elsewhere) {
        Err(Error::Etcd(EtcdError::Unreachable(failures))) => {
            assert_eq!(failures.len(), 1);
            assert_eq!(failures[0].endpoint, etcd.endpoint);
            assert!(failures[0].reason.contains("denied by the host"), "{failures:?}");
        }
        other => panic!("expected a denied request, got {other:?}"),
    }
    // Same host and port but another scheme is another endpoint.
    let https =
        EgressPolicy::new(&[etcd.endpoint.replace("http://", "https://")], &TlsFiles::default()).expect("policy");
    assert!(matches!(
        run(&settings, &https),
        Err(Error::Etcd(EtcdError::Unreachable(_)))
    ));
}

#[test]
fn requests_inside_the_egress_policy_go_through() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let settings = settings_for(&etcd.endpoint);
    let egress = EgressPolicy::new(&settings.endpoints, &settings.tls).expect("policy");
    let answer = run(&settings, &egress).expect("inventory");
    let json: serde_json::Value = serde_json::from_str(&answer.json).expect("json");
    assert_eq!(json["db"]["hosts"], serde_json::json!(["db01"]));
    assert_eq!(answer.revision, etcd.revision(), "read at the current revision");
}
