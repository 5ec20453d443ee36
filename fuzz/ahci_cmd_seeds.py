#!/usr/bin/env python3
"""Seeds for fuzz/ahci_cmd.c (see its header for the input format): a driver's command
sequences on an AHCI port (IDENTIFY, DMA, NCQ, TRIM, flush, ATAPI) and hostile ones.
Usage: fuzz/ahci_cmd_seeds.py fuzz/corpus/ahci_cmd"""
import os
import struct
import sys

BASE = 0x10000          # the input's memory starts at this guest address
CLB = lambda p: 0x10000 + p * 0x1000
FB = lambda p: 0x10800 + p * 0x1000
CT = lambda s: 0x12000 + s * 0x400
DATA = 0x1a000
PORT = lambda p, r: 0x100 + p * 0x80 + r
CLBr, CLBU, FBr, FBU, IS, IE, CMD, SCTL, SACT, CI = 0, 4, 8, 12, 0x10, 0x14, 0x18, 0x2c, 0x34, 0x38


class Seed:
    def __init__(self, drives):
        self.drives = drives
        self.mem = bytearray(0xffff)  # the most an input holds
        self.regs = []

    def put(self, gpa, b):
        o = gpa - BASE
        self.mem[o:o + len(b)] = b

    def w(self, off, v):
        self.regs.append(struct.pack('<HI', off, v & 0xffffffff))

    def start(self, p):
        self.w(PORT(p, CLBr), CLB(p))
        self.w(PORT(p, CLBU), 0)
        self.w(PORT(p, FBr), FB(p))
        self.w(PORT(p, FBU), 0)
        self.w(PORT(p, IE), 0xffffffff)
        self.w(PORT(p, CMD), 0x11)

    def cmd(self, p, slot, fis, prds=(), acmd=b'', write=False, cfl=5, ctba=None):
        ctba = CT(slot) if ctba is None else ctba
        dw0 = cfl | (0x20 if acmd else 0) | (0x40 if write else 0) | len(prds) << 16
        self.put(CLB(p) + slot * 32, struct.pack('<IIQ', dw0, 0, ctba) + bytes(16))
        if ctba < BASE or ctba >= BASE + len(self.mem):
            return
        t = bytearray(0x80)
        t[0:len(fis)] = fis
        t[0x40:0x40 + len(acmd)] = acmd
        for gpa, n, i in prds:
            t += struct.pack('<QII', gpa, 0, (n - 1) | (0x80000000 if i else 0))
        self.put(ctba, t)

    def bytes(self):
        m = bytes(self.mem).rstrip(b'\0')
        return bytes([self.drives]) + struct.pack('<H', len(m)) + m + b''.join(self.regs)


def h2d(cmd, lba=0, count=0, feat=0, dev=0x40):
    return bytes([0x27, 0x80, cmd, feat & 0xff, lba & 0xff, lba >> 8 & 0xff, lba >> 16 & 0xff,
                  dev, lba >> 24 & 0xff, lba >> 32 & 0xff, lba >> 40 & 0xff, feat >> 8 & 0xff,
                  count & 0xff, count >> 8 & 0xff, 0, 0, 0, 0, 0, 0])


DISK, CD, EMPTY = 1, 2, 3
seeds = {}


def simple(name, drives, port, fis, prds, **kw):
    s = Seed(drives)
    s.start(port)
    s.cmd(port, 0, fis, prds, **kw)
    s.w(PORT(port, CI), 1)
    seeds[name] = s


simple('identify', DISK, 0, h2d(0xec), [(DATA, 512, 1)])
simple('read-dma-ext', DISK, 0, h2d(0x25, 8, 16), [(DATA, 4096, 0), (DATA + 0x2000, 4096, 1)])
simple('read-dma', DISK, 0, h2d(0xc8, 1, 1), [(DATA, 512, 0)])
simple('write-dma-ext', DISK, 0, h2d(0x35, 100, 8), [(DATA, 4096, 1)], write=True)
simple('write-fua', DISK, 0, h2d(0x3d, 100, 8), [(DATA, 4096, 1)], write=True)
simple('read-pio', DISK, 0, h2d(0x24, 3, 2), [(DATA, 1024, 0)])
simple('flush', DISK, 0, h2d(0xea), [])
simple('set-features', DISK, 0, h2d(0xef, 0, 0x45, 0x03), [])
simple('read-log-10', DISK, 0, h2d(0x2f, 0x10, 1), [(DATA, 512, 0)])
simple('verify', DISK, 0, h2d(0x42, 0, 100), [])
simple('native-max', DISK, 0, h2d(0x27), [])
s = Seed(DISK)
s.put(DATA, struct.pack('<QQ', 16 | 8 << 48, 100 | 4 << 48))
s.start(0)
s.cmd(0, 0, h2d(0x06, 0, 1, 1), [(DATA, 512, 0)], write=True)
s.w(PORT(0, CI), 1)
seeds['trim'] = s
s = Seed(DISK)
s.put(DATA, struct.pack('<Q', 510 | 8 << 48))
s.start(0)
s.cmd(0, 0, h2d(0x06, 0, 1, 1), [(DATA, 512, 0)], write=True)
s.w(PORT(0, CI), 1)
seeds['trim-past-end'] = s
s = Seed(DISK)
s.start(0)
for t in range(6):
    fis = bytearray(h2d(0x61 if t % 2 else 0x60, t * 8, t << 3, 8))
    s.cmd(0, t, bytes(fis), [(DATA + t * 0x1000, 4096, 0)], write=bool(t % 2))
