# Copyright: etcd-inventory developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Finds and runs the etcd-inventory binary: the one way this collection's plugin and modules
reach etcd. Settings go to the binary through its environment variables, never its command
line (which `ps` shows), after every variable it reads has been cleared: the caller's
resolved options are then the binary's only source besides etcd.ini."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from ansible_collections.etcd_inventory.etcd.plugins.module_utils.settings import SETTINGS

BINARY = "etcd-inventory"
# What the binary puts before a warning line on stderr, and before its one error line.
WARNING_PREFIX = BINARY + ": warning: "
ERROR_PREFIX = BINARY + ": "
# A backstop only: the binary bounds its own work (time_limit, dial and command timeouts).
BACKSTOP_SECONDS = 3600


class BinaryError(Exception):
    """One line saying what failed and what to check."""


def find_binary(executable=None):
    """The binary to run: `executable` when given, else `etcd-inventory` on PATH, else beside
    this Python (a venv's bin directory, where `pip install etcd-inventory` puts it, even when
    that venv is not activated)."""
    if executable:
        path = os.path.expanduser(executable)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        found = shutil.which(path)
        if found:
            return found
        raise BinaryError(f"executable {executable!r} is not an executable file: check the executable option")
    found = shutil.which(BINARY) or shutil.which(BINARY, path=os.path.dirname(sys.executable))
    if found:
        return found
    raise BinaryError(
        f"{BINARY} was not found on PATH nor beside {sys.executable}: "
        f"`pip install etcd-inventory` into Ansible's environment, or set the executable option"
    )


def settings_environment(options, inherit=False):
    """The environment and extra arguments that give the binary `options` (a mapping from
    option name to value; None means unset, so the binary's etcd.ini or default applies).
    With `inherit`, a setting left unset keeps its variable from this environment, which the
    binary then reads as it does on a command line (the modules: their options have no
    variables of their own, and a variable's value, such as ETCDCTL_USER's NAME:PASSWORD,
    never becomes a module argument that Ansible would show)."""
    env = {k: v for k, v in os.environ.items() if inherit or k not in _SETTING_VARIABLES}
    args = []
    for name, variable, flag, kind in SETTINGS:
        value = options.get(name)
        if value is None:
            continue
        if kind == "bool":
            value = "true" if value else "false"
        else:
            value = str(value)
        if variable:
            env[variable] = value
        elif kind == "bool":
            if value == "true":
                args.append(flag)
        else:
            args.extend([flag, value])
    return env, args


_SETTING_VARIABLES = frozenset(setting[1] for setting in SETTINGS if setting[1])


def run(binary, args, env, stdin=None):
    """Runs the binary; returns its stdout (bytes) and its warnings (lines, prefix removed).
    A failure is one BinaryError carrying the binary's own error line."""
    try:
        done = subprocess.run(
            [binary, *args],
            input=stdin,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=BACKSTOP_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BinaryError(f"{binary} ran longer than {BACKSTOP_SECONDS} s and was stopped: check time_limit") from None
    except OSError as e:
        raise BinaryError(f"{binary} could not be started: {e.strerror}") from None
    lines = done.stderr.decode("utf-8", "replace").splitlines()
    warnings = [line[len(WARNING_PREFIX):] for line in lines if line.startswith(WARNING_PREFIX)]
    if done.returncode != 0:
        errors = [line for line in lines if line and not line.startswith(WARNING_PREFIX)]
        detail = errors[-1] if errors else f"exited with status {done.returncode} and said nothing"
        if detail.startswith(ERROR_PREFIX):
            detail = detail[len(ERROR_PREFIX):]
        raise BinaryError(f"{BINARY} failed: {detail}")
    return done.stdout, warnings
