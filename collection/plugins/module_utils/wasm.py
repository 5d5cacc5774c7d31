# Copyright: etcd-inventory developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Runs the etcd-inventory WebAssembly component in this process, through the Python package
etcd-inventory-wasm (wasmtime-py): the plugin's `backend: wasm`. The settings reach the
component as they reach the binary (binary.settings_environment), and the component resolves
them; only where the listing comes from differs. It reads etcd's JSON gateway with wasmtime's
own HTTP sender (public CAs only, no client certificate): the component refuses TLS files and
the gRPC transport with one line naming the setting."""

from __future__ import annotations

import atexit

from ansible_collections.etcd_inventory.etcd.plugins.module_utils.binary import BinaryError, settings_environment

PACKAGE = "etcd-inventory-wasm"
# The component, compiled or loaded from the compile cache once per process.
_HOSTS = []


def available():
    """Whether the package (and wasmtime) can be imported here."""
    try:
        import etcd_inventory_wasm  # pylint: disable=unused-import,import-outside-toplevel # noqa: F401
    except ImportError:
        return False
    return True


def list_inventory(options):
    """The `--list` JSON (text) for `options` (option name to value; None: unset) and the
    warnings (lines, without `etcd-inventory: `). A failure is one BinaryError."""
    try:
        import etcd_inventory_wasm  # pylint: disable=import-outside-toplevel
    except ImportError as e:
        raise BinaryError(
            f"backend wasm needs the Python package {PACKAGE} in Ansible's environment ({e}): "
            f"pip install {PACKAGE} there, or set backend to binary"
        ) from None
    env, args = settings_environment(options)
    warnings = []
    try:
        if not _HOSTS:
            _HOSTS.append(etcd_inventory_wasm.Host(warn=warnings.append))
            atexit.register(_HOSTS[0].close)
        host = _HOSTS[0]
        resolved = host.resolve(["--list", *args], env, etcd_inventory_wasm.load_ini(env))
        answer = host.list_inventory(resolved)
    except etcd_inventory_wasm.Error as e:
        raise BinaryError(f"etcd-inventory failed: {e}") from None
    return answer.json, warnings + answer.warnings