s.w(PORT(0, SACT), 0x3f)
s.w(PORT(0, CI), 0x3f)
seeds['ncq-six'] = s
s = Seed(DISK)
s.start(0)
s.cmd(0, 2, h2d(0x60, 0, 5 << 3, 8), [(DATA, 4096, 0)])
s.w(PORT(0, SACT), 4)
s.w(PORT(0, CI), 4)
s.w(PORT(0, CMD), 0x10)
s.w(PORT(0, CMD), 0x11)
s.cmd(0, 0, h2d(0x2f, 0x10, 1), [(DATA, 512, 0)])
s.w(PORT(0, CI), 1)
seeds['ncq-bad-tag-log'] = s

# ATAPI
def packet(name, drives, cdb, n, write=False):
    s = Seed(drives << 2 | DISK)
    s.start(1)
    f = bytearray(h2d(0xa0, 0, 0, 1))
    f[5], f[6] = n & 0xff, n >> 8 & 0xff
    s.cmd(1, 0, bytes(f), [(DATA, n, 0)] if n else [], acmd=cdb.ljust(16, b'\0'), write=write)
    s.w(PORT(1, CI), 1)
    # the driver's recovery and a REQUEST SENSE
    s.w(PORT(1, CMD), 0x10)
    s.w(PORT(1, IS), 0xffffffff)
    s.w(PORT(1, CMD), 0x11)
    s.cmd(1, 1, bytes(f), [(DATA + 0x1000, 18, 0)], acmd=bytes([3, 0, 0, 0, 18]).ljust(16, b'\0'))
    s.w(PORT(1, CI), 2)
    seeds[name] = s


packet('atapi-tur', CD, b'\x00', 0)
packet('atapi-inquiry', CD, bytes([0x12, 0, 0, 0, 36]), 36)
packet('atapi-read10', CD, bytes([0x28, 0, 0, 0, 0, 16, 0, 0, 1]), 2048)
packet('atapi-read10-past', CD, bytes([0x28, 0, 0, 0, 0x7f, 0, 0, 0, 1]), 2048)
packet('atapi-read12-huge', CD, bytes([0xa8, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]), 4096)
packet('atapi-toc', CD, bytes([0x43, 0, 0, 0, 0, 0, 0, 0x03, 0x24]), 804)
packet('atapi-empty-read', EMPTY, bytes([0x28, 0, 0, 0, 0, 0, 0, 0, 1]), 2048)
packet('atapi-eject', CD, bytes([0x1b, 0, 0, 0, 2]), 0)
packet('atapi-write', CD, bytes([0x2a, 0, 0, 0, 0, 0, 0, 0, 1]), 2048, write=True)
simple('identify-packet', CD << 2 | DISK, 1, h2d(0xa1), [(DATA, 512, 0)])
simple('identify-on-atapi', CD << 2 | DISK, 1, h2d(0xec), [(DATA, 512, 0)])

# hostile
s = Seed(DISK)
s.w(PORT(0, CLBr), 0xfffff000)
s.w(PORT(0, CLBU), 7)
s.w(PORT(0, CMD), 0x11)
s.w(PORT(0, CI), 0xffffffff)
seeds['clb-outside'] = s
simple('ctba-outside', DISK, 0, h2d(0x25, 0, 8), [(DATA, 4096, 0)], ctba=0xfff00000)
simple('prd-outside', DISK, 0, h2d(0x25, 0, 8), [(DATA, 2048, 0), (0xffff0000, 2048, 0)])
simple('prd-short', DISK, 0, h2d(0x25, 0, 8), [(DATA, 1024, 0)])
simple('prd-odd', DISK, 0, h2d(0x25, 0, 1), [(DATA + 1, 511, 0), (DATA + 0x801, 3, 0)])
simple('fis-garbage', DISK, 0, bytes([0x39, 0x80, 0x25]) + bytes(17), [(DATA, 512, 0)])
simple('fis-no-c', DISK, 0, bytes([0x27, 0x00, 0x25]) + bytes(17), [(DATA, 512, 0)])
simple('fis-cfl0', DISK, 0, h2d(0x25, 0, 1), [(DATA, 512, 0)], cfl=0)
simple('bad-command', DISK, 0, h2d(0xff), [])
simple('lba-past-end', DISK, 0, h2d(0x25, 0xffffffffffff, 0xffff), [(DATA, 4096, 0)])
simple('no-device', 0, 0, h2d(0x25, 0, 1), [(DATA, 512, 0)])
s = Seed(DISK)
s.start(0)
t = bytearray(0x80) + struct.pack('<QII', DATA, 0, 0x3fffff) * 0x7ff
t[0:20] = h2d(0x25, 0, 0)
s.put(CLB(0), struct.pack('<IIQ', 5 | 0x7ff << 16, 0, CT(0)) + bytes(16))
s.put(CT(0), bytes(t))
s.w(PORT(0, CI), 1)
seeds['prd-many-huge'] = s
s = Seed(DISK)
s.start(0)
s.cmd(0, 0, h2d(0x25, 0, 8), [(DATA, 4096, 0)])
s.w(4, 1)  # GHC.HR with a command issued
s.w(PORT(0, CI), 1)
s.start(0)
s.w(PORT(0, SCTL), 1)
s.w(PORT(0, SCTL), 0)
s.w(PORT(0, CI), 1)
s.w(PORT(7, CI), 1)
s.w(0x8, 0xffffffff)
seeds['resets'] = s

out = sys.argv[1] if len(sys.argv) > 1 else 'fuzz/corpus/ahci_cmd'
os.makedirs(out, exist_ok=True)
for name, s in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(s.bytes())
print(f'{len(seeds)} seeds in {out}')
