"""The component in this process, through wasmtime-py: settings resolved by the component's
`settings` export (never parsed here), its typed `inventory` functions called, their
answers returned as Python data, every error as one line worded by the component where it
has the words (`describe-error`, `describe-warnings`).

Each call runs in a fresh store, as the `etcd-inventory` binary runs each: no filesystem,
environment or arguments; its memory capped by `memory_limit` (store limits) and its time by
`time_limit` (epoch interruption: a timer advances the engine's epoch at the deadline, and
running wasm traps at its next check). A wait on etcd is bounded by the request timeouts the
component sets on each request, and the deadline ends the call when it returns. The HTTP
sender is wasmtime's default: public CAs only, no client certificates, any host (the
component's settings refuse TLS files and the gRPC transport, which need the binary)."""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from dataclasses import dataclass
from typing import List, Optional

import wasmtime
from wasmtime import component as wc

from . import cache

WASM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "etcd_inventory.wasm")
INVENTORY = "etcd-inventory:inventory/inventory@0.1.0"
SETTINGS = "etcd-inventory:inventory/settings@0.1.0"
# The most of the component's stderr kept (a Rust runtime's message before a trap).
MAX_STDERR_BYTES = 4096
# Bounds of `resolve`, which reads at most a 4 KiB password file and parses what it is given.
RESOLVE_LIMITS_MIB, RESOLVE_LIMITS_MS = 256, 30_000
# Most table elements, as the binary allows.
MAX_TABLE_ELEMENTS = 1 << 20
# The largest .wasm read (ours is under 1 MiB).
MAX_WASM_BYTES = 32 << 20
# The largest etcd.ini read (the component's own bound, MAX_INI_BYTES).
MAX_INI_BYTES = 1 << 20


class Error(Exception):
    """Why no answer came: one line saying what failed and what to check."""


class UsageError(Error):
    """The arguments are not a command line the component takes (an exit status of 2)."""


@dataclass(frozen=True)
class Limits:
    """The bounds of each call: the `memory_limit` and `time_limit` settings."""

    memory_mib: int
    time_limit_ms: int


# The bounds of the small calls: `resolve`, `describe-error`, `describe-warnings`.
SMALL_CALL_LIMITS = Limits(RESOLVE_LIMITS_MIB, RESOLVE_LIMITS_MS)


@dataclass(frozen=True)
class Resolved:
    """Settings as the component's `resolve` returns them."""

    # The `options` record, its fields with `_` for `-` (credentials: None or a dict).
    options: dict
    # "list", "host" or "graph", and the host or group name for the last two.
    mode: str
    argument: Optional[str]
    limits: Limits


@dataclass(frozen=True)
class Answer:
    """A successful `list-inventory` or `host-vars`."""

    json: str
    # Lines to show after "etcd-inventory: warning: ".
    warnings: List[str]
    revision: int
    key_count: int


def engine_config():
    """The engine every call runs on; a change here must bump cache.FORMAT."""
    config = wasmtime.Config()
    config.epoch_interruption = True
    return config


