//! Error paths: exit 1 with one clear stderr line and nothing on stdout; usage errors exit 2.

use crate::support::http_stub::HttpStub;
use crate::support::{Etcd, SAMPLE_KV, binary, clean_command, etcd::free_port, inventory, run};

#[test]
fn an_unreachable_etcd_fails_naming_the_endpoint() {
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let run = run(clean_command(binary()).args(["--list", "--endpoints", &endpoint]));
    run.failure(&[&format!("cannot reach etcd at {endpoint}: connection refused")]);
}

#[test]
fn every_endpoint_is_named_when_none_answers() {
    let (a, b) = (free_port(), free_port());
    let endpoints = format!("127.0.0.1:{a},http://127.0.0.1:{b}");
    let run = run(clean_command(binary())
        .args(["--host", "x"])
        .env("ETCDCTL_ENDPOINTS", endpoints));
    run.failure(&[
        "any of 2 endpoints",
        &format!("http://127.0.0.1:{a}: connection refused"),
        &format!("http://127.0.0.1:{b}: connection refused"),
    ]);
}

#[test]
fn a_dead_first_endpoint_passes_the_read_to_the_next() {
    let etcd = Etcd::start();
    etcd.load("/ansible", SAMPLE_KV);
    let endpoints = format!("http://127.0.0.1:{},{}", free_port(), etcd.endpoint);
    let run = run(clean_command(binary()).args(["--list", "--endpoints", &endpoints]));
    assert_eq!(run.json()["web"]["hosts"], serde_json::json!(["web01", "web02"]));
}

#[test]
fn an_http_error_from_something_else_fails_with_its_status() {
    let stub = HttpStub::start("404 Not Found", "404 page not found");
    let run = run(clean_command(binary()).args(["--list", "--transport", "gateway", "--endpoints", &stub.endpoint]));
    run.failure(&[
        &format!("etcd at {} answered HTTP 404: 404 page not found", stub.endpoint),
        "gateway",
    ]);
}

#[test]
fn a_gateway_error_body_is_reported_with_its_message() {
    let body = r#"{"error":"etcdserver: permission denied","message":"etcdserver: permission denied","code":7}"#;
    let stub = HttpStub::start("403 Forbidden", body);
    let run = run(clean_command(binary()).args(["--list", "--transport", "gateway", "--endpoints", &stub.endpoint]));
    run.failure(&[
        "etcd denies reading the keys under /ansible/ without a user",
        "ETCDCTL_USER",
    ]);
}

#[test]
fn a_malformed_answer_fails_without_a_partial_inventory() {
    for body in [
        "<html>hello</html>",
        r#"{"header":{"revision":"3"},"kvs":[{"key":"%%%"}]}"#,
        r#"{"kvs":[]}"#,
    ] {
        let stub = HttpStub::start("200 OK", body);
        let run =
            run(clean_command(binary()).args(["--list", "--transport", "gateway", "--endpoints", &stub.endpoint]));
        run.failure(&[&stub.endpoint, "invalid range response"]);
    }
}

#[test]
fn bad_settings_fail_naming_their_source() {
    let run = run(clean_command(binary())
        .arg("--list")
        .env("ETCDCTL_ENDPOINTS", "ftp://127.0.0.1:1"));
    run.failure(&["ETCDCTL_ENDPOINTS", "ftp"]);
    let run = crate::support::run(clean_command(binary()).args(["--list", "--page-size", "zero"]));
    run.failure(&["--page-size", "\"zero\""]);
}

#[test]
fn usage_errors_exit_2() {
    for args in [&[][..], &["--list", "--host", "a"], &["--host"], &["--bogus"]] {
        let run = run(clean_command(binary()).args(args));
        assert_eq!(run.code, Some(2), "{args:?}: {run:#?}");
        assert_eq!(run.stdout, "", "{args:?}");
    }
}

#[test]
fn layout_errors_leave_stdout_empty_for_host_too() {
    let etcd = Etcd::start();
    etcd.put_raw(&[(b"/ansible/hostvars/h/x".to_vec(), vec![0xff])]);
    inventory(&etcd, &["--host", "h"]).failure(&["/ansible/hostvars/h/x"]);
}
