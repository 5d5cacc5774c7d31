#!/usr/bin/env python3
"""Measures etcd-inventory on this machine: start-up on an empty prefix, and --list on
N hosts x 10 vars in 20 groups (wall time, median of several runs, and peak RSS).
With --cache, then the --list cache on the same etcd and data: a validated hit on an idle
cluster, a validated hit after writes outside the prefix, a miss after a put under the
prefix (full read and cache rewrite), and the cache file's size.
With --import, then `etcd-inventory import` of that inventory (our own --list of it) into a
fresh prefix: keys per second for the first import (every key created) and for a second one
(every key unchanged), with a check that the imported prefix lists the same inventory.

Starts its own etcd ($ETCD_BIN, else etcd on PATH: the setting the tests read) on a free
loopback port with a temporary data dir, loads the data through the v3 JSON gateway in
transactions of 128 puts, and stops etcd at the end.
etcd's data dir is on /dev/shm (no disk syncs) unless --disk is given.
With --ansible (issue 20), instead: for each N of --sizes, `ansible-playbook --list-hosts` and
`ansible-inventory --list` (ansible-core from $ANSIBLE_BIN_DIR, else .venv/bin) through the
collection's inventory plugin (built and installed by ansible-galaxy) and through the binary as an
inventory script, in alternating rounds after a warm-up of each, and their ratio.
With --python (issue 21), instead: for each N of --sizes, the component in Python
(embed/python, built around the binary's .wasm and installed into a temporary directory) as
an inventory script and through the plugin's `backend: wasm`, each on a first run (an empty
compile cache) and a second run (from the cache), beside the binary over gRPC and the gateway
and the plugin's `backend: binary`, after a check that the Python host prints the binary's
bytes.
With --compare (issue 7), instead: for each N of --sizes, one fresh etcd holding N hosts
(loaded by our own `import`, and into the v2 keyspace too for the classic script), our --list
(gRPC and gateway) against etcdctl and curl (etcd's gRPC and JSON gateway floors), the classic
Python etcd inventory script (ported to Python 3 at run time from --classic, run in
.venv-bench/ with python-etcd), an empty prefix and a validated cache hit; then a summary of
ratios against the issue's targets, and --out/results.json, --out/bench.svg, --out/table.md.
Every reader's own CPU seconds (user + system, from wait4) are recorded beside its wall time;
with --baseline, an earlier build is timed beside ours in the same rounds, on the same etcd,
after a check that it prints the same bytes.
Usage: scripts/bench.py [--hosts 10000] [--runs 5] [--bin target/release/etcd-inventory] [--cache]
                        [--import] [--disk]
       scripts/bench.py --compare [--sizes 1000,10000,100000] [--runs 5] [--classic PATH | --no-classic] [--disk]
                        [--baseline OLD_BINARY] [--out docs/bench]
       scripts/bench.py --ansible [--sizes 10000,100000] [--runs 5]
       scripts/bench.py --python [--sizes 1000,10000] [--runs 5]
"""
import argparse
import base64
import glob
import http.client
import json
import marshal
import math
import os
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from xml.sax.saxutils import escape

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The etcd measured, by the setting the tests read: $ETCD_BIN, else etcd on PATH (Debian's
# 3.4); scripts/lib.sh's ensure_etcd35 puts 3.5.1 in .tools/etcd-3.5.1/. etcdctl is the one
# beside it (the same release), else $ETCDCTL_BIN or etcdctl on PATH.
ETCD = os.environ.get("ETCD_BIN") or shutil.which("etcd") or "/usr/bin/etcd"
ETCDCTL = next((p for p in (os.path.join(os.path.dirname(ETCD), "etcdctl"), os.environ.get("ETCDCTL_BIN"),
                            shutil.which("etcdctl")) if p and os.access(p, os.X_OK)), "etcdctl")
DEFAULT_CLASSIC = os.path.normpath(os.path.join(REPO, "..", "shared", "seeds", "000_d7f3226c58bdede8.txt"))
# --compare: every tool timed, in table order, and those drawn in the plot.
TOOLS = ("ours", "baseline", "ours (gateway)", "etcdctl", "curl", "classic", "empty prefix", "cache hit")
PLOTTED = ("ours", "ours (gateway)", "etcdctl", "curl", "classic")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_etcd(disk, extra=(), binary=ETCD):
    """Starts etcd on free loopback ports with a fresh data dir (tmpfs unless disk) and waits
    until it is healthy; returns (process, client URL, data dir). Stop it with stop_etcd."""
    in_memory = os.path.isdir("/dev/shm") and not disk
    data = tempfile.mkdtemp(prefix="etcd-inventory-bench-", dir="/dev/shm" if in_memory else None)
    print(f"etcd data dir: {data} ({'tmpfs, no disk syncs' if in_memory else 'disk'})")
    client, peer = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    try:
        etcd = subprocess.Popen(
            [binary, "--name", "bench", "--data-dir", f"{data}/data", "--listen-client-urls", client,
             "--advertise-client-urls", client, "--listen-peer-urls", peer,
             "--initial-advertise-peer-urls", peer, "--initial-cluster", f"bench={peer}", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except BaseException:
        shutil.rmtree(data, ignore_errors=True)
        raise
    try:
        for _ in range(300):
            if etcd.poll() is not None:
                raise SystemExit(f"etcd exited with {etcd.returncode} at start")
            try:
                with urllib.request.urlopen(client + "/health", timeout=1) as r:
                    if json.load(r).get("health") == "true":
                        break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit("etcd did not start")
    except BaseException:
        stop_etcd(etcd, data)
        raise
    return etcd, client, data


def stop_etcd(etcd, data):
    """Stops etcd by its PID (SIGTERM, SIGKILL after 10 s) and removes its data dir."""
    try:
        if etcd.poll() is None:
            etcd.terminate()
            try:
                etcd.wait(timeout=10)
            except subprocess.TimeoutExpired:
                etcd.kill()
                etcd.wait(timeout=10)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def post(endpoint, path, body):
    req = urllib.request.Request(endpoint + path, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def b64(text):
    return base64.b64encode(text.encode()).decode()


def bench_pairs(prefix, hosts, groups=20, vars_per_host=10):
    """The (key, value) pairs of the benchmark inventory: a role per group, each host in one
    of the groups (an empty membership key) with vars_per_host variables."""
    pairs = []
    for g in range(groups):
        pairs.append((f"{prefix}/groupvars/group{g:02}/role", f"role{g}"))
    for h in range(hosts):
        name = f"host{h:06}.example.com"
        pairs.append((f"{prefix}/hosts/group{h % groups:02}/{name}", ""))
        for v in range(vars_per_host):
            pairs.append((f"{prefix}/hostvars/{name}/var{v}", f"value-{h}-{v}"))
    return pairs


def load(endpoint, prefix, hosts, groups=20, vars_per_host=10):
    pairs = bench_pairs(prefix, hosts, groups, vars_per_host)
    for i in range(0, len(pairs), 128):
        ops = [{"request_put": {"key": b64(k), "value": b64(v)}} for k, v in pairs[i:i + 128]]
        post(endpoint, "/v3/kv/txn", {"success": ops})
    return len(pairs)


# Forks, times and reaps the measured commands. A fork's ru_maxrss is at least the forking
# process's RSS at the fork (the child starts as a copy and exec records its size), so they are
# forked from this small python (about 8 MiB), not from bench.py, whose RSS grows with the data.
# It reads (cmd, env) frames on stdin and answers (seconds, exit code, ru_maxrss KiB, CPU
# seconds: user + system) frames.
SPAWNER = """
import marshal, os, sys, time
def read(n):
    data = sys.stdin.buffer.read(n)
    if len(data) != n:
        raise EOFError
    return data
for _ in range(10**9):
    try:
        cmd, env = marshal.loads(read(int.from_bytes(read(4), "big")))
    except EOFError:
        break
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            os.execve(cmd[0], cmd, env)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    answer = marshal.dumps((time.perf_counter() - start, os.waitstatus_to_exitcode(status), usage.ru_maxrss,
                            usage.ru_utime + usage.ru_stime))
    sys.stdout.buffer.write(len(answer).to_bytes(4, "big") + answer)
    sys.stdout.buffer.flush()
"""
_spawner = []


def spawner():
    """The running SPAWNER process (started on first use; stop_spawner ends it)."""
    if not _spawner:
        _spawner.append(subprocess.Popen([sys.executable, "-I", "-S", "-c", SPAWNER],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE))
    return _spawner[0]


def stop_spawner():
    """Closes the spawner's stdin (it exits), killing it by PID if it does not within 10 s."""
    for proc in _spawner:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    _spawner.clear()


def measure(cmd, env, runs, cpu=None):
    """Wall time of each run and the largest peak RSS (KiB) among them; stdout to /dev/null.
    With `cpu` (a list), each run's CPU seconds (user + system) are appended to it."""
    times, peak = [], 0
    proc = spawner()
    for _ in range(runs):
        frame = marshal.dumps((list(cmd), dict(env)))
        proc.stdin.write(len(frame).to_bytes(4, "big") + frame)
        proc.stdin.flush()
        size = proc.stdout.read(4)
        if len(size) != 4:
            raise SystemExit("the spawner died")
        seconds, code, rss, cpu_s = marshal.loads(proc.stdout.read(int.from_bytes(size, "big")))
        if code != 0:
            raise SystemExit(f"{cmd} failed (exit {code})")
        times.append(seconds)
        if cpu is not None:
            cpu.append(cpu_s)
        peak = max(peak, rss)
    return times, peak


def run_output(cmd, env):
    """stdout of one run (bytes); fails loudly on a non-zero exit or a warning on stderr."""
    done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    if done.returncode != 0 or done.stderr:
        raise SystemExit(f"{cmd} exited {done.returncode}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def file_state(path):
    """What changes when the cache file is rewritten (atomically, by a rename)."""
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns, st.st_size


def wall(times):
    med, lo, hi = statistics.median(times), min(times), max(times)
    if med < 1:
        return f"{med * 1000:.1f} ms ({lo * 1000:.1f}-{hi * 1000:.1f})"
    return f"{med:.3f} s ({lo:.3f}-{hi:.3f})"


def bench_cache(args, binary, env, client, prefix, full):
    """The --list cache on the same etcd and data; `full` is the (times, rss) of the
    cache-off --list measured before."""
    cache_dir = tempfile.mkdtemp(prefix="etcd-inventory-bench-cache-")  # mode 0700
    try:
        os.chmod(cache_dir, 0o700)
        cmd = [binary, "--list", "--prefix", prefix]
        cached_env = dict(env, ETCD_INVENTORY_CACHE="true", ETCD_INVENTORY_CACHE_PATH=cache_dir,
                          ETCD_INVENTORY_CACHE_MAX_AGE="0")

        def same_as_fresh_read(when):
            cached, fresh = run_output(cmd, cached_env), run_output(cmd, env)
            if cached != fresh:
                raise SystemExit(f"CACHE MISMATCH {when}: the cached --list ({len(cached)} bytes) "
                                 f"differs from a fresh full read ({len(fresh)} bytes)")
            return fresh

        # Priming: the first cached run reads in full and writes the cache file.
        run_output(cmd, cached_env)
        files = glob.glob(os.path.join(cache_dir, "*.cache"))
        if len(files) != 1:
            raise SystemExit(f"expected one cache file in {cache_dir}, found {os.listdir(cache_dir)}")
        path = files[0]
        if os.stat(path).st_mode & 0o777 != 0o600:
            raise SystemExit(f"{path} has mode {os.stat(path).st_mode & 0o777:o}, not 600")
        with open(path, "rb") as f:
            revision = int(json.loads(f.readline())["revision"])
        primed = file_state(path)
        first = same_as_fresh_read("after priming")

        def expect_hit(when):
            if file_state(path) != primed:
                raise SystemExit(f"the cache file was rewritten {when}: not a hit")

        expect_hit("by the first cached run after priming")

        # 2. Validated hit, idle cluster: the revision lookup only.
        idle = measure(cmd, cached_env, args.runs)
        expect_hit("on an idle cluster")

        # 3. Validated hit after writes elsewhere: the revision moved, the min_mod_revision
        # check over the prefix runs. The put is done before each timed run.
        elsewhere_t, elsewhere_rss = [], 0
        for i in range(args.runs):
            post(client, "/v3/kv/put", {"key": b64(f"/bench-elsewhere/{i}"), "value": b64(str(i))})
            t, rss = measure(cmd, cached_env, 1)
            elsewhere_t += t
            elsewhere_rss = max(elsewhere_rss, rss)
        expect_hit("after writes outside the prefix")
        if same_as_fresh_read("after writes outside the prefix") != first:
            raise SystemExit("writes outside the prefix changed the inventory")

        # The same check, server side only: one curl of the keys-only min_mod_revision range.
        check_t = None
        if shutil.which("curl"):
            body = json.dumps({"key": b64(prefix + "/"), "range_end": b64(prefix + "0"), "limit": "1",
                               "keys_only": True, "min_mod_revision": str(revision + 1)})
            check_t, _ = measure([shutil.which("curl"), "-sf", "-o", "/dev/null", "-d", body,
                                  client + "/v3/kv/range"], env, args.runs)

        # 4. Miss after a put under the prefix: full read and cache rewrite, timed together.
        miss_t, miss_rss = [], 0
        for i in range(args.runs):
            before = file_state(path)
            post(client, "/v3/kv/put",
                 {"key": b64(f"{prefix}/hostvars/host000000.example.com/bench"), "value": b64(str(i))})
            t, rss = measure(cmd, cached_env, 1)
            miss_t += t
            miss_rss = max(miss_rss, rss)
            if file_state(path) == before:
                raise SystemExit(f"a put under the prefix did not rewrite the cache (run {i})")
        primed = file_state(path)
        after = same_as_fresh_read("after puts under the prefix")
        expect_hit("by a cached run after the miss")
        if after == first:
            raise SystemExit("the puts under the prefix did not change the inventory")

        size = os.path.getsize(path)
        print()
        print(f"--list cache, {args.hosts} hosts (median of {args.runs} runs, min-max; cache in {cache_dir}; "
              f"cached output equals a fresh full read byte for byte: checked 3 times)")
        print()
        print("| run | wall time | peak RSS |")
        print("|---|---|---|")
        print(f"| full read, cache off | {wall(full[0])} | {full[1] / 1024:.1f} MiB |")
        print(f"| validated hit, idle cluster | {wall(idle[0])} | {idle[1] / 1024:.1f} MiB |")
        print(f"| validated hit after writes elsewhere | {wall(elsewhere_t)} | {elsewhere_rss / 1024:.1f} MiB |")
        if check_t:
            print(f"| (one curl of that min_mod_revision check, server side) | {wall(check_t)} | |")
        print(f"| miss after a put under the prefix (full read + cache write) | {wall(miss_t)} | "
              f"{miss_rss / 1024:.1f} MiB |")
        print(f"| cache file size | {size / 1048576:.1f} MiB ({size:,} bytes) | |")
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)


def bench_import(binary, env, keys):
    """`import` of the /bench inventory into /imported, then again; one run each (the second
    measures an idempotent re-import: one read of the prefix, nothing written)."""
    listing = tempfile.NamedTemporaryFile(prefix="etcd-inventory-bench-", suffix=".json", delete=False)
    try:
        listing.write(run_output([binary, "--list", "--prefix", "/bench"], env))
        listing.close()
        size = os.path.getsize(listing.name)
        for attempt in ("first import (all created)", "second import (all unchanged)"):
            t, rss = measure([binary, "import", listing.name, "--prefix", "/imported"], env, 1)
            print(f"{attempt}: {keys} keys from a {size / 2**20:.1f} MiB file in {t[0]:.2f} s = "
                  f"{keys / t[0]:,.0f} keys/s, peak RSS {rss / 1024:.1f} MiB")
        same = run_output([binary, "--list", "--prefix", "/imported"], env) == \
            run_output([binary, "--list", "--prefix", "/bench"], env)
        print(f"imported prefix lists the same inventory: {same}")
        if not same:
            raise SystemExit("the imported inventory differs")
    finally:
        os.unlink(listing.name)


# ---- --compare (issue 7): ours against the classic script and etcd's own floors ----


def inventory_file(path, hosts, groups=20, vars_per_host=10):
    """Writes, in Ansible's inventory-script JSON, the inventory whose keys bench_pairs() lists;
    returns the number of keys it makes under a prefix."""
    inventory = {f"group{g:02}": {"hosts": [], "vars": {"role": f"role{g}"}} for g in range(groups)}
    hostvars = {}
    for h in range(hosts):
        name = f"host{h:06}.example.com"
        inventory[f"group{h % groups:02}"]["hosts"].append(name)
        hostvars[name] = {f"var{v}": f"value-{h}-{v}" for v in range(vars_per_host)}
    inventory["_meta"] = {"hostvars": hostvars}
    with open(path, "w") as f:
        json.dump(inventory, f)
    return groups + hosts * (1 + vars_per_host)


def key_count(client, prefix):
    """Keys under prefix/, by one count_only range through the JSON gateway."""
    resp = post(client, "/v3/kv/range", {"key": b64(prefix + "/"), "range_end": b64(prefix + "0"),
                                         "count_only": True})
    return int(resp.get("count", 0))


def load_v2(client, pairs, threads=8):
    """PUTs every (key, value) into etcd's v2 keyspace (form value=..., over one keep-alive
    connection per thread); returns the seconds it took."""
    port = urllib.parse.urlsplit(client).port
    errors = []

    def worker(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            for key, value in chunk:
                if errors:
                    return
                conn.request("PUT", "/v2/keys" + urllib.parse.quote(key), urllib.parse.urlencode({"value": value}),
                             {"Content-Type": "application/x-www-form-urlencoded"})
                resp = conn.getresponse()
                body = resp.read()
                if resp.status not in (200, 201):
                    errors.append(f"PUT /v2/keys{key}: {resp.status} {body[:200]!r}")
                    return
        except (OSError, http.client.HTTPException) as e:
            errors.append(f"v2 load: {e!r}")
        finally:
            conn.close()

    start = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(pairs[i::threads],)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise SystemExit(errors[0])
    return time.perf_counter() - start


def cpu_seconds(pid):
    """utime + stime of a process so far, in seconds, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # fields[0] is field 3 (state)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def extract_classic(seed):
    """The classic script's code in the seed file: the lines after the "``` python" line (and
    the file-name line under it) up to the closing ```."""
    with open(seed, encoding="utf-8") as f:
        lines = f.read().splitlines()
    start = next((i for i, line in enumerate(lines) if re.fullmatch(r"```\s*python\s*", line.strip())), None)
    if start is None:
        raise SystemExit(f"{seed}: no ``` python line")
    start += 1
    if start < len(lines) and re.fullmatch(r"[\w.-]+\.py", lines[start].strip()):
        start += 1
    end = next((i for i in range(start, len(lines)) if lines[i].strip().startswith("```")), None)
    if end is None:
        raise SystemExit(f"{seed}: the python block does not end")
    return "\n".join(lines[start:end]) + "\n"


def port_to_py3(code):
    """Minimal, mechanical Python 2 -> 3 port of the classic script (regexes only)."""
    rules = [
        (r"^([ \t]*)import ConfigParser[ \t]*$", r"\1import configparser as ConfigParser"),
        # SafeConfigParser is Python 3's ConfigParser (the old name is gone in 3.12).
        (r"\bConfigParser\.SafeConfigParser\(", "ConfigParser.ConfigParser("),
        (r"^([ \t]*)print (?!\()(.+?)[ \t]*$", r"\1print(\2)"),
        (r"\.iter(items|keys|values)\(\)", r".\1()"),
        (r"^([ \t]*except[ \t]+[\w.]+)[ \t]*,[ \t]*(\w+)[ \t]*:", r"\1 as \2:"),
    ]
    for pattern, repl in rules:
        code = re.sub(pattern, repl, code, flags=re.M)
    compile(code, "classic_etcd_inv.py", "exec")  # a port that does not parse fails here, not in a run
    return code


def classic_python():
    """The python of .venv-bench/ under the repo, with python-etcd in it (both made when missing)."""
    venv = os.path.join(REPO, ".venv-bench")
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        print(f"creating {venv}")
        subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=600)
    if subprocess.run([python, "-c", "import etcd"], capture_output=True, timeout=120).returncode != 0:
        print(f"installing python-etcd into {venv}")
        subprocess.run([python, "-m", "pip", "install", "-q", "python-etcd"], check=True, timeout=600)
    return python


def machine_info():
    """What the numbers were measured on."""
    def first(path, field):
        with open(path) as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith(field)), "?")
    etcd = subprocess.run([ETCD, "--version"], capture_output=True, text=True, timeout=60).stdout
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": first("/proc/cpuinfo", "model name"),
        "mem_total": first("/proc/meminfo", "MemTotal"),
        "etcd_version": etcd.splitlines()[0] if etcd else "?",
        "etcd": ETCD,
        "etcdctl": ETCDCTL,
        "kernel": os.uname().release,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": shlex.join(sys.argv),
    }


