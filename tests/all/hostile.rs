//! Hostile data on a real etcd: control characters, quotes, emoji, U+2028, very long names,
//! large values, 100,000 groups, invalid UTF-8, names Ansible reserves, `/` artefacts. Each
//! input gives valid JSON that Ansible reads, or one clear error line: never a crash, a
//! panic, a trap, a garbled message or a partial inventory. And stderr stays silent unless
//! there is something to say (Ansible shows any stderr output as an error).

#[cfg(feature = "ansible")]
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::support::{Etcd, Run, inventory, marked as u, sorted};
#[cfg(feature = "ansible")]
use crate::support::{ansible_command, ansible_json, ansible_version, binary, run};

/// `value` with every string (keys too) longer than 60 characters cut short and its length
/// given, so that a failed comparison of 10,000-byte names stays readable.
fn abbreviated(value: &Value) -> Value {
    let cut = |s: &str| match s.char_indices().nth(60) {
        Some((end, _)) => format!("{}...({} bytes)", &s[..end], s.len()),
        None => s.to_string(),
    };
    match value {
        Value::String(s) => Value::String(cut(s)),
        Value::Array(items) => Value::Array(items.iter().map(abbreviated).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (cut(k), abbreviated(v))).collect()),
        other => other.clone(),
    }
}

/// Asserts `ours == theirs`, showing both abbreviated when they differ.
fn assert_same(ours: &Value, theirs: &Value, what: &str) {
    assert!(
        ours == theirs,
        "{what}:\n{:#}\n  !=\n{:#}",
        abbreviated(ours),
        abbreviated(theirs)
    );
}

/// One raw key-value pair.
fn kv(key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> (Vec<u8>, Vec<u8>) {
    (key.as_ref().to_vec(), value.as_ref().to_vec())
}

/// Everything JSON or a terminal could trip on, but NUL (argv cannot carry it).
const WEIRD: &str = "\u{1}\t\n\r\u{7f}\"\\'\u{1b}[31m\u{1f680}\u{2028}\u{2029}caf\u{e9}";

/// The single stderr line of a run that succeeded with a warning, checked to be one line
/// without control characters that starts as our warnings do and mentions `needles`.
fn one_warning(run: &Run, needles: &[&str]) -> String {
    assert_eq!(run.code, Some(0), "a warning is no failure: {run:#?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one warning line: {run:#?}");
    assert!(lines[0].starts_with("etcd-inventory: warning: "), "{run:#?}");
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "the warning should mention {needle:?}: {run:#?}"
        );
    }
    lines[0].to_string()
}

/// What `ansible-inventory --list --export` prints for an inventory-script answer: empty
/// fields and empty groups left out, all's own hosts left out, hosts without variables
/// left out of `_meta`, and (ansible-core 2.19 and later, with data tagging) Ansible's
/// serialization profile added to `_meta`; 2.16-2.18 add none. Lists sorted.
#[cfg(feature = "ansible")]
fn ansible_export_view(list: &Value) -> Value {
    let mut out = Map::new();
    for (name, group) in list.as_object().expect("an object") {
        if name == "_meta" {
            continue;
        }
        let mut entry = Map::new();
        for field in ["hosts", "children", "vars"] {
            let value = &group[field];
            let empty = value.as_array().is_some_and(Vec::is_empty) || value.as_object().is_some_and(Map::is_empty);
            let alls_hosts = name == "all" && field == "hosts";
            if !(empty || alls_hosts) {
                entry.insert(field.to_string(), value.clone());
            }
        }
        if !entry.is_empty() || name == "all" {
            out.insert(name.clone(), Value::Object(entry));
        }
    }
    let hostvars: Map<String, Value> = list["_meta"]["hostvars"]
        .as_object()
        .expect("_meta.hostvars")
        .iter()
        .filter(|(_, vars)| vars.as_object().is_some_and(|v| !v.is_empty()))
        .map(|(h, v)| (h.clone(), v.clone()))
        .collect();
    let meta = if ansible_version() >= (2, 19) {
        json!({"hostvars": hostvars, "profile": "inventory_legacy"})
    } else {
        json!({"hostvars": hostvars})
    };
    out.insert("_meta".to_string(), meta);
    sorted(Value::Object(out))
}

/// `ansible-inventory -i <our binary> ARGS` with `env`, as it ran. Only the script plugin:
/// when it fails, the others would each try to parse our large binary, for minutes.
#[cfg(feature = "ansible")]
fn ansible_inventory(etcd: &Etcd, args: &[&str], env: &[(&str, &str)]) -> Run {
    let (mut command, _home) = ansible_command("ansible-inventory", Path::new(binary()), etcd);
    command
        .args(args)
        .env("ANSIBLE_INVENTORY_ENABLED", "script")
        .envs(env.iter().copied());
    run(&mut command)
}

