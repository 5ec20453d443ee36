#!/usr/bin/env python3
"""Seeds for fuzz/e1000_tx.c (fuzz/corpus/e1000_tx) and fuzz/e1000_dev.c
(fuzz/corpus/e1000_dev, see dev_main): rings as drivers and hostile guests write them. Layout: TDBA u32, TDLEN u32, TDH u16, TDT u16, flags u8, 3 unused, a 16-byte
offload context, then guest memory from address 0. Run from the top directory."""
import os
import struct

OUT = "fuzz/corpus/e1000_tx"
EOP, IFCS, IC, TSE, RS, DEXT, VLE, IDE = 1, 2, 4, 4, 8, 0x20, 0x40, 0x80
TCP, IP = 1, 2


def legacy(addr, length, cmd, cso=0, css=0, special=0):
    return struct.pack("<QHBBBBH", addr, length, cso, cmd, 0, css, special)


def data(addr, length, dcmd, popts=0, special=0):
    return struct.pack("<QIBBH", addr, length | 1 << 20 | (dcmd | DEXT) << 24, 0, popts,
                       special)


def ctx(ipcss, ipcso, ipcse, tucss, tucso, tucse, paylen, tucmd, hdrlen, mss):
    return struct.pack("<BBHBBHIBBH", ipcss, ipcso, ipcse, tucss, tucso, tucse,
                       paylen | (tucmd | DEXT) << 24, 0, hdrlen, mss)


def frame(tcp=True, payload=100):
    th = 20 if tcp else 8
    f = bytearray(14 + 20 + th + payload)
    f[0:6] = b"\x52\x54\x00\x99\x99\x99"
    f[6:12] = b"\x52\x54\x00\xe1\x00\x01"
    f[12:14] = b"\x08\x00"
    f[14] = 0x45
    f[22], f[23] = 64, 6 if tcp else 17
    f[26:34] = b"\x0a\x00\x02\x0f\x0a\x00\x02\x02"
    if tcp:
        f[46] = 0x50
        f[47] = 0x19
    for i in range(payload):
        f[14 + 20 + th + i] = (i * 7 + 3) & 0xff
    return bytes(f)


def seed(name, descs, bufs, tdlen=None, head=0, tail=None, flags=0, base=0, context=b""):
    ring = b"".join(descs)
    ring += bytes((-len(ring)) % 128)
    mem = bytearray(0x3000)
    mem[0:len(ring)] = ring
    for addr, b in bufs:
        if len(mem) < addr + len(b):
            mem += bytes(addr + len(b) - len(mem))
        mem[addr:addr + len(b)] = b
    hdr = struct.pack("<IIHHB3x", base, len(ring) if tdlen is None else tdlen, head,
                      len(descs) if tail is None else tail, flags)
    hdr += context.ljust(16, b"\0")[:16]
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(hdr + bytes(mem))


def main():
    os.makedirs(OUT, exist_ok=True)
    f = frame(payload=4000)
    seed("legacy", [legacy(0x1000, 40, 0), legacy(0x1028, 60, EOP | RS | IC, 16, 20)],
         [(0x1000, frame(payload=46))])
    seed("tso", [ctx(14, 24, 33, 34, 50, 0, 4000, TSE | IP | TCP | RS, 54, 1460),
                 data(0x1000, 54, TSE, 3), data(0x1036, 2000, TSE),
                 data(0x1806, 2000, TSE | EOP | RS)], [(0x1000, f)])
    seed("tso-mss1", [ctx(14, 24, 33, 34, 50, 0, 200, TSE | IP | TCP, 54, 1),
                      data(0x1000, 254, TSE | EOP | RS, 3)], [(0x1000, frame(payload=200))])
    seed("udp-csum", [ctx(14, 24, 33, 34, 40, 0, 0, IP, 0, 0),
                      data(0x1000, 150, EOP | RS, 3)], [(0x1000, frame(False, 100))])
    seed("vlan", [data(0x1000, 100, EOP | RS | VLE, 0, 0x0123)], [(0x1000, frame())], flags=1)
    seed("contexts", [ctx(1, 2, 3, 4, 5, 6, 7, TSE, 8, 9)] * 8, [], head=3, tail=2)
    seed("outside", [legacy(0xfffff000, 60, EOP | RS), legacy(2**64 - 10, 60, EOP | RS),
                     data(0x1000, 0xfffff, EOP)], [])
    seed("bad-ring", [legacy(0x1000, 60, EOP)], [(0x1000, frame())], base=0xfff0)
    seed("bad-len", [legacy(0x1000, 60, EOP)], [(0x1000, frame())], tdlen=100)
    seed("no-eop", [legacy(0x1000, 60, 0)] * 8, [(0x1000, frame())], head=0, tail=7)
    seed("tso-ctx-left", [data(0x1000, 300, TSE | EOP | RS, 3)], [(0x1000, frame(payload=200))],
         # the context an earlier packet left (struct e1000_txctx): header length 250
         context=struct.pack("<BBBBHHIBBH", 14, 24, 34, 50, 33, 0, 200, TSE | IP | TCP, 250,
                             100))


