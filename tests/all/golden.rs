//! Golden fixtures: every `tests/data/NAME.kv` (an inventory in the key layout; a line
//! `# flags: ...` gives `--list` more flags) is loaded under `/golden/NAME` into one etcd, and
//! `--list`, over both transports, prints what `NAME.json` holds (indented here, the same
//! bytes otherwise) with the warning `NAME.warn` holds, if any; or refuses the data with the
//! one line `NAME.err` holds.
//!
//! After a deliberate change of output, rewrite the expected files and review their diff:
//! `BLESS=1 cargo test -p etcd-inventory --test all golden`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::{Etcd, Run, inventory, repo_root};

/// The kinds of expected file: what `--list` printed, its warning, the line it refused with.
const EXPECTED: [&str; 3] = ["json", "warn", "err"];
const FLAGS_LINE: &str = "# flags:";

fn data_dir() -> PathBuf {
    repo_root().join("tests/data")
}

/// One `.kv` file.
struct Fixture {
    name: String,
    kv: String,
    flags: Vec<String>,
}

impl Fixture {
    fn prefix(&self) -> String {
        format!("/golden/{}", self.name)
    }
}

/// Every `tests/data/*.kv`, by name.
fn fixtures() -> Vec<Fixture> {
    let mut fixtures: Vec<Fixture> = files_with("kv")
        .into_iter()
        .map(|(name, path)| {
            let kv = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            let flags = kv
                .lines()
                .filter_map(|l| l.strip_prefix(FLAGS_LINE))
                .flat_map(str::split_whitespace)
                .map(str::to_string)
                .collect();
            Fixture { name, kv, flags }
        })
        .collect();
    fixtures.sort_by(|a, b| a.name.cmp(&b.name));
    fixtures
}

/// The files of `tests/data` ending in `.ext`, by name without it.
fn files_with(ext: &str) -> BTreeMap<String, PathBuf> {
    let dir = data_dir();
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == ext))
        .map(|path| {
            let name = path.file_stem().and_then(|s| s.to_str()).expect("a UTF-8 name");
            (name.to_string(), path.clone())
        })
        .collect()
}

/// What `--list` gives for one fixture, as the expected files say it: (extension, text).
fn outcome(run: &Run, name: &str) -> Vec<(&'static str, String)> {
    match run.code {
        Some(0) => {
            serde_json::from_str::<serde_json::Value>(&run.stdout)
                .unwrap_or_else(|e| panic!("{name}: stdout is not JSON ({e}): {run:#?}"));
            let mut files = vec![("json", indented(&run.stdout))];
            if !run.stderr.is_empty() {
                assert_eq!(run.stderr.lines().count(), 1, "{name}: one warning line: {run:#?}");
                files.push(("warn", run.stderr.clone()));
            }
            files
        }
        _ => vec![("err", format!("{}\n", run.failure(&["etcd-inventory: "])))],
    }
}

/// Compact JSON text indented by two spaces a level, its bytes and their order kept: keys in
/// the order the inventory prints them, strings untouched. Empty `{}` and `[]` stay whole.
fn indented(json: &str) -> String {
    let mut out = String::with_capacity(json.len() * 2);
    let mut depth = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    let mut chars = json.trim_end().chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            (in_string, escaped) = match (escaped, c) {
                (true, _) => (true, false),
                (false, '\\') => (true, true),
                (false, '"') => (false, false),
                _ => (true, false),
            };
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' if chars.peek().is_some_and(|next| matches!(next, '}' | ']')) => {
                out.push(c);
                out.push(chars.next().expect("peeked"));
            }
            '{' | '[' => {
                out.push(c);
                depth += 1;
                newline(&mut out, depth);
            }
            '}' | ']' => {
                depth -= 1;
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c => out.push(c),
        }
    }
    out.push('\n');
    out
}

#[test]
fn golden_fixtures_list_as_their_expected_files() {
    let fixtures = fixtures();
    assert!(
        fixtures.iter().any(|f| f.name == "sample"),
        "tests/data/sample.kv is one of the fixtures"
    );
    let etcd = Etcd::start();
    for fixture in &fixtures {
        etcd.load(&fixture.prefix(), &fixture.kv);
    }
    let bless = std::env::var_os("BLESS").is_some();
    let mut stale = Vec::new();
    for fixture in &fixtures {
        let list = |transport: &str| {
            let prefix = fixture.prefix();
            let mut args = vec!["--list", "--prefix", &prefix, "--transport", transport];
            args.extend(fixture.flags.iter().map(String::as_str));
            inventory(&etcd, &args)
        };
        let (grpc, gateway) = (list("grpc"), list("gateway"));
        assert_eq!(
            (&grpc.code, &grpc.stdout, &grpc.stderr),
            (&gateway.code, &gateway.stdout, &gateway.stderr),
            "{}: the transports differ",
            fixture.name
        );
        let got = outcome(&grpc, &fixture.name);
        for ext in EXPECTED {
            let path = data_dir().join(format!("{}.{ext}", fixture.name));
            let expected = std::fs::read_to_string(&path).ok();
            let actual = got.iter().find(|(e, _)| *e == ext).map(|(_, text)| text);
            if expected.as_ref() == actual {
                continue;
            }
            if bless {
                rewrite(&path, actual);
            } else {
                stale.push(mismatch(&path, expected.as_deref(), actual.map(String::as_str)));
            }
        }
    }
    // An expected file whose .kv is gone would otherwise be kept, checked by nothing.
    let names: Vec<&str> = fixtures.iter().map(|f| f.name.as_str()).collect();
    for ext in EXPECTED {
        for (name, path) in files_with(ext) {
            if names.contains(&name.as_str()) {
                continue;
            }
            if bless {
                rewrite(&path, None);
            } else {
                stale.push(format!("{}: no {name}.kv beside it", path.display()));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "{} expected file(s) differ; after a deliberate change run `BLESS=1 cargo test -p etcd-inventory \
         --test all golden` and review the diff:\n\n{}",
        stale.len(),
        stale.join("\n\n")
    );
}

/// Writes `text` to `path`, or removes `path` when nothing is expected there.
fn rewrite(path: &Path, text: Option<&String>) {
    let done = match text {
        Some(text) => std::fs::write(path, text),
        None => std::fs::remove_file(path),
    };
    done.unwrap_or_else(|e| panic!("rewrite {}: {e}", path.display()));
}

fn mismatch(path: &Path, expected: Option<&str>, actual: Option<&str>) -> String {
    let show = |text: Option<&str>| text.map_or("(no file)".to_string(), |t| format!("\n{t}"));
    format!(
        "{}\n--- expected: {}\n--- actual: {}",
        path.display(),
        show(expected),
        show(actual)
    )
}

#[test]
fn golden_json_is_indented_with_its_bytes_and_order_kept() {
    let compact = r#"{"b":{"x":[],"y":{}},"a":["q\"{,:[\\",1.5e3,null],"_meta":{"hostvars":{}}}"#;
    let expected = "{\n  \"b\": {\n    \"x\": [],\n    \"y\": {}\n  },\n  \"a\": [\n    \"q\\\"{,:[\\\\\",\n    1.5e3,\n    null\n  ],\n  \"_meta\": {\n    \"hostvars\": {}\n  }\n}\n";
    assert_eq!(indented(compact), expected);
    let parsed = |text: &str| serde_json::from_str::<serde_json::Value>(text).expect("JSON");
    assert_eq!(parsed(expected), parsed(compact));
}