def machine_line(info, disk):
    """One line about the machine, for the table and the plot."""
    mem = int(info["mem_total"].split()[0]) / 2**20 if info["mem_total"][0].isdigit() else 0
    return (f"{info['cpu_model']}, {info['nproc']} CPUs, {mem:.0f} GiB RAM, Linux {info['kernel']}, "
            f"{info['etcd_version']} (data on {'disk' if disk else 'tmpfs'}), {info['date']}")


def plain(value):
    """A value with our {"__ansible_unsafe": ...} marking taken off."""
    if isinstance(value, dict) and list(value) == ["__ansible_unsafe"]:
        return value["__ansible_unsafe"]
    return value


def shape_differences(ours, classic):
    """How the classic script's --list differs from ours besides the host names (a few lines)."""
    diffs = []
    ours_groups = {g for g in ours if g != "_meta"}
    classic_groups = {g for g in classic if g != "_meta"}
    if ours_groups - classic_groups:
        diffs.append(f"groups only ours lists: {sorted(ours_groups - classic_groups)[:5]}")
    if classic_groups - ours_groups:
        diffs.append(f"groups only the classic lists: {sorted(classic_groups - ours_groups)[:5]}")
    common = sorted(ours_groups & classic_groups)
    members = [g for g in common if sorted(ours[g].get("hosts", [])) != sorted(classic[g].get("hosts", []))]
    order = [g for g in common if g not in members and ours[g].get("hosts", []) != classic[g].get("hosts", [])]
    if members:
        diffs.append(f"{len(members)} group(s) with other members, e.g. {members[0]}")
    if order:
        diffs.append(f"{len(order)} group(s) with the same members in another order")
    for field in sorted({k for g in common for k in set(ours[g]) ^ set(classic[g])}):
        only = [g for g in common if (field in ours[g]) != (field in classic[g])]
        side = "ours" if field in ours[only[0]] else "the classic"
        diffs.append(f"{len(only)} group(s) where only {side} has {field!r}, e.g. {only[0]}: "
                     f"{json.dumps((ours if side == 'ours' else classic)[only[0]][field])[:60]}")
    ours_vars, classic_vars = ours["_meta"]["hostvars"], classic.get("_meta", {}).get("hostvars", {})
    values = [v for g in common for v in ours[g].get("vars", {}).values()]
    values += [v for hv in ours_vars.values() for v in hv.values()]
    unsafe = sum(1 for v in values if plain(v) is not v)
    if unsafe:
        diffs.append(f"ours marks {unsafe} of {len(values)} values unsafe ({{\"__ansible_unsafe\": ...}}), "
                     "the classic prints plain strings")
    group_vars = [g for g in common if {k: plain(v) for k, v in ours[g].get("vars", {}).items()}
                  != classic[g].get("vars", {})]
    if group_vars:
        diffs.append(f"{len(group_vars)} group(s) whose vars differ besides the marking, e.g. {group_vars[0]}")
    host_vars = [h for h in sorted(ours_vars) if {k: plain(v) for k, v in ours_vars[h].items()}
                 != classic_vars.get(h)]
    if host_vars:
        diffs.append(f"{len(host_vars)} host(s) whose variables differ besides the marking, e.g. {host_vars[0]}")
    return diffs


