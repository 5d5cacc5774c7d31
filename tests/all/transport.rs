//! The two transports: the host answering the component's requests over gRPC (the
//! default) and etcd's own JSON gateway. Same component, same inventory, byte for byte.

use crate::support::{Etcd, SAMPLE_KV, binary, clean_command, inventory, run};

/// The three outputs of a read under one transport.
fn outputs(etcd: &Etcd, transport: &str, extra: &[&str]) -> Vec<String> {
    [vec!["--list"], vec!["--host", "web01"], vec!["--graph"]]
        .into_iter()
        .map(|mode| {
            let args: Vec<&str> = mode
                .into_iter()
                .chain(["--transport", transport])
                .chain(extra.iter().copied())
                .collect();
            let run = inventory(etcd, &args);
            assert_eq!(
                (run.code, run.stderr.as_str()),
                (Some(0), ""),
                "{transport} {args:?}: {run:?}"
            );
            run.stdout
        })
        .collect()
}

#[test]
fn both_transports_print_the_same_inventory_byte_for_byte() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    // Text that JSON must escape, and keys that sort around the page boundaries.
    etcd.put(&[
        ("/ansible/hostvars/web01/quote", "say \"hi\" \\ back"),
        (
            "/ansible/hostvars/web01/unicode",
            "caf\u{e9} \u{1f680} \u{2028} tab\tnewline\n",
        ),
        ("/ansible/hostvars/web01/empty", ""),
        ("/ansible/hosts/web/h\u{e9}te one", ""),
        ("/ansible/groupvars/web/json", "{\"a\": [1, 2]}"),
    ]);
    // 2,000 hosts (22,000 keys): more than the first gRPC read, so pages are served from
    // a read, its remainder, and the read made meanwhile.
    let mut pairs = Vec::new();
    for h in 0..2000 {
        pairs.push((format!("/ansible/hosts/bulk{}/bulk{h:05}", h % 7), String::new()));
        for v in 0..10 {
            pairs.push((format!("/ansible/hostvars/bulk{h:05}/v{v}"), format!("{h}-{v}")));
        }
    }
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    etcd.put(&pairs);

    for page_size in ["10000", "333"] {
        let grpc = outputs(&etcd, "grpc", &["--page-size", page_size]);
        let gateway = outputs(&etcd, "gateway", &["--page-size", page_size]);
        assert!(
            grpc[0].contains("bulk01999") && grpc[0].contains('\u{2028}'),
            "{}",
            &grpc[0][..200]
        );
        assert!(grpc == gateway, "the transports differ with pages of {page_size}");
    }
    let list: serde_json::Value = serde_json::from_str(&outputs(&etcd, "grpc", &[])[0]).unwrap();
    assert_eq!(list["_meta"]["hostvars"].as_object().unwrap().len(), 2000 + 5);
}

#[test]
fn the_grpc_transport_does_not_use_the_gateway() {
    let etcd = Etcd::start_with(&["--enable-grpc-gateway=false"]);
    etcd.load("/ansible", SAMPLE_KV);
    let run = inventory(&etcd, &["--list"]);
    assert_eq!(
        run.json()["web"]["hosts"],
        serde_json::json!(["web01", "web02"]),
        "{run:?}"
    );
    inventory(&etcd, &["--list", "--transport", "gateway"]).failure(&["answered HTTP 404"]);
}

#[test]
fn the_transport_comes_from_flag_environment_or_etcd_ini() {
    let etcd = Etcd::start_with(&["--enable-grpc-gateway=false"]);
    let gateway_missing = "answered HTTP 404";
    let list = |env: &[(&str, &str)], args: &[&str]| {
        let mut command = clean_command(binary());
        command
            .env("ETCDCTL_ENDPOINTS", &etcd.endpoint)
            .arg("--list")
            .args(args);
        for (name, value) in env {
            command.env(name, value);
        }
        run(&mut command)
    };
    list(&[("ETCD_INVENTORY_TRANSPORT", "gateway")], &[]).failure(&[gateway_missing]);
    assert_eq!(
        list(&[("ETCD_INVENTORY_TRANSPORT", "gateway")], &["--transport", "grpc"]).code,
        Some(0)
    );

    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("etcd.ini");
    std::fs::write(&ini, "[etcd]\ntransport = gateway\n").unwrap();
    let ini = ini.to_str().unwrap();
    list(&[("ETCD_INI_PATH", ini)], &[]).failure(&[gateway_missing]);
    assert_eq!(
        list(&[("ETCD_INI_PATH", ini), ("ETCD_INVENTORY_TRANSPORT", "GRPC")], &[]).code,
        Some(0)
    );

    list(&[], &["--transport", "pigeon"]).failure(&["\"pigeon\"", "--transport", "expected grpc or gateway"]);
}

#[test]
fn both_transports_authenticate_and_refuse_alike() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    etcd.enable_auth("rootpw");
    etcd.add_reader("alice", "alicepw", "/ansible/");
    let as_user = |transport: &str, password: &str, prefix: &str| {
        run(clean_command(binary())
            .env("ETCDCTL_ENDPOINTS", &etcd.endpoint)
            .env("ETCDCTL_USER", format!("alice:{password}"))
            .args(["--list", "--transport", transport, "--prefix", prefix]))
    };
    let grpc = as_user("grpc", "alicepw", "/ansible");
    assert_eq!(grpc.json()["db"]["hosts"], serde_json::json!(["db01"]));
    assert_eq!(grpc.stdout, as_user("gateway", "alicepw", "/ansible").stdout);
    for (password, prefix, needle) in [
        ("wrong", "/ansible", "refused the password of user \"alice\""),
        (
            "alicepw",
            "/secret",
            "etcd user \"alice\" may not read the keys under /secret/",
        ),
    ] {
        let grpc = as_user("grpc", password, prefix);
        let gateway = as_user("gateway", password, prefix);
        grpc.failure(&[needle]);
        assert_eq!(grpc.stderr, gateway.stderr, "the same one line");
    }
    let anonymous = |transport: &str| inventory(&etcd, &["--list", "--transport", transport]);
    anonymous("grpc").failure(&["ETCDCTL_USER"]);
    assert_eq!(anonymous("grpc").stderr, anonymous("gateway").stderr);
}

#[test]
fn the_grpc_transport_says_when_an_endpoint_speaks_no_grpc() {
    let stub = crate::support::http_stub::HttpStub::start("404 Not Found", "404 page not found");
    let run = run(clean_command(binary()).args(["--list", "--endpoints", &stub.endpoint]));
    run.failure(&[
        &format!("cannot reach etcd at {}", stub.endpoint),
        "not etcd's gRPC API",
        "set --transport gateway",
    ]);
}