# fuzz/corpus/e1000_dev: a 256-byte transmit ring, then operations (op, register, value).
DEV_OUT = "fuzz/corpus/e1000_dev"
W, R, FRAME, PIO = 0, 1, 2, 3


def op(kind, reg, val, payload=b""):
    return struct.pack("<BII", kind, reg, val) + payload


def dev_seed(name, ring, ops):
    ring = b"".join(ring).ljust(256, b"\0")
    with open(os.path.join(DEV_OUT, name), "wb") as f:
        f.write(ring + b"".join(ops))


def dev_main():
    os.makedirs(DEV_OUT, exist_ok=True)
    mine = b"\x52\x54\x00\x12\x34\x56"
    fr = frame(payload=1400)
    fr = b"\xff" * 6 + fr[6:]
    # a frame arrives in buffer 0 (0x10000); the guest sends it back, legacy then TSO
    dev_seed("echo", [legacy(0x10000, len(fr), EOP | RS)],
             [op(FRAME, 0, len(fr), fr), op(W, 0x3818, 1), op(R, 0xc0, 0), op(R, 0x4074, 0)])
    dev_seed("tso", [ctx(14, 24, 33, 34, 50, 0, 1400, TSE | IP | TCP, 54, 500),
                     data(0x10000, len(fr), TSE | EOP | RS, 3)],
             [op(FRAME, 0, len(fr), fr), op(W, 0x3818, 2), op(R, 0x40f8, 0)])
    # moderation and the rest of the registers
    dev_seed("regs", [], [op(W, 0xc4, 0xffff), op(W, 0x2820, 0x80000010), op(W, 0x282c, 5),
                          op(W, 0xc8, 0x84), op(R, 0xc0, 0), op(W, 0x20, 0x08220000),
                          op(R, 0x20, 0), op(W, 0x14, 0x0301), op(R, 0x14, 0),
                          op(W, 0x10, 0x2), op(W, 0x10, 0x7), op(W, 0x10, 0x6), op(R, 0x10, 0),
                          op(W, 0, 0x04000000), op(PIO | 4, 0, 0x8), op(PIO, 4, 0)])
    # a hostile driver: rings outside RAM, bad lengths, tails past the ring
    dev_seed("hostile", [legacy(0xfffff000, 60, EOP | RS)],
             [op(W, 0x2800, 0xfff00000), op(FRAME, 0, 60, mine + bytes(54)),
              op(W, 0x3808, 100), op(W, 0x3818, 3), op(W, 0x3808, 0x100), op(W, 0x3818, 40),
              op(W, 0x2808, 0), op(FRAME, 0, 60, mine + bytes(54)), op(W, 0x2810, 99),
              op(W, 0x100, 0x02000022), op(FRAME, 0, 20, mine + b"\x81\x00" + bytes(12))])


if __name__ == "__main__":
    main()
    dev_main()
