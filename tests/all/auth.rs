//! etcd's own authentication and RBAC: a reader restricted to one team's prefix gets that
//! team's inventory and nothing else; no password or token ever shows in any output.

use crate::support::{Etcd, Run, SAMPLE_KV, binary, clean_command, run};

const ROOT_PASSWORD: &str = "root-Secret-1";
const ALICE_PASSWORD: &str = "alice-Secret-2";

/// An etcd with auth on, two teams' inventories, and alice who may read team-a only.
fn team_etcd() -> Etcd {
    let etcd = Etcd::start();
    etcd.load("/ansible/team-a", SAMPLE_KV);
    etcd.put(&[("/ansible/team-b/hosts/payroll/pay01", "")]);
    etcd.enable_auth(ROOT_PASSWORD);
    etcd.add_reader("alice", ALICE_PASSWORD, "/ansible/team-a/");
    etcd
}

fn as_user(etcd: &Etcd, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut command = clean_command(binary());
    command.env("ETCDCTL_ENDPOINTS", &etcd.endpoint).args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    let run = run(&mut command);
    for secret in [ROOT_PASSWORD, ALICE_PASSWORD, "wrong-Secret-3"] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "a password leaked: {run:#?}"
        );
    }
    run
}

#[test]
fn a_reader_gets_exactly_its_teams_inventory() {
    let etcd = team_etcd();
    let user = format!("alice:{ALICE_PASSWORD}");
    let run = as_user(
        &etcd,
        &[("ETCDCTL_USER", &user)],
        &["--list", "--prefix", "/ansible/team-a"],
    );
    let json = run.json();
    assert_eq!(json["web"]["hosts"], serde_json::json!(["web01", "web02"]));
    assert!(json.get("payroll").is_none(), "team-b's groups stay out");

    // The same with the password in its own variable, and in a file.
    let split = as_user(
        &etcd,
        &[("ETCDCTL_USER", "alice"), ("ETCDCTL_PASSWORD", ALICE_PASSWORD)],
        &["--list", "--prefix", "/ansible/team-a"],
    );
    assert_eq!(split.stdout, run.stdout);
    let file = etcd.dir().join("alice.pw");
    std::fs::write(&file, format!("{ALICE_PASSWORD}\n")).expect("password file");
    let from_file = as_user(
        &etcd,
        &[],
        &[
            "--list",
            "--prefix",
            "/ansible/team-a",
            "--user",
            "alice",
            "--password-file",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(from_file.stdout, run.stdout);
    let host = as_user(
        &etcd,
        &[("ETCDCTL_USER", &user)],
        &["--host", "web01", "--prefix", "/ansible/team-a"],
    );
    assert_eq!(host.json()["ansible_host"], crate::support::marked("10.0.0.11"));
}

#[test]
fn a_wrong_password_names_the_user_and_nothing_secret() {
    let etcd = team_etcd();
    as_user(
        &etcd,
        &[("ETCDCTL_USER", "alice:wrong-Secret-3")],
        &["--list", "--prefix", "/ansible/team-a"],
    )
    .failure(&["refused the password of user \"alice\"", &etcd.endpoint]);
}

#[test]
fn reading_outside_the_granted_prefix_names_user_and_prefix() {
    let etcd = team_etcd();
    let user = format!("alice:{ALICE_PASSWORD}");
    as_user(
        &etcd,
        &[("ETCDCTL_USER", &user)],
        &["--list", "--prefix", "/ansible/team-b"],
    )
    .failure(&[
        "user \"alice\" may not read the keys under /ansible/team-b/",
        "--prefix",
    ]);
    // The default prefix is wider than alice's grant.
    as_user(&etcd, &[("ETCDCTL_USER", &user)], &["--list"]).failure(&["may not read the keys under /ansible/"]);
}

#[test]
fn no_user_on_an_etcd_with_auth_says_what_to_set() {
    let etcd = team_etcd();
    as_user(&etcd, &[], &["--list"]).failure(&["requires authentication", "ETCDCTL_USER"]);
}

#[test]
fn a_password_is_refused_as_a_flag_value() {
    let etcd = team_etcd();
    let user = format!("alice:{ALICE_PASSWORD}");
    as_user(&etcd, &[], &["--list", "--user", &user]).failure(&["--user takes the user name only"]);
}

#[cfg(feature = "ansible")]
#[test]
fn ansible_inventory_reads_a_team_inventory_with_etcd_ini_credentials() {
    let etcd = team_etcd();
    let ini = etcd.dir().join("etcd.ini");
    std::fs::write(
        &ini,
        format!(
            "[etcd]\nhost = 127.0.0.1\nport = {}\nprefix = /ansible/team-a\nusername = alice\npassword = {ALICE_PASSWORD}\n",
            etcd.port()
        ),
    )
    .expect("etcd.ini");
    let (mut command, _home) =
        crate::support::ansible_command("ansible-inventory", std::path::Path::new(binary()), &etcd);
    let run = run(command
        .arg("--list")
        .env("ETCD_INI_PATH", &ini)
        .env_remove("ETCDCTL_ENDPOINTS"));
    assert!(!run.stdout.contains(ALICE_PASSWORD) && !run.stderr.contains(ALICE_PASSWORD));
    let json = run.json();
    assert_eq!(json["web"]["hosts"], serde_json::json!(["web01", "web02"]));
    assert!(json.get("payroll").is_none());
}
