"""`python -m etcd_inventory_wasm --list`: the inventory script."""

from .script import main

main()