class Host:
    """The loaded component. `compiled` says whether loading it compiled it (False: the
    compiled code came from the cache). Cache problems go to `warn`, one line each."""

    def __init__(self, wasm_path=WASM, cache_dir=None, warn=None):
        warn = warn or (lambda line: None)
        try:
            with open(wasm_path, "rb") as f:
                wasm = f.read(MAX_WASM_BYTES + 1)
        except OSError as e:
            raise Error(f"cannot read the component {wasm_path}: {e.strerror or e}") from None
        if len(wasm) > MAX_WASM_BYTES:
            raise Error(f"the component {wasm_path} is larger than {MAX_WASM_BYTES >> 20} MiB: not etcd-inventory's")
        self._engine = wasmtime.Engine(engine_config())
        directory = cache.default_directory() if cache_dir is None else cache_dir
        try:
            self._component, self.compiled = cache.load(self._engine, wasm, directory, warn)
        except wasmtime.WasmtimeError as e:
            raise Error(f"cannot compile the component {wasm_path}: {_first_line(e)}") from None
        self._linker = wc.Linker(self._engine)
        self._linker.add_wasip2()
        self._linker.add_wasi_http()
        self._exports = {}

    def close(self):
        """Frees the compiled component and its engine now. A host kept for the life of the
        process should be closed before it ends (atexit): wasmtime-py's finalizers, run during
        interpreter shutdown, may find its FFI already gone and print tracebacks."""
        for index in self._exports.values():
            index.close()
        self._exports.clear()
        for managed in (self._linker, self._component, self._engine):
            managed.close()

    def resolve(self, args, env, ini=None):
        """Settings from `args` (without the program name), `env` (a mapping, or name and
        value pairs; only the settings' variables are looked at) and `ini` (an etcd.ini as
        (path, text), see load_ini). `--password-file` is read by the component, which sees the
        filesystem read-only for this call, from "/": give it an absolute path. Raises
        UsageError or Error."""
        pairs = list(env.items()) if hasattr(env, "items") else list(env)
        ini_record = None
        if ini is not None:
            ini_record = _record({"path": ini[0], "text": ini[1]})
        # Read access to the filesystem for this call only: `--password-file` is read by the
        # component's settings code, as the binary reads it.
        args = [str(a) for a in args]
        result = self._call(SETTINGS, "resolve", SMALL_CALL_LIMITS, args, pairs, ini_record, files=True)
        if isinstance(result, wc.Variant):
            if result.tag == "usage":
                raise UsageError(result.payload)
            raise Error(result.payload)
        mode = result.mode
        return Resolved(
            options=_python(result.options),
            mode=mode.tag,
            argument=mode.payload,
            limits=Limits(**_python(result.limits)),
        )

    def list_inventory(self, resolved):
        """The whole inventory, as `etcd-inventory --list` prints it."""
        return self._answer("list-inventory", resolved, _record(resolved.options))

    def host_vars(self, resolved, host):
        """One host's variables, as `etcd-inventory --host NAME` prints them."""
        return self._answer("host-vars", resolved, _record(resolved.options), host)

    def read_inventory(self, resolved):
        """The inventory as data: {"groups": [{"name", "hosts", "children", "vars": [{"name",
        "value"}]}], "hosts": [{"name", "vars"}], "warnings", "revision", "key_count"}, each
        variable's value its JSON text."""
        data = self._ok(self._call(INVENTORY, "read-inventory", resolved.limits, _record(resolved.options)))
        warnings = self._warnings(resolved, data)
        data = _python(data)
        for kind in ("skipped", "invalid_names"):
            del data[kind]
        data["warnings"] = warnings
        return data

    def inventory_unchanged(self, resolved, revision, key_count):
        """Whether the prefix still holds what an answer read at `revision` in `key_count`
        keys: the revision it is unchanged as of, or None when it changed."""
        return self._ok(self._call(INVENTORY, "inventory-unchanged", resolved.limits,
                                   _record(resolved.options), revision, key_count))

    def _answer(self, name, resolved, *args):
        output = self._ok(self._call(INVENTORY, name, resolved.limits, *args))
        return Answer(
            json=output.json,
            warnings=self._warnings(resolved, output),
            revision=output.revision,
            key_count=getattr(output, "key-count"),
        )

    def _warnings(self, resolved, answer):
        skipped, invalid = answer.skipped, getattr(answer, "invalid-names")
        if skipped is None and invalid is None:
            return []
        prefix = resolved.options["prefix"]
        return self._call(INVENTORY, "describe-warnings", SMALL_CALL_LIMITS, prefix, skipped, invalid)

    def _ok(self, result):
        """The payload of an `ok`, or the error worded by the component."""
        if isinstance(result, wc.Variant):  # the `error` variant: ok payloads are never one
            raise Error(self._call(INVENTORY, "describe-error", SMALL_CALL_LIMITS, result))
        return result

    def _export(self, interface, name):
        key = (interface, name)
        if key not in self._exports:
            parent = self._component.get_export_index(interface)
            index = self._component.get_export_index(name, parent) if parent else None
            if index is None:
                raise Error(f"the component has no {interface}#{name}: is it etcd-inventory's, of this version?")
            self._exports[key] = index
        return self._exports[key]

    def _call(self, interface, name, limits, *args, files=False):
        """Calls one export in a fresh store within `limits`; returns what it returned."""
        # The component's stderr goes to a file (0600, removed on close): what its runtime says
        # before a trap names the cause. (A Python callback instead can be called by
        # wasmtime's runtime thread during interpreter exit, which it does not survive.)
        with tempfile.NamedTemporaryFile(prefix="etcd-inventory-wasm-", suffix=".stderr") as said:
            wasi = wasmtime.WasiConfig()
            wasi.stderr_file = said.name
            if files:  # read only. The component's working directory is "/": relative paths are taken from there.
                wasi.preopen_dir("/", "/", fs_mutable=False)
            store = wasmtime.Store(self._engine)
            try:
                store.set_wasi(wasi)
                store.set_wasi_http()
                store.set_limits(memory_size=limits.memory_mib << 20, table_elements=MAX_TABLE_ELEMENTS)
                deadline = _Deadline(self._engine, limits, store)
                try:
                    with deadline:
                        instance = self._linker.instantiate(store, self._component)
                        func = instance.get_func(store, self._export(interface, name))
                        result = func(store, *args)
                        func.post_return(store)
                except wasmtime.WasmtimeError as e:
                    raise _limit_hit(e, limits, deadline, said.read(MAX_STDERR_BYTES)) from None
            finally:
                # Now, not whenever the garbage collector gets to it (at interpreter exit, say).
                store.close()
        if deadline.passed:  # an answer that came after the deadline (a wait on etcd) is late too
            raise _time_limit(limits)
        return result


