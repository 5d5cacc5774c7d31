"""An Ansible inventory script in Python: the component through its typed interfaces.

    etcd-inventory-wasm --list         the whole inventory
    etcd-inventory-wasm --host NAME    one host's variables

Settings are the component's to resolve (its `settings` export): the flags and environment
variables of the etcd-inventory binary, and the etcd.ini named by ETCD_INI_PATH, checked by
the same code, so nothing is parsed here (so `--password-file` takes an absolute path: the
component reads it from "/"). No cache of the inventory, no TLS files, no gRPC.
As the binary: warnings on stderr after `etcd-inventory: warning: `, an error as one line on
stderr with nothing on stdout and exit status 1 (2 for a command line it does not take)."""

from __future__ import annotations

import os
import sys

from .host import Error, Host, UsageError, load_ini

USAGE = "usage: etcd-inventory-wasm --list | --host NAME [FLAGS as etcd-inventory takes them]"


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    try:
        output, warnings = run(args)
    except UsageError as e:
        say(f"{USAGE}: {e}")
        sys.exit(2)
    except Error as e:
        say(str(e))
        sys.exit(1)
    for warning in warnings:
        say(f"warning: {warning}")
    sys.stdout.write(output + "\n")
    sys.stdout.flush()


def run(args):
    """What to print for `args`, and the warnings: (stdout text, warning lines)."""
    warnings = []
    host = Host(warn=warnings.append)
    resolved = host.resolve(args, os.environ, load_ini())
    if resolved.mode == "list":
        answer = host.list_inventory(resolved)
    elif resolved.mode == "host":
        answer = host.host_vars(resolved, resolved.argument)
    else:
        raise UsageError("--graph is the etcd-inventory binary's")
    return answer.json, warnings + answer.warnings


def say(line):
    """One line on stderr, as the binary words it: newlines folded."""
    sys.stderr.write("etcd-inventory: " + " ".join(str(line).split("\n")) + "\n")
    sys.stderr.flush()
