"""The compiled component, kept on disk so that a run deserializes machine code (a few ms)
instead of compiling the .wasm (a second or more). Deserialized code is trusted as it is,
so the cache is trusted only as far as the user's own files: a directory that only the user
can write (owner and mode checked), files written 0600 through a rename, each holding a
header that names the wasmtime version and the .wasm's hash, and a checksum of the code. A
file that fails any check (damaged, foreign, another version's, another user's) is ignored
with a warning and replaced by a fresh compilation."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import stat
import tempfile

import wasmtime
from wasmtime.component import Component

# Bumped when the file layout or the engine configuration (host.engine_config) changes.
FORMAT = "etcd-inventory-wasm compiled component 1"
# The compiled component is about 3 MB; a file far larger is not ours.
MAX_FILE_BYTES = 64 << 20
# The header's most bytes: a line of names and hashes.
MAX_HEADER_BYTES = 512


def default_directory(env=None):
    """$XDG_CACHE_HOME/etcd-inventory-wasm, else ~/.cache/etcd-inventory-wasm."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "etcd-inventory-wasm")


def load(engine, wasm, directory, warn):
    """The component compiled from `wasm` (bytes) for `engine`: from `directory` when a good
    file is there, else compiled (and written there). Returns (component, compiled), where
    `compiled` says whether this call compiled it. `warn` takes one line per problem."""
    digest = hashlib.sha256(wasm).hexdigest()
    version = importlib.metadata.version("wasmtime")
    header = f"{FORMAT} wasmtime {version} wasm {digest}".encode()
    unsafe = _unsafe_directory(directory)
    if unsafe:
        warn(f"not caching the compiled component: the directory {directory} {unsafe}")
        return Component(engine, wasm), True
    path = os.path.join(directory, f"etcd_inventory-{digest[:32]}-wasmtime-{version}.cwasm")
    try:
        return _read(engine, path, header), False
    except FileNotFoundError:
        pass
    except _Refused as e:
        warn(f"ignored the compiled component cache file {path}: {e}; compiling again")
    component = Component(engine, wasm)
    try:
        _write(path, header, component.serialize())
    except OSError as e:
        warn(f"cannot write the compiled component cache file {path}: {e.strerror or e}")
    return component, True


class _Refused(Exception):
    """A cache file that is not to be used, and why."""


def _unsafe_directory(directory):
    """Why `directory` is no place for code this process will run (None: it is fine).
    Creates it (0700) when it is missing."""
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        st = os.lstat(directory)
    except OSError as e:
        return f"cannot be created or read: {e.strerror or e}"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a directory (a symbolic link is refused)"
    if st.st_uid != os.geteuid():
        return f"belongs to user id {st.st_uid}, not {os.geteuid()}"
    if st.st_mode & 0o022:
        return f"is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


def _read(engine, path, header):
    # O_NOFOLLOW: never a link; O_NONBLOCK: a FIFO does not block the open.
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise _Refused("not a regular file")
        if st.st_uid != os.geteuid():
            raise _Refused(f"it belongs to user id {st.st_uid}")
        if st.st_mode & 0o077:
            raise _Refused(f"group or others may use it (mode {stat.S_IMODE(st.st_mode):04o})")
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise _Refused(f"larger than {MAX_FILE_BYTES >> 20} MiB")
    first, _, rest = data.partition(b"\n")
    if len(first) > MAX_HEADER_BYTES or first != header:
        raise _Refused("written for another wasmtime or component, or not by this package")
    checksum, _, code = rest.partition(b"\n")
    if checksum != hashlib.sha256(code).hexdigest().encode():
        raise _Refused("its checksum does not match (a damaged file)")
    try:
        return Component.deserialize(engine, code)
    except wasmtime.WasmtimeError as e:
        raise _Refused(f"wasmtime refused it: {str(e).splitlines()[0] if str(e) else 'no reason given'}") from None


def _write(path, header, code):
    """Writes the file 0600 under a temporary name, then renames it into place: a reader sees
    the old file or the whole new one."""
    directory = os.path.dirname(path)
    fd, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".cwasm", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(header + b"\n" + hashlib.sha256(code).hexdigest().encode() + b"\n")
            f.write(code)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
