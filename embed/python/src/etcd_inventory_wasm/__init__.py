"""The etcd-inventory WebAssembly component in Python, run in this process by wasmtime-py:
an Ansible inventory kept in etcd, read through etcd's v3 JSON gateway.

    from etcd_inventory_wasm import Host, load_ini
    host = Host()                                   # compiled once, then from the cache
    resolved = host.resolve(["--list"], os.environ, load_ini())
    answer = host.list_inventory(resolved)          # answer.json, answer.warnings

`etcd-inventory-wasm --list` / `--host NAME` is the same as an Ansible inventory script."""

from .host import Answer, Error, Host, Limits, Resolved, UsageError, load_ini

__all__ = ["Answer", "Error", "Host", "Limits", "Resolved", "UsageError", "load_ini"]
