#!/usr/bin/env python3
"""Seeds for fuzz/migrate_disk.c (see its header for the input format: frames as a source
sends them, a DISKS frame then DISKDATA frames) and one for fuzz/migrate.c (a stream with
the DISKS flag, from its config-only seed). The frame and record layouts are in
docs/migration.md. Usage: fuzz/migrate_disk_seeds.py fuzz/corpus"""
import os
import struct
import sys
import zlib

DISKS, DISKDATA, GO = 19, 20, 18
ZERO = 1
K = 1024


def frame(t, index, payload, crc=None):
    c = zlib.crc32(payload) if crc is None else crc
    h = struct.pack('<IIQI', t, index, len(payload), c)
    return h + struct.pack('<IQ', zlib.crc32(h), 0) + payload


def disks(entries, version=1, block=65536):
    p = struct.pack('<IIII', version, len(entries), block, 0)
    for e, size in entries:
        p += struct.pack('<IIQ', e, 0, size)
    return frame(DISKS, 0, p)


def rec(disk, off, length, data=None, flags=None, crc=None):
    f = (ZERO if data is None else 0) if flags is None else flags
    p = struct.pack('<QQII', off, length, f, 0) + (data or b'')
    return frame(DISKDATA, disk, p, crc)


def pattern(n, seed):
    return bytes((seed * 131 + i * 7 + i // 512) & 0xff for i in range(n))


TWO = [(0, 1 << 20), (1, 200 * K)]
seeds = {
    # a full copy of both disks: data and zero runs, the short last block of disk 1
    'copy': disks(TWO) + rec(0, 0, 64 * K, pattern(64 * K, 1)) + rec(0, 64 * K, 960 * K) +
            rec(1, 0, 192 * K) + rec(1, 192 * K, 8 * K, pattern(8 * K, 2)) +
            rec(0, 512 * K, 4 * K, pattern(4 * K, 3)) + frame(GO, 0, b''),
    # dirty rounds: the same blocks again, unaligned to 64 KiB, the largest record
    'rounds': disks(TWO) + rec(0, 0, 128 * K, pattern(128 * K, 4)) +
              b''.join(rec(0, (i * 37 % 2000) * 512, 1024, pattern(1024, i)) for i in range(40)) +
              rec(1, 199 * K, 1 * K, pattern(1024, 9)) + rec(0, 1000 * K, 24 * K),
    'size-mismatch': disks([(0, 2 << 20)]) + rec(0, 0, 512, pattern(512, 1)),
    'read-only': disks([(2, 1 << 20)]) + rec(0, 0, 512, pattern(512, 1)),
    'no-disk': disks([(7, 1 << 20)]),
    'none': disks([]) + frame(GO, 0, b''),
    'past-end': disks(TWO) + rec(1, 200 * K, 512, pattern(512, 5)),
    'wrap': disks(TWO) + rec(0, (1 << 64) - 512, 1024),
    'bad-length': disks(TWO) + rec(0, 0, 1024, pattern(512, 6)),
    'bad-flags': disks(TWO) + rec(0, 0, 512, pattern(512, 7), flags=6),
    'bad-index': disks(TWO) + rec(5, 0, 512, pattern(512, 8)),
    'bad-crc': disks(TWO) + rec(0, 0, 512, pattern(512, 9), crc=1),
    'version-2': disks(TWO, version=2),
}
out = os.path.join(sys.argv[1], 'migrate_disk')
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    open(os.path.join(out, name), 'wb').write(data)

# fuzz/migrate.c: config-only with the DISKS flag, then DISKS and records (the stream ends
# before the state: refused, after the disk records were written)
cfg = open(os.path.join(sys.argv[1], 'migrate', 'config-only'), 'rb').read()
hdr = bytearray(cfg[:64])
struct.pack_into('<I', hdr, 28, 2)  # MIGRATE_FLAG_DISKS
struct.pack_into('<I', hdr, 60, zlib.crc32(bytes(hdr[:60])))
open(os.path.join(sys.argv[1], 'migrate', 'config-disks'), 'wb').write(
    bytes(hdr) + cfg[64:] + disks([(0, 1 << 20)]) + rec(0, 0, 64 * K, pattern(64 * K, 1)) +
    rec(0, 64 * K, 960 * K))