def check_outputs(tools, cache_dir):
    """Runs each reader once before timing: ours and ours (gateway) byte-identical, the cache
    primed and then hit with the same bytes, the classic script's hosts the same as ours.
    Returns warning lines (the classic script's other differences)."""
    cmd, env, _ = tools["ours"]
    ours = run_output(cmd, env)
    if run_output(*tools["ours (gateway)"][:2]) != ours:
        raise SystemExit("MISMATCH: --transport gateway prints other bytes than --transport grpc")
    if "baseline" in tools and run_output(*tools["baseline"][:2]) != ours:
        raise SystemExit("MISMATCH: the baseline binary prints other bytes than ours")
    run_output(*tools["cache hit"][:2])  # priming: a full read, and the cache file written
    files = glob.glob(os.path.join(cache_dir, "*.cache"))
    if len(files) != 1:
        raise SystemExit(f"expected one cache file in {cache_dir}, found {os.listdir(cache_dir)}")
    primed = file_state(files[0])
    if run_output(*tools["cache hit"][:2]) != ours:
        raise SystemExit("CACHE MISMATCH: the cached --list differs from the uncached one")
    if file_state(files[0]) != primed:
        raise SystemExit("the cache file was rewritten by a run after priming: not a hit")
    warnings = []
    if "classic" in tools:
        cmd, env, _ = tools["classic"]
        done = subprocess.run(cmd, env=env, capture_output=True, timeout=3600)
        if done.returncode != 0:
            raise SystemExit(f"the classic script exited {done.returncode}: "
                             f"{done.stderr.decode(errors='replace').strip()[-2000:]}")
        if done.stderr:
            warnings.append(f"classic stderr: {done.stderr.decode(errors='replace').strip()[:300]}")
        try:
            classic = json.loads(done.stdout)
        except ValueError as e:
            raise SystemExit(f"the classic script's output is not JSON: {e}")
        mine = json.loads(ours)
        a, b = set(mine["_meta"]["hostvars"]), set(classic.get("_meta", {}).get("hostvars", {}))
        if a != b:
            raise SystemExit(f"the classic script lists other hosts: {len(a - b)} only ours, "
                             f"{len(b - a)} only classic, e.g. {sorted(a ^ b)[:3]}")
        warnings += [f"classic shape: {d}" for d in shape_differences(mine, classic)]
    for name in ("etcdctl", "curl", "empty prefix"):  # a warm-up run each, not timed
        if name in tools:
            measure(tools[name][0], tools[name][1], 1)
    return warnings


