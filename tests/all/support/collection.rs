//! The etcd_inventory.etcd collection as a user gets it: built by `ansible-galaxy collection
//! build` from `collection/` and installed by `ansible-galaxy collection install` into a
//! directory of this test run, once per test process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::{Etcd, ansible_command, ansible_program, binary, clean_command, repo_root, run};

/// The collections directory holding the installed collection (for `ANSIBLE_COLLECTIONS_PATH`).
pub fn collections_path() -> &'static Path {
    static INSTALLED: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_dir, path) = INSTALLED.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir for the collection");
        let built = dir.path().join("built");
        let ran = run(clean_command(ansible_program("ansible-galaxy"))
            .args(["collection", "build", "--force", "--output-path"])
            .arg(&built)
            .arg(repo_root().join("collection"))
            .env("HOME", dir.path()));
        assert_eq!(ran.code, Some(0), "ansible-galaxy collection build: {ran:#?}");
        let tarball = std::fs::read_dir(&built)
            .expect("the build's output directory")
            .map(|entry| entry.expect("a directory entry").path())
            .find(|p| p.extension().is_some_and(|e| e == "gz"))
            .unwrap_or_else(|| panic!("ansible-galaxy built no tarball: {ran:#?}"));
        let path = dir.path().join("collections");
        let ran = run(clean_command(ansible_program("ansible-galaxy"))
            .args(["collection", "install", "--force", "-p"])
            .arg(&path)
            .arg(&tarball)
            .env("HOME", dir.path()));
        assert_eq!(ran.code, Some(0), "ansible-galaxy collection install: {ran:#?}");
        (dir, path)
    });
    path
}

/// An Ansible command as [`ansible_command`] makes it, that also finds the installed
/// collection and finds our binary on `PATH`, as a user who installed the wheel would.
pub fn collection_command(program: &str, inventory: &Path, etcd: &Etcd) -> (Command, tempfile::TempDir) {
    let (mut command, home) = ansible_command(program, inventory, etcd);
    command
        .env("ANSIBLE_COLLECTIONS_PATH", collections_path())
        .env("PATH", path_with_binary());
    (command, home)
}

/// `PATH` with our binary's directory first.
pub fn path_with_binary() -> std::ffi::OsString {
    let dir = Path::new(binary()).parent().expect("the binary's directory");
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(dir.to_path_buf()).chain(std::env::split_paths(&rest))).expect("a PATH")
}
