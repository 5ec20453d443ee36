#!/usr/bin/env python3
"""Writes the seeds of the virtio-input fuzz corpus (fuzz/virtio_input.c describes the input
format) into the directory given: python3 fuzz/virtio_input_seeds.py fuzz/corpus/virtio_input"""
import os, struct, sys

KBD, TAB = 0x00, 0x10
EVQ, STQ = 0x00, 0x08
F_NEXT, F_WRITE = 1, 2


def cfgw(off, val, dev=KBD): return bytes([0 | dev, off, val])
def cfgr(off, ln=1, dev=KBD): return bytes([1 | dev, off, {1: 0, 2: 1, 4: 2, 8: 3}[ln]])


def chain(descs, head=0, q=EVQ, dev=KBD):
    b = bytes([2 | q | dev, head, len(descs) - 1])
    for addr, ln, flags, nxt in descs:
        b += struct.pack("<HHBB", addr // 16, ln, flags, nxt)
    return b


def key(code, down=True): return bytes([3]) + struct.pack("<H", code | (0 if down else 0x8000))
def tab(x, y, btn): return bytes([4]) + struct.pack("<HHB", x // 2, y, btn)
def serve(dev=KBD): return bytes([5 | dev])
def reset(dev=KBD): return bytes([6 | dev])
def saverest(dev=KBD): return bytes([7 | dev])


probe = b"".join(cfgw(0, sel) + cfgw(1, sub) + cfgr(2) + cfgr(8, 8) + cfgr(16, 4)
                 for sel, sub in [(1, 0), (2, 0), (3, 0), (0x10, 0), (0x11, 0), (0x11, 1), (0x11, 2),
                                  (0x11, 3), (0x11, 0x11), (0x12, 0), (0x12, 1), (0x77, 9)])
events = (key(30) + key(30) + key(30, False) +
          b"".join(chain([(0x80000 + 8 * i, 8, F_WRITE, 0)], head=i) for i in range(8)) +
          tab(40000, 100, 9) + b"".join(chain([(0x90000 + 8 * i, 8, F_WRITE, 0)], head=i, dev=TAB)
                                         for i in range(8)) + saverest() + saverest(TAB))
status = (chain([(0xa0000, 8, 0, 0)], q=STQ) + chain([(0xa0000, 3, 0, 0)], head=1, q=STQ) +
          chain([(0xa0000, 4, F_NEXT, 3), (0xa0004, 4, 0, 0)], head=2, q=STQ) +
          chain([(0xa0000, 8, F_WRITE, 0)], head=5, q=STQ))
garbage = (chain([(0xffff0, 0x7fff, F_NEXT, 1), (0x10, 8, F_NEXT | 4, 0)], head=3) +
           chain([(0, 8, F_NEXT, 0)], head=0) + reset() + chain([(0x80000, 2, F_WRITE, 0)]) +
           key(30) + serve() + chain([(0x80000, 0x7fff | 0x8000, F_WRITE, 0)], head=1) +
           chain([(0x1000, 8, F_WRITE, 31)], head=2) + reset())
flood = key(30) * 300 + key(30, False) * 300 + tab(1, 1, 1) * 200 + saverest() + \
    b"".join(chain([(0x80000 + 8 * i, 8, F_WRITE, 0)], head=i % 16) for i in range(40))

SEEDS = {"probe": probe, "events": events, "status": status, "garbage": garbage, "flood": flood}

if __name__ == "__main__":
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
