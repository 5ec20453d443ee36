#!/usr/bin/env python3
"""Writes the seeds of the API text corpus (fuzz/api_text.c: one byte choosing the parser,
then its text) into the directory given: python3 fuzz/api_text_seeds.py fuzz/corpus/api_text"""
import os, sys

SIZE, NAME, TEXT, PATH, OBJECT, QUOTA, QTEXT = range(7)


def text(max_len):
    """valid_text's selector byte: % 7 picks the parser, >> 3 is the maximum length."""
    return next(b for b in range(max_len * 8, max_len * 8 + 8) if b % 7 == TEXT)




SEEDS = {
    "size-plain": (SIZE, "4096"), "size-k": (SIZE, "64k"), "size-mib": (SIZE, "512MiB"),
    "size-gb": (SIZE, "2GB"), "size-t": (SIZE, "16T"), "size-max": (SIZE, "18446744073709551615"),
    "size-over": (SIZE, "18446744073709551616"), "size-over-t": (SIZE, "16777216T"),
    "size-edge-t": (SIZE, "16777215T"),
    # found by the target (failed before its fix): too many digits, then junk, was -ERANGE
    "size-huge-junk": (SIZE, "5" + "2" * 100 + "1MiB\x06"), "size-bad-sfx": (SIZE, "5X"), "size-b-only": (SIZE, "5B"),
    "size-junk": (SIZE, "5Mq"), "size-empty": (SIZE, ""), "size-neg": (SIZE, "-1"),
    "size-space": (SIZE, " 1"), "size-zero-t": (SIZE, "0T"),
    "name-ok": (NAME, "web-1.prod_a"), "name-dot": (NAME, ".hidden"), "name-long": (NAME, "a" * 64),
    "name-63": (NAME, "b" * 63), "name-utf8": (NAME, "caf\u00e9"), "name-empty": (NAME, ""),
    "name-space": (NAME, "a b"),
    "text-ok": (text(10), "hello, world"), "text-ctl": (text(10), "a\tb"),
    "text-del": (text(10), "a\x7fb"), "text-long": (text(2), "x" * 40),
    "path-ok": (PATH, "/var/lib/vsrv/disks/a.vhd"), "path-dotdot": (PATH, "/a/../b"),
    "path-dotdot-end": (PATH, "a/.."), "path-dots": (PATH, "/a/...b/..c/b.."),
    "path-empty": (PATH, ""), "path-slashes": (PATH, "//a//b//"), "path-long": (PATH, "/" * 4096),
    "path-nl": (PATH, "/a\nb"),
    "obj-ok": (OBJECT, '{"name": "vm1", "description": "d", "cpus": 2, "on": true, '
                       '"disks": [1, 2], "opts": {}, "color": "red", "password": "pw"}'),
    "obj-missing": (OBJECT, '{"cpus": 2}'), "obj-unknown": (OBJECT, '{"name": "a", "x\\u0001y": 1}'),
    "obj-type": (OBJECT, '{"name": 5}'), "obj-range": (OBJECT, '{"name": "a", "cpus": 65}'),
    "obj-enum": (OBJECT, '{"name": "a", "color": "purple"}'),
    "obj-secret": (OBJECT, '{"name": "a", "password": "' + "p" * 17 + '"}'),
    "obj-items": (OBJECT, '{"name": "a", "disks": [1, 2, 3, 4]}'),
    "obj-nul": (OBJECT, '{"name": "a\\u0000b"}'), "obj-array": (OBJECT, '[1]'),
    "obj-big": (OBJECT, '{"name": "a", "big": -9223372036854775808}'),
    "obj-long-key": (OBJECT, '{"' + "k" * 100 + '": 1}'),
    "quota-ok": (QUOTA, '{"vms": 3, "cpus": null, "memory_mib": 4096, "disks": 0, '
                        '"disk_bytes": 1073741824, "snapshots": 9}'),
    "quota-neg": (QUOTA, '{"vms": -1}'), "quota-real": (QUOTA, '{"vms": 1.5}'),
    "quota-unknown": (QUOTA, '{"gpus": 1}'), "quota-not-object": (QUOTA, '"vms"'),
    "qtext-ok": (QTEXT, "vms=3,cpus=8,memory=4G,disks=2,disk-size=100G,snapshots=5"),
    "qtext-mib": (QTEXT, "memory=2048"), "qtext-bad": (QTEXT, "vms"),
    "qtext-unknown": (QTEXT, "gpus=1"), "qtext-size-on-count": (QTEXT, "vms=3K"),
    "qtext-huge": (QTEXT, "disk-size=9223372036854775808"), "qtext-empty": (QTEXT, ",,,"),
}

d = sys.argv[1]
os.makedirs(d, exist_ok=True)
for name, (sel, s) in SEEDS.items():
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes([sel]) + s.encode())