def time_tools(tools, etcd_pid):
    """Times every tool round-robin, one run of each per round (so that background load
    falls on all alike), with etcd's CPU seconds during each run."""
    acc = {name: {"times": [], "rss": 0, "cpu": 0.0, "own_cpu": []} for name in tools}
    for r in range(max(runs for _, _, runs in tools.values())):
        for name, (cmd, env, runs) in tools.items():
            if r >= runs:
                continue
            before = cpu_seconds(etcd_pid)
            t, rss = measure(cmd, env, 1, acc[name]["own_cpu"])
            acc[name]["cpu"] += cpu_seconds(etcd_pid) - before
            acc[name]["times"] += t
            acc[name]["rss"] = max(acc[name]["rss"], rss)
    return {name: {"runs": len(a["times"]), "times_s": [round(t, 6) for t in a["times"]],
                   "median_s": statistics.median(a["times"]), "min_s": min(a["times"]),
                   "max_s": max(a["times"]), "peak_rss_kib": a["rss"],
                   "etcd_cpu_s_per_run": a["cpu"] / len(a["times"]),
                   "cpu_s_median": statistics.median(a["own_cpu"])}
            for name, a in acc.items()}


def compare_size(args, hosts, binary, classic, work):
    """One etcd with `hosts` hosts: loads v3 (and v2 for the classic script), checks, times
    every tool; stops etcd and removes its data whatever happens."""
    extra = ["--quota-backend-bytes", "8589934592"] + (["--enable-v2=true"] if classic else [])
    print(f"\n== {hosts:,} hosts x 10 vars in 20 groups")
    etcd, client, data = start_etcd(args.disk, extra, ETCD)
    cache_dir = tempfile.mkdtemp(prefix="etcd-inventory-bench-cache-")  # mode 0700
    try:
        os.chmod(cache_dir, 0o700)
        result = {"keys": 20 + hosts * 11, "load": {}}
        listing = os.path.join(work, f"inventory-{hosts}.json")
        keys = inventory_file(listing, hosts)
        start = time.perf_counter()
        report = run_output([binary, "import", listing, "--endpoints", client, "--prefix", "/ansible"],
                            {"PATH": os.environ.get("PATH", "")})
        took = time.perf_counter() - start
        os.unlink(listing)
        count = key_count(client, "/ansible")
        if count != keys:
            raise SystemExit(f"after import: {count} keys under /ansible/, expected {keys}")
        result["load"]["v3_import_s"] = took
        print(f"v3 import: {keys:,} keys in {took:.1f} s = {keys / took:,.0f} keys/s "
              f"({report.decode().strip().splitlines()[-1]})")

        path = os.environ.get("PATH", "")
        ours = [binary, "--list", "--endpoints", client, "--prefix", "/ansible"]
        range_body = json.dumps({"key": b64("/ansible/"), "range_end": b64("/ansible0")})
        tools = {
            "ours": (ours, {"PATH": path}, args.runs),
            **({"baseline": ([args.baseline] + ours[1:], {"PATH": path}, args.runs)} if args.baseline else {}),
            "ours (gateway)": (ours + ["--transport", "gateway"], {"PATH": path}, args.runs),
            "etcdctl": ([ETCDCTL, "--endpoints", client, "get", "--prefix", "/ansible/", "-w", "json"],
                        {"PATH": path}, args.runs),
        }
        if shutil.which("curl"):
            tools["curl"] = ([shutil.which("curl"), "-sf", "-o", "/dev/null", "-X", "POST",
                              client + "/v3/kv/range", "-d", range_body], {"PATH": path}, args.runs)
        if classic:
            pairs = bench_pairs("/ansible", hosts)
            took = load_v2(client, pairs)
            result["load"].update(v2_load_s=took, v2_keys_per_s=len(pairs) / took)
            print(f"v2 load: {len(pairs):,} keys in {took:.1f} s = {len(pairs) / took:,.0f} keys/s (8 threads)")
            del pairs
            ini = os.path.join(work, "etcd.ini")
            with open(ini, "w") as f:
                f.write(f"[etcd]\nprefix = /ansible\nhost = 127.0.0.1\nport = {urllib.parse.urlsplit(client).port}\n"
                        "\n[cache]\nenabled = false\n")
            tools["classic"] = ([classic[0], classic[1], "--list"],
                                {"PATH": path, "ETCD_INI_PATH": ini, "HOME": work}, args.runs)
        tools["empty prefix"] = (ours[:-1] + ["/nothing-here"], {"PATH": path}, max(args.runs, 21))
        tools["cache hit"] = (ours, {"PATH": path, "ETCD_INVENTORY_CACHE": "true",
                                     "ETCD_INVENTORY_CACHE_PATH": cache_dir,
                                     "ETCD_INVENTORY_CACHE_MAX_AGE": "0"}, args.runs)
        warnings = check_outputs(tools, cache_dir)
        print("checked: ours == ours (gateway) byte for byte; cache hit == ours byte for byte"
              + ("; baseline == ours byte for byte" if args.baseline else "")
              + ("; classic lists the same hosts" if classic else ""))
        for w in warnings:
            print(f"WARNING: {w}")
        result["warnings"] = warnings
        print(f"timing {len(tools)} readers round-robin ...", flush=True)
        cache_file = glob.glob(os.path.join(cache_dir, "*.cache"))[0]
        primed = file_state(cache_file)
        result["tools"] = time_tools(tools, etcd.pid)
        if file_state(cache_file) != primed:
            raise SystemExit("the cache file was rewritten while timing: not every cache run was a hit")
        return result
    finally:
        stop_etcd(etcd, data)
        shutil.rmtree(cache_dir, ignore_errors=True)


