#!/usr/bin/env python3
"""Writes a few realistic gateway conversations as seeds for the gateway_response target.

Usage: python3 seeds/make_seeds.py corpus/gateway_response
Format (see fuzz_targets/gateway_response.rs): one option byte, then answers separated by
0x1E; "NNN body" is a status and a body, "!reason" a transport failure, else a 200 body.
"""
import base64
import json
import os
import sys

SEP = b"\x1e"


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def page(revision, pairs, more=False, count=None):
    answer = {"header": {"cluster_id": "14841639068965178418", "member_id": "10276657743932975437",
                         "revision": str(revision), "raft_term": "2"}}
    if pairs:
        answer["kvs"] = [{"key": b64(k), "create_revision": "2", "mod_revision": "3", "version": "1",
                          "value": b64(v)} for k, v in pairs]
    if more:
        answer["more"] = True
    answer["count"] = str(len(pairs) if count is None else count)
    return json.dumps(answer).encode()


def error(status, code, message):
    return b"%d " % status + json.dumps({"error": message, "code": code, "message": message}).encode()


def options(page_size=1, user=False, two=False, builder=False, stamp=False):
    return bytes([(page_size - 1) | user << 3 | two << 4 | builder << 5 | stamp << 6])


INVENTORY = [
    ("/ansible/groups/prod/web", ""),
    ("/ansible/groupvars/web/port", "8080"),
    ("/ansible/hosts/web/web01", ""),
    ("/ansible/hostvars/web01/ip", "10.0.0.1"),
    ("/ansible/hostvars/web01/nginx/port", "80"),
]

SEEDS = {
    # One page holds everything.
    "one_page": options(page_size=8, builder=True) + page(5, INVENTORY),
    # Two-key pages, pinned to revision 5, with a newer header later; then the cache check.
    "paged": options(page_size=2, builder=True, stamp=True) + SEP.join([
        page(5, INVENTORY[:2], more=True, count=5),
        page(6, INVENTORY[2:4], more=True, count=3),
        page(7, INVENTORY[4:], count=1),
        json.dumps({"header": {"revision": "7"}}).encode(),
        json.dumps({"header": {"revision": "7"}, "count": "5"}).encode(),
    ]),
    # An empty prefix: no kvs field at all.
    "empty": options() + json.dumps({"header": {"revision": "5"}}).encode(),
    # Log in, a compaction restarts the read, a member fails over.
    "auth_compacted_failover": options(page_size=1, user=True, two=True) + SEP.join([
        json.dumps({"header": {"revision": "4"}, "token": "tok.9"}).encode(),
        page(5, INVENTORY[:1], more=True, count=5),
        error(400, 11, "etcdserver: mvcc: required revision has been compacted"),
        page(9, INVENTORY[:1], more=True, count=5),
        b"!connection refused",
        page(9, INVENTORY[1:2], count=1),
    ]),
    # The largest revision, then the cache check (once overflowed `revision + 1`).
    "stamp_max_revision": options(stamp=True) + SEP.join([
        json.dumps({"header": {"revision": "9223372036854775807"}}).encode(),
        json.dumps({"header": {"revision": "1"}}).encode(),
        json.dumps({"header": {"revision": "1"}, "count": "0"}).encode(),
    ]),
    # Errors: too large a page, a leader election, an expired token, an HTML page.
    "errors": options(page_size=4, user=True, two=True, builder=True) + SEP.join([
        json.dumps({"token": "old"}).encode(),
        error(429, 8, "grpc: received message larger than max"),
        error(503, 14, "etcdserver: leader changed"),
        b"!timed out",
        error(401, 16, "etcdserver: invalid auth token"),
        json.dumps({"token": "new"}).encode(),
        page(3, INVENTORY[:2], more=True, count=5),
        b"404 <html>404 page not found</html>",
    ]),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "corpus/gateway_response"
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(SEEDS)} seeds to {out}")


if __name__ == "__main__":
    main()
