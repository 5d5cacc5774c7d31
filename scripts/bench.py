#!/usr/bin/env python3
"""Measures etcd-inventory on this machine: start-up on an empty prefix, and --list on
N hosts x 10 vars in 20 groups (wall time, median of several runs, and peak RSS).

Starts its own etcd on a free loopback port with a temporary data dir, loads the data
through the v3 JSON gateway in transactions of 128 puts, and stops etcd at the end.
Usage: scripts/bench.py [--hosts 10000] [--runs 5] [--bin target/release/etcd-inventory]
"""
import argparse
import base64
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bin", default="target/release/etcd-inventory")
    ap.add_argument("--page-size", type=int, help="keys per range request (default: the binary's)")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)

    data = tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
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
    finally:
        etcd.kill()
        etcd.wait()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