def fmt_s(seconds):
    """A duration, in ms under a second."""
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def fmt_mib(kib):
    """A size in KiB as MiB."""
    return f"{kib / 1024:.1f} MiB"


def print_size_table(hosts, result):
    """The per-N table: every tool's wall time, peak RSS and etcd CPU per run."""
    print(f"\n{hosts:,} hosts x 10 vars in 20 groups = {result['keys']:,} keys "
          f"(median of the runs, min-max; peak RSS of the reader; etcd's CPU seconds per run)\n")
    print("| reader | runs | wall time | peak RSS | CPU-s (median) | etcd CPU-s/run |")
    print("|---|---|---|---|---|---|")
    for name in TOOLS:
        t = result["tools"].get(name)
        if t:
            print(f"| {name} | {t['runs']} | {wall(t['times_s'])} | {fmt_mib(t['peak_rss_kib'])} | "
                  f"{t['cpu_s_median']:.2f} | {t['etcd_cpu_s_per_run']:.3f} |")


def ratios(result):
    """The issue's ratios at one N (None where a reader was not measured)."""
    t = result["tools"]

    def div(a, b):
        return a / b if a is not None and b else None
    med = {name: t[name]["median_s"] for name in t}
    return {
        "ours_over_classic_time": div(med.get("ours"), med.get("classic")),
        "ours_over_etcdctl_time": div(med.get("ours"), med.get("etcdctl")),
        "ours_over_classic_rss": div(t["ours"]["peak_rss_kib"], t.get("classic", {}).get("peak_rss_kib")),
        "etcd_cpu_s_per_ours_read": t["ours"]["etcd_cpu_s_per_run"],
        "ours_cpu_s": t["ours"]["cpu_s_median"],
        "baseline_over_etcdctl_time": div(med.get("baseline"), med.get("etcdctl")),
        "baseline_cpu_s": t.get("baseline", {}).get("cpu_s_median"),
        "ours_over_baseline_cpu": div(t["ours"]["cpu_s_median"], t.get("baseline", {}).get("cpu_s_median")),
        "cache_hit_ms": med["cache hit"] * 1000,
        "empty_prefix_ms": med["empty prefix"] * 1000,
    }


RATIO_ROWS = (("ours / classic, time", "ours_over_classic_time", "{:.3f}x"),
              ("ours / etcdctl, time", "ours_over_etcdctl_time", "{:.2f}x"),
              ("ours RSS / classic RSS", "ours_over_classic_rss", "{:.2f}x"),
              ("etcd CPU-s per ours read", "etcd_cpu_s_per_ours_read", "{:.3f}"),
              ("ours CPU-s per read (median)", "ours_cpu_s", "{:.2f}"),
              ("baseline / etcdctl, time", "baseline_over_etcdctl_time", "{:.2f}x"),
              ("baseline CPU-s per read (median)", "baseline_cpu_s", "{:.2f}"),
              ("ours / baseline, CPU", "ours_over_baseline_cpu", "{:.2f}x"),
              ("cache hit", "cache_hit_ms", "{:.1f} ms"),
              ("empty prefix", "empty_prefix_ms", "{:.1f} ms"))


def targets(results):
    """The issue's targets against the measured ratios: (target, N, measured text, verdict)."""
    rows = []

    def check(label, hosts, key, limit, fmt):
        value = results[hosts]["ratios"][key] if hosts in results else None
        verdict = "not measured" if value is None else ("PASS" if value <= limit else "MISS")
        rows.append((label, hosts, "-" if value is None else fmt.format(value), verdict))
    for hosts in (10000, 100000):
        check("ours <= 0.5x classic (time)", hosts, "ours_over_classic_time", 0.5, "{:.3f}x")
        check("ours <= 1.5x etcdctl (time)", hosts, "ours_over_etcdctl_time", 1.5, "{:.2f}x")
    for hosts in sorted(results):
        check("ours RSS <= classic RSS", hosts, "ours_over_classic_rss", 1.0, "{:.2f}x")
    check("cache hit <= 30 ms", 100000, "cache_hit_ms", 30, "{:.1f} ms")
    for hosts in sorted(results):
        check("empty prefix <= 10 ms (median)", hosts, "empty_prefix_ms", 10, "{:.1f} ms")
    check("etcd CPU per full read <= 0.3 CPU-s", 10000, "etcd_cpu_s_per_ours_read", 0.3, "{:.3f} CPU-s")
    # Issue 19's, the typed etcd interface.
    check("ours <= 1.0x etcdctl (time)", 10000, "ours_over_etcdctl_time", 1.0, "{:.2f}x")
    check("ours <= 0.6x etcdctl (time)", 100000, "ours_over_etcdctl_time", 0.6, "{:.2f}x")
    check("ours CPU <= 2/3 of --baseline's", 100000, "ours_over_baseline_cpu", 2 / 3, "{:.2f}x")
    return rows


