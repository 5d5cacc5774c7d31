//! What other files say about the settings, checked against the one table
//! (`component/src/settings/defs.rs`): the README's settings table is generated from it,
//! and `embed/wasmtime-inventory.sh` forwards exactly the variables the component reads.
//!
//! After changing a setting, `BLESS=1 cargo test -p etcd-inventory-component --test
//! settings_table` rewrites the README's table.

use std::path::{Path, PathBuf};

use etcd_inventory::settings::{Fallback, Kind, SETTINGS, Setting};

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

const HEADER: &str = "| flag | environment | etcd.ini `[etcd]` | default | meaning |\n|---|---|---|---|---|\n";

/// The README's settings table, as the settings table says it.
fn readme_table() -> String {
    let mut table = HEADER.to_string();
    for setting in SETTINGS {
        let cells = [
            flag_cell(setting),
            env_cell(setting),
            ini_cell(setting),
            default_cell(setting),
            setting.help.to_string(),
        ];
        let cells: Vec<String> = cells
            .iter()
            .map(|cell| match cell.is_empty() {
                true => " ".to_string(),
                false => format!(" {cell} "),
            })
            .collect();
        table.push_str(&format!("|{}|\n", cells.join("|")));
    }
    table
}

fn flag_cell(setting: &Setting) -> String {
    let Some(flag) = &setting.flag else {
        return String::new();
    };
    match setting.kind.placeholder() {
        // A | inside a cell ends it, even between backticks.
        Some(placeholder) => format!("`--{} {}`", flag.long, placeholder.replace('|', "\\|")),
        None => format!("`--{}`", flag.long),
    }
}

fn env_cell(setting: &Setting) -> String {
    match (setting.env, setting.env_note) {
        (Some(var), Some(note)) => format!("`{var}` ({note})"),
        (Some(var), None) => format!("`{var}`"),
        (None, _) => String::new(),
    }
}

fn ini_cell(setting: &Setting) -> String {
    let Some(ini) = setting.ini else {
        return String::new();
    };
    let key = match ini.section {
        "etcd" => format!("`{}`", ini.key),
        section => format!("`[{section}] {}`", ini.key),
    };
    match setting.ini_note {
        Some(note) => format!("{key}, {note}"),
        None => key,
    }
}

fn default_cell(setting: &Setting) -> String {
    match setting.default {
        Fallback::Value(value) => format!("`{value}`"),
        Fallback::Unset(words) => words.to_string(),
    }
}

#[test]
fn the_readme_settings_table_is_generated_from_the_settings_table() {
    let path = repo_file("README.md");
    let readme = std::fs::read_to_string(&path).expect("read README.md");
    let start = readme
        .find(HEADER)
        .expect("the README's settings table, under its header");
    let end = start + readme[start..].find("\n\n").expect("a blank line after the table") + 1;
    let expected = readme_table();
    if readme[start..end] == expected {
        return;
    }
    if std::env::var_os("BLESS").is_some() {
        let updated = format!("{}{expected}{}", &readme[..start], &readme[end..]);
        std::fs::write(&path, updated).expect("write README.md");
        return;
    }
    panic!(
        "README.md's settings table is stale: run `BLESS=1 cargo test -p etcd-inventory-component --test \
         settings_table`. It should read:\n{expected}"
    );
}

#[test]
fn the_wasmtime_wrapper_forwards_every_variable_the_component_reads() {
    let script = std::fs::read_to_string(repo_file("embed/wasmtime-inventory.sh")).expect("read the wrapper");
    let mut forwarded: Vec<&str> = script
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0] == "--env")
        .map(|w| w[1])
        .collect();
    forwarded.sort_unstable();
    // The wrapper gives the component no files (no --dir), so a variable naming one would
    // name nothing there: those are left out, as the wrapper's comment says.
    let mut expected: Vec<&str> = SETTINGS
        .iter()
        .filter(|s| s.takers.component && s.kind != Kind::File)
        .filter_map(|s| s.env)
        .collect();
    expected.sort_unstable();
    assert_eq!(forwarded, expected, "embed/wasmtime-inventory.sh's --env list");
}
