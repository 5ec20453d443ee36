#!/usr/bin/env python3
"""Seeds for fuzz/bochs_display.c: the driver sequences of Linux's bochs driver and SeaBIOS,
panning, hostile modes. Usage: fuzz/bochs_display_seeds.py fuzz/corpus/bochs_display"""
import os, struct, sys

def dispi(i, v): return bytes([0, i]) + struct.pack("<H", v)
def setmode(w, h, bpp, vw=None, vh=None, xo=0, yo=0):
    return (dispi(4, 0) + dispi(1, w) + dispi(2, h) + dispi(3, bpp) + dispi(6, vw or w) +
            dispi(7, vh or h) + dispi(8, xo) + dispi(9, yo) + dispi(4, 0x41))
def fb(off, n, write=True): return b"\x03" + struct.pack("<IB", off, (n - 1) | (0x80 if write else 0))
def screen(npages=300): return b"\x05" + struct.pack("<H", npages)
def shot(): return b"\x07"
def cfg(off, v, size_code): return b"\x04" + bytes([off]) + struct.pack("<I", v)[:3] + bytes([size_code])
def rd(off, n): return b"\x01" + struct.pack("<HB", off, n - 1)
def wr(off, n, data): return b"\x02" + struct.pack("<HB", off, n - 1) + data.ljust(8, b"\0")

seeds = {
    "linux-640x480x32": setmode(640, 480, 32) + fb(0, 4) + fb(4096 * 10, 8) + screen() + shot(),
    "linux-800x600x16": setmode(800, 600, 16) + fb(1000, 2) + screen(1000) + shot(),
    "edid-read": b"".join(rd(i, 1) for i in range(0, 128, 7)) + rd(0x600, 4) + rd(0x604, 4),
    "qext-be": wr(0x604, 4, struct.pack("<I", 0xbebebebe)) + setmode(320, 200, 32) + shot(),
    "getcaps": dispi(4, 2) + rd(0x502, 2) + rd(0x504, 2) + rd(0x506, 2),
    "pan": setmode(640, 480, 32, 640, 960, 0, 480) + screen() + shot(),
    "hostile-huge": setmode(0xffff, 0xffff, 32) + screen() + shot(),
    "hostile-stride": setmode(640, 480, 32, 0xffff) + screen() + shot(),
    "hostile-offset": setmode(640, 480, 24, 640, 480, 0xffff, 0xffff) + screen() + shot(),
    "depths": setmode(100, 50, 15) + shot() + setmode(100, 50, 24) + shot() + setmode(100, 50, 8) + shot(),
    "bar-move": cfg(0x04, 0, 1) + cfg(0x10, 0xffffffff, 2) + cfg(0x10, 0xf0000000, 2) + cfg(0x04, 2, 1) +
                cfg(0x30, 0xfffff800, 2) + cfg(0x30, 0xfd000001, 2),
    "restore": b"\x06" + bytes(300) + setmode(64, 64, 32) + shot(),
    "fb-edge": fb(4 * 1024 * 1024 - 4, 8) + fb(4 * 1024 * 1024 + 100, 4, False),
}
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    open(os.path.join(out, name), "wb").write(data)
