#!/usr/bin/env python3
"""Writes the seeds of the VNC framing corpus (fuzz/vnc_frame.c describes the input: one
byte of options, then a client's bytes) into the directory given:
python3 fuzz/vnc_frame_seeds.py fuzz/corpus/vnc_frame"""
import os, struct, sys

V38, V33, V889 = b"RFB 003.008\n", b"RFB 003.003\n", b"RFB 003.889\n"
NONE38 = V38 + b"\x01" + b"\x01"
AUTH38 = V38 + b"\x02" + bytes(range(16)) + b"\x00"


def enc(*e): return struct.pack(">BBH", 2, 0, len(e)) + b"".join(struct.pack(">i", x) for x in e)
def cut(t): return struct.pack(">BxxxI", 6, len(t)) + t
def xcut(body): return struct.pack(">Bxxxi", 6, -len(body)) + body


pixfmt = bytes([0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0])
fur = struct.pack(">BBHHHH", 3, 0, 0, 0, 1024, 768)
key = struct.pack(">BBHI", 4, 1, 0, 0x61) + struct.pack(">BBHI", 4, 0, 0, 0x61)
ptr = struct.pack(">BBHH", 5, 1, 10, 20)
qkey = struct.pack(">BBHII", 255, 0, 1, 0x61, 0x1e)
misc = (struct.pack(">BBH", 8, 2, 0) + struct.pack(">BBH", 9, 1, 0) +
        struct.pack(">BBHH", 10, 0, 1, 1) + struct.pack(">BBH", 15, 2, 0) +
        struct.pack(">BBBB", 250, 0, 1, 2) + struct.pack(">BxxxI", 11, 0xFFFFFFFF) +
        struct.pack(">BxxxI", 11, 5) + b"hello" +
        struct.pack(">BxHHBx", 251, 800, 600, 1) + bytes(16))
normal = (pixfmt + enc(0, 1, 7, -258, -223, -224) + fur + key + ptr + qkey + cut(b"paste") +
          misc)
ext = (enc(0, 0xC0A1E5CE - (1 << 32)) + xcut(struct.pack(">II", (1 << 24) | 1, 1 << 20)) +
       xcut(struct.pack(">I", (1 << 28) | 1) + b"x\x9c\x03\x00\x00\x00\x00\x01") +
       xcut(struct.pack(">II", (1 << 24) | 2, 100)) + cut(b"plain again"))
big = struct.pack(">BxxxI", 6, (1 << 20) + 10) + bytes(300) + fur
SEEDS = {
    "none38": b"\x00" + NONE38 + normal,
    "auth38": b"\x01" + AUTH38 + normal,
    "none33": b"\x10" + V33 + b"\x01" + normal,
    "auth33": b"\x05" + V33 + bytes(16) + b"\x01" + fur,
    "mac889": b"\x00" + V889 + b"\x01" + key,
    "extclip": b"\x02" + NONE38 + ext,
    "bigclip": b"\x00" + NONE38 + big,
    "websocket": b"\x00" + b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x82\x8c" + bytes(16),
    "badver": b"\x00" + b"RFB 004.000\n",
    "unknown": b"\x00" + NONE38 + fur + bytes([200]) + bytes(10),
    "trickle": b"\x00" + NONE38 + enc(*range(300)) + cut(b"a" * 5000),
}

d = sys.argv[1]
os.makedirs(d, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
