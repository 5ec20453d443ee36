#!/usr/bin/env python3
"""Seeds for fuzz/ide_io.c (see its header for the input format): a driver's sequences on
the IDE controller (IDENTIFY, PIO and DMA reads and writes, LBA48, SET MULTIPLE, CHS, ATAPI
by PIO and DMA, resets) and hostile ones (bad PRD tables, data-port reads with no command).
Usage: fuzz/ide_io_seeds.py fuzz/corpus/ide_io"""
import os
import struct
import sys

BASE = 0x10000   # the input's memory starts at this guest address
PRD = 0x10000
DATA = 0x20000
CMD = lambda ch, r: (9 if ch else 0) + r
CTL = lambda ch: 17 if ch else 8
BM = lambda ch, r: 18 + ch * 8 + r


class Seed:
    def __init__(self, drives):
        self.drives = drives
        self.mem = bytearray(0x20000)
        self.ops = []

    def put(self, gpa, b):
        o = gpa - BASE
        self.mem[o:o + len(b)] = b

    def out(self, port, v, width=1, burst=False):
        code = {1: 0, 2: 1, 4: 2}[width]
        self.ops.append(struct.pack('<BBI', port, 1 | code << 1 | (8 if burst else 0),
                                    v & 0xffffffff))

    def inp(self, port, width=1, burst=False):
        code = {1: 0, 2: 1, 4: 2}[width]
        self.ops.append(struct.pack('<BBI', port, code << 1 | (8 if burst else 0), 0))

    def tf(self, ch, cmd, lba=0, count=1, slave=0, feature=0, lba48=False):
        if lba48:
            self.out(CMD(ch, 2), count >> 8)
            self.out(CMD(ch, 3), lba >> 24)
            self.out(CMD(ch, 4), lba >> 32)
            self.out(CMD(ch, 5), lba >> 40)
        self.out(CMD(ch, 6), 0xe0 | slave << 4 | (0 if lba48 else (lba >> 24) & 0xf))
        self.out(CMD(ch, 1), feature)
        self.out(CMD(ch, 2), count)
        self.out(CMD(ch, 3), lba)
        self.out(CMD(ch, 4), lba >> 8)
        self.out(CMD(ch, 5), lba >> 16)
        self.out(CMD(ch, 7), cmd)

    def prd(self, entries):
        b = b''
        for i, (addr, n) in enumerate(entries):
            b += struct.pack('<II', addr, (n & 0xffff) | (0x80000000 if i == len(entries) - 1 else 0))
        self.put(PRD, b)

    def dma(self, ch, read=True, table=PRD):
        self.out(BM(ch, 4), table, 4)
        self.out(BM(ch, 0), 1 | (8 if read else 0))
        self.inp(BM(ch, 2))
        self.out(BM(ch, 0), 0)
        self.inp(CMD(ch, 7))

    def packet(self, ch, cdb, dma=False, limit=2048):
        self.out(CMD(ch, 6), 0xa0)
        self.out(CMD(ch, 1), 1 if dma else 0)
        self.out(CMD(ch, 4), limit & 0xff)
        self.out(CMD(ch, 5), limit >> 8)
        self.out(CMD(ch, 7), 0xa0)
        cdb = cdb + bytes(12 - len(cdb))
        for i in range(0, 12, 2):
            self.out(CMD(ch, 0), cdb[i] | cdb[i + 1] << 8, 2)

    def bytes(self):
        mem = bytes(self.mem).rstrip(b'\0')
        return bytes([self.drives]) + struct.pack('<H', len(mem)) + mem + b''.join(self.ops)


