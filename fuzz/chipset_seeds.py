#!/usr/bin/env python3
"""Writes the seeds of the chipset fuzz corpus (fuzz/chipset.c describes the input format)
into the directory given: python3 fuzz/chipset_seeds.py fuzz/corpus/chipset"""
import os, struct, sys

W = {1: 0, 2: 1, 4: 2, 8: 3}


def fw(off, val, w=1):       # flash write
    return bytes([0]) + struct.pack("<HB", off, W[w]) + struct.pack("<Q", val)


def fr(off, w=1):            # flash read
    return bytes([1]) + struct.pack("<HB", off, W[w])


def out(port, val, w=1):
    return bytes([2]) + struct.pack("<HBI", port, W[w], val)


def inp(port, w=1):
    return bytes([3]) + struct.pack("<HB", port, W[w])


def mw(addr, val, w=4):
    return bytes([4]) + struct.pack("<IBI", (addr - 0xa0000000) & 0xffffffff, W[w], val)


def mr(addr, w=4):
    return bytes([5]) + struct.pack("<IB", (addr - 0xa0000000) & 0xffffffff, W[w])


def cfgw(slot, off, val, w=4):
    return out(0xcf8, 0x80000000 | slot << 11 | (off & 0xfc), 4) + out(0xcfc + (off & 3), val, w)


def cfgr(slot, off, w=4):
    return out(0xcf8, 0x80000000 | slot << 11 | (off & 0xfc), 4) + inp(0xcfc + (off & 3), w)


def cmos(idx, val=None):
    return out(0x70, idx) + (out(0x71, val) if val is not None else inp(0x71))


SEEDS = {
    # SeaBIOS: PCIEXBAR, ECAM reads, PAM unlock/lock, the LPC set-up, the PM block, CMOS, reset
    "seabios": (cfgw(0, 0x60, 0) + cfgw(0, 0x64, 0) + cfgw(0, 0x60, 0xb0000001) +
                mr(0xb0000000) + mr(0xb0000000 + (31 << 15)) + mr(0xb0100000) +
                b"".join(cfgw(0, 0x91 + i, 0x33, 1) for i in range(6)) + cfgw(0, 0x90, 0x30, 1) +
                cfgw(0, 0x90, 0x11111110) + cfgw(0, 0x94, 0x00111111) +
                b"".join(cfgw(31, 0x60 + i, 10, 1) + cfgw(31, 0x68 + i, 11, 1) for i in range(4)) +
                cfgw(31, 0x40, 0x601) + cfgw(31, 0x44, 0x80, 1) + inp(0x608, 4) + inp(0x630, 4) +
                out(0x602, 0x100, 2) + bytes([7]) + out(0x600, 0x100, 2) +
                cmos(0x34) + cmos(0x35) + cmos(0x5f) + cmos(0x5b) + out(0xcf9, 0x02) +
                out(0xcf9, 0x06)),
    # OVMF: PCIEXBAR high first, PMBASE and-then-or, the flash probe, erase and write
    "ovmf": (cfgw(0, 0x64, 0) + cfgw(0, 0x60, 0xb0000001) + cfgr(31, 0x40) +
             cfgw(31, 0x40, 0x600) + cfgw(31, 0x44, 0x80, 1) +
             fr(0x10) + fw(0x10, 0x50) + fr(0x10) + fw(0x10, 0x70) + fr(0x10) + fw(0x10, 0xff) +
             fw(0x3000, 0x20) + fw(0x3000, 0xd0) + fr(0x3000) +
             b"".join(fw(0x3010 + i, 0x10) + fw(0x3010 + i, 0x41 + i) for i in range(8)) +
             fw(0x3017, 0xff) + fr(0x3010, 8)),
    # CFI query and read ID, then back
    "cfi": (fw(0x55, 0x98) + b"".join(fr(i) for i in range(0x10, 0x40)) + fw(0, 0x90) + fr(0) +
            fr(1) + fr(0x1002) + fw(0, 0xff)),
    # hostile: garbage flash commands, programs past the end, bad PCIEXBAR and PMBASE values,
    # ECAM over RAM, PMBASE over 0xcf8, wide writes at 0xcf9, a garbage restore
    "hostile": (fw(0, 0x00) + fw(0, 0xe8) + fw(0, 0x20) + fw(0, 0x10) + fw(0xeffe, 0x10) +
                fw(0xeffe, 0, 8) + fw(0xf008, 0x20) + fw(0xf008, 0xd0) + fw(0, 0x70) + fr(0) +
                cfgw(0, 0x60, 0xb0000007) + cfgw(0, 0x60, 0x80000001) + cfgw(0, 0x64, 0xffffffff) +
                cfgw(0, 0x60, 0xffffffff) + cfgw(31, 0x44, 0x87, 1) + cfgw(31, 0x40, 0xc81) +
                cfgw(31, 0x40, 0xffffffff) + out(0xcf9, 0x0606, 2) + out(0xcf8, 0xffffffff, 4) +
                out(0xcfc, 0xffffffff, 4) + mw(0xb0000000, 0xffffffff) +
                bytes([6]) + bytes(range(256)) * 2),
}

os.makedirs(sys.argv[1], exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(sys.argv[1], name), "wb") as f:
        f.write(data)
