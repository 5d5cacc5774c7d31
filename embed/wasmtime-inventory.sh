#!/bin/sh
# Ansible inventory script: the etcd-inventory component under stock wasmtime (no files; only these variables; 1 GiB, 120 s).
exec wasmtime run -S http -W max-memory-size=1073741824,timeout=120s --env ETCDCTL_ENDPOINTS --env ETCDCTL_USER --env ETCDCTL_PASSWORD --env ETCDCTL_DIAL_TIMEOUT --env ETCDCTL_COMMAND_TIMEOUT --env ETCD_INVENTORY_PREFIX --env ETCD_INVENTORY_PAGE_SIZE --env ETCD_INVENTORY_TRUST_TEMPLATES --env ETCD_INVENTORY_TYPED_VALUES --env ETCD_INVENTORY_NESTED_KEYS "${ETCD_INVENTORY_WASM:-$(dirname "$0")/etcd_inventory.wasm}" "$@"