#[test]
fn control_characters_quotes_emoji_and_10_000_byte_names_reach_ansible_intact() {
    let etcd = Etcd::start();
    let w = WEIRD;
    let (hw, gw, vw) = (format!("h{w}"), format!("g{w}"), format!("v{w}"));
    let (hl, gl, vl) = ("h".repeat(10_000), "g".repeat(10_000), "v".repeat(10_000));
    let (hnul, gnul, vnul) = ("h\0nul", "g\0nul", "v\0nul");
    let odd_hosts = ["h[1:3]", "h:22", "h x,y", "-v"];
    let mut pairs = vec![
        kv("/ansible/hosts/g/h1", ""),
        kv(format!("/ansible/hosts/g/{hw}"), ""),
        kv(format!("/ansible/hosts/{gw}/h1"), ""),
        kv(format!("/ansible/hosts/{gw}/{hl}"), ""),
        kv(format!("/ansible/hosts/{gl}/{hw}"), ""),
        kv(format!("/ansible/groups/{gl}/{gw}"), ""),
        kv(format!("/ansible/hostvars/h1/{vw}"), format!("val{w}")),
        kv(format!("/ansible/hostvars/h1/{vl}"), "long"),
        kv("/ansible/hostvars/h1/empty", ""),
        kv(format!("/ansible/hostvars/{hl}/ok"), w),
        kv(format!("/ansible/hostvars/{hw}/ok"), w),
        kv(format!("/ansible/hostvars/{hw}/{vl}"), w),
        kv(format!("/ansible/groupvars/{gw}/{vw}"), w),
        kv(format!("/ansible/groupvars/{gl}/{vl}"), w),
        kv(format!("/ansible/hosts/{gnul}/{hnul}"), ""),
        kv(format!("/ansible/hostvars/{hnul}/{vnul}"), "a\0b"),
        kv("/ansible/hostvars/-v/ok", "dash"),
    ];
    pairs.extend(odd_hosts.iter().map(|h| kv(format!("/ansible/hosts/g/{h}"), "")));
    etcd.put_raw(&pairs);

    let mut g_hosts = vec!["h1", hw.as_str()];
    g_hosts.extend(odd_hosts);
    let mut hostvars = Map::new();
    hostvars.insert(
        "h1".into(),
        json!({vw.as_str(): u(&format!("val{w}")), vl.as_str(): u("long"), "empty": u("")}),
    );
    hostvars.insert(hw.clone(), json!({"ok": u(w), vl.as_str(): u(w)}));
    hostvars.insert(hl.clone(), json!({"ok": u(w)}));
    hostvars.insert(hnul.into(), json!({vnul: u("a\0b")}));
    for h in odd_hosts {
        hostvars.insert(h.into(), json!({}));
    }
    hostvars.insert("-v".into(), json!({"ok": u("dash")}));
    let expected = sorted(json!({
        "all": {"hosts": [], "vars": {}, "children": ["g", gl.as_str(), gnul, "ungrouped"]},
        "g": {"hosts": g_hosts, "vars": {}, "children": []},
        gw.as_str(): {"hosts": ["h1", hl.as_str()], "vars": {vw.as_str(): u(w)}, "children": []},
        gl.as_str(): {"hosts": [hw.as_str()], "vars": {vl.as_str(): u(w)}, "children": [gw.as_str()]},
        gnul: {"hosts": [hnul], "vars": {}, "children": []},
        "ungrouped": {"hosts": [], "vars": {}, "children": []},
        "_meta": {"hostvars": hostvars},
    }));

    let list = inventory(&etcd, &["--list"]);
    assert_same(&sorted(list.json()), &expected, "--list");
    // Such variable names are Ansible's to refuse (2.23 will): one warning line, escaped.
    let names_warning = |run: &Run, count: u32| {
        let warnings: Vec<&str> = run.stderr.lines().collect();
        let start =
            format!("etcd-inventory: warning: {count} variable(s) under /ansible/ have names Ansible will refuse");
        assert!(warnings.len() == 1 && warnings[0].starts_with(&start), "{run:#?}");
    };
    names_warning(&list, 3);
    // JSON escapes the control characters; the output itself is one line of text.
    assert_eq!(list.stdout.lines().count(), 1, "raw newlines in the JSON");

    // --host NAME (--host=NAME for a name that looks like a flag) gives _meta's entry.
    for host in ["h1", hw.as_str(), hl.as_str(), "h[1:3]", "h x,y"] {
        let one = inventory(&etcd, &["--host", host]);
        assert_same(
            &one.json(),
            &expected["_meta"]["hostvars"][host],
            &format!("--host {host:?}"),
        );
        if !one.stderr.is_empty() {
            names_warning(&one, 1);
        }
    }
    assert_eq!(inventory(&etcd, &["--host=-v"]).json(), json!({"ok": u("dash")}));

    // Ansible reads it all: the same groups, hosts and variables, every byte.
    #[cfg(feature = "ansible")]
    {
        let exported = ansible_json(Path::new(binary()), &etcd, &["--list", "--export"], &[]);
        assert_same(
            &sorted(exported),
            &ansible_export_view(&expected),
            "ansible-inventory --list --export",
        );
    }

    // --graph draws what ansible-inventory draws, control characters and all.
    let ours = inventory(&etcd, &["--graph"]);
    assert_eq!(ours.code, Some(0), "{ours:#?}");
    names_warning(&ours, 3);
    #[cfg(feature = "ansible")]
    {
        let theirs = ansible_inventory(&etcd, &["--graph"], &[]);
        assert_eq!(theirs.code, Some(0), "{theirs:#?}");
        assert_eq!(ours.stdout, theirs.stdout);
    }
    let sub = inventory(&etcd, &["--graph", &gl]);
    assert_eq!(
        sub.stdout,
        format!("@{gl}:\n  |--@{gw}:\n  |  |--h1\n  |  |--{hl}\n  |--{hw}\n")
    );
}

