//! What other files say about the settings, checked against the one table
//! (`component/src/settings/defs.rs`): the README's settings table and the Ansible
//! collection's options (its documentation fragment and the list its Python reads) are
//! generated from it, and `embed/wasmtime-inventory.sh` forwards exactly the variables the
//! component reads.
//!
//! After changing a setting, `BLESS=1 cargo test -p etcd-inventory-component --test
//! settings_table` rewrites the generated files.

use std::path::{Path, PathBuf};

use etcd_inventory::settings::{CACHE, Fallback, Kind, PASSWORD, SETTINGS, Setting, TRUST_TEMPLATES};

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

/// `path` must hold `expected` from `start` to `end` (byte offsets into its text), or with
/// BLESS set is rewritten so.
fn check_generated(path: &str, text: &str, start: usize, end: usize, expected: &str) {
    if text[start..end] == *expected {
        return;
    }
    if std::env::var_os("BLESS").is_some() {
        let updated = format!("{}{expected}{}", &text[..start], &text[end..]);
        std::fs::write(repo_file(path), updated).unwrap_or_else(|e| panic!("write {path}: {e}"));
        return;
    }
    panic!(
        "{path} is stale: run `BLESS=1 cargo test -p etcd-inventory-component --test settings_table`. \
         It should read:\n{expected}"
    );
}

/// A generated file, whole.
fn check_generated_file(path: &str, expected: &str) {
    let text = std::fs::read_to_string(repo_file(path)).unwrap_or_default();
    check_generated(path, &text, 0, text.len(), expected);
}

#[test]
fn the_readme_settings_table_is_generated_from_the_settings_table() {
    let readme = std::fs::read_to_string(repo_file("README.md")).expect("read README.md");
    let start = readme
        .find(HEADER)
        .expect("the README's settings table, under its header");
    let end = start + readme[start..].find("\n\n").expect("a blank line after the table") + 1;
    check_generated("README.md", &readme, start, end, &readme_table());
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

/// The collection's name for a setting's option: its flag with `_` for `-`, or for the two
/// settings without a flag, the name its etcd.ini key or variable suggests; `cache_enabled`
/// for `--cache`.
fn option_name(setting: &Setting) -> String {
    match (&setting.flag, setting.env) {
        // An inventory plugin's `cache` option is Ansible's own inventory cache, which
        // Ansible sets up by that name: ours is named after its etcd.ini key instead.
        _ if std::ptr::eq(setting, &CACHE) => "cache_enabled".to_string(),
        (Some(flag), _) => flag.long.replace('-', "_"),
        (None, Some("ETCDCTL_PASSWORD")) => "password".to_string(),
        (None, Some("ETCD_INI_PATH")) => "ini_path".to_string(),
        _ => panic!("{setting:?}: a setting without a flag needs an option name here"),
    }
}

/// The option's type, as Ansible's documentation and option parsing name them.
fn option_type(setting: &Setting) -> &'static str {
    match setting.kind {
        Kind::Switch => "bool",
        Kind::Number(_) => "int",
        Kind::File | Kind::Dir => "path",
        Kind::Text(_) | Kind::Duration | Kind::Choice(_) => "str",
    }
}

/// A YAML scalar: JSON's quoting is YAML's double-quoted style, in which a line break
/// between words folds into a space, so long text wraps (ansible-test's pep8 allows 160
/// columns).
fn yaml_string(text: &str) -> String {
    let quoted = serde_json::to_string(text).expect("a string encodes");
    let mut wrapped = String::new();
    let mut width = 0;
    for word in quoted.split(' ') {
        if width > 0 && width + word.len() > 100 {
            wrapped.push_str("\n        ");
            width = 0;
        } else if width > 0 {
            wrapped.push(' ');
            width += 1;
        }
        wrapped.push_str(word);
        width += word.len();
    }
    wrapped
}

const GENERATED: &str = "Generated from component/src/settings/defs.rs by component/tests/settings_table.rs \
                         (BLESS=1 rewrites it): do not edit.";

/// Whether the option's value is a secret: never logged by Ansible (`no_log`).
fn is_secret(setting: &Setting) -> bool {
    std::ptr::eq(setting, &PASSWORD)
}

/// The settings the write side reads: the options of the collection's modules.
fn connection_settings() -> impl Iterator<Item = &'static Setting> {
    SETTINGS.iter().copied().filter(|s| s.takers.write_side)
}

/// A Python tuple of option names, one a line.
fn python_names<'a>(settings: impl Iterator<Item = &'a Setting>) -> String {
    let names: String = settings.map(|s| format!("    \"{}\",\n", option_name(s))).collect();
    format!("(\n{names})")
}

