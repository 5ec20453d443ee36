#!/usr/bin/env python3
"""Writes the seeds of the PS/2 fuzz corpus (fuzz/ps2.c describes the input format) into
the directory given: python3 fuzz/ps2_seeds.py fuzz/corpus/ps2"""
import os, struct, sys


def cmd(v): return bytes([0, v])
def out(v): return bytes([1, v])
def rd(n=1): return bytes([2]) * n
def st(): return bytes([3])
def key(code, down=True): return bytes([4]) + struct.pack("<H", code | (0 if down else 0x8000))
def rel(dx, dy, w=0, b=0): return bytes([5]) + struct.pack("<bbbB", dx, dy, w, b)
def aux(v): return bytes([7, v])


linux_probe = (cmd(0x20) + rd() + cmd(0xaa) + rd() + cmd(0x60) + out(0x47) + cmd(0xd3) + out(0x5a) +
               st() + rd() + cmd(0xa9) + rd() + cmd(0xa8) + out(0xf2) + rd(3) + out(0xf5) + rd() +
               out(0xed) + out(7) + rd(2) + out(0xf4) + rd())
mouse = (aux(0xff) + rd(3) + aux(0xf3) + aux(200) + aux(0xf3) + aux(100) + aux(0xf3) + aux(80) +
         rd(6) + aux(0xf2) + rd(2) + aux(0xe8) + aux(3) + aux(0xe9) + rd(6) + aux(0xf4) + rd() +
         rel(5, -5, 1, 1) + rd(4) + rel(127, 127, 0, 7) * 40 + rd(80) + aux(0xf0) + rel(3, 3) +
         aux(0xeb) + rd(5) + aux(0xee) + aux(0x33) + aux(0xec) + rd(3) + aux(0xe7) + rel(4, 0))
keys = (b"".join(key(c) + key(c, False) for c in range(1, 256)) + rd(200) + out(0xf0) + out(1) +
        key(119) + key(99) + key(99, False) + rd(30) + out(0xf0) + out(3) + key(97) + rd(4) +
        cmd(0x60) + out(0x05) + key(119) + rd(10))
flood = (cmd(0xad) + key(30) * 100 + cmd(0xae) + rd(40) + out(0xee) * 200 + rd(20) +
         aux(0xe9) * 100 + cmd(0xa7) + rel(100, 100) * 100 + cmd(0xa8) + rd(100) +
         cmd(0x20) * 20 + cmd(0xd2) + out(1) + cmd(0xd3) + out(2) + rd(30))

SEEDS = {"linux-probe": linux_probe, "mouse": mouse, "keys": keys, "flood": flood}

if __name__ == "__main__":
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
