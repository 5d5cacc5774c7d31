//! The `--list` cache: served only while etcd confirms the prefix is unchanged (or within
//! `max_age`), rewritten after any put or delete under the prefix, never served damaged,
//! 0600, and served stale only when asked and no endpoint answers.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{Etcd, Run, SAMPLE_KV, binary, clean_command, host_names, run};

/// An etcd with the sample inventory and a private cache directory.
struct Fixture {
    /// `None` once stopped; the endpoint then refuses connections.
    etcd: Option<Etcd>,
    endpoint: String,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let etcd = Etcd::start();
        etcd.load("/ansible", SAMPLE_KV);
        let endpoint = etcd.endpoint.clone();
        let dir = tempfile::tempdir().expect("cache dir");
        Fixture {
            etcd: Some(etcd),
            endpoint,
            dir,
        }
    }

    fn etcd(&self) -> &Etcd {
        self.etcd.as_ref().expect("etcd runs")
    }

    /// Stops etcd (by PID, in its Drop).
    fn stop_etcd(&mut self) {
        self.etcd = None;
    }

    /// `--list` with the cache on and these extra variables.
    fn list(&self, env: &[(&str, &str)], args: &[&str]) -> Run {
        let mut command = clean_command(binary());
        command
            .arg("--list")
            .args(args)
            .env("ETCDCTL_ENDPOINTS", &self.endpoint)
            .env("ETCD_INVENTORY_CACHE", "true")
            .env("ETCD_INVENTORY_CACHE_PATH", self.dir.path());
        for (name, value) in env {
            command.env(name, value);
        }
        run(&mut command)
    }

    /// The one cache file (beside it at most its stamp, and no temporary leftovers).
    fn file(&self) -> PathBuf {
        let files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("cache dir")
            .map(|e| e.expect("entry").path())
            .collect();
        let (cache, others): (Vec<&PathBuf>, Vec<&PathBuf>) =
            files.iter().partition(|p| p.extension().is_some_and(|e| e == "cache"));
        assert_eq!(cache.len(), 1, "one cache file: {files:?}");
        assert!(
            others.iter().all(|p| p.extension().is_some_and(|e| e == "stamp")),
            "{files:?}"
        );
        cache[0].clone()
    }

    /// The cache file's inode: a rewrite (temp file + rename) changes it, a hit does not.
    fn inode(&self) -> u64 {
        std::fs::metadata(self.file()).expect("cache file").ino()
    }
}