/// `plugins/module_utils/settings.py`: each option, the variable or flag that gives it to the
/// binary, and its type (module_utils/binary.py passes them on); which of them the modules
/// take, and which are secrets.
fn collection_settings_list() -> String {
    let mut text = format!(
        "# {GENERATED}\n\"\"\"Each setting of etcd-inventory: (option, environment variable, flag, type).\"\"\"\n\nSETTINGS = (\n"
    );
    for setting in SETTINGS {
        let variable = setting.env.map_or("None".to_string(), |v| format!("\"{v}\""));
        let flag = setting
            .flag
            .as_ref()
            .map_or("None".to_string(), |f| format!("\"--{}\"", f.long));
        text.push_str(&format!(
            "    (\"{}\", {variable}, {flag}, \"{}\"),\n",
            option_name(setting),
            option_type(setting)
        ));
    }
    text.push_str(")\n");
    text.push_str(&format!(
        "\n# The settings the write side reads: the options of the modules (host, group).\nCONNECTION = {}\n",
        python_names(connection_settings())
    ));
    text.push_str(&format!(
        "\n# Options whose value is a secret, which Ansible never logs.\nNO_LOG = {}\n",
        python_names(SETTINGS.iter().copied().filter(|s| is_secret(s)))
    ));
    text
}

/// Where an option's value comes from when it is unset: the plugin's options read their
/// environment variable themselves; the modules' say where the binary looks.
fn unset_line(setting: &Setting, env_first: bool) -> String {
    let default = match setting.default {
        Fallback::Value(value) => format!("etcd.ini's key or else V({value}) applies."),
        Fallback::Unset(words) => format!("etcd.ini's key or else this applies: {words}."),
    };
    let default = match setting.ini {
        // The plugin always has the binary emit plain strings and trusts them or not itself
        // (no module takes the setting: the write side does not read it).
        _ if std::ptr::eq(setting, &TRUST_TEMPLATES) => {
            return "Unset, off: values are data, never rendered. The plugin applies this itself: etcd.ini's \
                    C(trust_templates) does not apply here."
                .to_string();
        }
        Some(ini) => default.replace(
            "etcd.ini's key",
            &format!("etcd.ini's C({}) in C([{}])", ini.key, ini.section),
        ),
        None => default.replace("etcd.ini's key or else ", ""),
    };
    match (env_first, setting.env) {
        (true, Some(variable)) => format!("Unset, C({variable}) in the environment the module runs in, else {default}"),
        _ => format!("Unset, {default}"),
    }
}

/// One option's documentation: with `env`, its environment variable as Ansible reads it
/// for a plugin; without, as the modules' argument spec falls back to it.
fn option_doc(setting: &Setting, env: bool) -> String {
    let mut yaml = format!("  {}:\n    description:\n", option_name(setting));
    yaml.push_str(&format!("      - {}\n", yaml_string(&format!("{}.", setting.help))));
    yaml.push_str(&format!("      - {}\n", yaml_string(&unset_line(setting, !env))));
    if let Some(flag) = &setting.flag {
        yaml.push_str(&format!(
            "      - {}\n",
            yaml_string(&format!("The binary's C(--{}).", flag.long))
        ));
    }
    yaml.push_str(&format!("    type: {}\n", option_type(setting)));
    if let Kind::Choice(words) = setting.kind {
        yaml.push_str(&format!("    choices: [{}]\n", words.join(", ")));
    }
    if let (true, Some(variable)) = (env, setting.env) {
        yaml.push_str(&format!("    env:\n      - name: {variable}\n"));
    }
    yaml
}

/// The modules' `executable` option: no setting of the binary, but how the modules find it.
fn executable_doc() -> String {
    let lines = [
        "The etcd-inventory binary to run: a path, or a name looked up on PATH.",
        "Unset, C(etcd-inventory) on PATH, else beside the Python that runs the module (where C(pip install \
         etcd-inventory) puts it).",
    ];
    let lines: String = lines.iter().map(|l| format!("      - {}\n", yaml_string(l))).collect();
    format!("  executable:\n    description:\n{lines}    type: path\n")
}

/// `plugins/doc_fragments/settings.py`: every setting as an option of the inventory plugin,
/// read from its environment variable too (`DOCUMENTATION`), and the write side's settings
/// as the modules' options (`CONNECTION`, `etcd_inventory.etcd.settings.connection`). No
/// option has a default of its own: unset, the binary applies etcd.ini and then its
/// default, as it does as a script.
fn collection_doc_fragment() -> String {
    let plugin: String = SETTINGS.iter().map(|s| option_doc(s, true)).collect();
    let modules: String = connection_settings().map(|s| option_doc(s, false)).collect();
    format!(
        "# {GENERATED}\n\"\"\"The etcd-inventory settings as options of this collection's inventory plugin, and those of the \
         write side as options of its modules.\"\"\"\n\n\n\
         class ModuleDocFragment:\n    DOCUMENTATION = r\"\"\"\noptions:\n{plugin}\"\"\"\n\n\
         \x20   # The modules' connection: the settings the write side reads (endpoints, credentials, TLS files,\n\
         \x20   # timeouts, how values are written) and the binary to run.\n\
         \x20   CONNECTION = r\"\"\"\noptions:\n{modules}{}\"\"\"\n",
        executable_doc()
    )
}

#[test]
fn the_collection_s_options_are_generated_from_the_settings_table() {
    check_generated_file(
        "collection/plugins/module_utils/settings.py",
        &collection_settings_list(),
    );
    check_generated_file(
        "collection/plugins/doc_fragments/settings.py",
        &collection_doc_fragment(),
    );
}