def print_summary(results):
    """The ratios at every N, then the targets with PASS/MISS."""
    sizes = sorted(results)
    print("\nSummary: ratios (medians)\n")
    print("| ratio | " + " | ".join(f"{n:,} hosts" for n in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for label, key, fmt in RATIO_ROWS:
        cells = [results[n]["ratios"][key] for n in sizes]
        print(f"| {label} | " + " | ".join("-" if c is None else fmt.format(c) for c in cells) + " |")
    print("\nTargets (issues 7 and 19)\n")
    print("| target | hosts | measured | verdict |")
    print("|---|---|---|---|")
    for label, hosts, value, verdict in targets(results):
        print(f"| {label} | {hosts:,} | {value} | {verdict} |")


def write_table_md(path, results, info, disk):
    """The README table: readers x N with "time, RSS" cells, the ratios, the targets."""
    sizes = sorted(results)
    names = {"ours": "ours (`--list`, gRPC)", "baseline": "baseline (`--baseline`, `--list`)",
             "ours (gateway)": "ours (`--transport gateway`)",
             "etcdctl": "etcdctl get --prefix -w json", "curl": "curl, one /v3/kv/range",
             "classic": "classic script (python-etcd, v2)", "empty prefix": "ours, empty prefix",
             "cache hit": "ours, validated cache hit"}
    lines = [f"Command: `{info['command']}`", "",
             f"Machine: {machine_line(info, disk)}", "",
             f"Median wall time, peak RSS of the reader (ru_maxrss; {fmt_mib(info['rss_floor_kib'])} "
             "is the floor: what /bin/true measures).", "",
             *([f"Baseline: `{info['baseline']}`.", ""] if info.get("baseline") else []),
             "| reader | " + " | ".join(f"{n:,} hosts" for n in sizes) + " |",
             "|---|" + "---|" * len(sizes)]
    for name in TOOLS:
        cells = []
        for n in sizes:
            t = results[n]["tools"].get(name)
            cells.append(f"{fmt_s(t['median_s'])}, {fmt_mib(t['peak_rss_kib'])}" if t else "-")
        if any(c != "-" for c in cells):
            lines.append(f"| {names[name]} | " + " | ".join(cells) + " |")
    lines.append("| **ratios** |" + " |" * len(sizes))
    for label, key, fmt in RATIO_ROWS:
        cells = [results[n]["ratios"][key] for n in sizes]
        lines.append(f"| {label} | " + " | ".join("-" if c is None else fmt.format(c) for c in cells) + " |")
    lines += ["", "| target | hosts | measured | verdict |", "|---|---|---|---|"]
    lines += [f"| {label} | {hosts:,} | {value} | {verdict} |" for label, hosts, value, verdict in targets(results)]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def write_svg(path, results, runs, subtitle):
    """A log-log line plot, hand-written SVG: x hosts, y median wall seconds, a line per reader."""
    width, height, left, right, top, bottom = 860, 540, 80, 30, 78, 62
    styles = {"ours": ("#0072B2", "", "circle"), "ours (gateway)": ("#56B4E9", "7 4", "square"),
              "etcdctl": ("#009E73", "2 3", "triangle"), "curl": ("#E69F00", "9 3 2 3", "diamond"),
              "classic": ("#D55E00", "", "cross")}
    sizes = sorted(results)
    series = {name: [(n, results[n]["tools"][name]["median_s"]) for n in sizes if name in results[n]["tools"]]
              for name in PLOTTED}
    series = {name: pts for name, pts in series.items() if pts}
    ys = [y for pts in series.values() for _, y in pts]
    pad = 0.25 if len(sizes) > 1 else 0.5
    x0, x1 = math.log10(sizes[0]) - pad, math.log10(sizes[-1]) + pad
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    y1 = max(y1, y0 + 1)

    def px(x):
        return left + (math.log10(x) - x0) / (x1 - x0) * (width - left - right)

    def py(y):
        return height - bottom - (math.log10(y) - y0) / (y1 - y0) * (height - top - bottom)

    def hosts_label(n):
        for div, unit in ((10**6, "M"), (10**3, "k")):
            if n >= div and n % div == 0:
                return f"{n // div}{unit}"
        return f"{n:,}"

    def seconds_label(s):
        return f"{s * 1000:g} ms" if s < 1 else f"{s:g} s"

    def marker(kind, x, y, color):
        if kind == "circle":
            return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{color}"/>'
        if kind == "square":
            return f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{color}"/>'
        if kind == "triangle":
            return f'<polygon points="{x:.1f},{y - 5.5:.1f} {x - 5:.1f},{y + 4:.1f} {x + 5:.1f},{y + 4:.1f}" fill="{color}"/>'
        if kind == "diamond":
            return f'<polygon points="{x:.1f},{y - 5.5:.1f} {x + 5.5:.1f},{y:.1f} {x:.1f},{y + 5.5:.1f} {x - 5.5:.1f},{y:.1f}" fill="{color}"/>'
        return (f'<path d="M{x - 4.5:.1f},{y - 4.5:.1f} L{x + 4.5:.1f},{y + 4.5:.1f} M{x - 4.5:.1f},{y + 4.5:.1f} '
                f'L{x + 4.5:.1f},{y - 4.5:.1f}" stroke="{color}" stroke-width="2.5"/>')

    title = "etcd-inventory --list vs the classic script and etcd's floors (N hosts x 10 vars)"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">{escape(title)}</text>',
           f'<text x="{width / 2}" y="44" text-anchor="middle" font-size="10.5" fill="#444">'
           f'{escape(f"median wall time of {runs} runs per point; {subtitle}")}</text>']
    plot_b, plot_r = height - bottom, width - right
    for e in range(y0, y1 + 1):  # decades, labelled; 2x and 5x, light
        for m in (1, 2, 5):
            v = m * 10.0 ** e
            if e == y1 and m > 1:
                break
            y = py(v)
            out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{plot_r}" y2="{y:.1f}" '
                       f'stroke="{"#ccc" if m == 1 else "#eee"}"/>')
            if m == 1:
                out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{seconds_label(v)}</text>')
    for n in sizes:
        x = px(n)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{plot_b}" stroke="#ccc"/>')
        out.append(f'<line x1="{x:.1f}" y1="{plot_b}" x2="{x:.1f}" y2="{plot_b + 5}" stroke="black"/>')
        out.append(f'<text x="{x:.1f}" y="{plot_b + 19}" text-anchor="middle">{hosts_label(n)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{plot_r - left}" height="{plot_b - top}" fill="none" stroke="black"/>')
    out.append(f'<text x="{(left + plot_r) / 2}" y="{height - 16}" text-anchor="middle" font-size="13">'
               'hosts (10 variables each, 20 groups; log scale)</text>')
    out.append(f'<text transform="translate(20,{(top + plot_b) / 2}) rotate(-90)" text-anchor="middle" '
               'font-size="13">median wall time (log scale)</text>')
    for name, pts in series.items():
        color, dash, kind = styles[name]
        d = " ".join(f"{'M' if i == 0 else 'L'}{px(n):.1f},{py(y):.1f}" for i, (n, y) in enumerate(pts))
        out.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="2"'
                   + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
        out += [marker(kind, px(n), py(y), color) for n, y in pts]
    lx, ly = left + 12, top + 12
    out.append(f'<rect x="{lx}" y="{ly}" width="150" height="{10 + 20 * len(series)}" fill="white" '
               'fill-opacity="0.9" stroke="#999"/>')
    for i, name in enumerate(series):
        color, dash, kind = styles[name]
        y = ly + 15 + 20 * i
        out.append(f'<line x1="{lx + 8}" y1="{y}" x2="{lx + 38}" y2="{y}" stroke="{color}" stroke-width="2"'
                   + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
        out.append(marker(kind, lx + 23, y, color))
        out.append(f'<text x="{lx + 46}" y="{y + 4}">{escape(name)}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def compare(args):
    """--compare: every N of --sizes in its own etcd, then the summary and the files in --out."""
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        raise SystemExit(f"{binary}: not an executable (cargo build --release)")
    notes = []
    seed = args.classic or (DEFAULT_CLASSIC if os.path.exists(DEFAULT_CLASSIC) else None)
    if args.classic and not os.path.exists(args.classic):
        raise SystemExit(f"--classic {args.classic}: no such file")
    if args.no_classic:
        seed = None
        notes.append("classic script skipped: --no-classic")
    elif not seed:
        notes.append(f"classic script skipped: no --classic and no {DEFAULT_CLASSIC}")
    if not shutil.which("curl"):
        notes.append("curl skipped: not installed")
    for note in notes:
        print(f"NOTE: {note}")
    info = machine_info()
    info["rss_floor_kib"] = measure(["/bin/true"], {}, 3)[1]
    if args.baseline:
        info["baseline"] = args.baseline
    print(f"peak RSS floor of the measuring fork (what /bin/true measures): {fmt_mib(info['rss_floor_kib'])}")
    out = os.path.abspath(args.out)
    work = tempfile.mkdtemp(prefix="etcd-inventory-compare-")
    try:
        classic = None
        if seed:
            ported = os.path.join(work, "classic_etcd_inv.py")
            with open(ported, "w") as f:
                f.write(port_to_py3(extract_classic(seed)))
            classic = (classic_python(), ported)
            print(f"classic script: {seed}, ported to Python 3 in {ported}, run by {classic[0]}")
        results = {}
        for hosts in sizes:
            results[hosts] = compare_size(args, hosts, binary, classic, work)
            results[hosts]["ratios"] = ratios(results[hosts])
            print_size_table(hosts, results[hosts])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_summary(results)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"machine": info, "runs": args.runs, "sizes": sizes, "disk": args.disk, "notes": notes,
                   "classic_seed": seed, "results": {str(n): r for n, r in results.items()},
                   "targets": [{"target": t, "hosts": n, "measured": v, "verdict": d}
                               for t, n, v, d in targets(results)]}, f, indent=2)
        f.write("\n")
    write_svg(os.path.join(out, "bench.svg"), results, args.runs, machine_line(info, args.disk))
    write_table_md(os.path.join(out, "table.md"), results, info, args.disk)
    print(f"\nwrote {out}/results.json, {out}/bench.svg, {out}/table.md")


