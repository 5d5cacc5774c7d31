//! The Python host, embed/python (the package `etcd-inventory-wasm`), as a user gets it: its
//! wheel built by pip with the project's own build backend (hatchling) around the `.wasm` our
//! binary writes (`component --output`), once per test process, and installed with pip
//! into a directory of this run, which `PYTHONPATH` hands to a Python: the one of
//! `.venv-python` (wasmtime and hatchling, which scripts/test.sh installs) for the script,
//! and each Ansible's for the plugin (scripts/test.sh installs wasmtime there too).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::{binary, clean_command, repo_root, run, tool};

/// The Python with wasmtime-py and hatchling: `$ETCD_INVENTORY_PYTHON`, else `.venv-python`'s.
pub fn python() -> PathBuf {
    match std::env::var_os("ETCD_INVENTORY_PYTHON") {
        Some(_) => tool("python", "ETCD_INVENTORY_PYTHON", "the tests of cargo feature `python`"),
        None => {
            let venv = repo_root().join(".venv-python/bin/python");
            assert!(
                venv.is_file(),
                "{} is missing and $ETCD_INVENTORY_PYTHON unset: the tests of cargo feature `python` need a \
                 Python with wasmtime and hatchling (scripts/test.sh makes .venv-python)",
                venv.display()
            );
            venv
        }
    }
}

/// The directory the package is installed in (for `PYTHONPATH`; its console script is in
/// `bin/`), built and installed once per test process.
pub fn site() -> &'static Path {
    static INSTALLED: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_dir, site) = INSTALLED.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir for the Python package");
        let wasm = dir.path().join("etcd_inventory.wasm");
        let written = run(clean_command(binary()).args(["component", "--output"]).arg(&wasm));
        assert_eq!(written.code, Some(0), "{written:#?}");
        let wheels = dir.path().join("wheels");
        // Offline: hatchling comes from .venv-python (--no-build-isolation), nothing from an index.
        let built = run(clean_command(python())
            .args([
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-index",
                "--no-build-isolation",
                "--wheel-dir",
            ])
            .arg(&wheels)
            .arg(repo_root().join("embed/python"))
            .env("ETCD_INVENTORY_WASM", &wasm)
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"));
        assert_eq!(built.code, Some(0), "pip wheel embed/python: {built:#?}");
        let wheel = std::fs::read_dir(&wheels)
            .expect("the wheel directory")
            .map(|entry| entry.expect("a directory entry").path())
            .find(|p| p.extension().is_some_and(|e| e == "whl"))
            .unwrap_or_else(|| panic!("pip built no wheel: {built:#?}"));
        let site = dir.path().join("site");
        let installed = run(clean_command(python())
            .args(["-m", "pip", "install", "--no-deps", "--no-index", "--target"])
            .arg(&site)
            .arg(&wheel)
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"));
        assert_eq!(installed.code, Some(0), "pip install --target: {installed:#?}");
        let packaged = std::fs::read(site.join("etcd_inventory_wasm/etcd_inventory.wasm")).expect("the packaged .wasm");
        assert!(
            packaged == std::fs::read(&wasm).expect("the written .wasm"),
            "the wheel holds the .wasm the binary wrote"
        );
        (dir, site)
    });
    site
}

/// The console script `etcd-inventory-wasm`, with the package on `PYTHONPATH`, its compile
/// cache under `cache_home` (`XDG_CACHE_HOME`) and no settings variable of the caller's.
pub fn script(cache_home: &Path) -> Command {
    let mut command = clean_command(site().join("bin/etcd-inventory-wasm"));
    command.env("PYTHONPATH", site()).env("XDG_CACHE_HOME", cache_home);
    command
}

/// `python -c CODE` with the package on `PYTHONPATH` and the compile cache under `cache_home`.
pub fn python_code(cache_home: &Path, code: &str) -> Command {
    let mut command = clean_command(python());
    command
        .args(["-c", code])
        .env("PYTHONPATH", site())
        .env("XDG_CACHE_HOME", cache_home);
    command
}

/// A compile cache shared by the tests of this process that are not about the cache: each
/// compiles once at most.
pub fn shared_cache_home() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().expect("temp dir for the compile cache"))
        .path()
}