#[test]
fn all_ungrouped_meta_and_a_host_named_like_its_group_read_as_from_static_yaml() {
    let etcd = Etcd::start();
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = [
        "hosts/all/a1",
        "hosts/ungrouped/u1",
        "groups/ungrouped/uk",
        "hosts/uk/x1",
        "groups/all/kid",
        "hosts/kid/k1",
        "hosts/g/all",
        "hosts/g/ungrouped",
        "hosts/g/_meta",
        "hosts/web/web",
        "hosts/web/w2",
    ]
    .iter()
    .map(|k| kv(format!("/ansible/{k}"), ""))
    .collect();
    for (key, value) in [
        ("groupvars/all/av", "all's"),
        ("groupvars/ungrouped/uv", "ungrouped's"),
        ("hostvars/all/hv", "host all's"),
        ("hostvars/_meta/mv", "host _meta's"),
        ("hostvars/web/hx", "host web's"),
        ("groupvars/web/gx", "group web's"),
    ] {
        pairs.push(kv(format!("/ansible/{key}"), value));
    }
    etcd.put_raw(&pairs);
    let list = inventory(&etcd, &["--list"]);
    let expected = json!({
        "all": {"hosts": ["a1"], "vars": {"av": u("all's")}, "children": ["g", "kid", "ungrouped", "web"]},
        "ungrouped": {"hosts": ["a1", "u1"], "vars": {"uv": u("ungrouped's")}, "children": ["uk"]},
        "uk": {"hosts": ["x1"], "vars": {}, "children": []},
        "kid": {"hosts": ["k1"], "vars": {}, "children": []},
        "g": {"hosts": ["_meta", "all", "ungrouped"], "vars": {}, "children": []},
        "web": {"hosts": ["w2", "web"], "vars": {"gx": u("group web's")}, "children": []},
        "_meta": {"hostvars": {
            "a1": {}, "u1": {}, "x1": {}, "k1": {}, "ungrouped": {}, "w2": {},
            "all": {"hv": u("host all's")},
            "_meta": {"mv": u("host _meta's")},
            "web": {"hx": u("host web's")},
        }},
    });
    assert_eq!(list.json(), expected);
    assert_eq!(list.stderr, "");
    for host in ["all", "_meta", "web", "ungrouped"] {
        let one = inventory(&etcd, &["--host", host]);
        assert_eq!(one.json(), expected["_meta"]["hostvars"][host], "--host {host}");
        assert_eq!(one.stderr, "");
    }

    #[cfg(feature = "ansible")]
    {
        // Ansible sets a host's variables on the group of the same name (and warns "Found both
        // group and host with same name"), from a script as from YAML: it sees the same.
        let yaml = etcd.dir().join("same.yml");
        std::fs::write(
            &yaml,
            "all:\n  hosts: {a1: {}}\n  vars: {av: \"all's\"}\n  children:\n    \
             ungrouped:\n      hosts: {u1: {}}\n      vars: {uv: \"ungrouped's\"}\n      children: {uk: {hosts: {x1: {}}}}\n    \
             kid: {hosts: {k1: {}}}\n    \
             g: {hosts: {all: {hv: \"host all's\"}, ungrouped: {}, _meta: {mv: \"host _meta's\"}}}\n    \
             web: {hosts: {web: {hx: \"host web's\"}, w2: {}}, vars: {gx: \"group web's\"}}\n",
        )
        .expect("yaml");
        let trust = [("ETCD_INVENTORY_TRUST_TEMPLATES", "true")];
        let from_etcd = ansible_json(Path::new(binary()), &etcd, &["--list"], &trust);
        let from_yaml = ansible_json(&yaml, &etcd, &["--list"], &trust);
        assert_same(
            &sorted(from_etcd),
            &sorted(from_yaml),
            "ansible-inventory: ours vs YAML",
        );

        let ours = inventory(&etcd, &["--graph"]);
        assert_eq!((ours.code, ours.stderr.as_str()), (Some(0), ""), "{ours:#?}");
        let theirs = ansible_inventory(&etcd, &["--graph"], &[]);
        assert_eq!(theirs.code, Some(0), "{theirs:#?}");
        assert_eq!(ours.stdout, theirs.stdout);
    }

    // A group named _meta cannot be written in the script format; all cannot be a child.
    let reserved = "which Ansible's inventory format reserves";
    for (i, key) in ["hosts/_meta/h", "groupvars/_meta/x", "groups/_meta/c", "groups/p/_meta"]
        .iter()
        .enumerate()
    {
        let prefix = format!("/meta{i}");
        etcd.put(&[(&format!("{prefix}/{key}"), "1")]);
        for mode in [&["--list"][..], &["--graph"]] {
            let args = [mode, &["--prefix", &prefix]].concat();
            inventory(&etcd, &args).failure(&["a group is named \"_meta\"", reserved]);
        }
    }
    // --host reads that host's keys only: it is not refused.
    let host = inventory(&etcd, &["--host", "h", "--prefix", "/meta0"]);
    assert_eq!((host.json(), host.stderr.as_str()), (json!({}), ""));
    etcd.put(&[("/allchild/groups/p/all", "")]);
    inventory(&etcd, &["--list", "--prefix", "/allchild"]).failure(&["group \"p\" names \"all\" as a child"]);
}