def ansible_tool(name):
    """Ansible's program `name`, by the setting the tests read: $ANSIBLE_BIN_DIR, else .venv/bin."""
    path = os.path.join(os.environ.get("ANSIBLE_BIN_DIR") or os.path.join(REPO, ".venv", "bin"), name)
    if not os.access(path, os.X_OK):
        raise SystemExit(f"{path}: not found (scripts/test.sh installs ansible-core into .venv)")
    return path


def install_collection(work):
    """The collection, built and installed by ansible-galaxy as a user would; its collections dir."""
    galaxy, home = ansible_tool("ansible-galaxy"), {"HOME": work, "PATH": os.environ.get("PATH", "")}
    subprocess.run([galaxy, "collection", "build", "--force", "--output-path", os.path.join(work, "built"),
                    os.path.join(REPO, "collection")], env=home, check=True, stdout=subprocess.DEVNULL, timeout=120)
    [tarball] = glob.glob(os.path.join(work, "built", "*.tar.gz"))
    path = os.path.join(work, "collections")
    subprocess.run([galaxy, "collection", "install", "--force", "-p", path, tarball], env=home, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    return path


def bench_ansible(args, binary):
    """--ansible (issue 20): `ansible-playbook --list-hosts` and `ansible-inventory --list` through
    the collection's inventory plugin and through the binary as an inventory script, in
    alternating rounds on the same etcd, at each N of --sizes; the plugin/script ratios."""
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    work = tempfile.mkdtemp(prefix="etcd-inventory-ansible-")
    rows = []
    try:
        collections = install_collection(work)
        source = os.path.join(work, "inventory.etcd.yml")
        with open(source, "w") as f:
            f.write("plugin: etcd_inventory.etcd.etcd\nprefix: /bench\n")
        playbook = os.path.join(work, "site.yml")
        with open(playbook, "w") as f:
            f.write("- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n")
        for hosts in sizes:
            etcd, client, data = start_etcd(args.disk)
            try:
                load(client, "/bench", hosts)
                env = {"PATH": os.path.dirname(binary) + os.pathsep + os.environ.get("PATH", ""), "HOME": work,
                       "ETCDCTL_ENDPOINTS": client, "ETCD_INVENTORY_PREFIX": "/bench",
                       "ANSIBLE_COLLECTIONS_PATH": collections, "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true",
                       "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "true"}
                commands = {"ansible-playbook --list-hosts": [ansible_tool("ansible-playbook"), "--list-hosts", playbook]}
                # ansible-inventory --list spends most of its time writing JSON (over a minute
                # per run at 100,000 hosts): timed up to 10,000 hosts only.
                if hosts <= 10000:
                    commands["ansible-inventory --list"] = [ansible_tool("ansible-inventory"), "--list"]
                for what, cmd in commands.items():
                    times = {"plugin": [], "script": []}
                    # A warm-up of each, then alternating rounds: both see the same machine state.
                    for _ in range(args.runs + 1):
                        for reader, inventory in (("plugin", source), ("script", binary)):
                            t, _ = measure([cmd[0], "-i", inventory, *cmd[1:]], env, 1)
                            times[reader].append(t[0])
                    plugin, script = (statistics.median(times[k][1:]) for k in ("plugin", "script"))
                    rows.append((hosts, what, plugin, script))
                    print(f"{hosts} hosts, {what}: plugin {fmt_s(plugin)}, script {fmt_s(script)}, "
                          f"plugin/script {plugin / script:.2f}x (medians of {args.runs})")
            finally:
                stop_etcd(etcd, data)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| hosts | command | plugin | script | plugin / script |\n|---|---|---|---|---|")
    for hosts, what, plugin, script in rows:
        print(f"| {hosts:,} | `{what}` | {fmt_s(plugin)} | {fmt_s(script)} | {plugin / script:.2f}x |")


def install_python_host(work, binary):
    """embed/python built (pip wheel, offline, with .venv-python's hatchling) around the .wasm
    `binary` writes, and installed into a directory for PYTHONPATH; returns that directory."""
    python = os.path.join(REPO, ".venv-python", "bin", "python")
    if not os.access(python, os.X_OK):
        raise SystemExit(f"{python}: not found (scripts/test.sh makes .venv-python)")
    wasm = os.path.join(work, "etcd_inventory.wasm")
    subprocess.run([binary, "component", "--output", wasm], check=True, stdout=subprocess.DEVNULL, timeout=60)
    wheels, site = os.path.join(work, "wheels"), os.path.join(work, "site")
    quiet = {"stdout": subprocess.DEVNULL, "check": True, "timeout": 300}
    subprocess.run([python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index", "--no-build-isolation",
                    "--wheel-dir", wheels, os.path.join(REPO, "embed", "python")],
                   env={**os.environ, "ETCD_INVENTORY_WASM": wasm}, **quiet)
    [wheel] = glob.glob(os.path.join(wheels, "*.whl"))
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", site, wheel],
                   **quiet)
    return site


def bench_python(args, binary):
    """--python (issue 21): at each N of --sizes, the component in Python (embed/python's
    inventory script) and the plugin's `backend: wasm` (`ansible-inventory --list`), each on
    a first run (an empty compile cache: it compiles) and a second (from the cache), beside
    the binary (gRPC and gateway) and the plugin's `backend: binary`; alternating rounds."""
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    work = tempfile.mkdtemp(prefix="etcd-inventory-python-")
    rows = []
    try:
        site = install_python_host(work, binary)
        script = os.path.join(site, "bin", "etcd-inventory-wasm")
        collections = install_collection(work)
        sources = {}
        for backend in ("binary", "wasm"):
            sources[backend] = os.path.join(work, f"{backend}.etcd.yml")
            with open(sources[backend], "w") as f:
                f.write(f"plugin: etcd_inventory.etcd.etcd\nprefix: /bench\nbackend: {backend}\n")
        warm = os.path.join(work, "warm-cache")
        for hosts in sizes:
            etcd, client, data = start_etcd(args.disk)
            try:
                load(client, "/bench", hosts)
                env = {"PATH": os.path.dirname(binary) + os.pathsep + os.environ.get("PATH", ""), "HOME": work,
                       "ETCDCTL_ENDPOINTS": client, "ETCD_INVENTORY_PREFIX": "/bench", "PYTHONPATH": site,
                       "ANSIBLE_COLLECTIONS_PATH": collections, "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true",
                       "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "true", "XDG_CACHE_HOME": warm}
                expected = run_output([binary, "--list", "--transport", "gateway"], env)
                if run_output([script, "--list"], env) != expected:
                    raise SystemExit(f"{hosts} hosts: the Python host's --list differs from the binary's")
                inventory = ansible_tool("ansible-inventory")
                readers = {
                    "binary --list (gRPC)": ([binary, "--list"], False),
                    "binary --list --transport gateway": ([binary, "--list", "--transport", "gateway"], False),
                    "Python host --list, first run": ([script, "--list"], True),
                    "Python host --list, second run": ([script, "--list"], False),
                    "plugin backend: binary": ([inventory, "-i", sources["binary"], "--list"], False),
                    "plugin backend: wasm, first run": ([inventory, "-i", sources["wasm"], "--list"], True),
                    "plugin backend: wasm, second run": ([inventory, "-i", sources["wasm"], "--list"], False),
                }
                times = {name: [] for name in readers}
                # A warm-up round (it fills the warm cache), then alternating rounds.
                for _ in range(args.runs + 1):
                    for name, (cmd, cold) in readers.items():
                        cache = tempfile.mkdtemp(dir=work) if cold else warm
                        t, _ = measure(cmd, {**env, "XDG_CACHE_HOME": cache}, 1)
                        times[name].append(t[0])
                        if cold:
                            shutil.rmtree(cache, ignore_errors=True)
                for name in readers:
                    median = statistics.median(times[name][1:])
                    rows.append((hosts, name, median))
                    print(f"{hosts} hosts, {name}: {fmt_s(median)} (median of {args.runs})")
            finally:
                stop_etcd(etcd, data)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n| reader | {' | '.join(f'{n:,} hosts' for n in sizes)} |\n|---|{'---|' * len(sizes)}")
    for name in dict.fromkeys(name for _, name, _ in rows):
        cells = [fmt_s(t) for n in sizes for h, r, t in rows if h == n and r == name]
        print(f"| {name} | {' | '.join(cells)} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bin", default="target/release/etcd-inventory")
    ap.add_argument("--page-size", type=int, help="keys per range request (default: the binary's)")
    ap.add_argument("--cache", action="store_true", help="then measure the --list cache on the same data")
    ap.add_argument("--import", dest="imports", action="store_true", help="then measure import of the same data")
    ap.add_argument("--disk", action="store_true", help="etcd's data dir on disk, not /dev/shm")
    ap.add_argument("--compare", action="store_true",
                    help="instead: ours against etcdctl, curl and the classic script at each of --sizes")
    ap.add_argument("--ansible", action="store_true",
                    help="instead: ansible-playbook --list-hosts and ansible-inventory --list through the "
                    "collection's inventory plugin against the binary as a script, at each of --sizes")
    ap.add_argument("--python", action="store_true",
                    help="instead: the component in Python (embed/python) and the plugin's backend: wasm, first "
                    "and second run, beside the binary, at each of --sizes")
    ap.add_argument("--sizes", default="1000,10000,100000",
                    help="--compare, --ansible, --python: host counts, comma-separated")
    ap.add_argument("--classic", help="--compare: the seed file holding the classic script "
                    f"(default: {DEFAULT_CLASSIC} if it exists, else the classic script is skipped)")
    ap.add_argument("--baseline", help="--compare: another etcd-inventory binary (an earlier build) timed "
                    "beside ours in the same run, on the same etcd; its output must be ours byte for byte")
    ap.add_argument("--no-classic", action="store_true",
                    help="--compare: leave out the classic script (and its v2 keyspace load: 6 minutes for "
                    "1.1 million keys on etcd 3.5's v2 emulation, where 8 loaders can time out)")
    ap.add_argument("--out", default=os.path.join(REPO, "docs", "bench"),
                    help="--compare: directory for results.json, bench.svg and table.md")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)

    try:
        if args.compare:
            compare(args)
        elif args.ansible:
            bench_ansible(args, binary)
        elif args.python:
            bench_python(args, binary)
        else:
            bench(args, binary)
    finally:
        stop_spawner()


def bench(args, binary):
    """The default mode (see the module's docstring)."""
    etcd, client, data = start_etcd(args.disk)
    try:
        env = {"PATH": os.environ.get("PATH", ""), "ETCDCTL_ENDPOINTS": client}
        if args.page_size:
            env["ETCD_INVENTORY_PAGE_SIZE"] = str(args.page_size)

        t, rss = measure([binary, "--list", "--prefix", "/empty"], env, args.runs)
        print(f"empty prefix --list: median {statistics.median(t) * 1000:.1f} ms "
              f"(min {min(t) * 1000:.1f}, max {max(t) * 1000:.1f}), peak RSS {rss / 1024:.1f} MiB")

        start = time.perf_counter()
        keys = load(client, "/bench", args.hosts)
        print(f"loaded {args.hosts} hosts x 10 vars in 20 groups = {keys} keys "
              f"in {time.perf_counter() - start:.1f} s")
        t, rss = measure([binary, "--list", "--prefix", "/bench"], env, args.runs)
        full = (t, rss)
        print(f"{args.hosts} hosts --list: median {statistics.median(t):.3f} s "
              f"(min {min(t):.3f}, max {max(t):.3f}), peak RSS {rss / 1024:.1f} MiB")
        if shutil.which("curl"):
            # The floor of any gateway reader: one unpaged range request for the whole prefix.
            body = json.dumps({"key": b64("/bench/"), "range_end": b64("/bench0")})
            t, _ = measure([shutil.which("curl"), "-sf", "-o", "/dev/null", "-d", body, client + "/v3/kv/range"],
                           env, args.runs)
            print(f"{args.hosts} hosts, one curl POST /v3/kv/range of the whole prefix: "
                  f"median {statistics.median(t):.3f} s")
        t, rss = measure([binary, "--host", "host000042.example.com", "--prefix", "/bench"], env, args.runs)
        print(f"{args.hosts} hosts --host: median {statistics.median(t) * 1000:.1f} ms, peak RSS {rss / 1024:.1f} MiB")
        if args.cache:
            bench_cache(args, binary, env, client, "/bench", full)
        if args.imports:
            bench_import(binary, env, keys)
    finally:
        stop_etcd(etcd, data)


if __name__ == "__main__":
    main()
