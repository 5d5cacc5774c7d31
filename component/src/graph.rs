//! `--graph`: the tree `ansible-inventory --graph` prints, drawn from inventory-script JSON
//! in the order Ansible itself would draw it after reading that JSON.

use serde_json::{Map, Value};

use crate::error::Error;
use crate::inventory::{ALL, UNGROUPED};

/// Deepest nesting drawn. Lines are indented by depth, so a deep chain of groups makes the
/// tree quadratic in size (100,000 levels: 15 GB); `ansible-inventory --graph` itself
/// fails near 2,000 levels (Python's recursion limit).
pub const MAX_DEPTH: usize = 1_000;

/// The tree under `root` (a group name; `all` for everything), one line per group and host,
/// without a final newline (the shells print it as they print JSON).
pub fn render(inventory_json: &str, root: &str) -> Result<String, Error> {
    let doc: Value = serde_json::from_str(inventory_json)
        .map_err(|e| Error::InvalidOptions(format!("--graph: the inventory is not JSON: {e}")))?;
    let empty = Map::new();
    let groups = doc.as_object().unwrap_or(&empty);
    if root != ALL && !groups.contains_key(root) && !is_named_child(groups, root) {
        return Err(Error::InvalidOptions(format!(
            "--graph {root}: no group of that name in the inventory"
        )));
    }
    let mut out = String::new();
    let mut path = Vec::new();
    draw(groups, root, 0, &mut path, &mut out)?;
    out.pop();
    Ok(out)
}

fn draw<'a>(
    groups: &'a Map<String, Value>,
    group: &'a str,
    depth: usize,
    path: &mut Vec<&'a str>,
    out: &mut String,
) -> Result<(), Error> {
    if depth > MAX_DEPTH {
        return Err(Error::InvalidOptions(format!(
            "--graph: groups nest more than {MAX_DEPTH} levels deep below {:?}, too deep to draw (use --list)",
            path[0]
        )));
    }
    line(out, depth, &format!("@{group}:"));
    // The reader refuses loops; JSON from elsewhere is drawn once round a loop at most.
    if path.contains(&group) {
        return Ok(());
    }
    path.push(group);
    let mut children = names(groups, group, "children");
    if group == ALL {
        // Ansible creates `ungrouped` as all's first child before reading anything.
        children.sort_by_key(|child| *child != UNGROUPED);
    }
    for child in children {
        draw(groups, child, depth + 1, path, out)?;
    }
    // Ansible never draws all's own hosts: they are all in `ungrouped` or another group.
    if group != ALL {
        for host in names(groups, group, "hosts") {
            line(out, depth + 1, host);
        }
    }
    path.pop();
    Ok(())
}

/// `name` as Ansible indents it: `  |` per level, then `--`.
fn line(out: &mut String, depth: usize, name: &str) {
    if depth > 0 {
        out.push_str(&"  |".repeat(depth));
        out.push_str("--");
    }
    out.push_str(name);
    out.push('\n');
}

/// A group's `hosts` or `children`, in the order given (the short form of a group is a
/// list of hosts).
fn names<'a>(groups: &'a Map<String, Value>, group: &str, field: &str) -> Vec<&'a str> {
    let list = match groups.get(group) {
        Some(Value::Array(hosts)) if field == "hosts" => Some(hosts),
        Some(Value::Object(data)) => data.get(field).and_then(Value::as_array),
        _ => None,
    };
    list.into_iter().flatten().filter_map(Value::as_str).collect()
}

fn is_named_child(groups: &Map<String, Value>, name: &str) -> bool {
    groups.keys().any(|g| names(groups, g, "children").contains(&name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn graph(inventory: Value, root: &str) -> Result<String, Error> {
        render(&inventory.to_string(), root)
    }

    fn sample() -> Value {
        json!({
            "_meta": {"hostvars": {}},
            "all": {"hosts": [], "vars": {}, "children": ["db", "prod", "ungrouped"]},
            "db": {"hosts": ["db01"], "vars": {}, "children": []},
            "prod": {"hosts": ["p1"], "vars": {}, "children": ["web"]},
            "web": {"hosts": ["web01", "web02"], "vars": {}, "children": ["edge"]},
            "ungrouped": {"hosts": ["lonely"], "vars": {}, "children": []},
        })
    }

    #[test]
    fn draws_like_ansible_inventory() {
        let expected = "\
@all:
  |--@ungrouped:
  |  |--lonely
  |--@db:
  |  |--db01
  |--@prod:
  |  |--@web:
  |  |  |--@edge:
  |  |  |--web01
  |  |  |--web02
  |  |--p1";
        assert_eq!(graph(sample(), "all").unwrap(), expected);
    }

    #[test]
    fn draws_from_any_group_and_refuses_unknown_ones() {
        assert_eq!(
            graph(sample(), "web").unwrap(),
            "@web:\n  |--@edge:\n  |--web01\n  |--web02"
        );
        assert_eq!(graph(sample(), "edge").unwrap(), "@edge:");
        let error = graph(sample(), "nope").unwrap_err().to_string();
        assert_eq!(error, "--graph nope: no group of that name in the inventory");
    }

    #[test]
    fn a_chain_deeper_than_the_limit_is_refused_not_drawn() {
        let chain = |levels: usize| {
            let mut groups = serde_json::Map::new();
            groups.insert("all".into(), json!({"children": ["c0"]}));
            for i in 0..levels {
                groups.insert(format!("c{i}"), json!({"children": [format!("c{}", i + 1)]}));
            }
            Value::Object(groups)
        };
        let drawn = graph(chain(MAX_DEPTH - 1), "all").unwrap();
        assert_eq!(drawn.lines().count(), MAX_DEPTH + 1);
        let error = graph(chain(MAX_DEPTH), "all").unwrap_err().to_string();
        assert!(error.contains("more than 1000 levels deep below \"all\""), "{error}");
    }

    #[test]
    fn a_loop_in_foreign_json_ends() {
        let looped = json!({"all": {"children": ["a"]}, "a": {"children": ["b"]}, "b": {"children": ["a"]}});
        assert_eq!(
            graph(looped, "all").unwrap(),
            "@all:\n  |--@a:\n  |  |--@b:\n  |  |  |--@a:"
        );
    }
}