#[test]
fn an_unchanged_prefix_is_served_from_the_cache_and_any_change_rewrites_it() {
    let f = Fixture::new();
    let first = f.list(&[], &[]);
    let before = first.json();
    let inode = f.inode();
    let mode = std::fs::metadata(f.file()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the cache holds secrets");

    // Hit.
    let again = f.list(&[], &[]);
    assert_eq!(again.stdout, first.stdout);
    assert_eq!(f.inode(), inode, "served, not rewritten");

    // Writes elsewhere in the cluster: still a hit.
    f.etcd()
        .put(&[("/elsewhere/x", "1"), ("/ansible-other/hostvars/h/v", "1")]);
    assert_eq!(f.list(&[], &[]).stdout, first.stdout);
    assert_eq!(f.inode(), inode, "writes outside the prefix change nothing");
    let stamp = f.file().with_extension("stamp");
    let stamped: Value = serde_json::from_slice(&std::fs::read(&stamp).expect("a stamp")).expect("json");
    assert_eq!(
        stamped["revision"],
        f.etcd().revision(),
        "confirmed as of the current revision, so the next check is one lookup"
    );

    // A put under the prefix.
    f.etcd().put(&[("/ansible/hostvars/new01/v", "1")]);
    let after_put = f.list(&[], &[]).json();
    assert!(host_names(&after_put).contains(&"new01".to_string()));
    let inode = f.inode();

    // A delete.
    f.etcd().delete("/ansible/hostvars/new01/v");
    assert_eq!(f.list(&[], &[]).json(), before);
    let inode_after_delete = f.inode();
    assert_ne!(inode_after_delete, inode);

    // A delete and a put of as many keys: the count is the same, the content is not.
    f.etcd().delete("/ansible/hostvars/db01/ansible_host");
    f.etcd().put(&[("/ansible/hostvars/db01/ansible_port", "2222")]);
    let swapped = f.list(&[], &[]).json();
    let db01 = &swapped["_meta"]["hostvars"]["db01"];
    assert!(
        db01.get("ansible_host").is_none() && db01.get("ansible_port").is_some(),
        "{db01}"
    );
    assert_ne!(f.inode(), inode_after_delete);
}

#[test]
fn within_max_age_the_cache_is_served_without_asking_etcd() {
    let mut f = Fixture::new();
    let max_age = [("ETCD_INVENTORY_CACHE_MAX_AGE", "3600")];
    let first = f.list(&max_age, &[]);
    first.json();
    f.etcd().put(&[("/ansible/hostvars/new01/v", "1")]);
    assert_eq!(
        f.list(&max_age, &[]).stdout,
        first.stdout,
        "the classic behaviour: not asked"
    );

    // Forcing a refresh: the flag, and the variable (Ansible passes no flags).
    let refreshed = f.list(&max_age, &["--refresh-cache"]);
    assert!(host_names(&refreshed.json()).contains(&"new01".to_string()));
    f.etcd().put(&[("/ansible/hostvars/new02/v", "1")]);
    let by_env = f.list(&[max_age[0], ("ETCD_INVENTORY_REFRESH_CACHE", "true")], &[]);
    assert!(host_names(&by_env.json()).contains(&"new02".to_string()));

    // Past max_age (0: always), it is validated: the put shows at once.
    f.etcd().put(&[("/ansible/hostvars/new03/v", "1")]);
    assert!(host_names(&f.list(&[("ETCD_INVENTORY_CACHE_MAX_AGE", "0")], &[]).json()).contains(&"new03".to_string()));

    // With etcd gone, max_age still serves it, with no warning.
    f.stop_etcd();
    let offline = f.list(&max_age, &[]);
    assert!(host_names(&offline.json()).contains(&"new03".to_string()));
    assert_eq!(offline.stderr, "");
}

#[test]
fn a_stale_cache_is_served_only_when_asked_and_no_endpoint_answers() {
    let mut f = Fixture::new();
    let first = f.list(&[], &[]);
    first.json();
    f.stop_etcd();
    f.list(&[], &[]).failure(&["cannot reach etcd", &f.endpoint]);
    let stale = f.list(&[("ETCD_INVENTORY_STALE_CACHE_FALLBACK", "true")], &[]);
    assert_eq!(stale.code, Some(0), "{stale:#?}");
    assert_eq!(stale.stdout, first.stdout);
    assert!(
        stale.stderr.contains("serving the cached inventory read") && stale.stderr.contains("at revision"),
        "{stale:#?}"
    );
}

#[test]
fn a_damaged_cache_is_ignored_with_a_warning_and_rebuilt() {
    let f = Fixture::new();
    let first = f.list(&[], &[]);
    first.json();
    let file = f.file();
    let text = std::fs::read(&file).unwrap();
    for damaged in [&text[..text.len() / 2], b"not a cache at all"] {
        std::fs::write(&file, damaged).unwrap();
        let run = f.list(&[], &[]);
        assert_eq!(run.stdout, first.stdout, "the inventory comes from etcd");
        assert!(run.stderr.contains("ignoring the cache"), "{run:#?}");
        assert_eq!(std::fs::read(&file).unwrap(), text_without_time(&text, &file));
    }
}

/// The rebuilt file equals the first one but for the time it was written.
fn text_without_time(original: &[u8], rebuilt: &Path) -> Vec<u8> {
    let strip = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let start = text.find("\"written_at\":").expect("written_at");
        let end = start + text[start..].find(',').expect("comma");
        format!("{}{}", &text[..start], &text[end..])
    };
    let rebuilt_text = std::fs::read(rebuilt).unwrap();
    assert_eq!(strip(&rebuilt_text), strip(original), "rebuilt like the first");
    rebuilt_text
}

#[test]
fn a_classic_etcd_ini_cache_section_turns_it_on() {
    let f = Fixture::new();
    let ini = f.dir.path().join("etcd.ini");
    let text = format!(
        "[etcd]\nhost = 127.0.0.1\nport = {}\n[cache]\nenabled = true\npath = {}\nmax_age = 300\n",
        crate::support::port_of(&f.endpoint),
        f.dir.path().join("files").display()
    );
    std::fs::write(&ini, text).expect("etcd.ini");
    let list = || run(clean_command(binary()).arg("--list").env("ETCD_INI_PATH", &ini));
    let first = list();
    first.json();
    assert_eq!(std::fs::read_dir(f.dir.path().join("files")).unwrap().count(), 1);
    f.etcd().put(&[("/ansible/hostvars/new01/v", "1")]);
    assert_eq!(list().stdout, first.stdout, "max_age = 300: served without asking etcd");
}

#[test]
fn a_cached_inventory_also_draws_the_graph() {
    let f = Fixture::new();
    let graph = |cache: &str| {
        run(clean_command(binary())
            .args(["--graph", "prod"])
            .env("ETCDCTL_ENDPOINTS", &f.endpoint)
            .env("ETCD_INVENTORY_CACHE", cache)
            .env("ETCD_INVENTORY_CACHE_PATH", f.dir.path()))
    };
    let fresh = graph("false");
    assert!(
        fresh.stdout.contains("@prod:") && fresh.stdout.contains("web01"),
        "{fresh:?}"
    );
    f.list(&[], &[]);
    let written = std::fs::metadata(f.file()).unwrap().modified().unwrap();
    let cached = graph("true");
    assert_eq!(
        (cached.stdout.as_str(), cached.stderr.as_str()),
        (fresh.stdout.as_str(), "")
    );
    let after = std::fs::metadata(f.file()).unwrap().modified().unwrap();
    assert_eq!(after, written, "drawn from the cache file, not rewritten");
}
