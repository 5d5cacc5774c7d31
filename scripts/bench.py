#!/usr/bin/env python3
"""Measures etcd-inventory on this machine: start-up on an empty prefix, and --list on
N hosts x 10 vars in 20 groups (wall time, median of several runs, and peak RSS).
With --cache, then the --list cache on the same etcd and data: a validated hit on an idle
cluster, a validated hit after writes outside the prefix, a miss after a put under the
prefix (full read and cache rewrite), and the cache file's size.
With --import, then `etcd-inventory import` of that inventory (our own --list of it) into a
fresh prefix: keys per second for the first import (every key created) and for a second one
(every key unchanged), with a check that the imported prefix lists the same inventory.

Starts its own etcd on a free loopback port with a temporary data dir, loads the data
through the v3 JSON gateway in transactions of 128 puts, and stops etcd at the end.
etcd's data dir is on /dev/shm (no disk syncs) unless --disk is given.
Usage: scripts/bench.py [--hosts 10000] [--runs 5] [--bin target/release/etcd-inventory] [--cache]
                        [--import] [--disk]
"""
import argparse
import base64
import glob
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(endpoint, path, body):
    req = urllib.request.Request(endpoint + path, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def b64(text):
    return base64.b64encode(text.encode()).decode()


def load(endpoint, prefix, hosts, groups=20, vars_per_host=10):
    pairs = []
    for g in range(groups):
        pairs.append((f"{prefix}/groupvars/group{g:02}/role", f"role{g}"))
    for h in range(hosts):
        name = f"host{h:06}.example.com"
        pairs.append((f"{prefix}/hosts/group{h % groups:02}/{name}", ""))
        for v in range(vars_per_host):
            pairs.append((f"{prefix}/hostvars/{name}/var{v}", f"value-{h}-{v}"))
    for i in range(0, len(pairs), 128):
        ops = [{"request_put": {"key": b64(k), "value": b64(v)}} for k, v in pairs[i:i + 128]]
        post(endpoint, "/v3/kv/txn", {"success": ops})
    return len(pairs)


def measure(cmd, env, runs):
    """Wall time of each run and the largest peak RSS (KiB) among them."""
    times, peak = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.execve(cmd[0], cmd, env)
        _, status, usage = os.wait4(pid, 0)
        times.append(time.perf_counter() - start)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{cmd} failed")
        peak = max(peak, usage.ru_maxrss)
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bin", default="target/release/etcd-inventory")
    ap.add_argument("--page-size", type=int, help="keys per range request (default: the binary's)")
    ap.add_argument("--cache", action="store_true", help="then measure the --list cache on the same data")
    ap.add_argument("--import", dest="imports", action="store_true", help="then measure import of the same data")
    ap.add_argument("--disk", action="store_true", help="etcd's data dir on disk, not /dev/shm")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)

    in_memory = os.path.isdir("/dev/shm") and not args.disk
    data = tempfile.mkdtemp(dir="/dev/shm" if in_memory else None)
    print(f"etcd data dir: {data} ({'tmpfs, no disk syncs' if in_memory else 'disk'})")
    client, peer = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    etcd = subprocess.Popen(
        ["etcd", "--name", "bench", "--data-dir", f"{data}/data", "--listen-client-urls", client,
         "--advertise-client-urls", client, "--listen-peer-urls", peer,
         "--initial-advertise-peer-urls", peer, "--initial-cluster", f"bench={peer}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(client + "/health", timeout=1) as r:
                    if json.load(r).get("health") == "true":
                        break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit("etcd did not start")
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
        etcd.kill()
        etcd.wait()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
