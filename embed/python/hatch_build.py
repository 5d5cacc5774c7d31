"""Copies the composed component into the wheel at build time: $ETCD_INVENTORY_WASM, else the
one `cargo build` leaves in ../../target/component/ (as embed/node's transpile takes it)."""

import os

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class ComponentHook(BuildHookInterface):
    def initialize(self, version, build_data):
        default = os.path.join(self.root, "..", "..", "target", "component", "etcd_inventory.wasm")
        path = os.path.abspath(os.environ.get("ETCD_INVENTORY_WASM") or default)
        if not os.path.isfile(path):
            raise RuntimeError(
                f"the component {path} is missing: run cargo build, or write it with "
                "`etcd-inventory component --output FILE` and set ETCD_INVENTORY_WASM=FILE"
            )
        build_data["force_include"][path] = "etcd_inventory_wasm/etcd_inventory.wasm"