def seeds():
    s = {}
    # primary: disk, disk; secondary: CD with a medium, empty CD
    both = 1 | 1 << 2 | 2 << 4 | 3 << 6

    a = Seed(both)
    a.tf(0, 0xec)
    a.inp(CMD(0, 0), 2, burst=True)
    a.tf(1, 0xa1)
    a.inp(CMD(1, 0), 2, burst=True)
    a.tf(1, 0xec)
    a.inp(CMD(1, 7))
    s['identify'] = a

    a = Seed(both)
    a.tf(0, 0x20, lba=10, count=2)
    a.inp(CMD(0, 0), 2, burst=True)
    a.inp(CMD(0, 0), 2, burst=True)
    a.tf(0, 0x30, lba=20, count=1, slave=1)
    a.out(CMD(0, 0), 0x12345678, 4, burst=True)
    s['pio-rw'] = a

    a = Seed(both)
    a.tf(0, 0xc6, count=4)
    a.tf(0, 0xc4, lba=0, count=8)
    for _ in range(8):
        a.inp(CMD(0, 0), 2, burst=True)
    a.tf(0, 0x39, lba=100, count=5, lba48=True)
    for _ in range(5):
        a.out(CMD(0, 0), 0xabcd, 2, burst=True)
    s['multiple'] = a

    a = Seed(both)
    a.prd([(DATA, 4096), (DATA + 4096, 4096)])
    a.tf(0, 0xc8, lba=0, count=16)
    a.dma(0)
    a.tf(0, 0x35, lba=500, count=16, lba48=True)
    a.dma(0, read=False)
    s['dma-rw'] = a

    a = Seed(both)
    a.prd([(0xfff00, 4096)])          # a buffer past the end of RAM
    a.tf(0, 0xc8, count=8)
    a.dma(0)
    a.tf(0, 0xc8, count=1)
    a.dma(0, table=0xfffffff8)        # a table outside RAM
    a.put(PRD, struct.pack('<II', DATA, 512) * 64)  # no end of table
    a.tf(0, 0xc8, count=1)
    a.dma(0)
    a.prd([(DATA, 512)])              # less than the command moves
    a.tf(0, 0xca, count=4)
    a.dma(0, read=False)
    s['dma-bad-prd'] = a

    a = Seed(both)
    a.tf(0, 0x25, lba=1 << 40, count=1, lba48=True)
    a.tf(0, 0x20, lba=511, count=2)
    a.inp(CMD(0, 0), 4, burst=True)
    a.out(CMD(0, 0), 0, 2, burst=True)
    s['past-end'] = a

    a = Seed(both)
    a.out(CMD(0, 6), 0xa2)            # CHS, head 2
    a.out(CMD(0, 2), 17)
    a.out(CMD(0, 7), 0x91)
    a.out(CMD(0, 3), 5)
    a.out(CMD(0, 4), 3)
    a.out(CMD(0, 2), 1)
    a.out(CMD(0, 7), 0x20)
    a.inp(CMD(0, 0), 2, burst=True)
    s['chs'] = a

    a = Seed(both)
    a.packet(1, bytes([0x00]))
    a.packet(1, bytes([0x03, 0, 0, 0, 18]))
    a.inp(CMD(1, 0), 2, burst=True)
    a.packet(1, bytes([0x12, 0, 0, 0, 96]))
    a.inp(CMD(1, 0), 2, burst=True)
    a.packet(1, bytes([0x43, 0, 0, 0, 0, 0, 0, 0, 100]))
    a.inp(CMD(1, 0), 2, burst=True)
    a.packet(1, bytes([0x28, 0, 0, 0, 0, 16, 0, 0, 3]), limit=1000)
    for _ in range(8):
        a.inp(CMD(1, 0), 2, burst=True)
    s['atapi-pio'] = a

    a = Seed(both)
    a.prd([(DATA, 3 * 2048)])
    a.packet(1, bytes([0x28, 0, 0, 0, 0, 16, 0, 0, 3]), dma=True)
    a.dma(1)
    a.packet(1, bytes([0xa8, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), dma=True)
    a.dma(1)
    a.out(CMD(1, 6), 0xb0)            # the empty drive
    a.packet(1, bytes([0x28, 0, 0, 0, 0, 0, 0, 0, 1]))
    s['atapi-dma'] = a

    a = Seed(both)
    a.tf(0, 0x20, count=4)
    a.inp(CMD(0, 0), 2)
    a.out(CTL(0), 4)
    a.out(CTL(0), 0)
    a.inp(CMD(0, 0), 2, burst=True)
    a.out(CTL(0), 2)                  # nIEN
    a.tf(1, 0x08)                     # DEVICE RESET on the CD
    a.tf(0, 0x90)
    a.out(CTL(0), 0x80)               # HOB
    a.inp(CMD(0, 3))
    s['reset'] = a

    a = Seed(0)
    a.tf(0, 0xec)
    a.inp(CMD(0, 7))
    a.inp(CMD(0, 0), 2, burst=True)
    s['no-drives'] = a
    return s


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, seed in seeds().items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(seed.bytes())


if __name__ == '__main__':
    main()