/// The keys Ansible's JSON decoder takes as type markers wherever they are an object's key.
const MARKERS: [&str; 3] = ["__ansible_unsafe", "__ansible_vault", "__ansible_type"];

#[test]
fn names_that_are_ansible_json_markers_fail_clearly_or_keep_the_inventory_readable() {
    // Printed, each case below is JSON that Ansible cannot read at all ("JSON parsing
    // failed: __ansible_unsafe is <class 'dict'> not <class 'str'>", ...), so one such key
    // under the prefix would lose the whole inventory. The reader refuses them in one line
    // naming the key (a skipped key with a warning would also do).
    let etcd = Etcd::start();
    let mut cases: Vec<(String, bool)> = Vec::new();
    for marker in MARKERS {
        cases.push((format!("hostvars/h1/{marker}"), false));
    }
    for marker in &MARKERS[..2] {
        cases.push((format!("groupvars/g/{marker}"), false));
        cases.push((format!("hosts/g/{marker}"), false));
        cases.push((format!("hostvars/{marker}/x"), false));
        cases.push((format!("hosts/{marker}/h1"), false));
        cases.push((format!("groupvars/{marker}/x"), false));
    }
    cases.push(("hostvars/h1/a/__ansible_unsafe".to_string(), true));
    // Not a marker: Ansible reads it as any other name.
    cases.push(("hostvars/h1/__ansible_other".to_string(), false));

    let mut problems = Vec::new();
    for (i, (key, nested)) in cases.iter().enumerate() {
        let prefix = format!("/marker{i}");
        let full_key = format!("{prefix}/{key}");
        etcd.put(&[
            (&format!("{prefix}/hosts/g/h1"), ""),
            (&format!("{prefix}/hostvars/h1/ok"), "1"),
            (&full_key, "x"),
        ]);
        let mut args = vec!["--list", "--prefix", &prefix];
        if *nested {
            args.push("--nested-keys");
        }
        let ours = inventory(&etcd, &args);
        if ours.code != Some(0) {
            let clear = ours.code == Some(1)
                && ours.stdout.is_empty()
                && ours.stderr.lines().count() == 1
                && ours.stderr.contains(&full_key);
            if !clear {
                problems.push(format!("{full_key}: not one line naming the key: {ours:?}"));
            }
            continue;
        }
        if ours.stderr.lines().count() > 1 {
            problems.push(format!("{full_key}: more than one stderr line: {:?}", ours.stderr));
        }
        // Ansible reads what we printed.
        #[cfg(feature = "ansible")]
        {
            let mut env = vec![("ETCD_INVENTORY_PREFIX", prefix.as_str())];
            if *nested {
                env.push(("ETCD_INVENTORY_NESTED_KEYS", "true"));
            }
            let ansible = ansible_inventory(&etcd, &["--list"], &env);
            let read: Option<Value> = serde_json::from_str(&ansible.stdout).ok();
            let ok = read.as_ref().map(|r| &r["_meta"]["hostvars"]["h1"]["ok"]);
            if ansible.code != Some(0) || ok != Some(&u("1")) {
                let why = ansible
                    .stderr
                    .lines()
                    .find(|l| l.contains("'script' plugin"))
                    .unwrap_or(ansible.stderr.as_str());
                problems.push(format!("{full_key}: ansible-inventory cannot read our --list: {why}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} case(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// A prefix, the one pair it holds besides h1 in g, the needle of the --list error (None:
/// success) and whether --host h1 fails too.
type Utf8Case<'a> = (&'a str, (&'a [u8], &'a [u8]), Option<&'a str>, bool);

#[test]
fn invalid_utf8_in_keys_and_values_fails_in_one_line_only_where_it_is_read() {
    let etcd = Etcd::start();
    let base = |prefix: &str| {
        vec![
            kv(format!("{prefix}/hosts/g/h1"), ""),
            kv(format!("{prefix}/hostvars/h1/ok"), "1"),
        ]
    };
    let ok_host = json!({"ok": u("1")});
    let not_key = "is not valid UTF-8 (inventory keys must be text)";
    let not_value = "is not valid UTF-8 (inventory values must be text)";
    let cases: [Utf8Case; 9] = [
        ("/u1", (b"/hosts/g/bad\xff\xfehost", b""), Some(not_key), false),
        ("/u2", (b"/hostvars/h1/v\xc3\x28", b"x"), Some(not_key), true),
        ("/u3", (b"/\xff/x", b"x"), Some(not_key), false),
        ("/u4", (b"/groupvars/g/x", b"\xff\xfe"), Some(not_value), false),
        // A UTF-16 surrogate as CESU-8 writes it, and an overlong encoding of '/'.
        ("/u5", (b"/hostvars/h1/cesu", b"\xed\xa0\x80"), Some(not_value), true),
        ("/u6", (b"/hostvars/h1/overlong", b"\xc0\xaf"), Some(not_value), true),
        // Values of membership and children keys are never read.
        ("/u7", (b"/groups/p/g", b"\xff"), None, false),
        ("/u9", (b"/hosts/g/h2", b"\xff\xfe"), None, false),
        // Invalid bytes and control characters in one key: escaped, on one line.
        (
            "/u8",
            (b"/hosts/g/a\nb\x1b[2J\xff", b""),
            Some("a\\nb\\u{1b}[2J\u{fffd}"),
            false,
        ),
    ];
    for (prefix, (key, value), error, host_fails) in cases {
        let mut pairs = base(prefix);
        pairs.push(kv([prefix.as_bytes(), key].concat(), value));
        etcd.put_raw(&pairs);
        for mode in [&["--list"][..], &["--graph"]] {
            let run = inventory(&etcd, &[mode, &["--prefix", prefix]].concat());
            match error {
                Some(needle) => {
                    let line = run.failure(&[&format!("{prefix}/"), needle]);
                    assert!(!line.chars().any(char::is_control), "{line:?}");
                }
                None => assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{prefix}: {run:#?}"),
            }
        }
        let host = inventory(&etcd, &["--host", "h1", "--prefix", prefix]);
        if host_fails {
            host.failure(&[&format!("{prefix}/hostvars/h1/")]);
        } else {
            assert_eq!((host.json(), host.stderr.as_str()), (ok_host.clone(), ""), "{prefix}");
        }
    }
    let fine = inventory(&etcd, &["--list", "--prefix", "/u7"]).json();
    assert_eq!(fine["p"]["children"], json!(["g"]));
    // Keys next to the prefix, outside it, are not read at all.
    etcd.put_raw(&[kv(b"/u7\xff", b"\xff"), kv(b"/u7\xff/hosts/g/h9", b"")]);
    assert_eq!(inventory(&etcd, &["--list", "--prefix", "/u7"]).json(), fine);
}

#[test]
fn slash_artefacts_are_skipped_with_one_warning_and_change_nothing() {
    let etcd = Etcd::start();
    etcd.put(&[("/ansible/hosts/g/h1", ""), ("/ansible/hostvars/h1/ok", "1")]);
    let clean: Vec<Run> = [&["--list"][..], &["--host", "h1"], &["--graph"]]
        .iter()
        .map(|args| inventory(&etcd, args))
        .collect();
    let junk = [
        "/ansible/",
        "/ansible//",
        "/ansible//hosts/g/h4",
        "/ansible/groups//g",
        "/ansible/groups/g/",
        "/ansible/groupvars/g//x",
        "/ansible/hosts//h2",
        "/ansible/hosts/g/",
        "/ansible/hosts/g//h6",
        "/ansible/hosts/g/h3/",
        "/ansible/hostvars//x",
        "/ansible/hostvars/h1/",
        "/ansible/hostvars/h1//x",
        "/ansible/hostvars/h1/x/",
    ];
    let pairs: Vec<(&str, &str)> = junk.iter().map(|k| (*k, "v")).collect();
    etcd.put(&pairs);
    // Outside the prefix: not counted.
    etcd.put(&[("/ansible", "v"), ("//ansible/hosts/g/h5", "v")]);

    for prefix in ["/ansible", "/ansible/", "/ansible//"] {
        for nested in [&[][..], &["--nested-keys"]] {
            let with = |args: &[&str]| inventory(&etcd, &[args, &["--prefix", prefix], nested].concat());
            let list = with(&["--list"]);
            assert_eq!(list.stdout, clean[0].stdout, "{prefix} {nested:?}");
            one_warning(&list, &["skipped 14 key(s) under /ansible/"]);
            assert!(list.stderr.ends_with("e.g. /ansible/\n"), "{list:#?}");
            let host = with(&["--host", "h1"]);
            assert_eq!(host.stdout, clean[1].stdout);
            one_warning(&host, &["skipped 3 key(s)"]);
            assert!(host.stderr.ends_with("e.g. /ansible/hostvars/h1/\n"), "{host:#?}");
            let graph = with(&["--graph"]);
            assert_eq!(graph.stdout, clean[2].stdout);
            one_warning(&graph, &["skipped 14 key(s)"]);
        }
    }
    // Ansible reads it, with our warning shown as Ansible shows any stderr.
    #[cfg(feature = "ansible")]
    {
        let read = ansible_json(Path::new(binary()), &etcd, &["--list"], &[]);
        assert_eq!(read["_meta"]["hostvars"], json!({"h1": {"ok": u("1")}}));
        assert_eq!(read["g"]["hosts"], json!(["h1"]));
    }
}

#[test]
fn two_1_mib_values_under_both_transports_and_any_page_size_and_deep_json_in_typed_values() {
    let etcd = Etcd::start();
    let piece = "ab\"\\\n\u{2028}\u{e9}\u{1f680}\u{1}";
    let big = |fill: &str| {
        let mut value = piece.repeat((1 << 20) / piece.len());
        value.push_str(fill);
        value
    };
    let (big1, big2) = (big("one"), big("two"));
    assert!(big1.len() >= 1 << 20);
    // One value per request: the fixture's client takes at most 2 MiB per message.
    etcd.put(&[("/ansible/hosts/g/h1", ""), ("/ansible/hostvars/h2/small", "s")]);
    etcd.put(&[("/ansible/hostvars/h1/big", &big1)]);
    etcd.put(&[("/ansible/hostvars/h2/big", &big2)]);
    let reference = inventory(&etcd, &["--list"]);
    let list = reference.json();
    assert_eq!(list["_meta"]["hostvars"]["h1"]["big"], u(&big1));
    assert_eq!(
        list["_meta"]["hostvars"]["h2"],
        json!({"big": u(&big2), "small": u("s")})
    );
    assert_eq!(reference.stderr, "");
    for transport in ["grpc", "gateway"] {
        for page_size in ["1", "2", "10000"] {
            let flags = ["--transport", transport, "--page-size", page_size];
            let again = inventory(&etcd, &[&["--list"][..], &flags].concat());
            assert_eq!((again.code, again.stderr.as_str()), (Some(0), ""), "{flags:?}");
            assert!(again.stdout == reference.stdout, "{flags:?}: another --list");
            let host = inventory(&etcd, &[&["--host", "h2"][..], &flags].concat());
            assert_eq!(host.json(), list["_meta"]["hostvars"]["h2"], "{flags:?}");
        }
    }
    #[cfg(feature = "ansible")]
    {
        let read = ansible_json(Path::new(binary()), &etcd, &["--list"], &[]);
        assert_eq!(read["_meta"]["hostvars"]["h1"]["big"], u(&big1));
    }

    // Typed values: JSON nested deeper than 127 levels stays the string it is (serde_json's
    // limit); 100 levels decode. Compared as text: the test's own parser stops at 128 levels.
    let nest = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let (shallow, deep) = (nest(100), nest(100_000));
    etcd.put(&[("/typed/hostvars/h/d100", &shallow), ("/typed/hostvars/h/deep", &deep)]);
    let typed = inventory(&etcd, &["--host", "h", "--prefix", "/typed", "--typed-values"]);
    assert_eq!(typed.code, Some(0), "{:?}", typed.stderr);
    assert_eq!(
        typed.stdout,
        format!("{{\"d100\":{shallow},\"deep\":{{\"__ansible_unsafe\":\"{deep}\"}}}}\n")
    );
}

#[test]
fn a_hundred_thousand_groups_list_host_and_graph() {
    let etcd = Etcd::start();
    let started = std::time::Instant::now();
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..100_000)
        .map(|i| kv(format!("/ansible/hosts/g{i:06}/h{:03}", i % 1000), ""))
        .collect();
    pairs.push(kv("/ansible/hostvars/h007/ok", "1"));
    etcd.put_raw(&pairs);
    let written = started.elapsed();

    let list = inventory(&etcd, &["--list"]);
    let json = list.json();
    assert_eq!(list.stderr, "");
    assert_eq!(
        json.as_object().map(Map::len),
        Some(100_000 + 3),
        "groups, all, ungrouped, _meta"
    );
    assert_eq!(json["all"]["children"].as_array().map(Vec::len), Some(100_001));
    assert_eq!(json["g012345"], json!({"hosts": ["h345"], "vars": {}, "children": []}));
    assert_eq!(json["_meta"]["hostvars"].as_object().map(Map::len), Some(1000));
    let host = inventory(&etcd, &["--host", "h007"]);
    assert_eq!((host.json(), host.stderr.as_str()), (json!({"ok": u("1")}), ""));
    let graph = inventory(&etcd, &["--graph"]);
    assert_eq!((graph.code, graph.stderr.as_str()), (Some(0), ""));
    assert_eq!(
        graph.stdout.lines().count(),
        2 + 2 * 100_000,
        "all, ungrouped, each group and its host"
    );
    assert_eq!(
        inventory(&etcd, &["--graph", "g099999"]).stdout,
        "@g099999:\n  |--h999\n"
    );
    eprintln!(
        "100,000 groups: written in {written:?}, read four times in {:?}",
        started.elapsed() - written
    );
}

#[test]
fn a_chain_of_100_000_nested_groups_is_drawn_or_refused_in_one_line() {
    // --graph used to recurse once per level and overflow the host's stack (SIGABRT from
    // about 20,000 levels in a debug build). It now draws at most 1,000 levels
    // (ansible-inventory itself stops near 2,000 with a RecursionError); --list is whole.
    let etcd = Etcd::start();
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..100_000)
        .map(|i| kv(format!("/ansible/groups/c{i:06}/c{:06}", i + 1), ""))
        .collect();
    pairs.push(kv("/ansible/hosts/c100000/deep", ""));
    etcd.put_raw(&pairs);

    let list = inventory(&etcd, &["--list"]);
    let json = list.json();
    assert_eq!(json["all"]["children"], json!(["c000000", "ungrouped"]));
    assert_eq!(json["c099999"]["children"], json!(["c100000"]));
    let tail = inventory(&etcd, &["--graph", "c099998"]);
    assert_eq!(
        tail.stdout,
        "@c099998:\n  |--@c099999:\n  |  |--@c100000:\n  |  |  |--deep\n"
    );

    // Drawn, the tree would be 15 GB (each line indented by its depth).
    inventory(&etcd, &["--graph"]).failure(&["--graph: groups nest more than 1000 levels deep below \"all\""]);
}

#[test]
fn variables_nested_10_000_levels_deep_give_json_or_a_clear_error() {
    // The component used to run out of wasm stack ("wasm trap: call stack exhausted", from
    // about 2,000 levels in a debug build), and the line dropped the reason. Keys deeper
    // than 100 levels are now refused in one line naming the key; Python's JSON parser
    // (Ansible's) stops near 1,000 anyway.
    let etcd = Etcd::start();
    let deep = |depth: usize| format!("/ansible/hostvars/h1/{}", vec!["a"; depth].join("/"));
    etcd.put(&[("/ansible/hosts/g/h1", ""), (&deep(100), "x")]);
    let nested = format!(
        "{}{{\"__ansible_unsafe\":\"x\"}}{}",
        "{\"a\":".repeat(100),
        "}".repeat(100)
    );
    let host = inventory(&etcd, &["--host", "h1", "--nested-keys"]);
    assert_eq!(host.stdout.trim_end(), nested, "100 levels are read");
    etcd.put(&[(&deep(10_000), "x")]);
    for args in [&["--list", "--nested-keys"][..], &["--host", "h1", "--nested-keys"]] {
        inventory(&etcd, args).failure(&["/ansible/hostvars/h1/a/a/a", "more than 100 levels deep"]);
    }
}

#[test]
fn control_characters_in_names_stay_escaped_on_the_one_line_of_an_error_or_warning() {
    // These messages used to print group names and keys raw. A name with "\n" split the
    // one line into several, "\r" or ESC sequences rewrote the user's terminal:
    //   etcd-inventory: group children form a loop: a\nb -> c -> a\nb (remove ...)
    //   etcd-inventory: group "p\r\n" names "all" as a child, ... (remove the key groups/p\r\n/all)
    //   etcd-inventory: warning: skipped 1 key(s) under /c3/ that fit none of ..., e.g. /c3/junk\n\x1b[2Jsecond
    // Other messages already escape names ({:?}): the invalid UTF-8 and nested-key errors.
    let etcd = Etcd::start();
    etcd.put(&[
        ("/c1/groups/a\nb/c", ""),
        ("/c1/groups/c/a\nb", ""),
        ("/c2/groups/p\r\n/all", ""),
        ("/c3/hosts/g/h1", ""),
        ("/c3/junk\n\u{1b}[2Jsecond", ""),
        ("/c4/hosts/g/h1", ""),
        ("/c4/hostvars/h1/a\nb/c", "x"),
        ("/c5/hostvars/h1/a\n", "x"),
        ("/c5/hostvars/h1/a\n/b", "x"),
    ]);
    let cases: [(&str, &[&str], bool, &str); 7] = [
        ("/c1", &["--list"], false, "loop"),
        ("/c1", &["--graph"], false, "loop"),
        ("/c2", &["--list"], false, "names \"all\" as a child"),
        ("/c3", &["--list"], true, "skipped 1 key(s)"),
        ("/c3", &["--graph"], true, "skipped 1 key(s)"),
        ("/c4", &["--host", "h1"], true, "skipped 1 key(s)"),
        ("/c5", &["--list", "--nested-keys"], false, "needs it to be a map"),
    ];
    let mut problems = Vec::new();
    for (prefix, mode, succeeds, needle) in cases {
        let run = inventory(&etcd, &[mode, &["--prefix", prefix]].concat());
        let expected_code = if succeeds { 0 } else { 1 };
        let stderr = run.stderr.strip_suffix('\n').unwrap_or(&run.stderr);
        if run.code != Some(expected_code)
            || stderr.chars().any(char::is_control)
            || !stderr.contains(needle)
            || (!succeeds && !run.stdout.is_empty())
        {
            problems.push(format!(
                "{prefix} {mode:?}: exit {:?}, stderr {:?}",
                run.code, run.stderr
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} case(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn stderr_is_empty_on_success_one_warning_when_keys_are_skipped_and_errors_leave_stdout_empty() {
    let etcd = Etcd::start();
    let cache = tempfile::tempdir().expect("cache dir");
    let cache_path = cache.path().to_str().expect("UTF-8 path");
    let cached = ["--cache", "--cache-path", cache_path];
    // (command, what it is): the cache ones run twice, a miss (written) then a hit.
    let commands: [(Vec<&str>, &str); 7] = [
        (vec!["--list"], "list"),
        (vec!["--host", "h1"], "host"),
        (vec!["--graph"], "graph"),
        (vec!["--graph", "g"], "graph of g"),
        ([&["--list"][..], &cached].concat(), "cache miss"),
        ([&["--list"][..], &cached].concat(), "cache hit"),
        ([&["--graph"][..], &cached].concat(), "graph from the cache"),
    ];
    let all = |etcd: &Etcd| -> Vec<Run> { commands.iter().map(|(args, _)| inventory(etcd, args)).collect() };

    etcd.put(&[("/ansible/hosts/g/h1", ""), ("/ansible/hostvars/h1/ok", "1")]);
    let clean = all(&etcd);
    for (run, (_, what)) in clean.iter().zip(&commands) {
        assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{what}: {run:#?}");
        assert!(
            run.stdout.starts_with('{') || run.stdout.starts_with('@'),
            "{what}: {run:#?}"
        );
    }

    // A key outside the layout: the same output, one warning, whatever the command (also
    // when the cached inventory is served: the keys are still there).
    etcd.put(&[("/ansible/hostvars/h1/a/b", "1")]);
    for ((run, before), (_, what)) in all(&etcd).iter().zip(&clean).zip(&commands) {
        assert_eq!(run.stdout, before.stdout, "{what}");
        one_warning(
            run,
            &["skipped 1 key(s) under /ansible/", "e.g. /ansible/hostvars/h1/a/b"],
        );
    }

    // Data that cannot become an inventory: exit 1, stdout empty, one line; the cache is
    // not served (it no longer matches etcd).
    etcd.put_raw(&[kv("/ansible/hostvars/h1/z", b"\xff")]);
    for (run, (_, what)) in all(&etcd).iter().zip(&commands) {
        let line = run.failure(&["/ansible/hostvars/h1/z", "not valid UTF-8"]);
        assert!(line.starts_with("etcd-inventory: "), "{what}: {line}");
    }
}
