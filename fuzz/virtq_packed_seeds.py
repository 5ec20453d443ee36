#!/usr/bin/env python3
"""Writes the packed-ring seeds of the virtqueue fuzz corpus (fuzz/virtq.c describes the
input format) into the directory given: python3 fuzz/virtq_packed_seeds.py fuzz/corpus/virtq"""
import struct, sys

AVAIL, USED, NEXT, WRITE, INDIRECT = 1 << 7, 1 << 15, 1, 2, 4
DRV_EVT, DEV_EVT, TABLE, DATA, END = 0x4000, 0x5000, 0x5100, 0x5200, 0x5400


def flags(wrap, f):
    return f | (AVAIL if wrap else USED)


def seed(name, size, feat, last_avail, descs, table=(), drv_evt=(0, 0)):
    """descs: (slot, addr, len, id, flags); table: (addr, len, flags) entries at TABLE."""
    mem = bytearray(END)
    for slot, addr, ln, bid, f in descs:
        struct.pack_into("<QIHH", mem, 16 * slot, addr, ln, bid, f)
    for i, (addr, ln, f) in enumerate(table):
        struct.pack_into("<QIHH", mem, TABLE + 16 * i, addr, ln, 0, f)
    struct.pack_into("<HH", mem, DRV_EVT, *drv_evt)
    hdr = bytes([size - 1, feat | 4]) + struct.pack("<H", last_avail)
    with open("%s/%s" % (sys.argv[1], name), "wb") as f:
        f.write(hdr + mem)


w = True
# a 3-descriptor chain, an indirect table of 3, a single buffer
seed("packed-chain", 8, 2, 0, [(0, DATA, 16, 0, flags(w, NEXT)), (1, DATA + 16, 64, 0, flags(w, NEXT | WRITE)),
                                (2, DATA + 80, 1, 0, flags(w, WRITE)), (3, TABLE, 48, 1, flags(w, INDIRECT)),
                                (4, DATA + 128, 32, 2, flags(w, WRITE))],
     table=[(DATA, 16, 0), (DATA + 16, 100, WRITE), (DATA + 120, 1, WRITE)])
# size 5, starting at slot 3 in the second lap (wrap counter 0): a chain 3, 4 -> 0 (third lap)
seed("packed-wrap", 5, 8, 3, [(3, DATA, 16, 4, flags(False, NEXT)), (4, DATA + 16, 16, 4, flags(False, NEXT | WRITE)),
                               (0, DATA + 32, 1, 4, flags(True, WRITE)), (1, DATA + 64, 8, 1, flags(True, 0))])
# EVENT_IDX with the driver asking for an event at slot 2 (DESC mode)
seed("packed-eventidx", 4, 1, 0, [(i, DATA + 32 * i, 32, i, flags(w, WRITE)) for i in range(4)],
     drv_evt=(0x8002, 2))
# buffer id beyond the queue, then one already in flight
seed("packed-badid", 4, 0, 0, [(0, DATA, 8, 9, flags(w, 0))])
seed("packed-dupid", 4, 0, 0, [(0, DATA, 8, 1, flags(w, 0)), (1, DATA, 8, 1, flags(w, 0))])
# NEXT on every slot: the chain runs past the queue
seed("packed-loop", 4, 0, 0, [(i, DATA, 8, 0, flags(w, NEXT)) for i in range(4)])
# indirect in indirect, and an indirect descriptor inside a chain
seed("packed-nested", 4, 2, 0, [(0, TABLE, 32, 0, flags(w, INDIRECT))],
     table=[(DATA, 16, 0), (TABLE, 32, INDIRECT)])
seed("packed-indchain", 4, 2, 0, [(0, DATA, 16, 0, flags(w, NEXT)), (1, TABLE, 16, 0, flags(w, INDIRECT))],
     table=[(DATA, 16, 0)])
# a big queue of single buffers, some outside memory
seed("packed-big", 256, 3, 250, [(s % 256, DATA if s % 5 else 0x7fffff00, 16, s % 256, flags(s < 256, WRITE))
                                  for s in range(250, 270)])
