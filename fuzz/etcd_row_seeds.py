#!/usr/bin/env python3
"""Writes the seeds of the etcd row corpus (fuzz/etcd_row.c: the input is a value read back
from etcd) into the directory given: rows as the server writes them, and corrupt ones.
python3 fuzz/etcd_row_seeds.py fuzz/corpus/etcd_row"""
import json, os, sys

ROWS = {
    "vm": {"id": 7, "name": "web1", "cpus": 2, "memory_mib": 512, "kernel": "/k", "initrd": None,
           "cmdline": "console=ttyS0", "autostart": True, "restart_policy": "always",
           "cpu_weight": 100, "cpu_limit": 0.5, "memory_min_mib": 256, "owner": 1},
    "vm_status": {"state": "running", "monitor_pid": 1234, "restarts": 0, "last_exit": -1,
                  "started": 1733600000, "host": "h1", "epoch": 3},
    "disk": {"id": 3, "name": "root", "path": "/var/lib/vsrv/disks/root.vhd", "format": "vhd",
             "size": 10737418240, "readonly": False, "parent_id": 0, "snapshot_id": 0},
    "task": {"kind": "migrate", "object": "web1", "state": "running", "progress": 0.25,
             "error": "", "user": "alice", "host": "h2", "created": 1, "updated": 2,
             "finished": 0, "undo_disks": [1, 2]},
    "user": {"name": "alice", "password": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
             "admin": 1, "sessions": 2, "expires": 1.7e9},
    "event": {"type": "vm-created", "object_type": "vm", "object": "web1", "user": "alice",
              "message": "created", "data": "{\"a\":1}", "time": 1733600000.125},
    "net": {"name": "lan", "kind": "nat", "bridge": "", "subnet": "10.0.2.0/24",
            "dhcp_start": "10.0.2.15", "dhcp_end": "10.0.2.99", "mac": "52:54:00:12:34:56",
            "model": "virtio", "idx": 0, "network_id": 2, "vm_id": 7},
}
RAW = {
    # what the target found (failed before its fix): reals no int64 holds
    "real-huge": b'{"cpus": 1e300, "memory_mib": -1e19, "size": 9.3e18, "idx": 9.2233720368547758e18}',
    "real-edge": b'{"id": -9.2233720368547758e18, "perms": 0.999, "timeout": -0.5}',
    "typed-wrong": b'{"id": "7", "name": 7, "cpus": [2], "admin": "yes", "kernel": {"p": 1},'
                   b' "autostart": null, "readonly": "false", "bytes": true}',
    "int-limits": b'{"size": 9223372036854775807, "id": -9223372036854775808, "epoch": 0}',
    "int-over": b'{"size": 9223372036854775808}',
    "not-object": b'[1, 2, 3]',
    "string": b'"a row?"',
    "empty": b'',
    "truncated": b'{"name": "web1", "cpus": 2',
    "nul": b'{"name": "a\\u0000b"}',
    "utf8-bad": b'{"name": "\xff\xfe"}',
    "deep": b'{"a":' * 3000 + b'1' + b'}' * 3000,
    "dup-keys": b'{"name": "a", "name": "b", "cpus": 1, "cpus": 2.5}',
    "unicode": '{"description": "caf\u00e9 \U0001F600", "name": "\\ud83d\\ude00"}'.encode(),
    "trailing": b'{"name": "a"} {"name": "b"}',
    "long-string": b'{"path": "' + b'x' * 5000 + b'"}',
}

d = sys.argv[1]
os.makedirs(d, exist_ok=True)
for name, row in ROWS.items():
    with open(os.path.join(d, name), "wb") as f:
        f.write(json.dumps(row, separators=(",", ":")).encode())
for name, data in RAW.items():
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