class _Deadline:
    """Traps running wasm in `store` once `limits.time_limit_ms` have passed: the store's
    epoch deadline is the next tick, which a timer makes at the deadline."""

    def __init__(self, engine, limits, store):
        self._engine = engine
        self._timer = threading.Timer(limits.time_limit_ms / 1000, self._fire)
        self._timer.daemon = True
        self.passed = False
        store.set_epoch_deadline(1)

    def _fire(self):
        self.passed = True
        self._engine.increment_epoch()

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self._timer.cancel()
        return False


def _limit_hit(error, limits, deadline, stderr):
    """The one line for a failed call: the limit it ran into, in the binary's words with this
    host's ways to raise it, or the trap's first line."""
    if deadline.passed:
        return _time_limit(limits)
    # Growth past the store's limit fails, and the component's allocator says so before it
    # aborts; a limit below the component's initial memory fails its instantiation.
    text = str(error)
    if b"memory allocation of " in stderr or "exceeds memory limits" in text:
        return Error(
            f"the component needed more memory than its limit of {limits.memory_mib} MiB: raise it with "
            "memory_limit (ETCD_INVENTORY_MEMORY_LIMIT, or memory_limit in etcd.ini)"
        )
    said = stderr.decode("utf-8", "replace").strip().splitlines()
    why = said[0] if said else _first_line(error)
    return Error(f"the component failed: {why}")


def _time_limit(limits):
    return Error(
        f"the component did not finish within its time limit of {_seconds(limits.time_limit_ms)}: raise it with "
        "time_limit (ETCD_INVENTORY_TIME_LIMIT, or time_limit in etcd.ini)"
    )


def _seconds(ms):
    return f"{ms // 1000} s" if ms % 1000 == 0 else f"{ms} ms"


def _first_line(error):
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    caused = [line for line in lines if line.startswith("wasm trap:")]
    return (caused or lines or [type(error).__name__])[0]


def _python(value):
    """A value from wasmtime-py as plain Python: records as dicts (`_` for `-`)."""
    if isinstance(value, wc.Record):
        return {name.replace("-", "_"): _python(inner) for name, inner in vars(value).items()}
    if isinstance(value, list):
        return [_python(inner) for inner in value]
    return value


def _record(mapping):
    """A dict (`_` or `-` in its keys) as a WIT record, nested dicts too."""
    if mapping is None:
        return None
    record = wc.Record()
    for name, value in mapping.items():
        setattr(record, name.replace("_", "-"), _record(value) if isinstance(value, dict) else value)
    return record


def load_ini(env=None):
    """The etcd.ini named by ETCD_INI_PATH, as (path, text) for `resolve`, or None when the
    variable is unset. Read as the binary reads it: a regular file of at most 1 MiB, UTF-8."""
    env = os.environ if env is None else env
    path = env.get("ETCD_INI_PATH")
    if not path:
        return None

    def refused(why):
        return Error(f"cannot read etcd.ini at {path} (named by ETCD_INI_PATH): {why}")

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise refused("not a regular file (a FIFO, device or directory is refused)")
        with open(path, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise refused("not a regular file (a FIFO, device or directory is refused)")
            data = f.read(MAX_INI_BYTES + 1)
    except OSError as e:
        raise refused(e.strerror or str(e)) from None
    if len(data) > MAX_INI_BYTES:
        raise refused(f"larger than {MAX_INI_BYTES >> 20} MiB")
    try:
        return path, data.decode("utf-8")
    except UnicodeDecodeError:
        raise refused("not UTF-8 text") from None
