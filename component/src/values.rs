//! How a stored value becomes an Ansible variable. Ansible (since ansible-core 2.19) treats
//! strings from an inventory script as trusted templates: whoever can write the etcd prefix
//! could run code on the controller through `{{ lookup('pipe', ...) }}`. So by default every
//! string is marked `{"__ansible_unsafe": ...}` and never rendered; Vault ciphertexts pass
//! through as `{"__ansible_vault": ...}`, decrypted only by Ansible where used.

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// Ansible's JSON marker of a string that must never be templated.
pub const UNSAFE: &str = "__ansible_unsafe";
/// Ansible's JSON marker of a Vault-encrypted string.
pub const VAULT: &str = "__ansible_vault";
/// How every Ansible Vault ciphertext begins.
pub const VAULT_HEADER: &str = "$ANSIBLE_VAULT;";

/// The settings that decide how values are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValueRules {
    /// Emit strings plainly, so Ansible renders templates in them.
    pub trust_templates: bool,
    /// Decode values that are JSON (`true`, `8080`, `["a"]`, `{"k": 1}`) into those types.
    pub typed_values: bool,
    /// Build nested maps from deeper variable keys (`hostvars/h/nginx/port`).
    pub nested_keys: bool,
}

/// How a string variable is emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// As a plain string: Ansible renders templates in it.
    Plain,
    /// As `{"__ansible_unsafe": ...}`: never rendered.
    Unsafe,
    /// As `{"__ansible_vault": ...}`: decrypted by Ansible where used.
    Vault,
}

/// One variable, ready to be printed. Strings, by far the most common, keep their text and
/// a mark rather than a JSON object each, so a large inventory stays small in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Variable {
    Text(Mark, String),
    /// A decoded JSON value (typed values), its strings already marked.
    Json(Value),
    /// Variables nested under this one (nested keys), sorted.
    Map(BTreeMap<String, Variable>),
}

impl Serialize for Variable {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Variable::Text(Mark::Plain, text) => serializer.serialize_str(text),
            Variable::Text(mark, text) => {
                let key = if *mark == Mark::Vault { VAULT } else { UNSAFE };
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(key, text)?;
                map.end()
            }
            Variable::Json(value) => value.serialize(serializer),
            Variable::Map(vars) => vars.serialize(serializer),
        }
    }
}

/// The variable for a stored text value.
pub fn to_variable(text: String, rules: &ValueRules) -> Variable {
    if rules.typed_values {
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::String(decoded)) => return text_variable(decoded, rules.trust_templates),
            // An object using Ansible's own `__ansible_*` keys could smuggle markers past
            // us: it stays the string it was stored as.
            Ok(decoded) if !uses_ansible_keys(&decoded) => {
                return Variable::Json(mark_strings(decoded, rules.trust_templates));
            }
            _ => {}
        }
    }
    text_variable(text, rules.trust_templates)
}

/// A string as a variable. Vault text is known by its header at the very start, as Ansible
/// knows it, and kept byte for byte: `!vault |` text ends in a newline, and an import of our
/// own output must find the value it came from.
fn text_variable(text: String, trust_templates: bool) -> Variable {
    if text.starts_with(VAULT_HEADER) {
        Variable::Text(Mark::Vault, text)
    } else if trust_templates {
        Variable::Text(Mark::Plain, text)
    } else {
        Variable::Text(Mark::Unsafe, text)
    }
}

/// Marks every string, however deep, by the same rule and in the same form as a plain
/// text value ([`text_variable`] and `Variable`'s `Serialize`).
fn mark_strings(value: Value, trust_templates: bool) -> Value {
    match value {
        Value::String(s) => {
            serde_json::to_value(text_variable(s, trust_templates)).expect("a text variable serialises")
        }
        Value::Array(items) => Value::Array(items.into_iter().map(|v| mark_strings(v, trust_templates)).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, mark_strings(v, trust_templates)))
                .collect(),
        ),
        other => other,
    }
}

fn uses_ansible_keys(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().any(uses_ansible_keys),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.starts_with("__ansible_") || uses_ansible_keys(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const VAULTED: &str = "$ANSIBLE_VAULT;1.1;AES256\n6162\n6364";

    fn var(text: &str, trust: bool, typed: bool) -> Value {
        let rules = ValueRules {
            trust_templates: trust,
            typed_values: typed,
            nested_keys: false,
        };
        serde_json::to_value(to_variable(text.to_string(), &rules)).unwrap()
    }

    #[test]
    fn strings_are_unsafe_by_default() {
        assert_eq!(var("{{ 7*6 }}", false, false), json!({"__ansible_unsafe": "{{ 7*6 }}"}));
        assert_eq!(var("8080", false, false), json!({"__ansible_unsafe": "8080"}));
    }

    #[test]
    fn trusted_strings_are_plain() {
        assert_eq!(var("{{ 7*6 }}", true, false), json!("{{ 7*6 }}"));
    }

    #[test]
    fn vault_ciphertexts_pass_through_byte_for_byte_whatever_the_trust() {
        let with_newline = format!("{VAULTED}\n");
        for trust in [false, true] {
            for typed in [false, true] {
                assert_eq!(var(VAULTED, trust, typed), json!({"__ansible_vault": VAULTED}));
                assert_eq!(
                    var(&with_newline, trust, typed),
                    json!({"__ansible_vault": with_newline})
                );
            }
        }
    }

    #[test]
    fn text_with_the_vault_header_further_in_is_a_plain_string() {
        let indented = format!("  {VAULTED}");
        assert_eq!(var(&indented, false, false), json!({"__ansible_unsafe": indented}));
        assert_eq!(var(&indented, true, true), json!(indented));
    }

    #[test]
    fn typed_values_decode_json_and_keep_marking_strings() {
        assert_eq!(var("true", false, true), json!(true));
        assert_eq!(var("50000", false, true), json!(50000));
        assert_eq!(var("null", false, true), json!(null));
        assert_eq!(
            var(r#"["a", {"k": 1, "s": "{{ x }}"}]"#, false, true),
            json!([{"__ansible_unsafe": "a"}, {"k": 1, "s": {"__ansible_unsafe": "{{ x }}"}}])
        );
        assert_eq!(var(r#""quoted""#, true, true), json!("quoted"));
        let nested_vault = serde_json::to_string(&json!({"pw": VAULTED})).unwrap();
        assert_eq!(
            var(&nested_vault, true, true),
            json!({"pw": {"__ansible_vault": VAULTED}})
        );
    }

    #[test]
    fn text_that_is_not_json_stays_a_string() {
        assert_eq!(var("web 01", true, true), json!("web 01"));
        assert_eq!(var("{not json", false, true), json!({"__ansible_unsafe": "{not json"}));
    }

    #[test]
    fn decoded_objects_cannot_forge_ansible_markers() {
        let forged = r#"{"__ansible_unsafe": "x"}"#;
        assert_eq!(var(forged, true, true), json!(forged));
        let deep = r#"[{"a": {"__ansible_vault": "x"}}]"#;
        assert_eq!(var(deep, false, true), json!({"__ansible_unsafe": deep}));
    }
}
