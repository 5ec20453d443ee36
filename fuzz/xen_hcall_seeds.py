#!/usr/bin/env python3
"""Seeds for fuzz/xen_hcall.c (fuzz/corpus/xen_hcall): a Linux PVHVM guest's boot sequence
of hypercalls, and the same with bad pointers, ports and indices. Run from the repository's
top: python3 fuzz/xen_hcall_seeds.py"""
import os
import struct

OUT = "fuzz/corpus/xen_hcall"
# indices into fuzz/xen_hcall.c's calls[]
MEM, VER, HVM, VCPU, SCHED, EVT = 0, 1, 2, 3, 4, 5
ARG = 0x8000


def rec(call, cmd, arg=b"", lm=True, vcpu=0, raw=None, vid=0):
    flags = (1 if lm else 0) | (vcpu << 1) | (4 if raw is not None else 0)
    body = struct.pack("<Q", raw) + arg if raw is not None else arg
    body = body[:32].ljust(32, b"\0")
    return bytes([call, cmd, flags, vid]) + b"\0" * 4 + body


def boot(send):
    r = [rec(VER, 6, struct.pack("<II", 0, 0)),
         rec(MEM, 7, struct.pack("<HHIQQ", 0x7ff0, 0, 0, 0, 0x20)),
         rec(HVM, 0, struct.pack("<HHIQ", 0x7ff0, 0, 0, 2 << 56 | 0xf3)),
         rec(HVM, 1, struct.pack("<HHIQ", 0x7ff0, 0, 1, 0)),
         rec(VCPU, 10, struct.pack("<QII", 0x30, 0x40, 0), vid=0),
         rec(VCPU, 10, struct.pack("<QII", 0x30, 0x80, 0), vid=1),
         rec(VCPU, 5, struct.pack("<Q", 0x31000), vid=0),
         rec(VCPU, 7, vid=0),
         rec(EVT, 1, struct.pack("<III", 0, 0, 0)),
         rec(EVT, 1, struct.pack("<III", 0, 1, 0)),
         rec(EVT, 7, struct.pack("<II", 0, 0)),
         rec(EVT, 7, struct.pack("<II", 1, 0)),
         rec(EVT, 4, struct.pack("<I", 4)),
         rec(EVT, 4, struct.pack("<I", 3), vcpu=1),
         rec(EVT, 9, struct.pack("<I", 3)),
         rec(EVT, 5, struct.pack("<HHI", 0x7ff0, 0, 1)),
         rec(EVT, 3, struct.pack("<I", 1)),
         rec(EVT, 6, struct.pack("<HHI", 0x7ff0, 0, 0)),
         rec(SCHED, 0)]
    return bytes([send]) + b"".join(r)


def bad():
    r = [rec(VER, 6, raw=1 << 47), rec(VER, 6, raw=0xffffe),
         rec(MEM, 7, struct.pack("<HHIQQ", 0x7ff0, 0, 0, 0, 1 << 60)),
         rec(MEM, 7, struct.pack("<HHIQQ", 0x7ff0, 0, 0, 0, 0xffffffffffffffff)),
         rec(HVM, 0, struct.pack("<HHIQ", 0x7ff0, 0, 0xffffffff, 0)),
         rec(VCPU, 10, struct.pack("<QII", 0xffffffffffffffff, 0xfff, 0), vid=0),
         rec(VCPU, 10, struct.pack("<QII", 0x30, 0, 0), vid=200),
         rec(VCPU, 5, struct.pack("<Q", 0xfffffffffffffffc), vid=0),
         rec(EVT, 1, struct.pack("<III", 0xffffffff, 0, 0)),
         rec(EVT, 4, struct.pack("<I", 0xffffffff)),
         rec(EVT, 9, struct.pack("<I", 1023)),
         rec(EVT, 3, struct.pack("<I", 0)),
         rec(EVT, 8, struct.pack("<II", 1, 0xffffffff)),
         rec(EVT, 11, b"\xff" * 16),
         rec(SCHED, 2, struct.pack("<I", 0xffffffff)),
         rec(0xff, 0xff, b"\xff" * 32, lm=False)]
    return bytes([1]) + b"".join(r)


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {"boot-evtchn-send": boot(1), "boot-guest-memory": boot(0), "bad": bad(),
             "boot-32bit": bytes([0]) + b"".join(
                 rec(c[0], c[1], c[2], lm=False) for c in [
                     (VER, 6, struct.pack("<II", 0, 0)),
                     (MEM, 7, struct.pack("<HHIII", 0x7ff0, 0, 0, 0, 0x21)),
                     (EVT, 7, struct.pack("<II", 0, 0)), (EVT, 4, struct.pack("<I", 1))])}
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
