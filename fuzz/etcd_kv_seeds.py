#!/usr/bin/env python3
"""Writes the seeds of the etcd answer corpus (fuzz/etcd_kv.c: a Txn's range response as
the JSON gateway sends it) into the directory given:
python3 fuzz/etcd_kv_seeds.py fuzz/corpus/etcd_kv"""
import base64, json, os, sys


def b64(b):
    return base64.b64encode(b if isinstance(b, bytes) else b.encode()).decode()


def kv(key, value, **nums):
    o = {"key": b64(key), "value": b64(value), "create_revision": "5", "mod_revision": "9",
         "version": "2"}
    o.update(nums)
    return o


def resp(*kvs, **extra):
    r = {"response_range": {"header": {"revision": "12"}, "kvs": list(kvs),
                            "count": str(len(kvs))}}
    r.update(extra)
    return json.dumps(r).encode()


ROW = json.dumps({"id": 7, "name": "web1", "cpus": 2, "memory_mib": 512})
SEEDS = {
    "one": resp(kv("/vsrv/inv/t/vms/00000000000000000007", ROW)),
    "many": resp(*[kv("/vsrv/inv/t/vms/%020d" % i, json.dumps({"id": i, "name": "vm%d" % i}))
                   for i in range(1, 6)]),
    "counter": resp(kv("/vsrv/inv/id/vms", "42", lease="7587869785"), ),
    "unique": resp(kv("/vsrv/inv/u/vms.name/web1", "7")),
    "empty-value": resp({"key": b64("/k"), "mod_revision": "3"}),
    "no-kvs": b'{"response_range": {"header": {"revision": "3"}}}',
    "pad1": resp(kv("/k", "ab")), "pad2": resp(kv("/k", "a")),
    "key-nul": resp(kv(b"/k\x00hidden", ROW)),
    "value-nul": resp(kv("/k", b'{"name": "a"}\x00junk')),
    "binary": resp(kv("/k", bytes(range(256)))),
    "bad-b64": b'{"response_range": {"kvs": [{"key": "L2s=", "value": "!!!!"}]}}',
    "bad-len": b'{"response_range": {"kvs": [{"key": "L2s", "value": "e30="}]}}',
    "space-b64": b'{"response_range": {"kvs": [{"key": "  L2s=  ", "value": "e30=    "}]}}',
    "pads": b'{"response_range": {"kvs": [{"key": "====", "value": "A==="}]}}',
    "wrong-types": b'{"response_range": {"kvs": [{"key": 5, "value": ["e30="], "version": {}}, 7]}}',
    "nums": resp(kv("/k", "{}", mod_revision="99999999999999999999999", version=-3,
                    create_revision="x12")),
    "kvs-object": b'{"response_range": {"kvs": {"key": "L2s="}}}',
    "row-bad": resp(kv("/k", "[1,2]"), kv("/k2", "{\"id\": 1e300}")),
}

d = sys.argv[1]
os.makedirs(d, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
