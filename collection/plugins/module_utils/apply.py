# Copyright: etcd-inventory developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""What the host and group modules share: their connection options, taken from the settings
table as the binary's write side reads them, and one run of `etcd-inventory apply`, which
reads the keys, plans and writes in Rust (the key layout and value rules live there). The
modules only turn their parameters into its JSON request and its JSON answer into a result."""

from __future__ import annotations

import json

from ansible_collections.etcd_inventory.etcd.plugins.module_utils.binary import (
    BinaryError,
    find_binary,
    run,
    settings_environment,
)
from ansible_collections.etcd_inventory.etcd.plugins.module_utils.settings import CONNECTION, NO_LOG, SETTINGS


def connection_argument_spec():
    """The argument spec of the documentation fragment etcd_inventory.etcd.settings.connection:
    each write-side setting, and `executable`. An option left unset is read by the binary
    from its variable in the module's environment (see `apply`)."""
    spec = {"executable": {"type": "path"}}
    for name, _variable, _flag, kind in SETTINGS:
        if name in CONNECTION:
            spec[name] = {"type": kind, "no_log": name in NO_LOG}
    return spec


def apply(module, request):
    """Runs `etcd-inventory apply` (with --dry-run in check mode) on `request` and ends the
    module: its result has changed, before and after (and a host's lease), and a diff in diff
    mode. A failure is the binary's one line."""
    try:
        binary = find_binary(module.params["executable"])
        options = {name: module.params.get(name) for name in CONNECTION}
        env, args = settings_environment(options, inherit=True)
        command = ["apply"] + (["--dry-run"] if module.check_mode else []) + args
        stdout, warnings = run(binary, command, env, stdin=json.dumps(request).encode("utf-8"))
    except BinaryError as e:
        module.fail_json(msg=str(e))
    for warning in warnings:
        module.warn(warning)
    try:
        answer = json.loads(stdout)
    except ValueError as e:
        module.fail_json(msg=f"etcd-inventory apply printed no JSON ({e}): is {binary} an etcd-inventory binary?")
    result = {"changed": answer["changed"], "before": answer["before"], "after": answer["after"]}
    if request["kind"] == "host":
        result["lease"] = answer["lease"]
    if module._diff:
        header = f"{request['kind']} {request['name']}"
        result["diff"] = {
            "before": answer["before"],
            "after": answer["after"],
            "before_header": header,
            "after_header": header,
        }
    module.exit_json(**result)
